"""What the channels app erases when the retention run anonymises customers (customers.retention):
the free text staff and channel systems wrote about them, the titles of their tasks and the texts of
the notifications that name them (each becomes its kind's label), and what a channel system sent
for them while their number was unknown. The contacts themselves stay — channel, kind, direction,
time, campaign, outcome codes — so the analytics and KPIs of past periods hold."""

from __future__ import annotations

import json

from django.conf import settings
from django.db.backends.utils import CursorWrapper
from django.utils import translation

from channels.models import Complaint, ComplaintEvent, HeldInteraction, Interaction, Notification, Task
from crm_bank.ui.labels import ChoiceLabels
from customers.models import Customer
from customers.retention import ANONYMISED_PAYLOAD

TASK_KINDS = ChoiceLabels(Task.Kind.choices)
NOTIFICATION_KINDS = ChoiceLabels(Notification.Kind.choices)


def _labels(kinds: ChoiceLabels) -> str:
    """{kind: label} in the bank's default language, as JSON for the statements below."""
    with translation.override(settings.LANGUAGE_CODE):
        return json.dumps(kinds.current())


def channel_personal_data_erase(cursor: CursorWrapper, customer_ids: list[int]) -> int:
    """Blanks the interactions' summaries and outcomes, the complaints' texts and their events'
    notes and the tasks' details of `customer_ids`; retitles their tasks and notifications with
    their kinds' labels (the titles and texts name the customer); replaces what was held for them
    (a held interaction stored under one of them, or sent with one of their customer numbers);
    returns the rows changed."""
    changed = 0
    params = {"ids": customer_ids, "task_kinds": _labels(TASK_KINDS), "notification_kinds": _labels(NOTIFICATION_KINDS),
              "anonymised": ANONYMISED_PAYLOAD}
    statements = (
        f"UPDATE {Interaction._meta.db_table} SET summary = '', outcome = '' WHERE customer_id = ANY(%(ids)s)",
        f"""UPDATE {Complaint._meta.db_table} SET description = '', resolution = '', skipped_branch_answer = ''
            WHERE customer_id = ANY(%(ids)s)""",
        f"""UPDATE {ComplaintEvent._meta.db_table} e SET note = '' FROM {Complaint._meta.db_table} c
            WHERE e.complaint_id = c.id AND c.customer_id = ANY(%(ids)s) AND e.note <> ''""",
        f"""UPDATE {Task._meta.db_table} SET detail = '', title = coalesce(%(task_kinds)s::jsonb ->> kind, kind)
            WHERE customer_id = ANY(%(ids)s)""",
        f"""UPDATE {Notification._meta.db_table}
            SET text = coalesce(%(notification_kinds)s::jsonb ->> kind, kind) WHERE customer_id = ANY(%(ids)s)""",
        f"""UPDATE {HeldInteraction._meta.db_table} SET payload = %(anonymised)s::jsonb, note = ''
            WHERE (interaction_id IN (SELECT id FROM {Interaction._meta.db_table} WHERE customer_id = ANY(%(ids)s))
                   OR customer_ref IN (SELECT cif FROM {Customer._meta.db_table} WHERE id = ANY(%(ids)s)))
              AND payload <> %(anonymised)s::jsonb""",
    )
    for statement in statements:
        cursor.execute(statement, params)
        changed += cursor.rowcount
    return changed
