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
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as error:
        raise DemoDataError(f"{path}: cannot be parsed: {error}") from error
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DemoDataError(f"{path}, line 1: header lacks column(s) {', '.join(missing)}")
    frame = frame[columns].copy()
    frame["line"] = range(2, len(frame) + 2)
    return frame


def _fail(path: Path, frame: pd.DataFrame, bad: pd.Series, column: str, expected: str) -> None:
    if bad.any():
        row = frame[bad].iloc[0]
        raise DemoDataError(f"{path}, line {row['line']}: column {column!r} has {row[column]!r}, expected {expected}")


def as_int(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    _fail(path, frame, values.isna() | (values != values.round()), column, "a whole number")
    return values.astype("int64")


def as_decimal(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    """Validates a money column; returns it as text with two decimals (exact, for Decimal/COPY)."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    _fail(path, frame, values.isna(), column, "a number")
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
