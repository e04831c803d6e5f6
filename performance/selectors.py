"""Reads of the published KPI runs for the scorecards: a period's newest run, one RM's or branch's
figures with their trend over the last periods, the league tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _lazy

from crm_bank.org.models import Branch
from crm_bank.runs.models import Run
from customers.models import Customer
from performance.measures import MEASURES, measure_params, period_days, period_previous
from performance.models import Kpi, KpiResult, KpiScore, Scope
from performance.runs import KPI_RUN

TREND_PERIODS = 6
# How far a campaign contact got (performance.measures' stage column).
STAGE_LABELS = {"converted": _lazy("converted"), "interested": _lazy("interested or to call back"),
                "declined": _lazy("declined"), "not_reached": _lazy("not reached")}
PUBLISHED = (Run.Status.SUCCEEDED, Run.Status.SUPERSEDED)


def kpi_runs_by_period(periods: list[str] | None = None) -> dict[str, Run]:
    """Each period's newest published KPI run (of `periods`, or of every period). One query."""
    runs = Run.objects.filter(kind=KPI_RUN, status__in=PUBLISHED).order_by("finished_at", "id")
    if periods is not None:
        runs = runs.filter(params__period__in=periods)
    return {run.params["period"]: run for run in runs.only("id", "params", "as_of", "finished_at")}


def kpi_periods() -> list[str]:
    """The periods with a published KPI run, newest first (by their days: as text "2026-Q3" sorted
    after "2026-11"), a month before the quarter that ends with it."""
    return sorted(kpi_runs_by_period(), key=lambda period: period_days(period)[::-1], reverse=True)


def kpi_run_active() -> Run | None:
    return Run.objects.filter(kind=KPI_RUN, status__in=Run.ACTIVE).only("id", "status", "params").first()


def format_figure(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == Kpi.Unit.PERCENT:
        return f"{number_format(round(value, 1), decimal_pos=1)} %"
    if unit == Kpi.Unit.RATIO:
        return number_format(round(value, 2), decimal_pos=2)
    if unit == Kpi.Unit.AMOUNT:
        return number_format(round(value, 2), decimal_pos=2, force_grouping=True)
    return number_format(round(value), force_grouping=True)


@dataclass(frozen=True)
class ScorecardLine:
    kpi: Kpi
    actual: float | None
    target: float | None
    achievement: float | None
    weight: float
    numerator: float
    denominator: float
    trend: list[float | None]  # the last TREND_PERIODS periods' actuals, oldest first, this one last
    customers_url: str

    @property
    def actual_text(self) -> str:
        return format_figure(self.actual, self.kpi.unit)

    @property
    def target_text(self) -> str:
        return format_figure(self.target, self.kpi.unit)

    @property
    def achievement_percent(self) -> float | None:
        return None if self.achievement is None else round(100 * self.achievement, 1)

    @property
    def missed(self) -> bool:
        return self.achievement is not None and self.achievement < 1

    @property
    def counts(self) -> str:
        return str(MEASURES[self.kpi.measure].counts)


@dataclass(frozen=True)
class Scorecard:
    run: Run
    period: str
    scope: str
    scope_id: int
    score: KpiScore | None
    lines: list[ScorecardLine]
    trend_periods: list[str] = field(default_factory=list)


def _customers_url(kpi: Kpi, scope: str, key: str, period: str) -> str:
    """The page listing the customers behind the figure (performance.views.kpi_customer_list)."""
    return f"{reverse('performance:customers', args=[scope, key, kpi.code])}?period={period}"


def scorecard(*, run: Run, scope: str, scope_id: int, key: str = "") -> Scorecard:
    """One RM's or branch's figures in `run`, each with its trend over the last periods. Three queries:
    the periods' runs, the figures of every period at once, the score."""
    period = run.params["period"]
    periods = [*period_previous(period, TREND_PERIODS - 1), period]
    runs = kpi_runs_by_period(periods)
    runs[period] = run
    rows = list(KpiResult.objects.filter(Q(run_id__in=[r.pk for r in runs.values()]), scope=scope, scope_id=scope_id)
                .select_related("kpi"))
    period_of_run = {r.pk: p for p, r in runs.items()}
    history: dict[int, dict[str, float | None]] = {}
    for row in rows:
        history.setdefault(row.kpi_id, {})[period_of_run[row.run_id]] = row.actual
    lines = [
        ScorecardLine(kpi=row.kpi, actual=row.actual, target=row.target, achievement=row.achievement,
                      weight=float(row.kpi.weight_for(scope)), numerator=row.numerator, denominator=row.denominator,
                      trend=[history.get(row.kpi_id, {}).get(p) for p in periods],
                      customers_url=_customers_url(row.kpi, scope, key, period) if key else "")
        for row in sorted((r for r in rows if r.run_id == run.pk), key=lambda r: (r.kpi.order, r.kpi.code))
    ]
    score = KpiScore.objects.filter(run_id=run.pk, scope=scope, scope_id=scope_id).first()
    return Scorecard(run=run, period=period, scope=scope, scope_id=scope_id, score=score, lines=lines,
                     trend_periods=periods)


@dataclass(frozen=True)
class LeagueRow:
    score: KpiScore
    name: str
    code: str


def branch_league(*, run: Run) -> list[LeagueRow]:
    """Every branch's score in `run`, the best first (unscored last). Two queries."""
    names = {b.pk: b for b in Branch.objects.all()}
    scores = KpiScore.objects.filter(run_id=run.pk, scope=Scope.BRANCH)
    ordered = sorted(scores, key=lambda s: (s.score is None, -(s.score or 0), names[s.scope_id].code))
    return [LeagueRow(score=s, name=names[s.scope_id].name, code=names[s.scope_id].code) for s in ordered]


def branch_rm_scores(*, run: Run, branch_id: int) -> list[tuple[KpiScore, object]]:
    """The branch's RMs' scores in `run` with their users, the best first. One query each."""
    from django.contrib.auth import get_user_model

    scores = list(KpiScore.objects.filter(run_id=run.pk, scope=Scope.RM, branch_id=branch_id))
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=[s.scope_id for s in scores])}
    scores.sort(key=lambda s: (s.score is None, -(s.score or 0), users[s.scope_id].get_username()))
    return [(s, users[s.scope_id]) for s in scores]


