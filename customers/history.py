"""Field history for customers written in bulk (COPY bypasses django-simple-history)."""

from __future__ import annotations

from django.db import connection

from customers.models import Customer

_HISTORY_OWN = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}


def customer_history_baseline(*, customer_ids: list[int], reason: str) -> int:
    """Writes each customer's state as its first ("+" created) history row, in one statement.

    Without it the first edit of a bulk-loaded customer has nothing to be compared with, and
    the 360° page's field changes would miss it.
    """
    if not customer_ids:
        return 0
    history = Customer.history.model
    columns = [f.column for f in history._meta.concrete_fields if f.column not in _HISTORY_OWN]
    column_list = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({column_list}, history_date, history_change_reason,"
            f" history_type, history_user_id)"
            f" SELECT {column_list}, now(), %s, '+', NULL FROM {Customer._meta.db_table} WHERE id = ANY(%s)",
            [reason, customer_ids],
        )
        return cursor.rowcount
