"""PostgreSQL going away mid-request and mid-import. A restart ends every connection the way
pg_terminate_backend ends one: the drill ends exactly the connection of the request or the import,
held at its write by a lock, while the rest of the test suite's database stays up.

- A page: a clean "try again" page (503), and the next request works — no restart of the app.
- The API: a JSON 503 with Retry-After, nothing stored; the same item again is stored once.
- An import: the run fails at once with the reason, nothing of the batch is written; the same
  worker process (not restarted) imports it again when it is re-committed, every line once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from channels.models import Interaction
from channels.services.systems import channel_system_register, channel_token_create
from crm_bank.runs.models import Run
from customers.imports.services import import_batch_commit, import_batch_upload, source_system_ensure
from customers.models import Customer, ImportBatch, ImportRow
from tests.customers.factories import CustomerFactory
from tests.customers.import_helpers import JIRI, LI_WEI, write_file
from tests.drills.conftest import backends_waiting_on_a_lock, database_url, table_locked, wait_for
from tests.runs.waiting import wait_until_finished

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@contextmanager
def connection_ended_at(table: str) -> Iterator[list[int]]:
    """Locks `table`; the first backend that waits on it is ended as a PostgreSQL restart would end
    it, then the lock goes. Yields the ended backends' pids (filled once it happened)."""
    ended: list[int] = []
    with table_locked(table):
        def end_the_waiter() -> None:
            (pid, *_) = wait_for(backends_waiting_on_a_lock, timeout=60, what=f"a backend waiting on {table}")
            with psycopg.connect(database_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            ended.append(pid)

        thread = threading.Thread(target=end_the_waiter, daemon=True)
        thread.start()
        yield ended
        thread.join(timeout=70)
    assert ended, "nothing waited on the lock"


def test_page_gets_a_clean_error_then_works_again(client, rm_a, customer_a):
    client.force_login(rm_a)
    url = reverse("customers:customer-detail", args=[customer_a.pk])
    with connection_ended_at(Customer._meta.db_table):
        response = client.get(url)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    body = response.content.decode()
    assert 'id="database-unavailable"' in body and "Traceback" not in body
    assert client.get(url).status_code == 200  # a new connection: the app recovered by itself


def test_api_write_is_all_or_nothing_and_the_retry_is_stored_once(branch_a):
    CustomerFactory(cif="C000000001", home_branch=branch_a)
    system = channel_system_register(code="call-centre", name="Call centre")[0]
    api = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")
    item = {"customer": "C000000001", "channel": "call_centre", "kind": "enquiry", "direction": "inbound",
            "occurred_at": "2026-11-02T09:15:00+01:00", "summary": "Asked about the mortgage rate",
            "source_id": "cc-1"}
    with connection_ended_at(Interaction._meta.db_table):
        response = api.post(reverse("api:interaction-create"), item, content_type="application/json")
    assert response.status_code == 503 and "nothing was stored" in response.json()["detail"]
    assert not Interaction.objects.exists()
    again = api.post(reverse("api:interaction-create"), item, content_type="application/json")
    assert again.status_code == 201
    assert Interaction.objects.filter(source_id="cc-1").count() == 1


def test_import_cut_off_half_way_is_imported_once_when_committed_again(tmp_path, branch_a, worker_process):
    others = ({"source_key": f"k{n}", "given_name": f"Jana{n}", "family_name": f"Svobodova{n}", "country": "CZ",
               "birth_date": f"19{50 + n}-0{1 + n % 9}-1{n % 10}", "branch_code": "A01"} for n in range(3, 41))
    rows = [LI_WEI, JIRI, *others]
    system, _ = source_system_ensure(code="core", actor=None)
    with write_file(tmp_path / "customers.csv", rows).open("rb") as handle:
        batch = import_batch_upload(source=system, file=handle, file_name="customers.csv", actor=None)
    worker_process()
    with connection_ended_at(Customer._meta.db_table):
        run = import_batch_commit(batch=batch, actor=None)
        run = wait_until_finished(run, timeout=60)
    assert run.status == Run.Status.FAILED and "terminat" in run.error.lower()
    assert not Customer.objects.exists() and not ImportRow.objects.filter(batch=batch, customer__isnull=False)

    connection.close()  # the test's own view of the database starts afresh too
    rerun = wait_until_finished(import_batch_commit(batch=ImportBatch.objects.get(pk=batch.pk), actor=None),
                                timeout=60)
    assert rerun.status == Run.Status.SUCCEEDED, rerun.error
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED and batch.line_count == len(rows)
    assert sum(batch.counts.values()) == len(rows) and ImportRow.objects.filter(batch=batch).count() == len(rows)
    assert Customer.objects.count() == batch.counts["created"] == len(rows)
    assert ImportRow.objects.filter(batch=batch).values("line").distinct().count() == len(rows)
