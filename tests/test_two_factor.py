"""Two-factor sign-in for supervisors, admins and compliance officers: set-up with a QR code and
a first code, ten hashed single-use backup codes, the code page before any other page, throttled
wrong codes, all audited; RMs and analysts are not asked."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm_bank.audit.models import AuditEvent
from crm_bank.security.two_factor import SESSION_VERIFIED

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-2026"
DASHBOARD = reverse("customers:branch-dashboard")
VERIFY = reverse("two-factor-verify")
SETUP = reverse("two-factor-setup")


@pytest.fixture(autouse=True)
def two_factor_on(settings):
    settings.CRM_TWO_FACTOR = True


def _sign_in(client, user):
    user.set_password(PASSWORD)
    user.save()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD, "next": DASHBOARD})
    assert response.status_code == 302
    return client.get(response["Location"])


def _code(device: TOTPDevice, *, offset: int = 0) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def _enrol(client, user) -> tuple[TOTPDevice, list[str]]:
    response = _sign_in(client, user)
    assert response.status_code == 302 and response["Location"].startswith(SETUP)
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and 'id="two-factor-secret"' in page
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(SETUP, {"token": _code(device), "next": DASHBOARD})
    assert done.status_code == 200
    codes = re.findall(r'<li class="col-6">([a-z2-7]{8})</li>', done.content.decode())
    assert len(codes) == 10
    return device, codes


def test_setting_up_the_authenticator_gives_the_session_a_new_key(client, supervisor_a):
    """Whoever held the key of the half-signed-in session must not hold the verified one."""
    response = _sign_in(client, supervisor_a)
    client.get(response["Location"])
    key_before = client.session.session_key
    device = TOTPDevice.objects.get(user=supervisor_a, confirmed=False)

    assert client.post(SETUP, {"token": _code(device), "next": DASHBOARD}).status_code == 200

    assert client.session.session_key != key_before and SESSION_VERIFIED in client.session


def test_supervisor_sets_up_an_authenticator_then_reaches_pages(client, supervisor_a):
    device, codes = _enrol(client, supervisor_a)
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(DASHBOARD).status_code == 200
    # Backup codes are stored hashed: none of the shown codes is in the database.
    stored = set(StaticToken.objects.filter(device__user=supervisor_a).values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(codes)
    events = AuditEvent.objects.filter(object_type="login", object_id="sup_a").values_list("detail__event", flat=True)
    assert {"signed_in", "second_factor_enrolled", "backup_codes_issued"} <= set(events)


def test_next_sign_in_asks_for_the_code_before_any_page(client, supervisor_a):
    device, _ = _enrol(client, supervisor_a)
    client.logout()
    response = _sign_in(client, supervisor_a)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.get(reverse("customers:customer-list"))["Location"].startswith(VERIFY)
    htmx = client.get(reverse("customers:customer-list"), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith(VERIFY)
    wrong = client.post(VERIFY, {"token": "000000", "next": DASHBOARD})
    assert wrong.status_code == 400 and SESSION_VERIFIED not in client.session
    # django-otp throttles after a failure: wait it out as a user would (the throttle is per device).
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    key_before = client.session.session_key
    right = client.post(VERIFY, {"token": _code(device, offset=1), "next": DASHBOARD})
    assert right.status_code == 302 and right["Location"] == DASHBOARD
    assert client.session.session_key != key_before
    assert client.get(DASHBOARD).status_code == 200
    failed = AuditEvent.objects.filter(detail__event="second_factor_failed", outcome=AuditEvent.Outcome.DENIED)
    assert failed.count() == 1 and "000000" not in str(failed.get().detail)


def test_backup_code_works_once(client, supervisor_a):
    _, codes = _enrol(client, supervisor_a)
    client.logout()
    _sign_in(client, supervisor_a)
    assert client.post(VERIFY, {"token": codes[0].upper(), "next": DASHBOARD}).status_code == 302
    client.logout()
    _sign_in(client, supervisor_a)
    assert client.post(VERIFY, {"token": codes[0], "next": DASHBOARD}).status_code == 400
    assert StaticToken.objects.filter(device__user=supervisor_a).count() == 9


def test_throttling_refuses_even_the_right_code_after_a_wrong_one_at_once(client, supervisor_a):
    device, _ = _enrol(client, supervisor_a)
    client.logout()
    _sign_in(client, supervisor_a)
    assert client.post(VERIFY, {"token": "123456"}).status_code == 400
    assert client.post(VERIFY, {"token": _code(device, offset=1)}).status_code == 400


def test_new_backup_codes_replace_the_old(client, supervisor_a):
    device, old = _enrol(client, supervisor_a)
    assert client.get(reverse("two-factor-backup-codes")).status_code == 200
    page = client.post(reverse("two-factor-backup-codes"), {"current": _code(device, offset=1)}).content.decode()
    new = re.findall(r'<li class="col-6">([a-z2-7]{8})</li>', page)
    assert len(new) == 10 and not set(new) & set(old)
    client.logout()
    _sign_in(client, supervisor_a)
    assert client.post(VERIFY, {"token": old[1]}).status_code == 400


def test_new_backup_codes_need_a_code_of_the_current_second_factor(client, supervisor_a):
    """A verified session left open (or taken over) cannot swap the backup codes for its own."""
    _, old = _enrol(client, supervisor_a)
    url = reverse("two-factor-backup-codes")

    assert client.post(url).status_code == 400
    wrong = client.post(url, {"current": "abcdefgh"})
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    assert "abcdefgh" not in wrong.content.decode()  # a code is never written back into the page
    assert StaticToken.objects.filter(device__user=supervisor_a).count() == 10  # the old ones still stand
    _throttle_waited_out(StaticDevice)

    page = client.post(url, {"current": old[0]}).content.decode()  # an old backup code will do (used up)
    assert len(re.findall(r'<li class="col-6">([a-z2-7]{8})</li>', page)) == 10
    assert client.post(url).status_code == 400  # the confirmation ends with the change
    failed = AuditEvent.objects.filter(detail__event="second_factor_failed", detail__for="change")
    assert failed.count() == 1


def _throttle_waited_out(model) -> None:
    """django-otp slows a device down after a wrong code: wait it out, as a user would."""
    model.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)


def test_a_new_authenticator_in_place_of_the_confirmed_one_needs_a_current_code_before_its_qr_code(
        client, supervisor_a):
    old_device, codes = _enrol(client, supervisor_a)
    seen_before = TOTPDevice.objects.create(user=supervisor_a, name="authenticator", confirmed=False)

    page = client.get(SETUP).content.decode()
    assert 'id="two-factor-replacing"' in page and 'name="current"' in page
    assert "<svg" not in page and 'id="two-factor-secret"' not in page  # no secret before the current code
    assert client.post(SETUP, {"next": DASHBOARD}).status_code == 400
    wrong = client.post(SETUP, {"current": "zzzzzzzz", "next": DASHBOARD})
    assert wrong.status_code == 400 and "zzzzzzzz" not in wrong.content.decode()  # never written back
    _throttle_waited_out(StaticDevice)

    right = client.post(SETUP, {"current": codes[0], "next": DASHBOARD})
    assert right.status_code == 302 and right["Location"].startswith(SETUP)
    # A new secret: a QR code shown before (to whoever held the session) can no longer be confirmed.
    assert not TOTPDevice.objects.filter(pk=seen_before.pk).exists()
    page = client.get(right["Location"]).content.decode()
    assert 'id="two-factor-secret"' in page and 'id="two-factor-replacing"' in page
    new_device = TOTPDevice.objects.get(user=supervisor_a, confirmed=False)

    # A mistyped new code: the current code counts for a few minutes, it is not asked again.
    assert client.post(SETUP, {"token": "000000", "next": DASHBOARD}).status_code == 400
    _throttle_waited_out(TOTPDevice)
    done = client.post(SETUP, {"token": _code(new_device, offset=1), "next": DASHBOARD})
    assert done.status_code == 200
    assert len(re.findall(r'<li class="col-6">([a-z2-7]{8})</li>', done.content.decode())) == 10
    assert list(TOTPDevice.objects.filter(user=supervisor_a).values_list("pk", flat=True)) == [new_device.pk]
    assert not TOTPDevice.objects.filter(pk=old_device.pk).exists()
    assert client.get(DASHBOARD).status_code == 200  # the replacement ends no session
    assert client.get(SETUP).status_code == 200 and "<svg" not in client.get(SETUP).content.decode()  # asked again


def test_an_authenticator_reset_by_an_administrator_ends_the_users_sessions(client, supervisor_a):
    """The user sets up again after a fresh password sign-in, never in a session still open."""
    device, _ = _enrol(client, supervisor_a)
    assert client.get(DASHBOARD).status_code == 200

    TOTPDevice.objects.get(pk=device.pk).delete()

    assert client.get(DASHBOARD)["Location"].startswith(reverse("login"))


def test_a_password_sign_in_asks_for_the_current_code_again_before_a_change(client, supervisor_a):
    from crm_bank.security.two_factor import SESSION_CHANGE_CONFIRMED

    device, codes = _enrol(client, supervisor_a)
    assert client.post(SETUP, {"current": codes[0], "next": DASHBOARD}).status_code == 302
    assert SESSION_CHANGE_CONFIRMED in client.session

    _sign_in(client, supervisor_a)

    assert SESSION_CHANGE_CONFIRMED not in client.session


def test_the_authenticator_service_refuses_a_replacement_without_the_current_factor(rf, supervisor_a):
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.exceptions import PermissionDenied

    from crm_bank.security.two_factor import authenticator_confirm

    TOTPDevice.objects.create(user=supervisor_a, name="authenticator", confirmed=True)
    request = rf.post("/")
    request.session = SessionStore()
    with pytest.raises(PermissionDenied):
        authenticator_confirm(request=request, user=supervisor_a, token="123456")


def test_wrong_first_code_leaves_the_authenticator_unconfirmed(client, supervisor_a):
    _sign_in(client, supervisor_a)
    client.get(SETUP)
    assert client.post(SETUP, {"token": "999999"}).status_code == 400
    assert not TOTPDevice.objects.filter(user=supervisor_a, confirmed=True).exists()
    assert client.get(DASHBOARD)["Location"].startswith(SETUP)


def test_unsafe_next_is_ignored(client, supervisor_a):
    device, _ = _enrol(client, supervisor_a)
    client.logout()
    _sign_in(client, supervisor_a)
    response = client.post(VERIFY, {"token": _code(device, offset=1), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


@pytest.mark.parametrize("fixture", ["rm_a", "analyst_b"])
def test_other_roles_are_not_asked(client, request, fixture):
    user = request.getfixturevalue(fixture)
    response = _sign_in(client, user)
    assert not response["Location"].startswith((VERIFY, SETUP)) if response.status_code == 302 else True
    assert client.get(reverse("customers:customer-list")).status_code == 200


def test_admin_site_needs_the_second_factor_too(client, bank_admin):
    _sign_in(client, bank_admin)
    assert client.get(reverse("admin:index"))["Location"].startswith(SETUP)


def test_signing_in_again_in_the_same_session_asks_for_the_code_again(client, supervisor_a):
    _enrol(client, supervisor_a)
    assert client.get(DASHBOARD).status_code == 200
    again = client.post(reverse("login"), {"username": "sup_a", "password": PASSWORD, "next": DASHBOARD})
    assert again.status_code == 302
    assert client.get(DASHBOARD)["Location"].startswith(VERIFY)


def test_the_second_factor_change_pages_keep_their_query_budgets(client, supervisor_a, django_assert_max_num_queries):
    _, codes = _enrol(client, supervisor_a)
    with django_assert_max_num_queries(4):
        assert client.get(SETUP).status_code == 200  # the step-up before a replacement
    with django_assert_max_num_queries(5):
        assert client.get(reverse("two-factor-backup-codes")).status_code == 200
    with django_assert_max_num_queries(18):  # the code checked and used up, audited; a new secret
        assert client.post(SETUP, {"current": codes[0], "next": DASHBOARD}).status_code == 302
    with django_assert_max_num_queries(5):
        assert 'id="two-factor-secret"' in client.get(SETUP).content.decode()  # the new QR code
