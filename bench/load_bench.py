"""Load: RM traffic at a fixed arrival rate (locust) against gunicorn on production settings.

    .venv/bin/python bench/load_bench.py [--customers 100000] [--rate 150] [--seconds 60] [--workers 3]
                                          [--find-max]

Runs against DATABASE_URL (settings `crm_bank.settings.local` for the preparation; with fewer customers
than asked it first generates them, seed 7). Starts gunicorn on loopback with the production settings
(a throw-away secret key; HTTPS is what the bank's proxy terminates, so the simulated clients say they
came through it), waits for /healthz, then runs locust headless (bench/locustfile.py): `--rate` simulated
RMs (sharing the sessions of the plan's RMs, who first sign in through the login form, timed apart:
sign-in hashes the password), each asking for one page a second on average at random moments (a Poisson
stream of `--rate` requests a second) — searches by name and phone, 360° pages,
transaction pages, landing pages, the campaign war room, for `--seconds`. `--find-max` then searches
(30 s a try) for the highest rate, to 5 requests a second, whose p95 stays within 250 ms, no error.

The last line printed is one JSON object: rps, p95_ms, p99_ms, errors, login_p95_ms, the server's own
p50/p95 from gunicorn's access log, overall and its p50 per page (and with --find-max, max_rate_p95_250ms).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from crm_bank.org.models import StaffProfile  # noqa: E402
from customers.models import Customer  # noqa: E402
from demo.synthetic import synthetic_bank_generate  # noqa: E402

SEED = 7
# gunicorn.conf.py's access line: `host [time] "request" status bytes seconds "agent"`.
ACCESS_LINE = re.compile(r'\[(?P<at>[^\]]+)\] "\S+ (?P<path>\S+) [^"]*" \d{3} \S+ (?P<seconds>[0-9.]+)s ')
# The mix's pages by the path gunicorn logs (no query string: name and phone searches are one).
SERVER_PAGES = [("360° page", re.compile(r"/customers/\d+/")),
                ("transactions page", re.compile(r"/customers/\d+/transactions/")),
                ("search", re.compile(r"/customers/")), ("landing page", re.compile(r"/customers/my-book/")),
                ("campaign war room", re.compile(r"/campaigns/\d+/dashboard/"))]
RMS_IN_PLAN = 60
CUSTOMERS_PER_RM = 40
P95_LIMIT_MS = 250
SPAWN_PER_SECOND = 50  # simulated RMs started a second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=150, help="requests a second (one per simulated RM)")
    parser.add_argument("--seconds", type=int, default=60)
    # As docker-compose.yml and the Dockerfile run it. On two cores a fourth worker only adds contention:
    # at 150 requests/s, p95 55-72 ms with three workers against 110-120 ms with four.
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--find-max", action="store_true",
                        help=f"also find the highest rate with p95 ≤ {P95_LIMIT_MS} ms")
    args = parser.parse_args()
    present = Customer.objects.count()
    if present < args.customers:
        print(f"{connection.settings_dict['NAME']}: {present:,} customers, generating up to {args.customers:,}…")
        synthetic_bank_generate(customers=args.customers, transactions_per_customer=50, seed=SEED,
                                password=settings.DEMO_PASSWORD)
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    port = _free_port()
    plan = _plan(origin=f"https://127.0.0.1:{port}")
    (work / "plan.json").write_text(json.dumps(plan))
    print(f"{Customer.objects.count():,} customers; {len(plan['rms'])} RMs in the plan; campaign {plan['campaign']}")
    connection.close()
    server = _gunicorn(port=port, workers=args.workers, log=work / "gunicorn.log")
    try:
        login_ms = _sign_in_every_rm(port=port, plan=plan)
        (work / "plan.json").write_text(json.dumps(plan))
        print(f"{len(login_ms)} RMs signed in over HTTP: p95 {_p95(login_ms)} ms a sign-in")
        result = _locust(port=port, rate=args.rate, seconds=args.seconds, work=work)
        result["login_p95_ms"] = _p95(login_ms)
        print(f"rate {args.rate}/s for {args.seconds} s: {json.dumps(result)}")
        if args.find_max:
            result["max_rate_p95_250ms"] = _find_max(port=port, start=args.rate, work=work, first=result)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    result |= {"customers": Customer.objects.count(), "workers": args.workers, "rate_asked": args.rate,
               "seconds": args.seconds}
    print(json.dumps(result))


def _plan(*, origin: str) -> dict:
    """RMs with customers of their own branch (the 360° pages they open are in full), search terms and
    the war-room campaign, written once for the locust process."""
    from dashboard_bench import bench_campaign

    rms = []
    profiles = (StaffProfile.objects.filter(role=StaffProfile.Role.RM, user__is_active=True, branch__isnull=False)
                .select_related("user").order_by("user__username")[:RMS_IN_PLAN])
    for profile in profiles:
        customers = list(Customer.objects.filter(primary_rm_id=profile.user_id, merged_into__isnull=True)
                         .order_by("id").values_list("id", flat=True)[:CUSTOMERS_PER_RM])
        if customers:
            rms.append({"username": profile.user.username, "customers": customers})
    sample = list(Customer.objects.filter(merged_into__isnull=True).exclude(phone="")
                  .order_by("?").values_list("name_key", "phone")[:400])
    name_queries = sorted({key.split()[0][:4] for key, _ in sample if key})
    phones = [phone for _, phone in sample][:200]
    return {"origin": origin, "password": settings.DEMO_PASSWORD, "rms": rms, "name_queries": name_queries,
            "phones": phones, "campaign": bench_campaign().pk}


def _sign_in_every_rm(*, port: int, plan: dict) -> list[float]:
    """Each RM of the plan signs in through the login form, as a browser does (the CSRF cookie from
    the form, then the POST); their session cookies go into the plan for the locust users. Sign-in
    hashes the password (Django's PBKDF2, deliberately slow), so it is timed here, not in the mix."""
    took = []
    for rm in plan["rms"]:
        cookies: dict[str, str] = {}
        _http(port, "GET", "/accounts/login/", cookies=cookies, origin=plan["origin"])
        form = urllib.parse.urlencode({"username": rm["username"], "password": plan["password"],
                                       "csrfmiddlewaretoken": cookies.get("csrftoken", "")}).encode()
        started = time.perf_counter()
        status = _http(port, "POST", "/accounts/login/", cookies=cookies, origin=plan["origin"], body=form)
        took.append((time.perf_counter() - started) * 1000)
        if status != 302 or "sessionid" not in cookies:
            raise SystemExit(f"{rm['username']} could not sign in (HTTP {status})")
        rm["cookies"] = cookies
    return took


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _http(port: int, method: str, path: str, *, cookies: dict[str, str], origin: str, body: bytes | None = None) -> int:
    headers = {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": origin + path,
               "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        response = opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:  # a 302 arrives here with redirects off
        response = error
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name in ("csrftoken", "sessionid"):
            cookies[name] = rest.split(";", 1)[0]
    return response.status


def _p95(values: list[float]) -> float:
    return _percentile(values, 95)


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)], 1) if ordered else 0.0


