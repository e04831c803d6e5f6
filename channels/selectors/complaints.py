"""Reads about complaint cases: the supervisor's queue, one case with its history, and the report
(SLA compliance per branch and category by month, skip-level cases per branch, feedback answered on
time per product), all aggregated in SQL."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, F, IntegerField, Min, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import TruncMonth
from django.utils import timezone

from channels.models import ChurnFlag, Complaint, ComplaintEvent, EscalationContact, Interaction, Task
from channels.models.complaints import Level
from channels.services.complaints.ladder import is_level_contact
from crm_bank.org.models import StaffProfile

Role = StaffProfile.Role
Status = Complaint.Status

# Share of the SLA window left below which a case shows amber ("at risk").
AT_RISK_SHARE = 0.25


@dataclass(frozen=True)
class SlaState:
    code: str  # on_time · at_risk · breached · met · missed
    remaining: datetime.timedelta | None  # time left (negative: overdue) while the case is open


def complaint_sla_state(complaint: Complaint, *, now: datetime.datetime) -> SlaState:
    """Where a case stands against its SLA: the queue's badge and countdown."""
    if not complaint.is_open:
        late = complaint.sla_breached or (complaint.resolved_at or now) > complaint.sla_due_at
        return SlaState("missed" if late else "met", None)
    remaining = complaint.sla_due_at - now
    if complaint.sla_breached or remaining <= datetime.timedelta(0):
        return SlaState("breached", remaining)
    window = complaint.sla_due_at - complaint.opened_at
    if window.total_seconds() > 0 and remaining / window < AT_RISK_SHARE:
        return SlaState("at_risk", remaining)
    return SlaState("on_time", remaining)


def _scope(queryset: QuerySet, *, user: AbstractBaseUser, profile: StaffProfile, branch_field: str,
           owner_field: str | None) -> QuerySet:
    """Admins see every branch; a supervisor their branch (and cases they hold elsewhere); others
    the cases they own."""
    if profile.role == Role.ADMIN:
        return queryset
    own = Q(**{owner_field: user.pk}) if owner_field else Q(pk__in=[])
    if profile.role == Role.SUPERVISOR and profile.branch_id is not None:
        return queryset.filter(Q(**{branch_field: profile.branch_id}) | own)
    return queryset.filter(own)


def _level_contact_cases(*, user: AbstractBaseUser) -> Q:
    """The cases at the levels above the branch that `user` is the escalation contact of (a regional
    head: their region's), whoever holds them: the contact may act on them (complaint_may_act) even
    when the case reached the level before they were configured."""
    condition = Q(pk__in=[])
    for level, region in EscalationContact.objects.filter(user_id=user.pk).values_list("level", "region"):
        if level == Level.REGIONAL_HEAD:
            condition |= Q(level=level, branch__region=region)
        elif level > Level.REGIONAL_HEAD:
            condition |= Q(level=level)
    return condition


def complaint_queue(
    *, user: AbstractBaseUser, profile: StaffProfile, now: datetime.datetime, status: str = "",
    severity: str = "", category: str = "", skip_level: str = "", branch_id: int | None = None,
) -> QuerySet[Complaint]:
    """The cases a user works on, breached first, then the soonest deadline. `status` "" means the
    open ones; "all" every status. An escalation contact also gets their level's cases."""
    queryset = Complaint.objects.select_related("customer", "branch", "owner", "product")
    scoped = _scope(queryset, user=user, profile=profile, branch_field="branch_id", owner_field="owner_id")
    if profile.role != Role.ADMIN:
        scoped = scoped | queryset.filter(_level_contact_cases(user=user))
    queryset = scoped
    if status == "all":
        pass
    elif status in Status.values:
        queryset = queryset.filter(status=status)
    else:
        queryset = queryset.filter(status__in=Complaint.OPEN_STATUSES)
    if severity:
        queryset = queryset.filter(severity=severity)
    if category:
        queryset = queryset.filter(category=category)
    if skip_level in ("yes", "no"):
        queryset = queryset.filter(is_skip_level=skip_level == "yes")
    if branch_id is not None:
        queryset = queryset.filter(branch_id=branch_id)
    breached = Case(
        When(Q(status__in=Complaint.OPEN_STATUSES) & (Q(sla_breached=True) | Q(sla_due_at__lte=now)), then=Value(0)),
        When(status__in=Complaint.OPEN_STATUSES, then=Value(1)),
        default=Value(2), output_field=IntegerField(),
    )
    return queryset.annotate(queue_rank=breached).order_by("queue_rank", "sla_due_at", "pk")


