"""Candidate duplicate pairs with their score, their decision and the reasons: pure pandas +
splink on an in-memory DuckDB, no database, no settings.

`candidate_pairs(frame)` looks for duplicates inside one frame (the "find duplicates" run);
`candidate_pairs(frame_a, frame_b)` links two frames and never pairs two records of the same one
(an import batch against the existing customers of its blocks). Frames hold the columns of
`normalise.FRAME_COLUMNS`: id, given_name, family_name, legal_name, national_id_type,
national_id, birth_date, gender, phone, email, address_line, city, postcode, country
(country = ISO 3166 alpha-2, the region a national phone number is read in).

The two thresholds are match probabilities (the model's belief that the pair is one customer,
given its fixed prior of about one match in a million random pairs; see `model.py`):

- `match_probability ≥ threshold_high` (default 0.999): **auto_merge** — about one wrong merge in a
  thousand at the line and far fewer above it; on the synthetic benchmark precision ≥ 0.99.
  A wrong merge mixes two people's money and data, so this line is set for precision.
- `threshold_low ≤ p < threshold_high` (default 0.5): **review** — a supervisor decides with both
  records side by side; a missed duplicate costs less than a wrong merge, so this band is wide.
- below `threshold_low`: **new** — different customers (such pairs are only returned with
  `include_new=True`).

The same national ID (of the same type) on both sides is deterministic: **auto_merge** whatever the
score (rule "national_id") — unless both birth dates are known and disagree beyond a day/month
swap: that is a data error (a mistyped ID, an ID on the wrong person), decided by the score like
any other pair but never below **review** (rule "national_id_conflict").

Each row carries, per comparison (name, birth_date, national_id, phone, email, address, gender),
its gamma level, the level's label ("given and family swapped", "day and month swapped", …) and
its weight in bits (log2 of the Bayes factor; negative = evidence against), so a reviewer sees
which fields made the score.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pandas as pd
from splink import DuckDBAPI, Linker

from customers.matching.model import COMPARISONS, LEVEL_LABELS, match_settings
from customers.matching.normalise import KEY_COLUMNS, normalise

DEFAULT_THRESHOLD_HIGH = 0.999
DEFAULT_THRESHOLD_LOW = 0.5
DECISIONS = ("auto_merge", "review", "new")
COMPARISON_NAMES = tuple(comparison.create_output_column_name() for comparison in COMPARISONS)
PAIR_COLUMNS = (
    "id_l",
    "id_r",
    "match_weight",
    "match_probability",
    "decision",
    "rule",
    *(f"{name}_{part}" for name in COMPARISON_NAMES for part in ("gamma", "level", "weight")),
)
# The birth_date levels that do not contradict a shared national ID.
_BIRTH_DATES_AGREE = [
    gamma for gamma, label in LEVEL_LABELS["birth_date"].items() if label in {"exact", "day and month swapped"}
]


def candidate_pairs(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame | None = None,
    *,
    threshold_low: float = DEFAULT_THRESHOLD_LOW,
    threshold_high: float = DEFAULT_THRESHOLD_HIGH,
    include_new: bool = False,
    threads: int | None = None,
) -> pd.DataFrame:
    """The scored candidate pairs (PAIR_COLUMNS), sorted by id_l, id_r; id_l from `frame_a`, id_r
    from `frame_b` (or both from `frame_a` with id_l first in frame order when deduplicating).

    Only blocked pairs are ever compared (`model.BLOCKING_RULES`). Pairs below `threshold_low`
    are left out unless `include_new`.
    """
    if not 0 < threshold_low <= threshold_high < 1:
        raise ValueError("thresholds must satisfy 0 < threshold_low ≤ threshold_high < 1")
    frames = [frame_a] if frame_b is None else [frame_a, frame_b]
    for frame in frames:
        _check_ids(frame)
    if sum(len(frame) for frame in frames) < 2 or any(frame.empty for frame in frames):
        return pd.DataFrame(columns=list(PAIR_COLUMNS))
    scored = _score(frames, include_below=None if include_new else threshold_low, threads=threads)
    pairs = _explain(scored, frames, threshold_low=threshold_low, threshold_high=threshold_high)
    return pairs.sort_values(["id_l", "id_r"], kind="stable", ignore_index=True)


def compared_pair_count(frame_a: pd.DataFrame, frame_b: pd.DataFrame | None = None) -> int:
    """How many pairs the blocking rules let through (each counted once) — the work of a run."""
    pairs = candidate_pairs(frame_a, frame_b, threshold_low=1e-9, threshold_high=1 - 1e-9, include_new=True)
    return len(pairs)


def _check_ids(frame: pd.DataFrame) -> None:
    if "id" not in frame.columns:
        raise ValueError("the frame needs an id column")
    if frame["id"].isna().any() or frame["id"].duplicated().any():
        raise ValueError("every row needs its own id (no empty or repeated ids)")


def _score(frames: list[pd.DataFrame], *, include_below: float | None, threads: int | None) -> pd.DataFrame:
    """Splink's predictions with `unique_id` = row position (0.. over frame_a then frame_b)."""
    offsets = np.cumsum([0, *(len(frame) for frame in frames)])
    with _quiet_duckdb(threads=threads) as connection:
        api = DuckDBAPI(connection)
        tables = []
        for index, frame in enumerate(frames):
            keys = normalise(frame)
            keys["unique_id"] = np.arange(offsets[index], offsets[index + 1], dtype="int64")
            keys = keys.astype({column: "string" for column in KEY_COLUMNS if column != "unique_id"})
            tables.append(api.register(keys, table_name=f"records_{'ab'[index]}"))
        link_type = "dedupe_only" if len(frames) == 1 else "link_only"
        linker = Linker(tables if len(tables) > 1 else tables[0], match_settings(link_type=link_type), log_level=None)
        predictions = linker.inference.predict(warning_mode="never")
        keep = (
            ""
            if include_below is None
            else (f"WHERE match_probability >= {float(include_below)!r} OR national_id_l = national_id_r")
        )
        scored = connection.sql(f"SELECT * FROM {predictions.physical_name} {keep}").df()  # noqa: S608
    # Link mode: the left id must come from frame_a (splink orders the pair by source table).
    swap = scored["unique_id_l"].to_numpy() > scored["unique_id_r"].to_numpy()
    if swap.any():
        left = [column for column in scored.columns if column.endswith("_l")]
        for column in left:
            right = column[:-2] + "_r"
            if right in scored.columns:
                values_l, values_r = scored[column].copy(), scored[right].copy()
                scored.loc[swap, column], scored.loc[swap, right] = values_r[swap], values_l[swap]
    return scored


