"""A small bank for October 2026 with hand-counted KPI figures (tests/performance/test_kpi_run.py).

RM rm_a (branch A) — customers x, y, z, w:
- new customers: x and y became customers in October, z in September → 2.
- net deposit growth: x's current account +1,000 and −300 in October (−50 in September) → 700.
- products per customer at the end: x holds 2 open accounts, y none (closed on 15 October), z 1 → 3 / 2 = 1.5.
- campaign conversion: x accepted, y declined, z no answer, all contacted in October → 1 / 3 = 33.33 %.
- tier-A coverage: x and y are tier A; only x had an interaction in October → 50 %.
- complaint SLA: two complaints owned by rm_a resolved in October, one by its deadline → 50 %.
- skip-level complaints: one, opened in October.
- retention: x, y and z held an open account on 1 October (z's opening date is not known: it counts as
  open); y's only one closed on 15 October → 2 / 3 = 66.67 %.
- KYC on time: x due 1 December (on time), y due 15 October (overdue) → 50 %.
RM rm_a2 (branch A): customer v, became a customer in October → 1 new customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from channels.models import Complaint, Interaction
from customers.models import Customer, Transaction
from segmentation.models import CustomerValue
from tests.campaigns.helpers import published
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

PERIOD = "2026-10"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_default_timezone())


@dataclass
class KpiBank:
    x: Customer
    y: Customer
    z: Customer
    w: Customer
    v: Customer


@pytest.fixture
def kpi_bank(branch_a, rm_a, rm_a2) -> KpiBank:
    current = ProductFactory(code="CUR", category="current")
    card = ProductFactory(code="CARD", category="card")

    def customer(since: dt.date | None, rm=rm_a, **fields) -> Customer:
        return CustomerFactory(**{"home_branch": branch_a, "primary_rm": rm, "customer_since": since,
                                  "kyc_review_due": None} | fields)

    x = customer(dt.date(2026, 10, 3), kyc_review_due=dt.date(2026, 12, 1))
    y = customer(dt.date(2026, 10, 20), kyc_review_due=dt.date(2026, 10, 15))
    z = customer(dt.date(2026, 9, 30))
    w = customer(None)
    v = customer(dt.date(2026, 10, 31), rm=rm_a2)
    x_current = account_for(x, product=current, opened_on=dt.date(2026, 9, 1), closed_on=None)
    account_for(x, product=card, opened_on=dt.date(2026, 10, 5), closed_on=None)
    account_for(y, product=current, opened_on=dt.date(2026, 9, 1), closed_on=dt.date(2026, 10, 15))
    account_for(z, product=card, opened_on=None, closed_on=None)
    for day, amount, direction in ((dt.date(2026, 10, 4), "1000", "credit"), (dt.date(2026, 10, 9), "300", "debit"),
                                   (dt.date(2026, 9, 28), "50", "debit")):
        Transaction.objects.create(account=x_current, booked_at=at(day), amount=Decimal(amount), direction=direction,
                                   kind="transfer", channel="branch")
    campaign = Campaign.objects.create(code="KPI-C", name="Offer", channel="call_centre", channels=["call_centre"],
                                       starts_on=dt.date(2026, 10, 1), status=Campaign.Status.ACTIVE)
    for person, outcome in ((x, "accepted"), (y, "declined"), (z, "no_answer")):
        CampaignContact.objects.create(campaign=campaign, customer=person, contacted_on=dt.date(2026, 10, 10),
                                       attempts=1, outcome=outcome, channel="call_centre")
    value_run = published("value_scoring")
    for person, tier in ((x, "A"), (y, "A"), (z, "B")):
        CustomerValue.objects.create(run_id=value_run.pk, customer=person, branch=branch_a, rm=rm_a, value=1, rank=1,
                                     branch_rank=1, share=0.1, cumulative_share=0.1, tier=tier, previous_tier="")
    Interaction.objects.create(customer=x, channel="branch", kind="visit", direction="inbound",
                               occurred_at=at(dt.date(2026, 10, 12)), summary="Visit", branch=branch_a)
    Interaction.objects.create(customer=y, channel="branch", kind="visit", direction="inbound",
                               occurred_at=at(dt.date(2026, 9, 12)), summary="Visit", branch=branch_a)

    def complaint(customer: Customer, *, opened: dt.date, resolved: dt.date | None, due: dt.date, skip: bool = False):
        Complaint.objects.create(customer=customer, channel="branch", category=Complaint.Category.FEES,
                                 description="Fee", branch=branch_a, owner=rm_a, opened_at=at(opened),
                                 sla_due_at=at(due), resolved_at=at(resolved) if resolved else None,
                                 status=Complaint.Status.RESOLVED if resolved else Complaint.Status.OPEN,
                                 is_skip_level=skip)

    complaint(x, opened=dt.date(2026, 10, 1), resolved=dt.date(2026, 10, 2), due=dt.date(2026, 10, 3))
    complaint(y, opened=dt.date(2026, 10, 1), resolved=dt.date(2026, 10, 8), due=dt.date(2026, 10, 3))
    complaint(z, opened=dt.date(2026, 10, 20), resolved=None, due=dt.date(2026, 10, 25), skip=True)
    complaint(z, opened=dt.date(2026, 9, 1), resolved=dt.date(2026, 9, 2), due=dt.date(2026, 9, 3))
    return KpiBank(x, y, z, w, v)
