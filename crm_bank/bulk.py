"""Bulk writes with PostgreSQL COPY: ids allocated up front, rows streamed in one statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserves `count` primary keys from the model's sequence, so concurrent inserts never collide.

    nextval runs server-side and only the range comes back; if another session interleaved, the
    range has holes and the values themselves are fetched instead (the skipped ones are gaps).
    """
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        (sequence,) = cursor.fetchone()
        cursor.execute(
            "SELECT min(v), max(v) FROM (SELECT nextval(%s) AS v FROM generate_series(1, %s)) s", [sequence, count]
        )
        low, high = cursor.fetchone()
        if high - low + 1 == count:
            return list(range(low, high + 1))
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
        return [value for (value,) in cursor.fetchall()]


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Streams `rows` into the model's table with COPY; columns are database column names.

    Values go through psycopg's own adaptation (dates, Decimals, JSON as text, None as NULL).
    Returns the number of rows written. Runs inside the caller's transaction.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(c) for c in columns)
    written = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def tables_analyze(*tables: str) -> None:
    """Refreshes the planner's statistics after a bulk write, so queries on the new rows are planned
    for what is there (a million new rows of a run with stale statistics turned a 60 ms list
    filter into seconds). PostgreSQL skips, with a warning, a table the connected role does not
    own (the least-privilege app role); autovacuum's analyse catches up there within minutes."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(table) for table in tables)}")
