"""A test-only run kind: each chunk counts the users in its id range; finish sums the counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum

from crm_bank.runs.models import Run, RunChunk
from crm_bank.runs.registry import RunKind, chunk_ranges, register, unregister
from tests.org.factories import UserFactory

KIND = "test_count_users"
User = get_user_model()


class CountUsers:
    """The steps of the test kind, counting how often each is called."""

    def __init__(self, chunk_size: int = 2) -> None:
        self.chunk_size = chunk_size
        self.calls: Counter[str] = Counter()

    def prepare(self, run: Run) -> list[tuple[int, int]]:
        self.calls["prepare"] += 1
        return chunk_ranges(User.objects.all(), size=self.chunk_size)

    def process_chunk(self, run: Run, lo: int, hi: int) -> int:
        self.calls["process_chunk"] += 1
        return User.objects.filter(pk__gte=lo, pk__lte=hi).count()

    def finish(self, run: Run) -> dict:
        self.calls["finish"] += 1
        return {"users": RunChunk.objects.filter(run=run).aggregate(total=Sum("rows"))["total"]}

    def kind(self, **overrides: object) -> RunKind:
        steps = {"prepare": self.prepare, "process_chunk": self.process_chunk, "finish": self.finish}
        return RunKind(name=KIND, version="test-1", **{**steps, **overrides})


@pytest.fixture
def count_users() -> CountUsers:
    return CountUsers()


@pytest.fixture
def register_kind() -> Iterator[Callable[[RunKind], None]]:
    """Registers the test kind (replacing any earlier registration) and removes it afterwards."""

    def _register(kind: RunKind) -> None:
        unregister(kind.name)
        register(kind)

    yield _register
    unregister(KIND)


@pytest.fixture
def five_users() -> list:
    return [UserFactory() for _ in range(5)]
