"""A campaign's scorecard: its conversion, cost per conversion and return on the budget against the
plan its targeting run made, scored with the standard model (performance.scoring), and its uplift
over the control group with the 95 % interval (campaigns.dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.dashboard import Uplift, campaign_funnel_and_spend, campaign_slow_figures, targeting_group_sizes
from campaigns.models import Campaign
from performance import scoring

CAP = 1.5
# Each figure weighs the same in a campaign's score.
LINES = (
    ("conversion", _("Conversion of the contacted"), "percent", "higher"),
    ("cost_per_conversion", _("Cost per conversion"), "amount", "lower"),
    ("return", _("Return on the money spent"), "percent", "higher"),
)


@dataclass(frozen=True)
class CampaignLine:
    code: str
    label: str
    unit: str
    direction: str
    actual: float | None
    plan: float | None
    achievement: float | None


@dataclass(frozen=True)
class CampaignScorecard:
    campaign: Campaign
    lines: list[CampaignLine]
    score: float | None
    uplift: Uplift
    contacted: int
    converted: int
    spent: float
    budget: float | None
    computed_at: object  # now: the contacts so far
    uplift_at: object  # when the uplift was computed (kept a minute by the beat)


def campaign_scorecard(*, campaign: Campaign) -> CampaignScorecard:
    """The plan is the targeting run's (by expected value): expected responses ÷ contacts, its cost
    ÷ expected responses, and the expected value ÷ its cost; the actuals are the contacts so far."""
    sizes = targeting_group_sizes(campaign)
    funnel, spend = campaign_funnel_and_spend(campaign=campaign, group_sizes=sizes)
    plan = ((campaign.targeting_run.metrics or {}).get("comparison") or {}).get("by_expected_value") or {} \
        if campaign.targeting_run else {}
    value = float(campaign.conversion_value or 0)
    planned = {
        "conversion": 100 * plan["expected_responses"] / plan["contacts"] if plan.get("contacts") else None,
        "cost_per_conversion": plan["cost"] / plan["expected_responses"] if plan.get("expected_responses") else None,
        "return": 100 * plan["expected_value"] / plan["cost"] if plan.get("cost") else None,
    }
    actual = {
        "conversion": 100 * funnel.converted / funnel.contacted if funnel.contacted else None,
        "cost_per_conversion": spend.per_conversion,
        "return": 100 * (funnel.converted * value - spend.spent) / spend.spent if spend.spent else None,
    }
    lines = [CampaignLine(code, str(label), unit, direction, actual[code], planned[code],
                          scoring.achievement(actual=actual[code], target=planned[code], direction=direction, cap=CAP))
             for code, label, unit, direction in LINES]
    score = scoring.weighted_score([(line.achievement, 1.0) for line in lines])
    slow = campaign_slow_figures(campaign=campaign, group_sizes=sizes)
    return CampaignScorecard(campaign, lines, score, slow.uplift, funnel.contacted, funnel.converted, spend.spent,
                             spend.budget, timezone.now(), slow.computed_at)


def campaign_scorecard_rows(card: CampaignScorecard) -> list[list[object]]:
    """The scorecard as a table for a file."""
    from django.utils.translation import gettext as gettext_now

    uplift = card.uplift
    rows: list[list[object]] = [
        [gettext_now("Scorecard"), card.campaign.localized_name], [gettext_now("Code"), card.campaign.code],
        [gettext_now("Computed"), card.computed_at.isoformat(timespec="seconds")],
        [gettext_now("Score (0–100)"), card.score], [gettext_now("Contacted"), card.contacted],
        [gettext_now("Converted"), card.converted], [gettext_now("Spent"), round(card.spent, 2)],
        [gettext_now("Budget"), card.budget],
        [gettext_now("Uplift over the control group"),
         None if uplift.difference is None else round(uplift.difference, 4)],
        [gettext_now("95% interval"), "" if uplift.interval is None
         else f"{uplift.interval[0]:.4f} … {uplift.interval[1]:.4f}"], [],
        [gettext_now("Figure"), gettext_now("Actual"), gettext_now("Plan"), gettext_now("Achievement (%)")],
    ]
    for line in card.lines:
        rows.append([line.label, None if line.actual is None else round(line.actual, 4),
                     None if line.plan is None else round(line.plan, 4),
                     None if line.achievement is None else round(100 * line.achievement, 1)])
    return rows
