"""Why a KPI missed: the gap between the actual and the target split into drivers that add up exactly.

The standard decomposition compares the period with the one before (the baseline), group by group
(value tiers, learned segments or RMs), and then adds how far the target was set from the baseline:

    actual − target = (baseline − target)                     the plan against last period
                    + attrition                                customers lost since
                    + volume                                   more or fewer contacts / customers
                    + mix                                      a different blend of the groups
                    + rate                                     better or worse within each group

With N the measure's numerator and D its denominator summed over a group's rows (rate r = N / D,
share w = D / ΣD), the baseline first loses the rows of the customers lost since (attrition: for a
total, minus what they brought; for a ratio, how the ratio moves without them), then, for the rest:

* a ratio R = ΣN / ΣD:  mix = Σ (w₁ − w₀) r₀,  rate = Σ w₁ (r₁ − r₀),  no volume;
* a total T = ΣN:       volume = (D₁ − D₀) R₀,  mix = D₁ Σ (w₁ − w₀) r₀,  rate = D₁ Σ w₁ (r₁ − r₀).

A group new in the period is measured against the baseline's overall rate R₀. Each identity holds
exactly, so the drivers always sum to the total change (tests/performance/test_diagnosis.py checks
it with hypothesis). The figures come from the KPI's own measure (performance.measures), so they
are the scorecard's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from customers.models import Account, AccountHolder
from performance.measures import MEASURES, account_open_on, measure_params, period_days, period_previous
from segmentation.models import CustomerValue, LearnedSegment, SegmentMembership

GROUPINGS = ("tier", "segment", "rm", "channel", "stage")


@dataclass(frozen=True)
class GroupFigures:
    key: str
    num0: float
    den0: float
    num1: float
    den1: float
    # The baseline rows of customers lost since (no open account any more): their N and D.
    lost_num0: float = 0.0
    lost_den0: float = 0.0


@dataclass(frozen=True)
class GroupEffect:
    key: str
    rate0: float | None
    rate1: float | None
    share0: float
    share1: float
    mix: float
    rate: float


@dataclass(frozen=True)
class Decomposition:
    baseline: float
    actual: float
    attrition: float
    volume: float
    mix: float
    rate: float
    groups: list[GroupEffect]

    @property
    def change(self) -> float:
        return self.actual - self.baseline


def decompose(groups: list[GroupFigures], *, ratio: bool, scale: float = 1.0) -> Decomposition:
    """The drivers of the change from the baseline to the period (module docstring), exact."""
    num0 = sum(g.num0 for g in groups)
    den0 = sum(g.den0 for g in groups)
    num1 = sum(g.num1 for g in groups)
    den1 = sum(g.den1 for g in groups)
    kept = [(g, g.num0 - g.lost_num0, g.den0 - g.lost_den0) for g in groups]
    kept_num = sum(n for _g, n, _d in kept)
    kept_den = sum(d for _g, _n, d in kept)
    overall0 = kept_num / kept_den if kept_den else 0.0
    effects = []
    mix = rate = 0.0
    for group, n0, d0 in kept:
        r0 = n0 / d0 if d0 else overall0
        r1 = group.num1 / group.den1 if group.den1 else None
        w0 = d0 / kept_den if kept_den else 0.0
        w1 = group.den1 / den1 if den1 else 0.0
        group_mix = (w1 - w0) * r0
        group_rate = w1 * ((r1 if r1 is not None else r0) - r0)
        mix, rate = mix + group_mix, rate + group_rate
        effects.append(GroupEffect(group.key, r0 if d0 else None, r1, w0, w1, group_mix, group_rate))
    if ratio:
        baseline = num0 / den0 if den0 else 0.0
        actual = num1 / den1 if den1 else 0.0
        attrition, volume = overall0 - baseline, 0.0
    else:
        baseline, actual = num0, num1
        attrition = -(num0 - kept_num)
        volume = (den1 - kept_den) * overall0
        mix, rate = den1 * mix, den1 * rate
        effects = [GroupEffect(e.key, e.rate0, e.rate1, e.share0, e.share1, den1 * e.mix, den1 * e.rate)
                   for e in effects]
    return Decomposition(baseline * scale, actual * scale, attrition * scale, volume * scale, mix * scale,
                         rate * scale, [GroupEffect(e.key, None if e.rate0 is None else e.rate0 * scale,
                                                    None if e.rate1 is None else e.rate1 * scale, e.share0, e.share1,
                                                    e.mix * scale, e.rate * scale) for e in effects])


def _open_at(day_param: str) -> str:
    return (f"EXISTS (SELECT 1 FROM {AccountHolder._meta.db_table} h JOIN {Account._meta.db_table} a"
            f" ON a.id = h.account_id WHERE h.customer_id = k.customer_id AND {account_open_on('a', day_param)})")


def group_figures(*, measure_code: str, scope: str, scope_id: int, period: str, grouping: str,
                  value_run: int, segmentation_run: int) -> list[GroupFigures]:
    """The measure's N and D per group in the period and the one before, for one RM or branch, and
    the baseline rows of customers lost since (an open account at the baseline's end, none at the
    period's end). Two queries (one per period)."""
    if grouping not in GROUPINGS:
        raise ValueError(grouping)
    measure = MEASURES[measure_code]
    (previous,) = period_previous(period, 1)
    group_sql = {
        "tier": "coalesce(v.tier, '')", "segment": "coalesce(s.segment::text, '')",
        "rm": "coalesce(m.rm_id::text, '')", "channel": "coalesce(m.channel, '')", "stage": "coalesce(m.stage, '')",
    }[grouping]
    scope_column = "m.rm_id" if scope == "rm" else "m.branch_id"
    figures: dict[str, dict[str, float]] = {}
    _start, period_end = period_days(period)
    for which, name in ((0, previous), (1, period)):
        params = measure_params(name, value_run=value_run, segmentation_run=segmentation_run, scope_id=scope_id,
                                period_end=period_end)
        lost = (f"({_open_at('%(end_day)s')} AND NOT {_open_at('%(period_end)s')})" if which == 0 else "false")
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH m(customer_id, rm_id, branch_id, num, den, channel, stage) AS ({measure.sql_for(scope)}),
                    scoped AS (SELECT * FROM m WHERE {scope_column} = %(scope_id)s),
                    lost AS (SELECT k.customer_id FROM (SELECT DISTINCT customer_id FROM scoped) k WHERE {lost})
                    SELECT {group_sql}, sum(m.num)::float8, sum(m.den)::float8,
                           coalesce(sum(m.num) FILTER (WHERE l.customer_id IS NOT NULL), 0)::float8,
                           coalesce(sum(m.den) FILTER (WHERE l.customer_id IS NOT NULL), 0)::float8
                    FROM scoped m
                    LEFT JOIN lost l ON l.customer_id = m.customer_id
                    LEFT JOIN {CustomerValue._meta.db_table} v ON v.run_id = %(value_run)s
                        AND v.customer_id = m.customer_id
                    LEFT JOIN {SegmentMembership._meta.db_table} s ON s.run_id = %(segmentation_run)s
                        AND s.customer_id = m.customer_id
                    GROUP BY 1""",
                params,
            )
            for key, num, den, lost_num, lost_den in cursor.fetchall():
                row = figures.setdefault(key, {"num0": 0.0, "den0": 0.0, "num1": 0.0, "den1": 0.0,
                                               "lost_num0": 0.0, "lost_den0": 0.0})
                row[f"num{which}"], row[f"den{which}"] = num or 0.0, den or 0.0
                if which == 0:
                    row["lost_num0"], row["lost_den0"] = lost_num, lost_den
    return [GroupFigures(key, **values) for key, values in sorted(figures.items())]


def segment_names(segmentation_run: int) -> dict[str, str]:
    return {str(number): name for number, name in
            LearnedSegment.objects.filter(run_id=segmentation_run).values_list("number", "name")}
