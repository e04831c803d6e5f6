"""The frame of a django-tables2 table whose template writes its own markup: headers with their
sort links and the pager, as plain values.

django-tables2's generic template renders every header and every pager link through template
tags that copy the query string each time; on a 25-row list that cost more than the rows. The
links and classes here are the ones it writes (`?sort=` from the column's next order, `?page=`,
th classes such as "orderable asc"), so the table reads and sorts the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_tables2 import Table
from django_tables2.templatetags.django_tables2 import table_page_range

register = template.Library()


@dataclass(frozen=True, slots=True)
class HeaderCell:
    label: str
    attrs: SafeString  # ' class="orderable asc"', as django-tables2 writes it
    url: str  # "" for a column that does not sort


@dataclass(frozen=True, slots=True)
class PageLink:
    label: str
    url: str  # "" for the "…" between page numbers
    current: bool


@dataclass(frozen=True, slots=True)
class TableFrame:
    headers: list[HeaderCell]
    previous_url: str
    next_url: str
    pages: list[PageLink]  # empty when everything fits on one page


def _leading_space(attrs: SafeString) -> SafeString:
    return format_html(" {}", attrs) if attrs else attrs


def _query_with(query: QueryDict, key: str, value) -> str:
    changed = query.copy()
    changed[key] = str(value)
    return f"?{changed.urlencode()}"


@register.simple_tag(takes_context=True)
def table_frame(context, table: Table) -> TableFrame:
    """`{% table_frame table as frame %}`: the table must have been paginated (table_configure)."""
    query = context["request"].GET
    headers = [
        HeaderCell(
            label=str(column.header), attrs=_leading_space(column.attrs["th"].as_html()),
            url=_query_with(query, table.prefixed_order_by_field, column.order_by_alias.next)
            if column.orderable else "",
        )
        for column in table.columns
    ]
    page, paginator = table.page, table.paginator
    page_field = table.prefixed_page_field
    pages = []
    if paginator.num_pages > 1:
        pages = [
            PageLink(label=str(number), url="" if number == "..." else _query_with(query, page_field, number),
                     current=number == page.number)
            for number in table_page_range(page, paginator)
        ]
    return TableFrame(
        headers=headers,
        previous_url=_query_with(query, page_field, page.previous_page_number()) if page.has_previous() else "",
        next_url=_query_with(query, page_field, page.next_page_number()) if page.has_next() else "",
        pages=pages,
    )
