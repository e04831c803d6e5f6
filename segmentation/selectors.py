"""Reads of the published value-scoring run for pages: Lorenz curve, tiers per branch and RM,
movers since the previous run, one customer's value for the 360° page.

Everything reads the run that CurrentRun points at (or a run the caller passes), so a run in
progress is never half-shown. Each function is one query sized for a million customers (the
indexes named in segmentation/models.py).
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef

from crm_bank.org.models import Branch
from crm_bank.prepared import prepared_cursor
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.selectors import current_run
from crm_bank.ui.names import localized
from customers.models import Product
from segmentation import scoring
from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.models import (
    CustomerValue,
    CustomerValueInputs,
    LearnedSegment,
    RuleSegment,
    SegmentMembership,
    ValueTierSummary,
    segment_label,
)
from segmentation.segments import SEGMENTATION
from segmentation.services import VALUE_SCORING

TIER_ORDER = {"A": 0, "B": 1, "C": 2}


def value_run_current() -> Run | None:
    """The published value-scoring run, or None before the first one."""
    return current_run(kind=VALUE_SCORING)


def value_run_active() -> Run | None:
    """The value-scoring run queued or running now (at most one, by the runs' constraint)."""
    return Run.objects.filter(kind=VALUE_SCORING, status__in=Run.ACTIVE).only("id", "status").first()


def value_formula(*, run: Run) -> dict[str, str]:
    """The run's rates and tier cut-offs as the Value page states them: margins, spread and fee share
    in per cent, the card income per payment in money, the cut-offs in per cent (no trailing zeros)."""
    weights = scoring.ValueWeights(**run.params.get("weights", {}))
    figures = {
        "deposit_margin": 100 * weights.deposit_margin, "lending_spread": 100 * weights.lending_spread,
        "card_income_per_payment": weights.card_income_per_payment, "fee_share": 100 * weights.fee_share,
        "a_percent": 100 * float(run.params.get("a_share", 0.80)),
        "b_percent": 100 * float(run.params.get("b_share", 0.15)),
    }
    return {name: f"{round(value, 6):g}" for name, value in figures.items()}


def value_lorenz_points(*, run: Run) -> list[tuple[float, float]]:
    """(share of customers, share of value), most valuable first, from (0, 0): the points the run
    stored in its metrics (scoring.lorenz_points), whatever the number of customers."""
    points = run.metrics.get("lorenz") or []
    return [(float(x), float(y)) for x, y in points] or [(0.0, 0.0)]


@dataclass(frozen=True)
class TierCounts:
    a: int
    b: int
    c: int
    value: float

    @property
    def total(self) -> int:
        return self.a + self.b + self.c

    @property
    def a_percent(self) -> float:
        return 100 * self.a / self.total if self.total else 0.0


@dataclass(frozen=True)
class BranchTiers:
    branch_id: int
    code: str
    name: str
    tiers: TierCounts
    # Within the branch: the share of its value its top 20 % bring (0–1) and its Gini (runs before
    # these figures were kept: None).
    top20_share: float | None = None
    gini: float | None = None

    @property
    def top20_percent(self) -> float | None:
        return None if self.top20_share is None else 100 * self.top20_share


_TIER_SUMS = (
    "sum(customers) FILTER (WHERE tier = 'A') AS a, sum(customers) FILTER (WHERE tier = 'B') AS b,"
    " sum(customers) FILTER (WHERE tier = 'C') AS c, sum(value) AS value"
)


def value_tiers_by_branch(*, run: Run) -> list[BranchTiers]:
    """Tier counts and value of every branch's customers in the run, the most valuable branch first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT b.id, b.code, b.name, t.a, t.b, t.c, t.value FROM (
                    SELECT branch_id, {_TIER_SUMS}
                    FROM {ValueTierSummary._meta.db_table} WHERE run_id = %s GROUP BY branch_id
                ) t JOIN {Branch._meta.db_table} b ON b.id = t.branch_id ORDER BY t.value DESC, b.code""",
            [run.pk],
        )
        rows = cursor.fetchall()
    pareto = run.metrics.get("branches") or {}
    return [
        BranchTiers(branch_id=bid, code=code, name=name, tiers=_tier_counts(a, b, c, value),
                    top20_share=pareto.get(str(bid), {}).get("top20_share"), gini=pareto.get(str(bid), {}).get("gini"))
        for bid, code, name, a, b, c, value in rows
    ]


