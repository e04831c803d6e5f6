"""The scorecards and the league table: who sees which, what they show, query budgets; Run KPIs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm_bank.runs.models import Run
from performance.models import Kpi
from performance.runs import KPI_RUN, kpi_run_start
from performance.services import target_set
from tests.performance.conftest import PERIOD

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 14


@pytest.fixture
def published(kpi_bank, supervisor_a, rm_a):
    target_set(actor=supervisor_a, kpi=Kpi.objects.get(code="new-customers"), period=PERIOD, value="4", rm=rm_a)
    kpi_run_start(period="2026-09", sync=True)
    return kpi_run_start(period=PERIOD, sync=True)


def test_the_rm_sees_their_scorecard_with_actual_target_achievement_and_trend(
    client, published, rm_a, django_assert_max_num_queries,
):
    client.force_login(rm_a)
    assert client.get(reverse("performance:index")).url == reverse("performance:rm", args=["rm_a"])
    with django_assert_max_num_queries(QUERY_BUDGET):
        page = client.get(reverse("performance:rm", args=["rm_a"])).content.decode()
    row = page.split('data-kpi="new-customers"')[1].split("</tr>")[0]
    assert 'data-field="actual">2<' in row and 'data-field="target">4<' in row and "50.0%" in row
    assert row.startswith(' class="table-warning"')  # a miss is marked
    assert 'data-values=",,,,1.0000,2.0000"' in row  # September 1, October 2, no runs before
    assert f"/performance/rm/rm_a/customers/new-customers/?period={PERIOD}" in row
    assert 'id="kpi-score">100.0<' not in page and 'id="kpi-score">50.0<' in page
    assert "Period 2026-10 · KPI run #" in page


def test_an_rm_cannot_see_another_rms_or_a_branch_scorecard(client, published, rm_a, rm_a2, branch_a):
    client.force_login(rm_a2)
    assert client.get(reverse("performance:rm", args=["rm_a"])).status_code == 403
    assert client.get(reverse("performance:branch", args=[branch_a.code])).status_code == 403


def test_a_supervisor_sees_their_branch_and_its_rms_but_not_another_branch(
    client, published, supervisor_a, branch_a, branch_b, rm_b, django_assert_max_num_queries,
):
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(QUERY_BUDGET):
        page = client.get(reverse("performance:branch", args=[branch_a.code])).content.decode()
    assert 'data-kpi="new-customers"' in page and 'data-rm="rm_a"' in page and 'data-rm="rm_a2"' in page
    assert client.get(reverse("performance:rm", args=["rm_a"])).status_code == 200
    assert client.get(reverse("performance:branch", args=[branch_b.code])).status_code == 403
    assert client.get(reverse("performance:rm", args=["rm_b"])).status_code == 403
    league = client.get(reverse("performance:index")).content.decode()
    assert f'data-branch="{branch_a.code}"' in league and 'id="kpi-run-form"' not in league


def test_head_office_sees_every_period_and_refuses_an_unknown_one(client, published, analyst_b, branch_a):
    client.force_login(analyst_b)
    page = client.get(reverse("performance:index") + "?period=2026-09").content.decode()
    assert '<option value="2026-09" selected>' in page and 'id="branch-league"' in page
    assert client.get(reverse("performance:branch", args=[branch_a.code]) + "?period=2026-09").status_code == 200
    assert client.get(reverse("performance:index") + "?period=2020-01").status_code == 404
    assert client.get(reverse("performance:rm", args=["analyst_b"])).status_code == 404  # not an RM


def test_before_any_run_the_pages_say_so(client, db, analyst_b, rm_a):
    client.force_login(analyst_b)
    assert 'id="no-kpi-run"' in client.get(reverse("performance:index")).content.decode()
    client.force_login(rm_a)
    assert 'id="no-kpi-run"' in client.get(reverse("performance:rm", args=["rm_a"])).content.decode()


def test_run_kpis_queues_a_run_for_head_office_only_and_refuses_a_bad_period(
    client, kpi_bank, analyst_b, supervisor_a, django_capture_on_commit_callbacks,
):
    client.force_login(supervisor_a)
    assert client.post(reverse("performance:run-start"), {"period": PERIOD}).status_code == 403
    client.force_login(analyst_b)
    bad = client.post(reverse("performance:run-start"), {"period": "October"}, follow=True).content.decode()
    assert "A period is a month" in bad and not Run.objects.filter(kind=KPI_RUN).exists()
    with django_capture_on_commit_callbacks(execute=False):
        page = client.post(reverse("performance:run-start"), {"period": PERIOD}, follow=True).content.decode()
    run = Run.objects.get(kind=KPI_RUN)
    assert f"KPI run #{run.pk} queued." in page and run.started_by == analyst_b
    assert reverse("performance:run-progress", args=[run.pk]) in page


def test_a_scorecard_exports_to_csv_and_xlsx_with_formulas_neutralised_and_audited(
    client, published, rm_a, rm_a2, supervisor_a, branch_a,
):
    import io

    from openpyxl import load_workbook

    from crm_bank.audit.models import AuditEvent

    rm_a.first_name, rm_a.last_name = "=HYPERLINK(\"x\")", "Evil"
    rm_a.save()
    client.force_login(rm_a)
    page = client.get(reverse("performance:rm", args=["rm_a"])).content.decode()
    assert 'id="export-csv"' in page
    response = client.get(reverse("performance:export", args=["rm", "rm_a", "csv"]) + f"?period={PERIOD}")
    text = response.content.decode("utf-8-sig")
    assert response["Content-Disposition"] == f'attachment; filename="scorecard-rm-rm_a-{PERIOD}.csv"'
    assert "'=HYPERLINK" in text and "New customers acquired,Count,Higher is better,2.0,4.0,50.0,15.0,2.0" in text
    book = load_workbook(io.BytesIO(client.get(reverse("performance:export", args=["rm", "rm_a", "xlsx"])
                                               + f"?period={PERIOD}").content))
    cells = [row for row in book.active.iter_rows(values_only=True)]
    assert cells[0][1].startswith("'=") and any(row[0] == "New customers acquired" and row[3] == 2 for row in cells)
    assert AuditEvent.objects.filter(action="export", object_type="scorecard", actor=rm_a).count() == 2
    client.force_login(rm_a2)
    assert client.get(reverse("performance:export", args=["rm", "rm_a", "csv"])).status_code == 403
    client.force_login(supervisor_a)
    assert client.get(reverse("performance:export", args=["branch", branch_a.code, "xlsx"])).status_code == 200
    assert client.get(f"/performance/branch/{branch_a.code}/export.pdf").status_code == 404


def test_the_supervisors_home_shows_kpis_campaigns_complaints_incomplete_and_silent_customers(
    client, published, kpi_bank, supervisor_a, rm_a, branch_a, django_assert_max_num_queries,
):
    from customers.models import Customer
    from customers.models.customer import INCOMPLETE_BELOW

    client.force_login(supervisor_a)
    with django_assert_max_num_queries(18):
        page = client.get(reverse("performance:home")).content.decode()
    kpis = page.split('id="home-kpis"')[1].split("</section>")[0]
    assert 'data-kpi="new-customers"' in kpis and "Scorecard 2026-10" in kpis
    complaints = page.split('id="home-complaints"')[1].split("</section>")[0]
    assert complaints.count("data-complaint=") == 1 and "past its SLA" in complaints  # z's, open since October
    assert "Offer" in page.split('id="home-campaigns"')[1].split("</section>")[0]  # KPI-C: bank-wide, running
    incomplete = Customer.objects.filter(home_branch=branch_a, completeness__lt=INCOMPLETE_BELOW).count()
    assert f'id="home-incomplete-count">{incomplete}<' in page
    silent = page.split('id="home-silent"')[1].split("</section>")[0]
    assert str(kpi_bank.x) in silent and str(kpi_bank.y) in silent  # tier A, never contacted by the CRM
    client.force_login(rm_a)
    assert client.get(reverse("performance:home")).status_code == 403



def test_money_behind_a_figure_is_masked_per_customer_for_staff_without_full_access(
    client, published, kpi_bank, supervisor_a, analyst_b, django_assert_max_num_queries,
):
    """Net deposits per customer are the customers' money: the branch's supervisor sees them, an
    analyst of another branch sees who counted but not how much (as on their 360° pages)."""
    url = reverse("performance:customers", args=["branch", "A01", "net-deposits"]) + f"?period={PERIOD}"

    client.force_login(supervisor_a)
    rows = client.get(url).content.decode().split('id="kpi-customers"')[1].split("</table>")[0]
    assert rows.count("<tr data-customer=") >= 1 and "data-masked" not in rows

    client.force_login(analyst_b)
    with django_assert_max_num_queries(10):
        page = client.get(url).content.decode()
    rows = page.split('id="kpi-customers"')[1].split("</table>")[0]
    assert rows.count("<tr data-customer=") == rows.count('data-masked="true"') >= 1
    # A count measure is no one's money: shown.
    counted = client.get(reverse("performance:customers", args=["branch", "A01", "new-customers"])
                         + f"?period={PERIOD}").content.decode()
    assert kpi_bank.x.cif in counted and "data-masked" not in counted.split('id="kpi-customers"')[1]


def test_the_customers_behind_a_figure_are_listed_biggest_contribution_first(
    client, published, kpi_bank, rm_a, rm_a2, django_assert_max_num_queries,
):
    client.force_login(rm_a)
    url = reverse("performance:customers", args=["rm", "rm_a", "campaign-conversion"]) + f"?period={PERIOD}"
    with django_assert_max_num_queries(10):
        page = client.get(url).content.decode()
    rows = page.split('id="kpi-customers"')[1].split("</table>")[0]
    assert rows.count("<tr data-customer=") == 3  # x, y and z were contacted in October
    assert rows.index(kpi_bank.x.cif) < rows.index(kpi_bank.y.cif)  # x converted: the biggest contribution
    new = client.get(reverse("performance:customers", args=["rm", "rm_a", "new-customers"])
                     + f"?period={PERIOD}").content.decode()
    assert kpi_bank.x.cif in new and kpi_bank.y.cif in new and kpi_bank.z.cif not in new  # z: September
    # A page number past any OFFSET PostgreSQL takes: the last page there is, not a server error.
    assert client.get(url + "&page=999999999999999999999").status_code == 200
    client.force_login(rm_a2)
    assert client.get(url).status_code == 403
