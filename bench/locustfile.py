"""RM traffic for bench/load_bench.py (run by it: `locust -f bench/locustfile.py`, plan in LOAD_PLAN).

Each simulated RM signs in once, then asks for one page a second (constant_throughput), so N users
make an open stream of N requests a second whatever the latency: search by name and by phone, open
a 360° page of a customer of their branch, page its transactions (htmx), their landing page, the
campaign war room. The site runs its production settings (Secure cookies, HTTPS-only CSRF): the
client says it came through the bank's TLS proxy (X-Forwarded-Proto) and carries its cookies itself.
"""

from __future__ import annotations

import json
import os
import random
import re
from itertools import count

from locust import HttpUser, constant_throughput, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
_numbers = count()
COOKIE = re.compile(r"(csrftoken|sessionid)=([^;]+)")


class RelationshipManager(HttpUser):
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        number = next(_numbers)
        self.rng = random.Random(number)
        self.rm = PLAN["rms"][number % len(PLAN["rms"])]
        self.cookies: dict[str, str] = {}
        self.log_in()

    def _headers(self, **extra: str) -> dict[str, str]:
        origin = PLAN["origin"]
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + "/", "Cookie": cookie, **extra}

    def _keep_cookies(self, response) -> None:
        for header in response.raw.headers.getlist("Set-Cookie") if response.raw is not None else []:
            for name, value in COOKIE.findall(header):
                self.cookies[name] = value

    def get(self, url: str, name: str, **headers: str) -> None:
        with self.client.get(url, name=name, headers=self._headers(**headers), allow_redirects=False,
                             catch_response=True) as response:
            self._keep_cookies(response)
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {url}")

    def log_in(self) -> None:
        with self.client.get("/accounts/login/", name="login page", headers=self._headers(),
                             catch_response=True) as page:
            self._keep_cookies(page)
        form = {"username": self.rm["username"], "password": PLAN["password"],
                "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
        with self.client.post("/accounts/login/", data=form, name="log in", headers=self._headers(),
                              allow_redirects=False, catch_response=True) as response:
            self._keep_cookies(response)
            if response.status_code != 302 or "sessionid" not in self.cookies:
                response.failure(f"sign-in refused ({response.status_code})")

    @task(3)
    def search_by_name(self) -> None:
        self.get(f"/customers/?q={self.rng.choice(PLAN['name_queries'])}", "search by name")

    @task(2)
    def search_by_phone(self) -> None:
        self.get(f"/customers/?q={self.rng.choice(PLAN['phones'])}", "search by phone")

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
