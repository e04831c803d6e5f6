"""Answers when the database goes away mid-request (a restart, a fail-over, a dropped connection).

The request's transaction is lost whole, so nothing is half-written; the user gets a clean
"try again" page (an API client a JSON 503 with Retry-After) instead of a traceback, and the broken
connection is closed at the end of the request, so the next request opens a new one: the app
recovers by itself when the database is back, without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
# Lost or refused connections; a plain DatabaseError (a bad query) stays a 500 and a traceback.
UNAVAILABLE = (OperationalError, InterfaceError)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE) and not _connection_lost(exception):
            return None
        logger.error("Database unavailable during %s %s: %s", request.method, request.path, exception)
        lost_connections_close()
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": "The database is unavailable; nothing was stored. Retry shortly."},
                                    status=503)
        else:
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def lost_connections_close() -> None:
    """Closes every database connection the server has dropped, so the next query opens a new one.
    One inside a transaction is left to the transaction's end (closing it there would hide the error)."""
    for database in connections.all(initialized_only=True):
        if database.connection is not None and not database.in_atomic_block and not database.is_usable():
            database.close()


def _connection_lost(exception: Exception) -> bool:
    """A DatabaseError raised because the server closed the connection (psycopg reports some of
    those as a plain DatabaseError once the connection is gone)."""
    return isinstance(exception, DatabaseError) and any(
        connection.connection is not None and connection.connection.closed
        for connection in connections.all(initialized_only=True)
    )
