"""Customer value and the 80/20 (Pareto) analysis: pure pandas / numpy, no database, no settings.

The value of a customer is a yearly contribution estimate in the currency of their accounts,
the sum of four drivers, each a money amount an RM can explain::

    deposits  = max(deposit balance, 0)      × deposit_margin    (what the bank earns on the money kept)
    lending   = max(loans outstanding, 0)    × lending_spread    (net interest on running loans)
    cards     = card payments in 12 months   × card_income_per_payment (interchange proxy)
    fees      = fees paid in 12 months       × fee_share         (fee income, as booked)

    value = deposits + lending + cards + fees      (never negative)

Pareto tiers rank customers by value (highest first, ties by customer id, so a run is
reproducible): tier A are the customers who together bring the first `a_share` (80%) of the value
(the one who crosses the line included), B the next `b_share` (15%), C the rest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

# The feature columns the formula reads (CustomerFeatures' and CustomerValueInputs' columns of the same names).
VALUE_INPUTS = ("deposit_balance", "loans_outstanding", "card_payments", "fees_paid")
DRIVERS = ("deposits", "lending", "cards", "fees")
TIERS = ("A", "B", "C")


@dataclass(frozen=True)
class ValueWeights:
    """The formula's rates; stored with each run (its params) so a value can be traced to them."""

    deposit_margin: float = 0.015
    lending_spread: float = 0.025
    card_income_per_payment: float = 0.30
    fee_share: float = 1.0

    def __post_init__(self) -> None:
        for name, rate in asdict(self).items():
            if not (isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0):
                raise ValueError(f"{name} must be a finite number ≥ 0, not {rate!r}")

    def as_dict(self) -> dict[str, float]:
        return {name: float(rate) for name, rate in asdict(self).items()}


# Each driver: (the input column it reads, the rate it is multiplied by). customer_value and
# value_sql both read this, so the pandas and the SQL forms of the formula cannot drift apart.
_DRIVER_TERMS = dict(zip(DRIVERS, zip(VALUE_INPUTS, ValueWeights.__dataclass_fields__, strict=True), strict=True))


def value_sql(*, alias: str) -> str:
    """The value formula as a SQL expression over the features row `alias`, with the rates as named
    parameters (`ValueWeights.as_dict()`): for counting a rule on value live in PostgreSQL."""
    return " + ".join(f"greatest({alias}.{column}::float8, 0) * %({rate})s" for column, rate in _DRIVER_TERMS.values())


def customer_value(frame: pd.DataFrame, weights: ValueWeights | None = None) -> pd.DataFrame:
    """`frame`: customer_id and the VALUE_INPUTS columns (missing amounts count as 0).

    Returns customer_id, one column per driver (money) and value, in the frame's row order.
    """
    weights = weights or ValueWeights()
    inputs = {column: _amounts(frame, column) for column in VALUE_INPUTS}
    result = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()})
    for driver, (column, rate) in _DRIVER_TERMS.items():
        result[driver] = inputs[column].clip(min=0) * getattr(weights, rate)
    result["value"] = result[list(DRIVERS)].sum(axis=1)
    return result


def value_drivers(inputs: dict[str, float | None], weights: dict[str, float]) -> dict[str, float]:
    """One customer's money per driver (rounded to cents) from their VALUE_INPUTS amounts and a
    run's rates (`ValueWeights.as_dict()` as stored in its params): customer_value's arithmetic on
    one row, in plain Python (the 360° page asks for it on every view; a DataFrame costs ms)."""
    rates = ValueWeights(**weights)
    return {driver: round(max(_amount(inputs.get(column)), 0.0) * getattr(rates, rate), 2)
            for driver, (column, rate) in _DRIVER_TERMS.items()}


