"""Reading the public data files strictly: a bad value stops the load, naming file and line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd


class DemoDataError(Exception):
    """A data file is missing or malformed; the message names the file and the line."""


def read_table(path: Path, *, columns: Iterable[str]) -> pd.DataFrame:
    """Reads a `;`-separated file as text, checking the header; `line` holds each row's line number."""
    columns = list(columns)
    if not path.exists():
        raise DemoDataError(f"{path}: file not found")
    try:
        # Blank lines kept (as empty rows that then fail validation) so line numbers stay true.
        frame = pd.read_csv(
            path, sep=";", dtype=str, keep_default_na=False, na_values=[], engine="c", skip_blank_lines=False
        )
    except pd.errors.EmptyDataError as error:
        expected = ", ".join(columns)
        raise DemoDataError(f"{path}, line 1: the file is empty; expected a header with {expected}") from error
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as error:
        raise DemoDataError(f"{path}: cannot be parsed: {error}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DemoDataError(f"{path}, line 1: header lacks column(s) {', '.join(missing)}")
    if frame.empty:
        raise DemoDataError(f"{path}, line 2: no rows after the header")
    frame = frame[columns].copy()
    frame["line"] = range(2, len(frame) + 2)
    return frame


def _fail(path: Path, frame: pd.DataFrame, bad: pd.Series, column: str, expected: str) -> None:
    if bad.any():
        row = frame[bad].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: column {column!r} has {row[column]!r}, expected {expected}")


BIGINT = (-(2**63), 2**63 - 1)  # what the database's id and integer columns hold


def as_int(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """Whole numbers written as digits (`12`, `-3`, `12.0`), each within a bigint.

    Parsed from the text, not through floats: a float would round a 19-digit id, and casting an
    out-of-range one to int64 wraps it to a negative number that then loads.
    """
    text = frame[column].str.strip()
    digits = text.str.extract(r"^([+-]?\d+)(?:\.0*)?$", expand=False)
    _fail(path, frame, digits.isna(), column, "a whole number")
    unsigned = digits.str.lstrip("+-").str.lstrip("0")
    long = unsigned.str.len() >= 19  # 18 digits always fit; the rest are checked exactly
    if long.any():
        low, high = BIGINT
        outside = digits[long].map(lambda value: not low <= int(value) <= high).reindex(digits.index, fill_value=False)
        _fail(path, frame, outside.astype(bool), column, f"a whole number from {low} to {high}")
    return digits.astype("int64")


def as_decimal(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """Validates a money column; returns it as text with two decimals (exact, for Decimal/COPY)."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    # The money columns are numeric(18, 2): sixteen digits before the point, and no infinity.
    _fail(path, frame, values.isna() | ~(values.abs() < 10**16), column, "an amount below 10^16")
    return values.map(lambda v: f"{v:.2f}")


def as_yymmdd(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """`930101` (optionally followed by ` 00:00:00`) → date; all 19xx."""
    text = frame[column].str.strip()
    well_formed = text.str.fullmatch(r"\d{6}( 00:00:00)?")
    dates = pd.to_datetime("19" + text.str.slice(0, 6), format="%Y%m%d", errors="coerce")
    _fail(path, frame, ~well_formed | dates.isna(), column, "a date written YYMMDD")
    return dates.dt.date


def as_choice(path: Path, frame: pd.DataFrame, column: str, allowed: Iterable[str]) -> pd.Series:
    values = frame[column].str.strip()
    allowed = set(allowed)
    _fail(path, frame, ~values.isin(allowed), column, f"one of {sorted(allowed)}")
    return values
