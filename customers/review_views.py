"""The duplicate review queue: pending pairs of golden records, the pair side by side with the
matcher's reasons, "Merge" (a survivor value per field, the RM when they differ) and "Not the same
customer"; the administrators' "Find duplicates" with its progress bar.

Supervisors see the pairs with a record in their branch and decide those with both records there;
administrators see and decide every pair; RMs and analysts are refused. Every page is audited: the
queue here, a pair by duplicate_pair_for_user and each record by customer_get_for_user (masking).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.errors import RunError
from crm_bank.runs.selectors import run_progress, runs_recent
from crm_bank.ui.paginators import CappedCountPaginator
from customers.access import CustomerAccess, customer_get_for_user
from customers.duplicates import (
    DUPLICATE_SEARCH,
    REVIEW_ROLES,
    duplicate_mark_distinct,
    duplicate_may_decide,
    duplicate_merge,
    duplicate_pair_for_user,
    duplicate_queue,
    duplicate_queue_counts,
    duplicate_search_start,
)
from customers.models import Customer, CustomerMerge, MatchCandidate

# The fields shown side by side, with the matcher's comparison that covers each.
REVIEW_FIELDS = (
    ("first_name", "name"), ("last_name", "name"), ("legal_name", "name"), ("national_id", "national_id"),
    ("birth_date", "birth_date"), ("gender", "gender"), ("phone", "phone"), ("email", "email"),
    ("address_line", "address"), ("city", "address"), ("postal_code", "address"), ("country", None),
)
SIDES = (("left", gettext_lazy("Left record")), ("right", gettext_lazy("Right record")))
# The matcher's comparisons and level labels (customers/matching/model.py) in the reader's language.
COMPARISON_TEXT = {
    "name": gettext_lazy("Name"), "birth_date": gettext_lazy("Birth date"),
    "national_id": gettext_lazy("National ID"), "phone": gettext_lazy("Phone"), "email": gettext_lazy("E-mail"),
    "address": gettext_lazy("Address"), "gender": gettext_lazy("Gender"),
}
LEVEL_TEXT = {
    "exact": gettext_lazy("exact"), "missing": gettext_lazy("missing on one side"),
    "different": gettext_lazy("different"), "given and family swapped": gettext_lazy("given and family swapped"),
    "one typo": gettext_lazy("one typo"), "swapped with one typo": gettext_lazy("swapped with one typo"),
    "same given name, other family name": gettext_lazy("same given name, other family name"),
    "same family name, other given name": gettext_lazy("same family name, other given name"),
    "day and month swapped": gettext_lazy("day and month swapped"),
    "one digit differs": gettext_lazy("one digit differs"), "within a year": gettext_lazy("within a year"),
    "two digits differ": gettext_lazy("two digits differ"), "within ten years": gettext_lazy("within ten years"),
    "one character differs": gettext_lazy("one character differs"),
    "same user, other domain": gettext_lazy("same user, other domain"), "similar": gettext_lazy("similar"),
    "same postcode": gettext_lazy("same postcode"), "same": gettext_lazy("same"),
}


class QueueFilterForm(forms.Form):
    decision = forms.ChoiceField(label=gettext_lazy("Decision"), required=False, choices=[
        ("", gettext_lazy("All")), *[(d.value, d.label) for d in MatchCandidate.Decision if d != "new"]])
    conflict = forms.ChoiceField(label=gettext_lazy("Different RMs"), required=False, choices=[
        ("", gettext_lazy("All")), ("yes", gettext_lazy("Different RMs")), ("no", gettext_lazy("Same RM"))])


class MergeForm(forms.Form):
    """Which record survives, whose value each differing field keeps, and whose RM stays."""

    survivor = forms.ChoiceField(choices=SIDES, initial="left", widget=forms.RadioSelect)

    def __init__(self, *args, fields: list[str], conflict: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in fields:  # not required: an unanswered field keeps the survivorship rules' value
            self.fields[f"field_{name}"] = forms.ChoiceField(choices=SIDES, required=False)
        if conflict:
            self.fields["primary_rm"] = forms.ChoiceField(choices=SIDES, error_messages={
                "required": gettext_lazy("The records have different RMs: choose the RM who keeps the customer.")})

    def merge_choices(self) -> dict[str, str]:
        """Left/right answers as the merge service's survivor/absorbed."""
        survivor = self.cleaned_data["survivor"]
        answers = {name.removeprefix("field_"): side for name, side in self.cleaned_data.items()
                   if side and (name.startswith("field_") or name == "primary_rm")}
        return {name: "survivor" if side == survivor else "absorbed" for name, side in answers.items()}


