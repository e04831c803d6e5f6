"""COPY text of a drawn segment, streamed into PostgreSQL in one transaction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crm_bank.bulk import allocate_ids
from customers.generation.constants import _NULL, _S
from customers.generation.draws import _Segment
from customers.generation.holdings import _BANK_BICS, _TXN_VARIANT_TEXT
from customers.generation.national_ids import _national_ids_unique
from customers.models import Account, AccountHolder, Customer, Household, RMAssignment, SourceRecord, Transaction

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
