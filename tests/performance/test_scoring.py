"""The standard scoring, pure: achievement (direction-aware, capped), the weighted score, peer
groups by book size, ranks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performance.scoring import achievement, book_size_groups, ranks, weighted_score

numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@pytest.mark.parametrize(("actual", "target", "direction", "expected"), [
    (50, 100, "higher", 0.5), (150, 100, "higher", 1.5), (300, 100, "higher", 1.5), (-10, 100, "higher", 0.0),
    (0, 0, "higher", 1.0), (-1, 0, "higher", 0.0), (-50, -100, "higher", 1.5), (-150, -100, "higher", 0.5),
    (2, 1, "lower", 0.5), (1, 2, "lower", 1.5), (0, 2, "lower", 1.5), (0, 0, "lower", 1.0), (1, 0, "lower", 0.0),
    (None, 10, "higher", None), (10, None, "lower", None),
])
def test_achievement_against_hand_computed_figures(actual, target, direction, expected):
    assert achievement(actual=actual, target=target, direction=direction, cap=1.5) == (
        pytest.approx(expected) if expected is not None else None)


@given(actual=numbers, other=numbers, target=numbers, direction=st.sampled_from(["higher", "lower"]))
def test_achievement_stays_within_the_cap_and_moves_the_right_way(actual, other, target, direction):
    first = achievement(actual=actual, target=target, direction=direction, cap=1.5)
    second = achievement(actual=other, target=target, direction=direction, cap=1.5)
    assert 0.0 <= first <= 1.5
    better = other >= actual if direction == "higher" else other <= actual
    if better:
        assert second >= first - 1e-9


@given(target=st.floats(min_value=0.01, max_value=1e6), direction=st.sampled_from(["higher", "lower"]))
def test_on_target_is_one(target, direction):
    assert achievement(actual=target, target=target, direction=direction, cap=1.5) == pytest.approx(1.0)


def test_weighted_score_counts_each_kpi_up_to_its_target_and_skips_unweighted_or_missing():
    assert weighted_score([(0.5, 15), (1.3, 15)]) == 75.0  # over-achievement does not make up for a miss
    assert weighted_score([(0.5, 15), (None, 15), (0.0, 0)]) == 50.0
    assert weighted_score([(None, 10)]) is None and weighted_score([]) is None


def test_book_size_groups_in_thirds_named_by_their_range():
    groups = book_size_groups({1: 100, 2: 120, 3: 400, 4: 450, 5: 3000, 6: 3100})
    assert groups == {1: "100–120", 2: "100–120", 3: "400–450", 4: "400–450", 5: "3,000–3,100",
                      6: "3,000–3,100"}
    assert book_size_groups({}) == {}


def test_ranks_within_groups_share_ties_and_count_unscored_peers():
    scores = {1: 90.0, 2: 75.0, 3: 90.0, 4: None, 5: 60.0}
    groups = {1: "a", 2: "a", 3: "a", 4: "a", 5: "b"}
    assert ranks(scores, groups) == {1: (1, 4), 3: (1, 4), 2: (3, 4), 4: (None, 4), 5: (1, 1)}
