"""RM continuity: book transfer, the deactivation guard, the ownership-conflict guard."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import BookTransfer, Complaint, Interaction, Notification, Task
from channels.services.continuity import (
    MATCH_NAME_BIRTH,
    MATCH_NATIONAL_ID,
    MATCH_PHONE,
    book_transfer,
    customer_ownership_conflicts,
    prospect_create,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.org.services import user_deactivate, user_deactivation_refusals
from customers.models import Customer, RMAssignment
from customers.selectors import customer_rm_history
from customers.services import customer_create
from tests.customers.factories import CustomerFactory, account_for

pytestmark = pytest.mark.django_db
Reason = BookTransfer.Reason


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

