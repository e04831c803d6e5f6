"""Retention: the personal data of customers who left long ago is anonymised by a scheduled run.

A customer whose relationship closed more than CRM_RETENTION_YEARS (default 5) before the run's
as-of date — lifecycle stage "closed", every account closed on or before the cut-off, no contact
since — keeps their customer number, branch, kind, gender, country, dates of the relationship,
accounts' balances and transactions, segments, scores and KPI results (the bank's aggregates stay
true), and loses everything that names or reaches the person: names, national ID, birth date,
phone, e-mail, address, occupation, household, source attributes, the raw source records and
import rows, the field history, merge snapshots, account and counterparty numbers (of transactions
and standing orders), the explanations staff gave to unmask them, and the free text other apps hold
about them (they register an eraser here, as for merges). The audit trail is
kept whole: it names customers by internal number only, and gets one row per anonymised customer.

The run (kind "anonymisation", nightly by django-celery-beat, `manage.py run_anonymisation`) works
in customer-id chunks, each in one transaction: a chunk is anonymised whole or not at all, and a
repeat finds nothing left to do (anonymised_at is set).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.dates import day_start
from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from crm_bank.runs.registry import RunKind, chunk_ranges
from crm_bank.runs.selectors import run_rows_written
from crm_bank.runs.services import run_start
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    CustomerMerge,
    FieldProvenance,
    ImportRow,
    SourceRecord,
    StandingOrder,
    UnmaskGrant,
)
from customers.models import Transaction as AccountTransaction

logger = logging.getLogger(__name__)

ANONYMISATION = "anonymisation"
ANONYMISATION_VERSION = "1"
CHUNK_SIZE = 50_000
ANONYMISED_NAME = "Anonymised"
# What a payload that named the person holds once they are anonymised (here and in other apps' erasers).
ANONYMISED_PAYLOAD = '{"anonymised": true}'

# (cursor, customer ids) → rows changed; other apps register theirs from AppConfig.ready().
PersonalDataEraser = Callable[[CursorWrapper, list[int]], int]
_ERASERS: dict[str, PersonalDataEraser] = {}


def personal_data_eraser_register(name: str, eraser: PersonalDataEraser) -> None:
    """Adds an app's eraser of the personal data it holds about customers (free text, payloads)."""
    _ERASERS[name] = eraser


def retention_cutoff(as_of: datetime.date) -> datetime.date:
    return as_of - relativedelta(years=settings.CRM_RETENTION_YEARS)


def _eligible_sql(table: dict[str, str]) -> str:
    return f"""
        SELECT c.id FROM {table['customer']} c
        WHERE c.id BETWEEN %(lo)s AND %(hi)s
          AND c.lifecycle_stage = %(closed)s AND c.anonymised_at IS NULL AND c.merged_into_id IS NULL
          AND (c.last_contact_at IS NULL OR c.last_contact_at < %(cutoff_at)s)
          AND c.created_at < %(cutoff_at)s
          AND NOT EXISTS (
              SELECT 1 FROM {table['holder']} h JOIN {table['account']} a ON a.id = h.account_id
              WHERE h.customer_id = c.id AND (a.closed_on IS NULL OR a.closed_on > %(cutoff)s))
        FOR UPDATE OF c SKIP LOCKED
    """


def _tables() -> dict[str, str]:
    return {"customer": Customer._meta.db_table, "holder": AccountHolder._meta.db_table,
            "account": Account._meta.db_table, "transaction": AccountTransaction._meta.db_table,
            "history": Customer.history.model._meta.db_table, "source": SourceRecord._meta.db_table,
            "import_row": ImportRow._meta.db_table, "merge": CustomerMerge._meta.db_table,
            "provenance": FieldProvenance._meta.db_table, "standing_order": StandingOrder._meta.db_table,
            "unmask_grant": UnmaskGrant._meta.db_table}


# What the customer row and its history keep of the person: nothing that names or reaches them.
_CUSTOMER_CLEARED = """
    first_name = '', last_name = '', legal_name = %(name)s, national_id = '', national_id_type = '',
    birth_date = NULL, occupation = '', marital_status = '', education = '', phone = '', email = '',
    address_line = '', city = '', postal_code = '', interests = '{}', household_id = NULL, household_role = '',
    attributes = '{}'::jsonb
"""


