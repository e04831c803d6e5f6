"""Both languages: the switcher, translated pages, and money/dates per locale."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from crm_bank.ui.templatetags.crm_format import money

pytestmark = pytest.mark.django_db


def test_language_switcher_turns_pages_chinese_and_back(client, rm_a, customer_a):
    client.force_login(rm_a)
    detail = reverse("customers:customer-detail", args=[customer_a.pk])
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": detail})
    assert response.status_code == 302
    page = client.get(detail).content.decode()
    assert 'lang="zh-hans"' in page and "持有产品" in page and "客户经理" in page
    client.post(reverse("set_language"), {"language": "en", "next": detail})
    assert "Holdings" in client.get(detail).content.decode()


def test_login_page_switches_language_without_signing_in(client):
    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("login")})
    assert "登录" in client.get(reverse("login")).content.decode()


def test_money_formats_per_locale():
    with translation.override("en"):
        assert money(Decimal("12345.67"), "CZK") == "CZK\xa012,345.67"
        assert money(Decimal("-5"), "EUR").startswith("-€")
    with translation.override("zh-hans"):
        assert money(Decimal("12345.67"), "CNY") == "¥12,345.67"
    assert money(None, "CZK") == "—"


def test_dates_follow_the_locale(client, rm_a, customer_a):
    import datetime as dt

    customer_a.birth_date = dt.date(1971, 3, 19)
    customer_a.save(update_fields=["birth_date"])
    client.force_login(rm_a)
    detail = reverse("customers:customer-detail", args=[customer_a.pk])
    assert "03/19/1971" in client.get(detail).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": detail})
    assert "1971年3月19日" in client.get(detail).content.decode()


def test_chinese_catalogue_is_complete_and_compiled():
    """Every message has a Chinese translation, none fuzzy, and the .mo is not older than the .po."""
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
    text = (folder / "django.po").read_text(encoding="utf-8")
    entries = [e for e in text.split("\n\n")[1:] if "msgid" in e and not e.lstrip().startswith("#~")]
    untranslated = [e for e in entries if e.rstrip().endswith('msgstr ""') or 'msgstr[0] ""' in e.splitlines()[-1]]
    fuzzy = [e for e in entries if "#, fuzzy" in e]
    assert len(entries) > 300
    assert not untranslated, untranslated[:3]
    assert not fuzzy, fuzzy[:3]
    assert _compiled_catalogue(folder / "django.mo") == _source_catalogue(folder / "django.po")


def _source_catalogue(po_path) -> dict:
    """What compiling the .po gives: every translated message, keyed as gettext keys them."""
    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    compiled = {}
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        prefix = f"{message.context}\x04" if message.context else ""
        if isinstance(message.id, tuple | list):
            for index, text in enumerate(message.string):
                compiled[(prefix + message.id[0], index)] = text
        else:
            compiled[prefix + message.id] = message.string
    return compiled


def _compiled_catalogue(mo_path) -> dict:
    import gettext

    with mo_path.open("rb") as handle:
        catalogue = dict(gettext.GNUTranslations(handle)._catalog)
    catalogue.pop("", None)  # the header
    return catalogue


def test_compiled_catalogue_check_notices_a_stale_mo(tmp_path):
    """The check above compares contents: a .mo compiled from an older .po fails it."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    old, new = Catalog(locale="zh_Hans"), Catalog(locale="zh_Hans")
    old.add("Holdings", "持有产品")
    new.add("Holdings", "持有产品")
    new.add("Timeline", "时间线")
    with (tmp_path / "django.po").open("wb") as handle:
        write_po(handle, new)
    with (tmp_path / "django.mo").open("wb") as handle:
        write_mo(handle, old)
    assert _compiled_catalogue(tmp_path / "django.mo") != _source_catalogue(tmp_path / "django.po")


def test_chinese_counts_keep_thousands_separators_like_money():
    from django.template import Context, Template

    with translation.override("zh-hans"):
        rendered = Template("{% load humanize %}{{ n|intcomma }} {{ n }}").render(Context({"n": 45211}))
        assert rendered == "45,211 45,211"
        assert money(Decimal("12345.67"), "CNY") == "¥12,345.67"


def test_staff_names_in_chinese_characters_read_family_name_first():
    from django.contrib.auth import get_user_model

    from crm_bank.ui.templatetags.crm_format import person

    User = get_user_model()
    assert person(User(username="rm_g01_1", first_name="伟", last_name="李")) == "李伟"
    assert person(User(username="rm_01_1", first_name="Jana", last_name="Novakova")) == "Jana Novakova"
    assert person(User(username="nobody")) == "nobody"
