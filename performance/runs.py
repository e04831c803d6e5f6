"""The KPI run ("kpi", crm_bank/runs): one period's figures for every RM and branch.

1. prepare: the period's bounds and the published value run fixed in the params; one chunk per
   active KPI (the chunk's lo and hi are the KPI's id).
2. process_chunk: the KPI's measure (performance.measures) summed per RM and per branch in one SQL
   statement (GROUPING SETS), written for every active RM and branch — a count with nothing to
   count is 0, a ratio with nothing to divide is no figure — with the period's approved target.
3. finish: achievements (direction-aware, capped), the weighted 0–100 scores, peer groups (RMs by
   book size, branches by region) and ranks.
The framework publishes the run. A period's scorecards read the period's newest published run; the
framework keeps each period's newest run's rows (runs_in_use) and prunes older reruns'.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.bulk import quoted_table
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.params import params_unknown_refuse
from crm_bank.runs.registry import RunKind
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_start
from customers.models import Customer
from performance import scoring
from performance.measures import MEASURES, PeriodInvalid, measure_params, period_days
from performance.models import Kpi, KpiResult, KpiScore, KpiTarget, Scope

KPI_RUN = "kpi"
KPI_RUN_VERSION = "kpi-1"


def kpi_params_clean(params: dict) -> dict:
    params_unknown_refuse(params, allowed={"period"})
    period = str(params.get("period") or "")
    try:
        start, _end = period_days(period)
    except PeriodInvalid:
        raise RunParamsInvalid(_("A period is a month (2026-11) or a quarter (2026-Q4).")) from None
    if start > timezone.localdate():
        raise RunParamsInvalid(_("The period %(period)s has not begun yet.") % {"period": period})
    if not Kpi.objects.filter(active=True).exists():
        raise RunParamsInvalid(_("No KPI is active: define the KPIs in admin first."))
    return {"period": period}


def kpi_run_start(*, period: str, started_by: AbstractBaseUser | None = None, sync: bool = False) -> Run:
    """Queues (or with `sync`, runs) the KPI run of `period`, as of its last day (or today for the
    running period). RunError, nothing written, when refused."""
    params = kpi_params_clean({"period": period})
    start, end = period_days(params["period"])
    as_of = min(end - datetime.timedelta(days=1), timezone.localdate())
    return run_start(kind=KPI_RUN, params=params, as_of=as_of, started_by=started_by, sync=sync)


def kpi_prepare(run: Run) -> list[tuple[int, int]]:
    value_run = current_run(kind="value_scoring")
    run.params = {**run.params, "value_run": value_run.pk if value_run else 0,
                  "kpis": list(Kpi.objects.filter(active=True).values_list("pk", flat=True))}
    Run.objects.filter(pk=run.pk).update(params=run.params)
    KpiScore.objects.filter(run_id=run.pk).delete()
    return [(kpi_id, kpi_id) for kpi_id in run.params["kpis"]]


# A target row's value in force: its approved value, else its value when the row itself is approved
# (rows written in bulk, e.g. by the demo, carry only that).
TARGET_IN_FORCE = f"coalesce(approved_value, CASE WHEN status = '{KpiTarget.Status.APPROVED.value}' THEN value END)"


def kpi_chunk(run: Run, lo: int, hi: int) -> int:
    """Step 2 for the KPI `lo`: its figures for every active RM and branch (delete-then-insert)."""
    kpi = Kpi.objects.get(pk=lo)
    measure = MEASURES[kpi.measure]
    params = measure_params(
        run.params["period"], value_run=run.params.get("value_run"),
        run=run.pk, kpi=kpi.pk, period=run.params["period"], rm_role=StaffProfile.Role.RM,
        scale=100.0 if measure.percent else 1.0,
    )
    actual = ("CASE WHEN coalesce(a.den, 0) > 0 THEN %(scale)s * a.num / a.den END" if measure.ratio
              else "coalesce(a.num, 0)")
    result = quoted_table(KpiResult)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {result} WHERE run_id = %s AND kpi_id = %s", [run.pk, kpi.pk])
        cursor.execute(
            f"""WITH m(customer_id, rm_id, branch_id, num, den, channel, stage) AS ({measure.sql_for(None)}),
                a AS (
                    SELECT CASE WHEN GROUPING(m.rm_id) = 0 THEN 'rm' ELSE 'branch' END AS scope,
                           CASE WHEN GROUPING(m.rm_id) = 0 THEN m.rm_id ELSE m.branch_id END AS scope_id,
                           sum(m.num)::float8 AS num, sum(m.den)::float8 AS den
                    FROM m GROUP BY GROUPING SETS ((m.rm_id), (m.branch_id))
                ), scopes AS (
                    SELECT 'rm' AS scope, p.user_id AS scope_id FROM {quoted_table(StaffProfile)} p
                    WHERE p.role = %(rm_role)s
                    UNION ALL
                    SELECT 'branch', b.id FROM {quoted_table(Branch)} b WHERE b.is_active
                ), t AS (
                    -- The value in force: the last approved one (a change may be waiting for approval).
                    SELECT scope, coalesce(rm_id, branch_id) AS scope_id, {TARGET_IN_FORCE}::float8 AS value
                    FROM {quoted_table(KpiTarget)}
                    WHERE kpi_id = %(kpi)s AND period = %(period)s AND {TARGET_IN_FORCE} IS NOT NULL
                )
                INSERT INTO {result} (run_id, kpi_id, scope, scope_id, numerator, denominator, actual, target,
                                      achievement)
                SELECT %(run)s, %(kpi)s, s.scope, s.scope_id, coalesce(a.num, 0), coalesce(a.den, 0), {actual},
                       t.value, NULL
                FROM scopes s
                LEFT JOIN a ON a.scope = s.scope AND a.scope_id = s.scope_id
                LEFT JOIN t ON t.scope = s.scope AND t.scope_id = s.scope_id""",
            params,
        )
        return cursor.rowcount


def kpi_finish(run: Run) -> dict:
    """Step 3: achievements, scores, peer groups and ranks; the run's metrics."""
    kpis = {kpi.pk: kpi for kpi in Kpi.objects.filter(pk__in=run.params.get("kpis", []))}
    results = list(KpiResult.objects.filter(run_id=run.pk).only("id", "kpi_id", "scope", "scope_id", "actual",
                                                                 "target"))
    parts: dict[tuple[str, int], list[tuple[float | None, float]]] = {}
    for row in results:
        kpi = kpis[row.kpi_id]
        row.achievement = scoring.achievement(actual=row.actual, target=row.target, direction=kpi.direction,
                                              cap=float(kpi.cap))
        parts.setdefault((row.scope, row.scope_id), []).append((row.achievement, float(kpi.weight_for(row.scope))))
    KpiResult.objects.bulk_update(results, ["achievement"], batch_size=5000)
    book = dict(Customer.objects.filter(merged_into__isnull=True, primary_rm__isnull=False).values("primary_rm")
                .annotate(n=Count("pk")).values_list("primary_rm", "n"))
    rm_branch = dict(StaffProfile.objects.filter(role=StaffProfile.Role.RM).values_list("user_id", "branch_id"))
    regions = dict(Branch.objects.filter(is_active=True).values_list("pk", "region"))
    branch_customers = dict(Customer.objects.filter(merged_into__isnull=True).values("home_branch")
                            .annotate(n=Count("pk")).values_list("home_branch", "n"))
    scores = {key: scoring.weighted_score(pairs) for key, pairs in parts.items()}
    groups = {
        Scope.RM: scoring.book_size_groups({rm: book.get(rm, 0) for rm in rm_branch}),
        Scope.BRANCH: {branch: region or _("No region") for branch, region in regions.items()},
    }
    rows = []
    for scope, members in groups.items():
        ranked = scoring.ranks({key: scores.get((scope, key)) for key in members}, members)
        for key, group in members.items():
            rank, peers = ranked[key]
            rows.append(KpiScore(
                run_id=run.pk, scope=scope, scope_id=key, score=scores.get((scope, key)),
                branch_id=rm_branch.get(key) if scope == Scope.RM else key, peer_group=group, rank=rank,
                peers=peers, customers=(book if scope == Scope.RM else branch_customers).get(key, 0),
            ))
    KpiScore.objects.filter(run_id=run.pk).delete()
    KpiScore.objects.bulk_create(rows, batch_size=5000)
    with_target = sum(1 for row in results if row.target is not None)
    return {"period": run.params["period"], "kpis": len(kpis), "results": len(results), "with_target": with_target,
            "rms": len(groups[Scope.RM]), "branches": len(groups[Scope.BRANCH]),
            "scored": sum(1 for score in scores.values() if score is not None)}


def kpi_runs_in_use() -> list[int]:
    """Each period's newest published run: its period's scorecards read it."""
    latest: dict[str, int] = {}
    for run_id, period in (Run.objects.filter(kind=KPI_RUN, status__in=[Run.Status.SUCCEEDED, Run.Status.SUPERSEDED])
                           .order_by("finished_at", "id").values_list("id", "params__period")):
        latest[period] = run_id
    return list(latest.values())


KPI_RUN_KIND = RunKind(
    name=KPI_RUN, version=KPI_RUN_VERSION, clean_params=kpi_params_clean, prepare=kpi_prepare,
    process_chunk=kpi_chunk, finish=kpi_finish,
    result_tables=(KpiResult._meta.db_table, KpiScore._meta.db_table), keep_published=1,
    runs_in_use=kpi_runs_in_use,
)
