"""RM traffic for bench/load_bench.py (run by it: `locust -f bench/locustfile.py`, plan in LOAD_PLAN).

Each simulated RM takes the session of one of the plan's RMs (load_bench signed them in through the
login form) and asks for one page a second (constant_throughput), so N users make an open stream of
N requests a second as long as answers come within the second: search by name and by phone, open
a 360° page of a customer of their branch, page its transactions (htmx), their landing page, the
campaign war room. The site runs its production settings (Secure cookies, HTTPS-only CSRF): the
client says it came through the bank's TLS proxy (X-Forwarded-Proto) and carries its cookies itself.
"""

from __future__ import annotations

import json
import os
import random
from itertools import count
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant_throughput, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_numbers = count()


class RelationshipManager(FastHttpUser):
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        number = next(_numbers)
        self.rng = random.Random(number)
        self.rm = PLAN["rms"][number % len(PLAN["rms"])]
        self.cookies: dict[str, str] = dict(self.rm["cookies"])
        # Users start within a second of each other: each waits a random part of its second first,
        # so their one-a-second requests are spread over the second, not fired in one burst.
        gevent.sleep(self.rng.random())

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
