"""Learned customer segments: k-means on the per-customer feature frame.

Pure pandas / scikit-learn: a DataFrame in, a result out, no database and no
settings, so a run, a benchmark and a unit test all call the same code.

How a frame becomes segments (`learned_segments`):

1. Rows are sorted by ``customer_id``: the same customers give the same
   result whatever order the SQL returned them in.
2. Missing values (NaN, None, inf) are replaced by the column's median over
   the frame (0 if the whole column is missing). The median, not the mean,
   because money columns are heavily skewed and a few millionaires would
   otherwise decide what "typical" means for the customers we know nothing
   about. The medians are kept in the result's params.
3. Money and count columns get a signed ``log1p`` (sign(x)·log(1+|x|)), so a
   balance of 10 million does not sit a hundred standard deviations away from
   everyone else and swallow a cluster of its own; the sign keeps overdrafts
   apart from deposits. Then every column is standardised.
4. Unless ``k`` is fixed, each k in ``k_range`` (both ends included) is fitted
   on a seeded random sample of ``sample_size`` customers and scored by its
   silhouette there (silhouette is quadratic in rows: it is scored on at most
   SILHOUETTE_SIZE of the sample's rows, which keeps it under a second).
   The best score wins; on a tie, the smaller k. Fixed or chosen,
   k is fitted with full (Lloyd) k-means on the sample, and MiniBatchKMeans
   then refines those centres on every customer: a million rows in seconds,
   without the poor optima mini-batches find from a random start.
5. The final MiniBatchKMeans model's clusters are renumbered in a stable
   order — largest typical balances (deposits + loans) first — so segment 0 is
   the same kind of customer from one run to the next.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from segmentation.columns import CLUSTER_FEATURES, LOG_FEATURES
from segmentation.profiles import segment_names

BATCH_SIZE = 4096
N_INIT = 3
MAX_ITER = 100
# Silhouette is quadratic in rows: it is scored on this many customers of the sample (seeded), as
# sklearn's silhouette_score(sample_size=…) does. 20,000 rows cost 11 s a run on two busy cores for
# the same ranking of k within its noise; 6,000 cost well under one.
SILHOUETTE_SIZE = 6_000


@dataclass(frozen=True)
class SegmentationResult:
    """What a learned segmentation run keeps.

    ``labels``: segment per customer (index ``customer_id``, name ``segment``).
    ``centroids``: one row per segment, CLUSTER_FEATURES in original units
    (the model's centres mapped back through the scaler and the log).
    ``silhouette``: score per k tried (empty when k was fixed).
    ``params``: JSON-serialisable; with `assign_segments` it labels new
    customers exactly as this run would have.
    """

    labels: pd.Series
    centroids: pd.DataFrame
    k: int
    silhouette: dict[int, float]
    params: dict[str, Any]
    names: dict[int, str] = field(default_factory=dict)


# --- preparation -------------------------------------------------------------


def _raw_matrix(frame: pd.DataFrame) -> np.ndarray:
    """CLUSTER_FEATURES as float64, a non-finite value as NaN; column-major (Fortran order), so that
    each column's imputation and log below work on contiguous memory (at a million customers, this
    and `_transform` take about 0.3 s; on a row-major matrix they took 1.1 s)."""
    missing = [column for column in CLUSTER_FEATURES if column not in frame.columns]
    if missing:
        raise ValueError(f"The feature frame lacks the column(s): {', '.join(missing)}.")
    raw = np.empty((len(frame), len(CLUSTER_FEATURES)), dtype="float64", order="F")
    for j, column in enumerate(CLUSTER_FEATURES):
        # numeric columns from SQL can arrive as Decimal objects or nullable dtypes
        raw[:, j] = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        raw[~np.isfinite(raw[:, j]), j] = np.nan
    return raw


def _column_medians(raw: np.ndarray) -> np.ndarray:
    medians = np.zeros(raw.shape[1])
    for j in range(raw.shape[1]):
        column = raw[:, j]
        present = column[~np.isnan(column)]
        medians[j] = float(np.median(present)) if present.size else 0.0
    return medians


def _log_mask() -> np.ndarray:
    return np.array([column in LOG_FEATURES for column in CLUSTER_FEATURES])


def _transform(raw: np.ndarray, medians: np.ndarray) -> np.ndarray:
    """Impute in place with `medians`, then the signed log1p on skewed columns, a column at a time.
    The matrix keeps its column-major order: the scaler's means and variances are summed in the
    order they always were, so a run's results stay exactly those of the same data before."""
    for j, logged in enumerate(_log_mask()):
        column = raw[:, j]
        column[np.isnan(column)] = medians[j]
        if logged:
            column[:] = np.sign(column) * np.log1p(np.abs(column))
    return raw