def _tier_counts(a: int | None, b: int | None, c: int | None, value: float | None) -> TierCounts:
    return TierCounts(a=int(a or 0), b=int(b or 0), c=int(c or 0), value=float(value or 0))


@dataclass(frozen=True)
class RmTiers:
    rm_id: int | None
    username: str
    first_name: str
    last_name: str
    tiers: TierCounts


def value_tier_mix_by_rm(*, run: Run, limit: int = 50) -> list[RmTiers]:
    """The `limit` RMs with the most tier-A customers (then most customers), with their tier mix;
    customers without an RM form one row (rm_id None)."""
    user_table = get_user_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT t.rm_id, coalesce(u.username, ''), coalesce(u.first_name, ''), coalesce(u.last_name, ''),
                       t.a, t.b, t.c, t.value FROM (
                    SELECT rm_id, {_TIER_SUMS}, sum(customers) AS customers
                    FROM {ValueTierSummary._meta.db_table} WHERE run_id = %s GROUP BY rm_id
                    ORDER BY coalesce(sum(customers) FILTER (WHERE tier = 'A'), 0) DESC, sum(customers) DESC,
                             rm_id NULLS LAST
                    LIMIT %s
                ) t LEFT JOIN {user_table} u ON u.id = t.rm_id
                ORDER BY coalesce(t.a, 0) DESC, t.customers DESC, t.rm_id NULLS LAST""",
            [run.pk, limit],
        )
        return [
            RmTiers(rm_id=rm, username=username, first_name=first, last_name=last,
                    tiers=_tier_counts(a, b, c, value))
            for rm, username, first, last, a, b, c, value in cursor.fetchall()
        ]


@dataclass(frozen=True)
class MoversPage:
    from_tier: str
    to_tier: str
    rows: list[CustomerValue]
    number: int
    per_page: int
    count: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def value_movers_counts(*, run: Run) -> dict[str, int]:
    """How many customers moved between each pair of tiers since the previous run ("A→B": n)."""
    return dict(run.metrics.get("movers") or {})


def value_movers(*, run: Run, from_tier: str, to_tier: str, page: int = 1, per_page: int = 25) -> MoversPage:
    """One page of the customers who moved from `from_tier` to `to_tier`, most valuable first.

    The count comes from the run's metrics, so no count(*) runs; rows come with their customer
    and branch (the movers index, then one join per row shown).
    """
    count = value_movers_counts(run=run).get(f"{from_tier}→{to_tier}", 0)
    pages = max(1, math.ceil(count / per_page))
    page = min(max(1, page), pages)
    rows = list(
        CustomerValue.objects.filter(run=run, previous_tier=from_tier, tier=to_tier)
        .exclude(previous_tier="")
        .select_related("customer", "branch")
        .only("customer__cif", "customer__kind", "customer__first_name", "customer__last_name",
              "customer__legal_name", "customer__home_branch_id", "customer__primary_rm_id", "branch__code",
              "branch__name", "value", "rank", "tier", "previous_tier", "run_id", "customer_id", "branch_id")
        .order_by("rank")[(page - 1) * per_page: page * per_page]
    )
    return MoversPage(from_tier=from_tier, to_tier=to_tier, rows=rows, number=page, per_page=per_page, count=count)


@dataclass(frozen=True)
class CustomerValueSummary:
    """A customer's value in the published run, for the 360° page's value panel and header badge."""

    value: float
    share: float
    cumulative_share: float
    rank: int
    customers: int
    branch_rank: int
    tier: str
    previous_tier: str
    drivers: dict[str, float] = field(default_factory=dict)
    run_id: int = 0
    as_of: datetime.date | None = None
    published_at: datetime.datetime | None = None

    @property
    def tier_change(self) -> str:
        """"up", "down", "same", or "new" (not in the previous run, or there was none)."""
        if not self.previous_tier:
            return "new"
        if self.previous_tier == self.tier:
            return "same"
        return "up" if TIER_ORDER[self.tier] < TIER_ORDER[self.previous_tier] else "down"

    @property
    def top_percent(self) -> float:
        """"Top x %" of customers by value."""
        return 100 * self.rank / self.customers if self.customers else 0.0

    @property
    def main_driver(self) -> str:
        """The driver that brings the most of the value ("" when the value is zero)."""
        best = max(self.drivers.items(), key=lambda item: item[1], default=("", 0))
        return best[0] if best[1] > 0 else ""


def customer_value_summary(*, customer_id: int) -> CustomerValueSummary | None:
    """The customer's value, share, rank, tier, drivers and tier change in the published
    value-scoring run, with the run's date; None before the first run or if the customer was not
    in it. One query (primary keys of the run's value and inputs rows, the current pointer, the
    run); the money per driver is the inputs times the run's rates (scoring.customer_value)."""
    inputs = ", ".join(f"f.{column}::float8" for column in scoring.VALUE_INPUTS)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""SELECT v.value, v.share, v.cumulative_share, v.rank, (r.metrics ->> 'customers')::int,
                       v.branch_rank, v.tier, v.previous_tier, r.params -> 'weights', r.id, r.as_of, c.published_at,
                       {inputs}
                FROM {CurrentRun._meta.db_table} c
                JOIN {Run._meta.db_table} r ON r.id = c.run_id
                JOIN {CustomerValue._meta.db_table} v ON v.run_id = c.run_id AND v.customer_id = %s
                LEFT JOIN {CustomerValueInputs._meta.db_table} f
                  ON f.run_id = c.run_id AND f.customer_id = v.customer_id
                WHERE c.kind = %s""",
            [customer_id, VALUE_SCORING],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    value, share, cumulative, rank, customers, branch_rank, tier, previous, weights, run_id, as_of, published = row[:12]
    if isinstance(weights, str):  # Django's psycopg set-up leaves jsonb undecoded on a raw cursor
        weights = json.loads(weights)
    return CustomerValueSummary(
        value=value, share=share, cumulative_share=cumulative, rank=rank, customers=customers or 0,
        branch_rank=branch_rank, tier=tier, previous_tier=previous,
        drivers=scoring.value_drivers(dict(zip(scoring.VALUE_INPUTS, row[12:], strict=True)), weights or {}),
        run_id=run_id, as_of=as_of, published_at=published,
    )


def customer_in_tier(*, tier: str) -> Exists:
    """A condition for the customer list: the customer is in `tier` in the published value run.

    `Customer.objects.filter(customer_in_tier(tier="A"))`. An EXISTS on a known run id, so the list
    keeps walking its name index and probes custvalue_tier_customer_idx per row (4 ms at a
    million customers); `pk IN (subquery)` made PostgreSQL hash a whole tier first (1–7 s).
    Before the first run nobody is in a tier."""
    return customer_tier_filter(tier=tier).condition


# A tier holding at most this share of the published run's customers is counted on the customer list
# by a merge join (crm_bank.ui.paginators.capped_count): on a million customers, "tier A of a branch of
# 52,000" took 73 ms probing the tier index once per branch customer and 21 ms walking the branch's
# ids (customer_branch_id_idx) beside the tier's 84,000 entries; tier B (193,000) 81 and 43 ms. The
# bulk tier (C, 72 %) stays with the probes: the count stops at its cap after some 14,000 of them
# (38 ms), where the walk reads 723,000 entries (47–64 ms).
MERGE_COUNT_MAX_SHARE = 0.25


@dataclass(frozen=True)
class TierFilter:
    """The customer list's value-tier filter: the condition, and how its count is best taken."""

    condition: Exists
    count_by_merge_join: bool


