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

from crm_bank.bulk import allocate_ids
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
    seed: int
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


# Drawing a segment: numpy and Faker pools only, no database, so a test can compare two draws.


def _segment_build(*, bank: _Bank, pools: _Pools, start: int, stop: int) -> _Segment:
    """Draws customers start…stop-1 and everything they hold."""
    rng = np.random.default_rng([bank.seed, start, stop])
    people = _people_draw(rng=rng, bank=bank, count=stop - start)
    households = _households_draw(rng=rng, people=people)
    customers = _customers_draw(rng=rng, bank=bank, pools=pools, people=people, start=start)
    households["name"] = _household_names(households=households, customers=customers)
    accounts = _accounts_draw(rng=rng, bank=bank, people=people, start=start)
    deposit = np.isin(accounts["_product"], _DEPOSIT_PRODUCTS) & (accounts["balance"] != _NULL)
    return _Segment(
        seed=bank.seed,
        start=start,
        customers=customers,
        households=households,
        accounts=accounts,
        holders=_holders_draw(accounts=accounts, households=households),
        transactions=_transactions_draw(rng=rng, bank=bank, people=people, accounts=accounts),
        deposit_cents=np.bincount(accounts["_owner"], np.where(deposit, accounts["balance"], 0), len(people["stage"])),
    )


def _people_draw(*, rng: np.random.Generator, bank: _Bank, count: int) -> dict[str, np.ndarray]:
    """Who the customers are: kind, branch, stage, age, tenure, deposit wealth (CNY)."""
    n, as_of = count, bank.as_of_day
    corporate = rng.random(n) < 0.05
    size = 1 / np.arange(1, len(bank.branch_ids) + 1) ** 0.6  # a few big city branches, a long tail
    branch = rng.choice(len(size), n, p=size / size.sum())
    stage = rng.choice(len(_STAGES), n, p=_STAGE_P)
    age = np.clip(rng.normal(44, 15, n), 18, 92)
    tenure = rng.exponential(6.0, n) + np.where(stage == LOYAL, 5, 0)
    tenure = np.clip(np.minimum(tenure, np.where(corporate, 30, age - 17)), 0.1, 30)  # adults open accounts
    since = as_of - (tenure * 365.25).astype(np.int64)
    inactive_for = np.select(
        [stage == DORMANT, stage == CLOSED], [rng.integers(400, 1500, n), rng.integers(30, 1800, n)]
    )
    # Lognormal wealth (σ 1.4 people, 1.6 companies), with the prospects' and closed customers' zeros,
    # puts ~80 % of deposits with the richest 20 % of customers (Pareto's rule, as banks observe).
    wealth = np.where(corporate, rng.lognormal(np.log(150_000), 1.6, n), rng.lognormal(np.log(20_000), 1.4, n))
    return {
        "corporate": corporate,
        "zh": rng.random(n) < 0.6,
        "male": rng.random(n) < 0.5,
        "married": rng.random(n) < 0.55,
        "branch": branch,
        "stage": stage,
        "age": age,
        "birth_day": np.where(corporate, _NULL, as_of - (age * 365.25).astype(np.int64)),
        "since_day": np.where(stage == PROSPECT, _NULL, since),
        "until_day": np.minimum(as_of, np.maximum(since + 30, as_of - inactive_for)),
        "wealth": wealth * np.select([stage == DORMANT, np.isin(stage, (PROSPECT, CLOSED))], [0.3, 0.0], 1.0),
        "surname_from": np.arange(n),
        "home_from": np.arange(n),
    }


