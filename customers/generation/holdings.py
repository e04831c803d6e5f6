"""What the customers hold: accounts, account holders and transactions."""

from __future__ import annotations

import numpy as np

from customers.generation.constants import (
    _ACTIVITY,
    _DAY,
    _DEPOSIT_PRODUCTS,
    _NULL,
    _PRODUCTS,
    _S,
    CARD,
    CLOSED,
    CURRENT,
    DORMANT,
    INSURANCE,
    LOAN,
    MORTGAGE,
    PROSPECT,
    SAVINGS,
    TERM,
    WEALTH,
)
from customers.generation.inputs import _Bank
from customers.models import Account, AccountHolder, Channel, Transaction

_CHINA_UTC = 8 * 3600  # the demo bank lives in UTC+8; timestamps are stored in UTC
_HISTORY_YEARS = 6  # how far back transactions go

_T = Transaction
# (direction, kind, channel, share of transactions, median amount in CNY, purposes)
_TXN_KINDS = (
    (_T.Direction.DEBIT, _T.Kind.CARD_PAYMENT, Channel.CARD, 0.28, 120,
     ("supermarket", "restaurant", "online shopping", "fuel", "pharmacy", "travel")),
    (_T.Direction.DEBIT, _T.Kind.CARD_PAYMENT, Channel.MOBILE, 0.12, 60,
     ("online shopping", "restaurant", "taxi", "utilities")),
    (_T.Direction.DEBIT, _T.Kind.CARD_WITHDRAWAL, Channel.ATM, 0.06, 800, ("",)),
    (_T.Direction.CREDIT, _T.Kind.CASH_DEPOSIT, Channel.BRANCH, 0.03, 3000, ("",)),
    (_T.Direction.CREDIT, _T.Kind.CASH_DEPOSIT, Channel.ATM, 0.02, 2000, ("",)),
    (_T.Direction.DEBIT, _T.Kind.CASH_WITHDRAWAL, Channel.BRANCH, 0.02, 2500, ("",)),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, Channel.SYSTEM, 0.08, 9000, ("salary", "pension", "dividend")),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, Channel.MOBILE, 0.05, 1500, ("family support", "refund")),
    (_T.Direction.CREDIT, _T.Kind.TRANSFER_IN, Channel.WEB, 0.03, 6000, ("invoice", "rent received")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, Channel.MOBILE, 0.10, 1200, ("family support", "purchase")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, Channel.WEB, 0.05, 2500, ("invoice", "tuition", "purchase")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, Channel.BRANCH, 0.01, 8000, ("purchase", "tax")),
    (_T.Direction.DEBIT, _T.Kind.TRANSFER_OUT, Channel.STANDING_ORDER, 0.06, 2200,
     ("rent", "utilities", "insurance premium", "school fees")),
    (_T.Direction.CREDIT, _T.Kind.INTEREST, Channel.SYSTEM, 0.03, 25, ("interest",)),
    (_T.Direction.DEBIT, _T.Kind.FEE, Channel.SYSTEM, 0.02, 12, ("account fee", "card annual fee", "SMS alerts")),
    (_T.Direction.DEBIT, _T.Kind.LOAN_REPAYMENT, Channel.STANDING_ORDER, 0.03, 3200, ("loan instalment",)),
    (_T.Direction.CREDIT, _T.Kind.OTHER, Channel.BRANCH, 0.005, 500, ("",)),
    (_T.Direction.DEBIT, _T.Kind.OTHER, Channel.SYSTEM, 0.005, 200, ("",)),
)
_TXN_P = np.array([k[3] for k in _TXN_KINDS]) / sum(k[3] for k in _TXN_KINDS)
_TXN_LOG_MEDIAN = np.log([k[4] for k in _TXN_KINDS])
_TXN_CARD_POS, _TXN_STANDING_ORDER_OUT = 0, 12
_TXN_INTEREST, _TXN_LOAN_PAY = 13, 15
_TXN_TRANSFER = np.array([k[1] in (_T.Kind.TRANSFER_IN, _T.Kind.TRANSFER_OUT) for k in _TXN_KINDS])
# Booked by the bank's batch at night rather than by the customer during the day.
_TXN_NIGHT = np.array([k[2] in (Channel.SYSTEM, Channel.STANDING_ORDER) for k in _TXN_KINDS])
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