def anonymisation_chunk(run: Run, lo: int, hi: int) -> int:
    """Anonymises the eligible customers with lo <= id <= hi; returns how many."""
    table = _tables()
    cutoff = retention_cutoff(run.as_of)
    cutoff_at = day_start(cutoff)
    with connection.cursor() as cursor:
        cursor.execute(_eligible_sql(table), {"lo": lo, "hi": hi, "closed": Customer.Lifecycle.CLOSED,
                                              "cutoff": cutoff, "cutoff_at": cutoff_at})
        anonymised = [row[0] for row in cursor.fetchall()]
        if not anonymised:
            return 0
        # The records merged into them (tombstones) still hold the person's data of before the merge:
        # they go with them (every tombstone points straight at its live record).
        cursor.execute(f"SELECT id FROM {table['customer']} WHERE merged_into_id = ANY(%s) AND anonymised_at IS NULL"
                       " ORDER BY id FOR UPDATE", [anonymised])
        ids = anonymised + [row[0] for row in cursor.fetchall()]
        now = timezone.now()
        args = {"ids": ids, "name": ANONYMISED_NAME, "now": now, "anonymised": ANONYMISED_PAYLOAD}
        # name_key follows the name (the search indexes must not keep the old one).
        cursor.execute(f"""UPDATE {table['customer']} SET {_CUSTOMER_CLEARED}, name_key = '', name_key_reversed = '',
                           marketing_consent = false, do_not_contact = true, anonymised_at = %(now)s,
                           updated_at = %(now)s WHERE id = ANY(%(ids)s)""", args)
        cursor.execute(f"UPDATE {table['history']} SET {_CUSTOMER_CLEARED} WHERE id = ANY(%(ids)s)", args)
        cursor.execute(f"""UPDATE {table['source']} SET payload = %(anonymised)s::jsonb
                           WHERE customer_id = ANY(%(ids)s)""", args)
        cursor.execute(f"""UPDATE {table['import_row']} SET payload = %(anonymised)s::jsonb
                           WHERE customer_id = ANY(%(ids)s)""", args)
        cursor.execute(f"""UPDATE {table['merge']} SET survivor_before = %(anonymised)s::jsonb,
                               absorbed_before = %(anonymised)s::jsonb, chosen = '{{}}'::jsonb
                           WHERE survivor_id = ANY(%(ids)s) OR absorbed_id = ANY(%(ids)s)""", args)
        cursor.execute(f"DELETE FROM {table['provenance']} WHERE customer_id = ANY(%(ids)s)", args)
        # Account numbers reach the person at other banks' records: each keeps a stable stand-in.
        cursor.execute(f"""UPDATE {table['account']} a SET number = 'ANON-' || a.id
                           FROM {table['holder']} h WHERE h.account_id = a.id AND h.customer_id = ANY(%(ids)s)
                             AND NOT EXISTS (SELECT 1 FROM {table['holder']} o
                                             WHERE o.account_id = a.id AND NOT o.customer_id = ANY(%(ids)s))""", args)
        cursor.execute(f"""UPDATE {table['transaction']} t SET counterparty_account = '', counterparty_bank = ''
                           FROM {table['holder']} h WHERE h.account_id = t.account_id AND h.customer_id = ANY(%(ids)s)
                             AND t.counterparty_account <> ''""", args)
        cursor.execute(f"""UPDATE {table['standing_order']} o SET counterparty_account = '', counterparty_bank = ''
                           FROM {table['holder']} h WHERE h.account_id = o.account_id AND h.customer_id = ANY(%(ids)s)
                             AND o.counterparty_account <> ''""", args)
        # What staff wrote to open the record in full (the reason's code, who, when and the audit stay).
        cursor.execute(f"""UPDATE {table['unmask_grant']} SET explanation = ''
                           WHERE customer_id = ANY(%(ids)s) AND explanation <> ''""", args)
        for eraser in _ERASERS.values():
            eraser(cursor, ids)
    AuditEvent.objects.bulk_create(
        AuditEvent(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                   object_type="customer", object_id=str(customer_id),
                   detail={"anonymised": True, "run": run.pk, "closed_before": cutoff.isoformat()})
        for customer_id in ids
    )
    return len(anonymised)


def anonymisation_prepare(run: Run) -> list[tuple[int, int]]:
    candidates = Customer.objects.filter(lifecycle_stage=Customer.Lifecycle.CLOSED, anonymised_at__isnull=True)
    # A night with nobody to anonymise is a run that succeeds with 0 (one empty range), not a failure.
    return chunk_ranges(candidates, size=CHUNK_SIZE) or [(0, 0)]


def anonymisation_finish(run: Run) -> dict:
    anonymised = run_rows_written(run)
    return {"anonymised": anonymised, "closed_before": retention_cutoff(run.as_of).isoformat(),
            "years": settings.CRM_RETENTION_YEARS}


ANONYMISATION_KIND = RunKind(
    name=ANONYMISATION,
    version=ANONYMISATION_VERSION,
    prepare=anonymisation_prepare,
    process_chunk=anonymisation_chunk,
    finish=anonymisation_finish,
    default_as_of=timezone.localdate,
)


def anonymisation_run_start(
    *, as_of: datetime.date | None = None, started_by: AbstractBaseUser | None = None, sync: bool = False,
) -> Run:
    """Queues an anonymisation run as of `as_of` (default today); with `sync`, runs it here."""
    return run_start(kind=ANONYMISATION, as_of=as_of, started_by=started_by, sync=sync)


def anonymisation_nightly_start() -> int | None:
    """The nightly run as of today (customers.tasks); returns its id. A run already queued or
    running is logged and skipped: tomorrow's schedule tries again."""
    try:
        return anonymisation_run_start().pk
    except RunError as exc:
        logger.warning("Nightly anonymisation run not started: %s", exc)
        return None
