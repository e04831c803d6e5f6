"""Kinds register once; chunk_ranges splits the ids a step will read into even ranges."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from crm_bank.runs.errors import RunKindUnknown
from crm_bank.runs.registry import RunKind, chunk_ranges, kind_get, register, unregister


def _no_ranges(run: object) -> list[tuple[int, int]]:
    return []


def _no_rows(run: object, lo: int, hi: int) -> int:
    return 0


def test_register_same_kind_twice_is_harmless_other_steps_are_refused():
    kind = RunKind(name="test_registry", prepare=_no_ranges, process_chunk=_no_rows)
    try:
        register(kind)
        register(kind)  # AppConfig.ready() may run again (tests, autoreload)
        assert kind_get("test_registry") is kind
        with pytest.raises(ValueError, match="already registered"):
            register(RunKind(name="test_registry", prepare=_no_ranges, process_chunk=lambda run, lo, hi: 1))
    finally:
        unregister("test_registry")
    with pytest.raises(RunKindUnknown):
        kind_get("test_registry")


@pytest.mark.django_db
def test_chunk_ranges_splits_ids_with_gaps_into_even_contiguous_ranges():
    groups = [Group.objects.create(name=f"g{n}") for n in range(7)]
    for gap in groups[1:6:2]:
        gap.delete()
    ids = sorted(group.pk for group in groups if group.pk not in {groups[1].pk, groups[3].pk, groups[5].pk})

    # Each range starts right after the one before: the deleted ids between buckets (and a late row
    # that takes such an id) belong to the next range, not to none.
    assert chunk_ranges(Group.objects.all(), size=2) == [(ids[0], ids[1]), (ids[1] + 1, ids[3])]
    assert chunk_ranges(Group.objects.all(), size=3) == [(ids[0], ids[2]), (ids[2] + 1, ids[3])]
    assert chunk_ranges(Group.objects.filter(pk__gt=ids[0]), size=10) == [(ids[1], ids[3])]
    assert chunk_ranges(Group.objects.filter(name="none"), size=10) == []
    # At least min_chunks (rows permitting), never above size.
    assert chunk_ranges(Group.objects.all(), size=10, min_chunks=2) == [(ids[0], ids[1]), (ids[1] + 1, ids[3])]
    assert chunk_ranges(Group.objects.all(), size=10, min_chunks=3) == [(ids[0], ids[1]), (ids[1] + 1, ids[3])]
    one_each = [(ids[0], ids[0])] + [(before + 1, this) for before, this in zip(ids, ids[1:], strict=False)]
    assert chunk_ranges(Group.objects.all(), size=10, min_chunks=4) == one_each
    assert chunk_ranges(Group.objects.all(), size=10, min_chunks=9) == one_each
    assert chunk_ranges(Group.objects.all(), size=3, min_chunks=1) == [(ids[0], ids[2]), (ids[2] + 1, ids[3])]
    with pytest.raises(ValueError):
        chunk_ranges(Group.objects.all(), size=10, min_chunks=0)


@pytest.mark.django_db
def test_chunk_ranges_split_nearly_dense_ids_into_equal_spans(monkeypatch):
    groups = [Group.objects.create(name=f"d{n}") for n in range(40)]
    ids = [group.pk for group in groups]
    first, last = ids[0], ids[-1]
    assert last - first == 39  # one sequence, no gaps yet
    numbered = {}
    for size, min_chunks in ((10, 1), (7, 1), (100, 6), (3, 2)):
        monkeypatch.setattr("crm_bank.runs.registry.DENSE_IDS_SLACK", 0)  # every id numbered
        numbered[size, min_chunks] = chunk_ranges(Group.objects.all(), size=size, min_chunks=min_chunks)
        monkeypatch.undo()
        # Dense ids: the spans by arithmetic are the ranges the numbering gives.
        assert chunk_ranges(Group.objects.all(), size=size, min_chunks=min_chunks) == numbered[size, min_chunks]
    assert numbered[10, 1] == [(first + n, first + n + 9) for n in range(0, 40, 10)]
    assert numbered[100, 6] == [(first + n, min(first + n + 6, last)) for n in range(0, 40, 7)]

    # A few gaps (two ids in forty): still split by spans, each range at most `size` rows, contiguous,
    # every row in exactly one range.
    Group.objects.filter(pk__in=[ids[5], ids[17]]).delete()
    ranges = chunk_ranges(Group.objects.all(), size=10)
    assert ranges == [(first + n, first + n + 9) for n in range(0, 40, 10)]
    assert all(after[0] == before[1] + 1 for before, after in zip(ranges, ranges[1:], strict=False))
    remaining = sorted(Group.objects.values_list("pk", flat=True))
    assert sorted(pk for lo, hi in ranges for pk in remaining if lo <= pk <= hi) == remaining
    assert all(sum(lo <= pk <= hi for pk in remaining) <= 10 for lo, hi in ranges)
