"""Login protection and audit, sessions ended by deactivation, no-store pages, one-line 403 logs."""

from __future__ import annotations

import io
import logging
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.checks import run_checks
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.security.services import LOGIN_OBJECT_TYPE, LoginEvent
from tests.customers.factories import account_for, transactions_for

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # tests.org.factories.UserFactory
LOGIN = reverse("login")


def _sign_in(client: Client, username: str, password: str, **extra: str) -> HttpResponse:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _login_events() -> list[tuple[str, str, str]]:
    rows = AuditEvent.objects.filter(object_type=LOGIN_OBJECT_TYPE).order_by("id")
    return [(row.detail["event"], row.outcome, row.object_id) for row in rows]


def test_login_fifty_wrong_passwords_locked_after_limit_even_with_right_password(client, rm_a):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [_sign_in(client, "rm_a", f"wrong-{n}").status_code for n in range(50)]
    assert statuses == [200] * (limit - 1) + [429] * (50 - limit + 1)

    response = _sign_in(client, "rm_a", PASSWORD)
    assert response.status_code == 429 and 'id="lockout"' in response.content.decode()
    assert "15 minutes" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_lockout_leaves_other_users_and_addresses_signing_in(client, rm_a, rm_a2):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "rm_a", f"wrong-{n}")
    assert _sign_in(client, "rm_a", PASSWORD).status_code == 429

    assert _sign_in(Client(), "rm_a2", PASSWORD).status_code == 302
    assert _sign_in(Client(REMOTE_ADDR="10.0.0.9"), "rm_a", PASSWORD).status_code == 302


