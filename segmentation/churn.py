"""Churn (disengagement) risk per account from its transactions, learned on the PKDD'99 accounts.

Pure pandas / scikit-learn: a transactions frame in (``account_id, booked_on, amount, direction,
balance_after`` and optionally ``kind`` with the ``Transaction.Kind`` values), a model and its report out.

Label and windows
-----------------
Everything is relative to a ``cutoff`` date. Features come only from transactions booked *before* the
cutoff; the label only from the ``horizon_days`` starting *on* it, so no feature can see the outcome.

* **Eligible**: an account whose first transaction is at least ``lookback_days`` before the cutoff (a
  full observation window, so newly opened accounts ramping up are not compared with themselves) and with at
  least ``min_transactions`` customer-initiated transactions in ``[cutoff - lookback_days, cutoff)``.
* **Churned**: its customer-initiated transactions per day in the horizon fall to at most
  ``decline_ratio`` × its rate in the observation window. ``decline_ratio = 0`` is the literal "stopped";
  interest and fee postings (``kind`` ``interest`` / ``fee``) are the bank's, not the customer's, and never
  count as activity.

Why a decline and not a stop: the partial PKDD'99 file (1993-01-01 – 1994-03-30) has *no* account that
stops — of the ~540–900 accounts active before any cutoff from 1993-10 to 1994-01, none goes silent
afterwards (the bank's interest credits alone would keep every account "active", and even without them
each account still books ≈ 4–5 customer transactions a month). Accounts are young and their activity
grows. So the measurable risk is a fall of activity well below the account's own earlier level. The chosen
real-data windows: cutoff 1994-01-01, horizon 89 days (to the file's last complete day, 1994-03-30),
observation window 90 days, ``min_transactions`` 5, ``decline_ratio`` 0.8: 777 eligible accounts, 29 churned
(3.7 %; 14 at a ratio of 0.75, 1 at 0.5, 0 at 0). So few positives make the figures noisy (see ``LIMITS``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from segmentation.artefacts import StoredModel
from segmentation.propensity import capture_report

TRANSACTION_COLUMNS = ("account_id", "booked_on", "amount", "direction", "balance_after")
BANK_POSTED_KINDS = frozenset({"interest", "fee"})
FEATURES = (
    "transactions", "transactions_last_30d_rate", "transactions_trend", "credit_count", "debit_count",
    "credit_sum_log", "debit_sum_log", "net_flow_ratio", "last_balance_log", "balance_change_ratio",
    "min_balance_log", "days_since_last", "days_since_first", "cash_withdrawal_share", "mean_amount_log",
)
LABEL = "churned"
MODEL_VERSION = "churn-1"
TEST_SHARE = 0.3
LIMITS = (
    "Trained on the partial PKDD'99 transaction file: every transaction of 1,229 accounts from 1993-01-01 to "
    "1994-03-30 only (about 4.4% of the original rows; nothing later, so loans, cards and accounts opened "
    "after March 1994 are absent). No account stops transacting in that window, so 'churn' here means a "
    "fall of the account's own activity to at most the decline ratio of its earlier rate, not a closure. "
    "Accounts are young and activity grows over the window (and peaks in January 1994), so positives are "
    "few (a few per cent) and the AUC on a few hundred test accounts moves by several points with the seed. "
    "Much of what the model learns is regression to the mean: an account unusually busy in the observation "
    "window is likelier to fall below its own earlier rate, so the window's transaction count alone ranks "
    "almost as well (see baseline_test_auc_transactions_only; 0.83 over all eligible PKDD accounts). "
    "Treat the score as a ranking hint for follow-up, not as a closure probability."
)


def churn_features(transactions: pd.DataFrame, *, cutoff: dt.date, lookback_days: int = 90) -> pd.DataFrame:
    """One row per account seen before ``cutoff``: features from ``[cutoff - lookback_days, cutoff)`` only.

    Balances use every earlier row too (the last balance may be older than the window). Rows on or after
    the cutoff are ignored, so the same call serves training and scoring.
    """
    tx = _clean(transactions)
    cutoff_ts = pd.Timestamp(cutoff)
    start = cutoff_ts - pd.Timedelta(days=lookback_days)
    before = tx[tx["booked_on"] < cutoff_ts]
    if before.empty:
        raise ValueError(f"No transactions before the cutoff {cutoff_ts.date()}.")
    own = before[before["customer_initiated"]]
    window = own[own["booked_on"] >= start]
    by_account = before.groupby("account_id", sort=True)
    accounts = pd.Index(sorted(before["account_id"].unique()), name="account_id")

    def per_account(series: pd.Series) -> pd.Series:
        return series.reindex(accounts, fill_value=0).astype(float)

    recent_start = cutoff_ts - pd.Timedelta(days=min(30, lookback_days))
    count = per_account(window.groupby("account_id").size())
    recent = per_account(window[window["booked_on"] >= recent_start].groupby("account_id").size())
    earlier_days = max(lookback_days - 30, 1)
    credit = window[window["direction"] == "credit"]
    debit = window[window["direction"] == "debit"]
    credit_sum = per_account(credit.groupby("account_id")["amount"].sum())
    debit_sum = per_account(debit.groupby("account_id")["amount"].sum())
    cash_out = per_account(debit[debit["kind"] == "cash_out"].groupby("account_id").size())
    # Within a day file order is not booking order (PKDD quirk): the last row of the last day is close enough.
    last_balance = by_account["balance_after"].last().reindex(accounts)
    first_in_window = before[before["booked_on"] >= start].groupby("account_id")["balance_after"].first()
    opening = before[before["booked_on"] < start].groupby("account_id")["balance_after"].last()
    opening = opening.combine_first(first_in_window).reindex(accounts).fillna(0.0)
    window_all = before[before["booked_on"] >= start]
    min_balance = window_all.groupby("account_id")["balance_after"].min().reindex(accounts)
    last_own = own.groupby("account_id")["booked_on"].max().reindex(accounts)

    features = pd.DataFrame(index=accounts)
    features["transactions"] = count
    features["transactions_last_30d_rate"] = recent
    features["transactions_trend"] = recent - (count - recent) * 30 / earlier_days
    features["credit_count"] = per_account(credit.groupby("account_id").size())
    features["debit_count"] = per_account(debit.groupby("account_id").size())
    features["credit_sum_log"] = np.log1p(credit_sum)
    features["debit_sum_log"] = np.log1p(debit_sum)
    features["net_flow_ratio"] = (credit_sum - debit_sum) / (credit_sum + debit_sum + 1.0)
    features["last_balance_log"] = _signed_log(last_balance.fillna(0.0))
    features["balance_change_ratio"] = (last_balance.fillna(0.0) - opening) / (opening.abs() + 1000.0)
    features["min_balance_log"] = _signed_log(min_balance.fillna(last_balance).fillna(0.0))
    features["days_since_last"] = ((cutoff_ts - last_own).dt.days).fillna(float(lookback_days) * 2).astype(float)
    features["days_since_first"] = (cutoff_ts - by_account["booked_on"].min()).dt.days.astype(float)
    debits = features["debit_count"]
    features["cash_withdrawal_share"] = (cash_out / debits.where(debits > 0)).fillna(0.0)
    features["mean_amount_log"] = np.log1p((credit_sum + debit_sum) / count.where(count > 0)).fillna(0.0)
    return features.reset_index()


def churn_labels(
    transactions: pd.DataFrame, *, cutoff: dt.date, horizon_days: int, lookback_days: int = 90,
    min_transactions: int = 5, decline_ratio: float = 0.8,
) -> pd.DataFrame:
    """Eligible accounts with ``churned`` (0/1) and the ``activity_ratio`` it was decided from."""
    tx = _clean(transactions)
    cutoff_ts = pd.Timestamp(cutoff)
    if horizon_days < 1 or lookback_days < 1:
        raise ValueError("horizon_days and lookback_days must be at least 1.")
    horizon_end = cutoff_ts + pd.Timedelta(days=horizon_days)  # exclusive
    last_day = tx["booked_on"].max()
    if horizon_end - pd.Timedelta(days=1) > last_day:
        raise ValueError(
            f"The horizon ends on {(horizon_end - pd.Timedelta(days=1)).date()} but the data end on "
            f"{last_day.date()}: labels need data for the whole horizon. Move the cutoff back or shorten it."
        )
    start = cutoff_ts - pd.Timedelta(days=lookback_days)
    first_seen = tx.groupby("account_id")["booked_on"].min()
    own = tx[tx["customer_initiated"]]
    observed = own[(own["booked_on"] >= start) & (own["booked_on"] < cutoff_ts)].groupby("account_id").size()
    eligible = observed[(observed >= min_transactions) & (first_seen.reindex(observed.index) <= start)].index
    later = own[(own["booked_on"] >= cutoff_ts) & (own["booked_on"] < horizon_end)].groupby("account_id").size()
    ratio = (later.reindex(eligible, fill_value=0) / horizon_days) / (observed.reindex(eligible) / lookback_days)
    return pd.DataFrame({
        "account_id": eligible.to_numpy(),
        "activity_ratio": ratio.to_numpy(dtype=float),
        LABEL: (ratio <= decline_ratio).astype(np.int64).to_numpy(),
    })


@dataclass
class ChurnModel(StoredModel):
    """A fitted churn model, its report and the windows it was trained with."""

    features: tuple[str, ...] = FEATURES

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn risk per row of a ``churn_features`` frame."""
        _require_frame(frame, self.features, "accounts to score")
        return self._scores(frame)


