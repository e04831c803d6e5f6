"""Posts realistic traffic of a campaign through the channel ingest API, so the war room moves."""

from __future__ import annotations

import datetime
import json
import secrets
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.traffic import post_in_batches, traffic_events, traffic_plan
from channels.services.systems import channel_system_register, channel_token_create, channel_token_revoke

BATCH_PATH = "/api/v1/interactions/batch/"


class Command(BaseCommand):
    help = ("Posts a campaign's traffic (calls, visits, sales, feedback of its targeted customers) through the "
            "ingest API: RATE events a minute for MINUTES minutes, in real time, or at once with --no-wait.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="campaign code")
        parser.add_argument("--rate", type=int, default=60, help="events a minute (default 60)")
        parser.add_argument("--minutes", type=int, default=10, help="how long (default 10)")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--no-wait", action="store_true",
                            help="post everything now, the events spread over the last MINUTES minutes")
        parser.add_argument("--url", default="", help="a running server's base URL (default: in this process)")
        parser.add_argument("--system", default="campaign-simulator", help="channel system code")

    def handle(self, *args, **options) -> None:
        if options["rate"] < 1 or options["minutes"] < 1:
            raise CommandError("--rate and --minutes must be at least 1.")
        campaign = Campaign.objects.select_related("product").filter(code=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']}.")
        try:
            plan = traffic_plan(campaign=campaign)
        except ValueError as error:
            raise CommandError(str(error)) from None
        system, _created = channel_system_register(code=options["system"], name="Campaign traffic simulator")
        token_row, token = channel_token_create(system=system)
        post = self._poster(options["url"], token)
        prefix = f"sim-{secrets.token_hex(4)}"  # each run's source ids are its own (a repeat is a duplicate)
        try:
            if options["no_wait"]:
                end = timezone.now()
                start = end - datetime.timedelta(minutes=options["minutes"])
                totals = post_in_batches(traffic_events(plan=plan, count=options["rate"] * options["minutes"],
                                                        start=start, end=end, seed=options["seed"], prefix=prefix),
                                         post=post)
            else:
                totals: dict[str, int] = {}
                for minute in range(options["minutes"]):
                    start = timezone.now()
                    counts = post_in_batches(traffic_events(
                        plan=plan, count=options["rate"], start=start, end=start + datetime.timedelta(minutes=1),
                        seed=options["seed"] + minute, prefix=f"{prefix}-{minute}"), post=post)
                    for status, n in counts.items():
                        totals[status] = totals.get(status, 0) + n
                    self.stdout.write(f"minute {minute + 1}: {counts}")
                    time.sleep(max(0.0, 60 - (timezone.now() - start).total_seconds()))
        finally:
            channel_token_revoke(token=token_row, actor=None)
        self.stdout.write(self.style.SUCCESS(f"{campaign.code}: {totals}"))

    @staticmethod
    def _poster(url: str, token: str):
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        if url:
            def over_http(items: list[dict]) -> dict:
                request = urllib.request.Request(url.rstrip("/") + BATCH_PATH, method="POST", headers=headers,
                                                 data=json.dumps({"items": items}).encode())
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (the operator's URL)
                    return json.loads(response.read())["counts"]
            return over_http

        from django.test import Client  # the API's own stack in this process, no network

        host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*", "")), "localhost").lstrip(".")
        client = Client(HTTP_HOST=host)

        def in_process(items: list[dict]) -> dict:
            response = client.post(BATCH_PATH, data=json.dumps({"items": items}), content_type="application/json",
                                   HTTP_AUTHORIZATION=headers["Authorization"])
            if response.status_code != 200:
                raise CommandError(f"The ingest API answered {response.status_code}: {response.content[:300]!r}")
            return response.json()["counts"]
        return in_process
