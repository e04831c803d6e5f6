"""One month's KPI run and the scorecards' server time at a million customers.

    DATABASE_URL=postgres://…/branch_crm_bench .venv/bin/python bench/kpi_bench.py [--customers 1000000]
        [--transactions-per-customer 50] [--period 2026-11] [--requests 200]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise). With fewer customers than asked it first generates the bank (seed 7, as the page bench
does). It sets a target of every active KPI for every RM and branch for the period (seeded, around
what the period's own figures will be, so achievements spread around 100 %), times the KPI run of
the period in this process (`kpi_run_s`, all chunks and the scoring), then times RM and branch
scorecards and the league table over `--requests` requests (`scorecard_ms`, p95). The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from crm_bank.org.models import Branch, StaffProfile  # noqa: E402
from customers.models import Customer  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402
from performance.models import Kpi, KpiTarget, Scope  # noqa: E402
from performance.runs import kpi_run_start  # noqa: E402

SEED = 7
# Seeded targets by unit: a range that the generated bank's figures fall around.
TARGET_RANGES = {"count": (0, 40), "amount": (-2e6, 2e6), "ratio": (1.0, 4.0), "percent": (20, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions-per-customer", type=int, default=50)
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    present = Customer.objects.count()
    if present < args.customers:
        print(f"{present:,} customers, generating up to {args.customers:,} (seed {SEED})…")
        synthetic_bank_generate(customers=args.customers, transactions_per_customer=args.transactions_per_customer,
                                seed=SEED, password=settings.DEMO_PASSWORD)
    targets = targets_ensure(args.period)
    started = time.perf_counter()
    run = kpi_run_start(period=args.period, sync=True)
    kpi_run_s = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != run.Status.SUCCEEDED:
        sys.exit(f"KPI run #{run.pk} {run.status}: {run.error}")
    print(f"KPI run #{run.pk}: {kpi_run_s:.1f} s, {json.dumps(run.metrics)}")
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        pages = bench_pages(args.period, args.requests)
    print(json.dumps({"kpi_run_s": round(kpi_run_s, 1), **pages, "customers": Customer.objects.count(),
                      "targets": targets, "period": args.period, "database": connection.settings_dict["NAME"]}))


def targets_ensure(period: str) -> int:
    """A target of every active KPI for every RM and active branch of the period, unless it has some."""
    existing = KpiTarget.objects.filter(period=period).count()
    if existing:
        return existing
    rng = random.Random(SEED)
    rows = []
    rms = list(StaffProfile.objects.filter(role=StaffProfile.Role.RM).values_list("user_id", flat=True))
    branches = list(Branch.objects.filter(is_active=True).values_list("pk", flat=True))
    for kpi in Kpi.objects.filter(active=True):
        low, high = TARGET_RANGES[kpi.unit]
        for scope, ids in ((Scope.RM, rms), (Scope.BRANCH, branches)):
            for scope_id in ids:
                rows.append(KpiTarget(kpi=kpi, period=period, scope=scope,
                                      rm_id=scope_id if scope == Scope.RM else None,
                                      branch_id=scope_id if scope == Scope.BRANCH else None,
                                      value=Decimal(str(round(rng.uniform(low, high), 2))),
                                      status=KpiTarget.Status.APPROVED))
    KpiTarget.objects.bulk_create(rows)
    return len(rows)


def bench_pages(period: str, requests: int) -> dict:
    rng = random.Random(SEED)
    admin = StaffProfile.objects.filter(role=StaffProfile.Role.ADMIN).select_related("user").first().user
    client = Client()
    client.force_login(admin)
    rms = list(StaffProfile.objects.filter(role=StaffProfile.Role.RM).select_related("user")
               .values_list("user__username", flat=True))
    branches = list(Branch.objects.filter(is_active=True).values_list("code", flat=True))
    urls = ([f"/performance/rm/{name}/?period={period}" for name in rms]
            + [f"/performance/branch/{code}/?period={period}" for code in branches]
            + [f"/performance/?period={period}"])
    for url in urls[:10]:
        client.get(url)
    timings = []
    for _request in range(requests):
        url = rng.choice(urls)
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings.sort()
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(urls[0])
    return {"scorecard_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
            "scorecard_p50_ms": round(timings[len(timings) // 2], 1), "scorecard_queries": len(executed),
            "requests": requests}


if __name__ == "__main__":
    main()