def branch_rms(*, branch_id: int) -> list:
    """The branch's RMs (users), by username. One query."""
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(staff_profile__branch_id=branch_id,
                                                staff_profile__role="RM").order_by("username"))


@dataclass(frozen=True)
class TargetGrid:
    kpis: list[Kpi]
    # (kpi id, "branch" or the RM's id) → the target
    cells: dict[tuple[int, object], object]
    proposed: list

    def rows(self, rm_ids: list[int]) -> list[tuple[Kpi, object, list[object]]]:
        return [(kpi, self.cells.get((kpi.pk, "branch")), [self.cells.get((kpi.pk, rm)) for rm in rm_ids])
                for kpi in self.kpis]


def target_grid(*, period: str, branch_id: int, rm_ids: list[int]) -> TargetGrid:
    """The period's targets of the branch and its RMs, by KPI. Two queries."""
    from performance.models import KpiTarget

    kpis = list(Kpi.objects.filter(active=True))
    targets = KpiTarget.objects.filter(Q(branch_id=branch_id) | Q(rm_id__in=rm_ids), period=period).select_related(
        "kpi", "set_by")
    cells: dict[tuple[int, object], object] = {}
    proposed = []
    for target in targets:
        cells[(target.kpi_id, "branch" if target.scope == Scope.BRANCH else target.rm_id)] = target
        if target.status == KpiTarget.Status.PROPOSED:
            proposed.append(target)
    return TargetGrid(kpis, cells, proposed)


def scorecard_rows(*, card: Scorecard, name: str) -> list[list[object]]:
    """The scorecard as a table for a file: who, period and run, the score; then a line per KPI."""
    from django.utils.translation import gettext as _

    score = card.score
    rows: list[list[object]] = [
        [_("Scorecard"), name], [_("Period"), card.period], [_("KPI run"), card.run.pk],
        [_("Data up to"), card.run.as_of.isoformat() if card.run.as_of else ""],
        [_("Score (0–100)"), score.score if score else None],
        [_("Rank among peers"), f"{score.rank}/{score.peers}" if score and score.rank else ""],
        [_("Peer group"), score.peer_group if score else ""], [],
        [_("KPI"), _("Unit"), _("Direction"), _("Actual"), _("Target"), _("Achievement (%)"), _("Weight"),
         _("Numerator"), _("Denominator")],
    ]
    for line in card.lines:
        rows.append([line.kpi.localized_name, line.kpi.get_unit_display(), line.kpi.get_direction_display(),
                     None if line.actual is None else round(line.actual, 4),
                     None if line.target is None else round(line.target, 4), line.achievement_percent, line.weight,
                     round(line.numerator, 4), round(line.denominator, 4)])
    return rows


