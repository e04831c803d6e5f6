"""The UCI Bank Marketing `bank-full` file, read and validated. Pure pandas: no ORM.

Rows have no client id and no year: each row is one contacted client, rows are in date
order from May 2008 to November 2010, so the year is inferred from the order (it steps up
whenever the month goes back).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from demo.files import DemoDataError, as_choice, as_int, read_table

BANK_FULL_FILE = "bank-full.csv.gz"
FIRST_YEAR = 2008
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
YES_NO = ("yes", "no")


def uci_available(folder: Path) -> bool:
    return (folder / BANK_FULL_FILE).exists()


def uci_read(folder: Path, *, sample_rows: int | None = None) -> pd.DataFrame:
    path = folder / BANK_FULL_FILE
    columns = ["age", "job", "marital", "education", "default", "balance", "housing", "loan", "contact",
               "day", "month", "duration", "campaign", "pdays", "previous", "poutcome", "y"]
    raw = read_table(path, columns=columns)
    frame = pd.DataFrame({
        "row": range(1, len(raw) + 1),
        "age": as_int(path, raw, "age"),
        "job": raw["job"].str.strip().replace("unknown", ""),
        "marital": raw["marital"].str.strip().replace("unknown", ""),
        "education": raw["education"].str.strip().replace("unknown", ""),
        "credit_default": as_choice(path, raw, "default", YES_NO),
        "balance": as_int(path, raw, "balance"),
        "housing": as_choice(path, raw, "housing", YES_NO) == "yes",
        "personal_loan": as_choice(path, raw, "loan", YES_NO) == "yes",
        "contact": as_choice(path, raw, "contact", ["cellular", "telephone", "unknown"]).replace("unknown", ""),
        "day": as_int(path, raw, "day"),
        "month": as_choice(path, raw, "month", MONTHS),
        "duration": as_int(path, raw, "duration"),
        "campaign": as_int(path, raw, "campaign"),
        "pdays": as_int(path, raw, "pdays"),
        "previous": as_int(path, raw, "previous"),
        "poutcome": as_choice(path, raw, "poutcome", ["success", "failure", "other", "unknown"]).replace("unknown", ""),
        "accepted": as_choice(path, raw, "y", YES_NO) == "yes",
        "line": raw["line"],
    })
    frame["contacted_on"] = _infer_dates(path, frame)
    return frame.head(sample_rows) if sample_rows else frame


def _infer_dates(path: Path, frame: pd.DataFrame) -> list[date]:
    month_numbers = frame["month"].map({m: i + 1 for i, m in enumerate(MONTHS)}).tolist()
    year, previous_month, dates = FIRST_YEAR, month_numbers[0], []
    for month, day, line in zip(month_numbers, frame["day"].tolist(), frame["line"].tolist(), strict=True):
        if month < previous_month:
            year += 1
        previous_month = month
        try:
            dates.append(date(year, month, day))
        except ValueError as error:
            raise DemoDataError(f"{path}, line {line}: day {day} of {MONTHS[month - 1]} {year}: {error}") from error
    return dates
