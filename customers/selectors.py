"""Reads for customer pages: the list, the 360° panels, an RM's book, a branch summary."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, F, Max, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language

from crm_bank.bulk import quoted_table
from crm_bank.org.models import Branch
from crm_bank.prepared import prepared_cursor
from crm_bank.ui.names import person_name
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    FieldProvenance,
    Product,
    RMAssignment,
    SourceRecord,
    Transaction,
)
from customers.models.customer import INCOMPLETE_BELOW
from customers.naming import name_key

_DIGITS_AND_SIGNS = re.compile(r"^[+\d][\d\s\-/]*$")


@dataclass(frozen=True)
class SearchTerms:
    """What a search box entry can mean: an identifier (CIF, national ID, phone, account) or a name."""

    identifier: str | None
    phone: str | None
    account_holder_ids: list[int]
    name_prefix: str


def search_identifier_kinds(query: str) -> list[str]:
    """Which kinds of identifier a search box entry is looked up as, read from its shape alone (for
    the audit trail: never the value). Names hold no digits; an entry with one is an identifier."""
    query = (query or "").strip()
    if not any(ch.isdigit() for ch in query):
        return []
    return ["customer_number", "national_id", "account_number"] + (["phone"] if _DIGITS_AND_SIGNS.match(query) else [])


# A national ID or customer number is at least this long (a name prefix typed to search is often shorter).
_IDENTIFIER_MIN_LENGTH = 5


def search_identifier_matched(query: str) -> list[str]:
    """For an entry without digits, which search_identifier_kinds passes over as a name: the kinds of
    identifier it nevertheless found a customer by (a passport or ID of letters only), [] if none.
    One probe of the unique CIF and the national-ID indexes, for entries long enough to be one."""
    if any(ch.isdigit() for ch in query or ""):
        return []
    terms = customer_search_terms(query)  # no digits: no account look-up, only the identifier's form
    identifier = terms.identifier if terms is not None else None
    if not identifier or not _IDENTIFIER_MIN_LENGTH <= len(identifier) <= 32:
        return []
    found = Customer.objects.filter(Q(cif=identifier) | Q(national_id=identifier)).values_list("cif", flat=True)[:1]
    if not found:
        return []
    return ["customer_number"] if found[0] == identifier else ["national_id"]


def customer_search_terms(query: str) -> SearchTerms | None:
    query = (query or "").strip()
    if not query:
        return None
    compact = re.sub(r"[\s\-/]", "", query)
    phone = None
    if _DIGITS_AND_SIGNS.match(query):
        phone = compact if compact.startswith("+") else f"+{compact}"
    holders = []
    if any(ch.isdigit() for ch in query):
        # Account numbers are looked up as typed and without separators ("TM000001-C", "L-1234"),
        # holders first (one indexed query): a subquery inside the OR would stop PostgreSQL
        # combining the indexes and scan every customer.
        numbers = {query, query.upper(), compact, compact.upper()}
        holders = list(
            AccountHolder.objects.filter(account__number__in=numbers).values_list("customer_id", flat=True)
        )
    # None, not "", when nothing is left: "" would match every customer without a national ID.
    return SearchTerms(compact.upper() or None, phone, holders, name_key(query))


# Merged-away records (tombstones) are left out of every list, search, book and count: their old
# links redirect to the survivor. By id against the few tombstone ids (customer_merged_into_idx, a
# hashed subplan built once), so the lists' capped counts stay index-only scans: a merged_into test
# per row would read the table (a branch's 10,000-row count went from 4 to 15 ms at a million).
IN_FORCE = ~Q(pk__in=Customer.objects.filter(merged_into__isnull=False).values("pk"))


def customer_search(*, queryset: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Narrows `queryset` to customers matching `query` by name, ID, phone, CIF or account.

    Every branch of the OR is served by an index (name-key prefixes, unique CIF, national ID,
    phone, account number), so the search stays fast on a million customers.
    """
    terms = customer_search_terms(query)
    if terms is None:
        return queryset
    condition = Q(pk__in=[])
    if terms.identifier:
        condition |= Q(cif=terms.identifier) | Q(national_id=terms.identifier)
    if terms.phone:
        condition |= Q(phone=terms.phone)
    if terms.account_holder_ids:
        condition |= Q(pk__in=terms.account_holder_ids)
    if terms.name_prefix:
        condition |= Q(name_key__startswith=terms.name_prefix) | Q(name_key_reversed__startswith=terms.name_prefix)
    return queryset.filter(condition)


