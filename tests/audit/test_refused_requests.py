"""Every refused request is on the audit trail once: a role guard's 403, a failed CSRF check, the
channel API's 401 — and a view that records its own refusal is not recorded twice."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm_bank.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def refusals():
    return AuditEvent.objects.filter(outcome=AuditEvent.Outcome.DENIED)


def test_a_page_an_rms_role_does_not_open_is_refused_and_audited_with_the_route(client, rm_a):
    client.force_login(rm_a)

    response = client.get(reverse("segmentation:value"), REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 403
    refusal = refusals().get()
    assert (refusal.actor_id, refusal.action, refusal.object_type, refusal.object_id, refusal.ip_address) == (
        rm_a.pk, AuditEvent.Action.VIEW, "request", "segmentation:value", "192.0.2.10")
    assert refusal.detail == {"path": reverse("segmentation:value"), "method": "GET", "status": 403}


def test_a_view_that_audits_its_own_refusal_is_not_audited_a_second_time(client, no_role_user, customer_a):
    client.force_login(no_role_user)

    assert client.get(reverse("customers:customer-detail", args=[customer_a.pk])).status_code == 403

    refusal = refusals().get()
    assert (refusal.object_type, refusal.object_id, refusal.detail["reason"]) == (
        "customer", str(customer_a.pk), "no staff role")


def test_the_api_refusing_a_bad_token_is_audited_without_the_token(client):
    response = client.post(reverse("api:interaction-batch"), data="{}", content_type="application/json",
                           HTTP_AUTHORIZATION="Token not-a-real-token-5f2a")

    assert response.status_code == 401
    refusal = refusals().get()
    assert (refusal.actor_id, refusal.action, refusal.object_id) == (None, AuditEvent.Action.CHANGE,
                                                                     "api:interaction-batch")
    assert refusal.detail["status"] == 401 and "5f2a" not in json.dumps(refusal.detail)


def test_a_post_without_its_csrf_token_is_refused_and_audited(rm_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rm_a)

    response = browser.post(reverse("set_language"), {"language": "zh-hans"})

    assert response.status_code == 403
    refusal = refusals().get()
    assert (refusal.actor_id, refusal.action, refusal.detail["method"]) == (rm_a.pk, AuditEvent.Action.CHANGE, "POST")


def test_answered_requests_add_no_refusal(client, rm_a, customer_a):
    client.force_login(rm_a)

    assert client.get(reverse("customers:customer-detail", args=[customer_a.pk])).status_code == 200
    assert client.get("/no/such/page/").status_code == 404

    assert not refusals().exists()
