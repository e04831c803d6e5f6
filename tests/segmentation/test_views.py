"""The value (80/20) page, its run button and progress bar, the movers partial: access, content, queries."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from customers.models import Account
from segmentation.models import CustomerValue
from segmentation.services import VALUE_SCORING, value_scoring_start
from tests.segmentation.conftest import AS_OF

pytestmark = pytest.mark.django_db

VALUE_URL = reverse("segmentation:value")


@pytest.fixture
def two_runs(small_bank) -> Run:
    """A published run whose predecessor had customer x in tier A (x is B now)."""
    value_scoring_start(as_of=AS_OF, sync=True)
    Account.objects.filter(pk=small_bank.x_loan.pk).update(principal=0)
    return value_scoring_start(as_of=AS_OF, sync=True)


def test_value_page_shows_cards_lorenz_tiers_and_movers(client, analyst_b, small_bank, two_runs,
                                                        django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(10):
        response = client.get(VALUE_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"{100 * two_runs.metrics['top20_share']:.1f}%" in html
    assert f"{two_runs.metrics['gini']:.3f}" in html
    points = json.loads(html.split('id="lorenz-points" type="application/json">')[1].split("</script>")[0])
    assert points[0] == [0.0, 0.0] and points[-1] == [1.0, pytest.approx(1.0)] and len(points) == 4
    branches = {row.code: row.tiers for row in response.context["branches"]}
    assert (branches["A01"].a, branches["A01"].b, branches["A01"].c) == (0, 1, 1)  # x fell to B, y is C
    assert (branches["B02"].a, branches["B02"].total) == (1, 1)
    a01 = html.split('data-branch="A01"')[1].split("</tr>")[0]
    pareto = two_runs.metrics["branches"][str(response.context["branches"][0].branch_id)]
    assert ">100.0%<" in a01 and f">{pareto['gini']:.3f}<" in html  # the top 20 % (one of two) bring it all
    assert small_bank.x.cif in html and "A→B" in html  # the movers list and its count
    assert 'id="lorenz-chart"' in html and "vendor/chartjs/chart.umd.min.js" in html


def test_value_page_states_the_runs_own_rates_and_cut_offs(client, analyst_b, small_bank, settings):
    from segmentation.services import value_scoring_start

    settings.CRM_VALUE_WEIGHTS = {"deposit_margin": 0.0125}
    settings.CRM_TIER_A_SHARE, settings.CRM_TIER_B_SHARE = 0.7, 0.2
    value_scoring_start(as_of=AS_OF, sync=True)
    client.force_login(analyst_b)

    formula = client.get(VALUE_URL).content.decode().split('id="value-formula">')[1].split("</p>")[0]

    assert "deposits × 1.25% (deposit margin)" in formula and "loans outstanding × 2.5% (lending spread)" in formula
    assert "card payments × 0.3 each" in formula and "fees paid × 100% " in formula
    assert "the first 70% of value; B: the next 20%" in formula


def test_value_page_before_any_run_invites_to_start_one(client, analyst_b, django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(8):
        response = client.get(VALUE_URL)

    assert response.status_code == 200 and "No value-scoring run has been published yet" in response.content.decode()


@pytest.mark.parametrize("user", ["rm_a", "supervisor_a", "no_role_user"])
def test_value_pages_are_refused_to_other_roles(client, request, two_runs, user):
    client.force_login(request.getfixturevalue(user))

    assert client.get(VALUE_URL).status_code == 403
    assert client.post(reverse("segmentation:value-run-start")).status_code == 403
    assert client.get(reverse("segmentation:value-run-progress", args=[two_runs.pk])).status_code == 403
    assert client.get(reverse("segmentation:value-movers"), {"from_tier": "A", "to_tier": "B"}).status_code == 403
    assert Run.objects.count() == 2


def test_value_page_requires_login(client):
    response = client.get(VALUE_URL)

    assert response.status_code in (302, 403)


def test_run_now_queues_a_run_started_by_the_analyst_and_audited(client, analyst_b, small_bank,
                                                                 django_capture_on_commit_callbacks):
    client.force_login(analyst_b)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("segmentation:value-run-start"), {"as_of": "2024-06-30"}, follow=True)

    run = Run.objects.get(kind=VALUE_SCORING)
    assert run.status == Run.Status.QUEUED and run.started_by == analyst_b and run.as_of == AS_OF
    assert AuditEvent.objects.filter(object_type="run", object_id=str(run.pk), actor=analyst_b).exists()
    html = response.content.decode()
    assert f"Value scoring run #{run.pk} queued." in html
    # The page polls the run's progress instead of offering a second start.
    assert reverse("segmentation:value-run-progress", args=[run.pk]) in html


def test_run_now_with_a_date_before_the_data_shows_the_reason_and_starts_nothing(client, analyst_b, small_bank):
    client.force_login(analyst_b)

    response = client.post(reverse("segmentation:value-run-start"), {"as_of": "1990-01-01"}, follow=True)

    assert "No transaction is booked on or before 1990-01-01" in response.content.decode()
    assert not Run.objects.exists()


def test_run_now_is_post_only(client, analyst_b):
    client.force_login(analyst_b)

    assert client.get(reverse("segmentation:value-run-start")).status_code == 405


def test_progress_partial_polls_while_running_and_links_results_when_done(client, analyst_b, two_runs,
                                                                          django_assert_max_num_queries):
    client.force_login(analyst_b)
    running = Run.objects.create(kind=VALUE_SCORING, status=Run.Status.RUNNING, chunks_total=4, chunks_done=1)
    url = reverse("segmentation:value-run-progress", args=[running.pk])

    with django_assert_max_num_queries(5):
        html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and "25%" in html and "1 of 4 chunks" in html

    done = client.get(reverse("segmentation:value-run-progress", args=[two_runs.pk])).content.decode()
    assert "every 2s" not in done and 'id="value-run-results"' in done and reverse("segmentation:value") in done


def test_progress_partial_of_a_failed_run_says_the_old_results_stay(client, analyst_b):
    client.force_login(analyst_b)
    failed = Run.objects.create(kind=VALUE_SCORING, status=Run.Status.FAILED, error="prepare: boom")

    html = client.get(reverse("segmentation:value-run-progress", args=[failed.pk])).content.decode()

    assert "previous results stay published" in html and "prepare: boom" in html and "every 2s" not in html


def test_progress_of_another_kind_of_run_is_not_found(client, analyst_b):
    client.force_login(analyst_b)
    other = Run.objects.create(kind="something_else")

    assert client.get(reverse("segmentation:value-run-progress", args=[other.pk])).status_code == 404


def test_movers_partial_pages_through_a_tier_change(client, analyst_b, small_bank, two_runs,
                                                    django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(6):
        response = client.get(reverse("segmentation:value-movers"), {"from_tier": "A", "to_tier": "B"})
    assert response.status_code == 200 and small_bank.x.cif in response.content.decode()

    empty = client.get(reverse("segmentation:value-movers"), {"from_tier": "B", "to_tier": "A"}).content.decode()
    assert "No customer moved from tier B to tier A" in empty
    assert client.get(reverse("segmentation:value-movers"), {"from_tier": "Z", "to_tier": "A"}).status_code == 404



def test_movers_show_a_customers_value_only_to_staff_with_full_access_to_them(client, analyst_b, bank_admin,
                                                                               small_bank, two_runs):
    """x (branch A01) moved A→B: an analyst of branch B02 sees the move and the rank, the value
    masked as on x's 360° page; an admin sees it."""
    movers = {"from_tier": "A", "to_tier": "B"}
    value = CustomerValue.objects.get(run=two_runs, customer=small_bank.x).value

    client.force_login(analyst_b)
    row = client.get(reverse("segmentation:value-movers"), movers).content.decode().split(small_bank.x.cif)[1]
    row = row.split("</tr>")[0]
    assert 'data-masked="true"' in row and "****" in row and f"{value:,.2f}" not in row
    overview = client.get(VALUE_URL).content.decode().split('id="value-movers"')[1].split("</table>")[0]
    assert 'data-masked="true"' in overview and f"{value:,.2f}" not in overview

    client.force_login(bank_admin)
    row = client.get(reverse("segmentation:value-movers"), movers).content.decode().split(small_bank.x.cif)[1]
    assert f"{value:,.2f}" in row.split("</tr>")[0] and "data-masked" not in row.split("</tr>")[0]


def test_segmentation_index_links_the_value_page(client, analyst_b, two_runs):
    client.force_login(analyst_b)

    html = client.get(reverse("segmentation:index")).content.decode()

    assert VALUE_URL in html and "Customer value and tiers A / B / C as of" in html


def test_run_numbers_are_not_grouped_like_amounts(client, analyst_b, small_bank):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('runs_run', 'id'), 43209)")
    run = value_scoring_start(as_of=AS_OF, sync=True)
    client.force_login(analyst_b)

    page = client.get(reverse("segmentation:value")).content.decode()

    assert run.pk == 43210 and "run #43210" in page and "43,210" not in page