def _households_draw(*, rng: np.random.Generator, people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Families of 2–4 neighbouring individuals (one address, one branch) and corporate groups.

    Roles follow age: the oldest is the head, a partner within 12 years the spouse, members at
    least 16 years younger are children. Chinese spouses keep their surname, children take the
    head's; English-named members all take it.
    """
    corporate, age, n = people["corporate"], people["age"], len(people["age"])
    household, role = np.full(n, _NULL), np.full(n, "", dtype=object)
    kinds, heads, spouses = [], [], []
    free_from = 0
    for first in np.flatnonzero(rng.random(n) < 0.09):
        members = []
        for j in range(first, min(first + int(rng.integers(2, 5)), n)):
            if corporate[j] or j < free_from:
                break
            members.append(j)
        if len(members) < 2:
            continue
        free_from = members[-1] + 1
        head, *others = sorted(members, key=lambda j: -age[j])
        spouse = others[0] if age[head] - age[others[0]] <= 12 else _NULL
        household[members], role[head] = len(kinds), Customer.HouseholdRole.HEAD
        for j in others:
            young = age[head] - age[j] >= 16
            role[j] = (Customer.HouseholdRole.SPOUSE if j == spouse
                       else Customer.HouseholdRole.CHILD if young else Customer.HouseholdRole.OTHER)
            for key in ("branch", "zh"):
                people[key][j] = people[key][head]
            people["home_from"][j] = head
            if not (people["zh"][head] and j == spouse):
                people["surname_from"][j] = head
        if spouse != _NULL:
            people["male"][spouse] = not people["male"][head]
            people["married"][[head, spouse]] = True
        kinds.append(Household.Kind.FAMILY)
        heads.append(head)
        spouses.append(spouse)
    companies = rng.permutation(np.flatnonzero(corporate))
    grouped, position = companies[: int(len(companies) * 0.3)], 0
    while position + 2 <= len(grouped):
        group = grouped[position: position + int(rng.integers(2, 5))]
        position += len(group)
        household[group], role[group] = len(kinds), Customer.HouseholdRole.SUBSIDIARY
        role[group[0]] = Customer.HouseholdRole.PARENT_COMPANY
        kinds.append(Household.Kind.CORPORATE_GROUP)
        heads.append(group[0])
        spouses.append(_NULL)
    people["household"], people["household_role"] = household, role
    return {"kind": np.array(kinds, dtype=object), "_head": np.array(heads, dtype=np.int64),
            "_spouse": np.array(spouses, dtype=np.int64)}


def _household_names(*, households: dict[str, np.ndarray], customers: dict[str, np.ndarray]) -> np.ndarray:
    names = []
    for kind, head in zip(households["kind"], households["_head"], strict=True):
        last, legal = customers["last_name"][head], customers["legal_name"][head]
        if kind == Household.Kind.FAMILY:
            names.append(f"{last} family" if last.isascii() else f"{last}家")
        elif "有限公司" in legal:
            names.append(legal.removesuffix("有限公司") + "集团")
        else:
            names.append(legal.split(" (")[0] + " Group")
    return np.array(names, dtype=object)


def _customers_draw(
    *, rng: np.random.Generator, bank: _Bank, pools: _Pools, people: dict[str, np.ndarray], start: int
) -> dict[str, np.ndarray]:
    """The Customer columns, by database column name."""
    n, as_of = len(people["stage"]), bank.as_of_day
    corporate, zh, male, stage = people["corporate"], people["zh"], people["male"], people["stage"]
    city = people["branch"] % len(_BRANCH_CITIES)
    city_en, city_zh, _, province, postal = (np.array(col, dtype=object) for col in zip(*_BRANCH_CITIES, strict=True))
    female_zh, male_zh = (_pick(rng, pool, n) for pool in pools.zh_first)
    female_en, male_en = (_pick(rng, pool, n) for pool in pools.en_first)
    first = np.where(zh, np.where(male, male_zh, female_zh), np.where(male, male_en, female_en))
    last = np.where(zh, _pick(rng, pools.zh_last, n), _pick(rng, pools.en_last, n))[people["surname_from"]]
    company = np.where(
        zh,
        city_zh[city] + _pick(rng, pools.zh_company_words, n) + _pick(rng, pools.zh_company_words, n)
        + _pick(rng, pools.zh_company_suffixes, n),
        _pick(rng, pools.en_last, n) + " " + _pick(rng, np.array(_INDUSTRIES, dtype=object), n)
        + " (" + city_en[city] + ") Co., Ltd.",
    )
    legal = np.where(corporate, company, np.where(zh, last + first, first + " " + last))
    first, last = np.where(corporate, "", first), np.where(corporate, "", last)
    kind = np.where(corporate, Customer.Kind.CORPORATE.value, Customer.Kind.INDIVIDUAL.value).astype(object)
    keys = [customer_name_keys(kind=k, first_name=f, last_name=s, legal_name=g)
            for k, f, s, g in zip(kind, first, last, legal, strict=True)]
    body = _national_id_bodies(rng=rng, pools=pools, people=people, province=province[city].astype(np.int64))
    body, national_id = _national_ids_unique(body=body, corporate=corporate)
    home = people["home_from"]
    since, until = people["since_day"], people["until_day"]
    created = np.where(stage == PROSPECT, as_of - rng.integers(1, 120, n), since) * _DAY + rng.integers(3600, 36_000, n)
    columns = {
        "cif": np.array([_cif(bank.seed, start + i) for i in range(n)], dtype=object),
        "kind": kind,
        "first_name": first,
        "last_name": last,
        "legal_name": legal,
        "name_key": np.array([k[0] for k in keys], dtype=object),
        "name_key_reversed": np.array([k[1] for k in keys], dtype=object),
        "national_id_type": np.where(corporate, Customer.IdType.COMPANY_REG.value, Customer.IdType.CN_RIC.value),
        "national_id": national_id,
        "_id_body": body,
        "birth_date": people["birth_day"],
        "gender": np.where(corporate, "", np.where(male, "M", "F")),
        "occupation": np.where(corporate | (rng.random(n) < 0.08), "",
                               np.where(zh, _pick(rng, pools.jobs_zh, n), _pick(rng, pools.jobs_en, n))),
        "marital_status": np.where(corporate, "", np.where(
            people["married"], "married", rng.choice(["single", "divorced", "widowed"], n, p=[0.8, 0.14, 0.06]))),
        "education": np.where(corporate, "", rng.choice(
            ["primary", "secondary", "tertiary", "postgraduate"], n, p=[0.1, 0.4, 0.4, 0.1])),
        **_contact_draw(rng=rng, pools=pools, keys=keys, corporate=corporate, zh=zh, city=city, home=home),
        "home_branch_id": bank.branch_ids[people["branch"]],
        "primary_rm_id": (np.full(n, _NULL) if bank.rm_ids is None
                          else bank.rm_ids[people["branch"], rng.integers(0, 2, n)]),
        "lifecycle_stage": _STAGES[stage],
        "customer_since": since,
        **_preferences_draw(rng=rng, people=people, as_of=as_of, created=created),
        "kyc_review_due": np.where(np.isin(stage, (PROSPECT, CLOSED)), _NULL, np.where(
            rng.random(n) < 0.12, as_of - rng.integers(1, 365, n), as_of + rng.integers(0, 3 * 365, n))),
        "household_id": people["household"],
        "household_role": people["household_role"],
        "last_contact_at": np.where((stage == PROSPECT) | (rng.random(n) < 0.3), _NULL, (
            np.maximum(since, until - rng.exponential(60, n).astype(np.int64)) * _DAY + rng.integers(0, _DAY, n))),
        "attributes": "{}",
        "created_at": created,
        "updated_at": created + (rng.random(n) * (as_of * _DAY - created)).astype(np.int64),
    }
    # The last contact came through the customer's preferred channel, else at the branch.
    contacted, preferred = columns["last_contact_at"] != _NULL, columns["preferred_channel"]
    columns["last_contact_channel"] = np.where(contacted, np.where(preferred == "", "branch", preferred), "")
    return columns


def _contact_draw(
    *, rng: np.random.Generator, pools: _Pools, keys: list[tuple[str, str]], corporate: np.ndarray,
    zh: np.ndarray, city: np.ndarray, home: np.ndarray,
) -> dict[str, np.ndarray]:
    """Phone (E.164), e-mail from the pinyin name, and an address shared within a family."""
    n = len(corporate)
    number = rng.integers(0, 10**8, n).astype(_S)
    prefix = np.strings.add("+86", _pick(rng, _MOBILE_PREFIXES, n).astype(_S))
    phone = np.strings.add(prefix, np.strings.zfill(number, 8))
    domain = np.where(zh, _pick(rng, _EMAIL_DOMAINS_ZH, n), _pick(rng, _EMAIL_DOMAINS_EN, n))
    tail = rng.integers(0, 100, n)
    email = [
        "" if skip else f"finance@{key.replace(' ', '')[:20]}.com.cn" if corp else f"{key.replace(' ', '.')}{t:02d}@{d}"
        for (key, _), corp, d, t, skip in zip(keys, corporate, domain, tail, rng.random(n) < 0.25, strict=True)
    ]
    street = _pick(rng, pools.streets, n) + rng.integers(1, 400, n).astype(str).astype(object) + "号"
    city_zh = np.array([c[1] for c in _BRANCH_CITIES], dtype=object)
    city = np.where(rng.random(n) < 0.9, city, rng.integers(0, len(_BRANCH_CITIES), n))
    postal = np.array([c[4] for c in _BRANCH_CITIES])[city] * 1000 + rng.integers(0, 1000, n)
    return {
        "phone": np.where(rng.random(n) < 0.03, "", phone),
        "email": np.array(email, dtype=object),
        "address_line": street[home],
        "city": city_zh[city][home],
        "postal_code": np.strings.zfill(postal.astype(_S), 6)[home],
        "country": "CN",
    }


def _preferences_draw(
    *, rng: np.random.Generator, people: dict[str, np.ndarray], as_of: int, created: np.ndarray
) -> dict[str, np.ndarray]:
    """Channel, language, interests and marketing consent (given or withdrawn, with when and how)."""
    n, stage, zh = len(created), people["stage"], people["zh"]
    channels = [c.value for c in Customer.Channel]
    bits = (rng.random((n, len(_INTERESTS))) < 0.12) @ (1 << np.arange(len(_INTERESTS)))
    interest_sets = np.array(["{" + ",".join(t for b, t in enumerate(_INTERESTS) if mask >> b & 1) + "}"
                              for mask in range(1 << len(_INTERESTS))], dtype=object)
    do_not_contact = rng.random(n) < 0.04
    consent = ~do_not_contact & (stage != CLOSED) & (rng.random(n) < 0.5)
    recorded = consent | ((stage != PROSPECT) & (rng.random(n) < 0.1))  # withdrawn consent keeps its date
    consent_at = created + (rng.random(n) * (as_of * _DAY - created)).astype(np.int64)
    return {
        "preferred_channel": np.where(rng.random(n) < 0.1, "", rng.choice(
            channels, n, p=[0.2, 0.1, 0.08, 0.1, 0.15, 0.35, 0.02])),
        "preferred_contact_time": rng.choice([t.value for t in Customer.ContactTime], n, p=[0.5, 0.15, 0.15, 0.2]),
        "preferred_language": np.where(zh, rng.choice(["zh-hans", "en", ""], n, p=[0.93, 0.03, 0.04]),
                                       rng.choice(["en", "zh-hans", ""], n, p=[0.7, 0.25, 0.05])),
        "interests": interest_sets[bits],
        "marketing_consent": consent,
        "marketing_consent_at": np.where(recorded, consent_at, _NULL),
        "marketing_consent_source": np.where(recorded, rng.choice([s.value for s in Customer.ConsentSource], n), ""),
        "do_not_contact": do_not_contact,
    }


def _national_id_bodies(
    *, rng: np.random.Generator, pools: _Pools, people: dict[str, np.ndarray], province: np.ndarray
) -> np.ndarray:
    """Resident IDs without the check digit, or a company's area code and organisation number.

    A resident ID is area (6) + birth date (8) + sequence (3, odd for men): most customers were
    born in their branch's province.
    """
    n = len(province)
    low, high = (np.array([pools.area_bounds.get(int(p), (0, 0))[k] for p in province]) for k in (0, 1))
    local = (rng.random(n) < 0.7) & (high > low)
    area = pools.area_codes[np.where(
        local, low + (rng.random(n) * (high - low)).astype(np.int64), rng.integers(0, len(pools.area_codes), n))]
    born = np.where(people["corporate"], 0, people["birth_day"]).astype("datetime64[D]")
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    month = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    sequence = rng.integers(0, 500, n) * 2 + people["male"]
    resident = area * 10**11 + (year * 10_000 + month * 100 + day) * 1000 + sequence
    return np.where(people["corporate"], area * 10**8 + rng.integers(0, 10**8, n), resident)


def _national_ids_unique(
    *, body: np.ndarray, corporate: np.ndarray, taken: frozenset[str] | set[str] = frozenset()
) -> tuple[np.ndarray, np.ndarray]:
    """Bumps the sequence number of IDs that repeat within the segment or are `taken`."""
    while True:
        text = _national_id_text(body=body, corporate=corporate)
        _, first = np.unique(text, return_index=True)
        clash = np.ones(len(text), dtype=bool)
        clash[first] = False
        if taken:
            clash |= np.array([t in taken for t in text.tolist()], dtype=bool)
        if not clash.any():
            return body, text.astype(object)
        bumped = np.where(corporate, body - body % 10**8 + (body % 10**8 + 1) % 10**8,
                          body - body % 1000 + (body % 1000 + 2) % 1000)  # keeps the sex digit's parity
        body = np.where(clash, bumped, body)


def _national_id_text(*, body: np.ndarray, corporate: np.ndarray) -> np.ndarray:
    text = np.full(len(body), "", dtype=_S)
    resident = body[~corporate]
    check = (12 - ((resident[:, None] // _RIC_POWERS % 10) @ _RIC_WEIGHTS) % 11) % 11  # ISO 7064 MOD 11-2
    text[~corporate] = np.strings.add(resident.astype(_S), _RIC_CHECK_CHARS[check])
    text[corporate] = [_uscc(int(b)) for b in body[corporate]]
    return text


def _uscc(body: int) -> str:
    """A unified social credit code: 91 (enterprise) + area + organisation code + check."""
    area, organisation = divmod(body, 10**8)
    digits = f"{organisation:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _ORG_CODE_WEIGHTS, strict=True)) % 11
    code = f"91{area:06d}{digits}{'X' if check == 10 else check % 11}"
    return code + uscc.calc_check_digit(code)


def _accounts_draw(
    *, rng: np.random.Generator, bank: _Bank, people: dict[str, np.ndarray], start: int
) -> dict[str, np.ndarray]:
    """Holdings: every customer but a prospect has a current account first, then what fits them.

    Deposits split the customer's wealth; loans carry principal, term, annuity instalment and
    the balance still owed; a closed customer's holdings are all closed.
    """
    corporate, stage, n, as_of = people["corporate"], people["stage"], len(people["stage"]), bank.as_of_day
    holds = stage != PROSPECT
    person, u = holds & ~corporate, rng.random((n, len(_PRODUCTS)))
    wealth_rank = np.argsort(np.argsort(people["wealth"])) / max(n - 1, 1)
    counts = np.zeros((n, len(_PRODUCTS)), dtype=np.int64)
    counts[:, CURRENT] = holds * (1 + (u[:, CURRENT] < np.where(corporate, 0.5, 0.12)))
    counts[:, SAVINGS] = person & (u[:, SAVINGS] < 0.65)
    counts[:, TERM] = (holds & (u[:, TERM] < np.where(corporate, 0.4, 0.3))) * np.minimum(rng.geometric(0.6, n), 4)
    counts[:, CARD] = holds & (u[:, CARD] < np.where(corporate, 0.1, 0.45))
    counts[:, LOAN] = holds & (u[:, LOAN] < np.where(corporate, 0.25, 0.1))
    counts[:, MORTGAGE] = person & (u[:, MORTGAGE] < 0.08)
    counts[:, WEALTH] = holds & (u[:, WEALTH] < 0.03 + 0.3 * wealth_rank)  # the wealthier buy funds
    counts[:, INSURANCE] = person & (u[:, INSURANCE] < 0.15)
    owner = np.repeat(np.repeat(np.arange(n), len(_PRODUCTS)), counts.ravel())
    product = np.repeat(np.tile(np.arange(len(_PRODUCTS)), n), counts.ravel())
    m = len(owner)
    first = np.concatenate(([0], np.cumsum(counts.sum(axis=1))[:-1]))  # an owner's first holding: a current account
    ordinal = np.arange(m) - first[owner]
    since, until = people["since_day"][owner], people["until_day"][owner]
    opened = np.where(ordinal == 0, since, since + (rng.random(m) * (until - since)).astype(np.int64))
    closed_on = np.select(
        [stage[owner] == CLOSED, (ordinal > 0) & (rng.random(m) < 0.04)],
        [until, opened + (rng.random(m) * (as_of - opened)).astype(np.int64)], _NULL,
    )
    loan = np.isin(product, (LOAN, MORTGAGE))
    mortgage = product == MORTGAGE
    principal = np.where(mortgage, rng.lognormal(np.log(1_200_000), 0.6, m), rng.lognormal(np.log(80_000), 0.7, m))
    principal *= np.where(corporate[owner], 20, 1)
    term = np.where(mortgage, rng.choice([120, 240, 300, 360], m), rng.choice([12, 24, 36, 60], m))
    rate = np.where(mortgage, 0.039, 0.05) / 12
    growth = (1 + rate) ** term
    instalment = principal * rate * growth / (growth - 1)
    paid_months = np.minimum(((np.where(closed_on == _NULL, as_of, closed_on) - opened) / 30.44).astype(np.int64), term)
    matured = loan & (paid_months >= term) & (closed_on == _NULL)
    closed_on = np.where(matured, opened + (term * 30.44).astype(np.int64), closed_on)
    closed = closed_on != _NULL
    owed = principal * (growth - (1 + rate) ** paid_months) / (growth - 1)
    deposit = np.isin(product, _DEPOSIT_PRODUCTS) & ~closed
    share = rng.gamma(1.0, 1.0, m) * np.where(product == CURRENT, 0.4, 1.0) * deposit
    share /= np.maximum(np.bincount(owner, share, n), 1e-9)[owner]
    wealth = people["wealth"][owner]
    balance = np.select(
        [deposit, product == WEALTH, product == CARD, loan],
        [wealth * share, wealth * rng.uniform(0.2, 1.5, m),
         np.where(rng.random(m) < 0.4, 0, rng.lognormal(np.log(3000), 1.0, m)), owed],
    )
    balance = np.where(closed, 0, np.rint(balance * 100)).astype(np.int64)
    balance = np.where(product == INSURANCE, _NULL, balance)  # the insurer reports no balance
    repaid = np.where(rng.random(m) < 0.03, Account.Repayment.DEFAULTED, Account.Repayment.PAID)
    running = np.where(rng.random(m) < 0.06, Account.Repayment.ARREARS, Account.Repayment.CURRENT)
    base = 62 * 10**13 + bank.seed * 10**10 + (start + owner) * 100 + ordinal  # 62 + seed + customer + ordinal
    return {
        "number": _with_luhn(base).astype(_S),
        "product_id": bank.product_ids[product],
        "branch_id": bank.branch_ids[people["branch"][owner]],
        "linked_account_id": np.where(np.isin(product, (CARD, LOAN, MORTGAGE)), first[owner], _NULL),
        "opened_on": opened,
        "closed_on": closed_on,
        "status": np.where(closed, Account.Status.CLOSED, np.where(
            stage[owner] == DORMANT, Account.Status.DORMANT, Account.Status.ACTIVE)).astype(object),
        "currency": "CNY",
        "balance": balance,
        "balance_as_of": np.where(balance == _NULL, _NULL, np.where(closed, closed_on, as_of)),
        "statement_frequency": np.select(
            [product == CURRENT, product == CARD],
            [rng.choice(["monthly", "weekly", "per_txn"], m, p=[0.8, 0.05, 0.15]), "monthly"], ""),
        "principal": np.where(loan, np.rint(principal * 100).astype(np.int64), _NULL),
        "term_months": np.where(loan, term, _NULL),
        "instalment": np.where(loan, np.rint(instalment * 100).astype(np.int64), _NULL),
        "repayment_status": np.where(loan, np.where(closed, repaid, running), "").astype(object),
        "source_ref": "",
        "_owner": owner,
        "_product": product,
        "_first": first,
        # Transactions stop when the account closed or the customer went quiet.
        "_end_day": np.where(closed, closed_on, until),
    }


def _with_luhn(base: np.ndarray) -> np.ndarray:
    """Appends the Luhn check digit card and account numbers carry."""
    digits = base[:, None] // 10 ** np.arange(14, -1, -1, dtype=np.int64) % 10
    doubled = digits * np.where(np.arange(15) % 2 == 0, 2, 1)  # every other digit from the right
    total = (doubled - 9 * (doubled > 9)).sum(axis=1)
    return base * 10 + (10 - total % 10) % 10


def _holders_draw(*, accounts: dict[str, np.ndarray], households: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each account's owner, and each spouse as authorised user of the head's current account."""
    owner, opened, first = accounts["_owner"], accounts["opened_on"], accounts["_first"]
    has_account = np.zeros(max(len(first), 1), dtype=bool)
    has_account[owner] = True
    heads, spouses = households["_head"], households["_spouse"]
    pair = (spouses != _NULL) & has_account[heads] & has_account[np.maximum(spouses, 0)]
    shared = first[heads[pair]]
    return {
        "account_id": np.concatenate([np.arange(len(owner)), shared]),
        "customer_id": np.concatenate([owner, spouses[pair]]),
        "role": np.array([AccountHolder.Role.OWNER] * len(owner) + [AccountHolder.Role.AUTHORISED] * len(shared),
                         dtype=object),
        "since": np.concatenate([opened, opened[shared]]),
    }


def _transactions_draw(
    *, rng: np.random.Generator, bank: _Bank, people: dict[str, np.ndarray], accounts: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Transactions with a heavy-tailed count per customer, mean `transactions_per_customer`.

    Counts are Poisson around a lognormal activity (σ 1.2), so a few customers have thousands.
    Card payments go to the credit card when there is one, interest to the savings account,
    everything else to the first current account. Rows are sorted by time, as a core system
    would have appended them.
    """
    n, owner_of, product = len(people["stage"]), accounts["_owner"], accounts["_product"]
    first_of = {p: np.full(n, _NULL) for p in (CARD, SAVINGS, LOAN)}
    for p, first in first_of.items():
        held = np.flatnonzero(product == p)
        owners, at = np.unique(owner_of[held], return_index=True)
        first[owners] = held[at]
    has_current = np.zeros(n, dtype=bool)
    has_current[owner_of[product == CURRENT]] = True
    activity = rng.lognormal(0.0, 1.2, n) * _ACTIVITY[people["stage"]] * np.where(people["corporate"], 3, 1)
    activity *= has_current
    expected = bank.transactions_per_customer * n * activity / max(activity.sum(), 1e-9)
    owner = np.repeat(np.arange(n), rng.poisson(expected))
    m = len(owner)
    kind = rng.choice(len(_TXN_KINDS), m, p=_TXN_P)
    kind = np.where((kind == _TXN_LOAN_PAY) & (first_of[LOAN][owner] == _NULL), _TXN_STANDING_ORDER_OUT, kind)
    account = accounts["_first"][owner]
    on_card = (kind == _TXN_CARD_POS) & (first_of[CARD][owner] != _NULL) & (rng.random(m) < 0.6)
    account = np.where(on_card, first_of[CARD][owner], account)
    on_savings = (kind == _TXN_INTEREST) & (first_of[SAVINGS][owner] != _NULL)
    account = np.where(on_savings, first_of[SAVINGS][owner], account)
    begin = np.maximum(accounts["opened_on"][account], bank.as_of_day - _HISTORY_YEARS * 365)
    end = np.minimum(accounts["_end_day"][account], bank.as_of_day)  # nothing booked today yet
    day = begin + (rng.random(m) * (end - begin)).astype(np.int64)
    local_time = np.where(_TXN_NIGHT[kind], rng.integers(3600, 5 * 3600, m), 8 * 3600 + 14 * 3600 * rng.beta(2, 2, m))
    booked = day * _DAY + local_time.astype(np.int64) - _CHINA_UTC
    spend = np.clip((people["wealth"][owner] / 20_000) ** 0.25, 0.3, 4)  # the richer spend more per payment
    amount = np.rint(rng.lognormal(_TXN_LOG_MEDIAN[kind], 1.0) * spend * 100).astype(np.int64)
    variant = _TXN_VARIANT_START[kind] + (rng.random(m) * _TXN_VARIANT_COUNT[kind]).astype(np.int64)
    # An account closed before the history window (or the day it opened) has nothing to show.
    order = np.flatnonzero(end > begin)
    order = order[np.argsort(booked[order], kind="stable")]
    return {
        "account_id": account[order],
        "booked_at": booked[order],
        "amount": amount[order],
        "_variant": variant[order],
        "_bank": np.where(_TXN_TRANSFER[kind], rng.integers(0, len(_BANK_BICS), m), -1)[order],
        "_counterparty": rng.integers(6_200_000_000_000_000, 6_300_000_000_000_000, m)[order],
    }


# Writing a segment: ids from the sequences, then COPY in foreign-key order.

_DATES = frozenset({"birth_date", "customer_since", "kyc_review_due", "opened_on", "closed_on", "balance_as_of",
                    "since"})
_TIMESTAMPS = frozenset({"marketing_consent_at", "last_contact_at", "created_at", "updated_at", "received_at",
                         "started_at", "booked_at"})
_MONEY = frozenset({"balance", "principal", "instalment", "amount"})


def _segment_write(*, cursor, segment: _Segment) -> dict[str, int]:
    """1. IDs another run already stored move to a free sequence number (rare, one query).
    2. Ids for households, customers and accounts come from their sequences; the other tables
       take their identity default, as nothing points at them.
    3. COPY parents before children (the foreign keys are deferred, but this reads plainly).
    """
    cursor.execute("SET LOCAL synchronous_commit = off")  # a crash loses the segment; a re-run redoes it
    c, a, t = segment.customers, segment.accounts, segment.transactions
    _national_ids_free(cursor=cursor, customers=c)
    household_ids = _ids_for(Household, len(segment.households["kind"]))
    customer_ids = _ids_for(Customer, len(c["cif"]))
    account_ids = _ids_for(Account, len(a["number"]))
    rm = c["primary_rm_id"] != _NULL
    written = {
        "households": _copy_frame(cursor, Household, {**segment.households, "id": household_ids}),
        "customers": _copy_frame(cursor, Customer, {
            **c, "id": customer_ids, "household_id": _local_to_id(household_ids, c["household_id"])}),
        "accounts": _copy_frame(cursor, Account, {
            **a, "id": account_ids, "linked_account_id": _local_to_id(account_ids, a["linked_account_id"])}),
        "account_holders": _copy_frame(cursor, AccountHolder, {
            **segment.holders, "account_id": account_ids[segment.holders["account_id"]],
            "customer_id": customer_ids[segment.holders["customer_id"]]}),
        "source_records": _copy_frame(cursor, SourceRecord, {
            "customer_id": customer_ids, "system": SourceRecord.System.SYNTHETIC.value, "external_id": c["cif"],
            "payload": f'{{"generator": "bank_generate", "seed": {segment.seed}}}',
            "received_at": c["created_at"]}),
        "rm_assignments": _copy_frame(cursor, RMAssignment, {
            "customer_id": customer_ids[rm], "rm_id": c["primary_rm_id"][rm], "started_at": c["created_at"][rm],
            "reason": RMAssignment.Reason.ONBOARDING.value, "note": ""}),
    }
    columns = ["account_id", "booked_at", "amount", "direction", "kind", "channel", "purpose", "balance_after",
               "counterparty_bank", "counterparty_account", "source_ref"]

    def transaction_texts(part: slice) -> list[np.ndarray]:
        bank = t["_bank"][part]
        counterparty = np.where(bank >= 0, np.strings.add(
            np.strings.add(_BANK_BICS[np.maximum(bank, 0)], "\t"), t["_counterparty"][part].astype(_S)), "\t")
        return [account_ids[t["account_id"][part]].astype(_S), _text("booked_at", t["booked_at"][part]),
                _text("amount", t["amount"][part]), _TXN_VARIANT_TEXT[t["_variant"][part]], counterparty,
                np.full(len(bank), "", dtype=_S)]

    written["transactions"] = _copy(cursor, Transaction, columns, len(t["account_id"]), transaction_texts)
    return written


def _national_ids_free(*, cursor, customers: dict[str, np.ndarray]) -> None:
    corporate = customers["kind"] == Customer.Kind.CORPORATE
    taken: set[str] = set()
    while True:
        cursor.execute(
            "SELECT national_id FROM customers_customer WHERE national_id_type = ANY(%s) AND national_id = ANY(%s)",
            [[Customer.IdType.CN_RIC.value, Customer.IdType.COMPANY_REG.value], customers["national_id"].tolist()],
        )
        found = {value for (value,) in cursor.fetchall()}
        if not found:
            return
        taken |= found
        customers["_id_body"], customers["national_id"] = _national_ids_unique(
            body=customers["_id_body"], corporate=corporate, taken=taken)


def _ids_for(model: type, count: int) -> np.ndarray:
    return np.asarray(allocate_ids(model, count), dtype=np.int64)


def _local_to_id(ids: np.ndarray, local: np.ndarray) -> np.ndarray:
    return np.where(local == _NULL, _NULL, ids[np.where(local == _NULL, 0, local)] if len(ids) else _NULL)


def _copy_frame(cursor, model: type, frame: dict[str, np.ndarray | str]) -> int:
    """COPYs the frame's columns (names starting with "_" are the generator's own); a str is a constant."""
    columns = [name for name in frame if not name.startswith("_")]
    count = next((len(v) for v in frame.values() if not isinstance(v, str)), 0)

    def texts(part: slice) -> list[np.ndarray]:
        size = len(range(*part.indices(count)))
        return [np.full(size, frame[name], dtype=_S) if isinstance(frame[name], str)
                else _text(name, frame[name][part]) for name in columns]

    return _copy(cursor, model, columns, count, texts)


def _copy(cursor, model: type, columns: list[str], count: int, texts: Callable[[slice], list[np.ndarray]],
          batch: int = 250_000) -> int:
    """Streams COPY text in batches: columns joined with numpy string ufuncs, not per-row Python."""
    if not count:
        return 0
    with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for low in range(0, count, batch):
            first, *others = texts(slice(low, low + batch))
            for column in others:
                first = np.strings.add(np.strings.add(first, "\t"), column)
            copy.write("\n".join(first.tolist()) + "\n")
    return count


def _text(name: str, values: np.ndarray) -> np.ndarray:
    """COPY text of one column; _NULL becomes \\N. Dates are day numbers, timestamps UTC seconds."""
    if name in _DATES:
        text = values.astype("datetime64[D]").astype(_S)
    elif name in _TIMESTAMPS:
        text = np.strings.add(values.astype("datetime64[s]").astype(_S), "+00")
    elif name in _MONEY:
        cents = np.strings.zfill((values % 100).astype(_S), 2)
        text = np.strings.add(np.strings.add((values // 100).astype(_S), "."), cents)
    elif values.dtype == bool:
        return np.where(values, "t", "f").astype(_S)
    else:
        text = values.astype(_S)
        if values.dtype.kind != "i":
            return text
    return np.where(values == _NULL, "\\N", text).astype(_S)