def _gunicorn(*, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm_bank.settings.production",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(60), "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_LOG_LEVEL": "WARNING",
           # locust plays the bank's TLS proxy: it says the request came over HTTPS (X-Forwarded-Proto).
           "CRM_TRUSTED_PROXIES": "1",
           # The plan's 40 RMs carry the traffic of `--rate` simulated ones (each of them searches by
           # phone more often in ten minutes than the per-person allowance of identifier look-ups):
           # the allowance is still counted on every such search, only not spent.
           "CRM_IDENTIFIER_LOOKUPS": "1000000"}
    env.pop("DJANGO_DEBUG", None)
    # The server runs at a lower priority than locust: on one small machine the load generator must
    # not queue behind the server it measures (its clock would count the wait as response time).
    server = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "gunicorn", "crm_bank.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers),
         "--worker-class", "sync", "--timeout", "60"],
        cwd=BASE_DIR, env={**env, "GUNICORN_CMD_ARGS": f"--access-logfile {log.with_suffix('.access')}"},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-Proto": "https"})
            if urllib.request.urlopen(request, timeout=2).status == 200:  # noqa: S310 - loopback
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"gunicorn did not answer /healthz; see {log}")


def _locust(*, port: int, rate: int, seconds: int, work: Path) -> dict:
    prefix = work / f"rate-{rate}"
    spawn_seconds = math.ceil(rate / SPAWN_PER_SECOND)  # users start spread over this, then stats reset
    command = [sys.executable, "-m", "locust", "-f", str(BASE_DIR / "bench" / "locustfile.py"), "--headless",
               "--host", f"http://127.0.0.1:{port}", "--users", str(rate), "--spawn-rate", str(SPAWN_PER_SECOND),
               "--run-time", f"{seconds + spawn_seconds + 2}s", "--reset-stats", "--csv", str(prefix),
               "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    started = time.time() + spawn_seconds
    subprocess.run(command, cwd=BASE_DIR, env={**os.environ, "LOAD_PLAN": str(work / "plan.json")},
                   check=True, capture_output=True, timeout=seconds + spawn_seconds + 120)
    server_times = _server_times(work, since=started)
    server_ms = [ms for _, ms in server_times]
    with (Path(f"{prefix}_stats.csv")).open(encoding="utf-8") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows.pop("Aggregated")
    pages = {name: float(row["95%"]) for name, row in rows.items() if name not in ("log in", "login page")}
    return {
        "rps": round(float(total["Requests/s"]), 1),
        "p95_ms": float(total["95%"]), "p99_ms": float(total["99%"]),
        "errors": int(total["Failure Count"]), "requests": int(total["Request Count"]),
        "median_ms": float(total["50%"]), "p95_ms_by_page": pages,
        # The same requests as the server timed them (gunicorn's access log: parse to response).
        "server_p50_ms": _percentile(server_ms, 50), "server_p95_ms": _percentile(server_ms, 95),
        "server_p50_ms_by_page": {
            page: _percentile([ms for path, ms in server_times if pattern.fullmatch(path)], 50)
            for page, pattern in SERVER_PAGES},
    }


def _server_times(work: Path, *, since: float) -> list[tuple[str, float]]:
    """(path, milliseconds) per request from gunicorn's access log (`%(U)s` and `%(L)s`, gunicorn.conf.py's
    format), for the requests logged after `since` (the measured window, after the users have started)."""
    times = []
    for line in (work / "gunicorn.access").read_text().splitlines():
        match = ACCESS_LINE.search(line)
        if match and datetime.datetime.strptime(match["at"], "%d/%b/%Y:%H:%M:%S %z").timestamp() >= since:
            times.append((match["path"], float(match["seconds"]) * 1000))
    return times


def _find_max(*, port: int, start: int, work: Path, first: dict) -> int | None:
    """The highest rate (to 5 requests a second) whose p95 stays within P95_LIMIT_MS with no error,
    30 s a try: doubling from the first rate while it holds, then halving the gap."""
    def holds(rate: int) -> bool:
        figures = _locust(port=port, rate=rate, seconds=30, work=work)
        print(f"rate {rate}/s for 30 s: {json.dumps(figures)}")
        return figures["p95_ms"] <= P95_LIMIT_MS and figures["errors"] == 0

    first_holds = first["p95_ms"] <= P95_LIMIT_MS and first["errors"] == 0
    low, high = (start, None) if first_holds else (0, start)
    while high is None:
        if holds(low * 2):
            low *= 2
        else:
            high = low * 2
    while high - low > 5:
        middle = (low + high) // 2
        low, high = (middle, high) if holds(middle) else (low, middle)
    return low or None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
