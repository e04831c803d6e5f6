"""Logging filters named in settings.LOGGING: routine refusals without tracebacks, and request
lines without the query string (a customer search carries a national ID, phone or account number
there, and those must not land in server logs)."""

from __future__ import annotations

import logging
import re


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 is a routine refusal (a role or branch rule), not a fault: keep Django's one-line
    "Forbidden (Permission denied): <path>" warning and drop the traceback it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


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
