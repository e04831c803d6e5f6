"""Per-segment service actions: predicted response, value of a conversion, expected value per contact.
Pure pandas / scikit-learn, no database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation.actions import (
    LOOK_ALIKE_FEATURES,
    MIN_HOLDERS,
    LookAlike,
    look_alike_propensities,
    segment_actions,
    value_per_conversion,
)
from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.scoring import ValueWeights


def members(segment: int, count: int, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"segment": segment, "deposit_balance": 0.0, "loans_outstanding": 0.0,
                          "card_payments": 0.0, "propensity": np.nan}, index=range(count))
    for category in PRODUCT_CATEGORIES:
        frame[f"n_{category}"] = 0.0
    for column, value in columns.items():
        frame[column] = value
    return frame


def test_value_of_a_conversion_from_holders_else_members_never_bank_wide():
    frame = pd.concat([
        # Segment 0: five deposit holders keeping 10,000 (the median), members keeping 1,000.
        members(0, MIN_HOLDERS, n_deposit=1.0, deposit_balance=10_000.0), members(0, 3, deposit_balance=1_000.0),
        # Segment 1: one holder only, so its members' median balance; loans recorded as zero are no amount.
        members(1, 1, n_deposit=1.0, deposit_balance=90_000.0), members(1, 4, deposit_balance=2_000.0),
        members(1, 2, n_loan=1.0, loans_outstanding=0.0),
    ], ignore_index=True)

    values = value_per_conversion(frame, ValueWeights()).set_index(["segment", "product_category"])[
        "value_per_conversion"]

    assert values[(0, "deposit")] == pytest.approx(10_000 * 0.015)
    assert values[(1, "deposit")] == pytest.approx(2_000 * 0.015)
    assert np.isnan(values[(1, "loan")])  # nobody in segment 1 has a recorded loan amount
    assert np.isnan(values[(0, "wealth")]) and np.isnan(values[(0, "insurance")])  # no rate in the formula


def test_segment_actions_apply_the_formula_and_say_where_the_response_comes_from():
    frame = pd.concat([
        members(0, 4, propensity=[0.1, 0.3, np.nan, 0.5], deposit_balance=1_000.0),
        members(0, MIN_HOLDERS, n_loan=1.0, loans_outstanding=40_000.0, deposit_balance=1_000.0),
        members(1, 2, propensity=0.2, n_loan=1.0, loans_outstanding=50_000.0, deposit_balance=3_000.0),
    ], ignore_index=True)
    look_alike = LookAlike(probabilities={"loan": np.array([0.4, 0.4, 0.1, 0.1] + [0.9] * (MIN_HOLDERS + 2))},
                           auc={}, skipped={})
    costs = {"call_centre": 4.0, "email": 0.05}

    table = segment_actions(frame, look_alike=look_alike, measured_pairs={("deposit", "call_centre")},
                            weights=ValueWeights(), channel_costs=costs)

    rows = table.set_index(["segment", "product_category", "channel"])
    deposit = rows.loc[(0, "deposit", "call_centre")]
    # Measured: the mean propensity of the members without a deposit and with a score.
    assert (deposit["basis"], deposit["customers"]) == ("response_model", 3)
    assert deposit["predicted_response"] == pytest.approx(0.3)
    assert deposit["expected_value"] == pytest.approx(0.3 * 1_000 * 0.015 - 4.0)
    # No measured response by e-mail and no look-alike for deposits: no row rather than a made-up one.
    assert (0, "deposit", "email") not in rows.index
    # Look-alike: the same response for every channel; only the cost differs.
    loan_phone, loan_mail = rows.loc[(0, "loan", "call_centre")], rows.loc[(0, "loan", "email")]
    assert loan_phone["basis"] == "look_alike" and loan_phone["predicted_response"] == pytest.approx(0.25)
    assert loan_mail["predicted_response"] == loan_phone["predicted_response"]
    assert loan_phone["expected_value"] == pytest.approx(0.25 * 40_000 * 0.025 - 4.0)
    assert loan_mail["expected_value"] - loan_phone["expected_value"] == pytest.approx(4.0 - 0.05)
    # Segment 1 holds loans already: nobody to offer one to.
    assert (1, "loan", "call_centre") not in rows.index
    # Best expected value first within each segment.
    for _segment, group in table.groupby("segment"):
        values = group["expected_value"].dropna().to_numpy()
        assert (np.diff(values) <= 0).all()


def test_look_alike_learns_holding_from_behaviour_and_skips_rare_products():
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame({feature: rng.normal(50, 10, n) for feature in LOOK_ALIKE_FEATURES})
    for category in PRODUCT_CATEGORIES:
        frame[f"n_{category}"] = 0.0
    frame["n_current"] = 1.0
    frame["n_loan"] = (frame["age"] + rng.normal(0, 5, n) > 55).astype(float)  # older customers borrow
    frame.loc[:2, "n_wealth"] = 1.0  # three holders: too few to learn from
    frame.loc[n - 20:, "n_current"] = 0.0  # no product at all: not in the population the models learn on

    result = look_alike_propensities(frame, seed=7)
    again = look_alike_propensities(frame, seed=7)

    assert result.auc["loan"] > 0.8
    older = (frame["age"] > 60).to_numpy()
    assert result.probabilities["loan"][older].mean() > result.probabilities["loan"][~older].mean()
    assert "wealth" in result.skipped and "current" in result.skipped  # every learner holds a current account
    np.testing.assert_array_equal(result.probabilities["loan"], again.probabilities["loan"])
