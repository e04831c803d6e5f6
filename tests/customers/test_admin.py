"""The customers admin: edits, reverts and hand-overs go through the services; views and searches are audited."""

from __future__ import annotations

import datetime
import json

import pytest
from django.forms import CheckboxInput, MultiWidget
from django.urls import reverse
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from customers.models import Customer, RMAssignment, SourceRecord, StandingOrder, Transaction
from customers.services import customer_update
from tests.customers.factories import account_for, transactions_for

pytestmark = pytest.mark.django_db


def _form_data(client, url: str, **changes: object) -> dict:
    """The POST a browser sends for the admin form at `url`, with `changes` applied (False unticks a box)."""
    form = client.get(url).context["adminform"].form
    data: dict[str, object] = {"holdings-TOTAL_FORMS": "0", "holdings-INITIAL_FORMS": "0"}
    for bound in form:
        value, widget = bound.value(), bound.field.widget
        if isinstance(widget, MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{bound.name}_{index}"] = "" if part is None else str(part)
        elif isinstance(widget, CheckboxInput):
            if value:
                data[bound.name] = "on"
        else:
            data[bound.name] = "" if value is None else str(value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def _change_url(customer: Customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def _customer_change(actor) -> AuditEvent:
    return AuditEvent.objects.get(action=AuditEvent.Action.CHANGE, object_type="customer", actor=actor)


def _view_events(actor) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(actor=actor, action=AuditEvent.Action.VIEW).order_by("id"))


# Opening records -------------------------------------------------------------------------------

def test_admin_opening_a_customer_is_audited(client, bank_admin, customer_a):
    client.force_login(bank_admin)
    assert client.get(_change_url(customer_a)).status_code == 200
    event = AuditEvent.objects.get(actor=bank_admin, action=AuditEvent.Action.VIEW)
    assert event.object_id == str(customer_a.pk) and event.detail["purpose"] == "admin"


def test_admin_customer_history_page_loads_and_is_audited(client, bank_admin, customer_a):
    client.force_login(bank_admin)
    assert client.get(reverse("admin:customers_customer_history", args=[customer_a.pk])).status_code == 200
    [event] = _view_events(bank_admin)
    assert (event.object_type, event.object_id, event.detail["purpose"]) == (
        "customer", str(customer_a.pk), "admin history")


def test_admin_customer_past_version_is_audited(client, bank_admin, customer_a):
    version = customer_a.history.get()
    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_simple_history", args=[customer_a.pk, version.history_id])
    assert client.get(url).status_code == 200
    [event] = _view_events(bank_admin)
    assert (event.object_type, event.object_id, event.outcome) == ("customer", str(customer_a.pk), "allowed")
    assert event.detail == {"purpose": "admin past version", "version": str(version.history_id)}


@pytest.mark.parametrize("object_type", ["account", "transaction", "source_record", "standing_order"])
def test_admin_opening_a_holding_transaction_or_source_record_is_audited_with_its_customer(
    client, bank_admin, customer_a, object_type,
):
    account = account_for(customer_a)
    transactions_for(account, 1)
    record = {
        "account": lambda: account,
        "transaction": lambda: Transaction.objects.get(account=account),
        "source_record": lambda: SourceRecord.objects.create(
            customer=customer_a, system_id=SourceRecord.System.BRANCH_ENTRY, external_id="BR-1"),
        "standing_order": lambda: StandingOrder.objects.create(
            account=account, counterparty_bank="0800", counterparty_account="19-2000145399", amount="1500.00",
            currency="CZK", source_ref="SO-1"),
    }[object_type]()
    client.force_login(bank_admin)
    url = reverse(f"admin:customers_{record._meta.model_name}_change", args=[record.pk])
    assert client.get(url).status_code == 200
    [event] = _view_events(bank_admin)
    assert (event.object_type, event.object_id, event.outcome) == (object_type, str(record.pk), "allowed")
    assert event.detail == {"purpose": "admin", "customers": [customer_a.pk]}


# Searches ----------------------------------------------------------------------------------------

@pytest.fixture
def searchable(customer_a):
    """customer_a with an account and a source record, and what each admin list can find them by."""
    account = account_for(customer_a)
    transactions_for(account, 1)
    source = SourceRecord.objects.create(customer=customer_a, system_id=SourceRecord.System.BRANCH_ENTRY,
                                         external_id="BR-778")
    return {"customer": customer_a, "account": account, "sourcerecord": source,
            "transaction": Transaction.objects.get(account=account)}


@pytest.mark.parametrize(("model", "query", "kind", "finds"), [
    ("customer", "+420601123456", "phone", True),
    ("customer", "7103192745", "national_id", True),
    ("customer", "{cif}", "cif", True),
    ("customer", "jana", "name", True),
    ("customer", "+420777000111", "phone", False),
    ("customer", "8001010006", "national_id", False),
    ("customer", "nobody", "name", False),
    ("customer", "12-34", "other", False),
    ("account", "{number}", "account_number", True),
    ("transaction", "{number}", "account_number", True),
    ("sourcerecord", "BR-778", "source_id", True),
    ("sourcerecord", "{cif}", "cif", True),
])
def test_admin_search_is_audited_with_the_kind_of_identifier_never_its_value(
    client, bank_admin, searchable, model, query, kind, finds,
):
    query = query.format(cif=searchable["customer"].cif, number=searchable["account"].number)
    client.force_login(bank_admin)
    response = client.get(reverse(f"admin:customers_{model}_changelist"), {"q": query})
    assert response.status_code == 200
    [event] = _view_events(bank_admin)
    assert event.detail["purpose"] == "admin search" and event.detail["kind"] == kind
    assert event.detail["found"] == ([searchable[model].pk] if finds else [])
    stored = json.dumps([event.object_type, event.object_id, event.detail])
    assert query not in stored and query.lstrip("+") not in stored


def test_admin_list_without_a_search_is_not_audited(client, bank_admin, customer_a):
    client.force_login(bank_admin)
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 200
    assert _view_events(bank_admin) == []


# Edits ------------------------------------------------------------------------------------------

def test_admin_customer_edit_goes_through_services_and_is_audited(client, bank_admin, customer_a):
    # A stored time with microseconds, which the admin's widgets drop: not a change of its own.
    Customer.objects.filter(pk=customer_a.pk).update(last_contact_at=timezone.now())
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    response = client.post(url, _form_data(client, url, city="Olomouc", phone="+420 601 999 888"))
    assert response.status_code == 302
    saved = Customer.objects.get(pk=customer_a.pk)
    assert (saved.city, saved.phone) == ("Olomouc", "+420601999888")
    event = _customer_change(bank_admin)
    assert event.detail["fields"] == ["city", "phone"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"phone": "601 123"}, "country code"),
    ({"national_id": "7103192746"}, "not a valid"),
    ({"primary_rm": ""}, "keeps an RM"),
    ({"marketing_consent": True, "do_not_contact": True}, "cannot give marketing consent"),
])
def test_admin_customer_bad_edit_is_a_form_error_and_changes_nothing(client, bank_admin, customer_a, changes, message):
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    response = client.post(url, _form_data(client, url, city="Nowhere", **changes))
    assert response.status_code == 200 and message in response.content.decode()
    saved = Customer.objects.get(pk=customer_a.pk)
    assert saved.city != "Nowhere" and saved.primary_rm_id == customer_a.primary_rm_id
    assert (saved.marketing_consent, saved.do_not_contact) == (False, False)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, object_type="customer").exists()


