"""Sessions: a new key at sign-in, signed out after 30 idle minutes or 10 hours whatever the activity,
with the reason on the login page; htmx requests are sent there too; the sign-out is audited."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from crm_bank.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def _sign_in(client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": "pw-for-tests-1"})
    assert response.status_code == 302, response.content.decode()[:300]


@pytest.fixture
def rm(rm_a):
    rm_a.set_password("pw-for-tests-1")
    rm_a.save()
    return rm_a


def test_signing_in_gives_a_new_session_key(client, rm):
    client.get(reverse("login"))
    before = client.cookies.get("sessionid")
    _sign_in(client, rm)
    assert client.cookies["sessionid"].value != (before.value if before else None)


def test_thirty_idle_minutes_sign_the_user_out_and_the_login_page_says_why(client, rm):
    with time_machine.travel(START, tick=False) as clock:
        _sign_in(client, rm)
        assert client.get(reverse("customers:my-book")).status_code == 200
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("customers:my-book")).status_code == 200  # activity keeps it alive
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("customers:my-book")).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("customers:my-book"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "signed out after 30 minutes without activity" in response.content.decode()
    assert AuditEvent.objects.filter(actor=rm, detail__event="signed_out").count() == 1


def test_ten_hours_after_signing_in_the_session_ends_whatever_the_activity(client, rm):
    with time_machine.travel(START, tick=False) as clock:
        _sign_in(client, rm)
        for _step in range(20):  # a request every 29 minutes: never idle
            clock.shift(dt.timedelta(minutes=29))
            assert client.get(reverse("customers:my-book")).status_code == 200
        clock.shift(dt.timedelta(minutes=29))  # 10 h 29 min after signing in
        response = client.get(reverse("customers:my-book"), follow=True)
    assert "a session lasts at most 10 hours" in response.content.decode()


def test_an_htmx_request_of_an_expired_session_is_sent_to_the_login_page(client, rm):
    with time_machine.travel(START, tick=False) as clock:
        _sign_in(client, rm)
        clock.shift(dt.timedelta(hours=1))
        response = client.get(reverse("customers:my-book"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == reverse("login")


def test_a_page_polling_on_its_own_does_not_keep_an_unattended_session_alive(client, rm):
    """The war room refreshes itself every 5 s: counted as activity, its session never went idle."""
    poll = {"HTTP_X_CRM_POLL": "1"}
    with time_machine.travel(START, tick=False) as clock:
        _sign_in(client, rm)
        for _step in range(7):  # 35 minutes of polls, nobody at the keyboard
            clock.shift(dt.timedelta(minutes=5))
            response = client.get(reverse("customers:my-book"), **poll)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_sign_out_keeps_the_whole_address_to_come_back_to(client, rm):
    with time_machine.travel(START, tick=False) as clock:
        _sign_in(client, rm)
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("customers:customer-list"), {"q": "jan", "home_branch": "2"})
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/customers/?q=jan&home_branch=2"]