def _candidates(seed: int) -> dict[str, BaseEstimator]:
    return {
        "logistic_regression": Pipeline([
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000, random_state=seed))]),
        "gradient_boosting": HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=100, max_leaf_nodes=7, min_samples_leaf=20, early_stopping=False,
            random_state=seed),
    }


def train_churn_model(
    frame: pd.DataFrame, *, cutoff: dt.date, horizon_days: int, seed: int = 7, lookback_days: int = 90,
    min_transactions: int = 5, decline_ratio: float = 0.8,
) -> ChurnModel:
    """Train and evaluate a churn model; see ``_train_churn_model``."""
    with threadpool_limits(limits=1):  # one native thread: fast on a busy two-core worker, reproducible
        return _train_churn_model(frame, cutoff=cutoff, horizon_days=horizon_days, seed=seed,
                                  lookback_days=lookback_days, min_transactions=min_transactions,
                                  decline_ratio=decline_ratio)


def _train_churn_model(
    frame: pd.DataFrame, *, cutoff: dt.date, horizon_days: int, seed: int, lookback_days: int,
    min_transactions: int, decline_ratio: float,
) -> ChurnModel:
    """Train and evaluate a churn model on a transactions frame.

    1. Labels from ``[cutoff, cutoff + horizon_days)``, features from before the cutoff only.
    2. Hold out 30 % of the eligible accounts, stratified by the label.
    3. Pick the family by stratified CV AUC on the training accounts; score the held-out accounts once.
    4. Headline, time-ordered: the family fitted one horizon earlier (``_time_ordered_figures``) and
       scored on every eligible account at the cutoff, as the model is used: trained on the past,
       applied to the next period.
    5. Second figure: out-of-fold 5-fold AUC over all eligible accounts (steadier with few positives).
    6. Refit on every eligible account for scoring.
    """
    labels = churn_labels(frame, cutoff=cutoff, horizon_days=horizon_days, lookback_days=lookback_days,
                          min_transactions=min_transactions, decline_ratio=decline_ratio)
    if labels.empty:
        raise ValueError("No account is eligible: none was active enough before the cutoff.")
    data = labels.merge(churn_features(frame, cutoff=cutoff, lookback_days=lookback_days), on="account_id")
    y = data[LABEL].to_numpy()
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise ValueError("Cannot train: the eligible accounts hold only one class (churned or not).")
    n_splits = min(5, positives, len(y) - positives)
    if n_splits < 2 or min(positives, len(y) - positives) < 4:
        raise ValueError(f"Too few accounts per class to evaluate ({positives} churned of {len(y)}).")
    x = data[list(FEATURES)]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SHARE, stratify=y, random_state=seed)
    chosen, selection = _family_selection(x_train, y_train, n_splits=min(n_splits, int(y_train.sum())), seed=seed)
    model = _candidates(seed)[chosen].fit(x_train, y_train)
    test_scores = model.predict_proba(x_test)[:, 1]
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    out_of_fold = cross_val_predict(_candidates(seed)[chosen], x, y, cv=folds, method="predict_proba")[:, 1]
    captured = capture_report(y_test, test_scores)
    report: dict[str, Any] = {
        "model_version": MODEL_VERSION,
        "model_family": chosen,
        "features": list(FEATURES),
        "seed": seed,
        "cutoff": pd.Timestamp(cutoff).date().isoformat(),
        "horizon_days": horizon_days, "lookback_days": lookback_days,
        "min_transactions": min_transactions, "decline_ratio": decline_ratio,
        "eligible_accounts": len(y), "churned_accounts": positives, "base_rate": float(y.mean()),
        "train_accounts": len(y_train), "test_accounts": len(y_test), "test_churned": int(y_test.sum()),
        "selection_cv_auc_train_part": selection,
        "test_auc": float(roc_auc_score(y_test, test_scores)),
        # The label divides by the observation window's activity, so that count alone is the bar to beat.
        "baseline_test_auc_transactions_only": float(roc_auc_score(y_test, x_test["transactions"])),
        "out_of_fold_auc": float(roc_auc_score(y, out_of_fold)),
        "capture_top20": captured["capture_top20"], "lift_top20": captured["lift_top20"],
        "lift_deciles": captured["lift_deciles"],
        "cash_withdrawals_known": bool("kind" in frame.columns),
        "limits": LIMITS,
        **_time_ordered_figures(frame, test=data, seed=seed, cutoff=cutoff, horizon_days=horizon_days,
                                lookback_days=lookback_days, min_transactions=min_transactions,
                                decline_ratio=decline_ratio),
    }
    return ChurnModel(estimator=_candidates(seed)[chosen].fit(x, y), report=report)


