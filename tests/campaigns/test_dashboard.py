"""The war room: hourly counts kept in step as events arrive (the RM's outcomes and the ingest
path), the funnel, spend, and uplift with its interval against hand-computed figures."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.utils import timezone

from campaigns.dashboard import Uplift, campaign_uplift, events_per_hour
from campaigns.models import CampaignHourlyCount
from channels.services.interactions import NewInteraction, interactions_store
from tests.campaigns.helpers import campaign_draft, targeting_run
from tests.customers.factories import account_for

pytestmark = pytest.mark.django_db


def test_uplift_and_its_interval_match_the_hand_computed_figures():
    uplift = Uplift(treated=1000, treated_converted=120, control=1000, control_converted=90)
    assert uplift.difference == pytest.approx(0.03)
    error = math.sqrt(0.12 * 0.88 / 1000 + 0.09 * 0.91 / 1000)  # 0.013748…
    low, high = uplift.interval
    assert low == pytest.approx(0.03 - 1.959964 * error, abs=1e-6) and high == pytest.approx(0.03 + 1.959964 * error,
                                                                                              abs=1e-6)
    assert round(low, 4) == 0.0032 and round(high, 4) == 0.0568
    assert Uplift(10, 1, 0, 0).difference is None and Uplift(10, 1, 0, 0).interval is None


def test_events_are_counted_per_hour_as_they_arrive_and_the_dashboard_reads_them(
    client, running, bank, rm_a, supervisor_a, django_assert_max_num_queries,
):
    client.force_login(rm_a)
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "accepted"})
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_b'].pk}/", {"outcome": "no_answer"})
    now = timezone.now()
    interactions_store(items=[NewInteraction(  # an inbound call the call-centre platform posts
        customer_id=bank["good_b"].pk, channel="call_centre", kind="enquiry", direction="inbound", occurred_at=now,
        summary="Asked about the offer", campaign_code=running.code)])
    interactions_store(items=[NewInteraction(  # no campaign: not an event of it
        customer_id=bank["good_b"].pk, channel="web", kind="visit", direction="inbound", occurred_at=now,
        summary="Logged in")])
    assert sum(CampaignHourlyCount.objects.filter(campaign=running).values_list("events", flat=True)) == 3
    assert sum(CampaignHourlyCount.objects.filter(campaign=running).values_list("conversions", flat=True)) == 1
    _starts, series, events, conversions = events_per_hour(campaign=running, hours=48)
    assert (events, conversions) == (3, 1) and sum(series["email"]) == 2 and sum(series["call_centre"]) == 1
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(12):
        page = client.get(f"/campaigns/{running.pk}/dashboard/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="dash-events">3<' in page and 'data-step="converted">1<' in page and 'data-step="contacted">2<' in page


def test_uplift_reads_product_uptake_of_the_treatment_and_control_groups(bank, supervisor_a, term, branch_a):
    from decimal import Decimal

    from campaigns.models import Campaign, CampaignTarget

    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-U", control_share=Decimal("0.5"))
    run = targeting_run(campaign)
    campaign = Campaign.objects.get(pk=campaign.pk)
    groups = dict(CampaignTarget.objects.filter(run_id=run.pk).values_list("customer_id", "group"))
    taker = next(customer for customer, group in groups.items() if group == "control")
    account_for(type(bank["good_a"]).objects.get(pk=taker), product=term, opened_on=dt.date(2026, 12, 5))
    uplift = campaign_uplift(campaign=campaign)
    assert (uplift.control, uplift.control_converted) == (list(groups.values()).count("control"), 1)


def test_the_traffic_simulator_posts_through_the_api_and_the_war_room_counts_it(client, running, supervisor_a):
    from django.core.management import call_command

    from channels.models import ChannelToken, Interaction

    call_command("simulate_campaign_traffic", running.code, "--rate", "30", "--minutes", "4", "--no-wait")
    assert Interaction.objects.filter(campaign_code=running.code).count() == 120
    assert sum(CampaignHourlyCount.objects.filter(campaign=running).values_list("events", flat=True)) == 120
    assert not ChannelToken.objects.filter(revoked_at__isnull=True).exists()  # its token is revoked after
    call_command("simulate_campaign_traffic", running.code, "--rate", "30", "--minutes", "4", "--no-wait",
                 "--seed", "8")
    assert sum(CampaignHourlyCount.objects.filter(campaign=running).values_list("events", flat=True)) == 240
    client.force_login(supervisor_a)
    page = client.get(f"/campaigns/{running.pk}/dashboard/").content.decode()
    assert 'id="dash-events">240<' in page and "events-chart" in page


def test_the_traffic_simulator_refuses_a_campaign_not_running_or_without_targets(supervisor_a, term, branch_a):
    from django.core.management import CommandError, call_command

    from campaigns.models import Campaign

    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-NONE")
    with pytest.raises(CommandError, match="is not running .draft.: launch it first"):
        call_command("simulate_campaign_traffic", campaign.code, "--no-wait")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.ACTIVE)
    with pytest.raises(CommandError, match="run targeting first"):
        call_command("simulate_campaign_traffic", campaign.code, "--no-wait")
    with pytest.raises(CommandError, match="No campaign"):
        call_command("simulate_campaign_traffic", "NOPE", "--no-wait")


def test_the_api_refuses_events_of_unknown_closed_and_unlaunched_campaigns_and_never_counts_one_twice(running, bank):
    import json

    from django.test import Client

    from campaigns.models import Campaign
    from channels.services.systems import channel_system_register, channel_token_create

    token = channel_token_create(system=channel_system_register(code="call-centre")[0])[1]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    moment = timezone.now().isoformat()

    def post(campaign: str, source_id: str):
        return api.post("/api/v1/interactions/batch/", json.dumps({"items": [{
            "customer": bank["good_a"].cif, "channel": "call_centre", "kind": "enquiry", "direction": "inbound",
            "occurred_at": moment, "summary": "About the offer", "source_id": source_id,
            "campaign": campaign}]}), content_type="application/json").json()

    unknown = post("NO-SUCH", "cc-1")["results"][0]
    assert unknown["status"] == "error" and unknown["errors"]["campaign"] == "No campaign with this code."
    created = post(running.code, "cc-2")
    assert created["counts"]["created"] == 1, created
    assert post(running.code, "cc-2")["counts"]["duplicate"] == 1  # a replay is not a second event
    Campaign.objects.filter(pk=running.pk).update(status=Campaign.Status.COMPLETED)
    over = post(running.code, "cc-3")["results"][0]
    assert over["status"] == "error" and "is over" in over["errors"]["campaign"]
    for status in (Campaign.Status.DRAFT, Campaign.Status.SUBMITTED, Campaign.Status.APPROVED,
                   Campaign.Status.REJECTED):
        Campaign.objects.filter(pk=running.pk).update(status=status)
        early = post(running.code, f"cc-{status}")["results"][0]
        assert early["status"] == "error" and "has not been launched" in early["errors"]["campaign"], status
    assert sum(CampaignHourlyCount.objects.filter(campaign=running).values_list("events", flat=True)) == 1


def test_best_and_worst_branches_and_segments_by_conversion_of_the_contacted(running, supervisor_a, branch_a,
                                                                            branch_b, client):
    """Branch A: 12 contacted, 6 converted (50 %); branch B: 10 contacted, 2 converted (20 %);
    branch C: 3 contacted (too few to judge). Segment 0 "Savers": A's twelve; segment 1: B's ten."""
    from campaigns.dashboard import campaign_leaders
    from campaigns.models import CampaignContact, CampaignTarget
    from crm_bank.runs.models import Run
    from segmentation.models import LearnedSegment, SegmentMembership
    from tests.campaigns.helpers import published
    from tests.customers.factories import CustomerFactory
    from tests.org.factories import BranchFactory

    branch_c = BranchFactory(code="C01", name="Gamma")
    segmentation = published("segmentation")
    LearnedSegment.objects.create(run_id=segmentation.pk, number=0, name="Savers", size=12)
    LearnedSegment.objects.create(run_id=segmentation.pk, number=1, name="Borrowers", size=13)
    run = Run.objects.get(pk=running.targeting_run_id)
    run.params = {**run.params, "segment_run": segmentation.pk}
    run.save()
    for branch, contacted, converted, segment in ((branch_a, 12, 6, 0), (branch_b, 10, 2, 1), (branch_c, 3, 3, 1)):
        for n in range(contacted):
            customer = CustomerFactory(home_branch=branch)
            CampaignTarget.objects.create(run_id=run.pk, customer=customer, branch=branch, tier="A", channel="email",
                                          cost=1, expected_value=1, group="treatment")
            SegmentMembership.objects.create(run_id=segmentation.pk, customer=customer, segment=segment)
            CampaignContact.objects.create(campaign=running, customer=customer, attempts=1, channel="email",
                                           outcome="accepted" if n < converted else "declined")

    leaders = campaign_leaders(campaign=running)

    assert [(g.key, g.label, g.contacted, g.converted) for g in leaders.best_branches] == [
        (branch_a.pk, str(branch_a), 12, 6), (branch_b.pk, str(branch_b), 10, 2)]
    assert leaders.worst_branches == []  # two judged branches are both shown as the best few
    assert [(g.label, g.rate) for g in leaders.best_segments] == [("Savers", 0.5), ("Borrowers", 5 / 13)]
    assert leaders.unranked == 1  # branch C
    client.force_login(supervisor_a)
    page = client.get(f"/campaigns/{running.pk}/dashboard/", HTTP_HX_REQUEST="true").content.decode()
    assert page.count('data-leader="best-branch"') == 2 and "6 of 12" in page and "50%" in page


def test_with_more_groups_the_worst_are_the_lowest_rates(monkeypatch):
    from campaigns import dashboard
    from campaigns.dashboard import GroupResult, _best_and_worst

    monkeypatch.setattr(dashboard, "LEADERS_SHOWN", 2)
    groups = [GroupResult(i, f"g{i}", 10, converted) for i, converted in enumerate([5, 1, 9, 3, 7])]
    best, worst = _best_and_worst(groups)
    assert [g.converted for g in best] == [9, 7] and [g.converted for g in worst] == [1, 3]


def test_a_closed_campaigns_results_per_month_tier_segment_and_previous_outcome(
    client, supervisor_a, branch_a, term, django_assert_max_num_queries,
):
    """May 2008: 3 contacted (tier A, segment 0, previous success), 2 converted; June 2008: 2
    contacted (tier B, not segmented, never contacted before), none converted; one row without a
    contact (nobody reached) does not count."""
    from campaigns.models import Campaign, CampaignContact
    from segmentation.models import CustomerValue, LearnedSegment, SegmentMembership
    from tests.campaigns.helpers import published
    from tests.customers.factories import CustomerFactory

    campaign = Campaign.objects.create(code="HIST", name="Historic", product=term, channel="call_centre",
                                       channels=["call_centre"], starts_on=dt.date(2008, 5, 5),
                                       ends_on=dt.date(2008, 6, 30), status=Campaign.Status.COMPLETED)
    value_run, segmentation = published("value_scoring"), published("segmentation")
    LearnedSegment.objects.create(run_id=segmentation.pk, number=0, name="Savers", size=3)
    rows = [(dt.date(2008, 5, 6), "accepted", "A", 0, "success"), (dt.date(2008, 5, 20), "accepted", "A", 0, "success"),
            (dt.date(2008, 5, 21), "declined", "A", 0, "success"), (dt.date(2008, 6, 2), "declined", "B", None, ""),
            (dt.date(2008, 6, 3), "declined", "B", None, ""), (None, "pending", "B", None, "")]
    for contacted_on, outcome, tier, segment, previous in rows:
        customer = CustomerFactory(home_branch=branch_a)
        CampaignContact.objects.create(campaign=campaign, customer=customer, contacted_on=contacted_on,
                                       outcome=outcome, attempts=1 if contacted_on else 0, channel="call_centre",
                                       previous_outcome=previous)
        CustomerValue.objects.create(run_id=value_run.pk, customer=customer, branch=branch_a, value=1, rank=1,
                                     branch_rank=1, share=0.1, cumulative_share=0.1, tier=tier, previous_tier="")
        if segment is not None:
            SegmentMembership.objects.create(run_id=segmentation.pk, customer=customer, segment=segment)
    client.force_login(supervisor_a)

    with django_assert_max_num_queries(8):
        page = client.get(f"/campaigns/{campaign.pk}/dashboard/").content.decode()

    assert 'id="results-contacted">5<' in page and 'id="results-converted">2<' in page
    assert 'id="results-rate">40.0%<' in page and 'id="dashboard-live"' not in page  # nothing live to poll

    def table(name: str) -> str:
        return page.split(f'id="{name}"')[1].split("</section>")[0]

    assert '<td>May 2008</td><td class="num">3</td><td class="num">2</td><td class="num">66.7%</td>' in table(
        "results-months")
    assert '<td>June 2008</td><td class="num">2</td><td class="num">0</td><td class="num">0.0%</td>' in table(
        "results-months")
    assert '<td>Tier A</td><td class="num">3</td><td class="num">2</td>' in table("results-tiers")
    assert '<td>Tier B</td><td class="num">2</td><td class="num">0</td>' in table("results-tiers")
    assert '<td>Savers</td><td class="num">3</td>' in table("results-segments")
    assert '<td>Not scored</td><td class="num">2</td>' in table("results-segments")
    assert '<td>Success</td><td class="num">3</td><td class="num">2</td>' in table("results-previous")
    assert '<td>Not contacted before</td><td class="num">2</td>' in table("results-previous")
    assert 'data-contacted="3,2"' in page and 'data-rate="66.7,0.0"' in page


def test_the_historic_uci_campaign_shows_its_real_results(client, supervisor_a):
    """On a slice of the real UCI file: every contacted row counted once, its conversions as recorded."""
    from pathlib import Path

    from django.conf import settings
    from django.core.management import call_command

    from campaigns.models import Campaign, CampaignContact
    from demo.loader import UCI_CAMPAIGN_CODE

    if not (Path(settings.CRM_DATASETS) / "bank_marketing_uci" / "bank-full.csv.gz").exists():
        pytest.skip("public data sets not found (see README: where to get them)")
    call_command("load_demo", "--sample", "300")
    campaign = Campaign.objects.get(code=UCI_CAMPAIGN_CODE)
    contacts = CampaignContact.objects.filter(campaign=campaign)
    converted = contacts.filter(outcome="accepted").count()
    client.force_login(supervisor_a)

    page = client.get(f"/campaigns/{campaign.pk}/dashboard/").content.decode()

    assert f'id="results-contacted">{contacts.count()}<' in page and f'id="results-converted">{converted}<' in page
    months = page.split('id="results-months"')[1].split("</section>")[0]
    assert months.count("<tr data-key=") == len({c.replace(day=1) for c in contacts.values_list("contacted_on",
                                                                                              flat=True)})
    assert "Not contacted before" in page.split('id="results-previous"')[1]


def test_the_war_room_reads_uplift_and_leaders_kept_by_the_minute_refresh(client, running, supervisor_a, monkeypatch,
                                                                          django_assert_max_num_queries):
    """The page computes the slow figures once; later polls read the kept copy (no account scan);
    the beat's task recomputes them for every running campaign."""
    from campaigns import dashboard
    from campaigns.tasks import dashboard_figures_refresh

    computed = []
    real_uplift = dashboard.campaign_uplift
    monkeypatch.setattr(dashboard, "campaign_uplift", lambda **kw: computed.append(1) or real_uplift(**kw))
    client.force_login(supervisor_a)
    url = f"/campaigns/{running.pk}/dashboard/"
    client.get(url, HTTP_HX_REQUEST="true")
    assert len(computed) == 1

    with django_assert_max_num_queries(9):
        page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert len(computed) == 1 and "uplift and best and worst as of" in page  # the kept copy

    assert dashboard_figures_refresh() == 1 and len(computed) == 2
    client.get(url, HTTP_HX_REQUEST="true")
    assert len(computed) == 2


def test_the_beat_refreshes_the_war_rooms_every_minute(settings):
    assert settings.CELERY_BEAT_SCHEDULE["campaign-dashboard-figures"] == {
        "task": "campaigns.dashboard_figures_refresh", "schedule": 60}
