"""Keeps what a signed-in user sees out of browser and proxy caches, and ends sessions that were
idle too long or have lasted too long."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext

from crm_bank.security.limits import RateLimited
from crm_bank.security.two_factor import authenticator_confirmed, session_verified, two_factor_required
from crm_bank.ui.redirects import redirect_for


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in user may carry customer data, so none may be stored.

    Static files never reach this: WhiteNoise (and runserver's static handler) answer them
    before the middleware that follows it, so they stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


# Session keys the timeout middleware keeps (seconds since the epoch).
SESSION_STARTED = "crm_signed_in_at"
SESSION_SEEN = "crm_last_seen_at"
# Sent by elements that refresh themselves (hx-headers): such requests do not count as activity.
POLL_HEADER = "X-CRM-Poll"
# The last-seen stamp is rewritten at most this often, so a busy page does not write its session
# on every request.
SEEN_RESOLUTION_SECONDS = 60


class SessionTimeoutMiddleware:
    """Signs out a session idle for CRM_SESSION_IDLE_SECONDS (30 minutes) or older than
    CRM_SESSION_ABSOLUTE_SECONDS (10 hours) from its sign-in, whatever its activity: the next
    request goes to the login page (an htmx request is told to go there), saying why. The sign-out
    is audited like any other."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            expired = self._expired(request)
            if expired:
                return self._sign_out(request, expired)
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest) -> str:
        now = time.time()
        session = request.session
        started = session.setdefault(SESSION_STARTED, now)
        seen = session.get(SESSION_SEEN, started)
        if now - started > settings.CRM_SESSION_ABSOLUTE_SECONDS:
            return "absolute"
        if now - seen > settings.CRM_SESSION_IDLE_SECONDS:
            return "idle"
        # A page polling on its own (the war room every 5 s) is not the user at work: it must not keep
        # an unattended session alive to its 10-hour limit.
        if request.headers.get(POLL_HEADER):
            return ""
        if now - seen >= SEEN_RESOLUTION_SECONDS or SESSION_SEEN not in session:
            session[SESSION_SEEN] = now
        return ""

    @staticmethod
    def _sign_out(request: HttpRequest, why: str) -> HttpResponse:
        from django.contrib import messages
        from django.contrib.auth import logout
        from django.shortcuts import resolve_url
        from django.utils.translation import gettext as _

        logout(request)
        messages.info(request, _("You were signed out after 30 minutes without activity.") if why == "idle"
                      else _("You were signed out: a session lasts at most 10 hours. Please sign in again."))
        login_url = resolve_url(settings.LOGIN_URL)
        return redirect_for(request, f"{login_url}?{urlencode({'next': request.get_full_path()})}", htmx_url=login_url)


class TwoFactorMiddleware:
    """Sends a signed-in user whose role needs a second factor (crm_bank.security.two_factor) to
    the code page, or to set up an authenticator if they have none, until the session is verified.
    Only those two pages, signing out and the language switch are reachable before that."""

    EXEMPT_URL_NAMES = ("two-factor-verify", "two-factor-setup", "logout", "set_language")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.user.is_authenticated and not session_verified(request) and two_factor_required(request.user)
                and request.path not in {reverse(name) for name in self.EXEMPT_URL_NAMES}):
            page = "two-factor-verify" if authenticator_confirmed(request.user) else "two-factor-setup"
            return redirect_for(request, f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class RateLimitedMiddleware:
    """A spent allowance (crm_bank.security.limits) answers 429 with Retry-After and says until when;
    an htmx request gets the notice alone, in place of the part it asked for. The refusal is on the
    audit trail (RefusedRequestAuditMiddleware, further out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RateLimited):
            return None
        template = "_rate_limited.html" if getattr(request, "htmx", False) else "429.html"
        response = render(request, template, {"notice": exception.notice()}, status=429)
        response["Retry-After"] = str(exception.retry_after)
        return response


class RequestBodyCapMiddleware:
    """Refuses a request whose declared body is longer than CRM_REQUEST_MAX_BYTES with 413, before
    the CSRF check or a form reads it: Django writes an upload to disk whole before any form sees
    its size. A body without a declared length is read as empty by Django, so it cannot go round."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads an unreadable length as no body
        limit = settings.CRM_REQUEST_MAX_BYTES
        if declared <= limit:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            detail = gettext("The request body is %(size)d bytes; at most %(limit)d are accepted.")
            return JsonResponse({"detail": detail % {"size": declared, "limit": limit}}, status=413)
        return HttpResponse(render_to_string("413.html", {"size": filesizeformat(declared),
                                                          "limit": filesizeformat(limit)}), status=413)
