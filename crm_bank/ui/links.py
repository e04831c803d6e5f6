"""Paths of named routes without reverse()'s work on every use.

reverse() walks the URL resolver each time (about 20 µs): every page's navigation and header asked
for some fifteen fixed paths, and a list for the same route once per row. A route's path depends
only on its name (and id), the script prefix the site is served under and the URLconf, so it is
worked out once per prefix and URLconf and reused.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# An id no path would contain otherwise: the path reversed with it is split around it.
_ANY_ID = 918_273_645


def fixed_url(name: str) -> str:
    """reverse(name), for a route without arguments."""
    return _fixed(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


def id_url(name: str, object_id: int) -> str:
    """reverse(name, args=[object_id]), for a route whose one argument is an integer id."""
    before, after = _around_id(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{before}{int(object_id)}{after}"


@lru_cache(maxsize=512)
def _fixed(name: str, script_prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)


@lru_cache(maxsize=64)
def _around_id(name: str, script_prefix: str, urlconf: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_ANY_ID], urlconf=urlconf).rpartition(str(_ANY_ID))
    return before, after