@dataclass(frozen=True)
class PairRow:
    field: str
    label: str
    left: object
    right: object
    differs: bool
    comparison: dict | None
    choice: str  # "left" / "right" prefilled, "" when the values are the same


def _shown(access: CustomerAccess, field: str) -> object:
    customer = access.customer
    if field == "birth_date":
        return access.birth_date_text
    if field == "gender":
        return customer.get_gender_display() if customer.gender else ""
    return access.shown(field, getattr(customer, field))


def _conflict(left: Customer, right: Customer) -> bool:
    return None not in (left.primary_rm_id, right.primary_rm_id) and left.primary_rm_id != right.primary_rm_id


def _differing(left: Customer, right: Customer) -> list[str]:
    return [name for name, _c in REVIEW_FIELDS if getattr(left, name) != getattr(right, name)]


def _side(choice: str) -> str:
    """merge_field_choices' answer for the left record as survivor, as the page's left/right."""
    return "left" if choice == "survivor" else "right"


def _comparisons(candidate: MatchCandidate) -> list[dict]:
    """The stored comparisons with their field and result in the reader's language."""
    return [{**c, "field_text": COMPARISON_TEXT.get(c["field"], c["field"]),
             "text": LEVEL_TEXT.get(c["label"], c["label"])} for c in candidate.comparisons]


def _pair_rows(candidate: MatchCandidate, left: CustomerAccess, right: CustomerAccess, prefill: dict) -> list[PairRow]:
    comparisons = {c["field"]: c for c in _comparisons(candidate)}
    differing = set(_differing(left.customer, right.customer))
    return [
        PairRow(field=name, label=str(Customer._meta.get_field(name).verbose_name),
                left=_shown(left, name), right=_shown(right, name), differs=name in differing,
                comparison=comparisons.get(comparison) if comparison else None,
                choice=_side(prefill.get(name, "survivor")) if name in differing else "")
        for name, comparison in REVIEW_FIELDS
    ]


def _pair_or_404(request: HttpRequest, pk: int) -> MatchCandidate:
    try:
        return duplicate_pair_for_user(user=request.user, pk=pk, ip_address=request_ip(request))
    except MatchCandidate.DoesNotExist:
        raise Http404(_("No such pair.")) from None


