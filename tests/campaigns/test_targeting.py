"""Campaign targeting: a reason for every exclusion, the seeded control group per tier, the budget
never exceeded and spent by expected value, the comparison with spreading evenly and with propensity
alone; bad params refused with nothing written."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, CampaignTarget
from campaigns.targeting import CAMPAIGN_TARGETING, budget_fill, control_group
from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.services import run_start
from tests.campaigns.helpers import campaign_draft, targeting_run

pytestmark = pytest.mark.django_db


def test_every_exclusion_has_its_reason_and_the_eligible_are_targeted(bank, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a)
    run = targeting_run(campaign)
    assert run.status == Run.Status.SUCCEEDED
    counts = run.metrics["counts"]
    assert {reason: counts[reason] for reason in ("no_consent", "do_not_contact", "open_complaint",
                                                  "contacted_recently", "holds_product", "outside_criteria",
                                                  "closed")} == {
        "no_consent": 1, "do_not_contact": 1, "open_complaint": 1, "contacted_recently": 1, "holds_product": 1,
        "outside_criteria": 1, "closed": 1}
    targets = {t.customer_id: t for t in CampaignTarget.objects.filter(run_id=run.pk)}
    assert set(targets) == {bank["good_a"].pk, bank["good_b"].pk}
    # Tier A's policy allows the call centre and e-mail: the cheaper, e-mail, is chosen.
    assert targets[bank["good_a"].pk].channel == "email"
    assert targets[bank["good_a"].pk].expected_value == pytest.approx(0.4 * 200 - 1)
    assert {t.group for t in targets.values()} == {"treatment"}
    assert Campaign.objects.get(pk=campaign.pk).targeting_run_id == run.pk


def test_a_channel_the_tiers_policy_does_not_allow_excludes_the_customer(bank, supervisor_a, term, branch_a):
    # Tier C is digital only: a call-centre campaign cannot reach it.
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-C", channels=["call_centre"],
                         contact_costs={"call_centre": "10"}, criteria={"tiers": ["C"]})
    assert targeting_run(campaign).metrics["counts"]["channel_not_allowed"] == 1


def test_the_budget_is_never_exceeded_and_goes_to_the_best_expected_value(bank, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-B", channels=["call_centre"],
                         contact_costs={"call_centre": "10"}, budget=Decimal("10"), criteria={"tiers": ["A", "B"]})
    run = targeting_run(campaign)
    groups = dict(CampaignTarget.objects.filter(run_id=run.pk).values_list("customer_id", "group"))
    assert groups[bank["good_a"].pk] == "treatment" and groups[bank["good_b"].pk] == "over_budget"
    comparison = run.metrics["comparison"]
    assert comparison["by_expected_value"]["cost"] <= 10
    assert comparison["by_expected_value"]["expected_value"] >= comparison["evenly"]["expected_value"]


def test_a_contact_that_does_not_pay_its_cost_is_left_out(bank, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-N", conversion_value=Decimal("1"),
                         channels=["call_centre"], contact_costs={"call_centre": "10"})
    run = targeting_run(campaign)
    assert set(CampaignTarget.objects.filter(run_id=run.pk).values_list("group", flat=True)) == {"not_worth"}


def test_the_control_group_is_seeded_and_stratified_by_tier():
    frame = pd.DataFrame({"customer_id": np.arange(1, 1001), "tier": ["A"] * 200 + ["B"] * 300 + ["C"] * 500})
    first = control_group(frame, share=0.1, seed=7)
    assert first.sum() == 100 and first[:200].sum() == 20 and first[200:500].sum() == 30
    assert (control_group(frame, share=0.1, seed=7) == first).all()
    assert (control_group(frame, share=0.1, seed=8) != first).any()


@settings(max_examples=60, deadline=None)
@given(costs=st.lists(st.floats(0.01, 100), min_size=1, max_size=60), budget=st.floats(0, 500))
def test_budget_fill_never_spends_more_than_the_budget(costs, budget):
    costs = np.array(costs)
    taken = budget_fill(np.arange(len(costs)), costs, budget)
    assert costs[taken].sum() <= budget + 1e-6
    assert all(costs[~taken][i] + costs[taken].sum() > budget for i in range(len(costs[~taken])))


def test_targeting_a_campaign_without_what_it_needs_is_refused(supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a, conversion_value=None)
    with pytest.raises(RunParamsInvalid, match="value of one conversion"):
        run_start(kind=CAMPAIGN_TARGETING, params={"campaign": campaign.pk}, sync=True)
    with pytest.raises(RunParamsInvalid, match="No such campaign"):
        run_start(kind=CAMPAIGN_TARGETING, params={"campaign": 999_999}, sync=True)
    assert not Run.objects.filter(kind=CAMPAIGN_TARGETING).exists()


def test_a_repeated_run_gives_the_same_targets(bank, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a, control_share=Decimal("0.5"))
    first = dict(CampaignTarget.objects.filter(run_id=targeting_run(campaign).pk).values_list("customer_id", "group"))
    second = dict(CampaignTarget.objects.filter(run_id=targeting_run(campaign).pk).values_list("customer_id", "group"))
    assert first == second and "control" in first.values()


def test_the_campaign_page_starts_targeting_and_shows_the_counts_and_comparison(
    client, bank, supervisor_a, term, branch_a, monkeypatch, django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    campaign = campaign_draft(supervisor_a, term, branch_a)
    sent = []
    monkeypatch.setattr("crm_bank.runs.services.current_app.send_task", lambda name, args: sent.append((name, args)))
    client.force_login(supervisor_a)
    assert 'id="no-targeting"' in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/campaigns/{campaign.pk}/targeting/")
    run = Run.objects.get(kind=CAMPAIGN_TARGETING)
    assert sent == [("runs.start", [run.pk])]
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert f"/campaigns/{campaign.pk}/targeting/{run.pk}/" in page and 'id="run-targeting"' not in page
    Run.objects.filter(pk=run.pk).delete()
    targeting_run(campaign)  # what the worker does, in-process
    with django_assert_max_num_queries(12):
        page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-reason="open_complaint"' in page and 'data-strategy="evenly"' in page
    assert "Open complaint" in page and "Spread evenly (random contacts)" in page


def test_the_targeting_progress_bar_polls_until_the_run_is_over(client, bank, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a)
    run = targeting_run(campaign)
    client.force_login(supervisor_a)
    bar = client.get(f"/campaigns/{campaign.pk}/targeting/{run.pk}/").content.decode()
    assert 'id="targeting-run-results"' in bar and "hx-trigger" not in bar
    assert client.get(f"/campaigns/{campaign.pk}/targeting/999999/").status_code == 404


def test_an_rm_cannot_starttargeting_run(client, rm_a, supervisor_a, term, branch_a):
    campaign = campaign_draft(supervisor_a, term, branch_a)
    client.force_login(rm_a)
    assert client.post(f"/campaigns/{campaign.pk}/targeting/").status_code == 403
    assert not Run.objects.filter(kind=CAMPAIGN_TARGETING).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_targeting_runs_on_a_real_worker(bank, supervisor_a, term, branch_a, worker):
    import time

    from campaigns.targeting import targeting_start

    campaign = campaign_draft(supervisor_a, term, branch_a)
    run = targeting_start(campaign=campaign, actor=supervisor_a)
    for _ in range(100):
        run.refresh_from_db()
        if run.status in (Run.Status.SUCCEEDED, Run.Status.FAILED):
            break
        time.sleep(0.2)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert Campaign.objects.get(pk=campaign.pk).targeting_run_id == run.pk


def test_the_rm_queue_lists_their_targets_and_an_outcome_lands_on_the_timeline(
    client, running, bank, rm_a, django_assert_max_num_queries,
):
    from channels.models import Interaction

    client.force_login(rm_a)
    with django_assert_max_num_queries(8):
        page = client.get("/campaigns/queue/").content.decode()
    assert bank["good_a"].cif in page and bank["good_b"].cif in page and bank["dnc"].cif not in page
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "call_back"})
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "accepted", "note": "2 years"})
    contact = running.contacts.get(customer=bank["good_a"])
    assert (contact.outcome, contact.attempts, contact.channel) == ("accepted", 2, "email")
    contacts = Interaction.objects.filter(customer=bank["good_a"], campaign_code=running.code).order_by("id")
    assert [i.kind for i in contacts] == ["campaign_contact"] * 2 and "2 years" in contacts.last().summary
    page = client.get("/campaigns/queue/").content.decode()
    assert bank["good_a"].cif not in page  # converted: no longer to call


def test_the_rm_queue_shows_each_customers_next_best_product_and_why(
    client, running, bank, rm_a, branch_a, django_assert_max_num_queries,
):
    from segmentation.models import CrossSellSuggestion, LearnedSegment
    from tests.campaigns.helpers import published

    segmentation = published("segmentation")
    LearnedSegment.objects.create(run_id=segmentation.pk, number=2, name="Young digital savers", size=100)
    cross_sell = published("cross_sell")
    cross_sell.params = {"segmentation_run": segmentation.pk}
    cross_sell.save()
    CrossSellSuggestion.objects.create(run_id=cross_sell.pk, customer=bank["good_a"], branch=branch_a, segment=2,
                                       category="card", score=0.82, basis="rule", antecedent="current",
                                       measured_on=120)
    client.force_login(rm_a)

    with django_assert_max_num_queries(8):
        page = client.get("/campaigns/queue/").content.decode()

    row = page.split(f'data-customer="{bank["good_a"].cif}"')[1].split("</tr>")[0]
    assert 'data-next-product="card"' in row and "Next-best product: Card" in row
    assert ("82 % of customers in “Young digital savers” who hold Current account also hold Card "
            "(measured on 120 customers).") in row
    other = page.split(f'data-customer="{bank["good_b"].cif}"')[1].split("</tr>")[0]
    assert "data-next-product" not in other


def test_do_not_contact_again_sets_the_customers_flag(client, running, bank, rm_a):
    client.force_login(rm_a)
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_b'].pk}/", {"outcome": "dnc"})
    bank["good_b"].refresh_from_db()
    assert bank["good_b"].do_not_contact and not bank["good_b"].marketing_consent


def test_outcomes_are_refused_for_another_rms_target_a_non_target_and_a_bad_outcome(
    client, running, bank, rm_a2, rm_a,
):
    client.force_login(rm_a2)  # same branch, not the customer's RM
    assert client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/",
                       {"outcome": "accepted"}).status_code == 403
    client.force_login(rm_a)
    refused = client.post(f"/campaigns/{running.pk}/outcome/{bank['holds'].pk}/", {"outcome": "accepted"}, follow=True)
    assert "is not one of the campaign" in refused.content.decode()
    bad = client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "maybe"}, follow=True)
    assert "Unknown outcome." in bad.content.decode()
    assert not running.contacts.exists()


def test_a_rule_segments_own_policy_decides_for_its_members(bank, supervisor_a, term, branch_a):
    """Tier A allows the call centre; for the members of a rule segment with its own tier-A policy
    (e-mail only, a 30-day interval), the segment's policy holds."""
    from campaigns.models import ServicePolicy
    from segmentation.models import RuleSegment, SegmentMembership
    from tests.campaigns.helpers import published

    digital = RuleSegment.objects.create(name="Digital only", rule="digital_share > 0.9")
    ServicePolicy.objects.create(tier="A", segment=digital, channels=["email"], min_contact_days=30,
                                 service_level="digital")
    segment_run = published("segmentation")
    SegmentMembership.objects.create(run_id=segment_run.pk, customer=bank["good_a"], segment=0,
                                     rule_segments=[digital.pk])
    SegmentMembership.objects.create(run_id=segment_run.pk, customer=bank["recent"], segment=0,
                                     rule_segments=[digital.pk + 1000])  # a segment without a policy of its own
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-S", channels=["call_centre"],
                              contact_costs={"call_centre": "10"}, criteria={"tiers": ["A"]})

    run = targeting_run(campaign)

    assert run.metrics["counts"]["channel_not_allowed"] == 1  # good_a: e-mail only by its segment's policy
    assert not CampaignTarget.objects.filter(run_id=run.pk, customer=bank["good_a"]).exists()
    assert run.metrics["counts"]["contacted_recently"] == 1  # "recent" keeps tier A's rules


