"""Complaint services: opening a case, bad input, status rules, assignment, the churn flag, and the
hooks that open cases from stored contacts and route product feedback."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from channels.models import ChurnFlag, Complaint, ComplaintEvent, ComplaintSLA, Interaction, Notification, Task
from channels.models.complaints import Level
from channels.services.complaints import (
    churn_flag_clear,
    complaint_assign,
    complaint_open,
    complaint_update_status,
)
from channels.services.interactions import NewInteraction, interaction_record, interactions_store
from crm_bank.audit.models import AuditEvent
from customers.models import Customer
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GOOD = {"channel": "call_centre", "category": "card", "severity": "medium", "description": "ATM kept my card"}


@pytest.fixture(autouse=True)
def complaint_slas(db):
    """The SLAs migration 0002 seeds, again: a transactional test elsewhere flushes them from a reused database."""
    for severity, hours, step in (("critical", 24, 4), ("high", 48, 12), ("medium", 120, 24), ("low", 240, 48)):
        ComplaintSLA.objects.get_or_create(severity=severity,
                                           defaults={"resolve_within_hours": hours, "escalation_step_hours": step})


@pytest.fixture
def customer(branch_a, rm_a):
    return CustomerFactory(home_branch=branch_a, primary_rm=rm_a)


def _open(customer, actor, **changes):
    return complaint_open(customer=customer, actor=actor, **{"at": T0, **GOOD, **changes})


def test_complaint_open_gives_the_case_to_the_rm_with_deadline_task_and_notice(customer, rm_a, supervisor_a):
    complaint = _open(customer, supervisor_a)
    assert (complaint.owner, complaint.level, complaint.branch, complaint.status) == (
        rm_a, Level.OWNER, customer.home_branch, "open")
    assert complaint.sla_due_at == T0 + datetime.timedelta(hours=120)  # medium: 5 days (migration 0002)
    assert complaint.next_escalation_at == complaint.sla_due_at and complaint.opened_by == supervisor_a
    kinds = list(ComplaintEvent.objects.filter(complaint=complaint).values_list("kind", flat=True))
    assert kinds == [ComplaintEvent.Kind.OPENED, ComplaintEvent.Kind.ASSIGNED]
    task = Task.objects.get(complaint=complaint)
    assert (task.assignee, task.kind, task.due_at) == (rm_a, Task.Kind.COMPLAINT_ACTION, complaint.sla_due_at)
    assert Notification.objects.filter(recipient=rm_a, kind=Notification.Kind.COMPLAINT_ASSIGNED).exists()
    assert AuditEvent.objects.filter(object_type="complaint", object_id=str(complaint.pk), actor=supervisor_a,
                                     action="create").exists()
    contact = Interaction.objects.get(customer=customer)  # the complaint is on the timeline, linked to the case
    assert (contact.kind, contact.complaint, contact.staff, contact.channel, contact.occurred_at) == (
        "complaint", complaint, supervisor_a, "call_centre", T0)
    assert Complaint.objects.count() == 1  # the stored contact does not open a second case


def test_complaint_open_goes_to_the_supervisor_when_the_rm_has_left(customer, rm_a, supervisor_a):
    rm_a.is_active = False
    rm_a.save(update_fields=["is_active"])
    assert _open(customer, supervisor_a).owner == supervisor_a


def test_complaint_open_refuses_bad_input_and_writes_nothing(customer, rm_a):
    with pytest.raises(ValidationError) as refused:
        complaint_open(customer=customer, actor=rm_a, channel="pigeon", category="weather", severity="extreme",
                       description="   ", skip_level_to=7)
    assert set(refused.value.message_dict) == {"channel", "category", "severity", "description", "skip_level_to"}
    with pytest.raises(ValidationError) as too_long:
        _open(customer, rm_a, description="x" * 4001)
    assert "4000" in too_long.value.message_dict["description"][0]
    assert not Complaint.objects.exists() and not Task.objects.exists() and not Notification.objects.exists()
    assert not Interaction.objects.exists()


def test_complaint_open_messages_follow_the_users_language(customer, rm_a):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        _open(customer, rm_a, description="")
    message = refused.value.message_dict["description"][0]
    assert message  # translated when the catalogue has it; never empty


def test_complaint_open_again_within_ten_minutes_returns_the_first_case(customer, rm_a, supervisor_a):
    first = _open(customer, rm_a)
    assert _open(customer, rm_a, description=" ATM kept my card ") == first
    assert _open(customer, rm_a, at=T0 + datetime.timedelta(minutes=9)) == first
    assert Complaint.objects.count() == 1
    assert Task.objects.filter(kind=Task.Kind.COMPLAINT_ACTION).count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.COMPLAINT_ASSIGNED).count() == 1
    assert AuditEvent.objects.filter(object_type="complaint", action=AuditEvent.Action.CREATE).count() == 1


@pytest.mark.parametrize("changes", [
    {"description": "ATM kept my card again"}, {"category": "fees"}, {"severity": "high"}, {"channel": "branch"},
    {"at": T0 + datetime.timedelta(minutes=11)},
])
def test_complaint_open_with_another_value_or_later_is_a_new_case(customer, rm_a, changes):
    first = _open(customer, rm_a)
    assert _open(customer, rm_a, **changes) != first
    assert Complaint.objects.count() == 2


def test_complaint_open_by_another_opener_is_a_new_case(customer, rm_a, supervisor_a):
    assert _open(customer, rm_a) != _open(customer, supervisor_a)


def test_a_top_customers_complaint_raises_the_churn_flag(customer, rm_a, settings):
    account_for(customer, balance=Decimal(settings.CRM_TOP_CUSTOMER_BALANCE))
    complaint = _open(customer, rm_a)
    flag = ChurnFlag.objects.get(customer=customer)
    assert flag.is_raised and flag.complaint == complaint
    assert Task.objects.filter(customer=customer, kind=Task.Kind.CHURN_RISK, assignee=rm_a).count() == 1
    assert Notification.objects.filter(recipient=rm_a, kind=Notification.Kind.CHURN_RISK).count() == 1
    _open(customer, rm_a, description="Card kept again")  # a second complaint while the flag is up: no alert
    assert Task.objects.filter(customer=customer, kind=Task.Kind.CHURN_RISK).count() == 1


def test_an_ordinary_customers_fresh_complaint_raises_no_flag(customer, rm_a):
    account_for(customer, balance=Decimal("1000.00"))
    _open(customer, rm_a)
    assert not ChurnFlag.objects.exists()
    assert not Task.objects.filter(kind=Task.Kind.CHURN_RISK).exists()


def test_churn_flag_clear_and_re_raise(customer, rm_a, rm_b, settings):
    account_for(customer, balance=Decimal(settings.CRM_TOP_CUSTOMER_BALANCE))
    _open(customer, rm_a)
    with pytest.raises(PermissionDenied):
        churn_flag_clear(customer=customer, actor=rm_b)
    churn_flag_clear(customer=customer, actor=rm_a, note="Called; happy again")
    assert not ChurnFlag.objects.get(customer=customer).is_raised
    with pytest.raises(ValidationError):
        churn_flag_clear(customer=customer, actor=rm_a)
    _open(customer, rm_a, description="Card kept again")  # a new complaint raises it again and alerts again
    assert ChurnFlag.objects.get(customer=customer).is_raised
    assert Task.objects.filter(customer=customer, kind=Task.Kind.CHURN_RISK).count() == 2


# --- status ------------------------------------------------------------------------------------------

def test_status_walks_from_open_to_closed(customer, rm_a):
    complaint = _open(customer, rm_a)
    for status in ("in_progress", "waiting_customer", "in_progress"):
        complaint = complaint_update_status(complaint=complaint, actor=rm_a, status=status)
    complaint = complaint_update_status(complaint=complaint, actor=rm_a, status="resolved",
                                        resolution="Card returned by courier", at=T0 + datetime.timedelta(hours=5))
    assert complaint.resolved_at == T0 + datetime.timedelta(hours=5) and complaint.next_escalation_at is None
    assert not Task.objects.filter(complaint=complaint, status="open").exists()
    complaint = complaint_update_status(complaint=complaint, actor=rm_a, status="closed", satisfaction=5)
    assert (complaint.status, complaint.satisfaction) == ("closed", 5)
    statuses = list(ComplaintEvent.objects.filter(complaint=complaint, kind="status").order_by("id")
                    .values_list("status", flat=True))
    assert statuses == ["in_progress", "waiting_customer", "in_progress", "resolved", "closed"]
    assert AuditEvent.objects.filter(object_type="complaint", object_id=str(complaint.pk), action="change").count() == 5


@pytest.mark.parametrize(("changes", "field"), [
    ({"status": "closed"}, "status"),  # open cannot jump to closed
    ({"status": "resolved", "resolution": " "}, "resolution"),
    ({"status": "resolved", "resolution": "Done", "satisfaction": 4}, "satisfaction"),
    ({"status": "sleeping"}, "status"),
])
def test_status_refuses_bad_moves_and_writes_nothing(customer, rm_a, changes, field):
    complaint = _open(customer, rm_a)
    with pytest.raises(ValidationError) as refused:
        complaint_update_status(complaint=complaint, actor=rm_a, **changes)
    assert field in refused.value.message_dict
    complaint.refresh_from_db()
    assert (complaint.status, complaint.resolution) == ("open", "")
    assert not ComplaintEvent.objects.filter(complaint=complaint, kind="status").exists()


def test_satisfaction_must_be_one_to_five(customer, rm_a):
    complaint = _open(customer, rm_a)
    complaint_update_status(complaint=complaint, actor=rm_a, status="resolved", resolution="Refunded")
    with pytest.raises(ValidationError):
        complaint_update_status(complaint=complaint, actor=rm_a, status="closed", satisfaction=6)
    complaint.refresh_from_db()
    assert complaint.status == "resolved"


def test_reopening_a_resolved_case_restarts_the_clock(customer, rm_a):
    complaint = _open(customer, rm_a)
    complaint_update_status(complaint=complaint, actor=rm_a, status="resolved", resolution="Refunded")
    late = T0 + datetime.timedelta(days=10)  # past the deadline: one escalation step from now
    reopened = complaint_update_status(complaint=complaint, actor=rm_a, status="in_progress", at=late)
    assert reopened.resolved_at is None
    assert reopened.next_escalation_at == late + datetime.timedelta(hours=24)


def test_only_the_people_on_the_case_change_its_status(customer, rm_a, rm_a2, supervisor_a, supervisor_b,
                                                       bank_admin):
    complaint = _open(customer, rm_a)
    for outsider in (rm_a2, supervisor_b):
        with pytest.raises(PermissionDenied):
            complaint_update_status(complaint=complaint, actor=outsider, status="in_progress")
    complaint.refresh_from_db()
    assert complaint.status == "open"
    complaint_update_status(complaint=complaint, actor=supervisor_a, status="in_progress")
    complaint_update_status(complaint=complaint, actor=bank_admin, status="waiting_customer")


def test_assign_by_the_branch_supervisor_to_branch_staff(customer, rm_a, rm_a2, rm_b, supervisor_a, supervisor_b):
    complaint = _open(customer, rm_a)
    with pytest.raises(PermissionDenied):
        complaint_assign(complaint=complaint, actor=supervisor_b, assignee=rm_b)
    with pytest.raises(PermissionDenied):
        complaint_assign(complaint=complaint, actor=rm_a, assignee=rm_a2)  # an RM does not reassign
    with pytest.raises(ValidationError) as refused:
        complaint_assign(complaint=complaint, actor=supervisor_a, assignee=rm_b)  # another branch's RM
    assert "assignee" in refused.value.message_dict
    assigned = complaint_assign(complaint=complaint, actor=supervisor_a, assignee=rm_a2, note="Card specialist")
    assert assigned.owner == rm_a2
    event = ComplaintEvent.objects.filter(complaint=complaint, kind="assigned").latest("id")
    assert (event.from_owner, event.to_owner, event.actor) == (rm_a, rm_a2, supervisor_a)
    assert Task.objects.filter(complaint=complaint, assignee=rm_a2).exists()
    assert Notification.objects.filter(recipient=rm_a2, kind=Notification.Kind.COMPLAINT_ASSIGNED).exists()


# --- hooks ------------------------------------------------------------------------------------------

def _stored(customer, kind, **fields):
    return NewInteraction(customer_id=customer.pk, channel=fields.pop("channel", "web"), kind=kind,
                          direction="inbound", occurred_at=T0, summary=fields.pop("summary", "Unhappy"), **fields)


def test_an_api_style_complaint_contact_opens_a_case_and_links_it(customer, rm_a):
    items = [
        _stored(customer, "complaint", summary="App logged me out mid-payment", channel="mobile",
                extra={"category": "digital", "severity": "high"}),
        _stored(customer, "complaint", summary="Queue too long", extra={"category": "nonsense", "severity": "x"}),
        _stored(customer, "enquiry"),
    ]
    rows = interactions_store(items=items)
    first, second = Complaint.objects.order_by("pk")
    assert (first.category, first.severity, first.channel, first.description) == (
        "digital", "high", "mobile", "App logged me out mid-payment")
    assert (first.owner, first.opened_by, first.opened_at) == (rm_a, None, T0)
    assert (second.category, second.severity) == ("other", "medium")
    linked = dict(Interaction.objects.values_list("pk", "complaint_id"))
    assert linked == {rows[0].pk: first.pk, rows[1].pk: second.pk, rows[2].pk: None}
    assert rows[0].complaint_id == first.pk
    # The caller's items are not written to: a retry of them after a rollback opens its case again.
    assert [new.complaint_id for new in items] == [None, None, None]


def test_a_complaint_contact_linked_already_opens_nothing(customer, rm_a):
    existing = _open(customer, rm_a)
    interactions_store(items=[_stored(customer, "complaint", complaint_id=existing.pk)])
    assert Complaint.objects.count() == 1


def test_a_batch_of_complaints_opens_one_case_each_in_few_queries(branch_a, rm_a, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(20, home_branch=branch_a, primary_rm=rm_a)
    items = [_stored(c, "complaint") for c in customers]
    with django_assert_max_num_queries(20 * 12 + 10):
        interactions_store(items=items)
    assert Complaint.objects.count() == 20
    assert Interaction.objects.filter(complaint__isnull=False).count() == 20


def test_feedback_on_a_product_goes_to_its_owner_with_a_clock(customer, rm_a, supervisor_b, settings):
    settings.CRM_FEEDBACK_RESPONSE_HOURS = 48
    product = ProductFactory(code="MORTGAGE", name="Mortgage", category="mortgage", owner=supervisor_b)
    unowned = ProductFactory(code="DEPOSIT", name="Deposit", category="deposit")
    stored = interaction_record(customer=customer, actor=rm_a, channel="branch", kind="feedback",
                                direction="inbound", occurred_at=T0, summary="Rate should be fixed longer",
                                product=product)
    interaction_record(customer=customer, actor=rm_a, channel="branch", kind="feedback", direction="inbound",
                       occurred_at=T0, summary="Fine", product=unowned)
    task = Task.objects.get(kind=Task.Kind.FEEDBACK_RESPONSE)
    assert (task.assignee, task.due_at, task.interaction_id, task.customer) == (
        supervisor_b, T0 + datetime.timedelta(hours=48), stored.pk, customer)
    assert Notification.objects.filter(recipient=supervisor_b, kind=Notification.Kind.FEEDBACK).count() == 1
    assert not Complaint.objects.exists()


def test_feedback_report_counts_answers_on_time_and_late(customer, rm_a, supervisor_a, bank_admin):
    from django.utils import timezone

    from channels.selectors.complaints import feedback_response_by_product
    from crm_bank.org.selectors import staff_profile_for_user

    product = ProductFactory(code="CARD", name="Gold card", category="card", owner=supervisor_a)
    for _ in range(4):
        interaction_record(customer=customer, actor=rm_a, channel="web", kind="feedback", direction="inbound",
                           occurred_at=T0, summary="Fees too high", product=product)
    first, second, third, _fourth = Task.objects.filter(kind=Task.Kind.FEEDBACK_RESPONSE).order_by("id")
    Task.objects.filter(pk=first.pk).update(status="done", done_at=first.due_at - datetime.timedelta(hours=1))
    Task.objects.filter(pk=second.pk).update(status="done", done_at=second.due_at + datetime.timedelta(hours=1))
    Task.objects.filter(pk=third.pk).update(due_at=timezone.now() + datetime.timedelta(days=1))
    (row,) = feedback_response_by_product(user=bank_admin, profile=staff_profile_for_user(bank_admin),
                                          since=T0 - datetime.timedelta(days=30), now=timezone.now())
    assert (row["interaction__product__name"], row["total"], row["on_time"], row["late"], row["overdue"],
            row["pending"]) == ("Gold card", 4, 1, 1, 1, 1)


def test_customer_complaint_summary_for_the_360_header(customer, rm_a, settings, django_assert_max_num_queries):
    from channels.selectors.complaints import CustomerComplaintSummary, customer_complaint_summary

    account_for(customer, balance=Decimal(settings.CRM_TOP_CUSTOMER_BALANCE))
    first = _open(customer, rm_a, severity="critical")
    _open(customer, rm_a, severity="low")
    with django_assert_max_num_queries(2):
        summary = customer_complaint_summary(customer_id=customer.pk, now=T0 + datetime.timedelta(hours=30))
    assert (summary.open_count, summary.soonest_due_at, summary.any_breached) == (2, first.sla_due_at, True)
    assert f"#{first.pk}" in summary.churn_reason
    other = CustomerFactory(home_branch=customer.home_branch)
    assert customer_complaint_summary(customer_id=other.pk) == CustomerComplaintSummary(0, None, False, None)


# --- tasks follow the case ---------------------------------------------------------------------------

def _action_tasks(complaint):
    return {(task.assignee_id, task.status, task.done_by_id)
            for task in Task.objects.filter(complaint=complaint, kind=Task.Kind.COMPLAINT_ACTION)}


def test_resolving_closes_the_resolvers_task_and_cancels_the_others(customer, rm_a, supervisor_a, settings):
    account_for(customer, balance=Decimal(settings.CRM_TOP_CUSTOMER_BALANCE))  # a churn-risk task too
    complaint = _open(customer, rm_a)
    complaint_update_status(complaint=complaint, actor=supervisor_a, status="resolved", resolution="Refunded")
    # The RM did not do it: their task is cancelled, nobody is recorded as having done it.
    assert _action_tasks(complaint) == {(rm_a.pk, "cancelled", None)}
    churn = Task.objects.get(customer=customer, kind=Task.Kind.CHURN_RISK)
    assert churn.status == "open"  # calling the customer is not part of resolving the case

    mine = _open(customer, rm_a, description="Card kept again")
    complaint_update_status(complaint=mine, actor=rm_a, status="resolved", resolution="Card returned")
    assert _action_tasks(mine) == {(rm_a.pk, "done", rm_a.pk)}


def test_assigning_moves_the_action_task(customer, rm_a, rm_a2, supervisor_a):
    complaint = _open(customer, rm_a)
    complaint_assign(complaint=complaint, actor=supervisor_a, assignee=rm_a2)
    assert _action_tasks(complaint) == {(rm_a.pk, "cancelled", None), (rm_a2.pk, "open", None)}
    assert AuditEvent.objects.filter(object_type="complaint", object_id=str(complaint.pk),
                                     detail__tasks_cancelled=1).exists()


def test_reopening_gives_the_owner_a_task_again(customer, rm_a):
    complaint = _open(customer, rm_a)
    complaint_update_status(complaint=complaint, actor=rm_a, status="resolved", resolution="Refunded",
                            at=T0 + datetime.timedelta(hours=1))
    reopened = complaint_update_status(complaint=complaint, actor=rm_a, status="in_progress",
                                       at=T0 + datetime.timedelta(hours=2))
    task = Task.objects.get(complaint=complaint, kind=Task.Kind.COMPLAINT_ACTION, status="open")
    assert (task.assignee, task.due_at) == (rm_a, reopened.next_escalation_at)
    complaint_update_status(complaint=complaint, actor=rm_a, status="resolved", resolution="Refunded again")
    assert not Task.objects.filter(complaint=complaint, status="open").exists()


def _resolve_then_deactivate(customer, owner):
    complaint = _open(customer, owner)
    complaint_update_status(complaint=complaint, actor=owner, status="resolved", resolution="Refunded",
                            at=T0 + datetime.timedelta(hours=1))
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)  # left the bank after the case was resolved
    return complaint


def test_reopening_a_case_whose_owner_left_gives_it_to_the_active_holder(customer, rm_a, supervisor_a):
    complaint = _resolve_then_deactivate(customer, rm_a)
    reopened = complaint_update_status(complaint=complaint, actor=supervisor_a, status="in_progress",
                                       at=T0 + datetime.timedelta(hours=2))
    assert (reopened.owner, reopened.level) == (supervisor_a, Level.BRANCH_SUPERVISOR)
    (task,) = Task.objects.filter(complaint=complaint, kind=Task.Kind.COMPLAINT_ACTION, status="open")
    assert task.assignee == supervisor_a
    event = ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.ASSIGNED).last()
    assert (event.from_owner, event.to_owner, event.level) == (rm_a, supervisor_a, Level.BRANCH_SUPERVISOR)
    assert Notification.objects.filter(recipient=supervisor_a, text__contains="its owner is no longer active").exists()
    assert AuditEvent.objects.filter(object_type="complaint", object_id=str(complaint.pk),
                                     detail__owner=[rm_a.pk, supervisor_a.pk]).exists()


def test_reopening_a_case_whose_owner_left_goes_to_the_customers_new_rm(customer, rm_a, rm_a2, supervisor_a):
    complaint = _resolve_then_deactivate(customer, rm_a)
    Customer.objects.filter(pk=customer.pk).update(primary_rm=rm_a2)  # the book went to rm_a2
    reopened = complaint_update_status(complaint=complaint, actor=supervisor_a, status="in_progress",
                                       at=T0 + datetime.timedelta(hours=2))
    assert (reopened.owner, reopened.level) == (rm_a2, Level.OWNER)
    assert list(Task.objects.filter(complaint=complaint, status="open").values_list("assignee", flat=True)) == [
        rm_a2.pk]


# --- the churn flag under concurrency ------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_complaints_at_once_raise_one_flag(customer, rm_a):
    """Two transactions raise the flag of a customer who has none: the second waits for the first
    and finds the flag up, instead of failing on the one-flag-per-customer constraint."""
    import threading

    from django.db import connection, transaction

    from channels.services.complaints import churn_flag_raise

    first_inserted, first_may_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                churn_flag_raise(customer=customer, complaint=None, reason="First complaint", at=T0)
                first_inserted.set()
                first_may_commit.wait(10)
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            errors.append(error)
            first_inserted.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            with transaction.atomic():
                churn_flag_raise(customer=customer, complaint=None, reason="Second complaint", at=T0)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    assert first_inserted.wait(10)
    two.start()
    two.join(0.5)  # the second is blocked on the first's uncommitted row
    first_may_commit.set()
    one.join(10)
    two.join(10)
    assert errors == []
    flag = ChurnFlag.objects.get(customer=customer)
    assert (flag.reason, flag.is_raised) == ("First complaint", True)
    assert Task.objects.filter(customer=customer, kind=Task.Kind.CHURN_RISK).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_complaint_sent_twice_at_once_opens_one_case(customer, rm_a):
    """Two requests of one double click race: the customer's row lock makes the second wait for the
    first's case and return it."""
    import threading

    from django.db import connection

    start = threading.Barrier(2)
    opened: list[int] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            start.wait(10)
            opened.append(_open(customer, rm_a).pk)
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(opened) == 2 and len(set(opened)) == 1
    assert Complaint.objects.count() == 1
    assert Task.objects.filter(kind=Task.Kind.COMPLAINT_ACTION).count() == 1
