"""The PKDD'99 Czech bank ("Berka") files, read and validated. Pure pandas: no ORM.

Codes follow the data set's README: birth_number YYMMDD (+50 on the month for women),
`PRIJEM` credit, `VYDAJ`/`VYBER` debit, loan status A/B/C/D, cards hang off a disposition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from demo.files import DemoDataError, as_choice, as_decimal, as_int, as_yymmdd, read_table

TRANSACTIONS_FILE = "trans_until_1994-03-30.asc.gz"
TRANSACTIONS_END = date(1994, 3, 30)
TRANSACTIONS_IN_FILE = 46_997  # rows of TRANSACTIONS_FILE, the part of the full file this demo has

FREQUENCY = {"POPLATEK MESICNE": "monthly", "POPLATEK TYDNE": "weekly", "POPLATEK PO OBRATU": "per_txn"}
LOAN_REPAYMENT = {"A": "paid", "B": "defaulted", "C": "current", "D": "arrears"}
PURPOSE = {
    "SIPO": "household bills", "POJISTNE": "insurance", "UVER": "loan instalment", "LEASING": "leasing",
    "SLUZBY": "statement fee", "UROK": "interest", "SANKC. UROK": "penalty interest", "DUCHOD": "pension",
}


@dataclass(frozen=True)
class PkddData:
    districts: pd.DataFrame
    clients: pd.DataFrame
    accounts: pd.DataFrame
    dispositions: pd.DataFrame
    loans: pd.DataFrame
    cards: pd.DataFrame
    orders: pd.DataFrame
    transactions: pd.DataFrame


def pkdd_available(folder: Path) -> bool:
    return (folder / "client.asc").exists() and (folder / TRANSACTIONS_FILE).exists()


def decode_birth_number(path: Path, clients: pd.DataFrame) -> pd.DataFrame:
    """`706213` → woman born 1970-12-13; `450204` → man born 1945-02-04."""
    text = clients["birth_number"].str.strip()
    bad = ~text.str.fullmatch(r"\d{6}")
    if bad.any():
        row = clients[bad].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: birth_number {row['birth_number']!r} is not YYMMDD")
    month = text.str.slice(2, 4).astype(int)
    female = month > 50
    birth = pd.to_datetime(
        "19" + text.str.slice(0, 2) + (month - 50 * female).map("{:02d}".format) + text.str.slice(4, 6),
        format="%Y%m%d", errors="coerce",
    )
    if birth.isna().any():
        row = clients[birth.isna()].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: birth_number {row['birth_number']!r} is not a date")
    return clients.assign(birth_date=birth.dt.date, gender=female.map({True: "F", False: "M"}))


def _unique(path: Path, frame: pd.DataFrame, column: str) -> None:
    duplicated = frame[column].duplicated()
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: {column} {row[column]} appears twice")


def _refers(path: Path, frame: pd.DataFrame, column: str, known: pd.Series, what: str) -> None:
    unknown = ~frame[column].isin(set(known))
    if unknown.any():
        row = frame[unknown].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: {column} {row[column]} is not in {what}")


def pkdd_read(folder: Path, *, sample_accounts: int | None = None) -> PkddData:
    """Reads and validates every file, and every reference between them, before anything is written.

    With `sample_accounts`, keeps the first N accounts and everything hanging off them.
    """
    f = {name: folder / f"{name}.asc" for name in ("district", "client", "account", "disp", "loan", "card", "order")}
    d = read_table(f["district"], columns=["A1", "A2", "A3"])
    districts = pd.DataFrame({"district_id": as_int(f["district"], d, "A1"), "name": d["A2"].str.strip(),
                              "region": d["A3"].str.strip(), "line": d["line"]})
    _unique(f["district"], districts, "district_id")

    a = read_table(f["account"], columns=["account_id", "district_id", "frequency", "date"])
    accounts = pd.DataFrame({
        "account_id": as_int(f["account"], a, "account_id"), "district_id": as_int(f["account"], a, "district_id"),
        "frequency": as_choice(f["account"], a, "frequency", FREQUENCY).map(FREQUENCY),
        "opened_on": as_yymmdd(f["account"], a, "date"), "line": a["line"],
    }).sort_values("account_id")
    _unique(f["account"], accounts, "account_id")
    _refers(f["account"], accounts, "district_id", districts["district_id"], "district.asc")

    c = read_table(f["client"], columns=["client_id", "birth_number", "district_id"])
    c = decode_birth_number(f["client"], c)
    clients = pd.DataFrame({
        "client_id": as_int(f["client"], c, "client_id"), "district_id": as_int(f["client"], c, "district_id"),
        "birth_number": c["birth_number"].str.strip(), "birth_date": c["birth_date"], "gender": c["gender"],
        "line": c["line"],
    })
    _unique(f["client"], clients, "client_id")
    _refers(f["client"], clients, "district_id", districts["district_id"], "district.asc")

    p = read_table(f["disp"], columns=["disp_id", "client_id", "account_id", "type"])
    dispositions = pd.DataFrame({
        "disp_id": as_int(f["disp"], p, "disp_id"), "client_id": as_int(f["disp"], p, "client_id"),
        "account_id": as_int(f["disp"], p, "account_id"),
        "role": as_choice(f["disp"], p, "type", ["OWNER", "DISPONENT"]).map(
            {"OWNER": "owner", "DISPONENT": "authorised"}
        ),
        "line": p["line"],
    })
    _unique(f["disp"], dispositions, "disp_id")
    _refers(f["disp"], dispositions, "client_id", clients["client_id"], "client.asc")
    _refers(f["disp"], dispositions, "account_id", accounts["account_id"], "account.asc")
    owners = dispositions[dispositions["role"] == "owner"]
    _unique(f["disp"], owners, "account_id")  # exactly one owner per account …
    _refers(f["account"], accounts, "account_id", owners["account_id"], "disp.asc as an OWNER")  # … and at least one

    n = read_table(f["loan"], columns=["loan_id", "account_id", "date", "amount", "duration", "payments", "status"])
    loans = pd.DataFrame({
        "loan_id": as_int(f["loan"], n, "loan_id"), "account_id": as_int(f["loan"], n, "account_id"),
        "opened_on": as_yymmdd(f["loan"], n, "date"), "principal": as_decimal(f["loan"], n, "amount"),
        "term_months": as_int(f["loan"], n, "duration"), "instalment": as_decimal(f["loan"], n, "payments"),
        "repayment": as_choice(f["loan"], n, "status", LOAN_REPAYMENT).map(LOAN_REPAYMENT), "line": n["line"],
    })
    _unique(f["loan"], loans, "loan_id")
    _refers(f["loan"], loans, "account_id", accounts["account_id"], "account.asc")

    k = read_table(f["card"], columns=["card_id", "disp_id", "type", "issued"])
    cards = pd.DataFrame({
        "card_id": as_int(f["card"], k, "card_id"), "disp_id": as_int(f["card"], k, "disp_id"),
        "card_type": as_choice(f["card"], k, "type", ["classic", "junior", "gold"]),
        "opened_on": as_yymmdd(f["card"], k, "issued"), "line": k["line"],
    })
    _unique(f["card"], cards, "card_id")
    _refers(f["card"], cards, "disp_id", dispositions["disp_id"], "disp.asc")

    o = read_table(f["order"], columns=["order_id", "account_id", "bank_to", "account_to", "amount", "k_symbol"])
    orders = pd.DataFrame({
        "order_id": as_int(f["order"], o, "order_id"), "account_id": as_int(f["order"], o, "account_id"),
        "bank_to": o["bank_to"].str.strip(), "account_to": o["account_to"].str.strip(),
        "amount": as_decimal(f["order"], o, "amount"),
        "purpose": o["k_symbol"].str.strip().map(PURPOSE).fillna(""), "line": o["line"],
    })
    _unique(f["order"], orders, "order_id")
    _refers(f["order"], orders, "account_id", accounts["account_id"], "account.asc")

    transactions = _transactions(folder / TRANSACTIONS_FILE)
    _refers(folder / TRANSACTIONS_FILE, transactions, "account_id", accounts["account_id"], "account.asc")

    if sample_accounts:
        accounts = accounts.head(sample_accounts)
    keep_accounts = set(accounts["account_id"])
    dispositions = dispositions[dispositions["account_id"].isin(keep_accounts)]
    return PkddData(
        districts,
        clients[clients["client_id"].isin(set(dispositions["client_id"]))],
        accounts,
        dispositions,
        loans[loans["account_id"].isin(keep_accounts)],
        cards[cards["disp_id"].isin(set(dispositions["disp_id"]))],
        orders[orders["account_id"].isin(keep_accounts)],
        transactions[transactions["account_id"].isin(keep_accounts)],
    )


def _transactions(path: Path) -> pd.DataFrame:
    columns = ["trans_id", "account_id", "date", "type", "operation", "amount", "balance", "k_symbol", "bank",
               "account"]
    t = read_table(path, columns=columns)
    frame = pd.DataFrame({
        "trans_id": as_int(path, t, "trans_id"), "account_id": as_int(path, t, "account_id"),
        "booked_on": as_yymmdd(path, t, "date"),
        "direction": as_choice(path, t, "type", ["PRIJEM", "VYDAJ", "VYBER"]).map(
            {"PRIJEM": "credit", "VYDAJ": "debit", "VYBER": "debit"}),
        "operation": as_choice(path, t, "operation",
                               ["VKLAD", "PREVOD Z UCTU", "VYBER", "PREVOD NA UCET", "VYBER KARTOU", ""]),
        "amount": as_decimal(path, t, "amount"), "balance": as_decimal(path, t, "balance"),
        "k_symbol": t["k_symbol"].str.strip(),
        "bank": t["bank"].str.strip(), "counterparty": t["account"].str.strip().replace("0", ""),
        "line": t["line"],
    })
    _unique(path, frame, "trans_id")
    frame["kind"], frame["channel"] = _kinds_and_channels(frame)
    frame["purpose"] = frame["k_symbol"].map(PURPOSE).fillna("")
    return frame.sort_values(["account_id", "booked_on", "trans_id"])


def _kinds_and_channels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Transaction kind and channel from operation and k_symbol (the symbol wins for fees/interest)."""
    operation, symbol = frame["operation"], frame["k_symbol"]
    rules = [  # (condition, kind, channel), first match wins
        (symbol.isin(["SLUZBY", "SANKC. UROK"]), "fee", "system"),
        (symbol == "UROK", "interest", "system"),
        (operation == "VKLAD", "cash_in", "branch"),
        (operation == "VYBER", "cash_out", "branch"),
        (operation == "VYBER KARTOU", "card_out", "atm"),
        (operation == "PREVOD Z UCTU", "xfer_in", "system"),
        ((operation == "PREVOD NA UCET") & (symbol == "UVER"), "loan_pay", "system"),
        (operation == "PREVOD NA UCET", "xfer_out", "system"),
    ]
    conditions = [rule[0] for rule in rules]
    kinds = np.select(conditions, [rule[1] for rule in rules], default="other")
    channels = np.select(conditions, [rule[2] for rule in rules], default="system")
    return kinds, channels