def customer_tier_filter(*, tier: str) -> TierFilter:
    """customer_in_tier's condition, with the tier's share of the published run's customers read in
    the same query (the run's metrics) to choose how the list counts it."""
    if tier not in CustomerValue.Tier.values:
        raise ValueError(f"Unknown value tier {tier!r}.")
    row = (CurrentRun.objects.filter(kind=VALUE_SCORING)
           .values_list("run_id", f"run__metrics__tier_counts__{tier}", "run__metrics__customers").first())
    run_id, in_tier, customers = row or (None, None, None)
    small = bool(in_tier is not None and customers and int(in_tier) <= MERGE_COUNT_MAX_SHARE * int(customers))
    return TierFilter(
        condition=Exists(CustomerValue.objects.filter(run_id=run_id, tier=tier, customer_id=OuterRef("pk"))),
        count_by_merge_join=small,
    )


def tier_a_condition() -> Exists | None:
    """Tier A of the published value run as a customer filter, or None before the first run."""
    if not CurrentRun.objects.filter(kind=VALUE_SCORING).exists():
        return None
    return customer_in_tier(tier="A")


# The segmentation run: the segment page, rule segments, a customer's segment path

def segmentation_run_current() -> Run | None:
    """The published segmentation run, or None before the first one."""
    return current_run(kind=SEGMENTATION)


