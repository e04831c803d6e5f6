"""Bulk writes with PostgreSQL COPY: ids allocated up front, rows streamed in one statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserves `count` primary keys from the model's sequence in one query."""
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
        )
        return [row[0] for row in cursor.fetchall()]


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