def test_the_next_best_product_is_a_target_criterion(bank, supervisor_a, term, branch_a):
    from segmentation.models import CrossSellSuggestion
    from tests.campaigns.helpers import published

    cross_sell = published("cross_sell")
    for name, category in (("good_a", "deposit"), ("good_b", "card")):
        CrossSellSuggestion.objects.create(run_id=cross_sell.pk, customer=bank[name], branch=branch_a, segment=0,
                                           category=category, score=0.5, basis="segment")
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-X",
                              criteria={"tiers": ["A", "B"], "next_best_product": "deposit"})

    run = targeting_run(campaign)

    assert set(CampaignTarget.objects.filter(run_id=run.pk).values_list("customer_id", flat=True)) == {
        bank["good_a"].pk}
    # Everybody else (good_b's next-best product is a card; the rest have none) but the closed customer.
    assert run.metrics["counts"]["outside_criteria"] == len(bank) - 2


def test_an_unknown_next_best_product_is_refused(supervisor_a, term, branch_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="product category"):
        campaign_draft(supervisor_a, term, branch_a, code="TD-Y", criteria={"next_best_product": "yacht"})
    assert not Campaign.objects.filter(code="TD-Y").exists()


def test_targeting_again_deletes_the_earlier_targets_but_never_another_campaigns(bank, supervisor_a, term, branch_a):
    from crm_bank.runs.services import run_results_prune

    other = targeting_run(campaign_draft(supervisor_a, term, branch_a, code="TD-O"))
    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-R")
    first, second, third = (targeting_run(campaign) for _ in range(3))

    run_results_prune(kind=CAMPAIGN_TARGETING)

    def targets(run):
        return CampaignTarget.objects.filter(run_id=run.pk).count()

    assert targets(other) == 2  # TD-O's own run, two runs older than the newest: kept
    assert targets(first) == 0 and targets(second) == 0 and targets(third) == 2
    assert Campaign.objects.get(pk=campaign.pk).targeting_run_id == third.pk


