"""Reads for the channel API: a stored interaction as the API shows it, and a customer's recent
contacts for a channel system (masked unless the system belongs to the customer's branch)."""

from __future__ import annotations

from dataclasses import dataclass

from channels.models import ChannelSystem, Interaction
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from customers.models import Customer

TIMELINE_MAX = 100
TIMELINE_DEFAULT = 20


@dataclass(frozen=True)
class SystemTimeline:
    customer: Customer
    masked: bool
    interactions: list[Interaction]


def _with_relations():
    return Interaction.objects.select_related("customer", "staff", "product", "source_system")


def interaction_for_api(*, pk: int) -> Interaction:
    return _with_relations().get(pk=pk)


def customer_timeline_for_system(
    *, system: ChannelSystem, cif: str, limit: int = TIMELINE_DEFAULT, channel: str = "", kind: str = "",
    ip_address: str | None = None,
) -> SystemTimeline | None:
    """The customer's newest contacts (at most TIMELINE_MAX), read from interaction_customer_time_idx;
    None for an unknown customer number (one with a NUL character, which PostgreSQL text cannot
    hold, is none). The read is audited, masked or not."""
    customer = None if "\x00" in cif else Customer.objects.filter(cif=cif).only("pk", "cif", "home_branch_id").first()
    if customer is None:
        return None
    rows = _with_relations().filter(customer_id=customer.pk)
    if channel:
        rows = rows.filter(channel=channel)
    if kind:
        rows = rows.filter(kind=kind)
    interactions = list(rows.order_by("-occurred_at", "-id")[: min(limit, TIMELINE_MAX)])
    masked = system.branch_id is None or system.branch_id != customer.home_branch_id
    audit_record(
        actor=None, action=AuditEvent.Action.VIEW,
        outcome=AuditEvent.Outcome.MASKED if masked else AuditEvent.Outcome.ALLOWED,
        object_type="customer", object_id=customer.pk, ip_address=ip_address,
        detail={"purpose": "channel API timeline", "system": system.code, "returned": len(interactions)},
    )
    return SystemTimeline(customer=customer, masked=masked, interactions=interactions)