def test_admin_customer_consent_withdrawal_saves_and_is_audited(client, bank_admin, customer_a):
    given_at = datetime.datetime(2020, 1, 6, 9, 30, tzinfo=datetime.UTC)
    Customer.objects.filter(pk=customer_a.pk).update(
        marketing_consent=True, marketing_consent_at=given_at,
        marketing_consent_source=Customer.ConsentSource.BRANCH_FORM,
    )
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    before = timezone.now()
    response = client.post(url, _form_data(client, url, marketing_consent=False))
    assert response.status_code == 302
    saved = Customer.objects.get(pk=customer_a.pk)
    assert saved.marketing_consent is False and saved.do_not_contact is False
    assert saved.marketing_consent_at >= before  # the withdrawal is stamped, not the old grant kept
    event = _customer_change(bank_admin)
    assert event.detail["fields"] == ["marketing_consent", "marketing_consent_at"]
    assert saved.history.latest("history_date").history_user == bank_admin


def test_admin_customer_unticking_do_not_contact_saves(client, bank_admin, customer_a):
    Customer.objects.filter(pk=customer_a.pk).update(do_not_contact=True)
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    assert client.post(url, _form_data(client, url, do_not_contact=False)).status_code == 302
    assert Customer.objects.get(pk=customer_a.pk).do_not_contact is False
    assert _customer_change(bank_admin).detail["fields"] == ["do_not_contact"]


