"""Per segment: the predicted response to each service action (product × channel) and the expected
value per contact. Pure pandas / scikit-learn: frames in, a table out.

    expected value per contact = predicted response × value of a conversion − cost per contact

Where each number comes from, and what the data support
-------------------------------------------------------
* **Predicted response, measured** (basis ``response_model``): the only campaign with recorded
  outcomes in the demo data is the UCI term-deposit campaign, by phone. For the (product category,
  channel) pairs the response model was trained on, the predicted response of a segment is the mean
  calibrated propensity of its members who have a score and do not hold the product yet.
* **Predicted response, proxy** (basis ``look_alike``): for every other product there is no offer
  and no outcome to learn from. The standard, defensible stand-in is a look-alike model: the
  probability that a customer *holds* the product given behaviour that does not define holding it
  (LOOK_ALIKE_FEATURES), learned on the holdings of the customers who hold at least one product
  (without any, behaviour is undefined and a model would only learn "has an account"). A segment's
  figure is the mean of
  that probability over its members without the product: how much they look like holders. It is an
  upper-bound-like proxy of take-up, not a measured campaign response, and is labelled so.
* **Channels**: no data contrast channels (the one campaign with outcomes was by phone), so the
  predicted response is the same for every channel of a product; only the cost per contact tells
  channels apart. A channel factor can only come from campaigns run by other channels.
* **Value of a conversion**: the yearly value the product's driver in the 80/20 value formula
  (segmentation/scoring.py, the rates of ValueWeights) brings for a typical customer: the median
  driver amount × its rate, where the amount is the deposit balance (current accounts, deposits),
  the loans outstanding (loans, mortgages) or 12 months' card payments (cards). The median is taken
  over the segment's holders of the product with a recorded amount when there are at least
  MIN_HOLDERS of them, else over all the segment's members with a recorded amount (for a product
  nobody in the segment holds yet, e.g. a term deposit: "the new money is about what a typical
  member keeps with us"). A zero amount counts as not recorded (the demo's telemarketing loans carry
  no principal). Never bank-wide: a segment's value is what its own customers hold. No amount in the
  segment, or no rate for the product (wealth, insurance): no value and no expected value. Amounts
  are in the segmentation run's reporting currency (its features convert every account's currency).
* **Cost per contact**: CHANNEL_COSTS, assumed planning figures in the reporting currency,
  not taken from any data; they are stored in each run's parameters, so every expected value can be
  traced to the costs it used, and a bank replaces them with its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.scoring import ValueWeights

# Behaviour that does not define holding a product (holdings, balances and loans do), in the
# segmentation frame's column names (segmentation/columns.py).
LOOK_ALIKE_FEATURES = (
    "age", "tenure_days", "recency_days", "frequency_12m", "monetary_in_12m", "monetary_out_12m", "digital_share",
)
# Features a product's own holding makes up, left out of its look-alike model: card payments are
# the card channel of the digital share.
DEFINED_BY = {"card": ("digital_share",)}
SKEWED = frozenset({"tenure_days", "recency_days", "frequency_12m", "monetary_in_12m", "monetary_out_12m"})
# Assumed cost of one contact by channel (customers.models.CONTACT_CHANNELS), in the reporting currency.
CHANNEL_COSTS: dict[str, float] = {
    "branch": 12.0, "call_centre": 4.0, "post": 1.2, "sms": 0.08, "email": 0.05, "web": 0.02, "mobile": 0.02,
}
MIN_HOLDERS = 5  # fewer holders in a segment: the value of a conversion comes from all its members
MIN_CLASS = 10  # fewer holders or non-holders in the whole frame: no look-alike model for the product
SAMPLE_SIZE = 50_000  # look-alike models learn from at most this many customers (seeded sample)

# The value formula's driver for each product category: (the amount column, the rate's name).
VALUE_DRIVER = {
    "current": ("deposit_balance", "deposit_margin"), "deposit": ("deposit_balance", "deposit_margin"),
    "loan": ("loans_outstanding", "lending_spread"), "mortgage": ("loans_outstanding", "lending_spread"),
    "card": ("card_payments", "card_income_per_payment"),
}
ACTION_COLUMNS = (
    "segment", "product_category", "channel", "basis", "customers", "predicted_response", "value_per_conversion",
    "cost_per_contact", "expected_value",
)


@dataclass(frozen=True)
class LookAlike:
    """Per product category: the holding probability of every customer of the frame, and the model's
    5-fold AUC (how well behaviour tells holders apart)."""

    probabilities: dict[str, np.ndarray]
    auc: dict[str, float]
    skipped: dict[str, str]


def _features_for(category: str) -> list[str]:
    return [f for f in LOOK_ALIKE_FEATURES if f not in DEFINED_BY.get(category, ())]


def _look_alike_model(features: list[str], seed: int) -> Pipeline:
    skewed = [i for i, f in enumerate(features) if f in SKEWED]

    def log_skewed(x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=float)
        x[:, skewed] = np.sign(x[:, skewed]) * np.log1p(np.abs(x[:, skewed]))
        return x

    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("log", FunctionTransformer(log_skewed)),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=1.0, max_iter=1000, random_state=seed)),
    ])


def look_alike_propensities(frame: pd.DataFrame, *, seed: int) -> LookAlike:
    """A holding model per product category on ``frame`` (segmentation frame columns and ``n_<category>``).

    Each is fitted on at most SAMPLE_SIZE of the customers holding any product (seeded) and applied
    to every customer of the frame.
    """
    rng = np.random.default_rng(seed)
    customers = np.flatnonzero((frame[[f"n_{c}" for c in PRODUCT_CATEGORIES]].fillna(0) > 0).any(axis=1))
    sample = np.sort(rng.choice(customers, size=min(SAMPLE_SIZE, len(customers)), replace=False))
    probabilities, auc, skipped = {}, {}, {}
    with threadpool_limits(limits=1):
        for category in PRODUCT_CATEGORIES:
            holds = (frame[f"n_{category}"].fillna(0) > 0).to_numpy()
            fit_on = holds[sample]
            if min(fit_on.sum(), (~fit_on).sum()) < MIN_CLASS:
                skipped[category] = f"{int(fit_on.sum())} holders of {len(fit_on)}: too few of one class to learn from"
                continue
            features = _features_for(category)
            x = frame[features].to_numpy(dtype=float)
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
            auc[category] = float(cross_val_score(
                _look_alike_model(features, seed), x[sample], fit_on, cv=folds, scoring="roc_auc").mean())
            model = _look_alike_model(features, seed).fit(x[sample], fit_on)
            probabilities[category] = model.predict_proba(x)[:, 1]
    return LookAlike(probabilities=probabilities, auc=auc, skipped=skipped)


def value_per_conversion(frame: pd.DataFrame, weights: ValueWeights) -> pd.DataFrame:
    """Per (segment, product category): the yearly value of a conversion (see the module docstring:
    the segment's holders, else its members); NaN when nothing in the segment supports a value."""
    rates = weights.as_dict()
    rows = []
    segments = sorted(frame["segment"].unique())
    for category in PRODUCT_CATEGORIES:
        if category not in VALUE_DRIVER:
            rows += [(segment, category, np.nan) for segment in segments]
            continue
        column, rate = VALUE_DRIVER[category]
        recorded = frame[frame[column] > 0]
        holders = recorded[recorded[f"n_{category}"].fillna(0) > 0]
        by_segment = holders.groupby("segment")[column].agg(["median", "size"])
        members = recorded.groupby("segment")[column].median()
        for segment in segments:
            if segment in by_segment.index and by_segment.at[segment, "size"] >= MIN_HOLDERS:
                amount = by_segment.at[segment, "median"]
            else:
                amount = members.get(segment, np.nan)
            rows.append((segment, category, float(amount) * rates[rate]))
    return pd.DataFrame(rows, columns=["segment", "product_category", "value_per_conversion"])


def segment_actions(
    frame: pd.DataFrame, *, look_alike: LookAlike, measured_pairs: set[tuple[str, str]],
    weights: ValueWeights, channel_costs: Mapping[str, float],
) -> pd.DataFrame:
    """The action table (ACTION_COLUMNS), by segment then expected value (highest first).

    ``frame``: one row per customer of the segmentation run with ``segment``, the value drivers'
    columns, ``n_<category>`` and ``propensity`` (NaN without a response score). ``measured_pairs``:
    the (product category, channel) pairs the response model was trained on.
    """
    values = value_per_conversion(frame, weights).set_index(["segment", "product_category"])["value_per_conversion"]
    rows = []
    for category in PRODUCT_CATEGORIES:
        without = frame[f"n_{category}"].fillna(0) <= 0
        look_alike_p = look_alike.probabilities.get(category)
        for channel, cost in channel_costs.items():
            if (category, channel) in measured_pairs:
                basis, chosen = "response_model", without & frame["propensity"].notna()
                response = frame["propensity"]
            elif look_alike_p is not None:
                basis, chosen = "look_alike", without
                response = pd.Series(look_alike_p, index=frame.index)
            else:
                continue
            grouped = response[chosen].groupby(frame.loc[chosen, "segment"])
            for segment, mean in grouped.mean().items():
                value = values.get((segment, category), np.nan)
                rows.append((int(segment), category, channel, basis, int(grouped.size()[segment]), float(mean),
                             value, float(cost), float(mean) * value - cost if np.isfinite(value) else np.nan))
    table = pd.DataFrame(rows, columns=list(ACTION_COLUMNS))
    return table.sort_values(["segment", "expected_value", "product_category", "channel"],
                             ascending=[True, False, True, True], na_position="last", kind="stable",
                             ).reset_index(drop=True)
