"""The SQL feature step: one INSERT … SELECT per customer-id range writes CustomerFeatures. The
value-scoring run needs only the value formula's four inputs: its chunks run the same SQL cut down
to them (value_inputs_sql) into CustomerValueInputs.

Everything is computed by PostgreSQL from the holdings and transactions as of a date (never
now(): the demo data ends in 1994 and 2010). Python sees only the row count.

Definitions (each per customer, over the accounts they OWN; authorised users are not holders of
the money):

- recency_days: days from the last transaction booked on or before the as-of date to that date.
- frequency, money_in, money_out, card_payments, fees_paid, digital_share: over the 12 months
  that end with the as-of date. digital_share = web + mobile + card transactions ÷ all of them.
- deposit_balance: the balances on the as-of date of the accounts open on it that are not credit
  (loans, mortgages, cards): the source's latest balance (Account.balance) less the money booked
  after the date (for a run as of the latest booking, the latest balance itself).
- average_balance: the same accounts' balance averaged over every moment of the 12 months (time
  weighted), rebuilt from the as-of balance and the window's bookings: balance − Σ signed amount ×
  (its time − window start) ÷ window length. No per-day rows and no window function: one more sum
  over the rows the step reads anyway. An account opened within the window counts as zero before
  its first booking when its bookings are complete.
- loans_outstanding: principal (else |balance| on the date) of running loans and mortgages.
- product_count: distinct products open on the date; n_current, n_deposit, …: open accounts per
  category (columns.PRODUCT_CATEGORIES).
- tenure_days: from customer_since, else the first account opening; age: from the birth date,
  else the age a source reported (attributes.age).
- contacts, complaints, assisted_share: from the interaction timeline (customers.interaction_history,
  kept by channels) over the 12 months: contacts in either direction, complaints among them, and
  the share of the customer's inbound contacts made at a branch, the call centre or a service
  centre (null without inbound contacts: how they choose to reach us). 0, 0 and null without a
  timeline.
- responded_before: from the campaign contacts made by the date (segmentation.contact_history):
  1 if the customer accepted an offer or their previous campaign was a success, 0 if contacted
  without success, null if never contacted (or no app keeps a contact history).

Customers who became customers after the as-of date are left out (by customer_since, else by
their accounts: a customer whose every account opened after the date was not one yet).

Money is in the bank's reporting currency (settings.CRM_REPORTING_CURRENCY): each account's
balances and transaction sums are multiplied by its currency's rate (CRM_CURRENCY_RATES, copied
into the run's params when it is asked for, so a rerun converts alike). The demo bank holds Czech
crowns and euros side by side; summed unconverted, every Czech branch came out 80% tier A.
"""

from __future__ import annotations

import datetime
import json
import math

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.bulk import quoted_table
from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.registry import chunk_ranges
from customers.interaction_history import interactions_sql
from customers.models import Account, AccountHolder, Channel, Customer, Product, Transaction
from segmentation import scoring
from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.contact_history import responded_before_sql
from segmentation.models import CustomerFeatures, CustomerValueInputs

CREDIT_CATEGORIES = tuple(Product.NOT_DEPOSITS)
LOAN_CATEGORIES = (Product.Category.LOAN, Product.Category.MORTGAGE)
DIGITAL_CHANNELS = ("web", "mobile", "card")
# Channels where a person serves the customer (a visit or a call costs staff time).
ASSISTED_CHANNELS = (Channel.BRANCH.value, Channel.CALL_CENTRE.value, Channel.SERVICE_CENTRE.value)


def currency_params(params: dict) -> dict:
    """The reporting currency and the rates a run converts with, to store in its params: the ones
    `params` gives (a rerun of an earlier run), else the settings'. RunParamsInvalid, before anything
    is written, for a rate that is not a positive number or an account currency without a rate."""
    currency = params.get("currency") or settings.CRM_REPORTING_CURRENCY
    given = params.get("rates") or settings.CRM_CURRENCY_RATES
    try:
        rates = {str(code): float(rate) for code, rate in sorted(dict(given).items())}
    except (TypeError, ValueError):
        rates = {}
    if not rates or not all(math.isfinite(rate) and rate > 0 for rate in rates.values()):
        raise RunParamsInvalid(_("Exchange rates must be positive numbers per currency code."))
    if rates.get(str(currency)) != 1.0:
        raise RunParamsInvalid(
            _("The rates must give 1 for the reporting currency %(currency)s (amounts are converted into it).")
            % {"currency": currency}
        )
    missing = currencies_without_rate(rates)
    if missing:
        raise RunParamsInvalid(
            _("No exchange rate into %(currency)s for the accounts in %(codes)s: add them to CRM_CURRENCY_RATES.")
            % {"currency": currency, "codes": ", ".join(missing)}
        )
    return {"currency": str(currency), "rates": rates}


