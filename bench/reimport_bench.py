"""A realistic re-import: existing customers exported as a second source system would hold them
(typos, given and family swapped, Chinese names in pinyin, changed phones, half without the national
ID), imported, and every line's outcome checked against the customer it truly is.

    DATABASE_URL=postgres://…/branch_crm_bench .venv/bin/python bench/reimport_bench.py [--customers 10000]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise); with fewer than 50,000 customers it first generates a bank (seed 7). The sample and its
changes are drawn with a fixed seed from the live customers. The import is the product's own commit
(`import_batch_apply`, with the probabilistic matcher), run in a transaction that is rolled back at
the end: the database is left as it was. Printed: the counts per outcome (they add up to the line
count), and per outcome how many lines reached the right customer — merged into it, or sent to
review with it as the candidate — and how many went wrong (merged into another customer, or created
as new though the customer exists). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
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
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from pypinyin import Style, lazy_pinyin  # noqa: E402

from customers.imports.schema import COLUMN_NAMES  # noqa: E402
from customers.imports.services import import_batch_apply, import_batch_upload, source_system_ensure  # noqa: E402
from customers.models import Customer, ImportBatch, ImportRow, MatchCandidate  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402

SEED = 7
SOURCE = "card_centre_reexport"
HAN_NAME_CHARACTERS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏宇浩然晨阳"
# What each exported copy may differ in (each gets one to three), and how often the national ID is kept.
CHANGES = ("name_typo", "names_swapped", "pinyin", "new_phone")
NATIONAL_ID_KEPT = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)  # a new database gets the schema first
    if Customer.objects.count() < 50_000:
        print("generating a bank of 50,000 customers (seed 7)…")
        synthetic_bank_generate(customers=50_000, transactions_per_customer=5, seed=SEED,
                                password=settings.DEMO_PASSWORD)
    rng = random.Random(SEED)
    sample = _sample(args.customers)
    rows, truth, changes = _export(sample, rng)
    print(f"{connection.settings_dict['NAME']}: re-importing {len(rows):,} of its customers as {SOURCE}")
    result = _import_and_check(rows, truth, changes)
    print(json.dumps(result))


def _sample(count: int) -> list[dict]:
    """`count` live individual customers with a name, spread over the id range (repeatable)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.first_name, c.last_name, c.national_id_type, c.national_id, c.birth_date, c.gender,"
            " c.phone, c.email, c.address_line, c.city, c.postal_code, c.country, b.code"
            " FROM customers_customer c TABLESAMPLE BERNOULLI (%s) REPEATABLE (7)"
            " JOIN org_branch b ON b.id = c.home_branch_id"
            " WHERE c.merged_into_id IS NULL AND c.kind = 'individual' AND c.last_name <> ''"
            " ORDER BY md5(c.id::text) LIMIT %s",
            [min(100.0, 300.0 * count / max(Customer.objects.count(), 1)), count],
        )
        names = ("id", "first_name", "last_name", "national_id_type", "national_id", "birth_date", "gender", "phone",
                 "email", "address_line", "city", "postal_code", "country", "branch_code")
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _export(sample: list[dict], rng: random.Random) -> tuple[list[dict], dict[str, int], dict[str, list[str]]]:
    rows, truth, changes = [], {}, {}
    for n, customer in enumerate(sample):
        key = f"cc-{n:06d}"
        chosen = rng.sample(CHANGES, rng.randint(1, 3))
        given, family = customer["first_name"], customer["last_name"]
        if "pinyin" in chosen and _is_han(family):
            given, family = _pinyin(given), _pinyin(family)
        if "name_typo" in chosen:
            given, family = (_typo(given, rng), family) if rng.random() < 0.5 and given else (given, _typo(family, rng))
        if "names_swapped" in chosen:
            given, family = family, given
        phone = customer["phone"]
        if "new_phone" in chosen or not phone:
            phone = f"+861{rng.choice('358')}{rng.randint(0, 999_999_999):09d}"
        kept = rng.random() < NATIONAL_ID_KEPT
        rows.append({
            "source_key": key, "given_name": given, "family_name": family,
            "national_id": customer["national_id"] if kept else "",
            "national_id_type": customer["national_id_type"] if kept and customer["national_id"] else "",
            "birth_date": customer["birth_date"].isoformat() if customer["birth_date"] else "",
            "gender": customer["gender"], "phone": phone, "email": customer["email"],
            "address_line1": customer["address_line"], "city": customer["city"], "postcode": customer["postal_code"],
            "country": customer["country"] or "CN", "branch_code": customer["branch_code"],
        })
        truth[key] = customer["id"]
        changes[key] = [*chosen, "national_id_kept" if kept and customer["national_id"] else "no_national_id"]
    return rows, truth, changes


