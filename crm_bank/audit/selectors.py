"""Reads of the audit trail for the compliance search (newest first, on the trail's indexes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from crm_bank.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditQuery:
    """What a compliance officer searches by; empty values do not narrow."""

    username: str = ""
    action: str = ""
    outcome: str = ""
    object_type: str = ""
    object_id: str = ""
    ip_address: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_detail(self) -> dict:
        """The search as the audit row of the search records it."""
        return {key: (value.isoformat() if isinstance(value, datetime) else value)
                for key, value in self.__dict__.items() if value}


def audit_events_search(query: AuditQuery) -> QuerySet[AuditEvent]:
    """Audit rows matching every given criterion, newest first.

    Each criterion lands on an index: actor → (actor, occurred_at), object → (object_type,
    object_id, occurred_at), neither → (occurred_at); the rest filter those rows.
    """
    events = AuditEvent.objects.select_related("actor")
    if query.username:
        events = events.filter(actor__username=query.username)
    if query.action:
        events = events.filter(action=query.action)
    if query.outcome:
        events = events.filter(outcome=query.outcome)
    if query.object_type:
        events = events.filter(object_type=query.object_type)
    if query.object_id:
        events = events.filter(object_id=query.object_id)
    if query.ip_address:
        events = events.filter(ip_address=query.ip_address)
    if query.since is not None:
        events = events.filter(occurred_at__gte=query.since)
    if query.until is not None:
        events = events.filter(occurred_at__lt=query.until)
    return events.order_by("-occurred_at", "-id")

