"""What the channels app erases when the retention run anonymises customers (customers.retention):
the free text staff and channel systems wrote about them. The contacts themselves stay — channel,
kind, direction, time, campaign, outcome codes — so the analytics and KPIs of past periods hold."""

from __future__ import annotations

from django.db.backends.utils import CursorWrapper

from channels.models import Complaint, ComplaintEvent, Interaction, Task


def channel_personal_data_erase(cursor: CursorWrapper, customer_ids: list[int]) -> int:
    """Blanks the interactions' summaries and outcomes, the complaints' texts and their events'
    notes, and the tasks' details of `customer_ids`; returns the rows changed."""
    changed = 0
    statements = (
        f"UPDATE {Interaction._meta.db_table} SET summary = '', outcome = '' WHERE customer_id = ANY(%(ids)s)",
        f"""UPDATE {Complaint._meta.db_table} SET description = '', resolution = '', skipped_branch_answer = ''
            WHERE customer_id = ANY(%(ids)s)""",
        f"""UPDATE {ComplaintEvent._meta.db_table} e SET note = '' FROM {Complaint._meta.db_table} c
            WHERE e.complaint_id = c.id AND c.customer_id = ANY(%(ids)s) AND e.note <> ''""",
        f"UPDATE {Task._meta.db_table} SET detail = '' WHERE customer_id = ANY(%(ids)s) AND detail <> ''",
    )
    for statement in statements:
        cursor.execute(statement, {"ids": customer_ids})
        changed += cursor.rowcount
    return changed
