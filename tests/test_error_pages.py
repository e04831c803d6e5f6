"""The error pages render with no request context and no database: a server error is a clean page,
in the reader's language, that says nothing was half-saved."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import path
from django.utils import translation


def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", _broken)]


@pytest.mark.parametrize(("template", "marker"), [("500.html", "server-error"), ("503.html", "database-unavailable")])
def test_error_pages_render_without_a_request_or_the_database(template, marker):
    page = render_to_string(template)  # no django_db mark: a query here would fail the test
    assert f'id="{marker}"' in page and "Branch CRM" in page
    with translation.override("zh-hans"):
        chinese = render_to_string(template)
    assert '<html lang="zh-hans">' in chinese and f'id="{marker}"' in chinese and chinese != page


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_an_unhandled_error_gives_the_clean_500_page():
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500 and 'id="server-error"' in response.content.decode()
