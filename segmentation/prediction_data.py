"""The model-training run's reads: its frames from the CRM's own rows, in the vocabulary of the
pure modules (prediction_frames.py, churn.py), and the dates a run defaults to.

The contact history comes through segmentation/contact_history.py (campaigns registers it); the
profiles, holdings and transactions from the customers app. Rows come back through COPY (crm_bank/bulk.py).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from crm_bank.bulk import frame_from_query, quoted_table
from customers.models import Account, AccountHolder, Customer, Product, Transaction
from segmentation.contact_history import ContactHistoryMissing, contacts_sql
from segmentation.features import age_sql
from segmentation.services import latest_transaction_date


@dataclass(frozen=True)
class CustomerSelection:
    """The customers to score: an inclusive id range (a run's chunk) or a list of ids (new customers)."""

    lo: int = 0
    hi: int = 0
    ids: tuple[int, ...] | None = None

    def sql(self, column: str) -> str:
        """The condition on `column` (a customer id), with the named parameters of `params`."""
        return f"{column} = ANY(%(ids)s)" if self.ids is not None else f"{column} BETWEEN %(lo)s AND %(hi)s"

    @property
    def params(self) -> dict[str, Any]:
        return {"ids": list(self.ids)} if self.ids is not None else {"lo": self.lo, "hi": self.hi}


# The SQL of the training and scoring frames

def _holdings_sql(customers: str) -> str:
    """Per customer (among `customers`, a condition on h.customer_id): the current accounts and
    their balance in the reporting currency (named parameter %(rates)s, as the feature step converts),
    and whether a mortgage or a loan is held; accounts not closed, owned only. Deposits are left out
    on purpose: accepting a term-deposit offer opens one (the outcome)."""
    return f"""SELECT h.customer_id,
               sum(a.balance * fx.rate) FILTER (WHERE p.category = 'current')::float8 AS current_balance,
               count(*) FILTER (WHERE p.category = 'current') AS current_accounts,
               bool_or(p.category = 'mortgage')::int AS has_mortgage,
               bool_or(p.category = 'loan')::int AS has_loan
        FROM {quoted_table(AccountHolder)} h
        JOIN {quoted_table(Account)} a ON a.id = h.account_id
        JOIN {quoted_table(Product)} p ON p.id = a.product_id
        LEFT JOIN (SELECT key AS currency, value::numeric AS rate FROM jsonb_each_text(%(rates)s::jsonb)) fx
          ON fx.currency = a.currency
        WHERE h.role = 'owner' AND a.status <> 'closed' AND {customers}
        GROUP BY h.customer_id"""


_PROFILE_SQL = """c.occupation, c.marital_status, c.education,
       c.attributes ->> 'credit_in_default' AS credit_in_default,
       ho.current_balance, coalesce(ho.current_accounts, 0) AS current_accounts,
       coalesce(ho.has_mortgage, 0) AS has_mortgage, coalesce(ho.has_loan, 0) AS has_loan"""


def response_training_rows(*, as_of: datetime.date, rates: dict[str, float]) -> pd.DataFrame:
    """Every contact with an outcome made on or before `as_of`, with the customer's profile and holdings."""
    sql = f"""SELECT k.customer_id, k.contact_id, k.contacted_on, k.channel, k.product_category, k.attempts,
               k.previous_contacts, k.days_since_previous, k.previous_outcome, k.responded::int AS responded,
               {age_sql("k.contacted_on")} AS age, {_PROFILE_SQL}
        FROM ({contacts_sql()}) k
        JOIN {quoted_table(Customer)} c ON c.id = k.customer_id
        LEFT JOIN ({_holdings_sql("true")}) ho ON ho.customer_id = k.customer_id
        WHERE k.responded IS NOT NULL AND k.contacted_on IS NOT NULL AND k.contacted_on <= %(as_of)s
        ORDER BY k.contacted_on, k.contact_id"""
    return frame_from_query(sql, {"as_of": as_of, "rates": json.dumps(rates)})


def response_scoring_rows(*, as_of: datetime.date, customers: CustomerSelection, rates: dict[str, float]
                          ) -> pd.DataFrame:
    """The customers' profiles and holdings and their last contact with an outcome by `as_of`."""
    sql = f"""SELECT c.id AS customer_id, {age_sql("%(as_of)s::date")} AS age, {_PROFILE_SQL},
               last.contacted_on AS last_contacted_on, last.attempts AS last_attempts,
               last.previous_contacts AS last_previous_contacts, last.responded::int AS last_responded
        FROM {quoted_table(Customer)} c
        LEFT JOIN ({_holdings_sql(customers.sql("h.customer_id"))}) ho ON ho.customer_id = c.id
        LEFT JOIN LATERAL (
            SELECT k.contacted_on, k.attempts, k.previous_contacts, k.responded FROM ({contacts_sql()}) k
            WHERE k.customer_id = c.id AND k.responded IS NOT NULL AND k.contacted_on <= %(as_of)s
            ORDER BY k.contacted_on DESC, k.contact_id DESC LIMIT 1
        ) last ON true
        WHERE {customers.sql("c.id")}
        ORDER BY c.id"""
    return frame_from_query(sql, {"as_of": as_of, "rates": json.dumps(rates), **customers.params})


def transaction_rows(*, before: datetime.date, accounts: str = "true", params: dict[str, Any] | None = None,
                     ) -> pd.DataFrame:
    """Transactions booked before the day `before` (churn.py's frame), of the accounts `accounts`
    selects (a condition on t.account_id), in booking order."""
    sql = f"""SELECT t.account_id, (t.booked_at AT TIME ZONE %(tz)s)::date AS booked_on, t.amount::float8 AS amount,
               t.direction, t.balance_after::float8 AS balance_after, t.kind
        FROM {quoted_table(Transaction)} t
        WHERE t.booked_at < %(end)s AND {accounts}
        ORDER BY t.account_id, t.booked_at, t.id"""
    return frame_from_query(
        sql, {"tz": str(timezone.get_default_timezone()), "end": _start_of(before), **(params or {})}
    )


def _start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def last_transaction_day(*, on_or_before: datetime.date) -> datetime.date | None:
    """The day of the latest transaction booked on or before the date (one probe of the booking-date index)."""
    latest = Transaction.objects.filter(
        booked_at__lt=_start_of(on_or_before + datetime.timedelta(days=1))
    ).aggregate(latest=Max("booked_at"))["latest"]
    return timezone.localtime(latest).date() if latest else None


def latest_contact_date() -> datetime.date | None:
    """The day of the latest contact with an outcome, or None (no history, or none recorded)."""
    try:
        sql = contacts_sql()
    except ContactHistoryMissing:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(contacted_on) FROM ({sql}) k WHERE k.responded IS NOT NULL")
        return cursor.fetchone()[0]


def latest_data_date() -> datetime.date | None:
    """The default as-of date: the later of the latest contact and the latest transaction."""
    dates = [day for day in (latest_contact_date(), latest_transaction_date()) if day is not None]
    return max(dates) if dates else None
