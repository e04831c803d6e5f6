"""Rebuilding what is derived from the interaction table, in SQL, for writers that bypass
`interactions_store` (generators and loaders that COPY rows) and as a repair tool.

`interactions_store` keeps the daily rollup and each customer's last contact in step for every
normal write (an upsert in the writer's transaction); these functions recompute them from the rows
themselves, set-based, whatever the table's size.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import connection, transaction

from channels.models import Interaction, InteractionDailyCount
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import quoted_table
from customers.models import Customer


def interaction_daily_counts_rebuild(*, since: datetime.date | None = None) -> int:
    """Recomputes InteractionDailyCount for the days from `since` (in the bank's time zone) on, or
    for every day; returns the number of rollup rows written.

    1. Lock the rollup against writers (readers go on reading the old counts until the commit): a
       concurrent store then either committed before the lock, and its row is counted here, or
       waits for the commit and adds its +1 to the rebuilt count, never both nor neither.
    2. Delete the days being rebuilt.
    3. One INSERT … SELECT grouped by local day, branch, channel, kind and direction.

    Writers wait while it runs: a rebuild from `since` reads only those days (the BRIN index
    interaction_occurred_brin bounds the scan); a full rebuild reads the whole table, so it belongs
    after a bulk load, before channel systems post again.
    """
    rollup, interactions = quoted_table(InteractionDailyCount), quoted_table(Interaction)
    zone = settings.TIME_ZONE
    day_filter, params = "", [zone]
    if since is not None:
        # The instant the local day `since` begins: interaction_occurred_brin bounds the scan.
        day_filter = "WHERE i.occurred_at >= (%s::timestamp AT TIME ZONE %s)"
        params += [datetime.datetime.combine(since, datetime.time.min), zone]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {rollup} IN EXCLUSIVE MODE")
        if since is None:
            cursor.execute(f"DELETE FROM {rollup}")
        else:
            cursor.execute(f"DELETE FROM {rollup} WHERE day >= %s", [since])
        cursor.execute(
            f"""INSERT INTO {rollup} (day, branch_id, channel, kind, direction, count)
                SELECT (i.occurred_at AT TIME ZONE %s)::date, i.branch_id, i.channel, i.kind, i.direction, count(*)
                FROM {interactions} i {day_filter}
                GROUP BY 1, 2, 3, 4, 5""",
            params,
        )
        written = cursor.rowcount
        audit_record(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="interaction_daily_counts", object_id="rebuild",
                     detail={"since": since.isoformat() if since else None, "rows": written})
    return written


def customer_last_contacts_catch_up(*, since: datetime.datetime | None = None) -> int:
    """Moves each customer's last contact forward to their newest interaction (recorded at or after
    `since`, if given), never back; returns the number of customers changed.

    The newest interaction per customer comes from the timeline index (customer, occurred_at desc),
    and the UPDATE only touches rows that change, so a second run writes nothing."""
    interactions, customers = quoted_table(Interaction), quoted_table(Customer)
    recorded_filter, params = "", []
    if since is not None:
        recorded_filter, params = "WHERE recorded_at >= %s", [since]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {customers} c
                SET last_contact_at = latest.occurred_at, last_contact_channel = latest.channel
                FROM (SELECT DISTINCT ON (customer_id) customer_id, occurred_at, channel
                      FROM {interactions} {recorded_filter}
                      ORDER BY customer_id, occurred_at DESC, id DESC) latest
                WHERE c.id = latest.customer_id
                  AND (c.last_contact_at IS NULL OR c.last_contact_at < latest.occurred_at)""",
            params,
        )
        return cursor.rowcount