def _amount(value: object) -> float:
    """A money amount as customer_value reads it: missing or not a number counts as 0."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _amounts(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame))
    amounts = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    # As _amount reads one: missing, not a number or not finite ("INF") counts as 0.
    return np.where(np.isfinite(amounts), amounts, 0.0)


def pareto(frame: pd.DataFrame, *, a_share: float = 0.80, b_share: float = 0.15) -> pd.DataFrame:
    """`frame`: customer_id and value (≥ 0, not all 0). Returns customer_id, value, rank (1 = most
    valuable), share, cumulative_share and tier, ordered by rank.

    A customer's tier is decided by the value share held by everyone ranked above them: below
    `a_share` → A, below `a_share + b_share` → B, else C. So tiers never improve as value falls.
    """
    if not (a_share > 0 and b_share >= 0 and a_share + b_share <= 1):
        raise ValueError("tier cut-offs must satisfy 0 < a_share, 0 ≤ b_share, a_share + b_share ≤ 1")
    values = _checked_values(frame["value"])
    ordered = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(), "value": values})
    ordered = ordered.sort_values(["value", "customer_id"], ascending=[False, True], kind="mergesort")
    ordered = ordered.reset_index(drop=True)
    total = ordered["value"].sum()
    if not total > 0:
        raise ValueError("the total value is zero: there is nothing to rank")
    ordered["rank"] = np.arange(1, len(ordered) + 1)
    ordered["share"] = ordered["value"] / total
    cumulative = ordered["share"].cumsum().clip(upper=1.0)
    ordered["cumulative_share"] = cumulative
    ordered["tier"] = _tiers(ordered["value"].to_numpy(), a_share=a_share, b_share=b_share)
    return ordered


# Cut-offs as fractions with at most this denominator (0.8 → 4/5, 0.925 → 37/40) for the exact comparison.
_CUT_DENOMINATOR = 10_000


def _tiers(values: np.ndarray, *, a_share: float, b_share: float) -> np.ndarray:
    """Each customer's tier from the value held by everyone ranked above them (`values` in rank
    order). Values in whole cents — every run's, rounded before ranking — are compared exactly, in
    integer cents: summed as floats, 100,000 equal values drifted far enough by the 80,000th that one
    customer too many landed in A. Other values (pure-function callers) are compared as floats, with
    a tolerance for the sum's rounding."""
    cents = np.rint(values * 100)
    a_cut = Fraction(a_share).limit_denominator(_CUT_DENOMINATOR)
    b_cut = a_cut + Fraction(b_share).limit_denominator(_CUT_DENOMINATOR)
    whole_cents = bool(np.all(np.abs(values * 100 - cents) <= 1e-6 * np.maximum(1.0, cents))
                       and np.all((cents > 0) == (values > 0)))
    if whole_cents and cents.sum() * _CUT_DENOMINATOR < 2**62:
        held = cents.astype(np.int64)
        total = int(held.sum())
        before = np.cumsum(held) - held  # exact: the cents held by the customers ranked above
        in_a = before * a_cut.denominator < a_cut.numerator * total
        in_b = before * b_cut.denominator < b_cut.numerator * total
    else:
        shares = values / values.sum()
        before = np.cumsum(shares) - shares
        # The running sum of n shares is off by at most about n rounding errors.
        eps = 4 * len(values) * np.finfo(np.float64).eps
        in_a = before < a_share - eps
        in_b = before < a_share + b_share - eps
    return np.where(in_a, "A", np.where(in_b, "B", "C"))


def group_ranks(frame: pd.DataFrame, by: str) -> pd.Series:
    """Rank within each group of `by` (e.g. the home branch), by value then customer id."""
    ordered = frame.sort_values([by, "value", "customer_id"], ascending=[True, False, True], kind="mergesort")
    return ordered.groupby(by, sort=False, dropna=False).cumcount().add(1).reindex(frame.index)


def gini(values: pd.Series | np.ndarray | list[float]) -> float:
    """Gini coefficient of non-negative values: 0 when everyone brings the same, → 1 when one does."""
    array = np.sort(_checked_values(values))
    n = len(array)
    total = array.sum()
    if n == 0 or total <= 0:
        return 0.0
    index = np.arange(1, n + 1)
    # Equal values give 0 up to rounding; never report a tiny negative inequality.
    return max(0.0, float((2 * (index * array).sum()) / (n * total) - (n + 1) / n))


def top_share(values: pd.Series | np.ndarray | list[float], fraction: float = 0.2) -> float:
    """Share of the total value brought by the top `fraction` of customers (at least one)."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    array = np.sort(_checked_values(values))[::-1]
    total = array.sum()
    if len(array) == 0 or total <= 0:
        return 0.0
    top = max(1, math.ceil(fraction * len(array) - 1e-9))
    return float(array[:top].sum() / total)


def lorenz_points(values: pd.Series | np.ndarray | list[float], points: int = 100) -> list[tuple[float, float]]:
    """(share of customers, share of value) from the most valuable down, `points` + 1 points from (0, 0)."""
    array = np.sort(_checked_values(values))[::-1]
    n, total = len(array), array.sum()
    if n == 0 or total <= 0:
        return [(0.0, 0.0), (1.0, 1.0)]
    cumulative = np.concatenate([[0.0], np.cumsum(array) / total])
    counts = np.unique(np.linspace(0, n, min(points, n) + 1).round().astype(int))
    return [(float(c / n), float(min(1.0, cumulative[c]))) for c in counts]


def _checked_values(values: pd.Series | np.ndarray | list[float]) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError("values must be finite and ≥ 0")
    return array
