"""A synthetic but realistic bank for demos and load tests, written with PostgreSQL COPY.

`bank_generate` makes customers `S{seed:03d}{n:08d}` with holdings, transactions, RMs and
households. Every draw comes from numpy Generators seeded by (seed, segment) and from Faker pools
seeded by `seed`, so the same arguments on an empty database give the same bank, and a re-run finds
the seed's customers already there and writes nothing. Rows are built as numpy columns and streamed
with COPY in segments of `chunk_size` customers, one transaction each: memory stays flat at a
million customers and fifty million transactions, and a killed run resumes where it stopped.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from faker import Faker
from numpy.dtypes import StringDType
from stdnum import numdb
from stdnum.cn import uscc

from crm_bank.org.models import Branch
from crm_bank.org.services import demo_staff_ensure
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    Household,
    Product,
    RMAssignment,
    SourceRecord,
    Transaction,
)
from customers.naming import customer_name_keys

_S = StringDType()
_NULL = np.iinfo(np.int64).min  # "no value" in integer columns: ids, day numbers, cents
_DAY = 86_400
_CHINA_UTC = 8 * 3600  # the demo bank lives in UTC+8; timestamps are stored in UTC
_HISTORY_YEARS = 6  # how far back transactions go

# (English city, Chinese city, region, province code of resident IDs, postal-code prefix)
_BRANCH_CITIES = (
    ("Beijing", "北京市", "North China", 11, 100), ("Shanghai", "上海市", "East China", 31, 200),
    ("Guangzhou", "广州市", "South China", 44, 510), ("Shenzhen", "深圳市", "South China", 44, 518),
    ("Chengdu", "成都市", "Southwest China", 51, 610), ("Hangzhou", "杭州市", "East China", 33, 310),
    ("Wuhan", "武汉市", "Central China", 42, 430), ("Xi'an", "西安市", "Northwest China", 61, 710),
    ("Nanjing", "南京市", "East China", 32, 210), ("Tianjin", "天津市", "North China", 12, 300),
    ("Chongqing", "重庆市", "Southwest China", 50, 400), ("Suzhou", "苏州市", "East China", 32, 215),
    ("Changsha", "长沙市", "Central China", 43, 410), ("Qingdao", "青岛市", "East China", 37, 266),
    ("Zhengzhou", "郑州市", "Central China", 41, 450), ("Shenyang", "沈阳市", "Northeast China", 21, 110),
    ("Xiamen", "厦门市", "East China", 35, 361), ("Kunming", "昆明市", "Southwest China", 53, 650),
    ("Harbin", "哈尔滨市", "Northeast China", 23, 150), ("Dalian", "大连市", "Northeast China", 21, 116),
)
_PRODUCTS = (
    ("CNY-CURRENT", "Current account", Product.Category.CURRENT),
    ("CNY-SAVINGS", "Savings deposit", Product.Category.DEPOSIT),
    ("CNY-TERM", "Term deposit", Product.Category.DEPOSIT),
    ("CNY-CARD", "Credit card", Product.Category.CARD),
    ("CNY-CONSUMER-LOAN", "Consumer loan", Product.Category.LOAN),
    ("CNY-MORTGAGE", "Mortgage", Product.Category.MORTGAGE),
    ("CNY-WEALTH-FUND", "Wealth management fund", Product.Category.WEALTH),
    ("CNY-INSURANCE", "Life insurance", Product.Category.INSURANCE),
)
CURRENT, SAVINGS, TERM, CARD, LOAN, MORTGAGE, WEALTH, INSURANCE = range(len(_PRODUCTS))
_DEPOSIT_PRODUCTS = (CURRENT, SAVINGS, TERM)

_STAGES = np.array([s.value for s in Customer.Lifecycle], dtype=_S)
PROSPECT, ACTIVE, LOYAL, DORMANT, CLOSED = range(len(_STAGES))
_STAGE_P = (0.03, 0.58, 0.22, 0.12, 0.05)
# Transactions per year relative to an ordinary customer, by lifecycle stage.
_ACTIVITY = np.array([0.0, 1.0, 1.5, 0.3, 0.5])

_T = Transaction
# (direction, kind, channel, share of transactions, median amount in CNY, purposes)
_TXN_KINDS = (
    (_T.Direction.DEBIT, _T.Kind.CARD_PAYMENT, _T.Channel.CARD, 0.28, 120,
     ("supermarket", "restaurant", "online shopping", "fuel", "pharmacy", "travel")),
    (_T.Direction.DEBIT, _T.Kind.CARD_PAYMENT, _T.Channel.MOBILE, 0.12, 60,
     ("online shopping", "restaurant", "taxi", "utilities")),
    (_T.Direction.DEBIT, _T.Kind.CARD_WITHDRAWAL, _T.Channel.ATM, 0.06, 800, ("",)),
    (_T.Direction.CREDIT, _T.Kind.CASH_DEPOSIT, _T.Channel.COUNTER, 0.03, 3000, ("",)),
    (_T.Direction.CREDIT, _T.Kind.CASH_DEPOSIT, _T.Channel.ATM, 0.02, 2000, ("",)),
    (_T.Direction.DEBIT, _T.Kind.CASH_WITHDRAWAL, _T.Channel.COUNTER, 0.02, 2500, ("",)),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, _T.Channel.SYSTEM, 0.08, 9000, ("salary", "pension", "dividend")),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, _T.Channel.MOBILE, 0.05, 1500, ("family support", "refund")),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, _T.Channel.WEB, 0.03, 6000, ("invoice", "rent received")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, _T.Channel.MOBILE, 0.10, 1200, ("family support", "purchase")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, _T.Channel.WEB, 0.05, 2500, ("invoice", "tuition", "purchase")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, _T.Channel.COUNTER, 0.01, 8000, ("purchase", "tax")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, _T.Channel.STANDING_ORDER, 0.06, 2200,
     ("rent", "utilities", "insurance premium", "school fees")),
    (_T.Direction.CREDIT, _T.Kind.INTEREST, _T.Channel.SYSTEM, 0.03, 25, ("interest",)),
    (_T.Direction.DEBIT, _T.Kind.FEE, _T.Channel.SYSTEM, 0.02, 12, ("account fee", "card annual fee", "SMS alerts")),
    (_T.Direction.DEBIT, _T.Kind.LOAN_REPAYMENT, _T.Channel.STANDING_ORDER, 0.03, 3200, ("loan instalment",)),
    (_T.Direction.CREDIT, _T.Kind.OTHER, _T.Channel.COUNTER, 0.005, 500, ("",)),
    (_T.Direction.DEBIT, _T.Kind.OTHER, _T.Channel.SYSTEM, 0.005, 200, ("",)),
)
_TXN_P = np.array([k[3] for k in _TXN_KINDS]) / sum(k[3] for k in _TXN_KINDS)
_TXN_LOG_MEDIAN = np.log([k[4] for k in _TXN_KINDS])
_TXN_CARD_POS, _TXN_STANDING_ORDER_OUT = 0, 12
_TXN_INTEREST, _TXN_LOAN_PAY = 13, 15
_TXN_TRANSFER = np.array([k[1] in (_T.Kind.TRANSFER_IN, _T.Kind.TRANSFER_OUT) for k in _TXN_KINDS])
# Booked by the bank's batch at night rather than by the customer during the day.
_TXN_NIGHT = np.array([k[2] in (_T.Channel.SYSTEM, _T.Channel.STANDING_ORDER) for k in _TXN_KINDS])
# One pre-joined "direction, kind, channel, purpose, balance_after" text per (kind, purpose): four
# string joins fewer per row on fifty million rows. balance_after stays NULL (never guessed).
_TXN_VARIANT_TEXT = np.array(
    [f"{k[0]}\t{k[1]}\t{k[2]}\t{p}\t\\N" for k in _TXN_KINDS for p in k[5]], dtype=_S
)
_TXN_VARIANT_START = np.cumsum([0] + [len(k[5]) for k in _TXN_KINDS[:-1]])
_TXN_VARIANT_COUNT = np.array([len(k[5]) for k in _TXN_KINDS])
_BANK_BICS = np.array(
    ["ICBKCNBJXXX", "ABOCCNBJXXX", "BKCHCNBJXXX", "PCBCCNBJXXX", "COMMCNSHXXX", "CMBCCNBSXXX",
     "SPDBCNSHXXX", "CIBKCNBJXXX", "MSBCCNBJXXX", "EVERCNBJXXX"], dtype=_S,
)
_MOBILE_PREFIXES = np.array([*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
                             *range(170, 179), *range(180, 190), 198, 199])
_EMAIL_DOMAINS_ZH = np.array(["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com"], dtype=object)
_EMAIL_DOMAINS_EN = np.array(["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"], dtype=object)
_INTERESTS = ("travel", "wealth_management", "insurance", "real_estate", "education", "retirement",
              "cars", "sports", "technology", "overseas_study", "health", "family")
_INDUSTRIES = ("Trading", "Logistics", "Technology", "Manufacturing", "Consulting", "Foods", "Textiles",
               "Electronics", "Construction", "Pharmaceuticals", "Media", "Machinery")

_RIC_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)
_RIC_POWERS = 10 ** np.arange(16, -1, -1, dtype=np.int64)
_RIC_CHECK_CHARS = np.array(list("0123456789X"), dtype=_S)
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, inside a USCC


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
) -> dict:
    """Writes a demo bank of `customers` customers and returns what it wrote.

    1. Reference data: branches G01…Gnn, the CNY product catalogue and, given a password, the demo
       staff (without one, customers get no RM).
    2. Which of the seed's customers are missing: a re-run writes only those (usually none).
    3. Per segment of at most `chunk_size` missing customers, in its own transaction: draw the
       segment in numpy, reserve ids from the sequences, COPY every table.
    4. ANALYZE, so the planner sees the new sizes at once.
    Dates are relative to `as_of` (today): the same seed on another day shifts every date.
    """
    if not 0 <= seed <= 999 or not 0 < customers < 10**8:
        raise ValueError("seed must be 0…999 and customers 1…99,999,999 (they form the CIF).")
    started = time.perf_counter()
    as_of = as_of or timezone.localdate()
    branch_rows = _branches_ensure(count=branches)
    products = _products_ensure()
    rms = demo_staff_ensure(branches=branch_rows, password=password) if password else None
    segments = _segments_missing(seed=seed, customers=customers, chunk_size=chunk_size)
    figures: Counter[str] = Counter()
    if not segments:
        log(f"All {customers:,} customers of seed {seed} are already present: nothing written.")
        return {"customers": 0, "seconds": round(time.perf_counter() - started, 1), "already_present": customers}
    missing = sum(stop - start for start, stop in segments)
    log(f"Writing {missing:,} customers of seed {seed} ({customers - missing:,} already present).")
    bank = _Bank(
        seed=seed,
        as_of_day=int(np.datetime64(as_of, "D").astype(np.int64)),
        transactions_per_customer=transactions_per_customer,
        branch_ids=np.array([b.pk for b in branch_rows]),
        rm_ids=None if rms is None else np.array([rms[b.pk] for b in branch_rows]),
        product_ids=np.array([products[code].pk for code, _, _ in _PRODUCTS]),
    )
    pools = _pools_build(seed=seed)
    deposits = []
    for start, stop in segments:
        t0 = time.perf_counter()
        segment = _segment_build(bank=bank, pools=pools, start=start, stop=stop)
        with transaction.atomic(), connection.cursor() as cursor:
            written = _segment_write(cursor=cursor, segment=segment)
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


_TABLES = (Household, Customer, Account, AccountHolder, SourceRecord, RMAssignment, Transaction)


@dataclass(frozen=True)
class _Bank:
    seed: int
    as_of_day: int  # days since 1970-01-01
    transactions_per_customer: float
    branch_ids: np.ndarray
    rm_ids: np.ndarray | None  # (branch, 2) user ids
    product_ids: np.ndarray  # by the _PRODUCTS position


@dataclass(frozen=True)
class _Pools:
    """Faker's draws, made once per run and sampled with numpy (Faker per row is too slow)."""

    zh_last: np.ndarray
    zh_first: tuple[np.ndarray, np.ndarray]  # (female, male)
    en_last: np.ndarray
    en_first: tuple[np.ndarray, np.ndarray]
    zh_company_words: np.ndarray
    zh_company_suffixes: np.ndarray
    streets: np.ndarray
    jobs_zh: np.ndarray
    jobs_en: np.ndarray
    area_codes: np.ndarray  # county codes valid in every year, sorted
    area_bounds: dict[int, tuple[int, int]]  # province → slice of area_codes


