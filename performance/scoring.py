"""The standard scoring, pure: achievement of a KPI against its target, the weighted 0–100 score, peer
groups and ranks. No database; performance/runs.py feeds it the run's figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def achievement(*, actual: float | None, target: float | None, direction: str, cap: float) -> float | None:
    """How far `actual` reached `target`, 1 being on target, between 0 and `cap`; None without either.

    Higher is better: actual ÷ target for a positive target; in general 1 + (actual − target) ÷ |target|,
    so a negative target (an allowed outflow) works the same way; a zero target is met (1) by
    anything at or above it, missed (0) below. Lower is better: target ÷ actual for positive
    figures (nothing at all against a positive target earns the cap); in general
    1 + (target − actual) ÷ |target|; a zero target is met only at or below zero."""
    if actual is None or target is None:
        return None
    if direction == "lower":
        if target > 0:
            reached = cap if actual <= 0 else target / actual
        elif target == 0:
            reached = 1.0 if actual <= 0 else 0.0
        else:
            reached = 1 + (target - actual) / abs(target)
    elif target == 0:
        reached = 1.0 if actual >= 0 else 0.0
    else:
        reached = 1 + (actual - target) / abs(target)
    return min(max(reached, 0.0), cap)


def weighted_score(parts: Iterable[tuple[float | None, float]]) -> float | None:
    """0–100 from (achievement, weight) pairs: the weighted mean of the achievements, each counted up
    to 100 % (over-achieving one KPI does not make up for missing another). KPIs without an
    achievement or without a weight are left out; None when none is left."""
    total = weighted = 0.0
    for reached, weight in parts:
        if reached is None or weight <= 0:
            continue
        total += weight
        weighted += weight * min(reached, 1.0)
    return round(100 * weighted / total, 2) if total else None


def book_size_groups(sizes: Mapping[int, int]) -> dict[int, str]:
    """RMs' peer groups by book size (customers): thirds of the RMs by size, named by their range,
    so an RM with 300 customers is compared with RMs of similar books, not with one of 3,000."""
    ordered = sorted(sizes.items(), key=lambda item: (item[1], item[0]))
    if not ordered:
        return {}
    groups: dict[int, str] = {}
    thirds = [ordered[i * len(ordered) // 3:(i + 1) * len(ordered) // 3] for i in range(3)]
    for members in thirds:
        if not members:
            continue
        label = f"{members[0][1]:,}–{members[-1][1]:,}"
        groups.update({rm: label for rm, _size in members})
    return groups


def ranks(scores: Mapping[int, float | None], groups: Mapping[int, str]) -> dict[int, tuple[int | None, int]]:
    """(rank, peers) per id within its group: 1 is the best score; equal scores share a rank; no
    score, no rank (but counted among the peers)."""
    by_group: dict[str, list[int]] = {}
    for key, group in groups.items():
        by_group.setdefault(group, []).append(key)
    result: dict[int, tuple[int | None, int]] = {}
    for members in by_group.values():
        scored = sorted((scores[key] for key in members if scores.get(key) is not None), reverse=True)
        for key in members:
            score = scores.get(key)
            result[key] = (None if score is None else 1 + sum(1 for other in scored if other > score), len(members))
    return result
