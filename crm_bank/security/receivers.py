"""Signal receivers: Django's sign-in signals, user deactivation and an authenticator's reset, each
handed to a service.

Signals because the events start in code this project does not own (Django's login view and
authenticate(), the admin's user change page).
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm_bank.security.services import LoginEvent, login_audit, user_sessions_end


@receiver(user_logged_in, dispatch_uid="security_login_audit")
def _signed_in(sender, request: HttpRequest, user: AbstractBaseUser, **kwargs) -> None:
    login_audit(request=request, event=LoginEvent.SIGNED_IN, username=user.get_username(), user=user)
    if request is not None and hasattr(request, "session"):  # the timeouts count from here
        from crm_bank.security.middleware import SESSION_SEEN, SESSION_STARTED

        request.session[SESSION_STARTED] = request.session[SESSION_SEEN] = time.time()
        # Every password sign-in asks for the second factor again, even in a session that had it,
        # and again before the second factor is changed.
        from crm_bank.security.two_factor import SESSION_CHANGE_CONFIRMED, SESSION_VERIFIED

        request.session.pop(SESSION_VERIFIED, None)
        request.session.pop(SESSION_CHANGE_CONFIRMED, None)


@receiver(user_login_failed, dispatch_uid="security_login_failed_audit")
def _failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    # django-axes's receiver ran first (it is connected earlier) and flagged the request if this
    # attempt was refused by, or has just triggered, a lockout.
    locked_out = bool(getattr(request, "axes_locked_out", False))
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    login_audit(request=request, event=LoginEvent.LOCKED_OUT if locked_out else LoginEvent.FAILED, username=username)


@receiver(user_logged_out, dispatch_uid="security_logout_audit")
def _signed_out(sender, request: HttpRequest, user: AbstractBaseUser | None, **kwargs) -> None:
    if user is not None:
        login_audit(request=request, event=LoginEvent.SIGNED_OUT, username=user.get_username(), user=user)


@receiver(post_save, sender=get_user_model(), dispatch_uid="security_deactivation_ends_sessions")
def _saved(
    sender, instance: AbstractBaseUser, created: bool, update_fields: frozenset[str] | None, **kwargs
) -> None:
    # While inactive, Django refuses the user's sessions; without this they would work again
    # the moment the account is reactivated.
    writes_is_active = update_fields is None or "is_active" in update_fields
    if not created and writes_is_active and not instance.is_active:
        user_sessions_end(user_id=instance.pk)


@receiver(post_delete, sender=TOTPDevice, dispatch_uid="security_authenticator_reset_ends_sessions")
def _authenticator_deleted(sender, instance: TOTPDevice, **kwargs) -> None:
    # An administrator resets a lost phone by deleting the user's authenticator: the user sets one up
    # again after a fresh password sign-in, never in a session still open (whoever holds it could
    # enrol their own). A replacement deletes the old one after confirming the new: nothing ends.
    if instance.confirmed and not TOTPDevice.objects.filter(user_id=instance.user_id, confirmed=True).exists():
        user_sessions_end(user_id=instance.user_id)
