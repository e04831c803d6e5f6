"""crm_bank.ui.fragments: a panel's rendering is kept under a key of everything it is rendered from, is
served for exactly that, and the cache failing or turned off never changes what the page shows."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone, translation
from pytest_django.asserts import assertTemplateNotUsed, assertTemplateUsed
from redis.exceptions import ConnectionError as RedisConnectionError

from crm_bank.ui import fragments
from crm_bank.ui.fragments import Panel, panel_key, panels_rendered, release_digest
from customers.models import Customer

MASKED_TEMPLATE = "customers/_masked.html"  # prints `value`, masked or not by `access.masked`


def _panel(value: str = "+420 777 111 222", *, masked: bool = False) -> Panel:
    return Panel(MASKED_TEMPLATE, {"value": value, "access": {"masked": masked}})


def test_panels_rendered_serves_a_kept_rendering_without_rendering_again():
    with assertTemplateUsed(MASKED_TEMPLATE, count=1):
        first = panels_rendered({"phone": _panel()})
    with assertTemplateNotUsed(MASKED_TEMPLATE):  # the second time from the cache
        again = panels_rendered({"phone": _panel()})
    assert again == first
    assert 'data-masked="false">+420 777 111 222</span>' in again["phone"]


def test_panels_rendered_renders_again_when_anything_it_shows_changes():
    with assertTemplateUsed(MASKED_TEMPLATE, count=3):
        panels_rendered({"phone": _panel()})
        changed = panels_rendered({"phone": _panel("+420 777 999 000")})
        masked = panels_rendered({"phone": _panel(masked=True)})
    assert "+420 777 999 000" in changed["phone"]
    assert 'data-masked="true"' in masked["phone"]
    assert 'data-masked="false"' not in masked["phone"]


def test_panel_key_is_the_same_for_equal_contexts_and_differs_by_each_input():
    key = panel_key(_panel())
    assert panel_key(_panel()) == key  # an equal context built again
    assert panel_key(_panel(masked=True)) != key
    assert panel_key(Panel("customers/_holdings_panel.html", _panel().context)) != key
    with translation.override("zh-hans"):
        assert panel_key(_panel()) != key
    with timezone.override("America/New_York"):
        assert panel_key(_panel()) != key
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
        assert panel_key(_panel()) != key  # "due soon" and "today" move with the date


def test_panels_rendered_in_another_language_is_that_language():
    english = panels_rendered({"none": _panel("")})["none"]
    with translation.override("zh-hans"):
        chinese = panels_rendered({"none": _panel("")})["none"]
    assert "not on file" in english
    assert "not on file" not in chinese


def test_panels_rendered_with_the_cache_off_keeps_nothing(settings):
    settings.CRM_PANEL_CACHE_SECONDS = 0
    with assertTemplateUsed(MASKED_TEMPLATE, count=2):
        panels_rendered({"phone": _panel()})
        panels_rendered({"phone": _panel()})
    assert cache.get(panel_key(_panel())) is None


def test_panels_rendered_renders_when_the_cache_fails(monkeypatch, caplog):
    def unavailable(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(fragments.shared_cache, "get_many", unavailable)
    monkeypatch.setattr(fragments.shared_cache, "set_many", unavailable)
    with caplog.at_level(logging.WARNING, logger="crm_bank.ui.fragments"):
        html = panels_rendered({"phone": _panel()})
    assert "+420 777 111 222" in html["phone"]
    assert [r.getMessage() for r in caplog.records] == [
        "panel cache unavailable: rendering the panels", "panel cache unavailable: panels not kept"]


def test_panels_rendered_refuses_a_context_that_cannot_be_keyed():
    """Every value must pickle: a key that left one out could serve another state's rendering."""
    with pytest.raises(TypeError, match="customers/_masked.html: every value a panel renders must pickle"):
        panels_rendered({"phone": Panel(MASKED_TEMPLATE, {"value": lambda: "x", "access": {}})})


def test_release_digest_changes_with_a_template_module_or_translation_not_with_tooling(settings, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "panel.html").write_text("<p>{{ value }}</p>")
    (tmp_path / "app.py").write_text("LABEL = 'a'\n")
    (tmp_path / "locale").mkdir()
    (tmp_path / "locale" / "django.mo").write_bytes(b"\x00")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "site.py").write_text("x = 1\n")
    settings.BASE_DIR = tmp_path

    def digest() -> str:
        release_digest.cache_clear()
        return release_digest()

    try:
        before = digest()
        (tmp_path / ".venv" / "site.py").write_text("x = 2\n")
        (tmp_path / "notes.txt").write_text("not code")
        assert digest() == before
        for path, text in (("templates/panel.html", "<p>{{ value }}!</p>"), ("app.py", "LABEL = 'b'\n"),
                           ("locale/django.mo", "\x01")):
            (tmp_path / path).write_text(text)
            after = digest()
            assert after != before, path
            before = after
    finally:
        release_digest.cache_clear()


@pytest.mark.django_db
def test_panel_key_of_a_model_row_follows_its_fields_not_djangos_bookkeeping(customer_a):
    def key(customer) -> str:
        return panel_key(Panel(MASKED_TEMPLATE, {"value": "", "access": {"customer": customer}}))

    fetched = Customer.objects.select_related("home_branch").get(pk=customer_a.pk)
    again = Customer.objects.select_related("home_branch").get(pk=customer_a.pk)
    again._state.db = "replica"
    assert key(again) == key(fetched)
    again.city = "Brno"
    assert key(again) != key(fetched)
    renamed = Customer.objects.select_related("home_branch").get(pk=customer_a.pk)
    renamed.home_branch.name = "Renamed branch"  # a row loaded with it counts too
    assert key(renamed) != key(fetched)
