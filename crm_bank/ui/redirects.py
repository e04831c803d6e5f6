"""A redirect that an htmx request follows as well as a plain one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


def redirect_for(request: HttpRequest, url: str, *, htmx_url: str | None = None) -> HttpResponse:
    """A 302 to `url`; for an htmx request a 204 with HX-Redirect to `htmx_url` (default `url`):
    htmx would swap a 3xx's target into the part of the page it asked for, not load it whole."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = htmx_url or url
        return response
    return HttpResponseRedirect(url)