def _match_branches(terms: SearchTerms) -> list[tuple[str, list[object]]]:
    """(SQL, params) per way of matching, each yielding (id, name_key) from an index alone.

    customer_name_key_idx holds (name_key, id) and serves the first-name branch in name order.
    customer_name_rev_idx holds name_key_reversed and includes (name_key, id); its branch is
    fenced with OFFSET 0 so PostgreSQL reads its matches there and sorts them, rather than walking
    the name_key index in order hoping to meet a surname match (140 ms vs 10 ms for "yan").
    The identifier branch hits unique or tiny indexes.
    """
    table = Customer._meta.db_table
    # Tombstones left out by id, against the few ids of customer_merged_into_idx (a hashed subplan
    # built once): the name branches stay index-only scans, which a merged_into test would not.
    live = f"id NOT IN (SELECT id FROM {table} WHERE merged_into_id IS NOT NULL)"
    # A None phone compares as NULL: matches nothing (an empty string would match every blank phone).
    branches = [(f"SELECT id, name_key FROM {table}"
                  f" WHERE (cif = %s OR national_id = %s OR phone = %s OR id = ANY(%s)) AND {live}",
                 [terms.identifier, terms.identifier, terms.phone, terms.account_holder_ids])]
    if terms.name_prefix:
        prefix = terms.name_prefix + "%"  # name keys hold only [a-z0-9 ]: nothing to escape
        branches += [(f"SELECT id, name_key FROM {table} WHERE name_key LIKE %s AND {live}", [prefix]),
                     (f"SELECT * FROM (SELECT id, name_key FROM {table} WHERE name_key_reversed LIKE %s AND {live}"
                      " OFFSET 0) AS r", [prefix])]
    return branches


def customer_search_in_name_order(
    *, query: str, rows: int, descending: bool = False, count_cap: int
) -> tuple[QuerySet[Customer], int]:
    """The first `rows` matches in name order, and how many match (at most count_cap + 1).

    The name order is taken from the indexes before any customer row is read: each way of
    matching gives its own first `rows` in name order (the first-name branch reads just those
    off its index), and only those are merged. A common prefix ("li": 100,000 customers at a
    million) so costs about what its first pages cost. Only for a search without other
    filters: a filter applied after the cut would lose rows.
    """
    terms = customer_search_terms(query)
    if terms is None:
        raise ValueError("customer_search_in_name_order needs a query")
    branches = _match_branches(terms)
    params = [p for _, branch_params in branches for p in branch_params]
    order = "name_key DESC, id DESC" if descending else "name_key, id"
    firsts = " UNION ".join(f"({sql} ORDER BY {order} LIMIT {int(rows)})" for sql, _ in branches)
    first_ids = RawSQL(f"SELECT id FROM ({firsts}) AS matches ORDER BY {order} LIMIT {int(rows)}", params)
    # Counted without sorting or de-duplicating everything: a customer can match at most every
    # branch once, so reading len(branches) * (cap + 1) rows is enough to know "more than cap".
    stream = " UNION ALL ".join(sql for sql, _ in branches)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(DISTINCT id) FROM (SELECT id FROM ({stream}) AS s LIMIT %s) AS c",
            [*params, len(branches) * (count_cap + 1)],
        )
        (count,) = cursor.fetchone()
    page_rows = (
        _listed(Customer.objects.filter(pk__in=first_ids))
        .alias(sort_name=F("name_key"))
    )
    return page_rows, min(count, count_cap + 1)


# The columns a list row shows (customers.tables.customer_list_rows), with its branch and RM: not
# all 44 of a customer and those of the branch and the RM (a page of 25 rows of My book: 3.5 → 2.9 ms).
LIST_COLUMNS = ("cif", "kind", "first_name", "last_name", "legal_name", "lifecycle_stage", "completeness",
                "last_contact_at", "home_branch__code", "home_branch__name", "primary_rm__username",
                "primary_rm__first_name", "primary_rm__last_name")


