"""Targets: who may set which, the four eyes on branch targets, bad values, the targets page and the
CSV import with per-line errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from performance.models import Kpi, KpiTarget
from performance.services import target_approve, target_set

pytestmark = pytest.mark.django_db
PERIOD = "2026-12"


@pytest.fixture
def kpi():
    return Kpi.objects.get(code="campaign-conversion")


def test_a_supervisor_sets_their_rms_target_at_once_and_it_is_audited(supervisor_a, rm_a, kpi):
    target = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="12.5", rm=rm_a)
    assert (target.status, target.value, target.set_by) == ("approved", Decimal("12.5"), supervisor_a)
    assert AuditEvent.objects.filter(object_type="kpi_target", object_id=str(target.pk), actor=supervisor_a).exists()


def test_targets_of_another_branch_or_by_an_rm_are_refused_and_audited(supervisor_a, rm_a, rm_b, branch_b, kpi):
    with pytest.raises(PermissionDenied):
        target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="10", rm=rm_b)
    with pytest.raises(PermissionDenied):
        target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="10", branch=branch_b)
    with pytest.raises(PermissionDenied):
        target_set(actor=rm_a, kpi=kpi, period=PERIOD, value="10", rm=rm_a)
    assert not KpiTarget.objects.exists()
    assert AuditEvent.objects.filter(object_type="kpi_target", outcome=AuditEvent.Outcome.DENIED).count() == 3


@pytest.mark.parametrize(("value", "period", "message"), [
    ("lots", PERIOD, "as a number"), ("120", PERIOD, "from 0 to 100"), ("-1", PERIOD, "from 0 to 100"),
    ("NaN", PERIOD, "as a number"), ("10", "2026-13", "a month"),
])
def test_bad_target_values_and_periods_are_refused(supervisor_a, rm_a, kpi, value, period, message):
    with pytest.raises(ValidationError, match=message):
        target_set(actor=supervisor_a, kpi=kpi, period=period, value=value, rm=rm_a)
    assert not KpiTarget.objects.exists()


def test_a_branch_target_waits_for_another_approver_who_read_its_value(supervisor_a, bank_admin, branch_a, kpi):
    target = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="10", branch=branch_a)
    assert target.status == "proposed"
    with pytest.raises(PermissionDenied):
        target_approve(actor=supervisor_a, target=target, value=Decimal("10"))  # not who set it
    with pytest.raises(ValidationError, match="changed since you read it"):
        target_approve(actor=bank_admin, target=target, value=Decimal("9"))
    approved = target_approve(actor=bank_admin, target=target, value=Decimal("10"))
    assert (approved.status, approved.approved_by) == ("approved", bank_admin)
    changed = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="11", branch=branch_a)
    assert changed.status == "proposed" and changed.approved_by is None  # a change waits again


def test_the_targets_page_sets_a_target_and_shows_the_grid(client, supervisor_a, rm_a, rm_a2, kpi, branch_b,
                                                           django_assert_max_num_queries):
    client.force_login(supervisor_a)
    url = reverse("performance:targets") + f"?period={PERIOD}"
    response = client.post(url, {"action": "set", "period": PERIOD, "kpi": kpi.pk, "who": "rm_a", "value": "15"},
                           follow=True)
    assert "Target saved." in response.content.decode()
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    row = page.split(f'data-kpi="{kpi.code}"')[1].split("</tr>")[0]
    assert ">15<" in row and 'id="target-form"' in page
    bad = client.post(url, {"action": "set", "period": PERIOD, "kpi": kpi.pk, "who": "rm_a", "value": "250"},
                      follow=True).content.decode()
    assert "from 0 to 100" in bad
    assert client.get(reverse("performance:targets") + f"?branch={branch_b.code}").status_code == 200  # own only
    assert "A01" in client.get(reverse("performance:targets") + f"?branch={branch_b.code}").content.decode()


def test_an_rm_cannot_open_the_targets_page(client, rm_a):
    client.force_login(rm_a)
    assert client.get(reverse("performance:targets")).status_code == 403


def test_the_csv_import_sets_good_lines_and_reports_each_bad_one(client, supervisor_a, rm_a, rm_b, kpi):
    content = (
        b"kpi,period,rm,branch,value\n"
        b"campaign-conversion,2026-12,rm_a,,20\n"  # 2: set
        b"campaign-conversion,2026-12,,A01,18\n"  # 3: proposed (a branch target)
        b"no-such-kpi,2026-12,rm_a,,5\n"  # 4: unknown KPI
        b"campaign-conversion,2026-12,rm_b,,5\n"  # 5: another branch's RM
        b"campaign-conversion,2026-12,ghost,,5\n"  # 6: no such user
        b"new-customers,2026-12,rm_a,,-3\n"  # 7: negative count
        b"campaign-conversion,2026-12,rm_a,A01,5\n"  # 8: both
    )
    client.force_login(supervisor_a)
    page = client.post(reverse("performance:targets") + f"?period={PERIOD}", {
        "action": "import", "period": PERIOD, "file": SimpleUploadedFile("targets.csv", content, "text/csv")},
        follow=True).content.decode()
    assert "1 targets set, 1 branch targets waiting for approval, 5 lines refused." in page
    errors = page.split('id="import-errors"')[1].split("</table>")[0]
    for line, reason in ((4, "Unknown or inactive KPI"), (5, "your own branch"), (6, "No user"),
                         (7, "cannot be negative"), (8, "not both or neither")):
        assert f'<td class="num">{line}</td>' in errors and reason in errors
    assert KpiTarget.objects.get(rm=rm_a, kpi=kpi, period=PERIOD).value == Decimal("20")
    assert KpiTarget.objects.filter(period=PERIOD).count() == 2
    # The refused line is in the audit trail (its row was rolled back with the line's savepoint).
    denied = AuditEvent.objects.get(object_type="kpi_target", outcome=AuditEvent.Outcome.DENIED)
    assert denied.actor == supervisor_a and denied.detail["rm"] == rm_b.pk


def test_a_file_over_the_limit_is_refused_by_its_size_before_it_is_read(client, supervisor_a, monkeypatch):
    from performance import views

    def read_everything(*args, **kwargs):
        raise AssertionError("the import read a file over the limit")

    monkeypatch.setattr(views, "targets_import", read_everything)
    client.force_login(supervisor_a)
    big = SimpleUploadedFile("t.csv", b"kpi,period,rm,branch,value\n" + b"x" * (2 * 1024 * 1024), "text/csv")
    response = client.post(reverse("performance:targets"), {"action": "import", "period": PERIOD, "file": big})

    assert response.status_code == 200 and "The file is larger than 2 MB." in response.content.decode()
    assert not KpiTarget.objects.exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"action": "set", "kpi": "new-customers", "who": "rm_a", "value": "1e15"}, "must be below"),
    ({"action": "approve", "target": "abc", "value": "1"}, None),  # 404: no such target
])
def test_bad_target_input_is_a_message_or_a_404_not_a_server_error(client, supervisor_a, rm_a, kpi, data, message):
    client.force_login(supervisor_a)
    if data.get("kpi"):
        data = {**data, "kpi": Kpi.objects.get(code=data["kpi"]).pk}
    response = client.post(reverse("performance:targets") + f"?period={PERIOD}", {"period": PERIOD, **data})

    if message:
        assert response.status_code == 200 and message in response.content.decode()
    else:
        assert response.status_code == 404
    assert not KpiTarget.objects.exists()


@pytest.mark.parametrize("period", ["0000-01", "9999-12", "0000-Q1"])
def test_a_period_outside_the_calendar_is_refused_like_any_malformed_one(period):
    from performance.measures import PeriodInvalid, period_days

    with pytest.raises(PeriodInvalid):
        period_days(period)


def test_a_file_that_is_not_a_target_file_is_refused_whole(client, supervisor_a):
    client.force_login(supervisor_a)
    for content in (b"\xff\xfe\x00bad", b"name,amount\nx,1\n"):
        page = client.post(reverse("performance:targets"), {
            "action": "import", "period": PERIOD, "file": SimpleUploadedFile("t.csv", content, "text/csv")},
            follow=True).content.decode()
        assert "UTF-8" in page or "The header must name" in page
    assert not KpiTarget.objects.exists()


def test_a_target_set_on_the_page_is_audited_with_the_address_the_trusted_proxy_saw(client, settings, supervisor_a,
                                                                                    rm_a, kpi):
    from crm_bank.audit.models import AuditEvent

    settings.CRM_TRUSTED_PROXIES = 1
    client.force_login(supervisor_a)
    client.post(reverse("performance:targets") + f"?period={PERIOD}",
                {"action": "set", "period": PERIOD, "kpi": kpi.pk, "who": "rm_a", "value": "15"},
                REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert AuditEvent.objects.get(object_type="kpi_target").ip_address == "198.51.100.7"


@pytest.mark.parametrize(("content", "message"), [
    (b'kpi,period,rm,branch,value\ncampaign-conversion,2026-12,"' + b"x" * 200_000 + b"\n", "cannot be read as CSV"),
    (b"kpi,period,rm,branch,value\ncampaign-conversion,2026-12,rm\x00a,,5\n", "NUL characters"),
])
def test_a_malformed_csv_is_refused_whole_not_a_server_error(client, supervisor_a, content, message):
    client.force_login(supervisor_a)
    page = client.post(reverse("performance:targets"), {
        "action": "import", "period": PERIOD, "file": SimpleUploadedFile("t.csv", content, "text/csv")},
        follow=True)

    assert page.status_code == 200 and message in page.content.decode()
    assert not KpiTarget.objects.exists()


def test_the_newest_period_is_the_one_that_ends_last_months_and_quarters_mixed(db):
    from crm_bank.runs.models import Run
    from performance.runs import KPI_RUN
    from performance.selectors import kpi_periods

    for period in ("2026-Q3", "2026-11", "2026-10", "2026-Q4", "2025-12"):
        Run.objects.create(kind=KPI_RUN, status=Run.Status.SUCCEEDED, params={"period": period})

    # As text, "2026-Q3" sorted first and became every page's default period.
    assert kpi_periods() == ["2026-Q4", "2026-11", "2026-10", "2026-Q3", "2025-12"]



def test_the_targets_page_shows_the_value_in_force_beside_a_change_waiting(client, supervisor_a, bank_admin, kpi,
                                                                           branch_a):
    target = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="18", branch=branch_a)
    target_approve(actor=bank_admin, target=target, value=Decimal("18"))
    target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="9", branch=branch_a)
    client.force_login(supervisor_a)

    page = client.get(reverse("performance:targets"), {"period": PERIOD}).content.decode()

    assert 'data-in-force="18' in page and "18 in force until approved" in page
