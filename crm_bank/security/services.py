"""Writes for sign-in protection: the login audit trail and ending a user's sessions."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip

# Sign-ins, refusals, lockouts and sign-outs share one object type, keyed by user name, so the
# trail's (object_type, object_id) index answers "every sign-in attempt as this user".
LOGIN_OBJECT_TYPE = "login"
OBJECT_ID_LENGTH = 40


class LoginEvent:
    SIGNED_IN = "signed_in"
    FAILED = "failed"
    LOCKED_OUT = "locked_out"
    SIGNED_OUT = "signed_out"
    SECOND_FACTOR_PASSED = "second_factor_passed"
    SECOND_FACTOR_FAILED = "second_factor_failed"
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled"
    BACKUP_CODES_ISSUED = "backup_codes_issued"


ALLOWED_EVENTS = (LoginEvent.SIGNED_IN, LoginEvent.SIGNED_OUT, LoginEvent.SECOND_FACTOR_PASSED,
                  LoginEvent.SECOND_FACTOR_ENROLLED, LoginEvent.BACKUP_CODES_ISSUED)


def login_audit(
    *,
    request: HttpRequest | None,
    event: str,
    username: str,
    user: AbstractBaseUser | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Records one sign-in event. Never the password or a code; a failure keeps the name that was typed."""
    allowed = event in ALLOWED_EVENTS
    return audit_record(
        actor=user,
        # A sign-in opens a session and a sign-out ends it.
        action=AuditEvent.Action.DELETE if event == LoginEvent.SIGNED_OUT else AuditEvent.Action.CREATE,
        outcome=AuditEvent.Outcome.ALLOWED if allowed else AuditEvent.Outcome.DENIED,
        object_type=LOGIN_OBJECT_TYPE,
        object_id=username[:OBJECT_ID_LENGTH],
        ip_address=request_ip(request),
        detail={"event": event, "username": username, **(detail or {})},
    )


def user_sessions_end(*, user_id: int) -> int:
    """Deletes every unexpired session of the user; returns how many.

    Sessions are stored in the database (a system check holds SESSION_ENGINE to that), but not
    indexed by user, so this decodes each live session once. It runs only when a user is
    deactivated, which keeps every request free of an extra check.
    """
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    live = store_class.get_model_class().objects.filter(expire_date__gt=timezone.now())
    ended = 0
    for session_key, session_data in live.values_list("session_key", "session_data").iterator():
        if store_class().decode(session_data).get(SESSION_KEY) == str(user_id):
            # Through the store, so a cached_db engine drops its cached copy as well.
            store_class(session_key=session_key).delete()
            ended += 1
    return ended
