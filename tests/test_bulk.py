"""crm_bank.bulk: DataFrames out of a query and into a result table (binary COPY), a run's rows replaced."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pandas as pd
import psycopg
import pytest

from crm_bank.bulk import copy_frame, frame_from_query, gc_paused, run_rows_replace
from segmentation.models import CustomerValue, SegmentMembership

pytestmark = pytest.mark.django_db


def value_rows(run_id: int, customers: list[int], rm: list[int | None]) -> pd.DataFrame:
    n = len(customers)
    return pd.DataFrame({
        "customer_id": customers, "branch_id": [1] * n, "rm_id": pd.array(rm, dtype="Int64"),
        "value": np.linspace(100.25, 0, n), "rank": np.arange(1, n + 1), "branch_rank": np.arange(1, n + 1),
        "share": [1 / n] * n, "cumulative_share": np.arange(1, n + 1) / n, "tier": ["A"] + ["C"] * (n - 1),
        "previous_tier": [""] * n,
    })


def test_copy_frame_writes_numbers_text_nulls_and_arrays_as_they_are():
    written = copy_frame(CustomerValue, value_rows(7, [30, 10, 20], [5, None, 6]).assign(run_id=7))
    copy_frame(SegmentMembership, pd.DataFrame({
        "run_id": [7, 7], "customer_id": [10, 20], "segment": [0, 3],
        "rule_segments": pd.Series([[], [2, 9]], dtype=object),
    }))

    assert written == 3
    rows = {v.customer_id: v for v in CustomerValue.objects.filter(run_id=7)}
    assert (rows[30].value, rows[30].rm_id, rows[30].tier, rows[30].previous_tier) == (100.25, 5, "A", "")
    assert rows[10].rm_id is None and rows[20].cumulative_share == 1.0
    assert dict(SegmentMembership.objects.filter(run_id=7).values_list("customer_id", "rule_segments")) == {
        10: [], 20: [2, 9]}


def test_copy_frame_refuses_a_column_the_table_lacks_and_writes_nothing():
    with pytest.raises(ValueError, match="no column"):
        copy_frame(CustomerValue, value_rows(7, [1], [None]).assign(run_id=7, password="x"))

    assert not CustomerValue.objects.exists()


def test_run_rows_replace_swaps_only_that_runs_rows_and_reads_back_through_a_frame():
    run_rows_replace(CustomerValue, 7, value_rows(7, [1, 2, 3], [None, None, None]))
    run_rows_replace(CustomerValue, 8, value_rows(8, [1], [None]))

    run_rows_replace(CustomerValue, 7, value_rows(7, [4, 5], [9, None]))

    frame = frame_from_query(
        f"SELECT run_id, customer_id, rm_id FROM {CustomerValue._meta.db_table} WHERE run_id = %(run)s"
        " ORDER BY customer_id", {"run": 7})
    assert frame["customer_id"].tolist() == [4, 5] and frame["rm_id"].isna().tolist() == [False, True]
    assert CustomerValue.objects.filter(run_id=8).count() == 1


def test_run_rows_replace_analyses_only_the_columns_it_is_given():
    from django.db import connection

    def most_common(column: str) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT most_common_vals::text FROM pg_stats WHERE tablename = %s AND attname = %s",
                           [CustomerValue._meta.db_table, column])
            row = cursor.fetchone()
            return row[0] if row else None

    run_rows_replace(CustomerValue, 7, value_rows(7, [1, 2, 3], [None, None, None]).assign(rank=5))
    assert (most_common("tier"), most_common("rank")) == ("{C}", "{5}")

    run_rows_replace(CustomerValue, 7, value_rows(7, [1, 2, 3], [None, None, None]).assign(rank=6, tier="B"),
                     analyze_columns=("run_id", "tier"))
    assert (most_common("tier"), most_common("rank")) == ("{B}", "{5}")  # rank's statistics left as they were


def test_tables_analyze_refuses_columns_for_several_tables():
    from crm_bank.bulk import tables_analyze

    with pytest.raises(ValueError, match="one table"):
        tables_analyze("a", "b", columns=("run_id",))


@pytest.mark.django_db(transaction=True)
def test_tables_vacuum_marks_a_filled_tables_pages_all_visible_and_only_analyses_inside_a_transaction():
    from django.db import connection, transaction

    from crm_bank.bulk import tables_vacuum

    table = CustomerValue._meta.db_table
    run_rows_replace(CustomerValue, 7, value_rows(7, list(range(1, 2001)), [None] * 2000))

    def all_visible_pages() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relallvisible FROM pg_class WHERE relname = %s", [table])
            return cursor.fetchone()[0]

    with transaction.atomic():
        tables_vacuum(table)  # no error: VACUUM cannot run in a transaction, ANALYZE does instead

    tables_vacuum(table)

    assert all_visible_pages() > 0


def test_gc_paused_stops_the_collector_inside_and_restores_it_even_on_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector someone else turned off stays off
    finally:
        gc.enable()


KEY_RANGE_SQL = (
    "SELECT customer_id, value, tier FROM segmentation_customervalue"
    " WHERE run_id = %(run)s AND customer_id BETWEEN %(key_low)s AND %(key_high)s ORDER BY customer_id"
)


class _Reads(list):
    """What frame_from_query was called for, in call order; `started` is set by the first call."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()