def _explain(
    scored: pd.DataFrame, frames: list[pd.DataFrame], *, threshold_low: float, threshold_high: float
) -> pd.DataFrame:
    ids = np.concatenate([frame["id"].to_numpy(dtype=object) for frame in frames])
    probability = scored["match_probability"].to_numpy(dtype=float)
    same_id = (scored["national_id_l"] == scored["national_id_r"]).fillna(False).to_numpy(dtype=bool)
    birth_gamma = scored["gamma_birth_date"].to_numpy()
    conflict = same_id & (birth_gamma >= 0) & ~np.isin(birth_gamma, _BIRTH_DATES_AGREE)
    by_score = np.where(
        probability >= threshold_high, "auto_merge", np.where(probability >= threshold_low, "review", "new")
    )
    pairs = pd.DataFrame(
        {
            "id_l": ids[scored["unique_id_l"].to_numpy()],
            "id_r": ids[scored["unique_id_r"].to_numpy()],
            "match_weight": scored["match_weight"].to_numpy(dtype=float),
            "match_probability": probability,
            "decision": np.where(
                same_id & ~conflict, "auto_merge", np.where(conflict & (by_score == "new"), "review", by_score)
            ),
            "rule": np.where(conflict, "national_id_conflict", np.where(same_id, "national_id", "probabilistic")),
        }
    )
    for name in COMPARISON_NAMES:
        gamma = scored[f"gamma_{name}"].astype(int)
        pairs[f"{name}_gamma"] = gamma.to_numpy()
        pairs[f"{name}_level"] = gamma.map(LEVEL_LABELS[name]).to_numpy()
        pairs[f"{name}_weight"] = scored[f"mw_{name}"].astype(float).round(2).to_numpy()
    return pairs


@contextmanager
def _quiet_duckdb(*, threads: int | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB whose spill files (if a big run needs them) go to a temporary directory
    removed afterwards, with splink's log lines held back meanwhile."""
    splink_logger = logging.getLogger("splink")
    level = splink_logger.level
    splink_logger.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="crm-match-") as spill:
        config = {"temp_directory": spill, **({"threads": threads} if threads else {})}
        connection = duckdb.connect(":memory:", config=config)
        try:
            yield connection
        finally:
            connection.close()
            splink_logger.setLevel(level)