def segmentation_run_active() -> Run | None:
    """The segmentation run queued or running now (at most one, by the runs' constraint)."""
    return Run.objects.filter(kind=SEGMENTATION, status__in=Run.ACTIVE).only("id", "status").first()


@dataclass(frozen=True)
class SegmentReportRow:
    """One learned segment as the segment page reports it (shares and rates as fractions)."""

    number: int
    name: str
    size: int
    share: float | None
    value_share: float | None
    # (product category, % of the segment holding one), most held first.
    penetration: list[tuple[str, float]]
    digital_share: float | None
    response_rate: float | None
    median_age: float | None
    median_deposit_balance: float | None
    median_average_balance: float | None
    # Mean contacts and complaints per customer in the 12 months (interaction timeline).
    contacts_per_customer: float | None
    complaints_per_100: float | None
    # Of inbound contacts, the share made at a branch, the call centre or a service centre.
    assisted_share: float | None

    @property
    def label(self) -> str:
        return segment_label(self.name)

    # Percentages for the page (None stays None: "no data", not 0 %).
    @property
    def share_percent(self) -> float | None:
        return _percent(self.share)

    @property
    def value_percent(self) -> float | None:
        return _percent(self.value_share)

    @property
    def digital_percent(self) -> float | None:
        return _percent(self.digital_share)

    @property
    def response_percent(self) -> float | None:
        return _percent(self.response_rate)

    @property
    def assisted_percent(self) -> float | None:
        return _percent(self.assisted_share)


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


def segment_report(*, run: Run) -> list[SegmentReportRow]:
    """The run's learned segments with their profiles, in segment order (one query)."""
    categories = dict(Product.Category.choices)
    rows = []
    for segment in LearnedSegment.objects.filter(run=run).order_by("number"):
        profile = segment.profile
        penetration = sorted(
            ((str(categories.get(c, c)), 100 * profile[f"penetration_{c}"]) for c in PRODUCT_CATEGORIES
             if profile.get(f"penetration_{c}")),
            key=lambda item: -item[1],
        )
        rows.append(SegmentReportRow(
            number=segment.number, name=segment.name, size=segment.size, share=profile.get("share"),
            value_share=profile.get("value_share"), penetration=penetration,
            digital_share=profile.get("digital_share"), response_rate=profile.get("response_rate"),
            median_age=profile.get("median_age"), median_deposit_balance=profile.get("median_deposit_balance"),
            median_average_balance=profile.get("median_average_balance"),
            contacts_per_customer=profile.get("mean_contacts_12m"),
            complaints_per_100=_percent(profile.get("mean_complaints_12m")),
            assisted_share=profile.get("assisted_share"),
        ))
    return rows


@dataclass(frozen=True)
class TransitionCell:
    count: int
    # Share of the row's customers (0–100), which sets the cell's colour.
    percent: float


@dataclass(frozen=True)
class TransitionRow:
    label: str
    cells: list[TransitionCell]
    left: int
    total: int


@dataclass(frozen=True)
class TransitionTable:
    previous_run: Run
    columns: list[str]
    rows: list[TransitionRow]
    entered: list[int]


def segment_transitions(*, run: Run) -> TransitionTable | None:
    """Who moved between the segments of the run this one superseded and this one's, as the run
    recorded it; None for a first run. One query (both runs' segment names)."""
    transitions = run.metrics.get("transitions")
    previous_id = run.metrics.get("previous_run")
    if not transitions or not previous_id:
        return None
    names = {(s.run_id, s.number): s.label for s in LearnedSegment.objects.filter(run_id__in=[run.pk, previous_id])}
    previous_run = Run.objects.filter(pk=previous_id).only("id", "as_of", "finished_at").first()
    segments = transitions["segments"]
    rows = []
    for number, counts, left in zip(segments, transitions["counts"], transitions["left"], strict=True):
        total = sum(counts) + left
        rows.append(TransitionRow(
            label=names.get((previous_id, number), str(number)),
            cells=[TransitionCell(count=n, percent=100 * n / total if total else 0.0) for n in counts],
            left=left, total=total,
        ))
    return TransitionTable(
        previous_run=previous_run, columns=[names.get((run.pk, number), str(number)) for number in segments],
        rows=rows, entered=transitions["entered"],
    )


