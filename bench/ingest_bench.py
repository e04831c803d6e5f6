"""Throughput of the channel ingest API through the real URL stack, in-process with django.test.Client.

    .venv/bin/python bench/ingest_bench.py [--batches 20] [--batch-size 1000] [--singles 300] [--customers 20000]
                                           [--posters 1]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise). With fewer customers than asked it first generates them (seed 7). It registers the
channel system `bench-ingest` (once) and a new token, then posts, through every middleware, the
token check, the throttle and the views: `--batches` batches of `--batch-size` new interactions
(random customers, channels and kinds; a fifth with a member of staff), the first batch once more
(all duplicates), and `--singles` single posts. The batches come from `--posters` clients at once
(default 1; with 2, concurrent batches of the same day wait on each other's rollup rows and shared
customers' rows until commit), the single posts one after another. Every item is written for real: run it on a
database you may fill. The last line printed is one JSON object: interactions_per_s (target ≥ 5,000)
and p95_ms of the single posts (target ≤ 30), with the counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from channels.models import Interaction  # noqa: E402
from channels.services.systems import channel_system_register, channel_token_create  # noqa: E402
from crm_bank.org.models import StaffProfile  # noqa: E402
from customers.models import TOUCHPOINT_CHANNELS, Customer  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402

SEED = 7
SYSTEM = "bench-ingest"
# What channel systems mostly send; complaints and product feedback open cases and clocks (their
# own hooks), which this bench leaves out.
KINDS = ["transaction", "enquiry", "service_request", "visit", "sale", "campaign_contact"]
BATCH_URL = "/api/v1/interactions/batch/"
SINGLE_URL = "/api/v1/interactions/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--posters", type=int, default=1)
    parser.add_argument("--pool", type=int, default=100_000,
                        help="customers the items are spread over (a bank's day touches many)")
    args = parser.parse_args()
    database = connection.settings_dict["NAME"]
    present = Customer.objects.count()
    if present < args.customers:
        print(f"{database}: {present:,} customers, generating up to {args.customers:,} (seed {SEED})…")
        figures = synthetic_bank_generate(customers=args.customers, transactions_per_customer=5, seed=SEED,
                                          password=settings.DEMO_PASSWORD)
        print(f"generated: {json.dumps(figures)}")
    # Production-like: no debug cursor; the test client's host allowed; no rate limit in the way.
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"], CRM_CHANNEL_API_RATE="1000000/min"):
        result = _bench(batches=args.batches, batch_size=args.batch_size, singles=args.singles, database=database,
                        posters=max(1, args.posters), pool=args.pool)
    print(json.dumps(result))


def _bench(*, batches: int, batch_size: int, singles: int, database: str, posters: int, pool: int) -> dict:
    """1. Token and item material. 2. Warm up. 3. Time the batches, one replay, the single posts."""
    rng = random.Random(SEED)
    system, _created = channel_system_register(code=SYSTEM, name="Ingest benchmark")
    client = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")
    cifs = _customer_sample(rng, pool)
    staff = list(StaffProfile.objects.filter(role=StaffProfile.Role.RM, user__is_active=True)
                 .values_list("user__username", flat=True)[:200])
    with connection.cursor() as cursor:
        # A bench database filled minutes ago may not be analysed yet; a live one is (autovacuum), and
        # the source_id look-up plans an index probe only with statistics that know the system's rows.
        cursor.execute("ANALYZE channels_interaction, customers_customer")
    before = Interaction.objects.count()
    print(f"{database}: {Customer.objects.count():,} customers, {before:,} interactions; "
          f"{len(cifs):,} customers and {len(staff)} RMs in the items")
    run = f"{time.time_ns():x}"  # new source ids on every run
    now = datetime.datetime.now(datetime.UTC)

    def items(prefix: str, count: int) -> list[dict]:
        return [_item(rng, cifs=cifs, staff=staff, now=now, source_id=f"{run}-{prefix}-{n}") for n in range(count)]

    _post(client, BATCH_URL, {"items": items("warm", 100)})
    for n in range(5):
        _post(client, SINGLE_URL, items(f"warm-single{n}", 1)[0])
    bodies = [json.dumps({"items": items(f"b{b}", batch_size)}) for b in range(batches)]
    batch_ms, counts = [], {"created": 0, "duplicate": 0, "conflict": 0, "held": 0, "error": 0}
    token = client.defaults["HTTP_AUTHORIZATION"]

    def post_share(share: list[str]) -> list[tuple[float, dict]]:
        """One poster: its own client and database connection, its share of the batches in turn."""
        poster = Client(HTTP_AUTHORIZATION=token)
        try:
            return [_timed_post(poster, BATCH_URL, body) for body in share]
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=posters) as pool:
        answers = [answer for share in pool.map(post_share, [bodies[n::posters] for n in range(posters)])
                   for answer in share]
    batch_seconds = time.perf_counter() - started
    for elapsed, answer in answers:
        batch_ms.append(elapsed)
        for status, count in answer["counts"].items():
            counts[status] += count
    replay_ms, replay = _timed_post(client, BATCH_URL, bodies[0])
    single_bodies = [json.dumps(body) for body in items("single", singles)]
    single_ms = [_timed_post(client, SINGLE_URL, body)[0] for body in single_bodies]
    print(f"batches: {batches} × {batch_size} from {posters} posters: {batch_seconds:.2f} s, "
          f"p50 {_percentile(batch_ms, 50)} ms, "
          f"p95 {_percentile(batch_ms, 95)} ms; replay of one batch {replay_ms:.1f} ms ({replay['counts']})")
    print(f"single posts: {singles}: p50 {_percentile(single_ms, 50)} ms, p95 {_percentile(single_ms, 95)} ms, "
          f"max {max(single_ms):.1f} ms")
    return {
        "database": database,
        "customers": Customer.objects.count(),
        "interactions_before": before,
        "batches": batches,
        "batch_size": batch_size,
        "posters": posters,
        "items_posted": batches * batch_size,
        "created": counts["created"],
        "not_created": batches * batch_size - counts["created"],
        "interactions_per_s": round(counts["created"] / batch_seconds),
        "batch_p50_ms": _percentile(batch_ms, 50),
        "batch_p95_ms": _percentile(batch_ms, 95),
        "replay_batch_ms": round(replay_ms, 1),
        "replay_duplicates": replay["counts"]["duplicate"],
        "single_posts": singles,
        "p50_ms": _percentile(single_ms, 50),
        "p95_ms": _percentile(single_ms, 95),
    }


def _customer_sample(rng: random.Random, size: int) -> list[str]:
    """`size` random customer numbers, drawn by id (no ORDER BY random() over a million rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM customers_customer")
        low, high = cursor.fetchone()
    ids = {rng.randint(low, high) for _ in range(size)}
    return list(Customer.objects.filter(pk__in=ids).values_list("cif", flat=True))


def _item(rng: random.Random, *, cifs: list[str], staff: list[str], now: datetime.datetime, source_id: str) -> dict:
    offset = datetime.timezone(datetime.timedelta(hours=8))
    at = now - datetime.timedelta(seconds=rng.randint(60, 30 * 86_400))
    item = {
        "customer": rng.choice(cifs), "channel": str(rng.choice(TOUCHPOINT_CHANNELS)), "kind": rng.choice(KINDS),
        "direction": rng.choice(["inbound", "inbound", "outbound"]), "occurred_at": at.astimezone(offset).isoformat(),
        "summary": f"Benchmark contact {source_id}", "source_id": source_id,
    }
    if staff and rng.random() < 0.2:
        item["staff"] = rng.choice(staff)
    return item


def _post(client: Client, url: str, body: dict) -> dict:
    return _timed_post(client, url, json.dumps(body))[1]


def _timed_post(client: Client, url: str, body: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(url, body, content_type="application/json")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code not in (200, 201):
        raise SystemExit(f"{url}: HTTP {response.status_code}: {response.content[:500]!r}")
    return elapsed, response.json()


def _percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))], 1)


if __name__ == "__main__":
    main()
