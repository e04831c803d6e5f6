"""Pagination that never counts a million rows."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator


class CappedCountPaginator(Paginator):
    """Counts at most `count_cap` rows; beyond that the list says "10,000+ results".

    An exact COUNT(*) over a million customers costs more than the page itself, and nobody
    pages past the 400th page: they narrow the search.
    """

    count_cap = 10_000

    def __init__(self, object_list, per_page, *args, known_count: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.known_count = known_count  # counted already, e.g. from the search indexes

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        # django-tables2 hands over its BoundRows; the queryset sits at .data.data.
        queryset = getattr(getattr(self.object_list, "data", None), "data", self.object_list)
        # No ORDER BY inside the capped count: sorting every match just to count it is waste.
        return queryset.order_by()[: self.count_cap + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > self.count_cap