def _listed(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    return customers.select_related("home_branch", "primary_rm").only(*LIST_COLUMNS)


def customer_list() -> QuerySet[Customer]:
    """Customers for the list; `sort_name` is the name_key column, so the name index returns the
    first page directly."""
    return _listed(Customer.objects.filter(IN_FORCE)).alias(sort_name=F("name_key"))


def customer_list_searched(*, queryset: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """`queryset` narrowed by the search, with `sort_name` as lower(name_key).

    The same order (the key is lower-case already), but PostgreSQL then collects the matches
    through the search indexes and sorts them, instead of walking the whole name index looking
    for matches (seconds at a million customers for "tin"). Used when other filters narrow the
    search too; a search alone takes customer_search_in_name_order.
    """
    return customer_search(queryset=queryset, query=query).alias(sort_name=Lower("name_key"))


@dataclass(frozen=True, slots=True)
class Holding:
    """One holding as plain values (no model instances: the 360° page builds dozens of these)."""

    account_id: int
    number: str
    linked_number: str
    product_name: str
    category: str
    role: str
    opened_on: date | None
    status: str
    currency: str
    balance: Decimal | None
    principal: Decimal | None
    repayment_status: str


_HOLDINGS = (
    "SELECT h.account_id, a.number, coalesce(linked.number, ''), p.name, p.name_zh, p.category, h.role,"
    "       a.opened_on, a.status, a.currency, a.balance, a.principal, a.repayment_status"
    f" FROM {AccountHolder._meta.db_table} h"
    f" JOIN {Account._meta.db_table} a ON a.id = h.account_id"
    f" JOIN {Product._meta.db_table} p ON p.id = a.product_id"
    f" LEFT JOIN {Account._meta.db_table} linked ON linked.id = a.linked_account_id"
    " WHERE h.customer_id = %s"
    " ORDER BY p.category, a.opened_on, h.account_id"
)


def customer_holdings(*, customer_id: int) -> list[Holding]:
    """The customer's holdings with product and linked account, in one query (holder_customer_idx).

    A fixed statement rather than a queryset: building this four-table query cost more than
    running it (1.3 of 2.3 ms), on the page every RM opens most.
    """
    chinese = (get_language() or "").startswith("zh")
    with prepared_cursor() as cursor:
        cursor.execute(_HOLDINGS, [customer_id])
        rows = cursor.fetchall()
    return [
        Holding(account_id, number, linked, (name_zh if chinese and name_zh else name), category, role,
                opened_on, status, currency, balance, principal, repayment)
        for (account_id, number, linked, name, name_zh, category, role, opened_on, status, currency, balance,
             principal, repayment) in rows
    ]


def customer_total_balances(holdings: list[Holding]) -> dict[str, Decimal]:
    """Total balance per currency of the accounts the customer owns (loans and cards aside)."""
    totals: dict[str, Decimal] = {}
    for holding in holdings:
        if holding.role != AccountHolder.Role.OWNER or holding.balance is None:
            continue
        if holding.category in Product.NOT_DEPOSITS:
            continue
        totals[holding.currency] = totals.get(holding.currency, Decimal(0)) + holding.balance
    return totals


@dataclass(frozen=True, slots=True)
class TransactionRow:
    account_id: int
    booked_at: datetime
    amount: Decimal
    direction: str
    kind: str
    channel: str
    purpose: str
    balance_after: Decimal | None


_TRANSACTION_COLUMNS = ("account_id", "booked_at", "amount", "direction", "kind", "channel", "purpose", "balance_after")
_TRANSACTIONS_NEWEST_FIRST = (
    f"SELECT t.{', t.'.join(_TRANSACTION_COLUMNS)}"
    " FROM unnest(%(accounts)s::bigint[]) AS a(id)"
    " CROSS JOIN LATERAL ("
    f"   SELECT * FROM {Transaction._meta.db_table} t WHERE t.account_id = a.id"
    "    ORDER BY t.booked_at DESC, t.id DESC LIMIT %(reach)s"
    " ) AS t"
    " ORDER BY t.booked_at DESC, t.id DESC OFFSET %(offset)s LIMIT %(limit)s"
)


def customer_transactions_window(*, account_ids: list[int], offset: int, limit: int) -> list[TransactionRow]:
    """Rows offset … offset+limit of the accounts' transactions, newest first, in one query.

    Each account contributes at most offset+limit rows read straight off txn_account_booked_cover_idx
    (the LATERAL join walks that index per account), and only those are merged and sorted:
    `account_id IN (…) ORDER BY booked_at` would sort a customer's whole history (19k rows, 50 ms)
    to show twenty. One fixed statement, whatever the number of accounts: nothing to build per call.
    """
    if not account_ids:
        return []
    with prepared_cursor() as cursor:
        cursor.execute(_TRANSACTIONS_NEWEST_FIRST,
                       {"accounts": account_ids, "reach": offset + limit, "offset": offset, "limit": limit})
        return [TransactionRow(*row) for row in cursor.fetchall()]


@dataclass(frozen=True, slots=True)
class HouseholdMember:
    pk: int
    name: str
    role: str  # its label


def customer_household_members(*, household_id: int | None, exclude_customer_id: int) -> list[HouseholdMember]:
    if household_id is None:
        return []
    roles = dict(Customer.HouseholdRole.choices)
    rows = (
        Customer.objects.filter(IN_FORCE, household_id=household_id)
        .exclude(pk=exclude_customer_id)
        .order_by("pk")
        .values_list("id", "kind", "first_name", "last_name", "legal_name", "household_role")[:20]
    )
    return [
        HouseholdMember(pk, legal if kind == Customer.Kind.CORPORATE else person_name(given=first, family=last),
                        str(roles.get(role, "")))
        for pk, kind, first, last, legal, role in rows
    ]


@dataclass(frozen=True, slots=True)
class RMPeriod:
    rm_name: str
    started_at: datetime
    ended_at: datetime | None
    reason: str


_RM_HISTORY = (
    "SELECT u.username, u.first_name, u.last_name, a.started_at, a.ended_at, a.reason"
    f" FROM {quoted_table(RMAssignment)} a JOIN {quoted_table(get_user_model())} u ON u.id = a.rm_id"
    " WHERE a.customer_id = %s ORDER BY a.started_at DESC LIMIT 20"
)


def customer_rm_history(*, customer_id: int) -> list[RMPeriod]:
    """The customer's last 20 RMs, newest first: a fixed statement, prepared (on every 360° view)."""
    with prepared_cursor() as cursor:
        cursor.execute(_RM_HISTORY, [customer_id])
        rows = cursor.fetchall()
    return [
        RMPeriod(person_name(given=first, family=last) or username, started, ended, reason)
        for username, first, last, started, ended, reason in rows
    ]


@dataclass(frozen=True)
class FieldChange:
    changed_at: datetime
    changed_by: str
    field: str  # the model field's name: what MASKING_RULES is keyed on
    label: str
    old: object
    new: object


# Field name → how its value reads: foreign keys by the name of what they point to.
_HISTORY_FIELDS = (
    "first_name", "last_name", "legal_name", "national_id_type", "national_id", "birth_date", "gender",
    "occupation", "marital_status", "education", "phone", "email", "address_line", "city", "postal_code",
    "country", "home_branch", "primary_rm", "lifecycle_stage", "customer_since", "preferred_channel",
    "preferred_contact_time", "preferred_language", "interests", "marketing_consent", "marketing_consent_source",
    "do_not_contact", "kyc_review_due", "household", "household_role",
)
_RELATED_NAMES = {
    "home_branch": lambda branch: str(branch),
    "primary_rm": lambda user: person_name(given=user.first_name, family=user.last_name) or user.get_username(),
    "household": lambda household: household.name,
}


def customer_field_changes(*, customer_id: int, limit: int = 10) -> list[FieldChange]:
    """The latest field-level changes, from consecutive history rows, with the branches, RMs and
    households they name loaded in the same query."""
    history = Customer.history.model
    records = list(
        history.objects.filter(id=customer_id)
        .select_related("history_user", *_RELATED_NAMES)
        .order_by("-history_date", "-history_id")[: limit + 1]
    )
    changes: list[FieldChange] = []
    for newer, older in itertools.pairwise(records):
        who = newer.history_user.get_username() if newer.history_user else ""
        for name in _HISTORY_FIELDS:
            field = Customer._meta.get_field(name)
            if getattr(older, field.attname) == getattr(newer, field.attname):
                continue
            changes.append(FieldChange(
                newer.history_date, who, name, str(capfirst(field.verbose_name)),
                _history_value(older, field), _history_value(newer, field),
            ))
    return changes[:limit]


def _history_value(record: object, field) -> object:
    """A historical value as a reader understands it: a label for a code, a name for a link."""
    if name_of := _RELATED_NAMES.get(field.name):
        related = getattr(record, field.name)
        return name_of(related) if related is not None else ""
    value = getattr(record, field.attname)
    if field.choices:
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, list):
        return ", ".join(value)
    return value


def rm_book(*, rm_id: int) -> QuerySet[Customer]:
    return (
        _listed(Customer.objects.filter(IN_FORCE, primary_rm_id=rm_id))
        .alias(sort_name=F("name_key"))
        .order_by("name_key", "id")
    )


# What the My book page's KYC panel shows of each customer: name, link and due date.
KYC_DUE_COLUMNS = ("kind", "first_name", "last_name", "legal_name", "kyc_review_due")


def rm_kyc_reviews_due(*, rm_id: int, within_days: int = 30) -> QuerySet[Customer]:
    """An RM's customers whose KYC review is overdue or due within `within_days` (rm_kyc_idx), with
    only the KYC_DUE_COLUMNS read (not all 44 columns, the attributes' JSON among them)."""
    horizon = timezone.localdate() + timedelta(days=within_days)
    return (
        Customer.objects.filter(IN_FORCE, primary_rm_id=rm_id, kyc_review_due__lte=horizon)
        .exclude(lifecycle_stage=Customer.Lifecycle.CLOSED)
        .only(*KYC_DUE_COLUMNS)
        .order_by("kyc_review_due", "id")
    )


@dataclass(frozen=True)
class BranchSummary:
    customers_by_stage: dict[str, int]
    customers_total: int
    balances_by_currency: list[dict]
    rm_books: list[dict]
    kyc_overdue: int


def branch_summary(*, branch_id: int, today: date | None = None) -> BranchSummary:
    """A supervisor's branch at a glance, in three aggregate queries."""
    today = today or timezone.localdate()
    stages = list(
        Customer.objects.filter(IN_FORCE, home_branch_id=branch_id)
        .values("lifecycle_stage")
        .annotate(n=Count("id"), kyc_overdue=Count("id", filter=Q(kyc_review_due__lt=today)))
        .order_by()
    )
    by_stage = {row["lifecycle_stage"]: row["n"] for row in stages}
    balances = list(
        Account.objects.filter(branch_id=branch_id, balance__isnull=False)
        .exclude(product__category__in=Product.NOT_DEPOSITS)
        .values("currency")
        .annotate(total=Sum("balance"), accounts=Count("id"))
        .order_by("currency")
    )
    rm_books = list(
        Customer.objects.filter(IN_FORCE, home_branch_id=branch_id, primary_rm__isnull=False)
        .values("primary_rm_id", "primary_rm__username", "primary_rm__first_name", "primary_rm__last_name")
        .annotate(
            customers=Count("id"),
            kyc_overdue=Count("id", filter=Q(kyc_review_due__lt=today)),
            last_contact=Max("last_contact_at"),
            average_completeness=Avg("completeness"),
            incomplete=Count("id", filter=Q(completeness__lt=INCOMPLETE_BELOW)),
        )
        .order_by("-customers")
    )
    for row in rm_books:
        row["name"] = person_name(given=row["primary_rm__first_name"], family=row["primary_rm__last_name"])
    return BranchSummary(
        customers_by_stage=by_stage,
        customers_total=sum(by_stage.values()),
        balances_by_currency=balances,
        rm_books=rm_books,
        kyc_overdue=sum(row["kyc_overdue"] for row in stages),
    )


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source system's record of a customer, as it was received."""

    system_code: str
    system_name: str
    external_id: str
    received_at: datetime
    updated_at: datetime | None
    batch_id: int | None
    payload: dict


@dataclass(frozen=True, slots=True)
class GroupProvenance:
    """Which source last set a field group and when (FieldProvenance)."""

    group: str
    source_code: str
    source_name: str
    set_at: datetime


SOURCES_SHOWN = 20


def customer_sources(*, customer_id: int, limit: int = SOURCES_SHOWN) -> list[SourceRow]:
    """A customer's source records, the most recently received first (one row more than `limit`
    tells the panel there are more)."""
    rows = (SourceRecord.objects.filter(customer_id=customer_id)
            .order_by(F("updated_at").desc(nulls_last=True), "-received_at", "-id")
            .values_list("system_id", "system__name", "external_id", "received_at", "updated_at", "batch_id",
                         "payload")[: limit + 1])
    return [SourceRow(*row) for row in rows]


def customer_field_provenance(*, customer_id: int) -> dict[str, GroupProvenance]:
    """Field group → who last set it, for the groups some source or member of staff has set."""
    rows = (FieldProvenance.objects.filter(customer_id=customer_id)
            .values_list("group", "source_id", "source__name", "set_at"))
    return {group: GroupProvenance(group, code, name, set_at) for group, code, name, set_at in rows}


@dataclass(frozen=True, slots=True)
class BranchCompleteness:
    """One line of the branch completeness league table."""

    branch_id: int
    code: str
    name: str
    customers: int
    average: float
    incomplete: int

    @property
    def incomplete_percent(self) -> float:
        return 100 * self.incomplete / self.customers if self.customers else 0.0


@dataclass(frozen=True, slots=True)
class CompletenessLeague:
    branches: list[BranchCompleteness]
    computed_at: datetime


# Figures that read a branch's or the bank's customers in full (a scan: 0.2–0.7 s at a million
# customers) are kept this long; the pages say when they were computed and offer "Recompute".
AGGREGATE_CACHE_SECONDS = 600
# "Recompute" within this long of the last computation shows that one (a reload loop cannot keep
# the database scanning).
RECOMPUTE_AFTER_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Computed:
    """A cached aggregate and when it was computed."""

    value: object
    computed_at: datetime


def _cached(key: str, compute, *, fresh: bool) -> Computed:
    found = cache.get(key)
    if fresh and found is not None and (timezone.now() - found.computed_at).total_seconds() >= RECOMPUTE_AFTER_SECONDS:
        found = None
    if found is None:
        found = Computed(compute(), timezone.now())
        cache.set(key, found, AGGREGATE_CACHE_SECONDS)
    return found


def branch_summary_cached(*, branch_id: int, fresh: bool = False) -> Computed:
    """branch_summary (value) for a landing page, computed at most every AGGREGATE_CACHE_SECONDS."""
    return _cached(f"customers:branch-summary:{branch_id}", lambda: branch_summary(branch_id=branch_id), fresh=fresh)


def branch_completeness_league(*, fresh: bool = False) -> CompletenessLeague:
    """Branches by the average completeness of their customers (best first; ties by fewer
    incomplete profiles), with the count below INCOMPLETE_BELOW; computed at most every
    AGGREGATE_CACHE_SECONDS (`fresh` recomputes), and says when it was."""
    computed = _cached("customers:completeness-league", _completeness_by_branch, fresh=fresh)
    return CompletenessLeague(computed.value, computed.computed_at)


def _completeness_by_branch() -> list[BranchCompleteness]:
    rows = (Customer.objects.filter(IN_FORCE).values("home_branch_id")
            .annotate(customers=Count("id"), average=Avg("completeness"),
                      incomplete=Count("id", filter=Q(completeness__lt=INCOMPLETE_BELOW)))
            .order_by())
    by_branch = {row["home_branch_id"]: row for row in rows}
    branches = [
        BranchCompleteness(branch.pk, branch.code, branch.name, by_branch[branch.pk]["customers"],
                           float(by_branch[branch.pk]["average"]), by_branch[branch.pk]["incomplete"])
        for branch in Branch.objects.filter(pk__in=by_branch)
    ]
    branches.sort(key=lambda line: (-line.average, line.incomplete_percent, line.code))
    return branches