@require_GET
@staff_required(*REVIEW_ROLES)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Pending pairs the viewer may review, the most likely first, with counts and filters."""
    profile = staff_profile_for_user(request.user)
    form = QueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    conflict = {"yes": True, "no": False}.get(filters.get("conflict", ""))
    queue = duplicate_queue(profile=profile, decision=filters.get("decision", ""), conflict=conflict)
    pairs = CappedCountPaginator(queue, 25).get_page(request.GET.get("page"))
    audit_record(actor=request.user, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="match_candidate_queue", object_id=profile.branch_id or "all",
                 ip_address=request_ip(request), detail={"filters": filters, "page": pairs.number})
    is_admin = profile.role == StaffProfile.Role.ADMIN
    return render(request, "customers/review_queue.html", {
        "form": form, "pairs": pairs, "counts": duplicate_queue_counts(profile=profile), "is_admin": is_admin,
        "last_run": (runs_recent(kind=DUPLICATE_SEARCH, limit=1) or [None])[0] if is_admin else None,
        "query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
    })


@require_GET
@staff_required(*REVIEW_ROLES)
def review_pair(request: HttpRequest, pk: int) -> HttpResponse:
    """The two records side by side (masked where the viewer may not see them), the matcher's
    comparisons and weights, and the decision form when the viewer may decide."""
    from customers.merging import merge_field_choices

    candidate = _pair_or_404(request, pk)
    left, right = (customer_get_for_user(user=request.user, customer_id=customer_id, request=request,
                                         purpose="duplicate review")
                   for customer_id in (candidate.left_id, candidate.right_id))
    may_act = duplicate_may_decide(profile=staff_profile_for_user(request.user), left=left.customer,
                                   right=right.customer)
    may_decide = candidate.status == MatchCandidate.Status.PENDING and may_act
    prefill = merge_field_choices(survivor=left.customer, absorbed=right.customer) if may_decide else {}
    merge = (CustomerMerge.objects.filter(candidate=candidate, unmerged_at__isnull=True).first()
             if candidate.status == MatchCandidate.Status.MERGED else None)
    return render(request, "customers/review_pair.html", {
        "candidate": candidate, "left": left, "right": right, "may_decide": may_decide,
        "merge": merge, "may_undo": merge is not None and may_act,
        "rows": _pair_rows(candidate, left, right, prefill), "conflict": _conflict(left.customer, right.customer),
        "comparisons": _comparisons(candidate),
    })


@require_POST
@staff_required(*REVIEW_ROLES)
def review_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merges the pair as chosen and goes to the survivor's 360° page; errors back on the pair page."""
    candidate = _pair_or_404(request, pk)
    form = MergeForm(request.POST, fields=_differing(candidate.left, candidate.right),
                     conflict=_conflict(candidate.left, candidate.right))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("customers:review-pair", pk=pk)
    try:
        merge = duplicate_merge(candidate=candidate, actor=request.user, survivor_side=form.cleaned_data["survivor"],
                                choices=form.merge_choices(), ip_address=request_ip(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:review-pair", pk=pk)
    messages.success(request, _("The two records are merged into this customer."))
    return redirect("customers:customer-detail", pk=merge.survivor_id)


@require_POST
@staff_required(*REVIEW_ROLES)
def review_unmerge(request: HttpRequest, pk: int) -> HttpResponse:
    """Undoes the merge this pair led to: both records as they were, the pair back in the queue."""
    from customers.merging import customer_unmerge

    candidate = _pair_or_404(request, pk)
    merge = CustomerMerge.objects.filter(candidate=candidate, unmerged_at__isnull=True).first()
    if merge is None:
        messages.error(request, _("This pair has no merge in force to undo."))
        return redirect("customers:review-pair", pk=pk)
    try:
        customer_unmerge(merge=merge, actor=request.user, ip_address=request_ip(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:review-pair", pk=pk)
    messages.success(request, _("The merge is undone: both records are as they were, and the pair waits for a "
                                "decision again."))
    return redirect("customers:review-pair", pk=pk)


@require_POST
@staff_required(*REVIEW_ROLES)
def review_distinct(request: HttpRequest, pk: int) -> HttpResponse:
    """"Not the same customer": the pair leaves the queue for good."""
    candidate = _pair_or_404(request, pk)
    try:
        duplicate_mark_distinct(candidate=candidate, actor=request.user, note=request.POST.get("note", ""),
                                ip_address=request_ip(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("customers:review-pair", pk=pk)
    messages.success(request, _("Recorded: these are two different customers."))
    return redirect("customers:review-queue")


@require_POST
@staff_required(StaffProfile.Role.ADMIN)
def review_find(request: HttpRequest) -> HttpResponse:
    """Starts a find-duplicates run on the workers; the queue shows its progress."""
    try:
        duplicate_search_start(started_by=request.user)
    except RunError as error:
        messages.error(request, str(error))
    return redirect("customers:review-queue")


@require_GET
@staff_required(StaffProfile.Role.ADMIN)
def review_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's progress bar (htmx partial, polled every 2 s until the run is over)."""
    progress = run_progress(run_id=run_id)
    if progress is None or progress.kind != DUPLICATE_SEARCH:
        raise Http404
    return render(request, "runs/_run_progress.html", {
        "progress": progress, "prefix": "duplicates", "title": _("Find duplicates, run #%(run)s") % {"run": run_id},
        "poll_url": reverse("customers:review-run-progress", args=[run_id]),
        "results_url": reverse("customers:review-queue"),
        "failed_text": _("The search failed; the queue keeps the pairs it had."),
        "done_text": _("The search is done: show the queue"),
    })


urlpatterns = [
    path("", review_queue, name="review-queue"),
    path("<int:pk>/", review_pair, name="review-pair"),
    path("<int:pk>/merge/", review_merge, name="review-merge"),
    path("<int:pk>/distinct/", review_distinct, name="review-distinct"),
    path("<int:pk>/unmerge/", review_unmerge, name="review-unmerge"),
    path("find/", review_find, name="review-find"),
    path("runs/<int:run_id>/progress/", review_run_progress, name="review-run-progress"),
]
