"""Locale-aware money and the badges of the UI guide (colour is never the only signal)."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

from crm_bank.ui.names import person_name

register = template.Library()
_CODE_THEN_DIGIT = re.compile(r"^(-?)([A-Z]{3})(?=\d)")

_LIFECYCLE_BADGES = {
    "prospect": "text-bg-primary",
    "customer": "text-bg-info",
    "loyal": "text-bg-success",
    "dormant": "text-bg-warning",
    "closed": "text-bg-secondary",
}


def _babel_locale() -> str:
    return to_locale(get_language() or "en")


@register.filter
def money(value: Decimal | int | float | None, currency: str = "CZK") -> str:
    """`12345.67|money:"CZK"` → `CZK 12,345.67`; `¥12,345.67` for CNY in Chinese."""
    if value is None or value == "":
        return "—"
    text = format_currency(Decimal(value), currency, locale=_babel_locale())
    # CLDR glues a bare ISO code to the digits ("CZK12,345.67"); a no-break space reads better.
    return _CODE_THEN_DIGIT.sub("\\1\\2\xa0", text)


_TIER_BADGES = {"A": "badge-tier-a", "B": "badge-tier-b", "C": "badge-tier-c"}


@register.filter
def tier_badge(tier: str) -> str:
    """Gold, silver and grey for tiers A, B and C (with the tier's letter always written on it)."""
    return _TIER_BADGES.get(tier, "text-bg-light border")


@register.filter
def lifecycle_badge(stage: str) -> str:
    return _LIFECYCLE_BADGES.get(stage, "text-bg-light")


@register.filter
def person(user) -> str:
    """A member of staff by name, family name first for names in Chinese characters."""
    return person_name(given=user.first_name, family=user.last_name) or user.get_username()
