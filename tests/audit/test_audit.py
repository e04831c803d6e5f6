"""The audit table is append-only at the database level, and the admin only browses it."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, transaction

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(rm_a):
    return audit_record(actor=rm_a, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                        object_type="customer", object_id=1)


def test_audit_event_refuses_update_in_the_database(event):
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome=AuditEvent.Outcome.DENIED)
    event.refresh_from_db()
    assert event.outcome == AuditEvent.Outcome.ALLOWED


def test_audit_event_refuses_delete_in_the_database(event):
    with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_event_refuses_raw_sql_update(event):
    from django.db import connection

    refused = pytest.raises(ProgrammingError, match="Cannot update or delete")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET outcome = 'denied' WHERE id = %s", [event.pk])


def test_audit_admin_is_a_read_only_browser(client, bank_admin, event):
    client.force_login(bank_admin)
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and b"rm_a" in listing.content
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    change = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"outcome": "denied"})
    assert change.status_code in (302, 403)
    event.refresh_from_db()
    assert event.outcome == AuditEvent.Outcome.ALLOWED


def test_request_ip_takes_the_address_the_trusted_proxy_saw(settings):
    from django.test import RequestFactory

    from crm_bank.audit.services import request_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    settings.CRM_TRUSTED_PROXIES = 0
    assert request_ip(request) == "10.0.0.5"
    settings.CRM_TRUSTED_PROXIES = 1
    assert request_ip(request) == "198.51.100.7"  # the client-written 6.6.6.6 is not trusted
