"""The model frames from the CRM's rows and the reasons of scores: pure pandas, no database."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from segmentation.prediction_frames import (
    CONTEXT_FEATURES,
    TOO_NEW,
    TOO_QUIET,
    churn_eligibility,
    driver_details,
    percentile_of,
    response_missing_inputs,
    response_scoring_frame,
    response_training_frame,
    scoring_context,
    strongest_drivers,
)
from segmentation.propensity import FEATURES, LABEL, ORDER, response_frame_from_uci
from tests.segmentation.test_propensity import synthetic_uci

AS_OF = pd.Timestamp("2010-06-30")


def crm_rows_from_uci(raw: pd.DataFrame, dates: pd.Series) -> pd.DataFrame:
    """The rows the training SQL reads, as the demo loader stores a UCI file."""
    pdays = raw["pdays"].where(raw["pdays"] >= 0)
    return pd.DataFrame({
        "customer_id": np.arange(len(raw)) + 100, "contact_id": np.arange(len(raw)) + 1, "contacted_on": dates,
        "occupation": raw["job"].replace("unknown", ""), "marital_status": raw["marital"],
        "education": raw["education"].replace("unknown", ""), "credit_in_default": raw["default"] == "yes",
        "age": raw["age"], "current_balance": raw["balance"], "current_accounts": 1,
        "has_mortgage": (raw["housing"] == "yes").astype(int), "has_loan": (raw["loan"] == "yes").astype(int),
        "attempts": raw["campaign"], "previous_contacts": raw["previous"], "days_since_previous": pdays,
        "previous_outcome": raw["poutcome"].replace("unknown", ""), "responded": (raw["y"] == "yes").astype(int),
    })


def test_response_training_frame_reproduces_the_uci_frame_without_duration():
    raw = synthetic_uci()
    reference = response_frame_from_uci(raw)
    rows = crm_rows_from_uci(raw, reference["contact_date"])
    # The database returns rows in any order: the frame orders them by date, then contact id.
    frame = response_training_frame(rows.sample(frac=1, random_state=1))

    assert "duration" not in frame.columns
    pd.testing.assert_frame_equal(frame[[ORDER, *FEATURES, LABEL]], reference[[ORDER, *FEATURES, LABEL]],
                                  check_dtype=False)


def test_response_training_frame_refuses_no_rows():
    with pytest.raises(ValueError, match="No contacts with an outcome"):
        response_training_frame(crm_rows_from_uci(synthetic_uci().iloc[:0], pd.Series([], dtype="datetime64[ns]")))


def _customer(**overrides) -> dict:
    row = {"customer_id": 1, "occupation": "retired", "marital_status": "married", "education": "",
           "credit_in_default": None, "age": 70, "current_balance": 2500.0, "current_accounts": 1, "has_mortgage": 0,
           "has_loan": 1, "last_contacted_on": None, "last_attempts": None, "last_previous_contacts": None,
           "last_responded": None}
    return {**row, **overrides}


def test_scoring_frame_describes_the_next_call():
    rows = pd.DataFrame([
        _customer(customer_id=1, last_contacted_on="2010-06-20", last_attempts=3, last_previous_contacts=2,
                  last_responded=1),
        _customer(customer_id=2),
    ])
    context = dict.fromkeys(CONTEXT_FEATURES, 1.5)

    frame = response_scoring_frame(rows, as_of=AS_OF, context=context).set_index("customer_id")

    called, never = frame.loc[1], frame.loc[2]
    # The last call is now the previous campaign: its outcome, its calls added, the days since it.
    assert (called["poutcome"], called["previous"], called["contacted_before"]) == ("success", 5.0, 1.0)
    assert called["pdays_log"] == pytest.approx(math.log1p(10)) and called["campaign"] == 1.0
    assert (never["poutcome"], never["previous"], never["contacted_before"], never["pdays_log"]) == (
        "unknown", 0.0, 0.0, 0.0)
    assert (called["job"], called["education"], called["default"], called["housing"], called["loan"]) == (
        "retired", "unknown", "unknown", "no", "yes")
    assert (frame["calls_prev_30d"] == 1.5).all()


def test_scoring_context_counts_the_calls_of_the_days_up_to_the_as_of_date():
    history = pd.Series(pd.to_datetime(
        ["2010-06-30", "2010-06-30", "2010-06-27", "2010-06-10", "2010-05-20", "2010-07-05"]))

    context = scoring_context(history, as_of=AS_OF)

    # A call on 1 July: two on 30 June; three in the 7 days; four in the 30 days; none after the date.
    assert context == {"calls_prev_1d": pytest.approx(math.log1p(2)), "calls_prev_7d": pytest.approx(math.log1p(3)),
                       "calls_prev_30d": pytest.approx(math.log1p(4))}


def test_missing_inputs_name_what_a_response_score_needs():
    rows = pd.DataFrame([
        _customer(), _customer(age=None, marital_status=""), _customer(current_accounts=0, marital_status=None),
    ])

    assert response_missing_inputs(rows).tolist() == [
        "", "age,marital_status", "marital_status,current_account"]


def test_strongest_driver_is_the_group_that_moves_the_score_most_with_its_direction():
    frame = pd.DataFrame({"a": [1.0, 5.0], "b": [0.0, 0.0], "c": [9.0, 0.5]})

    def score(rows: pd.DataFrame) -> np.ndarray:
        return 0.1 * rows["a"].to_numpy() - 0.3 * rows["c"].to_numpy()

    drivers = strongest_drivers(score, frame, groups={"a": ("a",), "b": ("b",), "c": ("c",)},
                                reference={"a": 1.0, "b": 0.0, "c": 1.0})

    # Row 0: c = 9 against a typical 1 lowers the score by 2.4. Row 1: a = 5 raises it by 0.4, c by 0.15.
    assert drivers.name.tolist() == ["c", "a"] and drivers.up.tolist() == [False, True]


def test_driver_details_undo_the_logs_and_say_never():
    frame = pd.DataFrame({"pdays_log": [math.log1p(30), 0.0], "contacted_before": [1.0, 0.0],
                          "last_balance_log": [-math.log1p(250.0), 0.0], "poutcome": ["success", "unknown"]})

    assert driver_details(frame, np.array(["pdays", "pdays"])) == ["30", "never"]
    assert driver_details(frame, np.array(["last_balance_log", "poutcome"])) == ["-250", "unknown"]


def test_churn_eligibility_is_the_training_populations_rule():
    features = pd.DataFrame({"transactions": [10.0, 2.0, 10.0], "days_since_first": [200.0, 200.0, 30.0]})

    assert churn_eligibility(features, lookback_days=90, min_transactions=5).tolist() == ["", TOO_QUIET, TOO_NEW]


def test_percentile_is_the_share_of_training_accounts_scoring_lower():
    quantiles = list(np.linspace(0.0, 1.0, 101))

    assert percentile_of(np.array([-1.0, 0.255, 0.9, 2.0]), quantiles).tolist() == pytest.approx(
        [0.0, 0.25, 0.9, 1.0])
