"""Two-factor sign-in for supervisors, administrators and compliance officers (django-otp).

After the password, a user of a role in CRM_TWO_FACTOR_ROLES gives a six-digit code from an
authenticator app (TOTP) or one of ten single-use backup codes; until then every page sends them
to the code page (TwoFactorMiddleware). A user without an authenticator yet is sent to set one
up: scan the QR code, type a code to prove it works, receive the backup codes once.

Changing the second factor — a new authenticator in place of the confirmed one, or new backup codes
in place of the old — takes a code from the current one as well (current_factor_confirm): a verified
session left open, or taken over, must not be enough to move the account's second factor onto
someone else's phone. A correct current code counts for CHANGE_WINDOW_SECONDS, so a mistyped new
code does not use up a second backup code. A replacement's QR code is shown only after it, with a
new secret (authenticator_pending_renew).

Backup codes are stored hashed (django-otp's static tokens hold the hash, never the code). The
session remembers which device verified it; ending a user's sessions, as deactivation does, ends
that too. Failed codes slow down per device (django-otp's throttling) on top of the login lockout.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.security.services import LoginEvent, login_audit

# The session key that marks a session as verified: the persistent id of the device that did it.
SESSION_VERIFIED = "crm_second_factor"
AUTHENTICATOR_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"
BACKUP_CODE_COUNT = 10
# The session key that records when the current second factor was last given for a change, and for
# how long that counts.
SESSION_CHANGE_CONFIRMED = "crm_second_factor_change_at"
CHANGE_WINDOW_SECONDS = 300


def two_factor_required(user: AbstractBaseUser) -> bool:
    """Whether `user` must give a second factor (their role is in CRM_TWO_FACTOR_ROLES)."""
    if not settings.CRM_TWO_FACTOR or not user.is_authenticated:
        return False
    profile = staff_profile_for_user(user)
    return profile is not None and profile.role in settings.CRM_TWO_FACTOR_ROLES


def session_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(SESSION_VERIFIED))


def authenticator_confirmed(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def authenticator_pending(user: AbstractBaseUser) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed, so a reload of the
    set-up page does not invalidate the QR code the user has just scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def authenticator_pending_renew(user: AbstractBaseUser) -> TOTPDevice:
    """A fresh pending authenticator (a new secret) once the current second factor was given for a
    replacement: an earlier pending one, whose QR code whoever held the session may have seen,
    can no longer be confirmed."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def _backup_code_stored(code: str) -> str:
    """What the database keeps of a backup code: 16 hex digits of its keyed hash."""
    normalised = "".join(code.split()).lower()
    return hashlib.sha256(f"{settings.SECRET_KEY}:{normalised}".encode()).hexdigest()[:16]


def backup_codes_issue(*, request: HttpRequest, user: AbstractBaseUser) -> list[str]:
    """Replaces the user's backup codes with ten new ones and returns them (shown once)."""
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name=BACKUP_DEVICE_NAME,
                                                       defaults={"confirmed": True})
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(StaticToken(device=device, token=_backup_code_stored(code)) for code in codes)
    login_audit(request=request, event=LoginEvent.BACKUP_CODES_ISSUED, username=user.get_username(), user=user)
    return codes


def authenticator_confirm(*, request: HttpRequest, user: AbstractBaseUser, token: str) -> list[str] | None:
    """Confirms the pending authenticator with a code from it: the session is verified and the
    first backup codes are returned. None (nothing changed) if the code is wrong. In place of a
    confirmed authenticator only once the current second factor was given (current_factor_confirm):
    PermissionDenied otherwise."""
    if authenticator_confirmed(user) is not None and not change_confirmed(request):
        raise PermissionDenied("A code from the current authenticator or a backup code is needed first.")
    device = authenticator_pending(user)
    with transaction.atomic():
        if not device.verify_token(_digits(token)):
            login_audit(request=request, event=LoginEvent.SECOND_FACTOR_FAILED, username=user.get_username(),
                        user=user)
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One authenticator per user: an older one stops working once a new one is confirmed.
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    # A new session key once the second factor is in place, as after a code (whoever held the key of
    # the half-signed-in session must not hold a verified one).
    request.session.cycle_key()
    request.session[SESSION_VERIFIED] = device.persistent_id
    change_confirmation_end(request)
    login_audit(request=request, event=LoginEvent.SECOND_FACTOR_ENROLLED, username=user.get_username(), user=user)
    return backup_codes_issue(request=request, user=user)


def _verifying_device(user: AbstractBaseUser, token: str) -> TOTPDevice | StaticDevice | None:
    """The confirmed authenticator or the backup-code device that accepts `token` (a backup code is
    then used up), or None."""
    verified = None
    authenticator = authenticator_confirmed(user)
    if authenticator is not None and token.isdigit():
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=authenticator.pk)
            verified = device if device.verify_token(token) else None
    if verified is None and token and not token.isdigit():
        backup = StaticDevice.objects.filter(user=user, name=BACKUP_DEVICE_NAME).first()
        if backup is not None:
            with transaction.atomic():
                device = StaticDevice.objects.select_for_update().get(pk=backup.pk)
                verified = device if device.verify_token(_backup_code_stored(token)) else None
    return verified


def second_factor_verify(*, request: HttpRequest, user: AbstractBaseUser, token: str) -> bool:
    """Checks a code from the authenticator or a backup code (which is then used up)."""
    token = _digits(token)
    verified = _verifying_device(user, token)
    if verified is None:
        login_audit(request=request, event=LoginEvent.SECOND_FACTOR_FAILED, username=user.get_username(), user=user)
        return False
    request.session.cycle_key()
    request.session[SESSION_VERIFIED] = verified.persistent_id
    login_audit(request=request, event=LoginEvent.SECOND_FACTOR_PASSED, username=user.get_username(), user=user,
                detail={"device": "backup code" if isinstance(verified, StaticDevice) else "authenticator"})
    return True


def change_confirmed(request: HttpRequest) -> bool:
    """Whether the current second factor was given for a change within CHANGE_WINDOW_SECONDS."""
    confirmed_at = request.session.get(SESSION_CHANGE_CONFIRMED)
    return confirmed_at is not None and 0 <= time.time() - confirmed_at <= CHANGE_WINDOW_SECONDS


def current_factor_confirm(*, request: HttpRequest, user: AbstractBaseUser, token: str) -> bool:
    """Before the second factor is changed: a code from the current authenticator or a backup code
    (used up). Right, the session may change it for CHANGE_WINDOW_SECONDS; wrong, audited as a
    failed second factor, and nothing changes."""
    verified = _verifying_device(user, _digits(token))
    if verified is None:
        login_audit(request=request, event=LoginEvent.SECOND_FACTOR_FAILED, username=user.get_username(), user=user,
                    detail={"for": "change"})
        return False
    request.session[SESSION_CHANGE_CONFIRMED] = time.time()
    return True


def change_confirmation_end(request: HttpRequest) -> None:
    request.session.pop(SESSION_CHANGE_CONFIRMED, None)


def backup_codes_left(user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=BACKUP_DEVICE_NAME).count()


def _digits(token: str) -> str:
    return "".join((token or "").split())