@dataclass
class _Segment:
    start: int
    customers: dict[str, np.ndarray]  # household_id holds a local household index
    households: dict[str, np.ndarray]
    accounts: dict[str, np.ndarray]  # owner / linked_account_id hold local indexes
    holders: dict[str, np.ndarray]  # account_id / customer_id hold local indexes
    transactions: dict[str, np.ndarray]  # account_id holds a local index
    deposit_cents: np.ndarray  # per customer, for the concentration figure


def _cif(seed: int, index: int) -> str:
    return f"S{seed:03d}{index:08d}"


def _branches_ensure(*, count: int) -> list[Branch]:
    rows = []
    for k in range(1, count + 1):
        city, _, region, _, _ = _BRANCH_CITIES[(k - 1) % len(_BRANCH_CITIES)]
        lap = (k - 1) // len(_BRANCH_CITIES)
        name = f"{city} Branch" + (f" {lap + 1}" if lap else "")
        branch, _ = Branch.objects.get_or_create(code=f"G{k:02d}", defaults={"name": name, "region": region})
        rows.append(branch)
    return rows


def _products_ensure() -> dict[str, Product]:
    for code, name, category in _PRODUCTS:
        Product.objects.get_or_create(code=code, defaults={"name": name, "category": category, "currency": "CNY"})
    return Product.objects.in_bulk([code for code, _, _ in _PRODUCTS], field_name="code")


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