@dataclass(frozen=True)
class Diagnosis:
    kpi: Kpi
    period: str
    previous: str
    grouping: str
    target: float | None
    result: object  # performance.diagnosis.Decomposition
    labels: dict[str, str]
    summary: list[str]

    @property
    def steps(self) -> list[tuple[str, float]]:
        """The waterfall from the target (or the baseline without one) to the actual."""
        from django.utils.translation import gettext as _

        r = self.result
        start = self.target if self.target is not None else r.baseline
        steps = [(_("Target") if self.target is not None else _("Last period"), start)]
        if self.target is not None:
            steps.append((_("Last period against the target"), r.baseline - self.target))
        steps += [(_("Customers lost"), r.attrition), (_("Volume"), r.volume), (_("Mix"), r.mix),
                  (_("Rate"), r.rate)]
        return steps

    def text(self, value: float | None) -> str:
        return format_figure(value, self.kpi.unit)


# A diagnosis reads the measure's rows of two periods for one RM or branch (seconds for a large branch
# at a million customers): kept this long per run, KPI, RM or branch, grouping and language.
DIAGNOSIS_CACHE_SECONDS = 3600


def kpi_diagnosis(*, run: Run, kpi: Kpi, scope: str, scope_id: int, grouping: str) -> Diagnosis:
    """Why `kpi` of one RM or branch came out as it did in `run`'s period (performance.diagnosis),
    with a plain-language summary. The measure's SQL twice (this period and the one before), then
    kept DIAGNOSIS_CACHE_SECONDS."""
    from django.core.cache import cache
    from django.utils.translation import get_language

    key = f"performance:diagnosis:{run.pk}:{kpi.pk}:{kpi.measure}:{scope}:{scope_id}:{grouping}:{get_language()}"
    found = cache.get(key)
    if found is None:
        found = _kpi_diagnosis(run=run, kpi=kpi, scope=scope, scope_id=scope_id, grouping=grouping)
        cache.set(key, found, DIAGNOSIS_CACHE_SECONDS)
    return found


def _kpi_diagnosis(*, run: Run, kpi: Kpi, scope: str, scope_id: int, grouping: str) -> Diagnosis:
    from django.contrib.auth import get_user_model
    from django.utils.translation import gettext as _

    from performance.diagnosis import decompose, group_figures, segment_names

    measure = MEASURES[kpi.measure]
    period = run.params["period"]
    (previous,) = period_previous(period, 1)
    segmentation = Run.objects.filter(kind="segmentation", status=Run.Status.SUCCEEDED).order_by("-id").first()
    figures = group_figures(measure_code=kpi.measure, scope=scope, scope_id=scope_id, period=period,
                            grouping=grouping, value_run=run.params.get("value_run") or 0,
                            segmentation_run=segmentation.pk if segmentation else 0)
    result = decompose(figures, ratio=measure.ratio, scale=100.0 if measure.percent else 1.0)
    row = KpiResult.objects.filter(run_id=run.pk, kpi=kpi, scope=scope, scope_id=scope_id).first()
    target = row.target if row else None
    if grouping == "segment":
        from segmentation.models import segment_label

        names = segment_names(segmentation.pk) if segmentation else {}
        labels = {f.key: segment_label(names[f.key]) if f.key in names else _("Not segmented") for f in figures}
    elif grouping == "rm":
        users = {str(u.pk): u.get_username() for u in get_user_model().objects.filter(
            pk__in=[int(f.key) for f in figures if f.key])}
        labels = {f.key: users.get(f.key, _("No RM")) for f in figures}
    elif grouping == "channel":
        from customers.models import Channel

        channels = dict(Channel.choices)
        labels = {f.key: str(channels.get(f.key, f.key)) if f.key else _("No channel") for f in figures}
    elif grouping == "stage":
        labels = {f.key: str(STAGE_LABELS.get(f.key, f.key)) for f in figures}
    else:
        labels = {f.key: _("Tier %(tier)s") % {"tier": f.key} if f.key else _("Not scored") for f in figures}
    diagnosis = Diagnosis(kpi, period, previous, grouping, target, result, labels, [])
    return Diagnosis(kpi, period, previous, grouping, target, result, labels, _summary(diagnosis, measure))


