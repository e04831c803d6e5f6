"""Writes to the audit trail. Rows are only ever inserted; the database refuses the rest."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from crm_bank.audit.models import AuditEvent


def request_ip(request: HttpRequest | None) -> str | None:
    """The client's address: behind CRM_TRUSTED_PROXIES reverse proxies, the entry that the
    outermost trusted proxy appended to X-Forwarded-For (earlier entries can be forged by the
    client); with no proxy configured, REMOTE_ADDR."""
    if request is None:
        return None
    proxies = settings.CRM_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


# The refusals recorded while the current request is answered (RefusedRequestAuditMiddleware sets
# a fresh list per request; None outside a request): a view that audits its own refusal, with what
# was refused, is not recorded a second time as a refused request.
refusals_recorded: ContextVar[list[int] | None] = ContextVar("audit_refusals_recorded", default=None)


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    outcome: str,
    object_type: str,
    object_id: object,
    ip_address: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Inserts one audit row: a single INSERT, so it needs no transaction of its own."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    if outcome == AuditEvent.Outcome.DENIED and (recorded := refusals_recorded.get()) is not None:
        recorded.append(1)
    return AuditEvent.objects.create(
        actor_id=actor_id,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=str(object_id),
        ip_address=ip_address,
        detail=detail or {},
    )


def audit_records(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str,
    object_ids: Iterable[object],
    ip_address: str | None = None,
    detail: dict | None = None,
) -> list[AuditEvent]:
    """One allowed action on many objects (an admin's bulk delete): a row per object, in one INSERT."""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.bulk_create([
        AuditEvent(actor_id=actor_id, action=action, outcome=AuditEvent.Outcome.ALLOWED, object_type=object_type,
                   object_id=str(object_id), ip_address=ip_address, detail=detail or {})
        for object_id in object_ids
    ])
