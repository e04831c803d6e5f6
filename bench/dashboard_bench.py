"""The campaign war room's server time with a million events of one campaign.

    DATABASE_URL=postgres://…/branch_crm_bench .venv/bin/python bench/dashboard_bench.py [--events 1000000]

Runs against DATABASE_URL (settings `crm_bank.settings.local` unless DJANGO_SETTINGS_MODULE says
otherwise; at least 1,000 customers, e.g. the page bench's bank). Creates the running campaign
BENCH-WAR-ROOM with its targeting unless it exists, and, when it has fewer events than asked, writes
the missing ones (seed 7: calls, visits, sales over the last 30 days, 70 % in the last week) with
COPY, then recounts its hourly counts from them (campaigns.events.campaign_hourly_rebuild) — the
counts the storing path keeps in step as events arrive. Then times the dashboard's live part
(in-process, as htmx polls it) over a few hundred requests. Also writes `--contacts` RM outcomes of
the campaign's targets (funnel, spend, best and worst branches) and times requests that find the
slow figures not yet kept (dashboard_cold_ms: a first view with the beat down). The last line
printed is one JSON object with dashboard_ms (p95), dashboard_cold_ms (p95) and queries.
"""

from __future__ import annotations

import argparse
import datetime
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

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.events import campaign_hourly_rebuild  # noqa: E402
from campaigns.models import Campaign, CampaignContact, CampaignTarget  # noqa: E402
from campaigns.services import campaign_approve, campaign_launch, campaign_save, campaign_submit  # noqa: E402
from campaigns.targeting import targeting_start  # noqa: E402
from channels.models import Interaction  # noqa: E402
from crm_bank.bulk import copy_rows, tables_analyze  # noqa: E402
from crm_bank.org.models import StaffProfile  # noqa: E402
from customers.models import Customer, Product  # noqa: E402

SEED = 7
CODE = "BENCH-WAR-ROOM"
MIX = (("call_centre", "enquiry", 0.45), ("web", "visit", 0.25), ("mobile", "visit", 0.12), ("branch", "visit", 0.1),
       ("branch", "sale", 0.08))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--contacts", type=int, default=100_000,
                        help="RM outcomes of the campaign's targets (funnel, spend, best and worst branches)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if Customer.objects.count() < 1_000:
        sys.exit("The database needs a bank of at least 1,000 customers (e.g. bench/page_bench.py generates one).")
    campaign = bench_campaign()
    present = Interaction.objects.filter(campaign_code=CODE).count()
    if present < args.events:
        started = time.perf_counter()
        write_events(campaign, args.events - present)
        print(f"wrote {args.events - present:,} events in {time.perf_counter() - started:.1f} s")
    contacts = CampaignContact.objects.filter(campaign=campaign).count()
    if contacts < args.contacts:
        started = time.perf_counter()
        written = write_contacts(campaign, args.contacts - contacts)
        print(f"wrote {written:,} campaign contacts in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with transaction.atomic():
        rows = campaign_hourly_rebuild(campaign=campaign)
    print(f"{CODE}: {args.events:,} events → {rows:,} hourly rows ({time.perf_counter() - started:.1f} s)")
    print(json.dumps(bench(campaign, args.requests) | {
        "events": Interaction.objects.filter(campaign_code=CODE).count(),
        "contacts": CampaignContact.objects.filter(campaign=campaign).count(),
        "database": connection.settings_dict["NAME"]}))


def bench_campaign() -> Campaign:
    campaign = Campaign.objects.filter(code=CODE).first()
    if campaign is not None:
        return campaign
    admin = StaffProfile.objects.filter(role=StaffProfile.Role.ADMIN).select_related("user").first().user
    maker = StaffProfile.objects.filter(role=StaffProfile.Role.SUPERVISOR).select_related("user").first().user
    product = Product.objects.order_by("code").first()
    campaign = campaign_save(actor=maker, code=CODE, name="War room bench", product=product,
                             channels=["call_centre", "email"], contact_costs={"call_centre": "8", "email": "0.5"},
                             budget=Decimal("200000"), conversion_value=Decimal("300"), control_share=Decimal("0.1"),
                             starts_on=timezone.localdate() - datetime.timedelta(days=30),
                             criteria={"tiers": ["A", "B"]})
    targeting_start(campaign=campaign, actor=admin, sync=True)
    campaign = campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk), actor=maker)
    campaign = campaign_approve(campaign=campaign, actor=admin, version=campaign.version)
    return campaign_launch(campaign=campaign, actor=admin)


