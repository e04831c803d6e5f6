"""The retention run, with frozen time: customers whose relationship closed more than
CRM_RETENTION_YEARS ago lose every personal field, payload, history value and free text; their
accounts, transactions and the audit trail stay; a repeat does nothing; a chunk that fails writes
nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from channels.models import Interaction
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.runs.models import Run
from customers import retention
from customers.models import Account, Customer, SourceRecord, SourceSystem, Transaction
from customers.retention import anonymisation_run_start
from customers.services import customer_update
from tests.customers.factories import CustomerFactory, account_for

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
YEARS_AGO = {n: TODAY - dt.timedelta(days=365 * n + 2) for n in (3, 6, 10)}


def _closed_customer(branch, *, closed_years_ago: int, **fields) -> Customer:
    with time_machine.travel(YEARS_AGO[10], tick=False):
        customer = CustomerFactory(home_branch=branch, national_id_type="CZ_RC", **fields)
    account = account_for(customer, status=Account.Status.CLOSED,
                          closed_on=YEARS_AGO[closed_years_ago].date(), number=f"CZ65080000001920{customer.pk:08d}")
    Transaction.objects.create(account=account, booked_at=YEARS_AGO[closed_years_ago], amount=Decimal("250.00"),
                               direction="credit", kind="transfer", counterparty_account="123456789",
                               counterparty_bank="0800")
    Interaction.objects.create(customer=customer, channel="branch", kind="enquiry", direction="inbound",
                               occurred_at=YEARS_AGO[closed_years_ago],
                               summary=f"Asked about closing; lives at {customer.address_line}")
    SourceRecord.objects.create(customer=customer, system=SourceSystem.objects.get_or_create(
        code="core", defaults={"name": "Core"})[0], external_id=f"K{customer.pk}",
        payload={"name": customer.display_name, "phone": customer.phone})
    Customer.objects.filter(pk=customer.pk).update(lifecycle_stage=Customer.Lifecycle.CLOSED,
                                                   last_contact_at=YEARS_AGO[closed_years_ago])
    return customer


@pytest.fixture
def gone(branch_a, rm_a):
    customer = _closed_customer(branch_a, closed_years_ago=6, first_name="Jana", last_name="Novakova",
                                national_id="7103192745", phone="+420601123456", email="jana@example.cz",
                                address_line="Vodickova 12", birth_date=dt.date(1971, 3, 19))
    with time_machine.travel(YEARS_AGO[10], tick=False):
        customer_update(customer=Customer.objects.get(pk=customer.pk), actor=rm_a, phone="+420602000111")
    audit_record(actor=rm_a, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="customer", object_id=customer.pk)
    return customer


def test_customer_closed_six_years_ago_is_anonymised_and_aggregates_stay(gone, branch_a, settings):
    settings.CRM_RETENTION_YEARS = 5
    recent = _closed_customer(branch_a, closed_years_ago=3, first_name="Petr", last_name="Recent")
    active = CustomerFactory(home_branch=branch_a, first_name="Eva", last_name="Active")
    audit_before = set(AuditEvent.objects.values_list("pk", flat=True))
    with time_machine.travel(TODAY, tick=False):
        run = anonymisation_run_start(sync=True)
    assert run.status == Run.Status.SUCCEEDED and run.metrics["anonymised"] == 1
    assert run.metrics["closed_before"] == "2021-11-30"
    customer = Customer.objects.get(pk=gone.pk)
    assert customer.anonymised_at is not None and customer.cif == gone.cif
    for field in ("first_name", "last_name", "national_id", "phone", "email", "address_line", "name_key"):
        assert getattr(customer, field) == "", field
    assert customer.birth_date is None and customer.legal_name == "Anonymised" and customer.do_not_contact
    history = customer.history.all()
    assert history.count() >= 2 and not history.exclude(phone="").exists() and not history.exclude(first_name="")
    assert SourceRecord.objects.get(customer=customer).payload == {"anonymised": True}
    assert Interaction.objects.get(customer=customer).summary == ""
    account = Account.objects.get(holders=customer)
    assert account.number == f"ANON-{account.pk}"
    txn = Transaction.objects.get(account=account)
    assert txn.amount == Decimal("250.00") and txn.counterparty_account == ""
    # The trail: every earlier row stays, one more per anonymised customer.
    assert audit_before <= set(AuditEvent.objects.values_list("pk", flat=True))
    assert AuditEvent.objects.filter(detail__anonymised=True).count() == 1
    assert AuditEvent.objects.filter(object_type="customer", object_id=str(gone.pk), detail__anonymised=True).exists()
    assert Customer.objects.get(pk=recent.pk).first_name == "Petr"
    assert Customer.objects.get(pk=active.pk).last_name == "Active"



def test_a_record_merged_into_the_anonymised_customer_is_anonymised_with_it(gone, branch_a, settings):
    """The tombstone of a merge keeps the person's data of before it: names, ID, phone, its history."""
    settings.CRM_RETENTION_YEARS = 5
    with time_machine.travel(YEARS_AGO[10], tick=False):
        tombstone = CustomerFactory(home_branch=branch_a, first_name="Jana", last_name="Novakova-Old",
                                    phone="+420603999888", national_id_type="CZ_RC")
    Customer.objects.filter(pk=tombstone.pk).update(merged_into=gone, lifecycle_stage=Customer.Lifecycle.CLOSED)

    with time_machine.travel(TODAY, tick=False):
        run = anonymisation_run_start(sync=True)

    assert run.metrics["anonymised"] == 1  # customers, as before: the tombstone goes with its record
    old = Customer.objects.get(pk=tombstone.pk)
    assert (old.first_name, old.last_name, old.phone, old.national_id) == ("", "", "", "")
    assert old.anonymised_at is not None and old.merged_into_id == gone.pk
    assert not old.history.exclude(phone="").exists()
    assert AuditEvent.objects.filter(object_type="customer", object_id=str(tombstone.pk),
                                     detail__anonymised=True).exists()

