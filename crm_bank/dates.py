"""Days as moments: where a query or a filter needs "from the start of this day", in the bank's time zone."""

from __future__ import annotations

import datetime

from django.utils import timezone


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` in the bank's time zone (TIME_ZONE), as an aware datetime."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())
