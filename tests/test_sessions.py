"""Database sessions read with hand-written SQL (crm_bank.security.sessions): the same answers as
Django's own store."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm_bank.security.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_settings_use_this_store():
    assert settings.SESSION_ENGINE == "crm_bank.security.sessions"


def test_a_saved_session_reads_back_in_one_query():
    saved = SessionStore()
    saved["colour"] = "green"
    saved.save()
    with CaptureQueriesContext(connection) as queries:
        loaded = SessionStore(session_key=saved.session_key)
        assert loaded["colour"] == "green"
    assert len(queries) == 1
    assert DjangoSessionStore(session_key=saved.session_key).load() == loaded.load()


def test_an_expired_or_unknown_session_is_empty_and_its_key_forgotten():
    saved = SessionStore()
    saved["colour"] = "green"
    saved.save()
    Session.objects.filter(session_key=saved.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1))
    for key in (saved.session_key, "no-such-session-key-at-all", None):
        store = SessionStore(session_key=key)
        assert store.load() == {} and store.session_key is None


def test_signing_in_rotates_the_key_and_the_page_after_reads_the_new_session(client, rm_a):
    before = client.session.session_key
    assert client.post(reverse("login"), {"username": "rm_a", "password": "pw-for-tests"}).status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before and SessionStore(session_key=after).get("_auth_user_id") == str(rm_a.pk)
    assert client.get(reverse("customers:my-book")).status_code == 200
