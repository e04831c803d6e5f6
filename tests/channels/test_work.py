"""RM work: KYC-refresh tasks, one-click done, notifications read, silent top customers."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import Notification, Task
from channels.selectors.work import (
    branch_overdue_tasks_count,
    notifications_unread,
    silent_top_customers,
    tasks_for,
    tasks_open_due,
)
from channels.services.work import kyc_refresh_tasks_create, notifications_mark_read, task_create, task_done
from channels.tasks import kyc_refresh_tasks
from crm_bank.audit.models import AuditEvent
from tests.customers.factories import CustomerFactory, account_for
from tests.query_plans import captured_sql, plan_of

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 2)
NOW = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.UTC)


# KYC refresh

def test_kyc_refresh_tasks_for_reviews_due_within_30_days_once(rm_a, rm_a2, branch_a):
    due = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=TODAY + datetime.timedelta(days=20))
    overdue = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=TODAY - datetime.timedelta(days=3))
    CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=TODAY + datetime.timedelta(days=31))
    CustomerFactory(home_branch=branch_a, primary_rm=None, kyc_review_due=TODAY)
    rm_a2.is_active = False
    rm_a2.save(update_fields=["is_active"])
    CustomerFactory(home_branch=branch_a, primary_rm=rm_a2, kyc_review_due=TODAY)
    assert kyc_refresh_tasks_create(today=TODAY) == 2
    assert kyc_refresh_tasks_create(today=TODAY) == 0  # hourly again: nothing twice
    tasks = {task.customer_id: task for task in Task.objects.all()}
    assert set(tasks) == {due.pk, overdue.pk}
    task = tasks[due.pk]
    assert task.assignee == rm_a and task.kind == Task.Kind.KYC_REFRESH and task.status == Task.Status.OPEN
    assert task.dedupe_key == f"kyc:{due.pk}:{due.kyc_review_due.isoformat()}"
    assert timezone.localtime(task.due_at).date() == due.kyc_review_due
    # A new review date is a new review: a new task.
    due.kyc_review_due = TODAY + datetime.timedelta(days=25)
    due.save(update_fields=["kyc_review_due"])
    assert kyc_refresh_tasks_create(today=TODAY) == 1


def test_kyc_refresh_celery_task_calls_the_service(rm_a, branch_a):
    CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=timezone.localdate())
    assert kyc_refresh_tasks.apply().get() == 1


# Done with one click

@pytest.fixture
def task(rm_a, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a)
    return task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Call back", due_at=NOW, customer=customer)


def test_task_done_by_the_assignee_is_idempotent(task, rm_a):
    done = task_done(task_id=task.pk, actor=rm_a)
    assert done.status == Task.Status.DONE and done.done_by == rm_a and done.done_at
    again = task_done(task_id=task.pk, actor=rm_a)
    assert again.done_at == done.done_at
    assert AuditEvent.objects.filter(object_type="task", object_id=str(task.pk)).count() == 1


def test_task_done_refused_for_another_rm_and_another_branch_supervisor(task, rm_a2, rm_b, supervisor_b):
    for actor in (rm_a2, rm_b, supervisor_b):
        with pytest.raises(PermissionDenied):
            task_done(task_id=task.pk, actor=actor)
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_task_done_by_the_assignees_supervisor(task, supervisor_a):
    assert task_done(task_id=task.pk, actor=supervisor_a).done_by == supervisor_a


def test_a_cancelled_task_cannot_be_done(task, rm_a):
    Task.objects.filter(pk=task.pk).update(status=Task.Status.CANCELLED)
    with pytest.raises(ValidationError):
        task_done(task_id=task.pk, actor=rm_a)


@time_machine.travel(NOW, tick=False)
def test_task_lists_due_overdue_and_filters(rm_a, supervisor_a, branch_a):
    overdue = task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Late",
                          due_at=NOW - datetime.timedelta(days=2))
    soon = task_create(assignee=rm_a, kind=Task.Kind.KYC_REFRESH, title="Soon", due_at=NOW + datetime.timedelta(days=3))
    task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Later", due_at=NOW + datetime.timedelta(days=30))
    task_create(assignee=supervisor_a, kind=Task.Kind.FOLLOW_UP, title="Not mine", due_at=NOW)
    assert [t.pk for t in tasks_open_due(assignee_id=rm_a.pk)] == [overdue.pk, soon.pk]
    assert [t.pk for t in tasks_for(assignee_id=rm_a.pk, due="overdue")] == [overdue.pk]
    assert [t.pk for t in tasks_for(assignee_id=rm_a.pk, kind=Task.Kind.KYC_REFRESH)] == [soon.pk]
    assert branch_overdue_tasks_count(branch_id=branch_a.pk) == 1


@time_machine.travel(NOW, tick=False)
def test_the_today_filter_starts_at_midnight_not_24_hours_ago(rm_a):
    local_now = timezone.localtime()
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Yesterday afternoon",
                            due_at=midnight - datetime.timedelta(hours=1))
    this_morning = task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="This morning",
                               due_at=midnight + datetime.timedelta(minutes=1))
    tonight = task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Tonight",
                          due_at=midnight + datetime.timedelta(hours=23))

    today = [t.pk for t in tasks_for(assignee_id=rm_a.pk, due="today")]
    assert this_morning.pk in today and tonight.pk in today and yesterday.pk not in today
    assert local_now - (midnight - datetime.timedelta(hours=1)) < datetime.timedelta(days=1)  # it was listed before


def test_notifications_mark_read_touches_only_the_recipients(rm_a, rm_a2):
    mine = Notification.objects.create(recipient=rm_a, kind=Notification.Kind.CHURN_RISK, text="Mine")
    theirs = Notification.objects.create(recipient=rm_a2, kind=Notification.Kind.CHURN_RISK, text="Theirs")
    assert notifications_mark_read(recipient=rm_a, notification_ids=[mine.pk, theirs.pk]) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None


# Silent top customers

@time_machine.travel(NOW, tick=False)
def test_silent_top_customers_by_balance(settings, rm_a, rm_a2, branch_a):
    settings.CRM_TOP_CUSTOMER_BALANCE = 100_000
    settings.CRM_SILENT_CUSTOMER_DAYS = 90

    def top(rm, last_contact_days: int | None, balance: str = "250000"):
        customer = CustomerFactory(home_branch=branch_a, primary_rm=rm, last_contact_at=None if last_contact_days
                                   is None else NOW - datetime.timedelta(days=last_contact_days))
        account_for(customer, balance=Decimal(balance))
        return customer

    never = top(rm_a, None)
    silent = top(rm_a, 120)
    top(rm_a, 10)  # contacted recently
    top(rm_a, 200, balance="5000")  # not a top customer
    top(rm_a2, 200)  # another RM's
    found = silent_top_customers(rm_id=rm_a.pk)
    assert [c.pk for c in found.customers] == [never.pk, silent.pk]
    assert found.basis == "balance" and found.days == 90
    assert len(silent_top_customers(branch_id=branch_a.pk).customers) == 3


# The plans behind the lists (the indexes each query is meant to walk)

def test_kyc_refresh_skips_reviews_whose_task_exists_from_the_indexes(rm_a, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=TODAY)
    # A book whose other reviews are far off, analysed: on a one-row table every index costs the same
    # and the planner's choice would be a coin toss; here the reviews-due index is the selective one.
    CustomerFactory.create_batch(150, home_branch=branch_a, primary_rm=rm_a,
                                 kyc_review_due=TODAY + datetime.timedelta(days=400))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    assert kyc_refresh_tasks_create(today=TODAY) == 1
    sql = captured_sql(lambda: kyc_refresh_tasks_create(today=TODAY), "INSERT INTO")
    plan = plan_of(sql)
    # The customers from the partial index of reviews due, and an anti join on the dedupe key: an
    # hour with nothing new attempts no insert.
    assert "customer_kyc_due_idx" in plan and "Anti Join" in plan, plan
    assert Task.objects.get().customer == customer


def test_task_list_default_order_walks_the_assignee_index(rm_a):
    for days in (1, 2, 3):
        task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="t", due_at=NOW + datetime.timedelta(days=days))
    sql = captured_sql(lambda: list(tasks_for(assignee_id=rm_a.pk)[:25]), "channels_task")
    plan = plan_of(sql)
    assert "task_assignee_list_idx" in plan and "Sort" not in plan, plan


def test_unread_notifications_come_from_the_partial_index(rm_a):
    Notification.objects.bulk_create([
        Notification(recipient=rm_a, kind=Notification.Kind.CHURN_RISK, text=f"n{i}",
                     read_at=timezone.now() if i % 2 else None) for i in range(30)])
    with CaptureQueriesContext(connection) as queries:
        found = notifications_unread(recipient_id=rm_a.pk)
    assert found.unread_count == 15 and all(n.read_at is None for n in found.unread)
    for query in queries.captured_queries:
        plan = plan_of(query["sql"])
        assert "notification_unread_idx" in plan and "Sort" not in plan, plan


@time_machine.travel(NOW, tick=False)
def test_silent_top_customers_walk_the_index_from_the_stalest(settings, rm_a, branch_a):
    """Customers of a branch (or an RM) in last-contact order, never contacted first, straight from
    an index: the scan stops at the 20th top customer instead of sorting the whole branch."""
    settings.CRM_TOP_CUSTOMER_BALANCE = 100_000
    for days in (None, 400, 200):
        customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, last_contact_at=None if days is None
                                   else NOW - datetime.timedelta(days=days))
        account_for(customer, balance=Decimal("250000"))
    for scope, index in (({"branch_id": branch_a.pk}, "contact_recency_branch_idx"),
                         ({"rm_id": rm_a.pk}, "contact_recency_rm_idx")):
        sql = captured_sql(lambda scope=scope: silent_top_customers(**scope), "last_contact_at")
        plan = plan_of(sql)
        assert index in plan and "Sort" not in plan, plan