def _untransform(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    logged = _log_mask()
    out[:, logged] = np.sign(out[:, logged]) * np.expm1(np.abs(out[:, logged]))
    return out


def _sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if "customer_id" not in frame.columns:
        raise ValueError("The feature frame has no customer_id column.")
    if frame["customer_id"].duplicated().any():
        raise ValueError("The feature frame lists a customer more than once.")
    return frame.sort_values("customer_id", kind="stable")


# --- fitting -----------------------------------------------------------------


def _sample_fit(sample: np.ndarray, k: int, seed: int) -> KMeans:
    """Full (Lloyd) k-means on the sample: cheap at this size, and it finds
    better optima than mini-batches do, both for ranking k and as the start
    of the fit on every customer."""
    model = KMeans(n_clusters=k, n_init=N_INIT, max_iter=300, random_state=seed)
    # Duplicates that leave fewer distinct groups than k are caught by the callers. One OpenMP
    # thread, set here in the thread that fits: OpenMP's thread count belongs to the calling thread,
    # so a limit set by the caller did not reach the pool's threads, which fitted on every core and
    # summed the centres' parts in whatever order the threads came back (results not reproducible).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(sample)


def _full_fit(matrix: np.ndarray, start: np.ndarray, seed: int) -> MiniBatchKMeans:
    """MiniBatchKMeans on every customer, started from the sample's centres."""
    model = MiniBatchKMeans(
        n_clusters=start.shape[0],
        init=start,
        n_init=1,
        batch_size=BATCH_SIZE,
        max_iter=MAX_ITER,
        random_state=seed,
    )
    # One OpenMP thread: a mini-batch step is too small to share, and on a
    # busy two-core machine the threads' spin-waits made a 1M-row fit six
    # times slower (23 s against 4 s). One thread also fixes the result.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(matrix)


def _choose_k(sample: np.ndarray, candidates: list[int], seed: int) -> tuple[dict[int, float], dict[int, KMeans]]:
    """Silhouette per candidate k, each k fitted on the sample alone.

    Fitting every candidate on a million rows would cost a full fit per k for
    the same answer; the sample is large enough to rank k, and the chosen k is
    then fitted on every customer. The silhouettes are scored on at most
    SILHOUETTE_SIZE rows of the sample.
    """
    fittable = [candidate for candidate in candidates if candidate <= sample.shape[0] - 1]
    # Two candidates at a time, each on one OpenMP thread (_sample_fit): the fits release the GIL, and
    # by the time a run gets here its chunks are done and both cores are free. Each fit has its own
    # seed, so the result is the same as one after the other.
    with ThreadPoolExecutor(max_workers=2) as pool:
        fitted = list(pool.map(lambda candidate: _sample_fit(sample, candidate, seed), fittable))
    models: dict[int, KMeans] = {}
    for candidate, model in zip(fittable, fitted, strict=True):
        if np.unique(model.labels_).size == candidate:  # fewer: too few distinct customers for this k
            models[candidate] = model
    scored = np.arange(sample.shape[0])
    if scored.size > SILHOUETTE_SIZE:
        scored = np.sort(np.random.default_rng(seed).choice(scored.size, size=SILHOUETTE_SIZE, replace=False))
    return sample_silhouettes(sample[scored], {k: m.labels_[scored] for k, m in models.items()}), models


def _check_k(k: int, n_customers: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be a whole number, not {k!r}.")
    if k < 2:
        raise ValueError(f"k must be at least 2 (got {k}): one segment is no segmentation.")
    if k > n_customers:
        raise ValueError(f"k = {k} is more segments than there are customers ({n_customers}).")


def _candidate_ks(k_range: tuple[int, int], n_customers: int) -> list[int]:
    low, high = int(k_range[0]), int(k_range[1])
    if low < 2 or high < low:
        raise ValueError(f"k_range must be (low, high) with 2 <= low <= high, got {k_range!r}.")
    # silhouette is defined for 2 <= k <= n_samples - 1
    high = min(high, n_customers - 1)
    if high < low:
        raise ValueError(
            f"Too few customers ({n_customers}) to choose k between {k_range[0]} and {k_range[1]}; fix k instead."
        )
    return list(range(low, high + 1))


def _stable_order(centroids: np.ndarray, sizes: np.ndarray, scaled_centres: np.ndarray) -> list[int]:
    """Raw cluster numbers, largest typical balances first.

    Ties (rare: identical balances) fall back on size, then on the scaled
    centre itself, so the order never depends on k-means' internal numbering.
    """
    deposit = CLUSTER_FEATURES.index("deposit_balance")
    loans = CLUSTER_FEATURES.index("loans_outstanding")
    keys = []
    for raw_label in range(centroids.shape[0]):
        balance = centroids[raw_label, deposit] + centroids[raw_label, loans]
        keys.append((-round(balance, 6), -int(sizes[raw_label]), tuple(np.round(-scaled_centres[raw_label], 9))))
    return sorted(range(centroids.shape[0]), key=lambda raw_label: keys[raw_label])


def sample_silhouettes(sample: np.ndarray, labelings: dict[int, np.ndarray], *, chunk: int = 256) -> dict[int, float]:
    """Mean silhouette of `sample` under each labelling, in one pass.

    The same value as sklearn's `silhouette_score` (Euclidean), but the
    pairwise distances — the whole cost — are computed once for every
    candidate k instead of once per k: per row block, the distances to all
    rows times a one-hot matrix of every labelling gives each row's summed
    distance to each cluster of each labelling. Labellings with fewer than
    two clusters in the sample are left out.

    The row blocks are small enough to stay in the processor's cache (at 1,024
    rows a block of 6,000 distances was 49 MB, and the five passes over it
    waited on memory) and are shared by two threads, each block's products on
    one BLAS thread: 0.11–0.16 s for six labellings of 6,000 rows against
    0.24–0.33 s in 1,024-row blocks on one thread.
    """
    labelings = {k: np.asarray(labels) for k, labels in labelings.items() if np.unique(labels).size >= 2}
    n = sample.shape[0]
    if not labelings or n < 3:
        return {}
    compact = {k: np.unique(labels, return_inverse=True)[1] for k, labels in labelings.items()}
    widths = {k: int(labels.max()) + 1 for k, labels in compact.items()}
    offsets = dict(zip(compact, np.cumsum([0, *widths.values()])[:-1], strict=True))
    one_hot = np.zeros((n, sum(widths.values())))
    for k, labels in compact.items():
        one_hot[np.arange(n), offsets[k] + labels] = 1.0
    squared = np.einsum("ij,ij->i", sample, sample)
    sums = np.empty_like(one_hot)

    def block_sums(start: int) -> None:
        stop = min(start + chunk, n)
        block = sample[start:stop] @ sample.T
        block *= -2.0
        block += squared[start:stop, None]
        block += squared[None, :]
        np.maximum(block, 0.0, out=block)
        np.sqrt(block, out=block)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        sums[start:stop] = block @ one_hot

    # Each block writes its own rows of `sums`; the BLAS limit is process-wide (OpenBLAS), so every
    # block's products are summed alike whichever thread runs it.
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(block_sums, range(0, n, chunk)))
    scores: dict[int, float] = {}
    rows = np.arange(n)
    for k, labels in compact.items():
        per_cluster = sums[:, offsets[k] : offsets[k] + widths[k]]
        counts = np.bincount(labels, minlength=widths[k]).astype("float64")
        own = counts[labels]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = per_cluster[rows, labels] / (own - 1.0)
            mean_other = per_cluster / counts
            mean_other[rows, labels] = np.inf
            b = mean_other.min(axis=1)
            s = (b - a) / np.maximum(a, b)
        # sklearn's convention: a customer alone in a cluster scores 0
        s[(own <= 1) | ~np.isfinite(s)] = 0.0
        scores[int(k)] = float(s.mean())
    return scores


def learned_segments(
    frame: pd.DataFrame,
    *,
    k: int | None = None,
    seed: int = 7,
    k_range: tuple[int, int] = (3, 8),
    sample_size: int = 20_000,
) -> SegmentationResult:
    """Cluster customers into segments; see the module docstring for the steps.

    Raises ValueError for an empty frame, missing columns, duplicated
    customers, a k below 2 or above the number of customers, and when the
    data holds fewer distinct customers than segments asked for.
    """
    ordered = _sorted_frame(frame)
    n_customers = len(ordered)
    if n_customers == 0:
        raise ValueError("There are no customers to segment.")
    if k is not None:
        _check_k(k, n_customers)
    candidates = [int(k)] if k is not None else _candidate_ks(k_range, n_customers)

    raw = _raw_matrix(ordered)
    medians = _column_medians(raw)
    scaler = StandardScaler()
    matrix = scaler.fit_transform(_transform(raw, medians))
    del raw

    rng = np.random.default_rng(seed)
    # at least k rows, so a fixed k can always be started from the sample
    sample_rows = min(n_customers, max(int(sample_size), int(k or 0)))
    sample = np.sort(rng.choice(n_customers, size=sample_rows, replace=False))

    silhouettes: dict[int, float] = {}
    if k is None:
        silhouettes, sample_models = _choose_k(matrix[sample], candidates, seed)
        if not silhouettes:
            raise ValueError(
                "The customers are too alike to split into segments (no k in the range gave distinct groups)."
            )
        # the best score wins; on a tie the smaller k (fewer segments to explain)
        chosen_k = max(silhouettes, key=lambda c: (round(silhouettes[c], 12), -c))
        start = sample_models[chosen_k].cluster_centers_
    else:
        chosen_k = int(k)
        with threadpool_limits(limits=1, user_api="openmp"):
            start = _sample_fit(matrix[sample], chosen_k, seed).cluster_centers_
    model = _full_fit(matrix, start, seed)
    if np.unique(model.labels_).size < chosen_k:
        raise ValueError(
            f"The data holds fewer distinct kinds of customer than k = {chosen_k} segments; choose a smaller k."
        )

    scaled_centres = model.cluster_centers_
    centres = _untransform(scaler.inverse_transform(scaled_centres))
    sizes = np.bincount(model.labels_, minlength=chosen_k)
    order = _stable_order(centres, sizes, scaled_centres)
    renumber = np.empty(chosen_k, dtype=np.int64)
    renumber[order] = np.arange(chosen_k)

    labels = pd.Series(
        renumber[model.labels_],
        index=pd.Index(ordered["customer_id"].to_numpy(), name="customer_id"),
        name="segment",
    )
    centroids = pd.DataFrame(
        centres[order], columns=list(CLUSTER_FEATURES), index=pd.RangeIndex(chosen_k, name="segment")
    )
    params: dict[str, Any] = {
        "algorithm": "KMeans on the sample, then MiniBatchKMeans from its centres",
        "sklearn_version": sklearn.__version__,
        "seed": seed,
        "k": chosen_k,
        "k_fixed": k is not None,
        "k_range": [int(k_range[0]), int(k_range[1])],
        "sample_size": int(sample.size),
        "silhouette_size": int(min(sample.size, SILHOUETTE_SIZE)),
        "batch_size": BATCH_SIZE,
        "n_init": N_INIT,
        "max_iter": MAX_ITER,
        "features": list(CLUSTER_FEATURES),
        "log_features": [column for column in CLUSTER_FEATURES if column in LOG_FEATURES],
        "impute_medians": medians.tolist(),
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        # centres in the scaled space, already in segment order
        "centres": scaled_centres[order].tolist(),
        "inertia": float(model.inertia_),
    }
    return SegmentationResult(
        labels=labels,
        centroids=centroids,
        k=chosen_k,
        silhouette=silhouettes,
        params=params,
        names=segment_names(centroids, ordered),
    )


def assign_segments(frame: pd.DataFrame, *, params: dict[str, Any]) -> pd.Series:
    """Label customers with a stored model: the nearest centre of `params`.

    For customers who arrived after the run; the same medians, scaler and
    centres are used, so a customer in the original frame keeps their segment.
    """
    if list(params["features"]) != list(CLUSTER_FEATURES):
        raise ValueError("The stored segmentation was made with other features; run the segmentation again.")
    ordered = _sorted_frame(frame)
    matrix = _transform(_raw_matrix(ordered), np.asarray(params["impute_medians"]))
    matrix = (matrix - np.asarray(params["scaler_mean"])) / np.asarray(params["scaler_scale"])
    centres = np.asarray(params["centres"])
    # |x - c|² = |x|² - 2x·c + |c|²; |x|² is the same for every centre
    distances = -2.0 * matrix @ centres.T + (centres**2).sum(axis=1)
    return pd.Series(
        np.argmin(distances, axis=1).astype(np.int64),
        index=pd.Index(ordered["customer_id"].to_numpy(), name="customer_id"),
        name="segment",
    )
