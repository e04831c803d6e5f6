"""The demo bank's generated activity: campaigns, contacts, complaints, targets and KPI runs for the
last months, marked and counted on the data notes page; never generated twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, CampaignContact
from channels.models import Complaint
from crm_bank.runs.models import Run
from performance.models import KpiScore, KpiTarget
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 30)


@pytest.fixture
def small_book(branch_a, branch_b, rm_a, rm_b, bank_admin):
    for n in range(120):
        CustomerFactory(home_branch=branch_a if n % 3 else branch_b, primary_rm=rm_a if n % 3 else rm_b,
                        marketing_consent=True, do_not_contact=False, lifecycle_stage="customer")


def test_the_last_three_months_get_activity_targets_and_kpi_runs(small_book, rm_a, settings):
    from demo.activity import MARK, demo_activity_counts, demo_activity_generate

    report = demo_activity_generate(log=lambda _line: None, today=TODAY)

    assert report.months == ["2026-08", "2026-09", "2026-10"]
    assert list(Campaign.objects.filter(code__startswith="DEMO-").order_by("code").values_list("code", "status")) == [
        ("DEMO-2026-08", "completed"), ("DEMO-2026-09", "completed"), ("DEMO-2026-10", "completed")]
    assert CampaignContact.objects.filter(campaign__code__startswith="DEMO-").count() == report.contacts > 0
    assert Complaint.objects.filter(description__startswith=MARK).count() == report.complaints >= 6
    assert KpiTarget.objects.filter(period="2026-10", scope="rm", rm=rm_a).count() == 10
    assert not KpiTarget.objects.filter(status="proposed").exists()  # the branch targets are approved
    runs = Run.objects.filter(pk__in=report.kpi_runs)
    # Published, each period's figures kept (a newer period's run supersedes only the kind's pointer).
    assert {run.status for run in runs} <= {"succeeded", "superseded"}
    assert {run.params["period"] for run in runs} == set(report.months)
    assert KpiScore.objects.filter(run_id=report.kpi_runs[-1], scope="rm", scope_id=rm_a.pk,
                                   score__isnull=False).exists()
    assert demo_activity_counts()["campaigns"] == 3


def test_the_command_refuses_to_generate_twice_and_skips_when_asked(small_book, capsys):
    call_command("demo_activity")
    contacts = CampaignContact.objects.count()
    with pytest.raises(CommandError, match="generated before"):
        call_command("demo_activity")
    call_command("demo_activity", "--skip-if-present")
    assert "already generated" in capsys.readouterr().out and CampaignContact.objects.count() == contacts


def test_without_customers_the_command_says_to_load_the_demo_first(db):
    with pytest.raises(CommandError, match="load_demo"):
        call_command("demo_activity")


def test_the_data_notes_count_the_generated_activity(client, small_book, rm_a):
    from customers.models import SourceRecord
    from demo.activity import demo_activity_generate

    demo_activity_generate(log=lambda _line: None, today=TODAY)
    SourceRecord.objects.create(customer=CustomerFactory(), system_id="pkdd_core", external_id="1")
    client.force_login(rm_a)
    page = client.get("/data-notes/").content.decode()
    assert 'id="activity-notes"' in page and "3 monthly term-deposit call campaigns" in page
