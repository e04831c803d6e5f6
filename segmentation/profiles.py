"""What a learned segmentation means: readable names from the centroids, per-segment profiles,
and who moved between two runs' segments. Pure pandas, no database and no settings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from segmentation.columns import CLUSTER_FEATURES, LOG_FEATURES, PRODUCT_CATEGORIES


def gettext_noop(message: str) -> str:
    """Mark a msgid for makemessages; the page that shows it translates it.

    Defined here rather than imported so this module stays free of Django.
    """
    return message


# --- names -------------------------------------------------------------------


def _population_z(centroids: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """How far each centroid sits from the population, in population SDs.

    Measured after the same log as the clustering, so "affluent" means far
    above the typical customer, not merely above a mean pulled up by a few.
    """
    z = pd.DataFrame(0.0, index=centroids.index, columns=list(CLUSTER_FEATURES))
    for column in CLUSTER_FEATURES:
        if column not in centroids.columns or column not in population.columns:
            continue
        values = pd.to_numeric(population[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        centre = pd.to_numeric(centroids[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if column in LOG_FEATURES:
            values = np.sign(values) * np.log1p(np.abs(values))
            centre = np.sign(centre) * np.log1p(np.abs(centre))
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        spread = float(values.std())
        if spread > 0:
            z[column] = np.nan_to_num((centre - float(values.mean())) / spread)
    return z


def _traits(centre: pd.Series, z: pd.Series) -> set[str]:
    """The notable traits of one centroid: z-scores against the population,
    guarded by absolute bounds so a population of pensioners does not call
    its 55-year-olds young."""

    def value(column: str) -> float:
        number = centre.get(column, math.nan)
        return float(number) if number is not None and not pd.isna(number) else math.nan

    traits: set[str] = set()
    if z["age"] <= -0.5 and value("age") < 40:
        traits.add("young")
    if z["age"] >= 0.5 and value("age") >= 55:
        traits.add("senior")
    if z["deposit_balance"] >= 1.0:
        traits.add("affluent")
    if z["deposit_balance"] >= 0.25:
        traits.add("saver")
    if z["deposit_balance"] <= -0.75:
        traits.add("low_balance")
    if z["loans_outstanding"] >= 0.75 and value("loans_outstanding") > 0:
        traits.add("borrower")
    # Holding loans counts even where the source gave no amount (the UCI campaign's personal loans).
    if z["n_loan"] >= 0.5 and value("n_loan") >= 0.5:
        traits.add("borrower")
    # Not one open account of their own: authorised users of someone else's account, prospects, or
    # customers whose accounts are all closed.
    if value("product_count") < 0.5:
        traits.add("no_own_account")
    if z["n_mortgage"] >= 0.5 and value("n_mortgage") >= 0.5:
        traits.add("mortgage")
    if z["digital_share"] >= 0.5 and value("digital_share") >= 0.5:
        traits.add("digital")
    if z["digital_share"] <= -0.5 and value("digital_share") <= 0.5:
        traits.add("branch")
    if z["recency_days"] >= 1.0 and value("recency_days") >= 90:
        traits.add("dormant")
    if z["frequency_12m"] >= 0.75:
        traits.add("active")
    if z["product_count"] >= 0.75 and value("product_count") >= 3:
        traits.add("multi_product")
    if z["tenure_days"] <= -1.0:
        traits.add("new")
    return traits


# First match wins: the most specific description first. Each name is a whole
# phrase (never assembled from words) so that it translates into any word order.
NAME_RULES: tuple[tuple[frozenset[str], str], ...] = tuple(
    (frozenset(required), name)
    for required, name in (
        ({"no_own_account"}, gettext_noop("customers without an open account of their own")),
        ({"dormant", "low_balance"}, gettext_noop("dormant low-balance")),
        ({"dormant"}, gettext_noop("dormant customers")),
        ({"affluent", "senior"}, gettext_noop("affluent retirees")),
        ({"affluent", "young"}, gettext_noop("young affluent savers")),
        ({"affluent", "borrower"}, gettext_noop("affluent borrowers")),
        ({"affluent", "digital"}, gettext_noop("affluent digital savers")),
        ({"affluent"}, gettext_noop("affluent savers")),
        ({"mortgage", "multi_product"}, gettext_noop("multi-product families")),
        ({"mortgage"}, gettext_noop("mortgage holders")),
        ({"young", "digital", "saver"}, gettext_noop("young digital savers")),
        ({"young", "digital"}, gettext_noop("young digital customers")),
        ({"borrower", "young"}, gettext_noop("young borrowers")),
        ({"borrower"}, gettext_noop("borrowers")),
        ({"multi_product"}, gettext_noop("multi-product customers")),
        ({"young", "low_balance"}, gettext_noop("young starters")),
        ({"young"}, gettext_noop("young customers")),
        ({"senior", "branch"}, gettext_noop("branch-loyal retirees")),
        ({"senior"}, gettext_noop("retirees")),
        ({"digital", "active"}, gettext_noop("active digital users")),
        ({"digital"}, gettext_noop("digital-first customers")),
        ({"branch"}, gettext_noop("branch-loyal customers")),
        ({"new"}, gettext_noop("new customers")),
        ({"low_balance"}, gettext_noop("low-balance customers")),
        ({"active"}, gettext_noop("active everyday bankers")),
        ((), gettext_noop("mainstream customers")),
    )
)

SEGMENT_NAMES: tuple[str, ...] = tuple(name for _, name in NAME_RULES)

# Segments that earn the same name are told apart by the feature on which they differ most (in
# population SDs): (feature, the highest's qualifier, the middle one's of three, the lowest's).
NAMESAKE_QUALIFIERS: tuple[tuple[str, str, str, str], ...] = (
    ("deposit_balance", gettext_noop("larger balances"), gettext_noop("mid-size balances"),
     gettext_noop("smaller balances")),
    ("loans_outstanding", gettext_noop("larger loans"), gettext_noop("mid-size loans"), gettext_noop("smaller loans")),
    ("age", gettext_noop("older"), gettext_noop("middle-aged"), gettext_noop("younger")),
    ("frequency_12m", gettext_noop("most active"), gettext_noop("moderately active"), gettext_noop("least active")),
    ("digital_share", gettext_noop("most digital"), gettext_noop("partly digital"), gettext_noop("least digital")),
    ("tenure_days", gettext_noop("longest-standing"), gettext_noop("established"), gettext_noop("newest")),
)
# Namesakes closer than this on every qualifying feature are numbered instead: " (2)", " (3)".
NAMESAKE_MIN_SPREAD = 0.25
# A qualified name is stored as "name|qualifier" (both msgids; segmentation.models.segment_label).
QUALIFIER_SEPARATOR = "|"


def _namesake_names(name: str, segments: list[int], z: pd.DataFrame) -> dict[int, str]:
    """Names for the segments (in segment order) that all earned `name`."""
    if 2 <= len(segments) <= 3:
        spreads = [(float(z.loc[segments, column].max() - z.loc[segments, column].min()), i)
                   for i, (column, *_) in enumerate(NAMESAKE_QUALIFIERS) if column in z.columns]
        spread, best = max(spreads, key=lambda item: (item[0], -item[1]), default=(0.0, 0))
        if spread >= NAMESAKE_MIN_SPREAD:
            column, high, middle, low = NAMESAKE_QUALIFIERS[best]
            ranked = sorted(segments, key=lambda segment: (-float(z.loc[segment, column]), segment))
            words = (high, low) if len(segments) == 2 else (high, middle, low)
            return {segment: f"{name}{QUALIFIER_SEPARATOR}{word}" for segment, word in zip(ranked, words, strict=True)}
    return {segment: name if n == 1 else f"{name} ({n})" for n, segment in enumerate(segments, start=1)}


def segment_names(centroids: pd.DataFrame, population: pd.DataFrame) -> dict[int, str]:
    """A readable English name (a msgid) per segment, unique within the run.

    Each centroid is compared with the whole population (`_traits`) and named
    by the first rule of NAME_RULES its traits satisfy. When two or three
    segments earn the same name, each gets a qualifier from the feature they
    differ on most ("mortgage holders|older", "mortgage holders|younger",
    NAMESAKE_QUALIFIERS); when they hardly differ, or there are more, the later
    ones (in segment order) get " (2)", " (3)"...
    """
    z = _population_z(centroids, population)
    earned: dict[str, list[int]] = {}
    for segment in centroids.index:
        traits = _traits(centroids.loc[segment], z.loc[segment])
        name = next(name for required, name in NAME_RULES if required <= traits)
        earned.setdefault(name, []).append(int(segment))
    by_number = z.set_axis([int(segment) for segment in z.index])
    names: dict[int, str] = {}
    for name, segments in earned.items():
        names.update(_namesake_names(name, segments, by_number))
    return dict(sorted(names.items()))


# --- profiles and transitions ------------------------------------------------

PROFILE_FEATURES: tuple[str, ...] = (
    "age",
    "tenure_days",
    "recency_days",
    "frequency_12m",
    "monetary_in_12m",
    "monetary_out_12m",
    "deposit_balance",
    "average_balance",
    "loans_outstanding",
    "product_count",
    "digital_share",
    "contacts_12m",
    "complaints_12m",
)


def segment_profiles(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """One row per segment: what an analyst reads about it.

    Columns: ``size``, ``share`` (of the labelled customers), ``value_share``
    (if the frame has ``value``), ``mean_<f>`` and ``median_<f>`` of the key
    features, ``penetration_<category>`` (share holding at least one product of
    the category), ``digital_share`` and ``assisted_share`` (mean channel
    shares: of transactions made digitally, of inbound contacts made at a
    branch, call centre or service centre) and
    ``response_rate`` (if the frame has ``responded_before``). Customers of
    the frame without a label, and labels of customers not in the frame, are
    left out, so sizes add up to the customers profiled.
    """
    if labels.index.has_duplicates:
        raise ValueError("The labels list a customer more than once.")
    data = frame.set_index("customer_id")
    data = data.join(labels.rename("_segment"), how="inner")
    numeric_columns = [
        column
        for column in (*PROFILE_FEATURES, *(f"n_{c}" for c in PRODUCT_CATEGORIES), "assisted_share", "value",
                       "responded_before")
        if column in data.columns
    ]
    numbers = data[numeric_columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    numbers["_segment"] = data["_segment"].to_numpy()
    groups = numbers.groupby("_segment", sort=True)

    profile = pd.DataFrame(index=pd.Index(sorted(numbers["_segment"].unique()), name="segment"))
    profile["size"] = groups.size().astype("int64")
    total = int(profile["size"].sum())
    profile["share"] = profile["size"] / total if total else np.nan
    if "value" in numbers.columns:
        value_total = float(numbers["value"].sum())
        profile["value_share"] = groups["value"].sum() / value_total if value_total else np.nan
    for column in (*PROFILE_FEATURES, "value"):
        if column in numbers.columns:
            profile[f"mean_{column}"] = groups[column].mean()
            profile[f"median_{column}"] = groups[column].median()
    for category in PRODUCT_CATEGORIES:
        column = f"n_{category}"
        if column in numbers.columns:
            profile[f"penetration_{category}"] = (numbers[column] >= 1).groupby(numbers["_segment"]).mean()
    for share in ("digital_share", "assisted_share"):
        if share in numbers.columns:
            profile[share] = groups[share].mean()
    if "responded_before" in numbers.columns:
        profile["response_rate"] = groups["responded_before"].mean()
    return profile


ENTERED = "entered"
LEFT = "left"


def transition_matrix(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Who moved from which segment to which between two runs.

    Both series map customer_id → segment. Cell (a, b) counts customers in
    segment a before and b now. The extra column ``left`` counts, per previous
    segment, customers absent from the current run; the extra row ``entered``
    counts, per current segment, customers absent from the previous one.
    """
    for name, series in (("previous", previous), ("current", current)):
        if series.index.has_duplicates:
            raise ValueError(f"The {name} memberships list a customer more than once.")
    previous = previous.dropna()
    current = current.dropna()
    segments = sorted(set(previous.unique()) | set(current.unique()), key=lambda s: (str(type(s)), s))
    both = previous.index.intersection(current.index)
    moved = pd.crosstab(previous.loc[both].to_numpy(), current.loc[both].to_numpy())
    matrix = moved.reindex(index=segments, columns=segments, fill_value=0).astype("int64")
    left = previous.loc[previous.index.difference(current.index)].value_counts()
    entered = current.loc[current.index.difference(previous.index)].value_counts()
    matrix[LEFT] = left.reindex(segments, fill_value=0).astype("int64").to_numpy()
    entered_row = entered.reindex(segments, fill_value=0).astype("int64").tolist() + [0]
    matrix.loc[ENTERED] = entered_row
    matrix.index.name = "previous"
    matrix.columns.name = "current"
    return matrix.astype("int64")