def run_rates(params: dict) -> dict[str, float]:
    """The rates a run converts with: its params' (runs asked for before rates were stored in them
    use the settings')."""
    return params.get("rates") or {code: float(rate) for code, rate in settings.CRM_CURRENCY_RATES.items()}


def currencies_without_rate(rates: dict[str, float]) -> list[str]:
    """Account currencies the rates do not cover (a run cannot convert them: it must not start).

    The distinct currencies are walked through the currency index, each the next one above the last
    (a handful of index probes, where DISTINCT read every account: 170-190 ms at a million customers).
    """
    account = quoted_table(Account)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH RECURSIVE currencies AS (
                    SELECT min(currency) AS currency FROM {account}
                    UNION ALL
                    SELECT (SELECT min(a.currency) FROM {account} a WHERE a.currency > c.currency)
                    FROM currencies c WHERE c.currency IS NOT NULL
                )
                SELECT currency FROM currencies
                WHERE currency IS NOT NULL AND NOT (currency = ANY(%s)) ORDER BY 1""",
            [list(rates)],
        )
        return [code for (code,) in cursor.fetchall()]


def age_sql(on: str) -> str:
    """A customer's (alias c) age on the date `on` (SQL): from the birth date, else the age a source
    reported (attributes.age)."""
    return (f"coalesce(extract(year FROM age({on}, c.birth_date))::int,"
            " CASE WHEN c.attributes ->> 'age' ~ '^[0-9]{1,3}$' THEN (c.attributes ->> 'age')::int END)")


def product_count_columns(alias: str) -> str:
    """The features row `alias`'s open accounts per category as float columns, n_<category>."""
    return ",\n".join(f"{alias}.{column}::float8 AS {column}" for column in PRODUCT_COUNT_COLUMNS)


def held_categories_sql(alias: str) -> str:
    """A lateral row source of the categories the features row `alias` holds open accounts in:
    k(category, accounts), one row per category (accounts 0 for those it does not hold)."""
    rows = ", ".join(f"('{column[2:]}', {alias}.{column})" for column in PRODUCT_COUNT_COLUMNS)
    return f"(VALUES {rows}) AS k(category, accounts)"


