"""Server-side timings of the customer pages on a big bank, in-process with django.test.Client.

    .venv/bin/python bench/page_bench.py [--requests 300] [--customers 20000 --transactions-per-customer 50]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise). With fewer customers than asked it first generates them (seed 7). Timed: the 360° page of
typical customers and of those with the longest transaction and contact histories, the panels htmx
loads into it (predictions, touchpoint map, a timeline tab), the customer list with filters, and the
search by name prefix, phone and national ID. The 360° page is timed at a first view (its panels
looked up in the cache, missed, rendered and kept) and at a repeat view (its panels from the cache).
No network or browser: this is the server's share.
Each 360° view writes an audit row, as in production. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")
# One bench user makes hundreds of identifier searches: the per-person allowance of such look-ups
# (crm_bank.security.limits) is still counted on each, only not spent.
os.environ["CRM_IDENTIFIER_LOOKUPS"] = "1000000"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from crm_bank.org.models import StaffProfile  # noqa: E402
from crm_bank.org.services import demo_staff_ensure  # noqa: E402
from crm_bank.ui import fragments  # noqa: E402
from customers.models import Customer  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402

SEED = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--customers", type=int, default=20_000)
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
    # Production-like: no debug cursor or template debug; the test client's host is allowed.
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        result = _bench(requests=args.requests, database=database)
    print(json.dumps(result))


def _bench(*, requests: int, database: str) -> dict:
    """1. Pick the customers and queries. 2. Warm up. 3. Time a shuffled mix. 4. Count one 360°'s queries."""
    rng = random.Random(SEED)
    customers, transactions = _table_counts()
    print(f"{database}: {customers:,} customers, {transactions:,} transactions")
    client = Client()
    client.force_login(_admin_user())
    typical, long_history = _customer_samples(rng=rng, per_group=40)
    print(f"360° samples: {len(typical)} typical (≤ median history), long histories: "
          + ", ".join(f"{n:,}" for _, n in long_history[:5]) + " … transactions")
    contacted = _busiest_timelines(per_group=40)
    print("longest timelines: " + ", ".join(f"{n:,}" for _, n in contacted[:5]) + " … contacts")
    sample = list(Customer.objects.filter(pk__in=[pk for pk, _ in typical[:40]])
                  .values("id", "name_key", "phone", "national_id", "home_branch_id"))
    urls: dict[str, list[str]] = {
        "customer_360": [f"/customers/{pk}/" for pk, _ in typical],
        # Opened again within the panel cache's time (crm_bank.ui.fragments): the panels come from the
        # cache. The other 360° groups are timed as first views (FIRST_VIEWS).
        "customer_360_repeat": [f"/customers/{pk}/" for pk, _ in typical],
        "customer_360_long_history": [f"/customers/{pk}/" for pk, _ in long_history],
        # The 360° page's predictions panel, which htmx loads right after the page.
        "customer_360_predictions": [f"/segmentation/customers/{pk}/predictions/" for pk, _ in typical],
        # The 360° page of the customers with the most contacts, and the panels htmx loads for them:
        # the touchpoint map (with the header's complaint and churn alerts) and a channel tab.
        "customer_360_long_timeline": [f"/customers/{pk}/" for pk, _ in contacted],
        "touchpoints": [HX + f"/channels/customers/{pk}/touchpoints/" for pk, _ in typical + contacted],
        "timeline_tab": [HX + f"/channels/customers/{pk}/timeline/?channel=atm" for pk, _ in contacted],
        # The data-quality panel (sources, freshness per field group, what is missing), loaded by htmx.
        "data_quality": [HX + f"/customers/{pk}/data-quality/" for pk, _ in typical],
        "list": ["/customers/", "/customers/?lifecycle_stage=dormant", "/customers/?incomplete=on"]
        + [f"/customers/?home_branch={c['home_branch_id']}" for c in sample[:10]]
        + [f"/customers/?home_branch={c['home_branch_id']}&incomplete=on" for c in sample[:5]],
        # The value-tier filter (empty lists before a value-scoring run is published).
        "tier_filter": ["/customers/?tier=A", "/customers/?tier=B", "/customers/?tier=C"]
        + [f"/customers/?tier=A&home_branch={c['home_branch_id']}" for c in sample[:3]],
        "name_search": [_search_url(c["name_key"][: rng.randint(3, 6)].strip()) for c in sample],
        "phone_id_search": [_search_url(c["phone"]) for c in sample if c["phone"]]
        + [_search_url(c["national_id"]) for c in sample if c["national_id"]],
    }
    shares = {"customer_360": 0.3, "customer_360_repeat": 0.15, "customer_360_long_history": 0.2,
              "customer_360_predictions": 0.1, "list": 0.2,
              "name_search": 0.15, "phone_id_search": 0.15, "tier_filter": 0.1, "customer_360_long_timeline": 0.1,
              "touchpoints": 0.15, "timeline_tab": 0.1, "data_quality": 0.1}
    plan = [(group, rng.choice(urls[group])) for group, share in shares.items() if urls[group]
            for _ in range(max(1, round(requests * share)))]
    rng.shuffle(plan)
    for group in urls:  # templates, URL resolver and connection warm-up stay out of the timings
        if urls[group]:
            _get(client, urls[group][0])
    for url in urls["customer_360_repeat"]:  # each customer's first view, which keeps their panels
        _get(client, url)
    timings: dict[str, list[float]] = {group: [] for group in urls}
    slowest: dict[str, tuple[float, str]] = {}
    errors = 0
    for group, url in plan:
        with _panels_not_kept_yet() if group in FIRST_VIEWS else nullcontext():
            elapsed, ok = _timed(lambda url=url: _get(client, url))
        timings[group].append(elapsed)
        slowest[group] = max(slowest.get(group, (0.0, "")), (elapsed, url))
        errors += not ok
    with CaptureQueriesContext(connection) as queries:
        _get(client, urls["customer_360_long_history"][0] if long_history else urls["customer_360"][0])
    timeline_queries = 0
    if contacted:
        with CaptureQueriesContext(connection) as counted:
            _get(client, urls["customer_360_long_timeline"][0])
        timeline_queries = len(counted)
    for group, values in timings.items():
        if values:
            print(f"{group:28} n={len(values):4}  p50 {_percentile(values, 50):7.1f} ms  "
                  f"p95 {_percentile(values, 95):7.1f} ms  max {max(values):7.1f} ms  ({slowest[group][1]})")
    print(f"queries in one 360° page: {len(queries)} (longest timeline: {timeline_queries}); errors: {errors}")
    search = timings["name_search"] + timings["phone_id_search"]
    return {
        "database": database,
        "customers": customers,
        "transactions": transactions,
        "requests": len(plan),
        "errors": errors,
        "customer_360_p95_ms": _percentile(timings["customer_360"], 95),
        "customer_360_long_history_p95_ms": _percentile(timings["customer_360_long_history"], 95),
        "customer_360_predictions_p95_ms": _percentile(timings["customer_360_predictions"], 95),
        "long_history_max_transactions": long_history[0][1] if long_history else 0,
        "list_p95_ms": _percentile(timings["list"], 95),
        "tier_filter_p95_ms": _percentile(timings["tier_filter"], 95),
        "search_p95_ms": _percentile(search, 95),
        "name_search_p95_ms": _percentile(timings["name_search"], 95),
        "phone_id_search_p95_ms": _percentile(timings["phone_id_search"], 95),
        "customer_360_p50_ms": _percentile(timings["customer_360"], 50),
        "customer_360_repeat_p95_ms": _percentile(timings["customer_360_repeat"], 95),
        "customer_360_repeat_p50_ms": _percentile(timings["customer_360_repeat"], 50),
        "customer_360_long_timeline_p95_ms": _percentile(timings["customer_360_long_timeline"], 95),
        "long_timeline_max_contacts": contacted[0][1] if contacted else 0,
        "touchpoints_p95_ms": _percentile(timings["touchpoints"], 95),
        "data_quality_p95_ms": _percentile(timings["data_quality"], 95),
        "timeline_tab_p95_ms": _percentile(timings["timeline_tab"], 95),
        "queries_360": len(queries),
        "queries_360_long_timeline": timeline_queries,
    }