def _pools_build(*, seed: int) -> _Pools:
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    rng = np.random.default_rng([seed, 0xFA])

    def draw(method: Callable[[], str], count: int) -> np.ndarray:
        return np.array([_copy_escape(method()) for _ in range(count)], dtype=object)

    def zh_given(method: Callable[[], str]) -> np.ndarray:
        # Faker knows ~60 given names per sex; two characters from them give a realistic spread.
        names = draw(method, 1000)
        chars = np.array(sorted(set("".join(names))), dtype=object)
        return np.concatenate([names, rng.choice(chars, 1000) + rng.choice(chars, 1000)])

    codes = sorted(
        int(province + county)
        for _, province, _, _, children in numdb.get("cn/loc").prefixes
        for _, county, high, props, _ in children
        # A county code valid in every year keeps any birth year valid (stdnum checks both).
        if county == high and not county.endswith("00") and not props.get("county", "[").startswith("[")
    )
    area_codes = np.array(codes, dtype=np.int64)
    provinces = area_codes // 10_000
    bounds = {int(p): (int(np.searchsorted(provinces, p)), int(np.searchsorted(provinces, p, "right")))
              for p in np.unique(provinces)}
    return _Pools(
        zh_last=draw(zh.last_name, 5000),
        zh_first=(zh_given(zh.first_name_female), zh_given(zh.first_name_male)),
        en_last=draw(en.last_name, 3000),
        en_first=(draw(en.first_name_female, 2000), draw(en.first_name_male, 2000)),
        zh_company_words=draw(zh.company_prefix, 400),
        zh_company_suffixes=draw(zh.company_suffix, 100),
        streets=draw(zh.street_address, 5000),
        jobs_zh=np.array([j[:60] for j in draw(zh.job, 500)], dtype=object),
        jobs_en=np.array([j[:60] for j in draw(en.job, 500)], dtype=object),
        area_codes=area_codes,
        area_bounds=bounds,
    )


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _pick(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), count)]

