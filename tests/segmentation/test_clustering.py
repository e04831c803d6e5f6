"""Learned segments, names, profiles and transitions: pure pandas, no database."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import silhouette_score

from segmentation.clustering import (
    _column_medians,
    _raw_matrix,
    _transform,
    assign_segments,
    learned_segments,
    sample_silhouettes,
)
from segmentation.columns import CLUSTER_FEATURES, LOG_FEATURES
from segmentation.models import segment_label
from segmentation.profiles import ENTERED, LEFT, SEGMENT_NAMES, segment_names, segment_profiles, transition_matrix

# Three kinds of customer, far apart on purpose: (age, deposits, loans, digital share, ...)
KINDS = {
    "young_digital": dict(
        age=26, deposit_balance=3_000, loans_outstanding=0, digital_share=0.92, recency_days=3, frequency_12m=120,
        n_loan=0, n_mortgage=0, n_card=1, n_wealth=0, tenure_days=700,
    ),
    "affluent_retired": dict(
        age=71, deposit_balance=2_500_000, loans_outstanding=0, digital_share=0.05, recency_days=20, frequency_12m=15,
        n_loan=0, n_mortgage=0, n_card=0, n_wealth=1, tenure_days=9_000,
    ),
    "borrower": dict(
        age=42, deposit_balance=1_500, loans_outstanding=350_000, digital_share=0.45, recency_days=10,
        frequency_12m=40, n_loan=1, n_mortgage=0, n_card=1, n_wealth=0, tenure_days=3_000,
    ),
}


def crafted_frame(per_kind: int = 200, seed: int = 3) -> pd.DataFrame:
    """`per_kind` customers of each KIND, with a little noise; ids shuffled across kinds."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind, centre in KINDS.items():
        for _ in range(per_kind):
            row = {"kind": kind}
            for column, value in centre.items():
                if column.startswith("n_"):
                    row[column] = value
                elif column == "digital_share":
                    row[column] = float(np.clip(value + rng.normal(0, 0.03), 0, 1))
                else:
                    row[column] = value * float(rng.uniform(0.85, 1.15))
            row.update(n_current=1, n_deposit=1, n_insurance=0, monetary_in_12m=row["frequency_12m"] * 300.0,
                       monetary_out_12m=row["frequency_12m"] * 280.0)
            row["product_count"] = sum(row[f"n_{c}"] for c in
                                       ("current", "deposit", "loan", "mortgage", "card", "wealth", "insurance"))
            row["value"] = row["deposit_balance"] * 0.015 + row["loans_outstanding"] * 0.025
            row["responded_before"] = int(rng.uniform() < {"young_digital": 0.3, "affluent_retired": 0.1,
                                                             "borrower": 0.0}[kind])
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(0, "customer_id", rng.permutation(len(frame)) + 1000)
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return crafted_frame()


@pytest.fixture(scope="module")
def result(frame):
    return learned_segments(frame.drop(columns="kind"), k=3, seed=7)


def kind_of_segment(frame: pd.DataFrame, labels: pd.Series) -> dict[int, str]:
    kinds = frame.set_index("customer_id")["kind"]
    return {int(s): kinds.loc[labels[labels == s].index].mode()[0] for s in sorted(labels.unique())}


def test_learned_segments_find_the_crafted_kinds(frame, result):
    assert result.k == 3
    assert result.silhouette == {}  # k was fixed
    assert result.labels.index.name == "customer_id"
    assert set(result.labels.index) == set(frame["customer_id"])
    # each kind falls whole into one segment
    per_kind = frame.set_index("customer_id")["kind"].to_frame().join(result.labels).groupby("kind")["segment"]
    assert (per_kind.nunique() == 1).all()
    assert per_kind.first().nunique() == 3


def test_learned_segments_number_segments_by_balance_descending(frame, result):
    # segment 0: the largest typical balances (deposits + loans), whatever k-means' internal numbering
    balances = result.centroids["deposit_balance"] + result.centroids["loans_outstanding"]
    assert list(balances) == sorted(balances, reverse=True)
    assert kind_of_segment(frame, result.labels) == {0: "affluent_retired", 1: "borrower", 2: "young_digital"}


def test_learned_segments_centroids_are_in_original_units(result):
    centroids = result.centroids
    assert list(centroids.columns) == list(CLUSTER_FEATURES)
    retirees = centroids.loc[0]
    assert 60 < retirees["age"] < 80
    assert 2_000_000 < retirees["deposit_balance"] < 3_000_000
    assert 250_000 < centroids.loc[1, "loans_outstanding"] < 450_000


def test_learned_segments_same_frame_and_seed_give_identical_results(frame, result):
    again = learned_segments(frame.drop(columns="kind"), k=3, seed=7)
    pd.testing.assert_series_equal(again.labels, result.labels)
    pd.testing.assert_frame_equal(again.centroids, result.centroids)
    assert again.params == result.params


