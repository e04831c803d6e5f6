"""Customer import speed: 200,000 generated rows imported end to end into an empty database.

    DATABASE_URL=postgres://…/branch_crm_import_bench .venv/bin/python bench/import_bench.py [--rows 200000]

Generates the CSV once (fixed seed; Faker zh_CN and cs_CZ names, valid and some invalid national IDs
and phones, some bad e-mails and dates) unless it exists, migrates the database, empties its customer
tables (the bench refuses the product's own databases), then times upload → read → validate →
stage → commit through the same services as the command. The last line printed is one JSON object
with rows_per_s (validated lines per second: the commit's first phase — read, check every rule, COPY
into staging — the figure the target names), end_to_end_rows_per_s (lines per second from upload to
committed, the second phase — resolve and write the customers — included), the seconds per phase
and the counts per outcome.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from faker import Faker  # noqa: E402
from stdnum.cn import ric  # noqa: E402

from crm_bank.org.models import Branch, StaffProfile  # noqa: E402
from crm_bank.runs.models import CurrentRun, Run  # noqa: E402
from customers.imports.schema import COLUMN_NAMES  # noqa: E402
from customers.imports.services import (  # noqa: E402
    CUSTOMER_IMPORT,
    import_batch_commit,
    import_batch_upload,
    source_system_ensure,
)
from customers.models import ImportBatch  # noqa: E402

SEED = 20_240_601
PROTECTED_DATABASES = {"branch_crm", "branch_crm_bench"}
BRANCHES = ("B001", "B002", "B003", "B004")
RM_USERNAMES = ("bench_rm1", "bench_rm2")
TABLES = ("customers_importrow", "customers_importbatch", "customers_fieldprovenance", "customers_sourcerecord",
          "customers_rmassignment", "customers_historicalcustomer", "customers_customer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--file", type=Path, default=None, help="default: /tmp/crm_import_bench_<rows>.csv")
    args = parser.parse_args()
    database = connection.settings_dict["NAME"]
    if database in PROTECTED_DATABASES:
        sys.exit(f"{database} is the product's database; point DATABASE_URL at a database of its own.")
    path = args.file or Path(f"/tmp/crm_import_bench_{args.rows}.csv")
    if not path.exists():
        started = time.perf_counter()
        generate(path, rows=args.rows)
        print(f"generated {path} ({args.rows:,} rows) in {time.perf_counter() - started:.1f} s")
    call_command("migrate", verbosity=0)
    database_empty()
    print(f"{database}: empty; importing {path} ({path.stat().st_size / 1e6:.1f} MB)")
    result = bench(path)
    print(json.dumps(result))


def generate(path: Path, *, rows: int) -> None:
    """Names from pools Faker draws once per locale (Faker per row would take longer than the
    import); phones in E.164 but one Czech row in ten in national format; about 3% invalid national
    IDs, 2% invalid phones, 1% bad e-mails or dates."""
    rng = random.Random(SEED)
    pools = {}
    for locale in ("zh_CN", "cs_CZ"):
        fake = Faker(locale)
        fake.seed_instance(SEED)
        pools[locale] = ([fake.first_name() for _ in range(400)], [fake.last_name() for _ in range(400)],
                         [fake.city() for _ in range(100)], [fake.street_address() for _ in range(400)])
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMN_NAMES)
        for index in range(rows):
            chinese = index % 2 == 0
            firsts, lasts, cities, streets = pools["zh_CN" if chinese else "cs_CZ"]
            year, month, day = rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)
            if chinese:
                body = f"110105{year}{month:02d}{day:02d}{index // 2 % 1000:03d}"
                national_id, id_type = body + ric.calc_check_digit(body + "0"), "CN_RIC"
                # Mobile numbers of the 13x, 15x and 18x ranges (valid by phonenumbers).
                phone, country, postcode = f"+861{rng.choice('358')}{rng.randint(0, 999_999_999):09d}", "CN", \
                    f"{rng.randint(100000, 999999)}"
            else:
                body = f"{year % 100:02d}{month + (50 if index % 4 == 1 else 0):02d}{day:02d}{index % 1000:03d}"
                national_id = body + str(int(body) % 11 % 10) if year >= 1954 else body[:9]
                id_type = "CZ_RC"
                # Mobile numbers 601–608 (valid by phonenumbers).
                phone, country, postcode = f"+42060{rng.randint(1, 8)}{rng.randint(0, 999_999):06d}", "CZ", \
                    f"{rng.randint(100, 799)} {rng.randint(0, 99):02d}"
                if index % 20 == 1:  # a national number, as a branch system might send it
                    phone = f"{phone[4:7]} {phone[7:10]} {phone[10:]}"
            roll = rng.random()
            if roll < 0.03:
                national_id = national_id[:-1] + str((int(national_id[-1]) + 1) % 10 if national_id[-1] != "X" else 0)
            elif roll < 0.05:
                phone = "12345"
            birth = f"{day}/{month}/{year}" if 0.05 <= roll < 0.055 else f"{year}-{month:02d}-{day:02d}"
            email = "not-an-email" if 0.055 <= roll < 0.06 else f"c{index}@example.{'cn' if chinese else 'cz'}"
            writer.writerow([
                f"B{index:07d}", "individual", rng.choice(firsts), rng.choice(lasts), "", national_id, id_type,
                birth, rng.choice("FM"), phone, email, rng.choice(streets), "", rng.choice(cities), postcode,
                country, rng.choice(BRANCHES) if index % 3 else "", rng.choice(RM_USERNAMES) if index % 5 == 0 else "",
                rng.choice(("yes", "no", "")), "no" if index % 7 == 0 else "",
            ])


def database_empty() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        # The previous run's writes flushed now, not by a checkpoint in the middle of this run's timing.
        cursor.execute("CHECKPOINT")
    # A bench run killed half-way leaves its run "running", which would refuse the next one.
    CurrentRun.objects.filter(kind=CUSTOMER_IMPORT).delete()
    Run.objects.filter(kind=CUSTOMER_IMPORT).delete()
    branches = [Branch.objects.get_or_create(code=code, defaults={"name": f"Bench {code}"})[0] for code in BRANCHES]
    from django.contrib.auth import get_user_model

    for username in RM_USERNAMES:
        user, _ = get_user_model().objects.get_or_create(username=username)
        StaffProfile.objects.get_or_create(user=user, defaults={
            "role": StaffProfile.Role.RM, "branch": branches[0], "employee_number": f"BENCH-{username}"})
    source, _ = source_system_ensure(code="bench_core", actor=None)
    source.default_branch = branches[0]
    source.save(update_fields=["default_branch"])


def bench(path: Path) -> dict:
    source, _ = source_system_ensure(code="bench_core", actor=None)
    settings.CRM_IMPORT_MAX_BYTES = max(settings.CRM_IMPORT_MAX_BYTES, path.stat().st_size)
    started = time.perf_counter()
    with path.open("rb") as handle:
        batch = import_batch_upload(source=source, file=handle, file_name=path.name, actor=None)
    uploaded = time.perf_counter()
    run = import_batch_commit(batch=batch, actor=None, sync=True)
    finished = time.perf_counter()
    batch.refresh_from_db()
    if batch.status != ImportBatch.Status.COMMITTED:
        sys.exit(f"the import failed: {run.error}")
    seconds = finished - started
    checked = batch.seconds.get("checked") or seconds
    return {"rows": batch.line_count, "seconds": round(seconds, 2), "upload_s": round(uploaded - started, 2),
            # Read, check and COPY into staging, the first phase of the commit (batch.seconds).
            "rows_per_s": round(batch.line_count / checked),
            "end_to_end_rows_per_s": round(batch.line_count / seconds), "phase_seconds": batch.seconds,
            "counts": batch.counts,
            "database": connection.settings_dict["NAME"]}


if __name__ == "__main__":
    main()