# Hand-overs and RM history ----------------------------------------------------------------------

def test_admin_customer_handover_to_an_active_rm_goes_through_the_service(client, bank_admin, customer_a, rm_a2):
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    assert client.post(url, _form_data(client, url, primary_rm=rm_a2.pk)).status_code == 302
    assert Customer.objects.get(pk=customer_a.pk).primary_rm == rm_a2
    current = RMAssignment.objects.get(customer=customer_a, ended_at__isnull=True)
    assert (current.rm, current.assigned_by, current.reason) == (rm_a2, bank_admin, RMAssignment.Reason.HANDOVER)


@pytest.mark.parametrize("who", ["inactive RM", "supervisor"])
def test_admin_customer_handover_to_an_inactive_rm_or_non_rm_is_a_form_error(
    client, bank_admin, customer_a, rm_a2, supervisor_a, who,
):
    new_rm = {"inactive RM": rm_a2, "supervisor": supervisor_a}[who]
    if who == "inactive RM":
        new_rm.is_active = False
        new_rm.save(update_fields=["is_active"])
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    response = client.post(url, _form_data(client, url, primary_rm=new_rm.pk))
    assert response.status_code == 200
    assert "Only an active relationship manager can take over a customer." in response.content.decode()
    assert Customer.objects.get(pk=customer_a.pk).primary_rm_id == customer_a.primary_rm_id
    assert not RMAssignment.objects.filter(rm=new_rm).exists()


def test_admin_customer_edit_keeps_an_rm_that_left_without_asking_for_a_handover(client, bank_admin, customer_a):
    """Only a change of RM is checked: other fields of a customer whose RM left can still be edited."""
    customer_a.primary_rm.is_active = False
    customer_a.primary_rm.save(update_fields=["is_active"])
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    assert client.post(url, _form_data(client, url, city="Kolin")).status_code == 302
    assert Customer.objects.get(pk=customer_a.pk).city == "Kolin"


def test_admin_rm_assignments_can_be_viewed_but_not_added_changed_or_deleted(client, bank_admin, customer_a, rm_a2):
    assignment = RMAssignment.objects.create(customer=customer_a, rm=customer_a.primary_rm,
                                             started_at=timezone.now(), reason=RMAssignment.Reason.ONBOARDING)
    client.force_login(bank_admin)
    change_url = reverse("admin:customers_rmassignment_change", args=[assignment.pk])
    assert client.get(reverse("admin:customers_rmassignment_changelist")).status_code == 200
    view = client.get(change_url)
    assert view.status_code == 200 and view.context["has_change_permission"] is False
    assert client.get(reverse("admin:customers_rmassignment_add")).status_code == 403
    assert client.post(change_url, {"rm": rm_a2.pk, "customer": customer_a.pk, "reason": "handover",
                                    "started_at_0": "2024-01-01", "started_at_1": "00:00:00"}).status_code == 403
    assert client.post(reverse("admin:customers_rmassignment_delete", args=[assignment.pk]),
                       {"post": "yes"}).status_code == 403
    assert RMAssignment.objects.get().rm == customer_a.primary_rm


