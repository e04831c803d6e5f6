"""RM traffic for bench/load_bench.py (run by it: `locust -f bench/locustfile.py`, plan in LOAD_PLAN).

Each simulated RM takes the session of one of the plan's RMs (load_bench signed them in through the
login form) and asks for pages at random moments, one a second on average (independent exponential
gaps on the RM's own clock), so N users make an open, Poisson stream of N requests a second as long
as answers come quicker than the next request is due: search by name and by phone, open
a 360° page of a customer of their branch, page its transactions (htmx), their landing page, the
campaign war room. The site runs its production settings (Secure cookies, HTTPS-only CSRF): the
client says it came through the bank's TLS proxy (X-Forwarded-Proto) and carries its cookies itself.

Why not locust's constant_throughput: it paces each user from the moment the user was created, not
from its first request, so a random delay before the first request is taken off the first wait and
every user fires at the same fraction of each second (measured: 20 users, every request within the
same 50 ms of its second). The server then saw bursts of N requests once a second, and the client
times carried the queue of each burst.
"""

from __future__ import annotations

import json
import os
import random
import time
from itertools import count
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_numbers = count()


REQUESTS_PER_SECOND = 1.0  # per simulated RM


class RelationshipManager(FastHttpUser):
    def on_start(self) -> None:
        number = next(_numbers)
        self.rng = random.Random(number)
        self.rm = PLAN["rms"][number % len(PLAN["rms"])]
        self.cookies: dict[str, str] = dict(self.rm["cookies"])
        self.next_request_at = time.monotonic()
        gevent.sleep(self.wait_time())

    def wait_time(self) -> float:
        """Seconds until this RM's next request: its schedule moves on by an exponential gap (mean one
        second) from where it was, not from now, so a slow answer does not lower the rate asked for."""
        self.next_request_at += self.rng.expovariate(REQUESTS_PER_SECOND)
        return max(0.0, self.next_request_at - time.monotonic())

    def _headers(self, **extra: str) -> dict[str, str]:
        origin = PLAN["origin"]
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        # gunicorn's sync workers answer one request per connection: say so, so the client never
        # tries a connection the server has closed.
        return {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/", "Cookie": cookie,
                "Connection": "close", **extra}

    def get(self, url: str, name: str, **headers: str) -> None:
        # GETs only: the session cookie the RM signed in with stays valid, nothing to keep.
        with self.client.get(url, name=name, headers=self._headers(**headers), allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {url}")

    @task(3)
    def search_by_name(self) -> None:
        self.get(f"/customers/?{urlencode({'q': self.rng.choice(PLAN['name_queries'])})}", "search by name")

    @task(2)
    def search_by_phone(self) -> None:
        self.get(f"/customers/?{urlencode({'q': self.rng.choice(PLAN['phones'])})}", "search by phone")

    @task(6)
    def open_360(self) -> None:
        self.get(f"/customers/{self.rng.choice(self.rm['customers'])}/", "360° page")

    @task(3)
    def page_transactions(self) -> None:
        customer = self.rng.choice(self.rm["customers"])
        self.get(f"/customers/{customer}/transactions/?page=2", "transactions page", **{"HX-Request": "true"})

    @task(2)
    def landing_page(self) -> None:
        self.get("/customers/my-book/", "landing page")

    @task(1)
    def campaign_dashboard(self) -> None:
        self.get(f"/campaigns/{PLAN['campaign']}/dashboard/", "campaign war room")


@events.quitting.add_listener
def _summary(environment, **kwargs) -> None:
    environment.process_exit_code = 0  # load_bench reads the CSV and judges the figures itself
