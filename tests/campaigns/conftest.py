"""Fixtures of the campaign tests (helpers.py has the functions they use)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from channels.models import Complaint
from segmentation.models import CustomerPrediction, CustomerValue
from tests.campaigns.helpers import campaign_draft, campaign_running, published, targeting_run
from tests.customers.factories import CustomerFactory, ProductFactory, account_for


@pytest.fixture
def term():
    return ProductFactory(code="PT-TERM", name="Term deposit", category="deposit")


@pytest.fixture
def bank(branch_a, rm_a, supervisor_a, term):
    """Customers of branch A, one per reason, with tiers and propensities of published runs."""
    value_run, model_run = published("value_scoring"), published("model_training")

    def customer(name: str, *, tier: str = "A", propensity: float | None = 0.3, **fields):
        person = CustomerFactory(**{"home_branch": branch_a, "primary_rm": rm_a, "last_name": name,
                                    "marketing_consent": True, "do_not_contact": False, "last_contact_at": None,
                                    "lifecycle_stage": "customer"} | fields)
        CustomerValue.objects.create(run_id=value_run.pk, customer=person, branch=branch_a, rm=rm_a, value=100,
                                     rank=1, branch_rank=1, share=0.1, cumulative_share=0.1, tier=tier,
                                     previous_tier="")
        CustomerPrediction.objects.create(run_id=model_run.pk, customer=person, propensity=propensity,
                                          propensity_reason="", churn_reason="")
        return person

    people = {
        "good_a": customer("GoodA", propensity=0.4), "good_b": customer("GoodB", tier="B", propensity=0.2),
        "no_consent": customer("NoConsent", marketing_consent=False),
        "dnc": customer("Dnc", marketing_consent=False, do_not_contact=True),
        "complaint": customer("Complaint"),
        "recent": customer("Recent", last_contact_at=timezone.now() - dt.timedelta(days=5)),
        "holds": customer("Holds"), "tier_c": customer("TierC", tier="C"),
        "closed": customer("Closed", lifecycle_stage="closed"),
    }
    Complaint.objects.create(customer=people["complaint"], channel="branch", category=Complaint.Category.FEES,
                             description="Fee", branch=branch_a, owner=rm_a, status=Complaint.Status.OPEN,
                             opened_at=timezone.now(), sla_due_at=timezone.now() + dt.timedelta(days=2))
    account_for(people["holds"], product=term)
    return people


@pytest.fixture
def running(bank, term, branch_a, supervisor_a):
    """A running campaign targeted at branch A's tier A and B customers, drafted by another supervisor."""
    from tests.org.factories import StaffProfileFactory

    maker = StaffProfileFactory(user__username="maker_a", role="SUPERVISOR", branch=branch_a).user
    campaign = campaign_draft(maker, term, branch_a)
    targeting_run(campaign)
    return campaign_running(Campaign.objects.get(pk=campaign.pk), supervisor_a)
