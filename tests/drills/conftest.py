"""Failure drills against real processes: a Celery worker in its own process group (so `kill -9`
takes it down whole), a Redis server of the drill's own, and PostgreSQL locks that hold a worker at
an exact step (its backend waits on the lock) until the drill has done its damage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.1)


def database_url(name: str | None = None) -> str:
    """The test database's URL (or another database `name` on the same server, same role)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host, port = db["HOST"] or db["OPTIONS"].get("host") or "127.0.0.1", db["PORT"] or db["OPTIONS"].get("port") or 5432
    if str(host).startswith("/"):
        # A Unix socket directory (the embedded PostgreSQL of `make test` without DATABASE_URL): the
        # form both libpq (psycopg, pg_dump, psql) and django-environ read is host= in the query.
        return f"postgres://{db['USER']}{password}@/{name or db['NAME']}?{urlencode({'host': host, 'port': port})}"
    return f"postgres://{db['USER']}{password}@{host}:{port}/{name or db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process that works on the test database, as the test process does."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "crm_bank.settings.test", "DATABASE_URL": database_url(),
            "PYTHONUNBUFFERED": "1", **extra}


class WorkerProcess:
    """`celery worker` (prefork, one child) in its own session: `kill()` is kill -9 of the group."""

    def __init__(self, log: Path, **env: str) -> None:
        self.log = log
        self.env = process_env(**env)
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "celery", "-A", "crm_bank", "worker", "--pool", "prefork",
                   "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
                   "--hostname", f"drill-{uuid.uuid4().hex[:8]}@%h"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=self.log.open("ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_process(tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"worker-{len(started)}.log", **env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@contextmanager
def table_locked(table: str) -> Iterator[psycopg.Connection]:
    """Holds an ACCESS EXCLUSIVE lock on `table` in a connection of its own until the block ends:
    whoever touches the table waits there."""
    with psycopg.connect(database_url(), autocommit=False) as locker:
        locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        try:
            yield locker
        finally:
            locker.rollback()


def backends_waiting_on_a_lock() -> list[int]:
    """The backends of the test database waiting for a lock (the worker held at its step)."""
    with psycopg.connect(database_url(), autocommit=True) as probe:
        rows = probe.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()
    return [pid for (pid,) in rows]


def backend_gone(pid: int, *, timeout: float = 15) -> None:
    """Waits for a dead client's backend to notice and end (terminates it if it does not)."""
    with psycopg.connect(database_url(), autocommit=True) as probe:
        deadline = time.monotonic() + timeout
        while probe.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            if time.monotonic() > deadline:
                probe.execute("SELECT pg_terminate_backend(%s)", [pid])
            time.sleep(0.1)


@contextmanager
def _drill_redis(data: Path, *, persistent: bool) -> Iterator[Callable[[], None]]:
    """A Redis of the drill's own on a free port, and a restart() that shuts it down and starts it
    again: on the same data with `persistent` (appendonly, as the compose stack runs it), or empty
    without (as a Redis that keeps nothing on disk comes back)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
               "--appendonly", "yes" if persistent else "no", "--save", "", "--daemonize", "yes",
               "--pidfile", str(data / "redis.pid")]

    def ping() -> bool:
        answer = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        return answer.stdout.strip() == "PONG"

    def start() -> None:
        subprocess.run(command, check=True, capture_output=True)
        wait_for(ping, what="redis up")

    def restart() -> None:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown"] + ([] if persistent else ["nosave"]),
                       capture_output=True)
        wait_for(lambda: not ping(), what="redis down")
        start()

    start()
    restart.url = f"redis://127.0.0.1:{port}/0"
    try:
        yield restart
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)


@pytest.fixture
def drill_redis(tmp_path) -> Iterator[Callable[[], None]]:
    """The drill's Redis with the compose stack's persistence: a restart keeps the queued messages."""
    with _drill_redis(tmp_path / "redis", persistent=True) as restart:
        yield restart


@pytest.fixture
def drill_redis_volatile(tmp_path) -> Iterator[Callable[[], None]]:
    """The drill's Redis keeping nothing on disk: a restart loses every queued message."""
    with _drill_redis(tmp_path / "redis-volatile", persistent=False) as restart:
        yield restart