def complaint_detail(*, pk: int) -> Complaint | None:
    """One case with everything its page shows: customer, owner, events with their people, linked
    contacts (newest first) and tasks."""
    return (
        Complaint.objects.select_related("customer", "customer__primary_rm", "branch", "owner", "product", "opened_by")
        .prefetch_related(
            Prefetch("events", queryset=ComplaintEvent.objects.select_related("actor", "from_owner", "to_owner")),
            Prefetch("interactions", queryset=Interaction.objects.select_related("staff").order_by("-occurred_at")),
        )
        .filter(pk=pk).first()
    )


def complaint_visible_to(*, complaint: Complaint, user: AbstractBaseUser, profile: StaffProfile | None) -> bool:
    """Admins; supervisors of the case's branch; its owner, former owners, the customer's RM and the
    escalation contact of the case's level (who may act on it). Needs complaint_detail's prefetched
    events and the case's branch."""
    if profile is None:
        return False
    if profile.role == Role.ADMIN or complaint.owner_id == user.pk or complaint.customer.primary_rm_id == user.pk:
        return True
    if profile.role == Role.SUPERVISOR and profile.branch_id == complaint.branch_id:
        return True
    if any(event.to_owner_id == user.pk for event in complaint.events.all()):
        return True
    return is_level_contact(complaint=complaint, user=user)


def complaint_visible_by_pk(*, pk: int, user: AbstractBaseUser, profile: StaffProfile | None) -> bool:
    """complaint_visible_to for a case not loaded yet (after opening one: may the opener follow it?)."""
    events = ComplaintEvent.objects.only("complaint_id", "to_owner_id")
    complaint = (Complaint.objects.select_related("customer", "branch")
                 .prefetch_related(Prefetch("events", queryset=events))
                 .filter(pk=pk).first())
    return complaint is not None and complaint_visible_to(complaint=complaint, user=user, profile=profile)


def complaint_assignable_staff(*, branch_id: int) -> QuerySet:
    """Active staff of a branch, for the assign form."""
    return (get_user_model().objects.filter(staff_profile__branch_id=branch_id, is_active=True)
            .order_by("last_name", "first_name", "username"))


# --- the report ---------------------------------------------------------------------------------------

def _clock_ended(now: datetime.datetime) -> tuple[Q, Q]:
    """(met, missed): resolved within the deadline, or breached / resolved late / open past it."""
    met = Q(resolved_at__isnull=False, resolved_at__lte=F("sla_due_at"), sla_breached=False)
    missed = (Q(sla_breached=True) | Q(resolved_at__gt=F("sla_due_at"))
              | Q(resolved_at__isnull=True, status__in=Complaint.OPEN_STATUSES, sla_due_at__lte=now))
    return met, missed


def _report_cases(*, user: AbstractBaseUser, profile: StaffProfile, since: datetime.datetime,
                  branch_id: int | None) -> QuerySet[Complaint]:
    queryset = _scope(Complaint.objects.filter(opened_at__gte=since), user=user, profile=profile,
                      branch_field="branch_id", owner_field=None)
    return queryset.filter(branch_id=branch_id) if branch_id is not None else queryset


def complaint_sla_by_month(
    *, user: AbstractBaseUser, profile: StaffProfile, since: datetime.datetime, now: datetime.datetime,
    by: str, branch_id: int | None = None,
) -> list[dict]:
    """Rows (month, group, total, met, missed) with `by` "branch" or "category", one GROUP BY."""
    met, missed = _clock_ended(now)
    group = ["branch_id", "branch__code", "branch__name"] if by == "branch" else ["category"]
    return list(
        _report_cases(user=user, profile=profile, since=since, branch_id=branch_id)
        .annotate(month=TruncMonth("opened_at")).values("month", *group)
        .annotate(total=Count("id"), met=Count("id", filter=met), missed=Count("id", filter=missed))
        .order_by("month", *group)
    )


def complaint_skip_level_by_branch(
    *, user: AbstractBaseUser, profile: StaffProfile, since: datetime.datetime, branch_id: int | None = None,
    limit: int = 100,
) -> list[dict]:
    """Per branch: cases, skip-level cases (where branch service fails), and those still unanswered;
    most skip-level first."""
    skip = Q(is_skip_level=True)
    return list(
        _report_cases(user=user, profile=profile, since=since, branch_id=branch_id)
        .values("branch_id", "branch__code", "branch__name", "branch__region")
        .annotate(total=Count("id"), skip_level=Count("id", filter=skip),
                  unanswered=Count("id", filter=skip & Q(skipped_branch_answered_at__isnull=True)))
        .order_by("-skip_level", "branch__code")[:limit]
    )


