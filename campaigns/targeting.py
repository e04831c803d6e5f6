"""Campaign targeting as a batch run ("campaign_targeting", crm_bank/runs): who may be contacted,
why the others may not, the control group, and the budget spent where it is expected to pay most.

1. prepare: the live customers in id ranges.
2. process_chunk (set-based SQL per range): each customer gets the first reason that excludes them,
   in this order — `closed` (lifecycle closed), `outside_criteria` (the campaign's tiers, rule
   segments, branches, lifecycle stages, minimum propensity, holds / lacks a product, next-best
   product in the published cross-sell run),
   `do_not_contact` (asked not to be contacted: the stronger reason), `no_consent`,
   `open_complaint`, `contacted_recently` (within the least interval of the customer's service
   policy: their tier's, or a rule segment's own policy for the tier),
   `holds_product` (already holds the product offered), `channel_not_allowed` (none of the
   campaign's channels is one the tier's policy allows) — or is `eligible`. The counts per reason
   are kept per chunk; an eligible customer is written with the cheapest allowed channel, its cost
   and the expected value of the contact: propensity (published model; none: 0) × value of one
   conversion − cost.
3. finish: the control group is drawn from the eligible, `control_share` of each tier, with the
   campaign's seed (the same seed, the same group); the rest are ranked by expected value and
   targeted while the budget lasts (`over_budget` after it), leaving out contacts whose expected
   value does not cover their cost (`not_worth`). Then the same budget spent evenly (random
   contacts) and by propensity alone, for the preview's comparison.
4. publish: the campaign points at the run (its targets and control group).

Customers not in the published value run are served by tier C's policy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign, CampaignExclusion, CampaignTarget
from campaigns.selectors import service_policies
from campaigns.services import campaign_may_change_check
from channels.models import Complaint
from crm_bank.bulk import frame_from_query, quoted_table
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.registry import RunKind, chunk_ranges
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_start
from customers.models import Account, AccountHolder, Customer, Product
from segmentation.models import CrossSellSuggestion, CustomerPrediction, CustomerValue, SegmentMembership

CAMPAIGN_TARGETING = "campaign_targeting"
CHUNK_SIZE = 50_000
# The campaigns a targeting run may choose targets for: not yet running.
TARGETABLE = (Campaign.Status.DRAFT, Campaign.Status.SUBMITTED, Campaign.Status.APPROVED, Campaign.Status.REJECTED)
REASONS = ("eligible", "closed", "outside_criteria", "do_not_contact", "no_consent", "open_complaint",
           "contacted_recently", "holds_product", "channel_not_allowed")
UNSCORED_TIER = "C"
# How the preview names each count (the exclusion reasons, then the groups of the eligible).
COUNT_LABELS = {
    "closed": gettext_lazy("Closed customer"), "outside_criteria": gettext_lazy("Outside the target criteria"),
    "do_not_contact": gettext_lazy("Asked not to be contacted"), "no_consent": gettext_lazy("No marketing consent"),
    "open_complaint": gettext_lazy("Open complaint"),
    "contacted_recently": gettext_lazy("Contacted within the tier's interval"),
    "holds_product": gettext_lazy("Already holds the product"),
    "channel_not_allowed": gettext_lazy("No channel the tier's service policy allows"),
    "control": gettext_lazy("Control group"), "not_worth": gettext_lazy("Expected value below the contact's cost"),
    "over_budget": gettext_lazy("Beyond the budget"), "treatment": gettext_lazy("Targeted"),
}
STRATEGY_LABELS = {"by_expected_value": gettext_lazy("By expected value (this plan)"),
                   "by_propensity": gettext_lazy("By propensity alone"),
                   "evenly": gettext_lazy("Spread evenly (random contacts)")}


def targeting_start(*, campaign: Campaign, actor, sync: bool = False) -> Run:
    """Queues the campaign's targeting run (RunError when refused: bad params, one running;
    PermissionDenied for a user who may not change the campaign)."""
    campaign_may_change_check(actor, campaign)
    return run_start(kind=CAMPAIGN_TARGETING, params={"campaign": campaign.pk}, started_by=actor, sync=sync)


def targeting_active(*, campaign: Campaign) -> Run | None:
    """The campaign's targeting run queued or running now, if any."""
    return (Run.objects.filter(kind=CAMPAIGN_TARGETING, status__in=Run.ACTIVE, params__campaign=campaign.pk)
            .only("id", "status").first())


