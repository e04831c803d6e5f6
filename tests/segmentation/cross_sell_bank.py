"""A published segmentation run with hand-counted holdings, for the cross-sell tests.

Segment 0 ("Young digital savers"), 40 members, all with a current account:
- 10 hold only the current account ("plain");
- 10 hold current + card ("carded");
- 20 hold current + card + loan ("full").
So card: 30 of 40 (75 %); loan: 20 of 40 (50 %); of the 30 card holders 20 hold a loan (66.7 %,
lift 1.33); current → card has lift 1 (everybody holds current) and is no rule.
Segment 1 ("Small segment"), 10 members with a current account: below MIN_SUPPORT, so only the
bank-wide figures speak for them (50 customers: card 30, loan 20; card → loan 20 of 30, lift 1.67).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crm_bank.runs.models import CurrentRun, Run
from customers.models import Customer, Product
from segmentation.models import CustomerFeatures, CustomerPrediction, LearnedSegment, SegmentMembership
from tests.customers.factories import CustomerFactory, ProductFactory

AS_OF = dt.date(2024, 6, 30)


@dataclass
class AffinityBank:
    segmentation_run: Run
    model_run: Run
    plain: list[Customer] = field(default_factory=list)
    carded: list[Customer] = field(default_factory=list)
    full: list[Customer] = field(default_factory=list)
    small: list[Customer] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)


def _publish(kind: str, **fields) -> Run:
    from django.utils import timezone

    run = Run.objects.create(kind=kind, status=Run.Status.SUCCEEDED, as_of=AS_OF, **fields)
    CurrentRun.objects.update_or_create(kind=kind, defaults={"run": run, "published_at": timezone.now()})
    return run


def affinity_bank(branch, rm) -> AffinityBank:
    bank = AffinityBank(segmentation_run=_publish("segmentation"), model_run=_publish("model_training"))
    for category in ("current", "card", "loan", "deposit"):
        bank.products[category] = ProductFactory(code=f"P-{category}", name=category.title(), category=category)
    LearnedSegment.objects.create(run_id=bank.segmentation_run.pk, number=0, name="Young digital savers", size=40)
    LearnedSegment.objects.create(run_id=bank.segmentation_run.pk, number=1, name="Small segment", size=10)
    features, members = [], []
    for group, count, mix, segment in (("plain", 10, {"current": 1}, 0), ("carded", 10, {"current": 1, "card": 1}, 0),
                                       ("full", 20, {"current": 1, "card": 2, "loan": 1}, 0),
                                       ("small", 10, {"current": 1}, 1)):
        for _ in range(count):
            customer = CustomerFactory(home_branch=branch, primary_rm=rm)
            getattr(bank, group).append(customer)
            features.append(CustomerFeatures(
                run_id=bank.segmentation_run.pk, customer=customer, branch=branch, rm=rm, frequency=0, money_in=0,
                money_out=0, deposit_balance=0, loans_outstanding=0, card_payments=0, fees_paid=0,
                product_count=sum(mix.values()), **{f"n_{category}": n for category, n in mix.items()}))
            members.append(SegmentMembership(run_id=bank.segmentation_run.pk, customer=customer, segment=segment))
    CustomerFeatures.objects.bulk_create(features)
    SegmentMembership.objects.bulk_create(members)
    return bank


def predict(bank: AffinityBank, customer: Customer, propensity: float) -> None:
    CustomerPrediction.objects.create(run_id=bank.model_run.pk, customer=customer, propensity=propensity,
                                      propensity_reason="", churn_reason="")
