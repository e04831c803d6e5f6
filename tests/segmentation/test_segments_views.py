"""The segmentation page, its Run now button and progress bar: access, content, queries."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from customers.models import Customer
from segmentation.segments import SEGMENTATION, segmentation_start
from tests.segmentation.segment_bank import AS_OF, segment_bank_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

INDEX_URL = reverse("segmentation:index")


@pytest.fixture
def two_runs(segment_bank) -> Run:
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    Customer.objects.filter(pk=segment_bank.young[-1].pk).update(customer_since="2025-01-01")
    return segmentation_start(as_of=AS_OF, k=3, sync=True)


def test_segment_page_reports_segments_chart_and_transitions(client, analyst_b, two_runs,
                                                            django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(10):
        response = client.get(INDEX_URL)

    assert response.status_code == 200
    html = response.content.decode()
    names = [row.label for row in response.context["segments"]]
    assert len(names) == 3 and all(name in html for name in names)
    chart = json.loads(html.split('id="segment-chart-data" type="application/json">')[1].split("</script>")[0])
    assert chart["labels"] == names and sum(chart["sizes"]) == pytest.approx(100, abs=0.1)
    assert sum(chart["value_shares"]) == pytest.approx(100, abs=0.1)
    young = response.context["segments"][2]
    assert young.size == 11 and young.digital_percent == 100 and young.response_percent == 25
    assert "25.0%" in html  # the young segment's response rate (1 of the 4 contacted accepted)
    # From the timeline: the young write through the app, the retirees come to the branch.
    borrowers, retirees = response.context["segments"][0], response.context["segments"][1]
    assert (young.contacts_per_customer, young.assisted_percent) == (1, 0)
    assert retirees.contacts_per_customer == pytest.approx(25 / 12, rel=1e-4) and retirees.assisted_percent == 100
    assert retirees.complaints_per_100 == pytest.approx(100 / 12, rel=1e-4)  # profiles keep a few digits
    assert (borrowers.contacts_per_customer, borrowers.assisted_percent) == (0, None)
    assert retirees.median_average_balance > 400_000 and "2.1 / 8.3" in html
    assert f"Median average balance ({two_runs.params['currency']})" in html  # in the run's reporting currency
    table = response.context["transitions"]
    assert [[c.count for c in row.cells] for row in table.rows] == [[12, 0, 0], [0, 12, 0], [0, 0, 11]]
    assert table.rows[2].left == 1 and 'id="transition-matrix"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "crm/segment_sizes.js" in html
    assert reverse("segmentation:value") in html and reverse("segmentation:rules") in html


def test_segment_page_before_any_run_invites_to_start_one(client, analyst_b, django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(8):
        response = client.get(INDEX_URL)

    html = response.content.decode()
    assert response.status_code == 200 and 'id="no-segmentation-run"' in html
    assert reverse("segmentation:value") in html and "segment-chart" not in html


def test_first_run_says_transitions_come_later(client, analyst_b, segment_bank):
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    client.force_login(analyst_b)

    html = client.get(INDEX_URL).content.decode()

    assert "Transitions appear from the second run on." in html


@pytest.mark.parametrize("user", ["rm_a", "supervisor_a", "no_role_user"])
def test_segment_pages_are_refused_to_other_roles(client, request, two_runs, user):
    client.force_login(request.getfixturevalue(user))

    assert client.get(INDEX_URL).status_code == 403
    assert client.post(reverse("segmentation:run-start")).status_code == 403
    assert client.get(reverse("segmentation:run-progress", args=[two_runs.pk])).status_code == 403
    assert client.get(reverse("segmentation:rules")).status_code == 403
    assert client.post(reverse("segmentation:rule-count"), {"rule": "age < 30"}).status_code == 403
    assert Run.objects.count() == 2


def test_admin_sees_the_segment_page(client, bank_admin, two_runs):
    client.force_login(bank_admin)

    assert client.get(INDEX_URL).status_code == 200


def test_run_now_queues_a_run_started_by_the_analyst_and_audited(client, analyst_b, segment_bank,
                                                                 django_capture_on_commit_callbacks):
    client.force_login(analyst_b)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("segmentation:run-start"), {"as_of": "2024-06-30", "k": "4", "seed": "3"},
                               follow=True)

    run = Run.objects.get(kind=SEGMENTATION)
    assert run.status == Run.Status.QUEUED and run.started_by == analyst_b and run.as_of == AS_OF
    assert run.params["k"] == 4 and run.params["seed"] == 3
    assert AuditEvent.objects.filter(object_type="run", object_id=str(run.pk), actor=analyst_b).exists()
    html = response.content.decode()
    assert f"Segmentation run #{run.pk} queued." in html
    assert reverse("segmentation:run-progress", args=[run.pk]) in html  # the progress bar polls the run


@pytest.mark.parametrize(("data", "message"), [
    ({"k": "1"}, "k from 2 to 30"), ({"k": "many"}, "k from 2 to 30"),
    ({"as_of": "1990-01-01"}, "No transaction is booked on or before 1990-01-01"),
])
def test_run_now_with_bad_input_says_why_and_queues_nothing(client, analyst_b, segment_bank, data, message):
    client.force_login(analyst_b)

    html = client.post(reverse("segmentation:run-start"), data, follow=True).content.decode()

    assert message in html and not Run.objects.exists()


def test_progress_partial_polls_until_done_then_links_the_results(client, analyst_b, segment_bank,
                                                                  django_assert_max_num_queries):
    client.force_login(analyst_b)
    queued = Run.objects.create(kind=SEGMENTATION, as_of=AS_OF, chunks_total=4, chunks_done=1, status="running")
    url = reverse("segmentation:run-progress", args=[queued.pk])

    with django_assert_max_num_queries(5):
        running = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in running and "25%" in running and "1 of 4 chunks" in running

    Run.objects.filter(pk=queued.pk).update(status="failed", error="prepare: boom")
    failed = client.get(url).content.decode()
    assert "every 2s" not in failed and "previous results stay published" in failed and "boom" in failed

    Run.objects.filter(pk=queued.pk).update(status="succeeded")
    assert 'id="segmentation-run-results"' in client.get(url).content.decode()


def test_progress_of_another_kind_is_not_found(client, analyst_b):
    client.force_login(analyst_b)
    other = Run.objects.create(kind="value_scoring")

    assert client.get(reverse("segmentation:run-progress", args=[other.pk])).status_code == 404