def targeting_params_clean(params: dict) -> dict:
    try:
        campaign_id = int(params["campaign"])
    except (KeyError, TypeError, ValueError):
        raise RunParamsInvalid(_("A targeting run needs its campaign.")) from None
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise RunParamsInvalid(_("No such campaign."))
    if campaign.status not in TARGETABLE:
        raise RunParamsInvalid(_("A running or closed campaign keeps the targets it was launched with."))
    missing = [label for label, present in ((_("a product"), campaign.product_id),
                                            (_("a budget"), campaign.budget is not None),
                                            (_("the value of one conversion"), campaign.conversion_value is not None),
                                            (_("channels"), campaign.channels)) if not present]
    if missing:
        raise RunParamsInvalid(_("Add %(missing)s before targeting.") % {"missing": ", ".join(missing)})
    # The version the targets are chosen for: they are published only if the campaign is still it.
    return {"campaign": campaign_id, "version": campaign.version}


def _campaign(run: Run) -> Campaign:
    return Campaign.objects.select_related("product").get(pk=run.params["campaign"])


def _current(kind: str) -> int:
    """The published run of `kind` by id (0 before the first: the joins then find no rows)."""
    run = current_run(kind=kind)
    return run.pk if run else 0


def targeting_prepare(run: Run) -> list[tuple[int, int]]:
    run.params = {**run.params, "value_run": _current("value_scoring"), "model_run": _current("model_training"),
                  "segment_run": _current("segmentation"), "cross_sell_run": _current("cross_sell"),
                  "now": timezone.now().isoformat()}
    Run.objects.filter(pk=run.pk).update(params=run.params)
    return chunk_ranges(Customer.objects.filter(merged_into__isnull=True), size=CHUNK_SIZE) or [(0, 0)]


def _criteria_sql(criteria: dict, params: dict) -> str:
    """The campaign's target criteria as one SQL condition over `b` (the chunk's customers)."""
    holder, account, product = (quoted_table(model) for model in (AccountHolder, Account, Product))
    holds = (f"EXISTS (SELECT 1 FROM {holder} h JOIN {account} a ON a.id = h.account_id JOIN {product} p"
             f" ON p.id = a.product_id WHERE h.customer_id = b.id AND a.status = 'active' AND p.code = %({{key}})s)")
    parts = ["true"]
    for key, sql in (("tiers", "coalesce(b.tier, '') = ANY(%(tiers)s)"),
                     ("branches", "b.home_branch_id = ANY(%(branches)s)"),
                     ("lifecycle_stages", "b.lifecycle_stage = ANY(%(lifecycle_stages)s)"),
                     ("segments", "coalesce(b.rule_segments, '{}') && %(segments)s::int[]"),
                     ("min_propensity", "coalesce(b.propensity, 0) >= %(min_propensity)s"),
                     ("next_best_product", "coalesce(b.next_best, '') = %(next_best_product)s")):
        if criteria.get(key) not in (None, [], ""):
            parts.append(sql)
            params[key] = criteria[key]
    if criteria.get("holds_product"):
        parts.append(holds.format(key="holds_code"))
        params["holds_code"] = criteria["holds_product"]
    if criteria.get("lacks_product"):
        parts.append("NOT " + holds.format(key="lacks_code"))
        params["lacks_code"] = criteria["lacks_product"]
    return " AND ".join(parts)


