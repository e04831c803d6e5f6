"""Break the glass: an RM outside the customer's branch unmasks for a stated reason, for a limited
time, within a daily limit; every grant and refusal is audited and supervisors see the report."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.org.models import StaffProfile
from customers.access import customer_get_for_user
from customers.models import UnmaskGrant
from customers.unmasking import unmask_grant
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import QUERY_BUDGET_360
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db

REASON = "Customer at my counter asks to change the phone number on record"


def _unmask(user, customer, **overrides):
    params = {"user": user, "customer_id": customer.pk, "reason": UnmaskGrant.Reason.CUSTOMER_PRESENT,
              "explanation": REASON, "ip_address": "10.0.0.9"}
    return unmask_grant(**{**params, **overrides})


def test_grant_unmasks_the_customer_for_its_minutes_then_masks_again(rm_b, customer_a, settings):
    settings.CRM_UNMASK_MINUTES = 15
    assert customer_get_for_user(user=rm_b, customer_id=customer_a.pk).masked
    with time_machine.travel(timezone.now(), tick=False) as clock:
        grant = _unmask(rm_b, customer_a)
        assert grant.expires_at - grant.granted_at == timedelta(minutes=15)
        access = customer_get_for_user(user=rm_b, customer_id=customer_a.pk)
        assert not access.masked and access.phone == "+420601123456" and access.unmask_grant == grant
        view = AuditEvent.objects.filter(actor=rm_b, action=AuditEvent.Action.VIEW).latest("id")
        assert view.outcome == AuditEvent.Outcome.ALLOWED and view.detail["unmask_grant"] == grant.pk
        clock.shift(timedelta(minutes=15, seconds=1))
        assert customer_get_for_user(user=rm_b, customer_id=customer_a.pk).masked
    row = AuditEvent.objects.get(action=AuditEvent.Action.UNMASK, actor=rm_b)
    assert row.outcome == AuditEvent.Outcome.ALLOWED and row.object_id == str(customer_a.pk)
    assert row.detail["reason"] == "present" and row.ip_address == "10.0.0.9"
    # The free-text explanation stays on the grant (which retention blanks), not in the append-only trail.
    assert "explanation" not in row.detail and REASON not in str(row.detail) and row.detail["grant"] == grant.pk


def test_grant_is_for_that_user_and_that_customer_only(rm_b, supervisor_b, customer_a, branch_a):
    other = CustomerFactory(home_branch=branch_a)
    _unmask(rm_b, customer_a)
    assert customer_get_for_user(user=supervisor_b, customer_id=customer_a.pk).masked
    assert customer_get_for_user(user=rm_b, customer_id=other.pk).masked


@pytest.mark.parametrize("explanation", ["", "   ", "need it", "x" * 19])
def test_short_or_missing_explanation_is_refused_and_nothing_written(rm_b, customer_a, explanation):
    with pytest.raises(ValidationError) as error:
        _unmask(rm_b, customer_a, explanation=explanation)
    assert "explanation" in error.value.message_dict
    assert not UnmaskGrant.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


def test_unknown_reason_is_refused(rm_b, customer_a):
    with pytest.raises(ValidationError):
        _unmask(rm_b, customer_a, reason="curious")
    assert not UnmaskGrant.objects.exists()


def test_analyst_and_compliance_may_not_break_the_glass_and_the_refusal_is_audited(analyst_b, customer_a):
    compliance = StaffProfileFactory(role=StaffProfile.Role.COMPLIANCE, branch=None).user
    for user in (analyst_b, compliance):
        with pytest.raises(PermissionDenied):
            _unmask(user, customer_a)
    assert not UnmaskGrant.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK, outcome=AuditEvent.Outcome.DENIED).count() == 2


def test_staff_who_see_the_customer_in_full_need_no_grant(rm_a2, customer_a):
    with pytest.raises(ValidationError, match="in full already"):
        _unmask(rm_a2, customer_a)


def test_open_grant_is_returned_not_extended(rm_b, customer_a):
    first = _unmask(rm_b, customer_a)
    assert _unmask(rm_b, customer_a) == first
    assert UnmaskGrant.objects.count() == 1


def test_daily_limit_refuses_the_next_grant_and_audits_the_refusal(rm_b, branch_a, settings):
    settings.CRM_UNMASK_DAILY_LIMIT = 3
    customers = CustomerFactory.create_batch(4, home_branch=branch_a)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for customer in customers[:3]:
            _unmask(rm_b, customer)
        with pytest.raises(ValidationError, match="most allowed"):
            _unmask(rm_b, customers[3])
        assert UnmaskGrant.objects.count() == 3
        assert AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK, outcome=AuditEvent.Outcome.DENIED,
                                         detail__refused="daily limit").count() == 1
        clock.shift(timedelta(hours=24, seconds=1))
        _unmask(rm_b, customers[3])
    assert UnmaskGrant.objects.count() == 4


def test_unmask_page_flow_opens_the_record_in_full(client, rm_b, customer_a, django_assert_max_num_queries):
    client.force_login(rm_b)
    page = client.get(reverse("customers:customer-detail", args=[customer_a.pk])).content.decode()
    assert 'id="unmask-link"' in page and "+420601123456" not in page
    form = client.get(reverse("customers:customer-unmask", args=[customer_a.pk]))
    assert form.status_code == 200 and 'id="unmask-form"' in form.content.decode()
    refused = client.post(reverse("customers:customer-unmask", args=[customer_a.pk]),
                          {"reason": "present", "explanation": "short"})
    assert refused.status_code == 400 and not UnmaskGrant.objects.exists()
    done = client.post(reverse("customers:customer-unmask", args=[customer_a.pk]),
                       {"reason": "present", "explanation": REASON})
    assert done.status_code == 302 and done["Location"] == reverse("customers:customer-detail", args=[customer_a.pk])
    with django_assert_max_num_queries(QUERY_BUDGET_360):
        page = client.get(reverse("customers:customer-detail", args=[customer_a.pk])).content.decode()
    assert "+420601123456" in page and 'id="unmasked-notice"' in page and 'id="unmask-link"' not in page


def test_unmask_page_is_not_offered_to_the_customers_own_branch(client, rm_a2, analyst_b, customer_a):
    detail = reverse("customers:customer-detail", args=[customer_a.pk])
    client.force_login(rm_a2)
    assert 'id="unmask-link"' not in client.get(detail).content.decode()
    assert client.get(reverse("customers:customer-unmask", args=[customer_a.pk])).status_code == 302
    client.force_login(analyst_b)
    assert 'id="unmask-link"' not in client.get(detail).content.decode()
    assert client.get(reverse("customers:customer-unmask", args=[customer_a.pk])).status_code == 403


def test_report_shows_supervisors_the_grants_touching_their_branch(
    client, rm_b, supervisor_a, supervisor_b, customer_a, branch_b, django_assert_max_num_queries,
):
    StaffProfileFactory(role=StaffProfile.Role.SUPERVISOR, branch__code="C03")
    unrelated_rm = StaffProfileFactory(role=StaffProfile.Role.RM, branch__code="D04").user
    _unmask(rm_b, customer_a)
    _unmask(unrelated_rm, CustomerFactory(home_branch=branch_b), explanation="Caller verified by security questions")
    report = reverse("customers:unmask-report")
    client.force_login(supervisor_a)  # the customer's branch: sees rm_b's grant only
    with django_assert_max_num_queries(8):
        page = client.get(report).content.decode()
    assert REASON in page and "security questions" not in page
    client.force_login(supervisor_b)  # rm_b's branch and the second customer's branch: both
    page = client.get(report).content.decode()
    assert REASON in page and "security questions" in page
    filtered = client.get(report, {"username": unrelated_rm.username}).content.decode()
    assert REASON not in filtered and "security questions" in filtered
    client.force_login(rm_b)
    assert client.get(report).status_code == 403


def test_report_date_filter(client, bank_admin, rm_b, customer_a):
    _unmask(rm_b, customer_a)
    client.force_login(bank_admin)
    today = timezone.localdate()
    assert REASON in client.get(reverse("customers:unmask-report"), {"since": today.isoformat()}).content.decode()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert REASON not in client.get(reverse("customers:unmask-report"), {"since": tomorrow}).content.decode()


def test_report_refuses_a_start_after_the_end(client, bank_admin, rm_b, customer_a):
    _unmask(rm_b, customer_a)
    client.force_login(bank_admin)
    page = client.get(reverse("customers:unmask-report"), {"since": "2026-11-30", "until": "2026-11-01"})
    body = page.content.decode()
    assert page.status_code == 200 and "The start date is after the end date." in body and REASON not in body