def test_a_second_run_finds_nothing_to_do(gone):
    with time_machine.travel(TODAY, tick=False):
        assert anonymisation_run_start(sync=True).metrics["anonymised"] == 1
        stamped = Customer.objects.get(pk=gone.pk).anonymised_at
        again = anonymisation_run_start(sync=True)
    assert again.metrics["anonymised"] == 0 and Customer.objects.get(pk=gone.pk).anonymised_at == stamped


def test_open_account_or_recent_contact_keeps_the_customer(gone):
    account_for(gone)  # a new, open account
    with time_machine.travel(TODAY, tick=False):
        assert anonymisation_run_start(sync=True).metrics["anonymised"] == 0
    assert Customer.objects.get(pk=gone.pk).first_name == "Jana"


def test_longer_retention_keeps_the_customer(gone, settings):
    settings.CRM_RETENTION_YEARS = 7
    with time_machine.travel(TODAY, tick=False):
        assert anonymisation_run_start(sync=True).metrics["anonymised"] == 0


def test_a_failing_step_leaves_the_chunk_untouched(gone, monkeypatch):
    def broken(cursor, ids):
        raise RuntimeError("disk full")

    monkeypatch.setitem(retention._ERASERS, "broken", broken)
    with time_machine.travel(TODAY, tick=False):
        run = anonymisation_run_start(sync=True)
    assert run.status == Run.Status.FAILED and "disk full" in run.error
    customer = Customer.objects.get(pk=gone.pk)
    assert customer.first_name == "Jana" and customer.anonymised_at is None
    assert Interaction.objects.get(customer=customer).summary.startswith("Asked about closing")


def test_the_360_page_says_the_record_was_anonymised(client, gone, bank_admin):
    with time_machine.travel(TODAY, tick=False):
        anonymisation_run_start(sync=True)
    client.force_login(bank_admin)
    page = client.get(reverse("customers:customer-detail", args=[gone.pk])).content.decode()
    assert 'id="anonymised-notice"' in page and "Novakova" not in page and "7103192745" not in page