def _family_selection(x: pd.DataFrame, y: np.ndarray, *, n_splits: int, seed: int) -> tuple[str, dict[str, float]]:
    """The candidate family with the best mean AUC over stratified `n_splits`-fold CV on (x, y) alone
    (ties by name), and every family's mean AUC."""
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    selection = {name: float(cross_val_score(estimator, x, y, cv=folds, scoring="roc_auc", n_jobs=1).mean())
                 for name, estimator in _candidates(seed).items()}
    return max(selection, key=lambda name: (selection[name], name)), selection


def _time_ordered_figures(
    frame: pd.DataFrame, *, test: pd.DataFrame, seed: int, cutoff: dt.date, horizon_days: int,
    lookback_days: int, min_transactions: int, decline_ratio: float,
) -> dict[str, Any]:
    """The out-of-time test: a model fitted on the accounts eligible one horizon before the cutoff
    (their features before that date, their labels from the horizon that ends at the cutoff: nothing
    from the test period; its family chosen by cross-validation on them alone), then scored on every
    account eligible at the cutoff (`test`: its features and labels). The same accounts may appear in
    both, at different times. When the earlier period cannot be learned from (too little data, or
    too few accounts of a class), a note says why."""
    earlier = pd.Timestamp(cutoff) - pd.Timedelta(days=horizon_days)
    figures: dict[str, Any] = {"time_ordered_train_cutoff": earlier.date().isoformat()}
    try:
        labels = churn_labels(frame, cutoff=earlier.date(), horizon_days=horizon_days, lookback_days=lookback_days,
                              min_transactions=min_transactions, decline_ratio=decline_ratio)
        train = labels.merge(churn_features(frame, cutoff=earlier.date(), lookback_days=lookback_days),
                             on="account_id")
    except ValueError:  # no transaction before that date
        train = pd.DataFrame(columns=[LABEL, *FEATURES])
    positives = int(train[LABEL].sum()) if not train.empty else 0
    if min(positives, len(train) - positives) < 4:
        figures["time_ordered_note"] = (
            f"Not measured: one horizon earlier ({earlier.date().isoformat()}) {positives} of {len(train)} eligible "
            "accounts churned, too few of a class to learn from.")
        return figures
    x_train, y_train = train[list(FEATURES)], train[LABEL].to_numpy()
    family, _ = _family_selection(x_train, y_train, n_splits=min(5, positives, len(train) - positives), seed=seed)
    scores = _candidates(seed)[family].fit(x_train, y_train).predict_proba(test[list(FEATURES)])[:, 1]
    y_test = test[LABEL].to_numpy()
    captured = capture_report(y_test, scores)
    return {
        **figures, "time_ordered_model_family": family,
        "time_ordered_train_accounts": len(train), "time_ordered_train_churned": positives,
        "time_ordered_test_accounts": len(test), "time_ordered_test_churned": int(y_test.sum()),
        "time_ordered_test_auc": float(roc_auc_score(y_test, scores)),
        "time_ordered_baseline_auc_transactions_only": float(roc_auc_score(y_test, test["transactions"])),
        "time_ordered_capture_top20": captured["capture_top20"], "time_ordered_lift_top20": captured["lift_top20"],
        "time_ordered_lift_deciles": captured["lift_deciles"],
    }


