"""Dates and times in the reader's locale formats without re-reading the format for every value.

django.utils.formats.date_format splits the format string with a regular expression and looks each
letter up as a method, for every value: 14-36 µs a date, and a 360° page or a list page writes 20-30
of them. Here each (format, language) is split once into text and field writers; formats with a
letter this module does not write (month names, weekdays, time zones) are left to date_format.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateformat import re_escaped, re_formatchars
from django.utils.formats import FORMAT_SETTINGS, date_format, get_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def _twelve_hour(value: datetime.datetime) -> int:
    return value.hour % 12 or 12


def _hour_and_minutes(value: datetime.datetime) -> str:
    """Django's "f": '1', '1:30'."""
    return f"{_twelve_hour(value)}:{value.minute:02d}" if value.minute else str(_twelve_hour(value))


def _meridiem(value: datetime.datetime) -> str:
    return _("p.m.") if value.hour > 11 else _("a.m.")


def _time_of_day(value: datetime.datetime) -> str:
    """Django's "P": '1 a.m.', '1:30 p.m.', 'midnight', 'noon'."""
    if value.minute == 0 and value.hour == 0:
        return _("midnight")
    if value.minute == 0 and value.hour == 12:
        return _("noon")
    return f"{_hour_and_minutes(value)} {_meridiem(value)}"


# Django's format letters that this module writes, exactly as django.utils.dateformat does.
_DATE_FIELDS: dict[str, Callable[[datetime.date], str]] = {
    "d": lambda v: f"{v.day:02d}", "j": lambda v: str(v.day),
    "m": lambda v: f"{v.month:02d}", "n": lambda v: str(v.month),
    "Y": lambda v: f"{v.year:04d}", "y": lambda v: f"{v.year % 100:02d}",
}
_TIME_FIELDS: dict[str, Callable[[datetime.datetime], str]] = {
    "H": lambda v: f"{v.hour:02d}", "G": lambda v: str(v.hour),
    "h": lambda v: f"{_twelve_hour(v):02d}", "g": lambda v: str(_twelve_hour(v)),
    "i": lambda v: f"{v.minute:02d}", "s": lambda v: f"{v.second:02d}",
    "a": _meridiem, "f": _hour_and_minutes, "P": _time_of_day,
}


@lru_cache(maxsize=64)
def _compiled(format_name: str, language: str | None) -> tuple[tuple[str | Callable, ...], bool] | None:
    """The format `format_name` of the active language as (pieces, needs a time), or None when it
    has a letter not in _DATE_FIELDS / _TIME_FIELDS."""
    pieces: list[str | Callable] = []
    needs_time = False
    for number, piece in enumerate(re_formatchars.split(str(get_format(format_name)))):
        if number % 2:
            writer = _DATE_FIELDS.get(piece) or _TIME_FIELDS.get(piece)
            if writer is None:
                return None
            needs_time = needs_time or piece in _TIME_FIELDS
            pieces.append(writer)
        elif piece:
            pieces.append(re_escaped.sub(r"\1", piece))
    return tuple(pieces), needs_time


@receiver(setting_changed)
def _formats_changed(*, setting: str, **kwargs) -> None:
    """A test that overrides a format (or where formats come from) gets it, as with get_format."""
    if setting in FORMAT_SETTINGS or setting in ("FORMAT_MODULE_PATH", "LANGUAGE_CODE", "LANGUAGES"):
        _compiled.cache_clear()


def local_date(value: datetime.date | datetime.datetime | None, format_name: str = "SHORT_DATE_FORMAT") -> str:
    """What date_format(value, format_name) writes (a datetime in the current time zone first);
    "" for None."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value)
    compiled = _compiled(format_name, get_language())
    if compiled is None or (compiled[1] and not isinstance(value, datetime.datetime)):
        return date_format(value, format_name)  # its own text, or its error for a time of a date
    return "".join(piece if type(piece) is str else piece(value) for piece in compiled[0])