def window_bounds(as_of: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the 12 months ending with `as_of` (whole days, in the bank's time zone)."""
    end_day = as_of + datetime.timedelta(days=1)
    try:
        start_day = end_day.replace(year=end_day.year - 1)
    except ValueError:  # 29 February: a year earlier there is none, the window starts on 1 March
        start_day = end_day.replace(year=end_day.year - 1, month=3, day=1)
    tz = timezone.get_default_timezone()
    return (
        datetime.datetime.combine(start_day, datetime.time.min, tzinfo=tz),
        datetime.datetime.combine(end_day, datetime.time.min, tzinfo=tz),
    )


# Open accounts per category, one column each (n_current, …), counted in the per-customer pass: the
# categories are a fixed list. A jsonb object of them cost a third of that pass to build and its
# read again to take apart (25 ms and 9 ms a chunk of 8,400 customers).
_PRODUCT_COUNTS = {
    f"n_{category}": f"count(*) FILTER (WHERE is_open AND category = '{category}')" for category in PRODUCT_CATEGORIES
}
PRODUCT_COUNT_COLUMNS = tuple(_PRODUCT_COUNTS)


def _contacts_sql(timeline_sql: str) -> str:
    """Per customer of the range, over the 12 months, from the interaction timeline: (customer_id,
    contacts, complaints, assisted_share)."""
    return f"""SELECT i.customer_id, count(*) AS contacts,
               count(*) FILTER (WHERE i.kind = 'complaint') AS complaints,
               (count(*) FILTER (WHERE i.direction = 'inbound' AND i.channel = ANY(%(assisted)s)))::float8
                   / nullif(count(*) FILTER (WHERE i.direction = 'inbound'), 0) AS assisted_share
        FROM ({timeline_sql}) i
        WHERE i.customer_id BETWEEN %(lo)s AND %(hi)s AND i.occurred_at >= %(start)s AND i.occurred_at < %(end)s
        GROUP BY i.customer_id"""


# The chunk's SQL is built from named parts, so the value-scoring run's narrower step (its four
# inputs: value_inputs_sql) uses the very definitions the full feature step uses.

# Per account first, from the 12 months on: no join per transaction, read from the covering
# (account, booked_at) index alone.
_ACCOUNT_ACTIVITY = {
    "last_booked": "max(t.booked_at) FILTER (WHERE t.booked_at < %(end)s)",
    "frequency": "count(*) FILTER (WHERE t.booked_at < %(end)s)",
    "money_in": "sum(t.amount) FILTER (WHERE t.direction = 'credit' AND t.booked_at < %(end)s)",
    "money_out": "sum(t.amount) FILTER (WHERE t.direction = 'debit' AND t.booked_at < %(end)s)",
    "card_payments": "count(*) FILTER (WHERE t.kind = 'card_pay' AND t.booked_at < %(end)s)",
    "fees_paid": "sum(t.amount) FILTER (WHERE t.kind = 'fee' AND t.booked_at < %(end)s)",
    "digital": "count(*) FILTER (WHERE t.channel = ANY(%(digital)s) AND t.booked_at < %(end)s)",
    "booked_after": """sum(CASE WHEN t.direction = 'credit' THEN t.amount ELSE -t.amount END)
               FILTER (WHERE t.booked_at >= %(end)s)""",
    # Each booking times how long into the window it came (seconds): the average balance's term.
    "timed_flow": """sum(CASE WHEN t.direction = 'credit' THEN t.amount ELSE -t.amount END::float8
               * (date_part('epoch', t.booked_at) - %(start_epoch)s))
               FILTER (WHERE t.booked_at < %(end)s)""",
}

# Each owned account with its money in the reporting currency and its 12 months' activity (ta).
_OWNED_ACCOUNT = {
    "customer_id": "h.customer_id",
    "product_id": "a.product_id",
    "category": "p.category",
    "balance": "(a.balance - coalesce(ta.booked_after, 0)) * fx.rate",
    "average_balance": """((a.balance - coalesce(ta.booked_after, 0))::float8 - coalesce(ta.timed_flow, 0)
               / %(window_seconds)s) * fx.rate::float8""",
    "principal": "a.principal * fx.rate",
    "status": "a.status",
    "repayment_status": "a.repayment_status",
    "opened_on": "a.opened_on",
    "is_open": """(a.opened_on IS NULL OR a.opened_on <= %(as_of)s)
           AND (a.closed_on > %(as_of)s OR (a.closed_on IS NULL AND a.status <> 'closed'))""",
    "account_id": "a.id",
    "last_booked": "ta.last_booked",
    "frequency": "ta.frequency",
    "money_in": "ta.money_in * fx.rate",
    "money_out": "ta.money_out * fx.rate",
    "card_payments": "ta.card_payments",
    "fees_paid": "ta.fees_paid * fx.rate",
    "digital": "ta.digital",
}

# One GROUP BY per customer over their owned accounts computes holdings and activity together.
_PER_CUSTOMER = {
    "deposit_balance": "sum(balance) FILTER (WHERE is_open AND category <> ALL(%(credit)s))",
    "average_balance": "sum(average_balance) FILTER (WHERE is_open AND category <> ALL(%(credit)s))",
    "loans_outstanding": """sum(coalesce(principal, abs(balance))) FILTER (
               WHERE is_open AND category = ANY(%(loans)s)
               AND (repayment_status IN ('current', 'arrears') OR (repayment_status = '' AND status = 'active'))
           )""",
    "product_count": "count(DISTINCT product_id) FILTER (WHERE is_open)",
    "first_opened": "min(opened_on) FILTER (WHERE opened_on <= %(as_of)s)",
    # Every account opened after the date (an unknown opening date counts as before it).
    "all_opened_later": "bool_and(coalesce(opened_on > %(as_of)s, false))",
    **_PRODUCT_COUNTS,
    "last_booked": "max(last_booked)",
    "quiet_accounts": "array_agg(account_id) FILTER (WHERE last_booked IS NULL)",
    "frequency": "sum(frequency)::bigint",
    "money_in": "sum(money_in)",
    "money_out": "sum(money_out)",
    "card_payments": "sum(card_payments)::bigint",
    "fees_paid": "sum(fees_paid)",
    "digital": "sum(digital)::bigint",
}

# What the value formula needs (scoring.VALUE_INPUTS), and what those need from the parts above.
_VALUE_ACCOUNT_ACTIVITY = ("card_payments", "fees_paid", "booked_after")
_VALUE_OWNED_ACCOUNT = ("customer_id", "category", "balance", "principal", "status", "repayment_status",
                        "opened_on", "is_open", "card_payments", "fees_paid")
_VALUE_PER_CUSTOMER = ("deposit_balance", "loans_outstanding", "all_opened_later", "card_payments", "fees_paid")


def _columns(parts: dict[str, str], names) -> str:
    return ",\n           ".join(f"{parts[name]} AS {name}" for name in names)


def _holdings_ctes(*, activity=tuple(_ACCOUNT_ACTIVITY), owned=tuple(_OWNED_ACCOUNT),
                   per_customer=tuple(_PER_CUSTOMER)) -> str:
    """The chunk's WITH clause: cust (the range's customers by then), txn_account, owned and
    per_customer, each with the named columns of its part."""
    return f"""
WITH cust AS (
    SELECT c.id, c.home_branch_id, c.primary_rm_id, c.customer_since, c.birth_date, c.attributes
    FROM {quoted_table(Customer)} c
    WHERE c.id BETWEEN %(lo)s AND %(hi)s AND (c.customer_since IS NULL OR c.customer_since <= %(as_of)s)
),
-- The range's account ids bound the scan (without them a merge join reads the index from its start
-- for every chunk, and a run grows quadratically). The index leads with the account, so it is read
-- whole for those accounts whatever the dates: the money booked after the window (the way back to
-- the as-of balance) costs no more reading.
txn_account AS (
    SELECT t.account_id,
           {_columns(_ACCOUNT_ACTIVITY, activity)}
    FROM {quoted_table(Transaction)} t
    WHERE t.account_id BETWEEN %(account_lo)s AND %(account_hi)s AND t.booked_at >= %(start)s
    GROUP BY t.account_id
),
owned AS (
    SELECT {_columns(_OWNED_ACCOUNT, owned)}
    FROM {quoted_table(AccountHolder)} h
    JOIN {quoted_table(Account)} a ON a.id = h.account_id
    JOIN {quoted_table(Product)} p ON p.id = a.product_id
    JOIN (SELECT key AS currency, value::numeric AS rate FROM jsonb_each_text(%(rates)s::jsonb)) fx
      ON fx.currency = a.currency
    LEFT JOIN txn_account ta ON ta.account_id = a.id
    -- The range's account ids again, on the account's primary key: without them the join reads
    -- every account of the bank for each chunk (three million rows at a million customers).
    WHERE h.customer_id BETWEEN %(lo)s AND %(hi)s AND h.role = 'owner'
      AND a.id BETWEEN %(account_lo)s AND %(account_hi)s
),
per_customer AS (
    SELECT customer_id,
           {_columns(_PER_CUSTOMER, per_customer)}
    FROM owned GROUP BY customer_id
)"""


# The value formula's inputs as both steps write them (0 for a customer without such holdings).
_VALUE_INPUT_VALUES = {column: f"coalesce(pc.{column}, 0)" for column in scoring.VALUE_INPUTS}


# Customers who became customers after the as-of date are left out.
_WAS_A_CUSTOMER = "c.customer_since IS NOT NULL OR pc.all_opened_later IS NOT TRUE"


def _features_sql(responded_sql: str | None, timeline_sql: str | None) -> str:
    """The chunk's INSERT … SELECT; `responded_sql` is the contact history's per-customer answer
    (contact_history.responded_before_sql), or None when no app keeps one; `timeline_sql` the
    interaction timeline's relation (customers.interaction_history), or None without one."""
    # The range is written into the history's own WHERE: a join condition alone does not reach inside
    # its GROUP BY, and every chunk aggregated every contact of the bank.
    responded = (
        f"LEFT JOIN (SELECT * FROM ({responded_sql}) r WHERE r.customer_id BETWEEN %(lo)s AND %(hi)s) resp"
        " ON resp.customer_id = c.id" if responded_sql else ""
    )
    contacts = f"LEFT JOIN ({_contacts_sql(timeline_sql)}) ct ON ct.customer_id = c.id" if timeline_sql else ""
    return f"""{_holdings_ctes()}
INSERT INTO {quoted_table(CustomerFeatures)} (
    run_id, customer_id, branch_id, rm_id, recency_days, frequency, money_in, money_out, deposit_balance,
    average_balance, loans_outstanding, card_payments, fees_paid, product_count, {", ".join(PRODUCT_COUNT_COLUMNS)},
    tenure_days, age, digital_share, contacts, complaints, assisted_share, responded_before
)
SELECT %(run)s, c.id, c.home_branch_id, c.primary_rm_id,
       %(as_of)s - (coalesce(pc.last_booked, (
           -- A customer quiet for the 12 months: the last booking before them, one probe of the
           -- (account, booked_at) index per quiet account. Not `account_id = ANY(…)` over the whole
           -- table: the planner then walked the booking-date index backwards from the window's start,
           -- filtering on the account, and for an account that never had a transaction (half the
           -- accounts of a generated bank) it read the whole index: minutes per chunk.
           SELECT max(last_before.booked_at) FROM unnest(pc.quiet_accounts) AS quiet(account_id)
           CROSS JOIN LATERAL (
               SELECT max(t.booked_at) AS booked_at FROM {quoted_table(Transaction)} t
               WHERE t.account_id = quiet.account_id AND t.booked_at < %(start)s
           ) last_before
       )) AT TIME ZONE %(tz)s)::date,
       coalesce(pc.frequency, 0),
       coalesce(pc.money_in, 0), coalesce(pc.money_out, 0),
       {_VALUE_INPUT_VALUES["deposit_balance"]}, round(coalesce(pc.average_balance, 0)::numeric, 2),
       {_VALUE_INPUT_VALUES["loans_outstanding"]},
       {_VALUE_INPUT_VALUES["card_payments"]}, {_VALUE_INPUT_VALUES["fees_paid"]},
       coalesce(pc.product_count, 0), {", ".join(f"coalesce(pc.{column}, 0)" for column in PRODUCT_COUNT_COLUMNS)},
       %(as_of)s - coalesce(c.customer_since, pc.first_opened),
       {age_sql("%(as_of)s")},
       pc.digital::float8 / nullif(pc.frequency, 0),
       {"coalesce(ct.contacts, 0), coalesce(ct.complaints, 0), ct.assisted_share" if timeline_sql else "0, 0, NULL"},
       {"resp.responded_before" if responded_sql else "NULL::float8"}
FROM cust c
LEFT JOIN per_customer pc ON pc.customer_id = c.id
{responded}
{contacts}
WHERE {_WAS_A_CUSTOMER}
"""


def value_inputs_sql() -> str:
    """The value-scoring run's chunk: only the formula's inputs (scoring.VALUE_INPUTS), computed as
    the full feature step computes them, into CustomerValueInputs. A third of the full step's work:
    no recency probes, product mix, average balance, timeline or contact history."""
    return f"""{_holdings_ctes(activity=_VALUE_ACCOUNT_ACTIVITY, owned=_VALUE_OWNED_ACCOUNT,
                               per_customer=_VALUE_PER_CUSTOMER)}
INSERT INTO {quoted_table(CustomerValueInputs)} (
    run_id, customer_id, branch_id, rm_id, {", ".join(scoring.VALUE_INPUTS)}
)
SELECT %(run)s, c.id, c.home_branch_id, c.primary_rm_id, {", ".join(_VALUE_INPUT_VALUES.values())}
FROM cust c
LEFT JOIN per_customer pc ON pc.customer_id = c.id
WHERE {_WAS_A_CUSTOMER}
"""


# The chunks of a features run (value scoring, segmentation): at most FEATURE_CHUNK_SIZE customers
# each (the run's "chunk_size"), and at least FEATURE_MIN_CHUNKS of them. A bank of 100,000 customers
# in five chunks of 20,000 kept one of two workers idle for the last fifth of the feature step; in
# twelve, that step took 1.83 s instead of 1.96 s (three runs each, two workers). At a million
# customers the chunks stay 20,000.
FEATURE_CHUNK_SIZE = 20_000
FEATURE_MIN_CHUNKS = 12


def feature_chunk_ranges(params: dict) -> list[tuple[int, int]]:
    return chunk_ranges(Customer.objects.all(), size=int(params.get("chunk_size", FEATURE_CHUNK_SIZE)),
                        min_chunks=FEATURE_MIN_CHUNKS)


def customer_features_write(*, run_id: int, as_of: datetime.date, lo: int, hi: int, rates: dict[str, float]) -> int:
    """Writes the features of customers lo..hi (inclusive) for the run, money converted with
    `rates` (currency_params); returns the rows written.

    Delete-then-insert in the caller's transaction, so a repeated chunk gives the same rows.
    """
    return _chunk_write(CustomerFeatures, _features_sql(responded_before_sql(), interactions_sql()),
                        run_id=run_id, as_of=as_of, lo=lo, hi=hi, rates=rates)


def value_inputs_write(*, run_id: int, as_of: datetime.date, lo: int, hi: int, rates: dict[str, float]) -> int:
    """Writes the value formula's inputs of customers lo..hi for the value-scoring run (the same
    figures customer_features_write gives them); returns the rows written. Delete-then-insert."""
    return _chunk_write(CustomerValueInputs, value_inputs_sql(), run_id=run_id, as_of=as_of, lo=lo, hi=hi,
                        rates=rates)


def _chunk_write(model, sql: str, *, run_id: int, as_of: datetime.date, lo: int, hi: int,
                 rates: dict[str, float]) -> int:
    start, end = window_bounds(as_of)
    with connection.cursor() as cursor:
        # For this transaction only: the per-customer aggregates of a chunk fit in memory instead of
        # spilling to disk at the default 4 MB, and JIT compiling costs more than it saves here.
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute("SET LOCAL jit = off")
        # Hash joins whatever the statistics say: fresh bulk-loaded tables without them look like
        # one row each, and a nested loop of a chunk's accounts over its transactions ran for ten
        # minutes where the hash join takes a second.
        cursor.execute("SET LOCAL enable_nestloop = off")
        # The tables a chunk reads are in memory after the first chunks: at the default 4, index
        # look-ups of a chunk's 60,000 accounts look dearer than a scan of all three million.
        cursor.execute("SET LOCAL random_page_cost = 1.1")
        # The range's accounts as literals: the planner then sees how many transactions they
        # have and reads them in page order (a bitmap scan) instead of one heap visit per row.
        cursor.execute(
            f"SELECT min(account_id), max(account_id) FROM {quoted_table(AccountHolder)}"
            " WHERE customer_id BETWEEN %s AND %s AND role = 'owner'",
            [lo, hi],
        )
        account_lo, account_hi = cursor.fetchone()
        cursor.execute(f"DELETE FROM {quoted_table(model)} WHERE run_id = %s AND customer_id BETWEEN %s AND %s",
                       [run_id, lo, hi])
        cursor.execute(sql, {
            "run": run_id, "lo": lo, "hi": hi, "account_lo": account_lo or 0, "account_hi": account_hi or 0,
            "as_of": as_of, "start": start, "end": end, "start_epoch": start.timestamp(),
            "window_seconds": (end - start).total_seconds(), "assisted": list(ASSISTED_CHANNELS),
            "tz": str(timezone.get_default_timezone()), "credit": list(CREDIT_CATEGORIES), "rates": json.dumps(rates),
            "loans": list(LOAN_CATEGORIES), "digital": list(DIGITAL_CHANNELS),
        })
        return cursor.rowcount
