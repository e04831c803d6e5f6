"""Work pages (see channels/views/__init__.py): tasks (done with one click), notifications, the
landing-page panels (my book, branch dashboard), book transfer, new prospect with the ownership
check, and the lifecycle funnel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels.models import Task
from channels.selectors.lifecycle import FUNNEL_MOVES, lifecycle_funnel
from channels.selectors.work import (
    branch_overdue_tasks_count,
    notifications_unread,
    rm_book_for_transfer,
    silent_top_customers,
    tasks_for,
    tasks_open_due,
)
from channels.services.continuity import book_transfer, customer_ownership_conflicts, prospect_create
from channels.services.work import notifications_mark_read, task_done
from channels.work_forms import BookTransferForm, FunnelBranchForm, OwnershipCheckForm, ProspectForm, TaskFilterForm
from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.security.limits import RateLimited
from crm_bank.ui.paginators import CappedCountPaginator, id_from

TASKS_PER_PAGE = 25
BOOK_PER_PAGE = 50
Role = StaffProfile.Role


def _branch_for(request: HttpRequest) -> Branch | None:
    """The supervisor's own branch; an admin's choice (?branch=), else the first branch."""
    profile = staff_profile_for_user(request.user)
    if not profile.is_admin:
        return profile.branch
    form = FunnelBranchForm(request.GET)
    chosen = form.cleaned_data.get("branch") if form.is_valid() else None
    return chosen or Branch.objects.order_by("code").first()


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# Tasks and notifications

@require_GET
@staff_required()
def task_list(request: HttpRequest) -> HttpResponse:
    form = TaskFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    tasks = tasks_for(assignee_id=request.user.pk, **filters)
    page = CappedCountPaginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "channels/task_list.html", {
        "form": form, "page": page, "query": _query_without_page(request), "now": timezone.now(),
    })


@require_POST
@staff_required()
def task_mark_done(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        task = task_done(task_id=pk, actor=request.user, ip_address=request_ip(request))
    except Task.DoesNotExist:
        raise Http404("No such task.") from None
    except ValidationError as error:
        if request.htmx:
            return HttpResponse(error.messages[0], status=409)
        messages.error(request, error.messages[0])
        return redirect("channels:tasks")
    if request.htmx:
        return render(request, "channels/_task_row.html", {"task": task, "now": timezone.now(),
                                                           "compact": request.POST.get("compact") == "1"})
    messages.success(request, gettext("Task done."))
    return redirect("channels:tasks")


@require_GET
@staff_required()
def my_work_panel(request: HttpRequest) -> HttpResponse:
    """The RM landing page's panels: tasks due and overdue, unread notifications, silent top customers."""
    return render(request, "channels/_my_work_panel.html", {
        "tasks": tasks_open_due(assignee_id=request.user.pk), "now": timezone.now(),
        "notifications": notifications_unread(recipient_id=request.user.pk),
        "silent": silent_top_customers(rm_id=request.user.pk),
    })


@require_GET
@staff_required(Role.SUPERVISOR)
def branch_work_panel(request: HttpRequest) -> HttpResponse:
    """The branch dashboard's panels: my notifications, the branch's overdue tasks, silent top customers."""
    branch = _branch_for(request)
    if branch is None:
        return HttpResponse("")
    return render(request, "channels/_branch_work_panel.html", {
        "branch": branch, "overdue_tasks": branch_overdue_tasks_count(branch_id=branch.pk),
        "notifications": notifications_unread(recipient_id=request.user.pk),
        "silent": silent_top_customers(branch_id=branch.pk),
    })


@require_POST
@staff_required()
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Marks one notification (?id=) or all of the user's unread ones read; htmx gets the list back."""
    ids = request.POST.getlist("id")
    try:
        chosen = [int(value) for value in ids] if ids else None
    except ValueError:
        return HttpResponse(gettext("Unknown notification."), status=400)
    notifications_mark_read(recipient=request.user, notification_ids=chosen)
    if request.htmx:
        return render(request, "channels/_notifications.html",
                      {"notifications": notifications_unread(recipient_id=request.user.pk)})
    return redirect("home")


# Book transfer