def _search_url(query: str) -> str:
    return "/customers/?" + urlencode({"q": query})  # a phone's "+" must not become a space


# 360° groups timed as a customer's first view: every panel looked up, missed, rendered and kept.
FIRST_VIEWS = {"customer_360", "customer_360_long_history", "customer_360_long_timeline"}


def _panels_not_kept_yet():
    """Every panel key new for one request, as after a deployment (a fresh release digest): the
    cache is asked, misses, and keeps the renderings, as at a customer's first view."""
    return mock.patch.object(fragments, "release_digest", lambda: secrets.token_hex(16))


HX = "hx:"  # a URL the page loads with htmx (sent with the HX-Request header, as the browser does)


def _get(client: Client, url: str) -> bool:
    if url.startswith(HX):
        url = url.removeprefix(HX)
        response = client.get(url, headers={"HX-Request": "true"})
    else:
        response = client.get(url)
    if response.status_code != 200:
        print(f"  {url}: HTTP {response.status_code}")
    return response.status_code == 200


def _timed(call: Callable[[], bool]) -> tuple[float, bool]:
    started = time.perf_counter()
    ok = call()
    return (time.perf_counter() - started) * 1000, ok


def _percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))], 1)


def _table_counts() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        (customers,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM customers_transaction")
        (transactions,) = cursor.fetchone()
    return customers, transactions


def _busiest_timelines(*, per_group: int) -> list[tuple[int, int]]:
    """(customer id, contacts) of the customers with the most interactions, from a block sample of
    about a million rows, so finding them does not read the whole table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'channels_interaction'")
        estimate = max(cursor.fetchone()[0], 1)
        percent = min(100.0, 100.0 * 1_000_000 / estimate)
        cursor.execute(
            f"""SELECT customer_id FROM channels_interaction TABLESAMPLE SYSTEM ({percent:.4f})
                GROUP BY customer_id ORDER BY count(*) DESC LIMIT %s""",
            [per_group],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(
            """SELECT customer_id, count(*) FROM channels_interaction WHERE customer_id = ANY(%s)
               GROUP BY customer_id ORDER BY count(*) DESC""",
            [ids],
        )
        return cursor.fetchall()


def _admin_user():
    """The demo admin: full access everywhere, so every 360° page shows money and transactions."""
    profile = StaffProfile.objects.filter(role=StaffProfile.Role.ADMIN).select_related("user").first()
    if profile is None:
        demo_staff_ensure(branches=[], password=settings.DEMO_PASSWORD)
        profile = StaffProfile.objects.select_related("user").get(user__username="admin")
    return profile.user


def _customer_samples(*, rng: random.Random, per_group: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(customer id, transactions) of random customers with at most the median history, and of the
    customers owning the busiest accounts. The busiest come from a ~2M-row block sample of
    transactions, so finding them does not scan fifty million rows.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'customers_transaction'")
        estimate = max(cursor.fetchone()[0], 1)
        percent = min(100.0, 100.0 * 2_000_000 / estimate)
        cursor.execute(
            f"""SELECT h.customer_id, count(*) FROM customers_transaction t TABLESAMPLE SYSTEM ({percent:.4f})
                JOIN customers_accountholder h ON h.account_id = t.account_id AND h.role = 'owner'
                GROUP BY h.customer_id ORDER BY count(*) DESC LIMIT %s""",
            [per_group],
        )
        busiest = [pk for pk, _ in cursor.fetchall()]
        cursor.execute("SELECT min(id), max(id) FROM customers_customer")
        low, high = cursor.fetchone()
        candidates = [rng.randint(low, high) for _ in range(per_group * 10)]
        cursor.execute(
            """SELECT c.id, (SELECT count(*) FROM customers_transaction t JOIN customers_accountholder h
                             ON h.account_id = t.account_id WHERE h.customer_id = c.id)
               FROM customers_customer c WHERE c.id = ANY(%s)""",
            [candidates],
        )
        counted = sorted(cursor.fetchall(), key=lambda row: row[1])
        cursor.execute(
            """SELECT h.customer_id, count(*) FROM customers_transaction t JOIN customers_accountholder h
               ON h.account_id = t.account_id WHERE h.customer_id = ANY(%s) GROUP BY h.customer_id
               ORDER BY count(*) DESC""",
            [busiest],
        )
        long_history = cursor.fetchall()
    median = counted[len(counted) // 2][1] if counted else 0
    typical = [row for row in counted if row[1] <= median]
    rng.shuffle(typical)
    return typical[:per_group], long_history


if __name__ == "__main__":
    main()