@dataclass(frozen=True)
class RuleSegmentRow:
    segment: RuleSegment
    # Customers in it in the published run; None if that run did not compute it (new or inactive).
    last_size: int | None


def rule_segments_with_sizes(*, run: Run | None) -> list[RuleSegmentRow]:
    """Every rule segment, active first, with its size in the published segmentation run."""
    sizes = (run.metrics.get("rule_sizes") or {}) if run is not None else {}
    return [
        RuleSegmentRow(segment=segment, last_size=sizes.get(str(segment.pk)))
        for segment in RuleSegment.objects.select_related("created_by").order_by("-active", "name")
    ]


@dataclass(frozen=True)
class RuleSegmentRef:
    id: int
    name: str
    name_zh: str

    @property
    def label(self) -> str:
        return localized(english=self.name, chinese=self.name_zh)


@dataclass(frozen=True)
class SegmentStep:
    """Where a customer was in one published segmentation run."""

    run_id: int
    as_of: datetime.date | None
    published_at: datetime.datetime | None
    segment: int
    # The English msgid; `segment_label` is what a page shows.
    segment_name: str
    rule_segments: tuple[RuleSegmentRef, ...] = ()

    @property
    def segment_label(self) -> str:
        return segment_label(self.segment_name)


# A membership's rule segments as a JSON list of [id, name, name_zh], by name (alias m: the membership).
_RULE_NAMES_SQL = f"""(SELECT coalesce(json_agg(json_build_array(rs.id, rs.name, rs.name_zh) ORDER BY rs.name), '[]')
    FROM {RuleSegment._meta.db_table} rs WHERE rs.id = ANY(m.rule_segments))"""


def _segment_step(row: tuple) -> SegmentStep:
    run_id, as_of, published_at, segment, name, rules = row
    if isinstance(rules, str):  # Django's psycopg set-up leaves json undecoded on a raw cursor
        rules = json.loads(rules)
    return SegmentStep(
        run_id=run_id, as_of=as_of, published_at=published_at, segment=segment, segment_name=name,
        rule_segments=tuple(RuleSegmentRef(id=i, name=n, name_zh=z) for i, n, z in rules),
    )


def customer_segment_path(*, customer_id: int, runs: int = 5) -> list[SegmentStep]:
    """The customer's learned and rule segments in the last `runs` published segmentation runs,
    oldest first (a path to draw left to right). One query: the published runs whose rows are kept
    (newest first), the customer's membership in each by the primary key (run, customer), each run's
    segment by (run, number), the rule segments by id (deleted ones drop out, names are today's).
    A run in progress or failed is never shown."""
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""SELECT * FROM (
                    SELECT r.id, r.as_of, r.finished_at, m.segment, coalesce(ls.name, ''),
                           {_RULE_NAMES_SQL}
                    FROM {Run._meta.db_table} r
                    JOIN {SegmentMembership._meta.db_table} m ON m.run_id = r.id AND m.customer_id = %s
                    LEFT JOIN {LearnedSegment._meta.db_table} ls ON ls.run_id = m.run_id AND ls.number = m.segment
                    WHERE r.kind = %s AND r.status IN (%s, %s) AND r.results_pruned_at IS NULL
                    ORDER BY r.id DESC LIMIT %s
                ) path ORDER BY 1""",
            [customer_id, SEGMENTATION, Run.Status.SUCCEEDED, Run.Status.SUPERSEDED, runs],
        )
        rows = cursor.fetchall()
    return [_segment_step(row) for row in rows]


def customer_segment_current(*, customer_id: int) -> SegmentStep | None:
    """The customer's segments in the published segmentation run (the 360° header badge), or None
    before the first run or when the customer was not in it. One query."""
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""SELECT r.id, r.as_of, c.published_at, m.segment, coalesce(ls.name, ''),
                       {_RULE_NAMES_SQL}
                FROM {CurrentRun._meta.db_table} c
                JOIN {Run._meta.db_table} r ON r.id = c.run_id
                JOIN {SegmentMembership._meta.db_table} m ON m.run_id = c.run_id AND m.customer_id = %s
                LEFT JOIN {LearnedSegment._meta.db_table} ls ON ls.run_id = m.run_id AND ls.number = m.segment
                WHERE c.kind = %s""",
            [customer_id, SEGMENTATION],
        )
        row = cursor.fetchone()
    return _segment_step(row) if row is not None else None
