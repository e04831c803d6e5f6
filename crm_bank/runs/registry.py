"""The run kinds feature apps plug in: each supplies its steps; the framework does the rest.

A feature app registers its kind once, from its AppConfig.ready()::

    from crm_bank.runs.registry import RunKind, chunk_ranges, register

    register(RunKind(
        name="value_scoring", version="1",
        prepare=lambda run: chunk_ranges(Customer.objects.all(), size=20_000),
        process_chunk=score_customers,   # (run, lo, hi) -> rows written, idempotent
        finish=pareto_metrics,           # (run) -> metrics dict
    ))
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, router
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm_bank.runs.errors import RunKindUnknown

if TYPE_CHECKING:
    from crm_bank.runs.models import Run


def _no_metrics(run: Run) -> dict:
    return {}


@dataclass(frozen=True)
class RunKind:
    """A batch job's steps. The framework calls them in this order, each at most once per run:

    1. `clean_params(params)` when the run is requested: returns the params to store, or raises
       RunParamsInvalid (nothing is written).
    2. `prepare(run)` once the run is claimed: the inclusive (lo, hi) id ranges to process.
    3. `process_chunk(run, lo, hi)` for each range, possibly on many machines at once: writes the
       results of that range keyed (run, customer) and returns how many rows it wrote. It runs in
       one transaction with the chunk's completion, so a failure writes nothing; it must also be
       safe to repeat (delete-then-insert the range).
    4. `finish(run)` after every chunk: set-wide work (ranks, shares), returns the run's metrics.
    5. `publish(run)` inside the publishing transaction, before the current pointer flips.
    """

    name: str
    prepare: Callable[[Run], list[tuple[int, int]]]
    process_chunk: Callable[[Run, int, int], int]
    finish: Callable[[Run], dict] = _no_metrics
    publish: Callable[[Run], None] | None = None
    clean_params: Callable[[dict], dict] | None = None
    # The as-of date when the caller gives none (e.g. the latest transaction date), or None.
    default_as_of: Callable[[], datetime.date | None] | None = None
    # Stored on each run, so results can be traced to the code (or model) that made them.
    version: str = ""
    # The tables its steps fill in bulk, keyed by run: vacuumed and analysed once the run is
    # published, and emptied of the rows of failed runs and of published runs older than the newest
    # `keep_published` (a million rows a run would otherwise pile up night after night).
    result_tables: tuple[str, ...] = ()
    keep_published: int = 3
    # The runs whose rows other records still point at, whatever their age (never pruned): e.g. each
    # campaign's targeting run, while the kind's newest run may be another campaign's.
    runs_in_use: Callable[[], Iterable[int]] | None = None


_kinds: dict[str, RunKind] = {}


def register(kind: RunKind) -> None:
    """Adds a kind; registering the same name twice with different steps is a programming error."""
    if _kinds.get(kind.name, kind) != kind:
        raise ValueError(f"Run kind {kind.name!r} is already registered with other steps.")
    _kinds[kind.name] = kind


def unregister(name: str) -> None:
    """For tests that register a kind of their own."""
    _kinds.pop(name, None)


def kind_get(name: str) -> RunKind:
    try:
        return _kinds[name]
    except KeyError:
        known = ", ".join(sorted(_kinds)) or "-"
        raise RunKindUnknown(
            _("Unknown run kind “%(kind)s” (known: %(known)s).") % {"kind": name, "known": known}
        ) from None


# Ids this close to dense (the span from the lowest to the highest at most this many times the
# number of rows) are split by arithmetic: a range of w ids then holds at most w rows.
DENSE_IDS_SLACK = 1.1


def chunk_ranges(queryset: QuerySet, *, size: int, min_chunks: int = 1) -> list[tuple[int, int]]:
    """Inclusive (lo, hi) primary-key ranges of at most `size` rows each, over the queryset's rows,
    and (rows permitting) at least `min_chunks` of them: smaller chunks for a small table, so that
    its run still keeps every worker busy to the end.

    The ranges are contiguous (each starts after the one before ends), so a row committed after
    the ranges were taken, with an id below the last, falls in one of them whatever its id: without
    it, the ids between two buckets belonged to none, and which late rows a run saw was chance.

    Ids with few gaps (a customer table, whose ids come from one sequence) are split into equal
    spans of ids, from their lowest, highest and count: one pass of the primary key's index (60 ms
    for a million customers against 0.6-0.9 s numbering every id); on dense ids the ranges are the
    same either way. Ids with more gaps are numbered in one SQL statement that keeps each bucket's
    first and last id, so gaps do not make chunks uneven, without Python ever seeing the ids.
    """
    if size < 1 or min_chunks < 1:
        raise ValueError("size and min_chunks must be at least 1")
    inner, params = queryset.order_by().values("pk").query.sql_with_params()
    with connections[router.db_for_read(queryset.model)].cursor() as cursor:
        cursor.execute(f"SELECT min(ids.pk), max(ids.pk), count(*) FROM ({inner}) AS ids(pk)", params)
        low, high, count = cursor.fetchone()
        if not count:
            return []
        # The bucket size the numbering below uses.
        width = min(size, max(1, math.ceil(count / min_chunks)))
        if high - low + 1 <= count * DENSE_IDS_SLACK:
            return [(lo, min(lo + width - 1, high)) for lo in range(low, high + 1, width)]
        cursor.execute(
            "SELECT min(pk), max(pk) FROM ("
            f" SELECT ids.pk, (row_number() OVER (ORDER BY ids.pk) - 1) / %s AS bucket FROM ({inner}) AS ids(pk)"
            ") AS numbered GROUP BY bucket ORDER BY bucket",
            [width, *params],
        )
        buckets = cursor.fetchall()
    return [(buckets[index - 1][1] + 1 if index else lo, hi) for index, (lo, hi) in enumerate(buckets)]
