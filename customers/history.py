"""Field history for customers written in bulk (COPY bypasses django-simple-history)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from customers.models import Customer

_HISTORY_OWN = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}


def customer_history_columns() -> list[str]:
    """The quoted columns a customer history row copies from the customer (its own five aside)."""
    history = Customer.history.model
    return [connection.ops.quote_name(f.column) for f in history._meta.concrete_fields
            if f.column not in _HISTORY_OWN]


def customer_history_write(
    *, rows_sql: str, params: dict, reason: str, history_type: str = "+", user_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Writes the current state of the customers `rows_sql` selects (a query returning customer ids,
    with `params` in pyformat style) as history rows, the way simple_history writes them on save:
    "+" created, "~" changed, dated `at` (default: now). One statement, in the caller's transaction."""
    column_list = ", ".join(customer_history_columns())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Customer.history.model._meta.db_table)} ({column_list},"
            f" history_date, history_change_reason, history_type, history_user_id)"
            f" SELECT {column_list}, coalesce(%(history_at)s, now()), %(history_reason)s, %(history_type)s,"
            f" %(history_user)s FROM {connection.ops.quote_name(Customer._meta.db_table)} WHERE id IN ({rows_sql})",
            {**params, "history_at": at, "history_reason": reason, "history_type": history_type,
             "history_user": user_id},
        )
        return cursor.rowcount


def customer_history_baseline(*, customer_ids: list[int], reason: str) -> int:
    """Writes each customer's state as its first ("+" created) history row, in one statement.

    Without it the first edit of a bulk-loaded customer has nothing to be compared with, and
    the 360° page's field changes would miss it.
    """
    if not customer_ids:
        return 0
    return customer_history_write(rows_sql="SELECT unnest(%(customer_ids)s::bigint[])",
                                  params={"customer_ids": customer_ids}, reason=reason)
