"""The value-scoring (80/20) run against a bare SQL GROUP BY over the same transactions.

    .venv/bin/python bench/scoring_bench.py [--customers 100000] [--transactions-per-customer 50]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise). With fewer customers than asked it first generates them (seed 7). Timed in this process:
- the baseline: `SELECT customer, count(*), sum(amount) … GROUP BY customer` over every owned
  account's transactions (the same rows the feature step reads), best of two;
- the value-scoring run, in-process (`--sync`: one worker), from the claim to the publish;
- the COPY of the per-customer results inside it (scores_written_per_s).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions-per-customer", type=int, default=50)
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
    with override_settings(DEBUG=False):
        started = time.perf_counter()
        run = services.value_scoring_start(sync=True)
        run_s = time.perf_counter() - started
    services._write_values = write_values
    if run.status != Run.Status.SUCCEEDED:
        sys.exit(f"run #{run.pk} {run.status}: {run.error}")
    print(f"value run #{run.pk} as of {run.as_of}: {run_s:.2f} s, {run.chunks_total} chunks; "
          f"top 20% share {run.metrics['top20_share']:.3f}, Gini {run.metrics['gini']:.3f}")
    print(json.dumps({
        "value_job_over_sql": round(run_s / bare_s, 2),
        "value_job_s": round(run_s, 2),
        "bare_group_by_s": round(bare_s, 2),
        "scores_written_per_s": round(copy_timing["rows"] / copy_timing["seconds"]),
        "customers": customers,
        "customers_scored": run.metrics["customers"],
        "transactions": transactions,
        "workers": 1,
        "top20_share": run.metrics["top20_share"],
        "gini": run.metrics["gini"],
    }))


if __name__ == "__main__":
    main()