def test_learned_segments_do_not_depend_on_row_order(frame, result):
    shuffled = frame.drop(columns="kind").sample(frac=1.0, random_state=11)
    again = learned_segments(shuffled, k=3, seed=7)
    pd.testing.assert_series_equal(again.labels, result.labels)


def test_learned_segments_keep_the_meaning_of_segment_zero_across_seeds(frame):
    for seed in (1, 2, 99):
        labels = learned_segments(frame.drop(columns="kind"), k=3, seed=seed).labels
        assert kind_of_segment(frame, labels)[0] == "affluent_retired"


def test_learned_segments_choose_k_by_silhouette_within_the_range(frame):
    result = learned_segments(frame.drop(columns="kind"), k_range=(2, 6), seed=7, sample_size=400)
    assert set(result.silhouette) <= set(range(2, 7))
    assert len(result.silhouette) >= 4
    assert 2 <= result.k <= 6
    assert result.k == max(result.silhouette, key=result.silhouette.get)
    # three well separated kinds: silhouette finds three
    assert result.k == 3
    assert result.params["sample_size"] == 400 and not result.params["k_fixed"]


def test_learned_segments_respect_a_fixed_k(frame):
    result = learned_segments(frame.drop(columns="kind"), k=5, seed=7)
    assert result.k == 5
    assert sorted(result.labels.unique()) == [0, 1, 2, 3, 4]
    assert len(result.centroids) == 5 and len(result.names) == 5


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (0, "k must be at least 2"),
        (1, "k must be at least 2"),
        (-3, "k must be at least 2"),
        (601, "more segments than there are customers (600)"),
        (2.5, "k must be a whole number"),
        (True, "k must be a whole number"),
    ],
)
def test_learned_segments_refuse_a_bad_k(frame, k, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        learned_segments(frame.drop(columns="kind"), k=k)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.iloc[0:0], "There are no customers to segment."),
        (lambda f: f.drop(columns="age"), "lacks the column(s): age"),
        (lambda f: pd.concat([f, f.iloc[:1]]), "lists a customer more than once"),
        (lambda f: f.drop(columns="customer_id"), "no customer_id column"),
    ],
)
def test_learned_segments_refuse_bad_frames(frame, change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        learned_segments(change(frame.drop(columns="kind")), k=3)


def test_learned_segments_refuse_a_bad_k_range(frame):
    with pytest.raises(ValueError, match=re.escape("k_range must be (low, high)")):
        learned_segments(frame.drop(columns="kind"), k_range=(5, 3))
    with pytest.raises(ValueError, match=re.escape("Too few customers (3)")):
        learned_segments(frame.drop(columns="kind").iloc[:3], k_range=(3, 8))


def test_learned_segments_refuse_more_segments_than_distinct_customers():
    twins = crafted_frame(per_kind=4).drop(columns="kind")
    twins[list(CLUSTER_FEATURES)] = twins[list(CLUSTER_FEATURES)].iloc[0].to_numpy()
    with pytest.raises(ValueError, match="fewer distinct kinds of customer than k = 3"):
        learned_segments(twins, k=3)
    with pytest.raises(ValueError, match="too alike to split"):
        learned_segments(twins, k_range=(2, 4))


def test_learned_segments_impute_missing_values_with_the_median(frame):
    holey = frame.drop(columns="kind").copy()
    holey["age"] = holey["age"].astype("float64")
    holey.loc[holey.index[:50], "age"] = np.nan
    holey.loc[holey.index[50:60], "deposit_balance"] = np.inf
    holey["n_insurance"] = pd.array([pd.NA] * len(holey), dtype="Int64")  # a column with no data at all
    result = learned_segments(holey, k=3, seed=7)
    assert result.labels.notna().all() and len(result.labels) == len(holey)
    medians = dict(zip(result.params["features"], result.params["impute_medians"], strict=True))
    assert medians["age"] == pytest.approx(float(np.nanmedian(holey["age"])))
    assert medians["n_insurance"] == 0.0
    assert np.isfinite(result.centroids.to_numpy()).all()


def test_the_matrix_k_means_sees_is_imputed_with_medians_then_signed_log1p_on_the_skewed_columns():
    rng = np.random.default_rng(11)
    values = rng.normal(0, 5000, size=(9, len(CLUSTER_FEATURES)))
    values[2, 0], values[4, 1], values[6, -1] = np.nan, np.inf, -np.inf
    frame = pd.DataFrame(values, columns=list(CLUSTER_FEATURES)).assign(customer_id=range(9), extra="ignored")

    raw = _raw_matrix(frame)
    matrix = _transform(raw, _column_medians(raw))

    for j, column in enumerate(CLUSTER_FEATURES):
        present = values[:, j][np.isfinite(values[:, j])]
        expected = np.where(np.isfinite(values[:, j]), values[:, j], np.median(present))
        if column in LOG_FEATURES:
            expected = np.sign(expected) * np.log1p(np.abs(expected))
        assert np.array_equal(matrix[:, j], expected), column


def test_assign_segments_with_stored_params_reproduce_the_labels(frame, result):
    again = assign_segments(frame.drop(columns="kind"), params=result.params)
    pd.testing.assert_series_equal(again, result.labels)


def test_sample_silhouettes_equal_sklearn():
    rng = np.random.default_rng(5)
    sample = rng.normal(size=(700, 6))
    labelings = {3: rng.integers(0, 3, 700), 4: (sample[:, 0] > 0) + 2 * (sample[:, 1] > 0), 1: np.zeros(700, int)}
    scores = sample_silhouettes(sample, labelings, chunk=128)
    assert set(scores) == {3, 4}  # a single cluster has no silhouette
    for k in (3, 4):
        assert scores[k] == pytest.approx(silhouette_score(sample, labelings[k]), abs=1e-9)


# --- names -------------------------------------------------------------------


def test_segment_names_describe_the_crafted_kinds(result):
    names = result.names
    assert names[0] == "affluent retirees"
    assert names[1] == "borrowers"
    assert names[2].startswith("young digital")


def test_segment_names_are_unique_and_from_the_vocabulary(frame):
    centroids = learned_segments(frame.drop(columns="kind"), k=3, seed=7).centroids
    twice = pd.concat([centroids, centroids.iloc[[2, 2]]], ignore_index=True)
    names = segment_names(twice, frame)
    assert len(set(names.values())) == len(names) == 5
    assert names[3] == names[2] + " (2)" and names[4] == names[2] + " (3)"
    for name in names.values():
        assert re.sub(r" \(\d+\)$", "", name) in SEGMENT_NAMES


def test_namesakes_are_told_apart_by_the_feature_they_differ_on_most(frame):
    centroids = learned_segments(frame.drop(columns="kind"), k=3, seed=7).centroids
    borrower = centroids.iloc[[1]]
    namesakes = pd.concat([borrower, borrower, borrower], ignore_index=True)
    namesakes["age"] = [48.0, 54.0, 42.0]  # the same borrowers but for their age (neither young nor senior)

    names = segment_names(namesakes, frame)

    assert names == {0: "borrowers|middle-aged", 1: "borrowers|older", 2: "borrowers|younger"}
    assert segment_label(names[1]) == "borrowers (older)"
    pair = segment_names(namesakes.iloc[[1, 2]].reset_index(drop=True), frame)
    assert pair == {0: "borrowers|older", 1: "borrowers|younger"}
    with translation.override("zh-hans"):
        assert segment_label(names[1]) == f"{translation.gettext('borrowers')} ({translation.gettext('older')})"
        assert translation.gettext("older") != "older"


def test_segment_names_call_an_average_centroid_mainstream(frame):
    typical = frame[list(CLUSTER_FEATURES)].median().to_frame().T
    typical["deposit_balance"] = frame["deposit_balance"].median()
    assert segment_names(typical, frame) == {0: "mainstream customers"}


def test_segment_names_spot_dormant_low_balance_customers(frame):
    dormant = frame[list(CLUSTER_FEATURES)].median().to_frame().T
    dormant["recency_days"] = 600
    dormant["deposit_balance"] = 20
    population = pd.concat([frame, dormant.assign(customer_id=1)])
    assert segment_names(dormant, population)[0] == "dormant low-balance"


def test_segment_names_tell_customers_without_an_own_account_and_loan_holders_without_amounts(frame):
    typical = frame[list(CLUSTER_FEATURES)].median().to_frame().T
    users = typical.assign(product_count=0.0, n_current=0.0, deposit_balance=0.0)
    loan_holders = typical.assign(n_loan=1.0, loans_outstanding=0.0)
    population = pd.concat([frame, users.assign(customer_id=1), loan_holders.assign(customer_id=2)])

    names = segment_names(pd.concat([users, loan_holders], ignore_index=True), population)

    assert names == {0: "customers without an open account of their own", 1: "borrowers"}


# --- profiles ----------------------------------------------------------------


def test_segment_profiles_sizes_and_shares_add_up(frame, result):
    profile = segment_profiles(frame, result.labels)
    assert profile["size"].sum() == len(frame)
    assert profile["share"].sum() == pytest.approx(1.0)
    assert profile["value_share"].sum() == pytest.approx(1.0)
    # the retirees hold most of the value
    assert profile.loc[0, "value_share"] > 0.8
    assert profile.loc[1, "penetration_loan"] == 1.0 and profile.loc[0, "penetration_loan"] == 0.0
    assert profile.loc[0, "penetration_wealth"] == 1.0
    assert profile.loc[2, "digital_share"] > 0.85
    penetration = profile.filter(like="penetration_")
    assert ((penetration >= 0) & (penetration <= 1)).all().all()


def test_segment_profiles_report_means_medians_and_response_rate():
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "age": [20, 30, 60, 80],
            "n_card": [1, 0, 0, 2],
            "value": [1.0, 3.0, 6.0, 0.0],
            "responded_before": [1, 0, 0, 0],
            "contacts_12m": [2, 4, 0, 10],
            "complaints_12m": [0, 1, 0, 2],
            "assisted_share": [0.0, 0.5, None, 1.0],
        }
    )
    labels = pd.Series([0, 0, 1, 1, 1], index=pd.Index([1, 2, 3, 4, 99], name="customer_id"))  # 99 not in frame
    profile = segment_profiles(frame, labels)
    assert profile["mean_contacts_12m"].tolist() == [3.0, 5.0]
    assert profile["mean_complaints_12m"].tolist() == [0.5, 1.0]
    assert profile["assisted_share"].tolist() == [0.25, 1.0]  # a customer without inbound contacts is left out
    assert profile["size"].tolist() == [2, 2]
    assert profile["mean_age"].tolist() == [25.0, 70.0]
    assert profile["median_value"].tolist() == [2.0, 3.0]
    assert profile["value_share"].tolist() == [0.4, 0.6]
    assert profile["penetration_card"].tolist() == [0.5, 0.5]
    assert profile["response_rate"].tolist() == [0.5, 0.0]
    assert "penetration_loan" not in profile.columns


