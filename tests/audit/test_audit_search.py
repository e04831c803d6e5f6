"""The compliance officers' audit search: read-only, filtered on the trail's indexes, paged,
exported as neutralised CSV, every search on the trail itself; other roles are refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.core import checks
from django.urls import reverse
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from crm_bank.security.checks import audit_trail_kept_a_year
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db

SEARCH = reverse("audit:search")


@pytest.fixture
def compliance():
    return StaffProfileFactory(user__username="compliance_1", role=StaffProfile.Role.COMPLIANCE, branch=None).user


def _event(actor, **fields):
    values = {"action": AuditEvent.Action.VIEW, "outcome": AuditEvent.Outcome.ALLOWED, "object_type": "customer",
              "object_id": 1, "ip_address": "10.1.1.1"} | fields
    return audit_record(actor=actor, **values)


def test_compliance_searches_by_user_object_outcome_and_date(client, compliance, rm_a, rm_b,
                                                             django_assert_max_num_queries):
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        _event(rm_a, object_id=77, detail={"purpose": "360"})
    _event(rm_a, object_id=77, outcome=AuditEvent.Outcome.MASKED)
    _event(rm_b, object_id=78, outcome=AuditEvent.Outcome.DENIED, ip_address="10.9.9.9")
    client.force_login(compliance)
    with django_assert_max_num_queries(8):
        response = client.get(SEARCH, {"username": "rm_a"})
    rows = response.content.decode().count("<tr>\n    <td class=\"text-nowrap small\">")
    assert response.status_code == 200 and rows == 2
    page = client.get(SEARCH, {"object_type": "customer", "object_id": "78"}).content.decode()
    assert "10.9.9.9" in page and "customer:77" not in page
    page = client.get(SEARCH, {"outcome": "denied"}).content.decode()
    assert "customer:78" in page and "customer:77" not in page
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    page = client.get(SEARCH, {"username": "rm_a", "since": since}).content.decode()
    assert page.count("customer:77") == 1
    searches = AuditEvent.objects.filter(actor=compliance, object_type="audit_search")
    assert searches.count() == 4 and searches.filter(detail__username="rm_a", detail__since__isnull=False).exists()


def test_bad_search_input_is_a_form_error_not_a_crash(client, compliance):
    client.force_login(compliance)
    for params in ({"ip_address": "not-an-ip"}, {"since": "2026-13-45"}, {"action": "drop table"},
                   {"since": "2026-11-30", "until": "2026-11-01"}, {"page": "-3"}, {"page": "99999999999"},
                   {"until": "9999-12-31"}):  # the day after it cannot be written: it was a server error
        response = client.get(SEARCH, params)
        assert response.status_code == 200, params


def test_export_is_csv_neutralised_and_audited(client, compliance, rm_a):
    _event(rm_a, object_type="customer_search", object_id="", detail={"note": "=HYPERLINK(\"http://x\")"})
    client.force_login(compliance)
    response = client.get(SEARCH, {"username": "rm_a", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "occurred_at" and len(rows) == 2 and rows[1][1] == "rm_a"
    assert AuditEvent.objects.filter(actor=compliance, action=AuditEvent.Action.EXPORT,
                                     object_type="audit_search").exists()


@pytest.mark.parametrize("fixture", ["rm_a", "supervisor_a", "analyst_b"])
def test_other_roles_are_refused(client, request, fixture):
    client.force_login(request.getfixturevalue(fixture))
    assert client.get(SEARCH).status_code == 403


def test_admin_may_search_and_compliance_lands_on_the_search(client, bank_admin, compliance):
    client.force_login(bank_admin)
    assert client.get(SEARCH).status_code == 200
    client.force_login(compliance)
    assert client.get(reverse("home"))["Location"] == SEARCH


def test_retention_shorter_than_a_year_fails_the_system_check(settings):
    settings.CRM_AUDIT_RETENTION_MONTHS = 84
    assert audit_trail_kept_a_year(None) == []
    settings.CRM_AUDIT_RETENTION_MONTHS = 6
    assert [message.id for message in audit_trail_kept_a_year(None)] == ["security.E002"]
    assert any(m.id == "security.E002" for m in checks.run_checks(tags=[checks.Tags.security]))
