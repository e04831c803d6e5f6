"""Reads for the landing pages: a staff member's open tasks, their notifications, the branch's
overdue tasks, and the top customers nobody has contacted for a while (silent customers)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from channels.models import Notification, Task
from customers.models import Customer
from customers.value_ranking import top_customer_basis, top_customer_condition

# "Due" on the landing page: overdue, or due within this many days.
DUE_SOON = datetime.timedelta(days=7)
PANEL_ROWS = 20
SILENT_ROWS = 20


def tasks_open_due(*, assignee_id: int, now: datetime.datetime | None = None) -> list[Task]:
    """The assignee's open tasks that are overdue or due within a week, soonest first (from the
    partial index task_assignee_due_idx), with their customers."""
    now = now or timezone.now()
    return list(
        Task.objects.filter(assignee_id=assignee_id, status=Task.Status.OPEN, due_at__lte=now + DUE_SOON)
        .select_related("customer").order_by("due_at", "pk")[:PANEL_ROWS]
    )


DUE_FILTERS = ("overdue", "today", "week")


def tasks_for(
    *, assignee_id: int, status: str = "", kind: str = "", due: str = "", now: datetime.datetime | None = None,
) -> QuerySet[Task]:
    """The full task list of one assignee, filtered; open ones soonest first (task_assignee_due_idx),
    else latest due first (task_assignee_list_idx), so a page and its capped count read an index."""
    now = now or timezone.now()
    tasks = Task.objects.filter(assignee_id=assignee_id).select_related("customer", "done_by")
    if status:
        tasks = tasks.filter(status=status)
    if kind:
        tasks = tasks.filter(kind=kind)
    if due == "overdue":
        tasks = tasks.filter(status=Task.Status.OPEN, due_at__lt=now)
    elif due == "today":
        start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        end_of_day = start_of_day.replace(hour=23, minute=59, second=59, microsecond=999999)
        tasks = tasks.filter(due_at__lte=end_of_day, due_at__gte=start_of_day)
    elif due == "week":
        tasks = tasks.filter(due_at__lte=now + DUE_SOON)
    return tasks.order_by("due_at", "pk") if status == Task.Status.OPEN else tasks.order_by("-due_at", "-pk")


def branch_overdue_tasks_count(*, branch_id: int, now: datetime.datetime | None = None) -> int:
    """Open tasks past due of the branch's staff."""
    now = now or timezone.now()
    return Task.objects.filter(
        status=Task.Status.OPEN, due_at__lt=now, assignee__staff_profile__branch_id=branch_id,
    ).count()


@dataclass(frozen=True)
class NotificationList:
    unread: list[Notification]
    unread_count: int


def notifications_unread(*, recipient_id: int) -> NotificationList:
    """The newest unread notifications and how many there are, from the partial index
    notification_unread_idx: read ones, however many, are never visited."""
    unread = Notification.objects.filter(recipient_id=recipient_id, read_at__isnull=True)
    shown = list(unread.order_by("-created_at", "-pk")[:PANEL_ROWS])
    count = len(shown) if len(shown) < PANEL_ROWS else unread.count()
    return NotificationList(unread=shown, unread_count=count)


@dataclass(frozen=True)
class SilentCustomers:
    customers: list[Customer]
    basis: str  # "value_tier" or "balance" (customers.value_ranking.top_customer_basis)
    days: int


def silent_top_customers(
    *, rm_id: int | None = None, branch_id: int | None = None, now: datetime.datetime | None = None,
) -> SilentCustomers:
    """The RM's (or the branch's) most valuable customers not contacted for CRM_SILENT_CUSTOMER_DAYS
    days, or never: the longest silent first, at most 20. The order is that of the indexes
    contact_recency_rm_idx / contact_recency_branch_idx (the narrow copy of each customer's last
    contact, RM and branch), so the scan starts at the stalest and checks the top-customer
    condition only until 20 have matched."""
    now = now or timezone.now()
    days = settings.CRM_SILENT_CUSTOMER_DAYS
    customers = Customer.objects.filter(top_customer_condition(), merged_into__isnull=True).filter(
        Q(contact_recency__last_contact_at__isnull=True)
        | Q(contact_recency__last_contact_at__lt=now - datetime.timedelta(days=days)),
        contact_recency__isnull=False,
    )
    if rm_id is not None:
        customers = customers.filter(contact_recency__primary_rm_id=rm_id)
    if branch_id is not None:
        customers = customers.filter(contact_recency__home_branch_id=branch_id)
    rows = list(
        customers.select_related("primary_rm")
        .order_by(F("contact_recency__last_contact_at").asc(nulls_first=True), "contact_recency__customer_id")
        [:SILENT_ROWS]
    )
    return SilentCustomers(customers=rows, basis=top_customer_basis(), days=days)


def rm_book_for_transfer(*, rm_id: int | None) -> QuerySet[Customer]:
    """The customers an RM serves, in name order (the book transfer's checkbox list)."""
    if rm_id is None:
        return Customer.objects.none()
    return Customer.objects.filter(primary_rm_id=rm_id).select_related("home_branch").order_by("name_key", "pk")
