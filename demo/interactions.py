"""The demo bank's contact history, derived from what the public data sets record.

PKDD'99 has no contact log, but its rows imply contacts:
- cash paid in or taken out at the counter (VKLAD / VYBER) means the client was at the branch;
- a card withdrawal (VYBER KARTOU) is an ATM transaction;
- an account opened, a loan agreed or a card issued was a sale at the client's branch, with the RM.
A client who paid in and took out cash on the same day made one visit, not two: counter and ATM
rows are aggregated per client, channel and day (the 47,000 transactions of the demo's file give
about 22,500 visits; the full file's million would give about 450,000, which a bank's timeline
holds easily, so nothing is sampled). The file has dates only: a visit gets a time of day within
opening hours drawn from its first transaction's id, so the same data always gives the same times.

The UCI campaign's calls are campaign contacts, written by campaigns.timeline. Everything here is
one INSERT … SELECT per kind of contact, idempotent through the source's unique index.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from campaigns.timeline import campaign_contacts_to_interactions
from channels.models import ChannelSystem, Interaction
from channels.services.rollup import customer_last_contacts_catch_up, interaction_daily_counts_rebuild
from crm_bank.bulk import quoted_table
from customers.models import Account, AccountHolder, Customer, Product, Transaction

CORE_SYSTEM_CODE = "pkdd-core"
# Counter hours 08:30–17:00 and ATM use 07:00–23:00, in minutes after midnight: (first, span).
_COUNTER_MINUTES = (8 * 60 + 30, 510)
_ATM_MINUTES = (7 * 60, 960)
_COLUMNS = ("customer_id, channel, kind, direction, staff_id, branch_id, occurred_at, summary, outcome, "
            "campaign_code, source_system_id, source_id, payload_hash, recorded_at")
_ON_CONFLICT = "ON CONFLICT (source_system_id, source_id) WHERE NOT (source_id = '') DO NOTHING"


def core_channel_system() -> ChannelSystem:
    system, _created = ChannelSystem.objects.get_or_create(
        code=CORE_SYSTEM_CODE, defaults={"name": "Core banking (PKDD'99 transactions and holdings)"},
    )
    return system


def pkdd_touchpoints_to_interactions() -> int:
    """Counter visits, ATM withdrawals and sales implied by the loaded PKDD'99 rows; returns how many
    interactions were written (0 when they already are)."""
    system = core_channel_system()
    params = {"zone": settings.TIME_ZONE, "system": system.pk}
    interaction, txn, account = quoted_table(Interaction), quoted_table(Transaction), quoted_table(Account)
    holder, customer = quoted_table(AccountHolder), quoted_table(Customer)
    local_day = "(t.booked_at AT TIME ZONE %(zone)s)::date"
    with connection.cursor() as cursor:
        # 1. Counter and ATM: one contact per owner, channel and local day.
        cursor.execute(
            f"""INSERT INTO {interaction} ({_COLUMNS})
                SELECT h.customer_id, t.channel,
                       CASE t.channel WHEN 'atm' THEN 'transaction' ELSE 'visit' END, 'inbound', NULL, a.branch_id,
                       ({local_day} + make_interval(mins => (CASE t.channel
                            WHEN 'atm' THEN {_ATM_MINUTES[0]} + (min(t.id) * 7919) %% {_ATM_MINUTES[1]}
                            ELSE {_COUNTER_MINUTES[0]} + (min(t.id) * 7919) %% {_COUNTER_MINUTES[1]} END)::int))
                           AT TIME ZONE %(zone)s,
                       CASE WHEN t.channel = 'atm' THEN 'ATM cash withdrawal'
                            WHEN bool_and(t.kind = 'cash_in') THEN 'Cash deposit at the counter'
                            WHEN bool_and(t.kind = 'cash_out') THEN 'Cash withdrawal at the counter'
                            ELSE 'Cash deposit and withdrawal at the counter' END
                         || ': ' || a.currency || ' ' || sum(t.amount)
                         || CASE WHEN count(*) > 1 THEN ' (' || count(*) || ' transactions)' ELSE '' END,
                       '', '', %(system)s,
                       'pkdd:' || t.channel || ':' || h.customer_id || ':' || {local_day}, '', now()
                FROM {txn} t
                JOIN {account} a ON a.id = t.account_id
                JOIN {holder} h ON h.account_id = a.id AND h.role = 'owner'
                WHERE t.channel IN ('branch', 'atm') AND t.source_ref LIKE 'pkdd:trans:%%'
                GROUP BY h.customer_id, t.channel, a.branch_id, a.currency, {local_day}
                ORDER BY h.customer_id, {local_day}
                {_ON_CONFLICT}""",
            params,
        )
        written = cursor.rowcount
        # 2. Accounts opened, loans agreed and cards issued: sales at the branch, with the RM.
        cursor.execute(
            f"""INSERT INTO {interaction} ({_COLUMNS})
                SELECT h.customer_id, 'branch', 'sale', 'inbound', c.primary_rm_id, a.branch_id,
                       (a.opened_on + make_interval(
                           mins => ({_COUNTER_MINUTES[0]} + (a.id * 7919) %% {_COUNTER_MINUTES[1]})::int))
                           AT TIME ZONE %(zone)s,
                       CASE split_part(a.source_ref, ':', 2)
                            WHEN 'loan' THEN 'Consumer loan agreed: ' || a.currency || ' ' || a.principal
                                             || ' over ' || a.term_months || ' months'
                            WHEN 'card' THEN 'Card issued: ' || p.name
                            ELSE 'Current account opened' END,
                       CASE WHEN split_part(a.source_ref, ':', 2) = 'loan' THEN 'Loan granted' ELSE '' END,
                       '', %(system)s, a.source_ref, '', now()
                FROM {account} a
                JOIN {holder} h ON h.account_id = a.id AND h.role = 'owner'
                JOIN {customer} c ON c.id = h.customer_id
                JOIN {quoted_table(Product)} p ON p.id = a.product_id
                WHERE a.source_ref LIKE 'pkdd:%%' AND a.opened_on IS NOT NULL
                ORDER BY a.id
                {_ON_CONFLICT}""",
            params,
        )
        return written + cursor.rowcount


def demo_interactions_derive() -> int:
    """Every contact the loaded data implies, then the rollup and last contacts in step; returns the
    interactions written. Runs in the caller's transaction."""
    written = pkdd_touchpoints_to_interactions() + campaign_contacts_to_interactions()
    if written:
        interaction_daily_counts_rebuild()
        customer_last_contacts_catch_up()
    return written