def test_tasks_notifications_held_items_standing_orders_and_unmask_reasons_lose_what_names_the_customer(
        gone, rm_a, branch_a):
    from channels.models import ChannelSystem, HeldInteraction, Notification, Task
    from customers.models import StandingOrder, UnmaskGrant

    other = CustomerFactory(home_branch=branch_a, first_name="Eva", last_name="Active")
    due = YEARS_AGO[6]
    Task.objects.create(assignee=rm_a, customer=gone, kind=Task.Kind.CHURN_RISK, due_at=due,
                        title="Jana Novakova may leave the bank: call them", detail="Closing everything")
    for customer in (gone, other):
        Notification.objects.create(recipient=rm_a, customer=customer, kind=Notification.Kind.CHURN_RISK,
                                    text=f"{customer.display_name}: closing everything")
    system = ChannelSystem.objects.create(code="web", name="Web")
    HeldInteraction.objects.create(system=system, source_id="w-1", customer_ref=gone.cif, payload_hash="x",
                                   payload={"customer": gone.cif, "summary": "Jana Novakova, new address"},
                                   note="Jana's old number")
    StandingOrder.objects.create(account=Account.objects.get(holders=gone), counterparty_bank="0100",
                                 counterparty_account="987654321", amount=Decimal("900.00"), currency="CZK",
                                 purpose="rent", source_ref=f"so-{gone.pk}")
    UnmaskGrant.objects.create(user=rm_a, customer=gone, reason=UnmaskGrant.Reason.OTHER,
                               explanation="Jana Novakova called from her sister's phone", granted_at=due,
                               expires_at=due + dt.timedelta(minutes=15))

    with time_machine.travel(TODAY, tick=False):
        assert anonymisation_run_start(sync=True).metrics["anonymised"] == 1

    task = Task.objects.get(customer=gone)
    assert (task.title, task.detail, task.kind) == ("Customer at risk of leaving", "", Task.Kind.CHURN_RISK)
    assert Notification.objects.get(customer=gone).text == "Churn risk raised"
    assert Notification.objects.get(customer=other).text == "Eva Active: closing everything"
    held = HeldInteraction.objects.get(source_id="w-1")
    assert (held.payload, held.note) == ({"anonymised": True}, "")
    order = StandingOrder.objects.get(source_ref=f"so-{gone.pk}")
    assert (order.counterparty_account, order.amount, order.purpose) == ("", Decimal("900.00"), "rent")
    grant = UnmaskGrant.objects.get(customer=gone)
    assert (grant.explanation, grant.reason) == ("", UnmaskGrant.Reason.OTHER)


def test_notifications_from_before_they_named_their_customer_get_it_from_their_link(gone, rm_a):
    """The migration that added Notification.customer: a 360° page's or a complaint's link names it."""
    import importlib

    from django.db import connection

    from channels.models import Complaint, Notification

    migration = importlib.import_module("channels.migrations.0005_notification_customer")
    complaint = Complaint.objects.create(customer=gone, branch=gone.home_branch, owner=rm_a, channel="branch",
                                         category="fees", severity="low", description="Charged twice",
                                         opened_at=YEARS_AGO[6], sla_due_at=YEARS_AGO[6])
    by_page = Notification.objects.create(recipient=rm_a, kind="churn_risk", text="x", url=f"/customers/{gone.pk}/")
    by_case = Notification.objects.create(recipient=rm_a, kind="complaint_assigned", text="y",
                                          url=f"/channels/complaints/{complaint.pk}/")
    unknown = Notification.objects.create(recipient=rm_a, kind="churn_risk", text="z", url="/customers/99999999/")
    transfer = Notification.objects.create(recipient=rm_a, kind="book_transfer", text="w", url="/channels/tasks/")

    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)

    assert [Notification.objects.get(pk=n.pk).customer_id for n in (by_page, by_case, unknown, transfer)] == [
        gone.pk, gone.pk, None, None]