# Revert -----------------------------------------------------------------------------------------

def test_admin_customer_revert_restores_the_version_through_the_service(client, bank_admin, rm_a, customer_a):
    customer_update(customer=customer_a, actor=rm_a, city="Brno", email="jana@example.org")
    first = customer_a.history.earliest("history_date")
    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_simple_history", args=[customer_a.pk, first.history_id])
    response = client.post(url, _form_data(client, url))
    assert response.status_code == 302
    saved = Customer.objects.get(pk=customer_a.pk)
    assert (saved.city, saved.email) == (first.city, "jana.novakova@example.cz")
    latest = saved.history.latest("history_date")
    assert (saved.history.count(), latest.history_user, latest.city) == (3, bank_admin, first.city)
    event = _customer_change(bank_admin)
    assert event.detail["fields"] == ["city", "email"] and event.object_id == str(customer_a.pk)


def test_admin_customer_revert_to_an_rm_who_left_is_a_form_error(client, bank_admin, customer_a, rm_a2):
    client.force_login(bank_admin)
    url = _change_url(customer_a)
    client.post(url, _form_data(client, url, primary_rm=rm_a2.pk))
    first = customer_a.history.earliest("history_date")
    customer_a.primary_rm.is_active = False
    customer_a.primary_rm.save(update_fields=["is_active"])
    url = reverse("admin:customers_customer_simple_history", args=[customer_a.pk, first.history_id])
    response = client.post(url, _form_data(client, url))
    assert response.status_code == 200 and "Only an active relationship manager" in response.content.decode()
    assert Customer.objects.get(pk=customer_a.pk).primary_rm == rm_a2


def test_admin_customer_add_goes_through_the_service(client, bank_admin, branch_a, rm_a):
    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_add")
    data = _form_data(client, url, cif="A000000001", first_name="Petr", last_name="Dvorak", home_branch=branch_a.pk,
                      primary_rm=rm_a.pk, national_id_type="CZ_RC", national_id="800101/0006",
                      phone="+420 602 000 111")
    assert client.post(url, data).status_code == 302
    created = Customer.objects.get(cif="A000000001")
    assert (created.national_id, created.phone, created.name_key) == ("8001010006", "+420602000111", "petr dvorak")
    assert (created.marketing_consent, created.do_not_contact) == (False, False)
    assert RMAssignment.objects.get(customer=created).rm == rm_a
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_type="customer")
    assert (event.actor, event.object_id) == (bank_admin, str(created.pk))


@pytest.mark.parametrize("model_name", ["account", "transaction", "standingorder", "sourcerecord"])
def test_admin_source_system_records_are_view_only(client, bank_admin, customer_a, model_name):
    """Holdings and source rows come from the source systems: an admin edit would bypass every
    service and its audit row, so the admin shows them and offers no save."""
    from customers.models import SourceRecord, StandingOrder, Transaction
    from tests.customers.factories import account_for, transactions_for

    account = account_for(customer_a)
    transactions_for(account, 1)
    objects = {
        "account": account, "transaction": Transaction.objects.get(account=account),
        "standingorder": StandingOrder.objects.create(account=account, counterparty_bank="AB",
                                                      counterparty_account="1", amount=1, currency="CZK",
                                                      source_ref="so-1"),
        "sourcerecord": SourceRecord.objects.create(customer=customer_a, system_id="branch", external_id="x1"),
    }
    obj = objects[model_name]
    client.force_login(bank_admin)
    url = reverse(f"admin:customers_{model_name}_change", args=[obj.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(url, {}).status_code == 403
