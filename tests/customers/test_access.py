"""The one access helper: who sees what of a customer, and the audit row every view leaves."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from crm_bank.audit.models import AuditEvent
from customers.access import customer_get_for_user

pytestmark = pytest.mark.django_db


def _last_audit() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()


@pytest.mark.parametrize("viewer", ["rm_a", "rm_a2", "supervisor_a", "bank_admin"])
def test_customer_get_for_user_shows_full_fields_to_own_branch_rm_and_admin(request, viewer, customer_a):
    user = request.getfixturevalue(viewer)
    access = customer_get_for_user(user=user, customer_id=customer_a.pk)
    assert access.full_access
    assert access.national_id == "7103192745"
    assert access.phone == "+420601123456"
    assert access.email == "jana.novakova@example.cz"
    assert access.address_line == "Vodickova 12"
    assert _last_audit().outcome == AuditEvent.Outcome.ALLOWED


@pytest.mark.parametrize("viewer", ["rm_b", "supervisor_b", "analyst_b"])
def test_customer_get_for_user_masks_sensitive_fields_for_other_branches(request, viewer, customer_a):
    user = request.getfixturevalue(viewer)
    access = customer_get_for_user(user=user, customer_id=customer_a.pk)
    assert not access.full_access and not access.may_see_money
    assert access.national_id == "********45"
    assert access.birth_date_text == "1971"
    assert "601123" not in access.phone and access.phone.startswith("+420")
    assert access.email == "j************@example.cz"
    assert "Vodickova" not in access.address_line
    # The bank-wide facts stay visible, so nobody treats the customer as new.
    assert access.customer.display_name == "Jana Novakova"
    assert access.customer.primary_rm.username == "rm_a"
    event = _last_audit()
    assert (event.outcome, event.actor, event.object_id) == (AuditEvent.Outcome.MASKED, user, str(customer_a.pk))


def test_customer_get_for_user_sees_in_full_when_rm_of_customer_at_another_branch(rm_b, customer_a):
    customer_a.primary_rm = rm_b
    customer_a.save(update_fields=["primary_rm"])
    assert customer_get_for_user(user=rm_b, customer_id=customer_a.pk).full_access


def test_customer_get_for_user_denies_user_without_staff_role_and_audits_it(no_role_user, customer_a):
    with pytest.raises(PermissionDenied):
        customer_get_for_user(user=no_role_user, customer_id=customer_a.pk)
    event = _last_audit()
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.actor == no_role_user and event.object_id == str(customer_a.pk)


def test_customer_get_for_user_denies_deactivated_staff(rm_a, customer_a):
    rm_a.is_active = False
    rm_a.save(update_fields=["is_active"])
    with pytest.raises(PermissionDenied):
        customer_get_for_user(user=rm_a, customer_id=customer_a.pk)
    assert _last_audit().outcome == AuditEvent.Outcome.DENIED


def test_customer_get_for_user_records_ip_and_purpose(rm_b, customer_a):
    http_request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3")
    customer_get_for_user(user=rm_b, customer_id=customer_a.pk, request=http_request, purpose="transactions")
    event = _last_audit()
    assert event.ip_address == "10.1.2.3"
    assert event.detail["purpose"] == "transactions"
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_customer_get_for_user_unknown_customer_is_404(rm_a):
    with pytest.raises(Http404):
        customer_get_for_user(user=rm_a, customer_id=987654321)