def test_login_lockout_takes_the_address_the_trusted_proxy_saw(client, rm_a, settings):
    settings.CRM_TRUSTED_PROXIES = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "rm_a", f"wrong-{n}", HTTP_X_FORWARDED_FOR="203.0.113.7")

    # An entry the client put in front of the proxy's own does not make it someone else.
    forged = _sign_in(client, "rm_a", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert forged.status_code == 429
    assert _sign_in(Client(), "rm_a", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


def test_login_success_failure_and_lockout_are_audited_without_the_password(client, rm_a):
    _sign_in(client, "rm_a", "wrong-secret")
    _sign_in(client, "nobody_here", "wrong-secret")
    assert _sign_in(client, "rm_a", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        _sign_in(client, "rm_a", f"wrong-secret-{n}")

    limit = settings.AXES_FAILURE_LIMIT
    denied, allowed = AuditEvent.Outcome.DENIED, AuditEvent.Outcome.ALLOWED
    assert _login_events() == [
        (LoginEvent.FAILED, denied, "rm_a"),
        (LoginEvent.FAILED, denied, "nobody_here"),
        (LoginEvent.SIGNED_IN, allowed, "rm_a"),
        (LoginEvent.SIGNED_OUT, allowed, "rm_a"),
        # The sign-in cleared the earlier failure: the limit counts afresh from here.
        *[(LoginEvent.FAILED, denied, "rm_a")] * (limit - 1),
        (LoginEvent.LOCKED_OUT, denied, "rm_a"),
        (LoginEvent.LOCKED_OUT, denied, "rm_a"),
    ]
    signed_in = AuditEvent.objects.get(object_type=LOGIN_OBJECT_TYPE, detail__event=LoginEvent.SIGNED_IN)
    assert signed_in.actor == rm_a and signed_in.ip_address == "127.0.0.1"
    assert AuditEvent.objects.filter(detail__event=LoginEvent.FAILED, actor__isnull=False).count() == 0
    stored = [str(row.detail) + row.object_id for row in AuditEvent.objects.all()]
    assert not any("secret" in text or PASSWORD in text for text in stored)


def test_deactivated_user_old_session_stays_ended_after_reactivation(client, rm_a, rm_a2, customer_a):
    client.force_login(rm_a)
    other = Client()
    other.force_login(rm_a2)
    page = reverse("customers:customer-list")
    assert client.get(page).status_code == 200

    rm_a.is_active = False
    rm_a.save(update_fields=["is_active"])
    rm_a.is_active = True
    rm_a.save(update_fields=["is_active"])

    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert other.get(page).status_code == 200


def test_deactivation_on_admin_user_page_ends_sessions(client, bank_admin, rm_a):
    rm_client = Client()
    rm_client.force_login(rm_a)
    client.force_login(bank_admin)
    change = reverse("admin:auth_user_change", args=[rm_a.pk])
    form = client.get(change).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.pop("is_active")  # an unticked checkbox is absent from the post
    data.update({"groups": [], "user_permissions": [], "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00",
                 "last_login_0": "", "last_login_1": ""})
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rm_a.refresh_from_db()
    assert not rm_a.is_active

    rm_a.is_active = True
    rm_a.save(update_fields=["is_active"])
    assert rm_client.get(reverse("customers:customer-list")).status_code == 302
    assert client.get(reverse("customers:customer-list")).status_code == 200


def test_session_engine_outside_the_database_fails_the_system_check(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    assert "security.E001" in [message.id for message in run_checks()]


@pytest.mark.parametrize(
    "url_name, needs_customer",
    [
        ("customers:customer-detail", True),
        ("customers:customer-transactions", True),
        ("customers:customer-list", False),
        ("admin:customers_customer_change", True),
    ],
)
def test_customer_pages_are_not_stored_by_caches(client, bank_admin, customer_a, url_name, needs_customer):
    transactions_for(account_for(customer_a), 3)
    client.force_login(bank_admin)
    response = client.get(reverse(url_name, args=[customer_a.pk] if needs_customer else []))
    assert response.status_code == 200
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "max-age=0"} <= directives


def test_static_files_stay_cacheable(client, rm_a):
    client.force_login(rm_a)
    response = client.get(settings.STATIC_URL + "crm/crm.css")
    assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")


def test_forbidden_page_logs_one_warning_line_without_traceback(client, no_role_user, customer_a, caplog):
    client.force_login(no_role_user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("customers:customer-detail", args=[customer_a.pk])).status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", f"Forbidden (Permission denied): /customers/{customer_a.pk}/")
    ]
    assert records[0].exc_info is None and "Traceback" not in caplog.text


def test_forbidden_page_reaches_the_console_once_with_debug_on(client, no_role_user, customer_a, settings):
    """Django's own DEBUG-only console handler on the "django" logger doubled every record."""
    settings.DEBUG = True
    buffer = io.StringIO()
    stream_handlers = [
        handler
        for logger in (logging.getLogger("django.request"), logging.getLogger("django"), logging.getLogger())
        for handler in logger.handlers
        if type(handler) is logging.StreamHandler  # not pytest's capturing handlers
    ]
    previous = [handler.setStream(buffer) for handler in stream_handlers]
    try:
        client.force_login(no_role_user)
        client.get(reverse("customers:customer-detail", args=[customer_a.pk]))
    finally:
        for handler, stream in zip(stream_handlers, previous, strict=True):
            handler.setStream(stream)
    assert buffer.getvalue().count("Forbidden (Permission denied)") == 1
    assert "Traceback" not in buffer.getvalue()


# A request body over CRM_REQUEST_MAX_BYTES is refused before anything reads or stores it.

@pytest.fixture
def small_request_cap(settings, tmp_path):
    settings.CRM_REQUEST_MAX_BYTES = 4096
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = None


def test_an_upload_over_the_request_cap_is_refused_unread_and_nothing_stored(client, supervisor_a, small_request_cap,
                                                                             tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from customers.imports.services import source_system_ensure
    from customers.models import ImportBatch

    source = source_system_ensure(code="crm_web", actor=None)[0]
    client.force_login(supervisor_a)
    with mock.patch("django.http.multipartparser.MultiPartParser.parse") as parse:
        response = client.post(reverse("customers:import-upload"), {
            "source": source.pk, "file": SimpleUploadedFile("big.csv", b"source_key\n" + b"k\n" * 5000)})
    assert response.status_code == 413 and not parse.called
    assert "File too large" in response.content.decode() and "KB" in response.content.decode()
    assert not ImportBatch.objects.exists() and not (tmp_path / "media").exists()
    # Within the cap the same form works as before (here: a file too small to import, refused by the form).
    small = client.post(reverse("customers:import-upload"), {
        "source": source.pk, "file": SimpleUploadedFile("small.csv", b"source_key\n")})
    assert small.status_code in (200, 302)


def test_an_api_body_over_the_request_cap_gets_a_json_413(client, small_request_cap):
    response = client.post("/api/v1/interactions/", data="x" * 5000, content_type="application/json")
    assert response.status_code == 413 and "at most 4096" in response.json()["detail"]
