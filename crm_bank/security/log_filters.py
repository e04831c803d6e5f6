"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 is a routine refusal (a role or branch rule), not a fault: keep Django's one-line
    "Forbidden (Permission denied): <path>" warning and drop the traceback it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
