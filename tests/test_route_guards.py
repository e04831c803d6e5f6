"""Deny by default, proven over the whole URLconf: every route an anonymous visitor reaches sends them
to the login page (the API answers 401), and every route a signed-in user without a staff role
reaches answers 403 — so a new route without a guard fails here. The few public routes are listed
with the reason they are public."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Public by design: the login and logout pages, the load balancer's health check, the language switch.
PUBLIC = {"login", "logout", "healthz", "set_language"}
# Values for the routes' parameters (objects need not exist: the guard answers before any look-up).
SAMPLE = {"pk": "999999", "customer_pk": "999999", "run_id": "999999", "code": "A01", "username": "rm_a",
          "cif": "X0000001", "scope": "rm", "key": "rm_a", "kpi_code": "new-customers", "file_format": "csv"}


def _routes(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue  # Django admin: its own login, checked in test_health_and_admin.py
            inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (
                pattern.namespace or namespace)
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            yield prefix + str(pattern.pattern), name


def _url(route: str) -> str:
    """A concrete path for a route written with converters (<int:pk>) or as a regular expression."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE[m.group(1)], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE[m.group(1)], route)
    route = route.replace("^", "").replace("$", "").replace("\\.", ".")
    return "/" + route


ROUTES = [(route, name) for route, name in _routes(get_resolver().url_patterns)
          if name.split(":")[-1] not in PUBLIC and not route.startswith(settings.STATIC_URL.lstrip("/"))]


def _request(client, url: str):
    """GET, or POST where the route takes only POST (a 405 would hide what the guard does)."""
    response = client.get(url)
    return client.post(url) if response.status_code == 405 else response


def test_the_walk_covers_the_routes():
    names = {name for _route, name in ROUTES}
    assert len(ROUTES) > 80 and {"customers:customer-detail", "performance:diagnosis", "api:interaction-batch",
                                 "campaigns:approve", "segmentation:cross-sell"} <= names


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[name or route for route, name in ROUTES])
def test_an_anonymous_visitor_is_sent_to_log_in_or_refused_by_the_api(client, route, name):
    response = _request(client, _url(route))
    if route.startswith("api/"):
        assert response.status_code in (401, 403), (name, response.status_code)
    else:
        assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL)), (
            name, response.status_code)


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[name or route for route, name in ROUTES])
def test_a_user_without_a_staff_role_is_refused(client, no_role_user, route, name):
    client.force_login(no_role_user)
    response = _request(client, _url(route))
    assert response.status_code in ((401, 403) if route.startswith("api/") else (403,)), (name, response.status_code)