def write_events(campaign: Campaign, count: int) -> None:
    rng = random.Random(SEED)
    ids = list(Customer.objects.order_by("?").values_list("id", flat=True)[:50_000])
    now = timezone.now()
    weights = [w for *_, w in MIX]

    columns = ["customer_id", "channel", "kind", "direction", "occurred_at", "summary", "outcome", "campaign_code",
               "payload_hash", "source_id", "recorded_at"]

    def rows():
        for _n in range(count):
            channel, kind, _weight = rng.choices(MIX, weights=weights)[0]
            days = rng.random() * (7 if rng.random() < 0.7 else 30)
            yield (rng.choice(ids), channel, kind, "inbound", now - datetime.timedelta(days=days), "Bench event", "",
                   CODE, "", "", now)

    with transaction.atomic():
        copy_rows(Interaction, columns, rows())
    tables_analyze(Interaction._meta.db_table)


def write_contacts(campaign: Campaign, count: int) -> int:
    """RM outcomes for up to `count` treated targets not yet contacted (seed 7), with COPY."""
    rng = random.Random(SEED)
    done = CampaignContact.objects.filter(campaign=campaign).values("customer_id")
    targets = list(CampaignTarget.objects.filter(run_id=campaign.targeting_run_id, group="treatment")
                   .exclude(customer_id__in=done).order_by("customer_id").values_list("customer_id", flat=True)[:count])
    today = timezone.localdate()
    outcomes = (("no_answer", 30), ("call_back", 10), ("interested", 15), ("accepted", 12), ("declined", 30),
                ("dnc", 3))
    columns = ["campaign_id", "customer_id", "contacted_on", "channel", "outcome", "attempts", "previous_contacts",
               "previous_outcome", "source_ref"]

    def rows():
        for customer_id in targets:
            outcome = rng.choices([o for o, _ in outcomes], weights=[w for _, w in outcomes])[0]
            yield (campaign.pk, customer_id, today - datetime.timedelta(days=rng.randrange(30)), "call_centre",
                   outcome, rng.randint(1, 3), 0, "", "")

    with transaction.atomic():
        written = copy_rows(CampaignContact, columns, rows())
    tables_analyze(CampaignContact._meta.db_table)
    return written


def bench(campaign: Campaign, requests: int) -> dict:
    admin = StaffProfile.objects.filter(role=StaffProfile.Role.ADMIN).select_related("user").first().user
    url = f"/campaigns/{campaign.pk}/dashboard/"
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(admin)
        for _ in range(5):
            client.get(url, HTTP_HX_REQUEST="true")
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url, HTTP_HX_REQUEST="true")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        executed = []  # every statement the request runs, whatever the debug settings log

        def count(execute, sql, params, many, context):
            executed.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url, HTTP_HX_REQUEST="true")
        full = client.get(url)
        # Cold: the first view of a campaign nobody has looked at while the beat was down computes
        # the uplift and the best and worst branches itself (the beat keeps them otherwise).
        cold = []
        for _ in range(max(10, requests // 10)):
            cache.clear()
            started = time.perf_counter()
            client.get(url, HTTP_HX_REQUEST="true")
            cold.append((time.perf_counter() - started) * 1000)
    cold.sort()
    timings.sort()
    return {"dashboard_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
            "dashboard_p50_ms": round(timings[len(timings) // 2], 1), "queries": len(executed),
            "dashboard_cold_ms": round(cold[int(0.95 * (len(cold) - 1))], 1),
            "full_page_status": full.status_code, "requests": requests}


if __name__ == "__main__":
    main()
