"""The record-linkage model: splink (Fellegi–Sunter on DuckDB) settings over the keys of
`normalise.py`. No database, no settings module.

Blocking — which pairs are compared at all. A pair is scored only if it agrees exactly on one of
`BLOCKING_RULES` (splink takes the union and scores each pair once), so the work grows with the
size of the blocks, not with n²: every key is either near-unique (national ID, phone, e-mail) or a
combination that splits a million customers into blocks of a handful (birth date + name
initials, postcode + name initials, the order-free name + birth year). The initials and the
order-free name are sorted, so a given/family swap still lands in the same block; a day/month swap
of the birth date is caught by the name, phone, e-mail and ID rules.

Parameters — why documented priors and not EM. Each comparison level carries an m probability
(how often a true duplicate looks like this) and a u probability (how often two different
customers do); the level's weight is log2(m/u). They are set here, from what a bank's customer
file looks like, rather than estimated by expectation maximisation on each run, because:

1. a pair's score must depend only on the two records — the same whether it is scored in an
   import of 30 rows, in the nightly duplicate run over a million customers or in a test — and
   EM re-fitted per run would move every score (and a 30-row batch cannot be fitted at all);
2. a model-risk reviewer can read and challenge each number here; they are versioned with the code
   (`MODEL_VERSION`, stored with a run) and checked by `bench/match_quality.py`;
3. the u of phone, e-mail and address is deliberately above the random-pair rate: family members
   share them (a household is correlated evidence, while Fellegi–Sunter assumes independent
   fields), so shared contact details alone never outweigh a different name and birth date.

`PRIOR_MATCH_PROBABILITY` is fixed for the same reason (a bank of about a million customers with a
few percent duplicates: ~1 pair in 10⁶ is a match), so scores do not change with the frame's size.
"""

from __future__ import annotations

from splink import SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl

MODEL_VERSION = "match-2025.1"
PRIOR_MATCH_PROBABILITY = 1e-6

# Pairs compared: the union of these exact-agreement rules (each an equi-join, none all pairs).
BLOCKING_RULES = (
    block_on("national_id"),
    block_on("phone"),
    block_on("email"),
    block_on("birth_date", "name_initials"),
    block_on("postcode", "name_initials"),
    block_on("name_sorted", "birth_year"),
)

# Comparison name → the labels of its levels by gamma value (−1 is "missing on one side").
LEVEL_LABELS: dict[str, dict[int, str]] = {}


def _level(creator: cll.CustomLevel | cll.NullLevel, label: str, m: float, u: float) -> cll.CustomLevel:
    return creator.configure(m_probability=m, u_probability=u, label_for_charts=label)


def _comparison(name: str, null_sql: str, agreeing: list[tuple[str, str, float, float]]) -> cl.CustomComparison:
    """`agreeing`: (label, SQL condition, m, u) from the most to the least alike; a last level
    "different" takes the rest of m and u (each sums to 1 over the levels)."""
    rest_m, rest_u = 1 - sum(m for *_, m, _ in agreeing), 1 - sum(u for *_, u in agreeing)
    if rest_m <= 0 or rest_u <= 0:
        raise ValueError(f"{name}: the m and u of the agreeing levels must sum to less than 1")
    levels = [*agreeing, ("different", "ELSE", rest_m, rest_u)]
    LEVEL_LABELS[name] = {-1: "missing", **{len(levels) - 1 - i: label for i, (label, *_) in enumerate(levels)}}
    null = cll.CustomLevel(null_sql, label_for_charts="missing").configure(is_null_level=True)
    body = [_level(cll.CustomLevel(sql), label, m, u) for label, sql, m, u in levels]
    return cl.CustomComparison(comparison_levels=[null, *body], output_column_name=name)


def _jw(column: str, left: str | None = None) -> str:
    return f"jaro_winkler_similarity({left or column + '_l'}, {column}_r)"


COMPARISONS = (
    _comparison(
        "name",
        "name_fg_l IS NULL OR name_fg_r IS NULL",
        [
            ("exact", "name_fg_l = name_fg_r", 0.82, 0.0008),
            ("given and family swapped", "name_fg_l = name_gf_r", 0.05, 0.0001),
            ("one typo", f"{_jw('name_fg')} >= 0.92", 0.07, 0.002),
            ("swapped with one typo", f"{_jw('name_fg', 'name_gf_l')} >= 0.92", 0.01, 0.0003),
            ("same given name, other family name", "given_l = given_r", 0.015, 0.004),
            ("same family name, other given name", "family_l = family_r", 0.015, 0.03),
        ],
    ),
    _comparison(
        "birth_date",
        "birth_date_l IS NULL OR birth_date_r IS NULL",
        [
            ("exact", "birth_date_l = birth_date_r", 0.85, 0.00005),
            ("day and month swapped", "birth_date_l = birth_swapped_r", 0.03, 0.00002),
            ("one digit differs", "levenshtein(birth_date_l, birth_date_r) <= 1", 0.05, 0.002),
            ("within a year", "abs(date_diff('day', birth_date_l::DATE, birth_date_r::DATE)) <= 366", 0.03, 0.02),
            ("two digits differ", "levenshtein(birth_date_l, birth_date_r) <= 2", 0.02, 0.01),
            ("within ten years", "abs(date_diff('day', birth_date_l::DATE, birth_date_r::DATE)) <= 3653", 0.015, 0.3),
        ],
    ),
    _comparison(
        "national_id",
        "national_id_l IS NULL OR national_id_r IS NULL"
        " OR split_part(national_id_l, ':', 1) <> split_part(national_id_r, ':', 1)",
        [
            ("exact", "national_id_l = national_id_r", 0.88, 0.000001),
            ("one character differs", "damerau_levenshtein(national_id_l, national_id_r) <= 1", 0.04, 0.00005),
        ],
    ),
    _comparison(
        "phone",
        "phone_l IS NULL OR phone_r IS NULL",
        [
            ("exact", "phone_l = phone_r", 0.6, 0.0002),
            ("one digit differs", "damerau_levenshtein(phone_l, phone_r) <= 1", 0.05, 0.0005),
        ],
    ),
    _comparison(
        "email",
        "email_l IS NULL OR email_r IS NULL",
        [
            ("exact", "email_l = email_r", 0.55, 0.0003),
            ("same user, other domain", "email_user_l = email_user_r", 0.05, 0.0005),
            ("one typo", f"{_jw('email')} >= 0.92", 0.05, 0.002),
        ],
    ),
    _comparison(
        "address",
        "(address_l IS NULL OR address_r IS NULL) AND (postcode_l IS NULL OR postcode_r IS NULL)",
        [
            (
                "exact",
                "address_l = address_r AND (postcode_l = postcode_r OR postcode_l IS NULL OR postcode_r IS NULL)",
                0.55,
                0.0008,
            ),
            ("similar", f"{_jw('address')} >= 0.9", 0.1, 0.001),
            ("same postcode", "postcode_l = postcode_r", 0.05, 0.01),
        ],
    ),
    _comparison(
        "gender",
        "gender_l IS NULL OR gender_r IS NULL",
        [
            ("same", "gender_l = gender_r", 0.97, 0.5),
        ],
    ),
)


def match_settings(*, link_type: str) -> SettingsCreator:
    """The splink settings for `link_type` "dedupe_only" (one frame) or "link_only" (two)."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        probability_two_random_records_match=PRIOR_MATCH_PROBABILITY,
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES),
        comparisons=list(COMPARISONS),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        linker_uid="crmmatch",  # fixed: splink draws a random one from the global RNG otherwise
    )