def targeting_chunk(run: Run, lo: int, hi: int) -> int:
    """Step 2 for customers lo..hi: the eligible written, the counts per reason kept."""
    campaign = _campaign(run)
    policies = service_policies()
    keys = sorted(policies, key=lambda key: (key[0], key[1] or 0))
    params: dict = {
        "run": run.pk, "lo": lo, "hi": hi, "value_run": run.params.get("value_run", 0),
        "model_run": run.params.get("model_run", 0), "segment_run": run.params.get("segment_run", 0),
        "now": run.params.get("now") or timezone.now(), "product": campaign.product_id,
        "conversion": float(campaign.conversion_value or 0), "unscored": UNSCORED_TIER,
        "policy_tiers": [tier for tier, _segment in keys], "policy_segments": [segment or 0 for _tier, segment in keys],
        "policy_days": [policies[key].min_contact_days for key in keys],
        "policy_channels": ["{" + ",".join(policies[key].channels) + "}" for key in keys],
        "cross_sell_run": run.params.get("cross_sell_run", 0),
        "channels": list(campaign.contact_costs), "costs": [float(cost) for cost in campaign.contact_costs.values()],
        "open": list(Complaint.OPEN_STATUSES),
    }
    criteria = _criteria_sql(campaign.criteria or {}, params)
    holder, account = quoted_table(AccountHolder), quoted_table(Account)
    judged = f"""
        WITH b AS (
            SELECT c.id, c.home_branch_id, c.primary_rm_id, c.lifecycle_stage, c.marketing_consent, c.do_not_contact,
                   c.last_contact_at, v.tier, p.propensity, m.rule_segments, x.category AS next_best
            FROM {quoted_table(Customer)} c
            LEFT JOIN {quoted_table(CustomerValue)} v ON v.run_id = %(value_run)s AND v.customer_id = c.id
            LEFT JOIN {quoted_table(CustomerPrediction)} p ON p.run_id = %(model_run)s AND p.customer_id = c.id
            LEFT JOIN {quoted_table(SegmentMembership)} m ON m.run_id = %(segment_run)s AND m.customer_id = c.id
            LEFT JOIN {quoted_table(CrossSellSuggestion)} x ON x.run_id = %(cross_sell_run)s AND x.customer_id = c.id
            WHERE c.id BETWEEN %(lo)s AND %(hi)s AND c.merged_into_id IS NULL
        ), policy AS (
            SELECT t.tier, nullif(t.segment, 0) AS segment, t.days, t.channels::text[] AS channels
            FROM unnest(%(policy_tiers)s::text[], %(policy_segments)s::int[], %(policy_days)s::int[],
                        %(policy_channels)s::text[]) AS t(tier, segment, days, channels)
        ), costs AS (
            SELECT * FROM unnest(%(channels)s::text[], %(costs)s::float8[]) AS k(channel, cost)
        ), judged AS (
            SELECT b.*, pol.days, best.channel, best.cost, CASE
                WHEN b.lifecycle_stage = 'closed' THEN 'closed'
                WHEN NOT ({criteria}) THEN 'outside_criteria'
                WHEN b.do_not_contact THEN 'do_not_contact'
                WHEN NOT b.marketing_consent THEN 'no_consent'
                WHEN EXISTS (SELECT 1 FROM {quoted_table(Complaint)} x WHERE x.customer_id = b.id
                             AND x.status = ANY(%(open)s)) THEN 'open_complaint'
                WHEN b.last_contact_at > %(now)s::timestamptz - make_interval(days => pol.days)
                    THEN 'contacted_recently'
                WHEN EXISTS (SELECT 1 FROM {holder} h JOIN {account} a ON a.id = h.account_id
                             WHERE h.customer_id = b.id AND a.product_id = %(product)s AND a.status = 'active')
                    THEN 'holds_product'
                WHEN best.channel IS NULL THEN 'channel_not_allowed'
                ELSE 'eligible' END AS reason
            FROM b
            -- The tier's policy, or a rule segment's own policy for the tier (the lowest segment id
            -- of the customer's segments that has one: campaigns.selectors.service_policy_for).
            LEFT JOIN LATERAL (SELECT * FROM policy own WHERE own.tier = coalesce(b.tier, %(unscored)s)
                                   AND (own.segment IS NULL OR own.segment = ANY(coalesce(b.rule_segments, '{{}}')))
                               ORDER BY own.segment IS NULL, own.segment LIMIT 1) pol ON true
            LEFT JOIN LATERAL (SELECT k.channel, k.cost FROM costs k WHERE k.channel = ANY(pol.channels)
                               ORDER BY k.cost, k.channel LIMIT 1) best ON true
        )"""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quoted_table(CampaignTarget)} WHERE run_id = %s"
                       " AND customer_id BETWEEN %s AND %s", [run.pk, lo, hi])
        cursor.execute(f"DELETE FROM {quoted_table(CampaignExclusion)} WHERE run_id = %s AND lo = %s", [run.pk, lo])
        cursor.execute(f"""{judged}, written AS (
            INSERT INTO {quoted_table(CampaignTarget)} (run_id, customer_id, branch_id, rm_id, tier, propensity,
                channel, cost, expected_value, "group", rank)
            SELECT %(run)s, j.id, j.home_branch_id, j.primary_rm_id, coalesce(j.tier, ''), j.propensity, j.channel,
                   j.cost, coalesce(j.propensity, 0) * %(conversion)s - j.cost, '', NULL
            FROM judged j WHERE j.reason = 'eligible' RETURNING 1)
            INSERT INTO {quoted_table(CampaignExclusion)} (run_id, lo, reason, customers)
            SELECT %(run)s, %(lo)s, reason, count(*) FROM judged GROUP BY reason""", params)
        cursor.execute(f"SELECT coalesce(sum(customers), 0) FROM {quoted_table(CampaignExclusion)}"
                       " WHERE run_id = %s AND lo = %s AND reason = 'eligible'", [run.pk, lo])
        return int(cursor.fetchone()[0])


