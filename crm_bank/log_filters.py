"""Keeps customer identifiers out of server logs: a search for a national ID, phone or account
number travels in the query string, so request lines are logged without it."""

from __future__ import annotations

import logging
import re

_QUERY_STRING = re.compile(r"\?[^\s\"]*")


def without_query_string(text: str) -> str:
    """`GET /customers/?q=7103192745 HTTP/1.1` → `GET /customers/?… HTTP/1.1`."""
    return _QUERY_STRING.sub("?…", text)


class QueryStringScrubber(logging.Filter):
    """For the `django.server` logger (runserver's request lines) and `django.request` (4xx/5xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = without_query_string(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(without_query_string(a) if isinstance(a, str) else a for a in args)
        return True