def feedback_response_by_product(
    *, user: AbstractBaseUser, profile: StaffProfile, since: datetime.datetime, now: datetime.datetime,
) -> list[dict]:
    """Per product: feedback answered on time (task done by its due time), late, overdue and still
    within the clock."""
    tasks = Task.objects.filter(kind=Task.Kind.FEEDBACK_RESPONSE, due_at__gte=since, interaction__product__isnull=False)
    tasks = _scope(tasks, user=user, profile=profile, branch_field="interaction__branch_id", owner_field="assignee_id")
    done = Q(status=Task.Status.DONE)
    waiting = Q(status=Task.Status.OPEN)
    return list(
        tasks.values("interaction__product_id", "interaction__product__name", "interaction__product__name_zh")
        .annotate(
            total=Count("id"), on_time=Count("id", filter=done & Q(done_at__lte=F("due_at"))),
            late=Count("id", filter=done & Q(done_at__gt=F("due_at"))),
            overdue=Count("id", filter=waiting & Q(due_at__lt=now)),
            pending=Count("id", filter=waiting & Q(due_at__gte=now)),
        )
        .order_by("interaction__product__name")
    )


def report_since(*, months: int, now: datetime.datetime | None = None) -> datetime.datetime:
    """The first instant of the month `months - 1` months before now's (local time)."""
    local = timezone.localtime(now or timezone.now())
    month_index = local.year * 12 + local.month - 1 - (months - 1)
    return local.replace(year=month_index // 12, month=month_index % 12 + 1, day=1, hour=0, minute=0, second=0,
                         microsecond=0)


def report_months(*, since: datetime.datetime, now: datetime.datetime) -> list[tuple[int, int]]:
    """(year, month) from `since` to now's month, in local time."""
    local_since, local_now = timezone.localtime(since), timezone.localtime(now)
    first, last = local_since.year * 12 + local_since.month - 1, local_now.year * 12 + local_now.month - 1
    return [(index // 12, index % 12 + 1) for index in range(first, last + 1)]


def _percent(met: int, missed: int) -> float | None:
    return round(100 * met / (met + missed), 1) if met + missed else None


def compliance_series(rows: list[dict], *, key: str, months: list[tuple[int, int]]) -> list[dict]:
    """The monthly aggregate rows pivoted per `key` (a branch id, a category): totals over the period
    and the compliance % of each month (None: no case whose clock had ended). Most cases first."""
    groups: dict[object, dict] = {}
    position = {month: i for i, month in enumerate(months)}
    for row in rows:
        group = groups.setdefault(row[key], {"key": row[key], "row": row, "total": 0, "met": 0, "missed": 0,
                                             "months": [[0, 0] for _ in months]})
        group["total"] += row["total"]
        group["met"] += row["met"]
        group["missed"] += row["missed"]
        month = timezone.localtime(row["month"])
        index = position.get((month.year, month.month))
        if index is not None:
            group["months"][index][0] += row["met"]
            group["months"][index][1] += row["missed"]
    result = []
    for group in groups.values():
        group["percent"] = _percent(group["met"], group["missed"])
        group["by_month"] = [_percent(met, missed) for met, missed in group.pop("months")]
        result.append(group)
    return sorted(result, key=lambda g: -g["total"])


def compliance_overall(rows: list[dict], *, months: list[tuple[int, int]]) -> list[float | None]:
    """Compliance % of all groups together, per month."""
    totals = {month: [0, 0] for month in months}
    for row in rows:
        month = timezone.localtime(row["month"])
        if (month.year, month.month) in totals:
            totals[(month.year, month.month)][0] += row["met"]
            totals[(month.year, month.month)][1] += row["missed"]
    return [_percent(*totals[month]) for month in months]


@dataclass(frozen=True)
class CustomerComplaintSummary:
    """The 360° header's alerts: open cases, the soonest deadline, the raised churn flag."""

    open_count: int
    soonest_due_at: datetime.datetime | None
    any_breached: bool
    churn_reason: str | None  # None: no raised flag


def customer_complaint_summary(*, customer_id: int, now: datetime.datetime | None = None) -> CustomerComplaintSummary:
    """Two queries whatever the history (complaint_customer_idx, the flag's one-to-one)."""
    now = now or timezone.now()
    open_cases = Complaint.objects.filter(customer_id=customer_id, status__in=Complaint.OPEN_STATUSES).aggregate(
        count=Count("id"), soonest=Min("sla_due_at"),
        breached=Count("id", filter=Q(sla_breached=True) | Q(sla_due_at__lte=now)),
    )
    flag = ChurnFlag.objects.filter(customer_id=customer_id, cleared_at__isnull=True).values_list("reason", flat=True)
    return CustomerComplaintSummary(open_count=open_cases["count"], soonest_due_at=open_cases["soonest"],
                                    any_breached=bool(open_cases["breached"]), churn_reason=next(iter(flag), None))
