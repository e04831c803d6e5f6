"""The model frames from the CRM's own rows, and the one-line reason of each score. Pure pandas.

The response model (propensity.py) was written against the UCI file's columns; here the same
features are built from what the CRM keeps: a customer's profile and holdings, and the contact
history's rows (segmentation/contact_history.py). `response_training_frame` reproduces
`propensity.response_frame_from_uci` exactly for the loaded UCI campaign, with the real contact
dates instead of dates inferred from month wrap-arounds.

Scoring asks "if we called this customer now": `response_scoring_frame` describes the customer's
NEXT contact, as of the run's date. The last recorded contact becomes the previous one (its outcome
→ ``poutcome``, its attempts added to ``previous``, the days since it → ``pdays``), ``campaign`` is 1
(the first call of the new campaign), and the call centre's recent volume is the history's volume on
the days before the as-of date (the same for every customer, stored with the model).

Reasons: each score carries its strongest driver, found by replacing one group of features at a
time with the training data's typical value (median, or most frequent category) and keeping the
group whose replacement moves the score most. It is a local, model-agnostic explanation, cheap on
small data; it says which input moved this customer's score, not what caused the behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation import churn, propensity
from segmentation.propensity import CATEGORICAL_FEATURES, LABEL, ORDER, previous_days_volume

# Columns of the rows read from the database (training.py's SQL) that the response frames use.
PROFILE_COLUMNS = (
    "customer_id", "occupation", "marital_status", "education", "credit_in_default", "age", "current_balance",
    "current_accounts", "has_mortgage", "has_loan",
)
CONTACT_FEATURE_COLUMNS = ("attempts", "previous_contacts", "days_since_previous", "previous_outcome")
# What a customer must have for a response score: the profile every campaign row carries.
RESPONSE_REQUIRED = ("age", "marital_status", "current_account")
# The recent call volume describes the campaign, not the customer: stored with the model.
CONTEXT_FEATURES = ("calls_prev_1d", "calls_prev_7d", "calls_prev_30d")

# The groups of features a reason may name (features that only make sense together stay together).
RESPONSE_DRIVERS: dict[str, tuple[str, ...]] = {
    "age": ("age",), "job": ("job",), "marital": ("marital",), "education": ("education",),
    "default": ("default",), "balance": ("balance",), "housing": ("housing",), "loan": ("loan",),
    "poutcome": ("poutcome",), "previous": ("previous",), "pdays": ("contacted_before", "pdays_log"),
}
CHURN_DRIVERS: dict[str, tuple[str, ...]] = {feature: (feature,) for feature in churn.FEATURES}

# No-score reasons (CustomerPrediction.*_reason when the score is null).
MISSING_INPUTS = "missing_inputs"
NO_TRANSACTIONS = "no_transactions"
TOO_NEW = "too_new"
TOO_QUIET = "too_quiet"


# The response model's frames

def _flag(values: pd.Series) -> pd.Series:
    """True for 1, 1.0, true or t (as the database's CSV writes them); false, 0 or missing → False."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return text.isin(["1", "1.0", "true", "t"])


def _yes_no(flags: pd.Series) -> np.ndarray:
    return np.where(_flag(flags), "yes", "no")


def _profile_features(rows: pd.DataFrame) -> pd.DataFrame:
    """The client columns of the UCI vocabulary from the CRM's profile and holdings."""
    def category(column: str) -> np.ndarray:
        values = rows[column].astype(object).fillna("").astype(str).str.strip().str.lower()
        return values.where(values != "", "unknown").to_numpy()

    default = rows["credit_in_default"].map({True: "yes", False: "no", "true": "yes", "false": "no"})
    return pd.DataFrame({
        "job": category("occupation"), "marital": category("marital_status"), "education": category("education"),
        "default": default.fillna("unknown").to_numpy(), "housing": _yes_no(rows["has_mortgage"]),
        "loan": _yes_no(rows["has_loan"]),
        "age": pd.to_numeric(rows["age"], errors="coerce").astype(float).to_numpy(),
        "balance": pd.to_numeric(rows["current_balance"], errors="coerce").fillna(0.0).astype(float).to_numpy(),
    }, index=rows.index)


def _history_features(frame: pd.DataFrame, *, pdays: pd.Series, previous: pd.Series, poutcome: pd.Series,
                      campaign: pd.Series) -> None:
    days = pd.to_numeric(pdays, errors="coerce")
    frame["campaign"] = pd.to_numeric(campaign, errors="coerce").fillna(1).astype(float).to_numpy()
    frame["previous"] = pd.to_numeric(previous, errors="coerce").fillna(0).astype(float).to_numpy()
    frame["poutcome"] = poutcome.astype(object).fillna("").astype(str).replace("", "unknown").to_numpy()
    # pdays = -1 in the UCI file means "not contacted before": a flag, and the log of real days.
    frame["contacted_before"] = days.notna().astype(float).to_numpy()
    frame["pdays_log"] = np.log1p(days.clip(lower=0).fillna(0.0)).to_numpy(dtype=float)


def response_training_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per contact with an outcome: ``contact_order``, ``contact_date``, the FEATURES, ``subscribed``.

    ``rows``: PROFILE_COLUMNS, CONTACT_FEATURE_COLUMNS, ``contact_id``, ``contacted_on`` and
    ``responded`` (the training SQL). Rows are ordered by date, then by contact id.
    """
    if rows.empty:
        raise ValueError("No contacts with an outcome: nothing to learn responses from.")
    rows = rows.assign(contacted_on=pd.to_datetime(rows["contacted_on"])).sort_values(
        ["contacted_on", "contact_id"], kind="stable").reset_index(drop=True)
    frame = pd.DataFrame({ORDER: np.arange(len(rows), dtype=np.int64), "contact_date": rows["contacted_on"]})
    frame = frame.join(_profile_features(rows))
    _history_features(frame, pdays=rows["days_since_previous"], previous=rows["previous_contacts"],
                      poutcome=rows["previous_outcome"], campaign=rows["attempts"])
    # The call volume is computed once, in propensity.py, for its file and for these rows alike.
    frame = frame.join(previous_days_volume(frame["contact_date"]))
    frame[LABEL] = _flag(rows["responded"]).astype(np.int64).to_numpy()
    frame["customer_id"] = rows["customer_id"].to_numpy()
    return frame


def scoring_context(history_dates: pd.Series, *, as_of: pd.Timestamp) -> dict[str, float]:
    """The call volume features of a contact on the day after ``as_of``: the history's contacts on the
    1 / 7 / 30 days up to and including ``as_of``. propensity's own computation, with that day
    appended as one more contact (its own day never counts)."""
    scoring_day = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    dates = pd.to_datetime(history_dates).dt.normalize()
    dates = pd.concat([dates[dates < scoring_day], pd.Series([scoring_day])], ignore_index=True)
    volume = previous_days_volume(dates)
    return {column: float(volume[column].iloc[-1]) for column in CONTEXT_FEATURES}


def response_missing_inputs(rows: pd.DataFrame) -> pd.Series:
    """Per row, the RESPONSE_REQUIRED inputs it lacks, comma-separated ("" when it has them all)."""
    lacking = {
        "age": pd.to_numeric(rows["age"], errors="coerce").isna(),
        "marital_status": rows["marital_status"].astype(object).fillna("").astype(str).str.strip() == "",
        "current_account": pd.to_numeric(rows["current_accounts"], errors="coerce").fillna(0) < 1,
    }
    missing = pd.Series("", index=rows.index)
    for name in RESPONSE_REQUIRED:
        missing = missing.where(~lacking[name], missing + name + ",")
    return missing.str.rstrip(",")


def response_scoring_frame(rows: pd.DataFrame, *, as_of: pd.Timestamp, context: Mapping[str, float]) -> pd.DataFrame:
    """The FEATURES of each customer's next contact (see the module docstring).

    ``rows``: PROFILE_COLUMNS and the last contact with an outcome on or before ``as_of``
    (``last_contacted_on``, ``last_attempts``, ``last_previous_contacts``, ``last_responded``;
    null when never contacted).
    """
    frame = _profile_features(rows)
    last_day = pd.to_datetime(rows["last_contacted_on"])
    contacted = last_day.notna()
    responded = _flag(rows["last_responded"])
    previous = (pd.to_numeric(rows["last_previous_contacts"], errors="coerce").fillna(0)
                + pd.to_numeric(rows["last_attempts"], errors="coerce").fillna(0))
    _history_features(
        frame,
        pdays=((pd.Timestamp(as_of) - last_day).dt.days.clip(lower=0)).where(contacted),
        previous=previous.where(contacted, 0),
        poutcome=pd.Series(np.where(contacted, np.where(responded, "success", "failure"), ""), index=rows.index),
        campaign=pd.Series(1, index=rows.index),
    )
    for column in CONTEXT_FEATURES:
        frame[column] = float(context.get(column, 0.0))
    frame["customer_id"] = rows["customer_id"].to_numpy()
    return frame


# Typical values and the strongest driver

def reference_row(frame: pd.DataFrame, features: tuple[str, ...]) -> dict[str, object]:
    """The training data's typical value of each feature: the median, or the most frequent category."""
    reference: dict[str, object] = {}
    for feature in features:
        column = frame[feature]
        if feature in CATEGORICAL_FEATURES or column.dtype == object:
            reference[feature] = str(column.mode(dropna=True).sort_values().iloc[0])
        else:
            reference[feature] = float(column.median())
    return reference


@dataclass(frozen=True)
class Drivers:
    """Per row: the group that moved the score most, and whether it raised the score."""

    name: np.ndarray
    up: np.ndarray


def strongest_drivers(
    score: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame, *, groups: Mapping[str, tuple[str, ...]],
    reference: Mapping[str, object], scores: np.ndarray | None = None,
) -> Drivers:
    """For each row, the driver group whose replacement by its reference values changes ``score``
    most (ties: the first group listed). One extra scoring of the frame per group."""
    base = score(frame) if scores is None else scores
    effects = np.zeros((len(frame), len(groups)))
    for position, columns in enumerate(groups.values()):
        changed = frame.copy()
        for column in columns:
            changed[column] = reference[column]
        effects[:, position] = base - score(changed)
    strongest = np.abs(effects).argmax(axis=1)
    names = np.array(list(groups), dtype=object)[strongest]
    return Drivers(name=names, up=effects[np.arange(len(frame)), strongest] > 0)


def driver_details(frame: pd.DataFrame, names: np.ndarray) -> list[str]:
    """Each row's driver value as short text for the page (a number, a category, or "never")."""
    details = []
    for position, name in enumerate(names):
        row = frame.iloc[position]
        details.append(_detail(name, row))
    return details


def _detail(name: str, row: pd.Series) -> str:
    if name == "pdays":
        return str(int(round(math.expm1(row["pdays_log"])))) if row["contacted_before"] else "never"
    value = row[name]
    if isinstance(value, str):
        return value
    if name.endswith("_log"):  # log1p of a money amount, signed for balances
        value = math.copysign(math.expm1(abs(value)), value)
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


# Churn per customer

def churn_eligibility(features: pd.DataFrame, *, lookback_days: int, min_transactions: int) -> pd.Series:
    """Per account row, "" when the model can judge it (the training population's rule in
    churn.churn_labels), else TOO_NEW or TOO_QUIET."""
    reason = pd.Series("", index=features.index)
    reason = reason.where(features["transactions"] >= min_transactions, TOO_QUIET)
    return reason.where(features["days_since_first"] >= lookback_days, TOO_NEW)


def percentile_of(scores: np.ndarray, quantiles: list[float]) -> np.ndarray:
    """Share (0-1) of the training accounts scoring below each score, from the stored quantiles."""
    grid = np.asarray(quantiles, dtype=float)
    if len(grid) < 2:
        return np.full(len(scores), np.nan)
    below = np.searchsorted(grid, np.asarray(scores, dtype=float), side="right") - 1
    return below.clip(0, len(grid) - 1) / (len(grid) - 1)


# Scores with their reasons, one row per customer

PROPENSITY_COLUMNS = ("propensity", "propensity_reason", "propensity_detail", "propensity_up")
CHURN_COLUMNS = ("churn_risk", "churn_percentile", "churn_reason", "churn_detail", "churn_up")


def response_scores(model: propensity.ResponseModel, rows: pd.DataFrame) -> pd.DataFrame:
    """customer_id and PROPENSITY_COLUMNS for each row of the response scoring SQL.

    The model's report carries what scoring needs besides the rows: ``scoring_as_of``,
    ``scoring_context`` (the call volume) and ``reference`` (the typical values for reasons).
    A customer without RESPONSE_REQUIRED gets no score; the reason names what is missing.
    """
    out = pd.DataFrame({
        "customer_id": rows["customer_id"].to_numpy(), "propensity": np.nan, "propensity_reason": MISSING_INPUTS,
        "propensity_detail": response_missing_inputs(rows).to_numpy(), "propensity_up": None,
    })
    scorable = (out["propensity_detail"] == "").to_numpy()
    if scorable.any():
        report = model.report
        frame = response_scoring_frame(rows[scorable].reset_index(drop=True),
                                       as_of=pd.Timestamp(report["scoring_as_of"]), context=report["scoring_context"])
        scores = model.predict_proba(frame)
        drivers = strongest_drivers(model.predict_proba, frame, groups=RESPONSE_DRIVERS,
                                    reference=report["reference"], scores=scores)
        out.loc[scorable, "propensity"] = scores
        out.loc[scorable, "propensity_reason"] = drivers.name
        out.loc[scorable, "propensity_detail"] = driver_details(frame, drivers.name)
        out.loc[scorable, "propensity_up"] = drivers.up
    return out


def churn_scores(model: churn.ChurnModel, transactions: pd.DataFrame, holders: pd.DataFrame,
                 customer_ids: np.ndarray) -> pd.DataFrame:
    """customer_id and CHURN_COLUMNS for ``customer_ids``.

    ``transactions``: the customers' own accounts' rows booked before the report's
    ``scoring_cutoff``; ``holders``: (customer_id, account_id) of the accounts they own. A customer's
    risk is that of their riskiest account the model can judge (churn_eligibility); without one, no
    score and the reason why.
    """
    out = pd.DataFrame({"customer_id": customer_ids, "churn_risk": np.nan, "churn_percentile": np.nan,
                        "churn_reason": NO_TRANSACTIONS, "churn_detail": "", "churn_up": None})
    if transactions.empty:
        return out
    report = model.report
    features = churn.churn_features(transactions, cutoff=pd.Timestamp(report["scoring_cutoff"]).date(),
                                    lookback_days=report["lookback_days"])
    features = features.merge(holders, on="account_id", how="inner")
    features["not_judged"] = churn_eligibility(features, lookback_days=report["lookback_days"],
                                               min_transactions=report["min_transactions"]).to_numpy()
    judged = features[features["not_judged"] == ""].reset_index(drop=True)
    by_customer = out.set_index("customer_id")
    # Seen but not judged: too new wins over too quiet (a young account is not yet comparable at all).
    for reason in (TOO_QUIET, TOO_NEW):
        seen = features.loc[features["not_judged"] == reason, "customer_id"].unique()
        by_customer.loc[by_customer.index.intersection(seen), "churn_reason"] = reason
    if not judged.empty:
        judged["risk"] = model.predict_proba(judged)
        drivers = strongest_drivers(model.predict_proba, judged, groups=CHURN_DRIVERS, reference=report["reference"],
                                    scores=judged["risk"].to_numpy())
        judged["driver"], judged["up"] = drivers.name, drivers.up
        judged["detail"] = driver_details(judged, drivers.name)
        riskiest = judged.sort_values(["customer_id", "risk", "account_id"], ascending=[True, False, True],
                                      kind="stable").drop_duplicates("customer_id").set_index("customer_id")
        index = by_customer.index.intersection(riskiest.index)
        by_customer.loc[index, "churn_risk"] = riskiest.loc[index, "risk"]
        by_customer.loc[index, "churn_percentile"] = percentile_of(riskiest.loc[index, "risk"].to_numpy(),
                                                                   report["score_quantiles"])
        by_customer.loc[index, "churn_reason"] = riskiest.loc[index, "driver"]
        by_customer.loc[index, "churn_detail"] = riskiest.loc[index, "detail"]
        by_customer.loc[index, "churn_up"] = riskiest.loc[index, "up"]
    return by_customer.reset_index()