def test_a_final_outcome_is_recorded_once(client, running, bank, rm_a):
    """A double click or a retried request counted a second attempt, conversion and contact cost."""
    client.force_login(rm_a)
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "accepted"})
    again = client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "accepted"}, follow=True)

    assert "already recorded (Accepted" in again.content.decode()
    contact = running.contacts.get(customer=bank["good_a"])
    assert (contact.outcome, contact.attempts) == ("accepted", 1)


def test_the_queue_follows_consent_and_the_customers_rm_as_they_are_now(client, running, bank, rm_a, rm_a2):
    from customers.models import Customer

    Customer.objects.filter(pk=bank["good_b"].pk).update(marketing_consent=False)  # withdrawn after targeting
    Customer.objects.filter(pk=bank["good_a"].pk).update(primary_rm=rm_a2)  # handed over after targeting

    client.force_login(rm_a)
    page = client.get("/campaigns/queue/").content.decode()
    assert bank["good_b"].cif not in page and bank["good_a"].cif not in page
    assert client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/",
                       {"outcome": "accepted"}).status_code == 403  # no longer theirs
    client.force_login(rm_a2)
    assert bank["good_a"].cif in client.get("/campaigns/queue/").content.decode()


def test_targets_are_published_only_for_the_version_they_were_chosen_for(bank, term, branch_a, supervisor_a):
    from campaigns.services import campaign_save
    from campaigns.targeting import targeting_publish
    from crm_bank.runs.errors import RunError
    from tests.campaigns.helpers import campaign_draft, targeting_run

    campaign = campaign_draft(supervisor_a, term, branch_a, code="TD-V")
    run = targeting_run(campaign)
    campaign.refresh_from_db()
    assert campaign.targeting_run_id == run.pk and run.params["version"] == campaign.version

    # A change drops the targets of the older version, and a run of that version cannot come back.
    campaign = campaign_save(actor=supervisor_a, campaign=campaign, budget=Decimal("1000"))
    assert campaign.targeting_run_id is None
    with pytest.raises(RunError, match="changed or was launched while it was being targeted"):
        targeting_publish(run)
    assert Campaign.objects.get(pk=campaign.pk).targeting_run_id is None
