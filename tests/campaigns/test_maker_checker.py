"""Campaign drafting and the maker-checker steps: who may approve, outdated approvals, changes after
submission, bad input refused with nothing written, every step audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from campaigns.models import Campaign
from campaigns.services import (
    campaign_approve,
    campaign_close,
    campaign_launch,
    campaign_reject,
    campaign_save,
    campaign_submit,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.org.models import StaffProfile
from tests.campaigns.helpers import targets_chosen
from tests.customers.factories import ProductFactory
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db
Status = Campaign.Status


@pytest.fixture
def maker(branch_a):
    return StaffProfileFactory(user__username="maker_a", role=StaffProfile.Role.SUPERVISOR, branch=branch_a).user


def _draft(maker, branch, **overrides) -> Campaign:
    fields = {
        "code": "TD-2027", "name": "Term deposit spring", "objective": "Grow term deposits of tier A and B",
        "product": ProductFactory(code="PT-TERM", name="Term deposit", category="deposit"),
        "channels": ["call_centre", "email"], "contact_costs": {"call_centre": "12.50", "email": "0.20"},
        "budget": Decimal("50000"), "control_share": Decimal("0.10"), "starts_on": dt.date(2026, 12, 1),
        "criteria": {"tiers": ["A", "B"], "branches": [branch.pk], "min_propensity": 0.2},
    } | overrides
    return campaign_save(actor=maker, **fields)


def _steps(campaign: Campaign) -> list[tuple[str, str]]:
    return [(event.detail.get("step", event.action), event.outcome)
            for event in AuditEvent.objects.filter(object_type="campaign", object_id=str(campaign.pk))
            .order_by("id")]


def test_draft_submit_approve_launch_close_by_two_people(maker, supervisor_a, branch_a):
    campaign = _draft(maker, branch_a)
    assert (campaign.status, campaign.version, campaign.channel) == (Status.DRAFT, 1, "call_centre")
    campaign = campaign_submit(campaign=campaign, actor=maker)
    assert campaign.status == Status.SUBMITTED and campaign.submitted_by == maker
    campaign = campaign_approve(campaign=campaign, actor=supervisor_a, version=1)
    assert campaign.status == Status.APPROVED and campaign.decided_by == supervisor_a
    campaign = targets_chosen(campaign)
    campaign = campaign_launch(campaign=campaign, actor=supervisor_a, today=dt.date(2026, 12, 1))
    assert campaign.status == Status.ACTIVE
    campaign = campaign_close(campaign=campaign, actor=supervisor_a)
    assert campaign.status == Status.COMPLETED
    assert _steps(campaign) == [("create", "allowed"), ("submit", "allowed"), ("approve", "allowed"),
                                ("launch", "allowed"), ("close", "allowed")]


def test_the_maker_cannot_approve_their_own_campaign_and_the_refusal_is_audited(maker, branch_a):
    campaign = campaign_submit(campaign=_draft(maker, branch_a), actor=maker)
    with pytest.raises(PermissionDenied, match="another user"):
        campaign_approve(campaign=campaign, actor=maker, version=campaign.version)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.SUBMITTED
    assert ("approve", "denied") in _steps(campaign)


def test_an_rm_and_another_branchs_supervisor_cannot_decide_an_admin_can(maker, rm_a, supervisor_b, bank_admin,
                                                                          branch_a):
    campaign = campaign_submit(campaign=_draft(maker, branch_a), actor=maker)
    for actor in (rm_a, supervisor_b):
        with pytest.raises(PermissionDenied):
            campaign_approve(campaign=campaign, actor=actor, version=campaign.version)
    assert campaign_approve(campaign=campaign, actor=bank_admin, version=campaign.version).status == Status.APPROVED


def test_a_bank_wide_campaign_needs_an_administrator(maker, supervisor_a, bank_admin, branch_a):
    campaign = campaign_submit(campaign=_draft(maker, branch_a, criteria={"tiers": ["A"]}), actor=maker)
    with pytest.raises(PermissionDenied, match="administrator"):
        campaign_approve(campaign=campaign, actor=supervisor_a, version=campaign.version)
    campaign_reject(campaign=campaign, actor=bank_admin, reason="Budget too high for Q1")
    campaign.refresh_from_db()
    assert campaign.status == Status.REJECTED and campaign.rejection_reason == "Budget too high for Q1"


def test_a_change_after_submission_goes_back_to_draft_and_an_outdated_approval_is_refused(
    maker, supervisor_a, branch_a
):
    campaign = campaign_submit(campaign=_draft(maker, branch_a), actor=maker)
    read = campaign.version
    campaign = campaign_save(actor=maker, campaign=campaign, budget=Decimal("80000"))
    assert campaign.status == Status.DRAFT and campaign.version == read + 1 and campaign.submitted_at is None
    campaign = campaign_submit(campaign=campaign, actor=maker)
    with pytest.raises(ValidationError, match="changed after you opened it"):
        campaign_approve(campaign=campaign, actor=supervisor_a, version=read)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.SUBMITTED
    campaign_approve(campaign=campaign, actor=supervisor_a, version=read + 1)


def test_a_rejection_needs_a_reason_and_a_rejected_campaign_can_be_mended_and_resubmitted(
    maker, supervisor_a, branch_a
):
    campaign = campaign_submit(campaign=_draft(maker, branch_a), actor=maker)
    with pytest.raises(ValidationError, match="Say why"):
        campaign_reject(campaign=campaign, actor=supervisor_a, reason="  ")
    campaign = campaign_reject(campaign=campaign, actor=supervisor_a, reason="Control group too small")
    campaign = campaign_save(actor=maker, campaign=campaign, control_share=Decimal("0.2"))
    assert campaign.status == Status.DRAFT
    assert campaign_submit(campaign=campaign, actor=maker).status == Status.SUBMITTED


def test_a_running_campaign_is_not_changed_and_not_launched_before_its_start(maker, supervisor_a, branch_a):
    campaign = campaign_approve(campaign=campaign_submit(campaign=_draft(maker, branch_a), actor=maker),
                                actor=supervisor_a, version=1)
    with pytest.raises(ValidationError, match="starts on"):
        campaign_launch(campaign=campaign, actor=supervisor_a, today=dt.date(2026, 11, 30))
    with pytest.raises(ValidationError, match="Target the campaign before launching it"):
        campaign_launch(campaign=campaign, actor=supervisor_a, today=dt.date(2026, 12, 2))
    campaign = targets_chosen(campaign)
    campaign = campaign_launch(campaign=campaign, actor=supervisor_a, today=dt.date(2026, 12, 2))
    with pytest.raises(ValidationError, match="cannot be changed"):
        campaign_save(actor=maker, campaign=campaign, budget=Decimal("1"))
    with pytest.raises(ValidationError, match="Only a draft"):
        campaign_submit(campaign=campaign, actor=maker)


def test_submit_needs_a_product_a_budget_and_channels(maker, branch_a):
    campaign = _draft(maker, branch_a, product=None, budget=None)
    with pytest.raises(ValidationError, match="a product, a budget"):
        campaign_submit(campaign=campaign, actor=maker)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"channels": []}, "at least one contact channel"),
    ({"channels": ["pigeon"]}, "at least one contact channel"),
    ({"contact_costs": {"call_centre": "-1", "email": "0"}}, "cannot be negative"),
    ({"contact_costs": {"call_centre": "12"}}, "cost of one contact by email"),
    ({"control_share": Decimal("0.75")}, "from 0 to 50 percent"),
    ({"budget": Decimal("-5")}, "cannot be negative"),
    ({"criteria": {"tiers": ["Z"]}}, "tiers are A, B and C"),
    ({"criteria": {"colour": "red"}}, "Unknown criteria: colour"),
    ({"criteria": {"min_propensity": 1.5}}, "probability from 0 to 1"),
    ({"criteria": {"branches": [999_999]}}, "Unknown branch"),
    ({"criteria": {"holds_product": "NOPE"}}, "Unknown product NOPE"),
    ({"ends_on": dt.date(2026, 1, 1)}, "ends on or after the day it starts"),
])
def test_bad_campaign_input_is_refused_and_nothing_is_written(maker, branch_a, overrides, message):
    with pytest.raises(ValidationError, match=message):
        _draft(maker, branch_a, **overrides)
    assert not Campaign.objects.filter(code="TD-2027").exists()
    assert not AuditEvent.objects.filter(object_type="campaign").exists()


def test_the_admin_shows_campaigns_but_cannot_bypass_the_four_eyes_rule(client, bank_admin, maker, branch_a):
    campaign = _draft(maker, branch_a)
    client.force_login(bank_admin)
    assert client.get("/admin/campaigns/campaign/").status_code == 200
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # view only
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/change/", {"status": "active"})
    assert response.status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).status == Status.DRAFT


def test_another_branchs_supervisor_may_not_change_launch_or_close_a_campaign(maker, supervisor_a, supervisor_b,
                                                                               branch_a):
    campaign = campaign_submit(campaign=_draft(maker, branch_a), actor=maker)
    with pytest.raises(PermissionDenied, match="may change it"):
        campaign_save(actor=supervisor_b, campaign=campaign, budget=Decimal("1"))
    campaign = targets_chosen(campaign_approve(campaign=campaign, actor=supervisor_a, version=campaign.version))
    with pytest.raises(PermissionDenied, match="may launch or close it"):
        campaign_launch(campaign=campaign, actor=supervisor_b, today=dt.date(2026, 12, 1))
    campaign = campaign_launch(campaign=campaign, actor=supervisor_a, today=dt.date(2026, 12, 1))
    with pytest.raises(PermissionDenied, match="may launch or close it"):
        campaign_close(campaign=campaign, actor=supervisor_b)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE


def test_a_checker_who_changed_the_campaign_may_not_approve_it(maker, supervisor_a, branch_a):
    """Four eyes: supervisor A rewrote the maker's draft, the maker submitted it; A may not approve it."""
    campaign = _draft(maker, branch_a)
    campaign = campaign_save(actor=supervisor_a, campaign=campaign, budget=Decimal("99999"))
    campaign = campaign_submit(campaign=campaign, actor=maker)

    with pytest.raises(PermissionDenied, match="drafted, changed and submitted"):
        campaign_approve(campaign=campaign, actor=supervisor_a, version=campaign.version)
    assert Campaign.objects.get(pk=campaign.pk).status == Status.SUBMITTED
