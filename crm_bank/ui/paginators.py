"""Pagination that never counts a million rows."""

from __future__ import annotations

import re
from functools import cached_property

from django.core.paginator import EmptyPage, Paginator
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tables2 import RequestConfig, Table


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
        return capped_count(queryset, cap=self.count_cap)

    @property
    def is_capped(self) -> bool:
        return self.count > self.count_cap


def capped_count(queryset: QuerySet, *, cap: int = CappedCountPaginator.count_cap, merge_join: bool = False) -> int:
    """How many rows `queryset` has, counting no further than cap + 1 (more than `cap`: "10,000+").

    No ORDER BY inside: sorting every match just to count it is waste. `merge_join`: for a list
    that intersects two large sorted sets (a branch's customers and a value tier's), tell PostgreSQL
    to walk both in id order once instead of probing one index per row of the other; the caller
    knows when that pays (segmentation.selectors.customer_tier_filter).
    """
    counted = queryset.order_by()[: cap + 1]
    if not merge_join:
        return counted.count()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL enable_hashjoin = off")
        count = counted.count()
        # Rolled back, not committed: inside a caller's transaction the block is a savepoint, and a
        # SET LOCAL outlives a released savepoint to the end of the transaction, where it would
        # force merge joins on every later query (the list's own page among them).
        transaction.set_rollback(True)
    return count


PER_PAGE_CHOICES = (25, 50, 100)
MAX_PAGE = 10_000  # deeper than anyone pages; keeps OFFSETs small and numbers in range


def id_from(value: str | None) -> int | None:
    """A row id from the query string or a form: ASCII digits only ("²" is a digit to str.isdigit,
    not to int), at most 18 of them (a bigint); None for anything else."""
    return int(value) if value and re.fullmatch(r"[0-9]{1,18}", value) else None


def positive_int(value: str | None, default: int, maximum: int = MAX_PAGE) -> int:
    """A whole number from the query string (ASCII digits only: "²" is a digit to str.isdigit)."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 9:
        return default
    number = int(value)
    return min(number, maximum) if number > 0 else default


def per_page_from(request: HttpRequest) -> int:
    """`?per_page=` if it is one of the offered sizes, else the first: never 100,000 rows, never -5."""
    per_page = positive_int(request.GET.get("per_page"), PER_PAGE_CHOICES[0])
    return per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]


def table_configure(request: HttpRequest, table: Table, *, known_count: int | None = None) -> int:
    """Orders `table` from the request and pages it with the clamped page size; returns that size.

    django-tables2's RequestConfig would read `per_page` and `page` from the query string as they
    come, so it only orders here and the paging is done with checked numbers.
    """
    per_page = per_page_from(request)
    RequestConfig(request, paginate=False).configure(table)
    page = positive_int(request.GET.get(table.prefixed_page_field), 1)
    try:
        table.paginate(paginator_class=CappedCountPaginator, per_page=per_page, page=page, known_count=known_count)
    except EmptyPage:
        table.paginate(paginator_class=CappedCountPaginator, per_page=per_page, page=1, known_count=known_count)
        table.paginate(paginator_class=CappedCountPaginator, per_page=per_page,
                       page=table.paginator.num_pages, known_count=known_count)
    return per_page
