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
    from crm_bank.ui.templatetags.crm_format import _money_by_babel

    with translation.override("en"):  # not a number (numeric columns allow it): as babel writes it, no error
        for odd in (Decimal("NaN"), Decimal("-Infinity")):
            assert money(odd, "CZK") == _money_by_babel(odd, "CZK", "en")


@pytest.mark.parametrize("language", ["en", "zh-hans", "de", "fr", "ar", "hi"])
def test_money_writes_what_babel_writes_for_any_amount(language):
    """money() formats from a shape read once per locale and currency off babel's own output; it must
    write exactly what babel writes: signs (also of amounts that round to zero), rounding half to
    even at the currency's digits (none for JPY, three for KWD), separators, the symbol's side, and
    Indian grouping (hi), which has no such shape and is left to babel."""
    import random

    from crm_bank.ui.templatetags.crm_format import _money_by_babel, _money_shape

    rng = random.Random(11)
    amounts = [Decimal(0), Decimal("-0"), Decimal("0.005"), Decimal("0.015"), Decimal("-0.001"),
               Decimal("999.995"), Decimal("-999.9951"), Decimal("1E+12"), Decimal("12.3456789"), 7, -7, 0.1, 1234.5]
    amounts += [Decimal(rng.randint(-10**13, 10**13)).scaleb(-rng.randint(0, 5)) for _ in range(400)]
    with translation.override(language):
        locale = translation.to_locale(language)
        for currency in ("CZK", "CNY", "EUR", "USD", "JPY", "KWD", "HUF", "XYZ"):
            assert (_money_shape(locale, currency) is None) == (language == "hi")
            for amount in amounts:
                assert money(amount, currency) == _money_by_babel(Decimal(amount), currency, locale), (currency, amount)


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


def test_choice_labels_follow_the_active_language():
    """Translated once per language and kept, yet every language gets its own words."""
    from crm_bank.ui.labels import ChoiceLabels
    from customers.models import Channel

    labels = ChoiceLabels(Channel.choices)
    with translation.override("en"):
        english = labels.current()
        assert english["atm"] == "ATM" and type(english["mobile"]) is str
        assert labels.current() is english  # kept, not translated again
    with translation.override("zh-hans"):
        assert labels.get("mobile") == str(Channel.MOBILE.label) != english["mobile"]
        assert labels.get("no-such-channel", "—") == "—"
    with translation.override("en"):
        assert labels.get("mobile") == english["mobile"]


@pytest.mark.parametrize("language", ["en", "zh-hans", "de", "fr", "ja", "en-gb"])
def test_local_date_writes_what_date_format_writes(language, settings):
    """crm_bank.ui.dates splits each format once; it must write exactly what Django's date_format
    writes (after converting a datetime to the current time zone), midnight and noon included, and
    leave formats with letters it does not write (month names, weekdays) to date_format."""
    import datetime as dt
    import random
    from zoneinfo import ZoneInfo

    from django.utils import timezone
    from django.utils.formats import date_format

    from crm_bank.ui.dates import _compiled, local_date

    rng = random.Random(5)
    moments = [dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC), dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.UTC),
               dt.datetime(1994, 3, 30, 11, 0, 7, tzinfo=dt.UTC), dt.datetime(9, 2, 3, 23, 5, tzinfo=dt.UTC)]
    moments += [dt.datetime(1900, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randint(0, 80_000_000))
                for _ in range(150)]
    with translation.override(language), timezone.override(ZoneInfo("Asia/Shanghai")):
        for name in ("SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT", "DATE_FORMAT", "DATETIME_FORMAT", "TIME_FORMAT"):
            for moment in moments:
                local = timezone.localtime(moment)
                assert local_date(moment, name) == date_format(local, name), (name, moment)
                if name in ("SHORT_DATE_FORMAT", "DATE_FORMAT"):
                    assert local_date(local.date(), name) == date_format(local.date(), name), (name, moment)
        assert local_date(None) == ""
        if language in ("en", "zh-hans"):  # the site's two languages take the split formats, not the fallback
            assert _compiled("SHORT_DATE_FORMAT", language) and _compiled("SHORT_DATETIME_FORMAT", language)
        with pytest.raises(TypeError):  # a time of day asked of a date, as date_format refuses it
            local_date(dt.date(2026, 1, 1), "TIME_FORMAT")


def test_short_date_filter_writes_what_the_date_filter_writes():
    import datetime as dt

    from django.template import Context, Template

    ours = Template("{% load crm_format %}[{{ d|short_date }}]")
    django_filter = Template('[{{ d|date:"SHORT_DATE_FORMAT" }}]')
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for value in (dt.date(2026, 3, 9), dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC), None):
                assert ours.render(Context({"d": value})) == django_filter.render(Context({"d": value}))


def test_local_date_follows_an_overridden_format(settings):
    import datetime as dt

    from crm_bank.ui.dates import local_date

    with translation.override("fy"):  # a language without its own formats: the settings' apply
        settings.SHORT_DATE_FORMAT = "Y-m-d"
        assert local_date(dt.date(2026, 3, 9)) == "2026-03-09"
        settings.SHORT_DATE_FORMAT = "j.n.Y"
        assert local_date(dt.date(2026, 3, 9)) == "9.3.2026"
