"""`bank_generate`: reference data, which customers are missing, and the run segment by segment."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import date

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from crm_bank.org.services import branches_ensure, demo_staff_ensure
from customers.generation.constants import _BRANCH_CITIES, _PRODUCTS
from customers.generation.draws import _cif, _segment_build
from customers.generation.inputs import _Bank, _pools_build
from customers.generation.writer import ContactsWriter, _segment_write
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    Household,
    RMAssignment,
    SourceRecord,
    Transaction,
)
from customers.services import products_ensure, source_systems_builtin_ensure


def bank_generate(
    *,
    customers: int,
    transactions_per_customer: int,
    seed: int,
    branches: int = 20,
    password: str | None = None,
    log: Callable[[str], object] = print,
    chunk_size: int = 50_000,
    as_of: date | None = None,
    contacts_writer: ContactsWriter | None = None,
    interactions_per_customer: int = 0,
) -> dict:
    """Writes a demo bank of `customers` customers and returns what it wrote.

    1. Reference data: branches G01…Gnn, the CNY product catalogue and, given a password, the demo
       staff (without one, customers get no RM).
    2. Which of the seed's customers are missing: a re-run writes only those (usually none).
    3. Per segment of at most `chunk_size` missing customers, in its own transaction: draw the
       segment in numpy, reserve ids from the sequences, COPY every table.
    4. ANALYZE, so the planner sees the new sizes at once.
    A customer's last contact is written only with `contacts_writer`, which stores the contact
    itself (see GeneratedContacts): a last-contact date with no contact behind it would be a claim
    the 360° timeline cannot show. The writer also gets a mean of `interactions_per_customer`
    earlier contacts of each contacted customer (customers.generation.touchpoints).
    Dates are relative to `as_of` (today): the same seed on another day shifts every date.
    """
    bank_arguments_check(customers=customers, transactions_per_customer=transactions_per_customer, seed=seed,
                         branches=branches, interactions_per_customer=interactions_per_customer)
    # Memory grows with the transactions (and interactions) of one segment (~500 bytes each while drawn): at most
    # ~2.5M per segment keeps a run near 1.2 GB whatever the mean (50 a customer: 50,000 a segment).
    rows_per_customer = transactions_per_customer + interactions_per_customer
    chunk_size = min(chunk_size, max(1_000, _SEGMENT_TRANSACTIONS // max(rows_per_customer, 1)))
    started = time.perf_counter()
    as_of = as_of or timezone.localdate()
    branch_rows = list(branches_ensure(branches=_branch_rows(count=branches)).values())
    products = products_ensure(catalogue=[(code, name, category, "CNY") for code, name, category in _PRODUCTS])
    source_systems_builtin_ensure()
    rms = demo_staff_ensure(branches=branch_rows, password=password) if password else None
    segments = _segments_missing(seed=seed, customers=customers, chunk_size=chunk_size)
    figures: Counter[str] = Counter()
    if not segments:
        log(f"All {customers:,} customers of seed {seed} are already present: nothing written.")
        return {"customers": 0, "rows": 0, "already_present": customers,
                "seconds": round(time.perf_counter() - started, 1)}
    missing = sum(stop - start for start, stop in segments)
    log(f"Writing {missing:,} customers of seed {seed} ({customers - missing:,} already present).")
    bank = _Bank(
        seed=seed,
        as_of_day=int(np.datetime64(as_of, "D").astype(np.int64)),
        transactions_per_customer=transactions_per_customer,
        branch_ids=np.array([b.pk for b in branch_rows]),
        rm_ids=None if rms is None else np.array([rms[b.pk] for b in branch_rows]),
        product_ids=np.array([products[code].pk for code, _, _ in _PRODUCTS]),
        interactions_per_customer=interactions_per_customer,
    )
    pools = _pools_build(seed=seed)
    deposits = []
    for start, stop in segments:
        t0 = time.perf_counter()
        segment = _segment_build(bank=bank, pools=pools, start=start, stop=stop)
        with transaction.atomic(), connection.cursor() as cursor:
            written = _segment_write(cursor=cursor, segment=segment, contacts_writer=contacts_writer)
        figures.update(written)
        deposits.append(segment.deposit_cents)
        log(f"  customers {start:,}–{stop - 1:,}: {sum(written.values()):,} rows in {time.perf_counter() - t0:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(m._meta.db_table for m in _TABLES)}")
    seconds = time.perf_counter() - started
    rows = sum(figures.values())
    return {
        **figures,
        "already_present": customers - missing,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "top20_deposit_share": round(_top_share(np.concatenate(deposits), 0.2), 3),
    }


# (lowest, highest) of each argument, shown by `manage.py generate_bank --help`: the seed forms the
# CIF S{seed:03d}{n:08d}; ten million customers is ten times the scale the pages are measured at
# (a larger bank needs more disk than a demo should take); branch codes are G01…G99, three staff
# each; a mean above 1,000 transactions a customer is no bank's, and only fills the disk; 200
# contacts a customer (besides the last) is a weekly visitor over the six years of history.
LIMITS = {
    "customers": (1, 10_000_000),
    "transactions_per_customer": (0, 1_000),
    "interactions_per_customer": (0, 200),
    "seed": (0, 999),
    "branches": (1, 99),
}
_SEGMENT_TRANSACTIONS = 2_500_000


def bank_arguments_check(**arguments: int) -> None:
    """Raises ValueError naming the first argument outside LIMITS (or not a whole number)."""
    for name, value in arguments.items():
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}.")


_TABLES = (Household, Customer, Account, AccountHolder, SourceRecord, RMAssignment, Transaction)


def _branch_rows(*, count: int) -> list[tuple[str, str, str]]:
    """(code, name, region) of the generated bank's branches G01…, named after their cities."""
    rows = []
    for k in range(1, count + 1):
        city, _, region, _, _ = _BRANCH_CITIES[(k - 1) % len(_BRANCH_CITIES)]
        lap = (k - 1) // len(_BRANCH_CITIES)
        rows.append((f"G{k:02d}", f"{city} Branch" + (f" {lap + 1}" if lap else ""), region))
    return rows


def _segments_missing(*, seed: int, customers: int, chunk_size: int) -> list[tuple[int, int]]:
    """Runs of missing customer numbers, cut at multiples of `chunk_size` (so fresh runs align)."""
    present = np.zeros(customers, dtype=bool)
    cifs = Customer.objects.filter(cif__gte=_cif(seed, 0), cif__lte=_cif(seed, customers - 1))
    numbers = [int(c[4:]) for c in cifs.values_list("cif", flat=True).iterator(chunk_size=100_000)
               if len(c) == 12 and c[4:].isdigit()]
    present[np.array(numbers, dtype=np.int64)] = True
    segments = []
    for low in range(0, customers, chunk_size):
        missing = ~present[low: low + chunk_size]
        edges = np.flatnonzero(np.diff(np.concatenate(([0], missing.astype(np.int8), [0]))))
        segments += [(low + int(a), low + int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return segments


def _top_share(values: np.ndarray, top: float) -> float:
    ordered = np.sort(values)[::-1]
    total = ordered.sum()
    return float(ordered[: math.ceil(top * len(ordered))].sum() / total) if total else 0.0