def _key_range_read(params: dict, own_connection: bool) -> tuple[int, int, bool]:
    return params["key_low"], params["key_high"], own_connection


def _reads_recorded(monkeypatch, describe=_key_range_read) -> _Reads:
    """`describe(params, on a connection of its own)` of every frame_from_query call (by default
    (key_low, key_high, on a connection of its own))."""
    from crm_bank import bulk

    reads = _Reads()
    real = bulk.frame_from_query
    main = threading.get_ident()

    def recorded(sql, params=None):
        reads.append(describe(params, threading.get_ident() != main))
        reads.started.set()
        return real(sql, params)

    monkeypatch.setattr(bulk, "frame_from_query", recorded)
    return reads


@pytest.mark.django_db(transaction=True)
def test_frame_from_key_ranges_reads_committed_rows_in_halves_on_two_connections_in_key_order(monkeypatch):
    from django.db import transaction

    from crm_bank.bulk import frame_from_key_ranges, run_customer_bounds

    copy_frame(CustomerValue, value_rows(5, list(range(101, 201)), [None] * 100).assign(run_id=5))  # committed
    reads = _reads_recorded(monkeypatch)
    low, high = run_customer_bounds(CustomerValue, 5)
    with transaction.atomic():  # a run's finish: its own transaction, none around it
        frame = frame_from_key_ranges(KEY_RANGE_SQL, {"run": 5}, low=low, high=high)

    assert (low, high) == (101, 200)
    assert sorted(reads) == [(101, 150, True), (151, 200, True)]
    assert frame["customer_id"].tolist() == list(range(101, 201))
    assert frame["value"].tolist() == pytest.approx(value_rows(5, list(range(101, 201)), [None] * 100)["value"])
    assert run_customer_bounds(CustomerValue, 6) == (None, None)
    empty = frame_from_key_ranges(KEY_RANGE_SQL, {"run": 6}, low=None, high=None)
    assert empty.empty and list(empty.columns) == ["customer_id", "value", "tier"]


def test_frame_from_key_ranges_reads_on_this_connection_inside_an_enclosing_transaction(monkeypatch):
    from django.db import transaction

    from crm_bank.bulk import frame_from_key_ranges

    # The test's transaction encloses these rows and the finish's own: no other connection sees them.
    copy_frame(CustomerValue, value_rows(5, [11, 12, 13], [1, 2, 3]).assign(run_id=5))
    reads = _reads_recorded(monkeypatch)
    with transaction.atomic():
        frame = frame_from_key_ranges(KEY_RANGE_SQL, {"run": 5}, low=11, high=13)

    assert reads == [(11, 13, False)]
    assert frame["customer_id"].tolist() == [11, 12, 13] and frame["tier"].tolist() == ["A", "C", "C"]


@pytest.mark.django_db(transaction=True)
def test_frame_from_key_ranges_reads_again_on_this_connection_when_the_parts_miss_rows_it_holds(monkeypatch):
    from django.db import transaction

    from crm_bank.bulk import frame_from_key_ranges

    committed = [customer for customer in range(101, 201) if customer != 150]
    copy_frame(CustomerValue, value_rows(5, committed, [None] * 99).assign(run_id=5))
    reads = _reads_recorded(monkeypatch)
    with transaction.atomic():
        # Written in this transaction: the other connections cannot see customer 150.
        copy_frame(CustomerValue, value_rows(5, [150], [None]).assign(run_id=5))
        frame = frame_from_key_ranges(KEY_RANGE_SQL, {"run": 5}, low=101, high=200, rows=100)

    assert sorted(reads) == [(101, 150, True), (101, 200, False), (151, 200, True)]
    assert frame["customer_id"].tolist() == list(range(101, 201))