def _clean(transactions: pd.DataFrame) -> pd.DataFrame:
    _require_frame(transactions, TRANSACTION_COLUMNS, "transactions")
    tx = transactions.loc[:, [c for c in (*TRANSACTION_COLUMNS, "kind") if c in transactions.columns]].copy()
    tx["booked_on"] = pd.to_datetime(tx["booked_on"], errors="coerce")
    if tx["booked_on"].isna().any():
        raise ValueError("Column 'booked_on' holds missing or unreadable dates.")
    if not tx["direction"].isin(["credit", "debit"]).all():
        raise ValueError("Column 'direction' must hold only 'credit' or 'debit'.")
    tx["amount"] = pd.to_numeric(tx["amount"], errors="raise").astype(float)
    tx["balance_after"] = pd.to_numeric(tx["balance_after"], errors="coerce").astype(float)
    if "kind" not in tx.columns:
        tx["kind"] = ""
    tx["kind"] = tx["kind"].fillna("").astype(str)
    tx["customer_initiated"] = ~tx["kind"].isin(BANK_POSTED_KINDS)
    return tx.sort_values(["account_id", "booked_on"], kind="stable")


def _signed_log(values: pd.Series) -> pd.Series:
    return np.sign(values) * np.log1p(values.abs())


def _require_frame(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"Expected a pandas DataFrame of {what}, got {type(frame).__name__}.")
    if frame.empty:
        raise ValueError(f"No {what}: the frame is empty.")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"The {what} lack required columns: {', '.join(missing)}.")