def test_segment_profiles_without_value_or_responses(frame, result):
    profile = segment_profiles(frame.drop(columns=["value", "responded_before"]), result.labels)
    assert "value_share" not in profile.columns and "response_rate" not in profile.columns


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1e6)), min_size=1, max_size=60))
def test_segment_profiles_shares_always_sum_to_one(rows):
    frame = pd.DataFrame({"customer_id": range(len(rows)), "value": [v for _, v in rows], "age": 40})
    labels = pd.Series([s for s, _ in rows], index=frame["customer_id"])
    profile = segment_profiles(frame, labels)
    assert profile["size"].sum() == len(rows)
    assert profile["share"].sum() == pytest.approx(1.0)
    if frame["value"].sum() > 0:
        assert profile["value_share"].sum() == pytest.approx(1.0)


# --- transitions -------------------------------------------------------------


def test_transition_matrix_counts_moves_entries_and_exits():
    previous = pd.Series({1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2})
    current = pd.Series({1: 0, 2: 1, 3: 1, 4: 1, 5: 0, 7: 2, 8: 3})
    matrix = transition_matrix(previous, current)
    assert list(matrix.index) == [0, 1, 2, 3, ENTERED]
    assert list(matrix.columns) == [0, 1, 2, 3, LEFT]
    assert matrix.loc[0, 0] == 1 and matrix.loc[0, 1] == 1
    assert matrix.loc[1, 1] == 2
    assert matrix.loc[2, 0] == 1
    assert matrix.loc[2, LEFT] == 1  # customer 6
    assert matrix.loc[ENTERED, 2] == 1 and matrix.loc[ENTERED, 3] == 1  # customers 7 and 8
    # rows add up to the previous run, columns to the current one
    assert matrix.drop(index=ENTERED).sum(axis=1).tolist() == [2, 2, 2, 0]
    assert matrix.drop(columns=LEFT).sum(axis=0).tolist() == [2, 3, 1, 1]
    assert int(matrix.to_numpy().sum()) == len(previous.index.union(current.index))


def test_transition_matrix_refuses_duplicated_customers():
    with pytest.raises(ValueError, match="previous memberships list a customer more than once"):
        transition_matrix(pd.Series([0, 1], index=[1, 1]), pd.Series([0], index=[1]))


def test_choosing_k_fits_each_candidate_on_one_openmp_thread(monkeypatch):
    """OpenMP's thread count belongs to the thread that asks: a limit set around the pool did not
    reach its threads, whose fits then used every core and summed in no fixed order."""
    from sklearn.cluster import KMeans
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    from segmentation import clustering

    threads_seen = []

    class RecordingKMeans(KMeans):
        def fit(self, X, y=None, sample_weight=None):
            threads_seen.append(_openmp_effective_n_threads())
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(clustering, "KMeans", RecordingKMeans)
    sample = np.random.default_rng(3).normal(size=(300, 4))

    clustering._choose_k(sample, [2, 3, 4, 5], seed=7)

    assert threads_seen == [1, 1, 1, 1]
