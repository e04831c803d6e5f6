"""The plans behind the lists: which index a captured query walks (tests that hold a page to its
indexes at a million rows, where a tiny test table would otherwise be scanned)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def plan_of(sql: str, params: dict | list | None = None, *, allow_sorts: bool = False) -> str:
    """EXPLAIN with sequential scans (and, unless `allow_sorts`, sorts) priced out: what remains shows whether
    an index can serve the query's filter and order on its own (set for the rest of the test's
    transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_sort = {'on' if allow_sorts else 'off'}")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def captured_sql(run: Callable[[], object], needle: str) -> str:
    """The SQL of the first query `run` sends that contains `needle`."""
    with CaptureQueriesContext(connection) as queries:
        run()
    return next(query["sql"] for query in queries.captured_queries if needle in query["sql"])
