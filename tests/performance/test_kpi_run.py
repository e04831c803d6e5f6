"""The KPI run: every measure against the hand counts of conftest.py, targets, achievements, scores,
peer groups and ranks; a rerun; refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from performance.models import Kpi, KpiResult, KpiScore, KpiTarget
from performance.runs import KPI_RUN, kpi_run_start
from tests.performance.conftest import PERIOD

pytestmark = pytest.mark.django_db


def _figures(run: Run, scope: str, scope_id: int) -> dict[str, KpiResult]:
    return {row.kpi.code: row for row in KpiResult.objects.filter(run_id=run.pk, scope=scope, scope_id=scope_id)
            .select_related("kpi")}


def test_every_measure_matches_the_hand_counts(kpi_bank, rm_a, rm_a2, branch_a, branch_b):
    run = kpi_run_start(period=PERIOD, sync=True)

    assert run.status == Run.Status.SUCCEEDED, run.error
    rm = _figures(run, "rm", rm_a.pk)
    actual = {code: row.actual for code, row in rm.items()}
    assert actual["new-customers"] == 2 and actual["net-deposits"] == pytest.approx(700)
    assert actual["products-per-customer"] == pytest.approx(1.5)
    assert actual["campaign-conversion"] == pytest.approx(100 / 3)
    assert actual["tier-a-coverage"] == pytest.approx(50) and actual["complaint-sla"] == pytest.approx(50)
    assert actual["skip-level-complaints"] == 1 and actual["retention"] == pytest.approx(200 / 3)
    assert actual["kyc-on-time"] == pytest.approx(50)
    assert (rm["campaign-conversion"].numerator, rm["campaign-conversion"].denominator) == (1, 3)
    assert _figures(run, "rm", rm_a2.pk)["new-customers"].actual == 1
    branch = _figures(run, "branch", branch_a.pk)
    assert branch["new-customers"].actual == 3  # x, y and rm_a2's v
    other = _figures(run, "branch", branch_b.pk)
    assert other["new-customers"].actual == 0  # nothing to count: 0
    assert other["campaign-conversion"].actual is None  # nothing to divide: no figure


def test_targets_give_achievements_scores_and_ranks(kpi_bank, rm_a, rm_a2, supervisor_a):
    from performance.services import target_set

    kpis = {kpi.code: kpi for kpi in Kpi.objects.all()}
    target_set(actor=supervisor_a, kpi=kpis["new-customers"], period=PERIOD, value="4", rm=rm_a)  # 2 of 4: 0.5
    target_set(actor=supervisor_a, kpi=kpis["campaign-conversion"], period=PERIOD, value="25", rm=rm_a)  # 1.33
    target_set(actor=supervisor_a, kpi=kpis["skip-level-complaints"], period=PERIOD, value="2", rm=rm_a)  # no weight
    target_set(actor=supervisor_a, kpi=kpis["new-customers"], period=PERIOD, value="1", rm=rm_a2)  # 1 of 1

    run = kpi_run_start(period=PERIOD, sync=True)

    rm = _figures(run, "rm", rm_a.pk)
    assert rm["new-customers"].achievement == pytest.approx(0.5)
    assert rm["campaign-conversion"].achievement == pytest.approx((100 / 3) / 25)
    assert rm["skip-level-complaints"].achievement == pytest.approx(1.5)  # lower is better: 2 ÷ 1, capped
    assert rm["retention"].achievement is None  # no target
    # Weights 15 and 15 (skip-level complaints weigh 0 for an RM): (15 × 0.5 + 15 × 1) / 30.
    scores = {s.scope_id: s for s in KpiScore.objects.filter(run_id=run.pk, scope="rm")}
    assert scores[rm_a.pk].score == pytest.approx(75.0) and scores[rm_a2.pk].score == pytest.approx(100.0)
    # Two RMs: books of 1 and 4 customers fall in different thirds, each first of one.
    assert (scores[rm_a2.pk].peer_group, scores[rm_a2.pk].rank, scores[rm_a2.pk].peers) == ("1–1", 1, 1)
    assert (scores[rm_a.pk].peer_group, scores[rm_a.pk].rank, scores[rm_a.pk].customers) == ("4–4", 1, 4)
    assert run.metrics["with_target"] == 4 and run.metrics["scored"] == 2


def test_a_rerun_replaces_the_period_and_keeps_the_other_periods(kpi_bank, rm_a):
    first = kpi_run_start(period=PERIOD, sync=True)
    other = kpi_run_start(period="2026-09", sync=True)
    second = kpi_run_start(period=PERIOD, sync=True)

    assert _figures(second, "rm", rm_a.pk)["new-customers"].actual == 2
    assert _figures(other, "rm", rm_a.pk)["new-customers"].actual == 1  # z became a customer in September
    assert not KpiResult.objects.filter(run_id=first.pk).exists()  # pruned: the period's newer run replaces it
    assert KpiScore.objects.filter(run_id=other.pk).exists()


@pytest.mark.parametrize("period", ["2026-13", "26-10", "2026-Q5", "", "2027-01",
                                    "２０２６-10", "2026-10\n"])  # full-width digits, a final newline
def test_bad_periods_are_refused_and_nothing_is_written(db, period):
    with pytest.raises(RunParamsInvalid):
        kpi_run_start(period=period, sync=True)
    assert not Run.objects.filter(kind=KPI_RUN).exists()


def test_without_an_active_kpi_the_run_is_refused(db):
    Kpi.objects.update(active=False)
    with pytest.raises(RunParamsInvalid, match="No KPI is active"):
        kpi_run_start(period=PERIOD)


def test_the_command_runs_a_quarter_and_refuses_as_of(kpi_bank, capsys):
    call_command("run_kpis", "--period", "2026-Q4", "--sync")
    assert "period 2026-Q4: 10 KPIs" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--period"):
        call_command("run_kpis", "--period", "2026-10", "--as-of", "2026-10-31", "--sync")
    with pytest.raises(CommandError, match="a month"):
        call_command("run_kpis", "--period", "October", "--sync")


def test_only_approved_branch_targets_count(kpi_bank, branch_a, supervisor_a, bank_admin):
    from performance.services import target_approve, target_set

    kpi = Kpi.objects.get(code="new-customers")
    proposed = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="6", branch=branch_a)
    assert proposed.status == KpiTarget.Status.PROPOSED
    run = kpi_run_start(period=PERIOD, sync=True)
    assert _figures(run, "branch", branch_a.pk)["new-customers"].target is None
    target_approve(actor=bank_admin, target=proposed, value=Decimal("6"))
    run = kpi_run_start(period=PERIOD, sync=True)
    assert _figures(run, "branch", branch_a.pk)["new-customers"].achievement == pytest.approx(0.5)



def test_a_proposed_change_leaves_the_approved_branch_target_in_force(kpi_bank, branch_a, supervisor_a,
                                                                      bank_admin):
    """Re-proposing an approved branch target took it out of the run (and the KPI out of the score)
    on one supervisor's say-so; the approved value now counts until the new one is approved."""
    from performance.services import target_approve, target_set

    kpi = Kpi.objects.get(code="new-customers")
    target = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="6", branch=branch_a)
    target_approve(actor=bank_admin, target=target, value=Decimal("6"))
    proposed = target_set(actor=supervisor_a, kpi=kpi, period=PERIOD, value="1", branch=branch_a)
    assert proposed.status == KpiTarget.Status.PROPOSED and proposed.approved_value == Decimal("6")

    run = kpi_run_start(period=PERIOD, sync=True)
    assert _figures(run, "branch", branch_a.pk)["new-customers"].target == pytest.approx(6)
    target_approve(actor=bank_admin, target=proposed, value=Decimal("1"))
    run = kpi_run_start(period=PERIOD, sync=True)
    assert _figures(run, "branch", branch_a.pk)["new-customers"].target == pytest.approx(1)