WHOLE_RUN_SQL = "SELECT customer_id, tier FROM segmentation_customervalue WHERE run_id = %(run)s ORDER BY customer_id"


@pytest.mark.django_db(transaction=True)
def test_frame_from_query_ahead_reads_committed_rows_at_once_on_a_connection_of_its_own(monkeypatch):
    from django.db import connection, transaction

    from crm_bank.bulk import frame_from_query_ahead

    copy_frame(CustomerValue, value_rows(5, [21, 22, 23], [1, 2, 3]).assign(run_id=5))  # committed
    reads = _reads_recorded(monkeypatch, describe=lambda _params, own_connection: own_connection)
    with transaction.atomic():  # a run's finish: its own transaction, none around it
        frame_soon = frame_from_query_ahead(WHOLE_RUN_SQL, {"run": 5})
        assert reads.started.wait(timeout=10), "the read did not start before it was asked for"
        frame = frame_soon()

    assert reads == [True]
    assert frame["customer_id"].tolist() == [21, 22, 23] and frame["tier"].tolist() == ["A", "C", "C"]
    # The thread's connection is closed once it has read: its backend ends (a moment later).
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid() AND query LIKE %s", ["%COPY (SELECT customer_id, tier %"])
            if cursor.fetchone()[0] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert time.monotonic() <= deadline, "the reading connection stayed open"

    failing = frame_from_query_ahead("SELECT no_such_column FROM segmentation_customervalue")
    with pytest.raises(psycopg.errors.UndefinedColumn, match="no_such_column"):  # the read's error, when asked
        failing()


def test_frame_from_query_ahead_reads_on_this_connection_inside_an_enclosing_transaction(monkeypatch):
    from django.db import transaction

    from crm_bank.bulk import frame_from_query_ahead

    # The test's transaction encloses these rows: no other connection sees them.
    copy_frame(CustomerValue, value_rows(5, [31, 32], [1, 2]).assign(run_id=5))
    reads = _reads_recorded(monkeypatch, describe=lambda _params, own_connection: own_connection)
    with transaction.atomic():
        frame_soon = frame_from_query_ahead(WHOLE_RUN_SQL, {"run": 5})
        assert reads == []  # read when asked for, on this connection
        frame = frame_soon()

    assert reads == [False] and frame["customer_id"].tolist() == [31, 32]


@pytest.mark.django_db
def test_run_customer_bounds_reads_one_row_at_each_end_of_a_run_the_statistics_do_not_know_yet():
    import json

    from django.db import connection

    from crm_bank.bulk import run_customer_bounds
    from tests.query_plans import captured_sql

    copy_frame(CustomerValue, value_rows(6, list(range(1, 501)), [None] * 500).assign(run_id=6))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CustomerValue._meta.db_table}")
    # Written since: the planner expects one row of run 7 (a run's finish, before any ANALYZE).
    copy_frame(CustomerValue, value_rows(7, list(range(1, 3001)), [None] * 3000).assign(run_id=7))

    assert run_customer_bounds(CustomerValue, 7) == (1, 3000)
    sql = captured_sql(lambda: run_customer_bounds(CustomerValue, 7), "customer_id")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def scans(node):
        if "Index" in node["Node Type"]:
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    read = [node["Actual Rows"] for node in scans(plan[0]["Plan"])]
    assert read and max(read) <= 1, read  # the first entry of each end, not the run's 3,000


@pytest.mark.django_db(transaction=True)
def test_frame_from_key_ranges_parts_join_without_row_by_row_nested_loops(monkeypatch):
    import threading

    from django.db import connection, transaction

    from crm_bank import bulk

    copy_frame(CustomerValue, value_rows(5, list(range(101, 201)), [None] * 100).assign(run_id=5))  # committed
    settings_seen = []
    real = bulk.frame_from_query
    main = threading.get_ident()

    def recorded(sql, params=None):
        if threading.get_ident() != main:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('enable_nestloop'), current_setting('max_parallel_workers_per_gather')"
                )
                settings_seen.append(cursor.fetchone())
        return real(sql, params)

    monkeypatch.setattr(bulk, "frame_from_query", recorded)
    with transaction.atomic():
        frame = bulk.run_rows_frame(CustomerValue, 5, KEY_RANGE_SQL, {"run": 5}, rows=100)

    assert len(frame) == 100
    # A run's rows just written look like one row to the planner: each part plans without nested loops.
    assert settings_seen == [("off", "0"), ("off", "0")]