def control_group(frame: pd.DataFrame, *, share: float, seed: int) -> np.ndarray:
    """A boolean mask: `share` of each tier's rows (rounded half up), drawn with `seed` over the rows in
    customer order, so the same eligible customers and seed always give the same group."""
    mask = np.zeros(len(frame), dtype=bool)
    rng = np.random.default_rng(seed)
    for _tier, rows in frame.sort_values("customer_id").groupby("tier", sort=True).groups.items():
        positions = frame.index.get_indexer(rows)
        take = int(share * len(positions) + 0.5)  # half up: a share of a small tier is not lost to rounding
        if take:
            mask[rng.choice(positions, size=take, replace=False)] = True
    return mask


def budget_fill(order: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    """A boolean mask of the rows taken in `order` while their cumulative cost stays within `budget`
    (a row that would overrun it is skipped, a cheaper later one may still fit)."""
    taken = np.zeros(len(costs), dtype=bool)
    spent = 0.0
    for position in order:
        if spent + costs[position] <= budget + 1e-9:
            spent += costs[position]
            taken[position] = True
    return taken


def _strategy(frame: pd.DataFrame, mask: np.ndarray, conversion: float) -> dict:
    chosen = frame[mask]
    responses = float(chosen["propensity"].fillna(0).sum())
    cost = float(chosen["cost"].sum())
    return {"contacts": int(mask.sum()), "expected_responses": round(responses, 2), "cost": round(cost, 2),
            "expected_value": round(responses * conversion - cost, 2)}


def targeting_finish(run: Run) -> dict:
    """Step 3: the control group, the budget, the comparison, the counts per reason."""
    campaign = _campaign(run)
    frame = frame_from_query(
        f"SELECT customer_id, tier, propensity, cost, expected_value FROM {quoted_table(CampaignTarget)}"
        f" WHERE run_id = {int(run.pk)} ORDER BY customer_id"
    )
    budget, conversion = float(campaign.budget or 0), float(campaign.conversion_value or 0)
    groups = np.full(len(frame), "", dtype=object)
    ranks = np.full(len(frame), -1, dtype=np.int64)
    comparison = {}
    if len(frame):
        control = control_group(frame, share=float(campaign.control_share), seed=campaign.seed)
        rest = np.flatnonzero(~control)
        by_value = rest[np.lexsort((frame["customer_id"].to_numpy()[rest], -frame["expected_value"].to_numpy()[rest]))]
        worth = by_value[frame["expected_value"].to_numpy()[by_value] > 0]
        treated = budget_fill(worth, frame["cost"].to_numpy(), budget)
        groups[control] = CampaignTarget.Group.CONTROL
        groups[rest] = CampaignTarget.Group.OVER_BUDGET
        groups[by_value[frame["expected_value"].to_numpy()[by_value] <= 0]] = CampaignTarget.Group.NOT_WORTH
        groups[treated] = CampaignTarget.Group.TREATMENT
        ranks[by_value] = np.arange(1, len(by_value) + 1)
        by_propensity = rest[np.lexsort((frame["customer_id"].to_numpy()[rest],
                                         -frame["propensity"].fillna(0).to_numpy()[rest]))]
        evenly = np.random.default_rng(campaign.seed).permutation(rest)
        comparison = {
            "by_expected_value": _strategy(frame, treated, conversion),
            "by_propensity": _strategy(frame, budget_fill(by_propensity, frame["cost"].to_numpy(), budget), conversion),
            "evenly": _strategy(frame, budget_fill(evenly, frame["cost"].to_numpy(), budget), conversion),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE {quoted_table(CampaignTarget)} t SET "group" = u.g, rank = nullif(u.r, -1)'
                " FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS u(customer_id, g, r)"
                " WHERE t.run_id = %s AND t.customer_id = u.customer_id",
                [frame["customer_id"].astype("int64").tolist(), groups.tolist(), ranks.tolist(), run.pk],
            )
    reasons = dict(CampaignExclusion.objects.filter(run_id=run.pk).values("reason")
                   .annotate(n=Sum("customers")).values_list("reason", "n"))
    counts = {reason: int(reasons.get(reason, 0)) for reason in REASONS}
    counts.pop("eligible")
    for group in CampaignTarget.Group.values:
        counts[group] = int((groups == group).sum())
    if not any(counts.values()):
        raise RunError(_("No customer to judge: the bank has no customers yet."))
    return {"counts": counts, "eligible": int(len(frame)), "budget": budget, "comparison": comparison,
            "propensity_model": bool(run.params.get("model_run"))}


def targeting_publish(run: Run) -> None:
    """The campaign's targets become this run's, if the campaign is still the version they were
    chosen for and not yet running; otherwise the run fails and the campaign keeps what it had (a
    campaign changed or launched meanwhile must not get a list chosen for another version)."""
    campaign = Campaign.objects.select_for_update().filter(pk=run.params["campaign"]).first()
    if campaign is None or campaign.status not in TARGETABLE or campaign.version != run.params.get("version"):
        raise RunError(_("The campaign changed or was launched while it was being targeted: target it again."))
    Campaign.objects.filter(pk=campaign.pk).update(targeting_run=run)


def targeting_runs_in_use() -> list[int]:
    """Every campaign's targeting run: its targets are the campaign's, however old the run."""
    return list(Campaign.objects.exclude(targeting_run=None).values_list("targeting_run_id", flat=True))


CAMPAIGN_TARGETING_KIND = RunKind(
    name=CAMPAIGN_TARGETING, version="targeting-1", clean_params=targeting_params_clean,
    prepare=targeting_prepare, process_chunk=targeting_chunk, finish=targeting_finish, publish=targeting_publish,
    # A campaign targeted again leaves its earlier targets to be deleted; the campaigns' own are
    # kept (the kind's "newest" run is only the last campaign targeted). Vacuumed and analysed
    # after each run, so the war room's reads of the targets are planned on real figures.
    result_tables=(CampaignTarget._meta.db_table,), keep_published=1, runs_in_use=targeting_runs_in_use,
)