@require_http_methods(["GET", "POST"])
@staff_required(Role.SUPERVISOR)
def book_transfer_page(request: HttpRequest) -> HttpResponse:
    branch = _branch_for(request)
    if branch is None:
        raise Http404("No branch.")
    chosen_rm_id = id_from(request.GET.get("from_rm"))
    form = BookTransferForm(request.POST or None, branch=branch, from_rm_id=chosen_rm_id,
                            initial={"from_rm": chosen_rm_id})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        selected = None if data["scope"] == BookTransferForm.SCOPE_ALL else data["customers"]
        try:
            transfer = book_transfer(actor=request.user, from_rm=data["from_rm"], to_rm=data["to_rm"],
                                     reason=data["reason"], note=data["note"], customer_ids=selected,
                                     ip_address=request_ip(request))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, ngettext("%(n)d customer moved to %(rm)s.", "%(n)d customers moved to %(rm)s.",
                                               transfer.customers_moved)
                             % {"n": transfer.customers_moved, "rm": data["to_rm"].get_full_name() or data["to_rm"]})
            return redirect(f"{request.path}?{request.GET.urlencode()}")
    # The book shown is the one chosen in the URL (?from_rm=), the same the POST comes back to.
    from_rm = form.fields["from_rm"].queryset.filter(pk=chosen_rm_id).first()
    page = Paginator(rm_book_for_transfer(rm_id=from_rm.pk if from_rm else None), BOOK_PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "channels/book_transfer.html", {
        "form": form, "branch": branch, "page": page, "from_rm": from_rm, "query": _query_without_page(request),
        "ticked": set(map(str, request.POST.getlist("customers"))),
    })


# New prospect and the ownership check

@require_http_methods(["GET", "POST"])
@staff_required()
def prospect_new(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    form = ProspectForm(request.POST or None, initial={"home_branch": profile.branch_id})
    conflicts = []
    if request.method == "POST" and form.is_valid():
        try:
            customer, conflicts = prospect_create(actor=request.user, confirmed=request.POST.get("confirm") == "1",
                                                  ip_address=request_ip(request), **form.customer_fields())
        except ValidationError as error:
            form.add_error(None, error)
        except RateLimited as limited:  # no prospect without the check: the form is kept as typed
            form.add_error(None, limited.notice())
            response = render(request, "channels/prospect_new.html", {"form": form, "conflicts": []}, status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        else:
            if customer is not None:
                messages.success(request, gettext("Prospect created."))
                return redirect(customer.get_absolute_url())
    return render(request, "channels/prospect_new.html", {"form": form, "conflicts": conflicts})


@require_GET
@staff_required()
def ownership_check(request: HttpRequest) -> HttpResponse:
    """The conflict warning for the given identifiers (htmx, e.g. from a sales contact form)."""
    form = OwnershipCheckForm(request.GET)
    conflicts = customer_ownership_conflicts(user=request.user, ip_address=request_ip(request),
                                             **form.cleaned_data) if form.is_valid() else []
    return render(request, "channels/_ownership_warning.html", {"conflicts": conflicts})


# Lifecycle funnel

@require_GET
@staff_required(Role.SUPERVISOR)
def lifecycle_funnel_page(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    branch = _branch_for(request)
    if branch is None:
        raise PermissionDenied
    funnel = lifecycle_funnel(branch_id=branch.pk)
    rows = funnel.conversion_rows()
    chart = {"runs": [f"#{run.pk} {run.as_of}" for run, _ in rows], "moves": funnel.move_labels(),
             "rates": [[rates[i] for _, rates in rows] for i in range(len(FUNNEL_MOVES))]}
    return render(request, "channels/lifecycle_funnel.html", {
        "branch": branch, "funnel": funnel, "branches": Branch.objects.order_by("code") if profile.is_admin else [],
        "stage_rows": funnel.stage_rows(), "conversion_rows": rows, "move_labels": funnel.move_labels(),
        "chart": chart,
    })


urlpatterns: list = [
    path("tasks/", task_list, name="tasks"),
    path("tasks/<int:pk>/done/", task_mark_done, name="task-done"),
    path("work/mine/", my_work_panel, name="my-work-panel"),
    path("work/branch/", branch_work_panel, name="branch-work-panel"),
    path("notifications/read/", notifications_read, name="notifications-read"),
    path("book-transfer/", book_transfer_page, name="book-transfer"),
    path("prospects/new/", prospect_new, name="prospect-new"),
    path("prospects/ownership-check/", ownership_check, name="ownership-check"),
    path("lifecycle/", lifecycle_funnel_page, name="lifecycle-funnel"),
]