def _import_and_check(rows: list[dict], truth: dict[str, int], changes: dict[str, list[str]]) -> dict:
    source, _ = source_system_ensure(code=SOURCE, actor=None)
    with transaction.atomic():
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMN_NAMES), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        batch = import_batch_upload(source=source, file=ContentFile(out.getvalue().encode()),
                                    file_name=f"{SOURCE}.csv", actor=None)
        stored = batch.stored_file  # the apply forgets it (the delete it schedules is rolled back below)
        ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.COMMITTING)
        started = time.perf_counter()
        import_batch_apply(batch_id=batch.pk, actor=None)
        seconds = time.perf_counter() - started
        batch.refresh_from_db()
        lines = list(ImportRow.objects.filter(batch=batch).values_list("line", "source_key", "outcome", "customer_id"))
        reasons: dict[str, int] = {}
        for errors in ImportRow.objects.filter(batch=batch, outcome="rejected").values_list("errors", flat=True):
            for error in errors:
                reason = f"{error['column']}: {error['reason']}"
                reasons[reason] = reasons.get(reason, 0) + 1
        pairs = list(MatchCandidate.objects.filter(import_row__batch=batch).values_list(
            "import_row__line", "left_id", "right_id", "decision"))
        candidates = {row: (left, right) for row, left, right, _decision in pairs}
        review_decisions: dict[str, int] = {}
        for _row, _left, _right, decision in pairs:
            review_decisions[decision] = review_decisions.get(decision, 0) + 1
        transaction.set_rollback(True)  # leave the database as it was
    if stored:
        default_storage.delete(stored)
    right, wrong = {}, {}
    wrong_examples = []
    for line, key, outcome, customer_id in lines:
        true_id = truth.get(key)
        if outcome in ("merged", "updated", "unchanged"):
            ok = customer_id == true_id
        elif outcome == "review":
            ok = true_id in candidates.get(line, ())
        else:  # created: the customer exists, so a new record is a miss; rejected: a bad line
            ok = False
        (right if ok else wrong)[outcome] = (right if ok else wrong).get(outcome, 0) + 1
        if not ok and len(wrong_examples) < 5:
            wrong_examples.append({"line": line, "outcome": outcome, "changes": changes.get(key, [])})
    found = sum(right.values())
    return {
        "lines": batch.line_count, "counts": batch.counts, "seconds": round(seconds, 2),
        "right_customer": right, "wrong_or_missed": wrong,
        "found_share": round(found / max(batch.line_count, 1), 4), "review_pairs_by_decision": review_decisions,
        "wrong_merges": wrong.get("merged", 0), "examples_wrong": wrong_examples, "rejected_reasons": reasons,
        "auto_merge": settings.CRM_AUTO_MERGE, "database": connection.settings_dict["NAME"],
    }


def _is_han(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text or "")


def _pinyin(han: str) -> str:
    return " ".join(lazy_pinyin(han, style=Style.NORMAL)).title() if han else han


def _typo(name: str, rng: random.Random) -> str:
    if not name:
        return name
    position = rng.randrange(len(name))
    if _is_han(name):
        return name[:position] + rng.choice(HAN_NAME_CHARACTERS) + name[position + 1:]
    return name[:position] + rng.choice("aeiourlnstkm") + name[position + 1:]


if __name__ == "__main__":
    main()
