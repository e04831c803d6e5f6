"""The per-customer feature columns the segmentation modules read: one list, so the clustering,
the rule language and the profiles agree on what a feature is called."""

from __future__ import annotations

# The columns k-means sees. `value` and `responded_before` are outcomes we
# profile segments by, not behaviour we cluster on.
CLUSTER_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency_12m",
    "monetary_in_12m",
    "monetary_out_12m",
    "deposit_balance",
    "loans_outstanding",
    "product_count",
    "n_current",
    "n_deposit",
    "n_loan",
    "n_mortgage",
    "n_card",
    "n_wealth",
    "n_insurance",
    "tenure_days",
    "age",
    "digital_share",
)

# Skewed (money and counts): compared on a log scale. Everything but tenure, age and the digital
# share, which are spread evenly enough as they are.
LOG_FEATURES: frozenset[str] = frozenset(CLUSTER_FEATURES) - {"tenure_days", "age", "digital_share"}

PRODUCT_CATEGORIES: tuple[str, ...] = ("current", "deposit", "loan", "mortgage", "card", "wealth", "insurance")

# Features of the frame that k-means leaves out but profiles and rules read: the 12 months' average
# deposit balance (close to the day's balance k-means sees) and the contacts from the interaction
# timeline (contacts and complaints in 12 months, the assisted share of inbound contacts).
PROFILED_FEATURES: tuple[str, ...] = ("average_balance", "contacts_12m", "complaints_12m", "assisted_share")

# What an analyst's rule may test: the clustering and profiled features and the outcomes profiles show.
RULE_FEATURES: frozenset[str] = frozenset({*CLUSTER_FEATURES, *PROFILED_FEATURES, "value", "responded_before"})
