"""Realistic campaign traffic for the demo and the browser test: inbound calls, web, app and branch
visits, sales and feedback about the campaign's product, from the campaign's targeted customers,
posted through the channel ingest API (its token, validation, idempotency and counting) in batches.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from campaigns.models import Campaign, CampaignTarget

# (share, channel, kind, summary): what a campaign's customers do, by share of events.
EVENT_MIX = (
    (0.42, "call_centre", "enquiry", "Called about the offer"),
    (0.22, "web", "visit", "Read the offer page"),
    (0.12, "mobile", "visit", "Opened the offer in the app"),
    (0.10, "branch", "visit", "Came to the branch about the offer"),
    (0.08, "branch", "sale", "Took the product"),
    (0.06, "call_centre", "feedback", "Commented on the offer"),
)


@dataclass(frozen=True)
class TrafficPlan:
    campaign: Campaign
    customers: list[str]  # customer numbers of the targeted customers


def traffic_plan(*, campaign: Campaign) -> TrafficPlan:
    """The customers traffic comes from: the targeted customers of the campaign's published
    targeting; ValueError when there are none (target the campaign first) or the campaign is not
    running (the API takes events only for a running campaign)."""
    if campaign.status != Campaign.Status.ACTIVE:
        raise ValueError(f"campaign {campaign.code} is not running ({campaign.status}): launch it first")
    if campaign.targeting_run_id is None:
        raise ValueError("the campaign has no published targeting: run targeting first")
    customers = list(CampaignTarget.objects.filter(run_id=campaign.targeting_run_id,
                                                   group=CampaignTarget.Group.TREATMENT)
                     .values_list("customer__cif", flat=True))
    if not customers:
        raise ValueError("the campaign's targeting reached nobody")
    return TrafficPlan(campaign, customers)


def traffic_events(*, plan: TrafficPlan, count: int, start: datetime.datetime, end: datetime.datetime,
                   seed: int, prefix: str) -> Iterator[dict]:
    """`count` API items spread over [start, end), drawn with `seed` (the same seed, the same items)."""
    rng = random.Random(seed)
    shares = [share for share, *_ in EVENT_MIX]
    span = (end - start).total_seconds()
    product = plan.campaign.product.code if plan.campaign.product_id else ""
    for n in range(count):
        _share, channel, kind, summary = rng.choices(EVENT_MIX, weights=shares)[0]
        item = {
            "customer": rng.choice(plan.customers), "channel": channel, "kind": kind, "direction": "inbound",
            "occurred_at": (start + datetime.timedelta(seconds=span * n / max(count, 1))).isoformat(),
            "summary": summary, "source_id": f"{prefix}-{n:07d}", "campaign": plan.campaign.code,
        }
        if kind == "feedback" and product:
            item["product"] = product
        elif kind == "feedback":
            item["kind"] = "enquiry"
        yield item


def post_in_batches(items: Iterator[dict], *, post: Callable[[list[dict]], dict], size: int = 500) -> dict[str, int]:
    """Posts the items to the batch endpoint through `post` (returns the endpoint's counts per
    status); the totals per status."""
    totals: dict[str, int] = {}
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            for status, n in post(batch).items():
                totals[status] = totals.get(status, 0) + n
            batch = []
    if batch:
        for status, n in post(batch).items():
            totals[status] = totals.get(status, 0) + n
    return totals
