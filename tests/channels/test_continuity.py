"""RM continuity: book transfer, the deactivation guard, the ownership-conflict guard."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import BookTransfer, Complaint, ComplaintEvent, Interaction, Notification, Task
from channels.services.continuity import (
    MATCH_NAME_BIRTH,
    MATCH_NATIONAL_ID,
    MATCH_PHONE,
    book_transfer,
    customer_ownership_conflicts,
    prospect_create,
)
from channels.services.work import kyc_refresh_tasks_create
from crm_bank.audit.models import AuditEvent
from crm_bank.org.services import user_deactivate, user_deactivation_refusals
from customers.models import Customer, RMAssignment
from customers.selectors import customer_rm_history
from customers.services import customer_create
from tests.customers.factories import CustomerFactory, account_for
from tests.org.factories import StaffProfileFactory
from tests.query_plans import plan_of

pytestmark = pytest.mark.django_db
Reason = BookTransfer.Reason


@pytest.fixture
def product_owner(branch_a):
    return StaffProfileFactory(user__username="product_owner", branch=None).user


def book_of(rm, branch, n: int) -> list[Customer]:
    """`n` customers of `rm`, each with their first RM assignment (as customer_create writes it)."""
    return [customer_create(actor=None, cif=f"T{rm.pk}{i:05d}", first_name=f"Name{i}", last_name="Book",
                            home_branch=branch, primary_rm=rm) for i in range(n)]


def test_book_transfer_moves_all_and_keeps_both_names_in_the_history(supervisor_a, rm_a, rm_a2, branch_a):
    customers = book_of(rm_a, branch_a, 3)
    transfer = book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.STAFF_LEFT,
                             note="Li Wei leaves on Friday; call the Novaks first.")
    assert transfer.customers_moved == 3 and transfer.branch_id == branch_a.pk
    assert set(Customer.objects.filter(primary_rm=rm_a2).values_list("pk", flat=True)) == {c.pk for c in customers}
    assert not Customer.objects.filter(primary_rm=rm_a).exists()
    history = customer_rm_history(customer_id=customers[0].pk)
    assert [period.rm_name for period in history] == [rm_a2.first_name + " " + rm_a2.last_name,
                                                      rm_a.first_name + " " + rm_a.last_name]
    current, previous = RMAssignment.objects.filter(customer=customers[0]).order_by("-started_at")
    assert current.ended_at is None and current.reason == RMAssignment.Reason.STAFF_LEFT
    assert current.assigned_by == supervisor_a and "Novaks" in current.note
    assert previous.rm == rm_a and previous.ended_at == current.started_at
    # Field history records the change of RM by the supervisor, as a single hand-over would.
    latest = Customer.history.filter(id=customers[0].pk).order_by("-history_date").first()
    assert latest.primary_rm_id == rm_a2.pk and latest.history_user_id == supervisor_a.pk


def test_book_transfer_moves_only_the_chosen_customers(supervisor_a, rm_a, rm_a2, branch_a):
    customers = book_of(rm_a, branch_a, 4)
    book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.REBALANCING, note="Balance",
                  customer_ids=[customers[1].pk, customers[3].pk])
    assert set(Customer.objects.filter(primary_rm=rm_a2).values_list("pk", flat=True)) == {
        customers[1].pk, customers[3].pk}
    assert Customer.objects.filter(primary_rm=rm_a).count() == 2
    assert Task.objects.filter(assignee=rm_a2, kind=Task.Kind.INTRODUCTION).count() == 2
    assert RMAssignment.objects.filter(customer=customers[0], ended_at__isnull=True).get().rm == rm_a


def test_book_transfer_gives_introduction_tasks_with_the_digest_and_one_notification(
    supervisor_a, rm_a, rm_a2, branch_a,
):
    customer = book_of(rm_a, branch_a, 1)[0]
    account_for(customer, balance=Decimal("2500.50"))
    Interaction.objects.create(
        customer=customer, channel="call_centre", kind=Interaction.Kind.ENQUIRY, direction="inbound",
        occurred_at=timezone.now() - datetime.timedelta(days=3), summary="Asked about mortgage rates",
    )
    Complaint.objects.create(
        customer=customer, channel="branch", category=Complaint.Category.FEES, description="Fee", branch=branch_a,
        opened_at=timezone.now(), sla_due_at=timezone.now() + datetime.timedelta(days=2),
    )
    book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.HANDOVER, note="Prefers mornings")
    task = Task.objects.get(assignee=rm_a2, customer=customer)
    assert task.kind == Task.Kind.INTRODUCTION and task.status == Task.Status.OPEN
    assert "Name0 Book" in task.title
    for expected in ("1 active account", "Current account", "2,500.50", "Asked about mortgage rates",
                     "Open complaints: 1", "Hand-over note: Prefers mornings", f"Previous RM: {rm_a.first_name}"):
        assert expected in task.detail
    notification = Notification.objects.get(recipient=rm_a2)
    assert notification.kind == Notification.Kind.BOOK_TRANSFER and "1 customer" in notification.text
    assert AuditEvent.objects.filter(object_type="book_transfer").count() == 1
    assert AuditEvent.objects.filter(object_type="customer", object_id=str(customer.pk),
                                     detail__handover_to=rm_a2.pk).exists()


def complaint_of(customer, *, owner, level=Complaint.Level.OWNER, status=Complaint.Status.OPEN) -> Complaint:
    return Complaint.objects.create(
        customer=customer, channel="branch", category=Complaint.Category.FEES, description="Fee",
        branch=customer.home_branch, owner=owner, level=level, status=status, opened_at=timezone.now(),
        sla_due_at=timezone.now() + datetime.timedelta(days=2),
    )


def test_book_transfer_hands_over_the_old_rms_open_tasks_and_open_complaints(
    supervisor_a, rm_a, rm_a2, branch_a, product_owner,
):
    moved, stays = book_of(rm_a, branch_a, 2)
    moved.kyc_review_due = timezone.localdate() + datetime.timedelta(days=10)
    moved.save(update_fields=["kyc_review_due"])
    kyc_refresh_tasks_create()
    due = timezone.now() + datetime.timedelta(days=1)

    def task(kind, customer=moved, assignee=rm_a, **fields) -> Task:
        return Task.objects.create(assignee=assignee, customer=customer, kind=kind, title=kind, due_at=due, **fields)

    handed_over = [task(Task.Kind.FOLLOW_UP), task(Task.Kind.CHURN_RISK), task(Task.Kind.COMPLAINT_ACTION)]
    kept = [task(Task.Kind.FOLLOW_UP, status=Task.Status.DONE), task(Task.Kind.FOLLOW_UP, customer=stays),
            task(Task.Kind.FEEDBACK_RESPONSE)]
    someone_elses = task(Task.Kind.FOLLOW_UP, assignee=supervisor_a)
    feedback_of_the_owner = task(Task.Kind.FEEDBACK_RESPONSE, assignee=product_owner)
    case = complaint_of(moved, owner=rm_a)
    # Handed down to the RM by the regional head: it moves and keeps its level, with its task.
    handed_down = complaint_of(moved, owner=rm_a, level=Complaint.Level.REGIONAL_HEAD)
    handed_over.append(task(Task.Kind.COMPLAINT_ACTION, complaint=handed_down))
    escalated = complaint_of(moved, owner=supervisor_a, level=Complaint.Level.BRANCH_SUPERVISOR)
    resolved = complaint_of(moved, owner=rm_a, status=Complaint.Status.RESOLVED)
    not_moved = complaint_of(stays, owner=rm_a)

    transfer = book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.STAFF_LEFT,
                             note="Leaves on Friday", customer_ids=[moved.pk])

    kyc = Task.objects.get(kind=Task.Kind.KYC_REFRESH)
    assert kyc.assignee == rm_a2 and kyc.customer == moved
    for row in handed_over:
        row.refresh_from_db()
        assert row.assignee == rm_a2 and row.status == Task.Status.OPEN
    assert all(row.assignee_id == rm_a.pk for row in Task.objects.filter(pk__in=[row.pk for row in kept]))
    assert Task.objects.get(pk=someone_elses.pk).assignee == supervisor_a
    assert Task.objects.get(pk=feedback_of_the_owner.pk).assignee == product_owner
    cases = {pk: (owner, level) for pk, owner, level in Complaint.objects.values_list("pk", "owner_id", "level")}
    assert cases == {case.pk: (rm_a2.pk, 0), handed_down.pk: (rm_a2.pk, Complaint.Level.REGIONAL_HEAD),
                     escalated.pk: (supervisor_a.pk, 1), resolved.pk: (rm_a.pk, 0), not_moved.pk: (rm_a.pk, 0)}
    events = ComplaintEvent.objects.filter(kind=ComplaintEvent.Kind.ASSIGNED).order_by("complaint_id")
    assert [(e.complaint_id, e.from_owner, e.to_owner, e.actor, e.level) for e in events] == [
        (case.pk, rm_a, rm_a2, supervisor_a, Complaint.Level.OWNER),
        (handed_down.pk, rm_a, rm_a2, supervisor_a, Complaint.Level.REGIONAL_HEAD)]
    audit = AuditEvent.objects.get(object_type="book_transfer", object_id=str(transfer.pk))
    # KYC, follow-up, churn, the two complaint actions
    assert (audit.detail["tasks"], audit.detail["complaints"]) == (5, 2)
    assert AuditEvent.objects.filter(object_type="complaint", object_id=str(case.pk),
                                     detail__owner=[rm_a.pk, rm_a2.pk]).exists()
    # The hourly job finds the review's task (now the new RM's) and creates no second one.
    assert kyc_refresh_tasks_create() == 0
    assert Task.objects.filter(kind=Task.Kind.KYC_REFRESH).count() == 1



def test_a_one_customer_hand_over_moves_the_previous_rms_work_like_a_book_transfer(bank_admin, rm_a, rm_a2,
                                                                                    branch_a):
    """The admin's hand-over of one customer left the KYC task (and its dedupe key) with the old RM,
    and the new RM had no introduction."""
    from customers.services import customer_rm_handover

    moved, _stays = book_of(rm_a, branch_a, 2)
    moved.kyc_review_due = timezone.localdate() + datetime.timedelta(days=10)
    moved.save(update_fields=["kyc_review_due"])
    kyc_refresh_tasks_create()
    case = complaint_of(moved, owner=rm_a)

    customer_rm_handover(customer=Customer.objects.get(pk=moved.pk), new_rm=rm_a2, actor=bank_admin,
                         reason="handover", note="Moved to the family team")

    assert Task.objects.get(kind=Task.Kind.KYC_REFRESH).assignee == rm_a2
    assert Complaint.objects.get(pk=case.pk).owner == rm_a2
    event = ComplaintEvent.objects.get(complaint=case, kind=ComplaintEvent.Kind.ASSIGNED)
    assert (event.from_owner, event.to_owner, event.actor, event.note) == (rm_a, rm_a2, bank_admin, "RM hand-over")
    introduction = Task.objects.get(kind=Task.Kind.INTRODUCTION)
    assert introduction.assignee == rm_a2 and introduction.customer_id == moved.pk
    assert "Moved to the family team" in introduction.detail
    assert kyc_refresh_tasks_create() == 0

def test_a_refused_book_transfer_hands_over_no_task_and_no_complaint(supervisor_a, rm_a, rm_a2, branch_a):
    customers = book_of(rm_a, branch_a, 2)
    follow_up = Task.objects.create(assignee=rm_a, customer=customers[0], kind=Task.Kind.FOLLOW_UP, title="Call",
                                    due_at=timezone.now())
    case = complaint_of(customers[0], owner=rm_a)
    other = CustomerFactory(home_branch=branch_a, primary_rm=rm_a2)
    with pytest.raises(ValidationError):
        book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.HANDOVER, note="n",
                      customer_ids=[customers[0].pk, other.pk])
    follow_up.refresh_from_db()
    case.refresh_from_db()
    assert follow_up.assignee == rm_a and case.owner == rm_a and not ComplaintEvent.objects.exists()


@pytest.mark.parametrize("target", ["rm_b", "inactive", "same", "supervisor"])
def test_book_transfer_refuses_a_bad_target_and_writes_nothing(
    target, supervisor_a, rm_a, rm_a2, rm_b, branch_a,
):
    customers = book_of(rm_a, branch_a, 2)
    to_rm = {"rm_b": rm_b, "same": rm_a, "supervisor": supervisor_a, "inactive": rm_a2}[target]
    if target == "inactive":
        rm_a2.is_active = False
        rm_a2.save(update_fields=["is_active"])
    expected = {"rm_b": "another branch", "same": "already belong", "supervisor": "not a relationship manager",
                "inactive": "no longer active"}[target]
    with pytest.raises(ValidationError) as refused:
        book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=to_rm, reason=Reason.HANDOVER, note="x")
    assert expected in refused.value.message_dict["to_rm"][0]
    assert Customer.objects.filter(primary_rm=rm_a).count() == 2
    assert RMAssignment.objects.filter(customer__in=customers).count() == 2
    assert not Task.objects.exists() and not BookTransfer.objects.exists() and not Notification.objects.exists()


def test_book_transfer_refuses_a_missing_note_and_a_stale_selection(supervisor_a, rm_a, rm_a2, branch_a):
    customers = book_of(rm_a, branch_a, 2)
    with pytest.raises(ValidationError) as refused:
        book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.HANDOVER, note="  ")
    assert "note" in refused.value.message_dict
    other = CustomerFactory(home_branch=branch_a, primary_rm=rm_a2)
    with pytest.raises(ValidationError) as refused:
        book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.HANDOVER, note="n",
                      customer_ids=[customers[0].pk, other.pk])
    assert "no longer in this RM's book" in refused.value.message_dict["customers"][0]
    assert Customer.objects.filter(primary_rm=rm_a).count() == 2 and not Task.objects.exists()


def test_book_transfer_by_another_branch_supervisor_or_an_rm_is_denied(supervisor_b, rm_a, rm_a2, branch_a):
    book_of(rm_a, branch_a, 1)
    for actor in (supervisor_b, rm_a2):
        with pytest.raises(PermissionDenied):
            book_transfer(actor=actor, from_rm=rm_a, to_rm=rm_a2, reason=Reason.HANDOVER, note="n")
    assert Customer.objects.filter(primary_rm=rm_a).count() == 1


def test_book_transfer_of_two_thousand_customers_takes_a_few_statements(supervisor_a, rm_a, rm_a2, branch_a):
    Customer.objects.bulk_create([
        Customer(cif=f"BULK{i:06d}", first_name=f"N{i}", last_name="Bulk", name_key=f"n{i} bulk",
                 name_key_reversed=f"bulk n{i}", home_branch=branch_a, primary_rm=rm_a)
        for i in range(2000)
    ])
    with CaptureQueriesContext(connection) as queries:
        transfer = book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.REBALANCING,
                                 note="Two thousand")
    assert transfer.customers_moved == 2000
    assert Task.objects.filter(assignee=rm_a2).count() == 2000
    assert RMAssignment.objects.filter(rm=rm_a2, ended_at__isnull=True).count() == 2000
    # Independent of the book's size: validation, lock, two assignment statements, customers and
    # their history, the digest, two task batches, the transfer, the notification, the audit rows.
    assert len(queries.captured_queries) <= 25


# The deactivation guard

def test_deactivating_an_rm_with_customers_is_refused_until_the_book_is_transferred(
    supervisor_a, rm_a, rm_a2, branch_a,
):
    book_of(rm_a, branch_a, 2)
    refusals = user_deactivation_refusals(user=rm_a)
    assert len(refusals) == 1 and "2 customers" in refusals[0] and "transfer the book" in refusals[0]
    with pytest.raises(ValidationError):
        user_deactivate(user=rm_a, actor=supervisor_a)
    rm_a.refresh_from_db()
    assert rm_a.is_active
    book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.STAFF_LEFT, note="Leaving")
    user_deactivate(user=rm_a, actor=supervisor_a)
    rm_a.refresh_from_db()
    assert not rm_a.is_active
    assert AuditEvent.objects.filter(object_type="user", object_id=str(rm_a.pk)).exists()


def test_deactivating_staff_who_own_open_complaints_is_refused_until_they_are_reassigned(
    supervisor_a, rm_a, rm_a2, branch_a,
):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a2)
    case = complaint_of(customer, owner=rm_a, level=Complaint.Level.REGIONAL_HEAD)  # handed down to rm_a
    complaint_of(customer, owner=rm_a, status=Complaint.Status.RESOLVED)  # not open: no reason to keep them
    (refusal,) = user_deactivation_refusals(user=rm_a)
    assert "still owns 1 open complaint: reassign it first." in refusal and "RM of" not in refusal
    with pytest.raises(ValidationError):
        user_deactivate(user=rm_a, actor=supervisor_a)
    rm_a.refresh_from_db()
    assert rm_a.is_active
    Complaint.objects.filter(pk=case.pk).update(owner=rm_a2)
    user_deactivate(user=rm_a, actor=supervisor_a)
    rm_a.refresh_from_db()
    assert not rm_a.is_active


def test_deactivation_refusal_names_both_the_book_and_the_complaints(rm_a, branch_a):
    customers = book_of(rm_a, branch_a, 2)
    complaint_of(customers[0], owner=rm_a)
    complaint_of(customers[1], owner=rm_a, status=Complaint.Status.IN_PROGRESS)
    (refusal,) = user_deactivation_refusals(user=rm_a)
    assert "still the RM of 2 customers" in refusal and "still owns 2 open complaints: reassign them first." in refusal


def test_book_transfer_to_an_rm_deactivated_meanwhile_is_refused(supervisor_a, rm_a, rm_a2, branch_a):
    """The form checked the RM while still active; the deactivation came in before the transfer."""
    book_of(rm_a, branch_a, 2)
    type(rm_a2).objects.filter(pk=rm_a2.pk).update(is_active=False)  # rm_a2 here is the stale instance
    with pytest.raises(ValidationError) as refused:
        book_transfer(actor=supervisor_a, from_rm=rm_a, to_rm=rm_a2, reason=Reason.STAFF_LEFT, note="Leaving")
    assert "no longer active" in str(refused.value.message_dict["to_rm"])
    assert Customer.objects.filter(primary_rm=rm_a).count() == 2 and not BookTransfer.objects.exists()


def test_admin_user_page_refuses_to_untick_active_for_an_rm_with_customers(client, bank_admin, rm_a, branch_a):
    book_of(rm_a, branch_a, 1)
    client.force_login(bank_admin)
    url = f"/admin/auth/user/{rm_a.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update({"is_active": "", "date_joined_0": form.initial["date_joined"].strftime("%Y-%m-%d"),
                 "date_joined_1": form.initial["date_joined"].strftime("%H:%M:%S"), "groups": [],
                 "user_permissions": []})
    data.pop("date_joined")
    data.pop("last_login", None)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "still the RM of 1 customer" in response.content.decode()
    rm_a.refresh_from_db()
    assert rm_a.is_active


def test_admin_deactivate_action_skips_an_rm_with_customers(client, bank_admin, rm_a, rm_a2, branch_a):
    book_of(rm_a, branch_a, 1)
    client.force_login(bank_admin)
    response = client.post("/admin/auth/user/", {"action": "deactivate_users", "_selected_action": [rm_a.pk, rm_a2.pk]},
                           follow=True)
    assert "still the RM of 1 customer" in response.content.decode()
    rm_a.refresh_from_db()
    rm_a2.refresh_from_db()
    assert rm_a.is_active and not rm_a2.is_active


# The ownership-conflict guard

@pytest.mark.parametrize(("fields", "rule"), [
    ({"national_id": "7103192745"}, MATCH_NATIONAL_ID),
    ({"phone": "+420601123456"}, MATCH_PHONE),
    ({"first_name": "jana", "last_name": "NOVAKOVA", "birth_date": datetime.date(1971, 3, 19)}, MATCH_NAME_BIRTH),
])
def test_ownership_conflict_by_each_rule(fields, rule, customer_a, rm_b):
    customer_a.customer_since = datetime.date(2009, 5, 4)
    customer_a.last_contact_at = datetime.datetime(2026, 10, 1, 9, tzinfo=datetime.UTC)
    customer_a.save(update_fields=["customer_since", "last_contact_at"])
    (conflict,) = customer_ownership_conflicts(user=rm_b, **fields)
    assert conflict.customer_id == customer_a.pk and conflict.matched_by == [rule]
    assert conflict.rm_name == customer_a.rm_name and conflict.branch == str(customer_a.home_branch)
    assert conflict.customer_since == "2009"  # another branch's RM sees the year only
    assert conflict.last_contact_at == customer_a.last_contact_at
    assert AuditEvent.objects.filter(object_type="ownership_check", detail__identifier_kinds__contains=[rule]).exists()


@pytest.mark.parametrize(("existing", "typed"), [
    (("Jana", "Novakova"), ("Jana", "Nováková")),  # diacritics typed, none stored
    (("伟", "李"), ("Wei", "Li")),  # pinyin typed for a name stored in characters
    (("Jan", "Novák-Dvořák"), (" jan ", "NOVAK DVORAK")),
])
def test_ownership_conflict_by_name_compares_the_transliterated_search_key(existing, typed, rm_b, branch_a):
    born = datetime.date(1971, 3, 19)
    customer = customer_create(actor=None, cif="NK1", first_name=existing[0], last_name=existing[1],
                               birth_date=born, home_branch=branch_a)
    (conflict,) = customer_ownership_conflicts(user=rm_b, first_name=typed[0], last_name=typed[1], birth_date=born)
    assert conflict.customer_id == customer.pk and conflict.matched_by == [MATCH_NAME_BIRTH]
    assert customer_ownership_conflicts(user=rm_b, first_name=typed[0], last_name=typed[1],
                                        birth_date=born + datetime.timedelta(days=1)) == []


def test_ownership_conflict_is_one_index_look_up_per_rule(customer_a, rm_b):
    """No OR across columns: each rule reads its own index (with sequential scans ruled out, the
    plan still needs no scan of the customers), the three joined by a UNION."""
    CustomerFactory.create_batch(30, home_branch=customer_a.home_branch, birth_date=datetime.date(1980, 1, 1))
    with CaptureQueriesContext(connection) as queries:
        (conflict,) = customer_ownership_conflicts(
            user=rm_b, national_id="7103192745", phone="+420601123456", first_name="Jana", last_name="Novakova",
            birth_date=datetime.date(1971, 3, 19))
    assert conflict.matched_by == [MATCH_NATIONAL_ID, MATCH_PHONE, MATCH_NAME_BIRTH]
    (sql,) = [query["sql"] for query in queries.captured_queries if "customers_customer" in query["sql"]]
    plan = plan_of(sql, allow_sorts=True)
    for index in ("customer_national_id_idx", "customer_phone_idx", "customer_birth_name_idx"):
        assert index in plan, plan
    assert "Seq Scan on customers_customer" not in plan and " OR " not in sql and "UPPER(" not in sql


def test_ownership_conflict_shows_the_full_date_to_the_customers_branch(customer_a, rm_a2):
    customer_a.customer_since = datetime.date(2009, 5, 4)
    customer_a.save(update_fields=["customer_since"])
    (conflict,) = customer_ownership_conflicts(user=rm_a2, national_id="7103192745")
    assert conflict.customer_since == datetime.date(2009, 5, 4)


def test_no_conflict_for_a_new_person(customer_a, rm_b):
    assert customer_ownership_conflicts(user=rm_b, national_id="8001010009", phone="+420777000111",
                                        first_name="Jana", last_name="Novakova",
                                        birth_date=datetime.date(1980, 1, 1)) == []
    assert customer_ownership_conflicts(user=rm_b) == []


def test_prospect_is_saved_only_when_the_user_confirms(customer_a, rm_b, branch_b):
    fields = {"first_name": "Jana", "last_name": "Novakova", "phone": "+420 601 123 456", "home_branch": branch_b,
              "kind": Customer.Kind.INDIVIDUAL}
    created, conflicts = prospect_create(actor=rm_b, **fields)
    assert created is None and conflicts[0].customer_id == customer_a.pk
    assert Customer.objects.count() == 1
    created, _ = prospect_create(actor=rm_b, confirmed=True, **fields)
    assert created.lifecycle_stage == Customer.Lifecycle.PROSPECT and created.primary_rm == rm_b
    assert RMAssignment.objects.filter(customer=created, rm=rm_b).exists()


def test_prospect_of_a_new_person_is_saved_at_once_without_rm_for_a_supervisor(supervisor_a, branch_a):
    created, conflicts = prospect_create(actor=supervisor_a, first_name="Petr", last_name="Novy",
                                         home_branch=branch_a, kind=Customer.Kind.INDIVIDUAL)
    assert conflicts == [] and created.pk and created.primary_rm is None and created.cif.startswith("P")

