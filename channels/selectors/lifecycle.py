"""The lifecycle funnel of a branch, read from the published lifecycle runs' snapshots only."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.models import LifecycleSnapshot
from channels.services.lifecycle import LIFECYCLE
from crm_bank.runs.models import Run
from customers.models import Customer

STAGES = list(Customer.Lifecycle.values)
# The moves the funnel follows from run to run: along the chain, and back from dormant.
FUNNEL_MOVES = [
    ("prospect", "customer"), ("customer", "loyal"), ("customer", "dormant"), ("loyal", "dormant"),
    ("dormant", "customer"), ("dormant", "closed"),
]
RUNS_SHOWN = 12


@dataclass
class FunnelRun:
    run: Run
    stages: dict[str, int] = field(default_factory=dict)  # customers per stage after the run
    moves: dict[tuple[str, str], int] = field(default_factory=dict)

    def before(self, stage: str) -> int:
        """Customers in `stage` before the run: after, plus those who left it, minus those who came."""
        left = sum(n for (source, _), n in self.moves.items() if source == stage)
        came = sum(n for (_, target), n in self.moves.items() if target == stage)
        return self.stages.get(stage, 0) + left - came

    def conversion(self, source: str, target: str) -> float | None:
        """Share of the customers in `source` before the run who moved to `target` (None: nobody was there)."""
        base = self.before(source)
        return self.moves.get((source, target), 0) / base if base else None


@dataclass(frozen=True)
class Funnel:
    runs: list[FunnelRun]  # oldest first

    @property
    def latest(self) -> FunnelRun | None:
        return self.runs[-1] if self.runs else None

    def stage_rows(self) -> list[tuple[str, str, int]]:
        """(code, label, customers) per stage, in the lifecycle's order, after the latest run."""
        latest = self.latest.stages if self.latest else {}
        return [(code, str(label), latest.get(code, 0)) for code, label in Customer.Lifecycle.choices]

    def move_labels(self) -> list[str]:
        labels = dict(Customer.Lifecycle.choices)
        return [f"{labels[source]} → {labels[target]}" for source, target in FUNNEL_MOVES]

    def conversion_rows(self) -> list[tuple[Run, list[float | None]]]:
        """Per run, oldest first: the percentage of each FUNNEL_MOVES source stage that moved."""
        return [
            (entry.run, [None if (rate := entry.conversion(source, target)) is None else round(100 * rate, 2)
                         for source, target in FUNNEL_MOVES])
            for entry in self.runs
        ]


def lifecycle_funnel(*, branch_id: int, limit: int = RUNS_SHOWN) -> Funnel:
    """The branch's stage counts and moves in the last published lifecycle runs (two queries)."""
    runs = list(
        Run.objects.filter(kind=LIFECYCLE, status__in=[Run.Status.SUCCEEDED, Run.Status.SUPERSEDED])
        .order_by("-finished_at", "-pk")[:limit]
    )
    by_run = {run.pk: FunnelRun(run=run) for run in reversed(runs)}
    rows = LifecycleSnapshot.objects.filter(run_id__in=list(by_run), branch_id=branch_id).values_list(
        "run_id", "from_stage", "stage", "customers",
    )
    for run_id, from_stage, stage, customers in rows:
        if from_stage:
            by_run[run_id].moves[(from_stage, stage)] = customers
        else:
            by_run[run_id].stages[stage] = customers
    return Funnel(runs=list(by_run.values()))
