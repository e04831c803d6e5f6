"""The value-scoring (80/20) run against a bare SQL GROUP BY over the same transactions.

    .venv/bin/python bench/scoring_bench.py [--customers 100000] [--transactions-per-customer 50] [--workers N]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise). With fewer customers than asked it first generates them (seed 7). Timed in this process:
- the baseline: `SELECT customer, count(*), sum(amount) … GROUP BY customer` over every owned
  account's transactions (the same rows the feature step reads), best of two;
- the value-scoring run from the request to the publish: in-process (`--sync`, one worker) by
  default, or with `--workers N` through N Celery worker processes started for the bench on
  REDIS_URL (the chunks of one run shared by N workers, as on N machines); like the baseline, best
  of two after an untimed first run (the baseline's first run fills the caches; the job's also
  takes the new worker processes past their first task, which a long-running worker is);
- the COPY of the per-customer results inside it (scores_written_per_s);
- the whole segmentation run against an analyst's plain script (transactions out to pandas, RFM by
  groupby, StandardScaler, KMeans), the script in a child process (segmentation_over_pandas): the run
  like the value run (an untimed first run, then the best of two), the script the best of two;
- k-means (segmentation.clustering.learned_segments) on the segmentation run's features read back
  from CustomerFeatures, in a child process so that its peak RSS is its own (kmeans_s,
  kmeans_peak_rss_mb).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from crm_bank.runs.models import Run  # noqa: E402
from customers.models import AccountHolder, Customer, Transaction  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402
from segmentation import services  # noqa: E402

SEED = 7

BARE_SQL = (
    f"SELECT count(*), sum(n) FROM (SELECT h.customer_id, count(*) AS n, sum(t.amount) AS amount"
    f" FROM {AccountHolder._meta.db_table} h JOIN {Transaction._meta.db_table} t ON t.account_id = h.account_id"
    f" WHERE h.role = 'owner' GROUP BY h.customer_id) per_customer"
)


def bare_group_by() -> tuple[float, int, int]:
    """Seconds of the baseline, and its customers and transactions."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BARE_SQL)
        customers, transactions = cursor.fetchone()
    return time.perf_counter() - started, int(customers or 0), int(transactions or 0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _kmeans_child(run_id: int, queue: multiprocessing.Queue) -> None:
    """In a fresh process: read the run's features frame, time learned_segments on it."""
    from segmentation.clustering import learned_segments
    from segmentation.segments import read_frame

    frame = read_frame(run_id=run_id)
    started = time.perf_counter()
    result = learned_segments(frame, seed=SEED)
    seconds = time.perf_counter() - started
    queue.put({"kmeans_s": round(seconds, 2), "kmeans_peak_rss_mb": round(_peak_rss_mb()),
               "kmeans_k": len(result.names) if result.names else None})


ANALYST_SQL = (
    f"SELECT h.customer_id, t.booked_at, t.amount FROM {AccountHolder._meta.db_table} h"
    f" JOIN {Transaction._meta.db_table} t ON t.account_id = h.account_id WHERE h.role = 'owner'"
)


def _analyst_child(queue: multiprocessing.Queue) -> None:
    """An analyst's plain script: every owned account's transactions into pandas, RFM, scaled, KMeans."""
    import io

    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({ANALYST_SQL}) TO STDOUT WITH (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    txns = pd.read_csv(buffer, names=["customer_id", "booked_at", "amount"], parse_dates=["booked_at"])
    as_of = txns["booked_at"].max()
    rfm = txns.groupby("customer_id").agg(last=("booked_at", "max"), frequency=("amount", "size"),
                                          monetary=("amount", "sum"))
    rfm["recency"] = (as_of - rfm.pop("last")).dt.days
    matrix = StandardScaler().fit_transform(np.log1p(rfm[["recency", "frequency", "monetary"]].clip(lower=0)))
    KMeans(n_clusters=5, n_init=1, random_state=SEED).fit(matrix)
    queue.put({"pandas_s": time.perf_counter() - started, "pandas_peak_rss_mb": round(_peak_rss_mb())})


def _in_child(target, *args) -> dict:
    """Runs target(*args, queue) in a fresh (spawned) process and returns what it put on the queue.

    Spawned, not forked: a fork of a process that talks to the Celery workers copies the broker
    client's threads' locks, and the child can hang on one."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _rewrite_timing(run: Run) -> dict[str, float]:
    """The run's value rows written again as the run wrote them, under another run id, rolled back."""
    from types import SimpleNamespace

    from django.db import transaction

    from crm_bank.bulk import frame_from_query
    from segmentation.models import CustomerValue

    ranked = frame_from_query(
        "SELECT customer_id, branch_id, rm_id, value, rank, branch_rank, share, cumulative_share, tier, previous_tier"
        f" FROM {CustomerValue._meta.db_table} WHERE run_id = {int(run.pk)}"
    )
    ranked["rm_id"] = ranked["rm_id"].astype("Int64")
    ranked["previous_tier"] = ranked["previous_tier"].astype(object).where(ranked["previous_tier"].notna(), "")
    with transaction.atomic():
        started = time.perf_counter()
        services._write_values(SimpleNamespace(pk=-run.pk), ranked)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {"seconds": seconds, "rows": len(ranked)}


@contextlib.contextmanager
def celery_workers(count: int) -> Iterator[None]:
    """`count` Celery worker processes on this database and broker, until the block ends."""
    from crm_bank.celery import app

    command = [sys.executable, "-m", "celery", "-A", "crm_bank", "worker", "--pool=prefork",
               f"--concurrency={count}", "--loglevel=WARNING", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("The Celery workers did not start.")
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def timed_run(start: Callable[..., Run], *, workers: int, **kwargs) -> tuple[Run, float]:
    """Starts a run (in-process with workers=0) and returns it once it is published or failed, with
    its wall time; then waits, untimed, for the workers' housekeeping after the publish (pruning old
    runs' rows, VACUUM) so that it does not run into the next measurement."""
    with override_settings(DEBUG=False):
        started = time.perf_counter()
        run = start(sync=workers == 0, **kwargs)
        while run.status in Run.ACTIVE:
            time.sleep(0.05)
            run.refresh_from_db()
        seconds = time.perf_counter() - started
    if workers:
        _workers_idle()
    return run, seconds


def _workers_idle(timeout: float = 300) -> None:
    from crm_bank.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = app.control.inspect(timeout=1).active() or {}
        if not any(active.values()):
            return
        time.sleep(0.5)


def best_value_run(workers: int) -> tuple[Run, float]:
    """The value-scoring run timed as the baseline is: an untimed first run, then the best of two."""
    timings = [timed_run(services.value_scoring_start, workers=workers) for _ in range(3)]
    failed = [run for run, _seconds in timings if run.status != Run.Status.SUCCEEDED]
    if failed:
        sys.exit(f"run #{failed[0].pk} {failed[0].status}: {failed[0].error}")
    return min(timings[1:], key=lambda timing: timing[1])


def segmentation_figures(workers: int) -> tuple[Run, dict]:
    """The segmentation run and its time ÷ the analyst's script's, each timed as the value run and
    the baseline are: the run's first run untimed (it carries the worker processes' first
    segmentation task; its time is reported as segmentation_first_run_s), then the best of two; the
    script, which starts a fresh process each time, the best of two runs."""
    from segmentation.segments import segmentation_start

    timings = [timed_run(segmentation_start, workers=workers, seed=SEED) for _ in range(3)]
    failed = [run for run, _seconds in timings if run.status != Run.Status.SUCCEEDED]
    if failed:
        sys.exit(f"segmentation run #{failed[0].pk} {failed[0].status}: {failed[0].error}")
    run, run_s = min(timings[1:], key=lambda timing: timing[1])
    analysts = [_in_child(_analyst_child) for _ in range(2)]
    analyst = min(analysts, key=lambda figures: figures["pandas_s"])
    script_seconds = [figures["pandas_s"] for figures in analysts]
    print(f"segmentation runs: {', '.join(f'#{r.pk} {s:.2f} s' for r, s in timings)} (the first untimed); "
          f"analyst's pandas script {', '.join(f'{seconds:.2f} s' for seconds in script_seconds)} "
          f"(peak RSS {analyst['pandas_peak_rss_mb']} MB)")
    return run, {
        "segmentation_over_pandas": round(run_s / analyst["pandas_s"], 2),
        "segmentation_s": round(run_s, 2),
        "segmentation_first_run_s": round(timings[0][1], 2),
        "pandas_script_s": round(analyst["pandas_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions-per-customer", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0,
                        help="Celery worker processes to run the runs on (default 0: in-process, one worker)")
    args = parser.parse_args()
    database = connection.settings_dict["NAME"]
    present = Customer.objects.count()
    if present < args.customers:
        print(f"{database}: {present:,} customers, generating up to {args.customers:,} (seed {SEED})…")
        figures = synthetic_bank_generate(
            customers=args.customers, transactions_per_customer=args.transactions_per_customer, seed=SEED,
            password=settings.DEMO_PASSWORD,
        )
        print(f"generated: {json.dumps(figures)}")
    if Run.objects.filter(kind=services.VALUE_SCORING, status__in=Run.ACTIVE).exists():
        sys.exit("A value-scoring run is queued or running in this database; wait for it to finish.")

    bare_group_by()  # warm the cache: both sides then read from memory as far as it holds
    bare_s, customers, transactions = min(bare_group_by() for _ in range(2))
    print(f"bare GROUP BY customer: {bare_s:.2f} s over {transactions:,} transactions of {customers:,} customers")

    copy_timing: dict[str, float] = {}
    write_values = services._write_values

    def timed_write(run, ranked) -> None:
        started = time.perf_counter()
        write_values(run, ranked)
        copy_timing["seconds"] = time.perf_counter() - started
        copy_timing["rows"] = len(ranked)

    services._write_values = timed_write
    with celery_workers(args.workers) if args.workers else contextlib.nullcontext():
        run, run_s = best_value_run(args.workers)
        services._write_values = write_values
        if args.workers:  # the write happened in a worker: time it here, on a copy of the run's rows
            copy_timing.update(_rewrite_timing(run))
        segmentation_run, segmentation = segmentation_figures(args.workers)
        kmeans = _in_child(_kmeans_child, segmentation_run.pk)
    print(f"value run #{run.pk} as of {run.as_of}: {run_s:.2f} s, {run.chunks_total} chunks; "
          f"top 20% share {run.metrics['top20_share']:.3f}, Gini {run.metrics['gini']:.3f}")
    print(f"k-means on segmentation run #{segmentation_run.pk}'s features: {kmeans['kmeans_s']:.2f} s,"
          f" peak RSS {kmeans['kmeans_peak_rss_mb']} MB")
    print(json.dumps({
        "value_job_over_sql": round(run_s / bare_s, 2),
        "value_job_s": round(run_s, 2),
        "bare_group_by_s": round(bare_s, 2),
        "scores_written_per_s": round(copy_timing["rows"] / copy_timing["seconds"]),
        "customers": customers,
        "customers_scored": run.metrics["customers"],
        "transactions": transactions,
        "workers": max(1, args.workers),  # 0: --sync, the chunks one after another in this process
        **kmeans,
        **segmentation,
        "top20_share": run.metrics["top20_share"],
        "gini": run.metrics["gini"],
    }))


if __name__ == "__main__":
    main()