def _summary(d: Diagnosis, measure) -> list[str]:
    """Plain sentences: the miss, the group whose rate moved most the wrong way, volume, attrition."""
    from django.utils.translation import gettext as _

    r = d.result
    lower_better = d.kpi.direction == "lower"
    lines = []
    if d.target is not None:
        lines.append(_("%(kpi)s: %(actual)s against a target of %(target)s (%(previous)s: %(baseline)s).") % {
            "kpi": d.kpi.localized_name, "actual": d.text(r.actual), "target": d.text(d.target),
            "previous": d.previous, "baseline": d.text(r.baseline)})
    else:
        lines.append(_("%(kpi)s: %(actual)s (%(previous)s: %(baseline)s); no target was set.") % {
            "kpi": d.kpi.localized_name, "actual": d.text(r.actual), "previous": d.previous,
            "baseline": d.text(r.baseline)})
    moved = [g for g in r.groups if g.rate0 is not None and g.rate1 is not None]
    if moved:
        worst = max(moved, key=lambda g: g.rate if lower_better else -g.rate)
        if (worst.rate > 0) == lower_better and worst.rate != 0:
            what = d.kpi.localized_name if measure.ratio else _("%(kpi)s per unit") % {"kpi": d.kpi.localized_name}
            lines.append(_("%(what)s among %(group)s went from %(before)s to %(after)s.") % {
                "what": what, "group": d.labels.get(worst.key, worst.key),
                "before": d.text(worst.rate0) if measure.ratio else f"{worst.rate0:.2f}",
                "after": d.text(worst.rate1) if measure.ratio else f"{worst.rate1:.2f}"})
    gap = abs(r.change) or 1.0
    if not measure.ratio:  # a ratio has no volume
        lines.append(_("Volume was on plan.") if abs(r.volume) < 0.05 * gap
                     else _("Volume changed the figure by %(volume)s.") % {"volume": d.text(r.volume)})
    if abs(r.attrition) >= 0.05 * gap and r.attrition:
        lines.append(_("Customers lost since %(previous)s changed it by %(attrition)s.") % {
            "previous": d.previous, "attrition": d.text(r.attrition)})
    return lines


KPI_CUSTOMERS_PAGE = 50


@dataclass(frozen=True)
class KpiCustomerRow:
    customer: object
    num: float
    den: float


def kpi_customers(*, run: Run, kpi: Kpi, scope: str, scope_id: int, page: int) -> tuple[list[KpiCustomerRow], bool]:
    """The customers behind one figure of `run`: the rows of the KPI's measure for the RM or branch,
    summed per customer, the biggest contribution first, a page at a time (and whether there is a
    next page). Two queries."""
    params = measure_params(run.params["period"], value_run=run.params.get("value_run"), scope_id=scope_id,
                            limit=KPI_CUSTOMERS_PAGE + 1, offset=(page - 1) * KPI_CUSTOMERS_PAGE)
    column = "rm_id" if scope == Scope.RM else "branch_id"
    measure_sql = MEASURES[kpi.measure].sql_for(scope)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH m(customer_id, rm_id, branch_id, num, den, channel, stage) AS ({measure_sql})
                SELECT customer_id, sum(num)::float8, sum(den)::float8 FROM m WHERE {column} = %(scope_id)s
                GROUP BY customer_id ORDER BY sum(num) DESC, customer_id LIMIT %(limit)s OFFSET %(offset)s""",
            params,
        )
        rows = cursor.fetchall()
    customers = Customer.objects.in_bulk([row[0] for row in rows[:KPI_CUSTOMERS_PAGE]])
    return ([KpiCustomerRow(customers[cid], num, den) for cid, num, den in rows[:KPI_CUSTOMERS_PAGE]
             if cid in customers], len(rows) > KPI_CUSTOMERS_PAGE)
