"""Customer services: validation, history, audit, nothing written half-way."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm_bank.audit.models import AuditEvent
from customers.models import Customer, RMAssignment
from customers.services import customer_create, customer_rm_handover, customer_update

pytestmark = pytest.mark.django_db


def _create(actor, branch, **extra):
    fields = {"cif": "N000000001", "first_name": "Wei", "last_name": "Li", "home_branch": branch,
              "national_id_type": "CN_RIC", "national_id": "11010519491231002x", "phone": "+86 138 0013 8000"}
    return customer_create(actor=actor, **{**fields, **extra})


def test_customer_create_cleans_id_and_phone_and_audits(rm_a, branch_a):
    customer = _create(rm_a, branch_a, primary_rm=rm_a)
    assert customer.national_id == "11010519491231002X"
    assert customer.phone == "+8613800138000"
    assert (customer.name_key, customer.name_key_reversed) == ("wei li", "li wei")
    assert RMAssignment.objects.get(customer=customer).rm == rm_a
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE)
    assert event.actor == rm_a and "national_id" in event.detail["sensitive"]
    assert "11010519491231002X" not in str(event.detail)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("national_id", "110105194912310021", "not a valid"),
    ("phone", "601 123 456", "country code"),
])
def test_customer_create_refuses_bad_input_and_writes_nothing(rm_a, branch_a, field, value, message):
    with pytest.raises(ValidationError, match=message):
        _create(rm_a, branch_a, **{field: value})
    assert not Customer.objects.exists() and not AuditEvent.objects.exists()


def test_customer_create_refuses_duplicate_national_id(rm_a, branch_a):
    _create(rm_a, branch_a)
    with pytest.raises(ValidationError, match="already exists"):
        _create(rm_a, branch_a, cif="N000000002")
    assert Customer.objects.count() == 1


def test_customer_create_refuses_consent_with_do_not_contact(rm_a, branch_a):
    with pytest.raises(ValidationError, match="not to be contacted"):
        _create(rm_a, branch_a, marketing_consent=True, do_not_contact=True)


def test_customer_update_records_history_and_audit(rm_a, branch_a):
    customer = _create(rm_a, branch_a)
    customer_update(customer=customer, actor=rm_a, email="wei.li@example.cn", city="Beijing")
    latest = customer.history.order_by("-history_date").first()
    assert latest.email == "wei.li@example.cn" and latest.history_user == rm_a
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE).get()
    assert event.detail["fields"] == ["city", "email"] and event.detail["sensitive"] == ["email"]


def test_customer_update_without_change_writes_nothing(rm_a, branch_a):
    customer = _create(rm_a, branch_a)
    customer_update(customer=customer, actor=rm_a, city="")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE).exists()


def test_customer_update_refuses_rm_change_outside_handover(rm_a, rm_a2, branch_a):
    customer = _create(rm_a, branch_a, primary_rm=rm_a)
    with pytest.raises(ValidationError, match="hand-over"):
        customer_update(customer=customer, actor=rm_a, primary_rm=rm_a2)


def test_customer_rm_handover_keeps_full_history(rm_a, rm_a2, supervisor_a, branch_a):
    customer = _create(rm_a, branch_a, primary_rm=rm_a)
    customer_rm_handover(customer=customer, new_rm=rm_a2, actor=supervisor_a, reason="handover", note="Moving")
    history = list(RMAssignment.objects.filter(customer=customer).order_by("started_at"))
    assert [a.rm for a in history] == [rm_a, rm_a2]
    assert history[0].ended_at is not None and history[1].ended_at is None
    customer.refresh_from_db()
    assert customer.primary_rm == rm_a2
    with pytest.raises(ValidationError, match="already serves"):
        customer_rm_handover(customer=customer, new_rm=rm_a2, actor=supervisor_a, reason="handover")


def test_customer_update_stamps_every_consent_change(rm_a, branch_a):
    import datetime as dt

    import time_machine

    customer = _create(rm_a, branch_a)
    assert customer.marketing_consent_at is None
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        customer_update(customer=customer, actor=rm_a, marketing_consent=True)
    assert customer.marketing_consent_at == dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC), tick=False):
        customer_update(customer=customer, actor=rm_a, marketing_consent=False, do_not_contact=True)
    customer.refresh_from_db()
    assert customer.marketing_consent_at == dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC), tick=False):
        customer_update(customer=customer, actor=rm_a, city="Brno")  # no consent change: no new stamp
    customer.refresh_from_db()
    assert customer.marketing_consent_at == dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)


def test_customer_create_with_consent_stamps_it(rm_a, branch_a):
    customer = _create(rm_a, branch_a, marketing_consent=True)
    assert customer.marketing_consent_at is not None


def test_customer_services_refuse_unknown_fields_and_write_nothing(rm_a, branch_a, customer_a):
    with pytest.raises(TypeError, match="colour"):
        customer_update(customer=customer_a, actor=rm_a, colour="red")
    with pytest.raises(TypeError, match="cif_typo"):
        _create(rm_a, branch_a, cif_typo="X")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE).exists()