def test_a_complaint_escalated_on_breach_still_counts_for_the_rm_who_owned_it(kpi_bank, rm_a, supervisor_a):
    """Counted by its current owner, the late case (y's) left the RM's SLA figure on escalation."""
    from channels.models import Complaint, ComplaintEvent

    late = Complaint.objects.get(customer=kpi_bank.y, resolved_at__isnull=False)
    ComplaintEvent.objects.create(complaint=late, at=late.opened_at, kind=ComplaintEvent.Kind.ASSIGNED,
                                  to_owner=rm_a, level=0)
    ComplaintEvent.objects.create(complaint=late, at=late.sla_due_at, kind=ComplaintEvent.Kind.ESCALATED,
                                  from_owner=rm_a, to_owner=supervisor_a, level=1)
    Complaint.objects.filter(pk=late.pk).update(owner=supervisor_a, level=1)

    run = kpi_run_start(period=PERIOD, sync=True)

    assert _figures(run, "rm", rm_a.pk)["complaint-sla"].actual == pytest.approx(50)  # 1 of 2, as before


def test_a_merged_away_record_is_not_counted_again_in_campaign_conversion(kpi_bank, rm_a):
    from customers.models import Customer

    before = _figures(kpi_run_start(period=PERIOD, sync=True), "rm", rm_a.pk)["campaign-conversion"]
    contacted = Customer.objects.filter(campaign_contacts__attempts__gt=0, primary_rm=rm_a).first()
    survivor = Customer.objects.filter(primary_rm=rm_a).exclude(pk=contacted.pk).first()
    Customer.objects.filter(pk=contacted.pk).update(merged_into=survivor)

    after = _figures(kpi_run_start(period=PERIOD, sync=True), "rm", rm_a.pk)["campaign-conversion"]

    assert after.denominator == before.denominator - 1

def test_an_admin_edits_a_kpis_weight_and_the_change_is_audited(client, bank_admin):
    from crm_bank.audit.models import AuditEvent

    kpi = Kpi.objects.get(code="new-customers")
    client.force_login(bank_admin)
    response = client.post(f"/admin/performance/kpi/{kpi.pk}/change/", {
        "code": kpi.code, "name": kpi.name, "name_zh": kpi.name_zh, "description": "", "measure": kpi.measure,
        "unit": kpi.unit, "direction": kpi.direction, "weight_rm": "20", "weight_branch": "10", "cap": "1.5",
        "active": "on", "order": "0"})
    assert response.status_code == 302
    kpi.refresh_from_db()
    assert kpi.weight_rm == Decimal("20")
    assert AuditEvent.objects.filter(object_type="kpi", object_id=str(kpi.pk)).exists()
    refused = client.post(f"/admin/performance/kpi/{kpi.pk}/change/", {
        "code": kpi.code, "name": kpi.name, "measure": "sql-injection", "unit": kpi.unit, "direction": "higher",
        "weight_rm": "-1", "weight_branch": "10", "cap": "0.5", "order": "0"})
    assert refused.status_code == 200 and Kpi.objects.get(pk=kpi.pk).weight_rm == Decimal("20")
