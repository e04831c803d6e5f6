"""Shared by the campaign tests: a small bank of branch A with a customer per eligibility rule,
published value and model runs, a campaign drafted, targeted and launched."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_approve, campaign_launch, campaign_save, campaign_submit
from campaigns.targeting import CAMPAIGN_TARGETING
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.services import run_start


def published(kind: str) -> Run:
    run = Run.objects.create(kind=kind, status=Run.Status.SUCCEEDED)
    CurrentRun.objects.update_or_create(kind=kind, defaults={"run": run, "published_at": timezone.now()})
    return run


def campaign_draft(supervisor, term, branch, **overrides) -> Campaign:
    fields = {"code": "TD-1", "name": "Term deposit", "product": term, "channels": ["call_centre", "email"],
              "contact_costs": {"call_centre": "10", "email": "1"}, "budget": Decimal("100"),
              "conversion_value": Decimal("200"), "control_share": Decimal("0"), "starts_on": dt.date(2026, 12, 1),
              "criteria": {"tiers": ["A", "B"], "branches": [branch.pk]}} | overrides
    return campaign_save(actor=supervisor, **fields)


def targeting_run(campaign: Campaign) -> Run:
    run = run_start(kind=CAMPAIGN_TARGETING, params={"campaign": campaign.pk}, sync=True)
    run.refresh_from_db()
    return run


def targets_chosen(campaign: Campaign) -> Campaign:
    """Marks the campaign targeted for its current version (a published run without target rows), for
    tests of the maker-checker steps: a campaign is launched only with targets of the approved version."""
    run = Run.objects.create(kind=CAMPAIGN_TARGETING, status=Run.Status.SUCCEEDED,
                             params={"campaign": campaign.pk, "version": campaign.version})
    Campaign.objects.filter(pk=campaign.pk).update(targeting_run=run)
    campaign.refresh_from_db()
    return campaign


def campaign_running(campaign: Campaign, checker) -> Campaign:
    maker = campaign.created_by
    campaign = campaign_submit(campaign=campaign, actor=maker)
    campaign = campaign_approve(campaign=campaign, actor=checker, version=campaign.version)
    return campaign_launch(campaign=campaign, actor=checker, today=campaign.starts_on)
