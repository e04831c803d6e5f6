"""Escalation on SLA breach, one level up the ladder per step (the Celery beat task calls this)."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import Complaint, ComplaintEvent
from channels.models.work import Notification
from channels.services.complaints.cases import owner_alert, owner_tasks_cancel
from channels.services.complaints.churn import churn_flag_raise
from channels.services.complaints.ladder import (
    ESCALATION_TOP,
    complaint_sla,
    holder_at_or_above,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record

logger = logging.getLogger(__name__)


def complaints_escalate_due(*, now: datetime.datetime | None = None, limit: int = 1000) -> int:
    """Moves every open case whose step has ended one level up; returns how many moved.

    Each case in its own transaction, claimed with SELECT … FOR UPDATE SKIP LOCKED and re-checked,
    so two workers never move one case twice and one bad case does not hold up the others.
    """
    now = now or timezone.now()
    due_ids = list(
        Complaint.objects.filter(status__in=Complaint.OPEN_STATUSES, next_escalation_at__lte=now)
        .order_by("next_escalation_at").values_list("pk", flat=True)[:limit]
    )
    moved = 0
    for complaint_id in due_ids:
        try:
            moved += _complaint_escalate_one(complaint_id=complaint_id, now=now)
        except Exception:  # one broken case is logged and retried on the next beat
            logger.exception("Escalating complaint %s failed", complaint_id)
    return moved


def _complaint_escalate_one(*, complaint_id: int, now: datetime.datetime) -> int:
    with transaction.atomic():
        complaint = (Complaint.objects.select_for_update(skip_locked=True, of=("self",))
                     .select_related("branch", "customer", "owner")
                     .filter(pk=complaint_id, status__in=Complaint.OPEN_STATUSES, next_escalation_at__lte=now).first())
        if complaint is None:
            return 0  # another worker has it, or it moved on meanwhile
        sla = complaint_sla(complaint.severity)
        step = datetime.timedelta(hours=sla.escalation_step_hours if sla else 24)
        if complaint.level >= ESCALATION_TOP:
            _complaint_breach_at_top(complaint=complaint, now=now)
            return 0
        old_owner, old_level = complaint.owner, complaint.level
        level, new_owner = holder_at_or_above(
            level=old_level + 1, branch=complaint.branch, owner_id=complaint.owner_id, top=ESCALATION_TOP,
            exclude_id=complaint.owner_id,
        )
        new_owner = new_owner or old_owner  # nobody above at all: the level still moves, the holder stays
        next_at = None if level >= ESCALATION_TOP else now + step
        updated = Complaint.objects.filter(pk=complaint.pk, level=old_level, owner_id=complaint.owner_id).update(
            level=level, owner=new_owner, sla_breached=True, next_escalation_at=next_at, updated_at=now,
        )
        if updated != 1:
            return 0
        complaint.level, complaint.owner, complaint.sla_breached, complaint.next_escalation_at = (
            level, new_owner, True, next_at)
        ComplaintEvent.objects.create(
            complaint=complaint, at=now, kind=ComplaintEvent.Kind.ESCALATED, actor=None, from_owner=old_owner,
            to_owner=new_owner, level=level,
        )
        cancelled = owner_tasks_cancel(complaint)  # the new holder gets their own task below
        if new_owner is not None:
            owner_alert(
                complaint=complaint, owner=new_owner, actor=None, customer=complaint.customer,
                due_at=next_at or now + step, kind=Notification.Kind.COMPLAINT_ESCALATED,
                text=_("Complaint #%(id)s from %(customer)s missed its SLA and was escalated to you (%(level)s).") % {
                    "id": complaint.pk, "customer": complaint.customer.display_name,
                    "level": complaint.get_level_display()},
            )
        churn_flag_raise(customer=complaint.customer, complaint=complaint, at=now,
                         reason=_("Complaint #%(id)s was escalated (%(level)s).") % {
                             "id": complaint.pk, "level": complaint.get_level_display()})
        audit_record(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=complaint.pk,
                     detail={"escalated": True, "from_owner": old_owner.pk if old_owner else None,
                             "to_owner": new_owner.pk if new_owner else None, "from_level": old_level, "level": level,
                             "tasks_cancelled": cancelled})
    return 1


def _complaint_breach_at_top(*, complaint: Complaint, now: datetime.datetime) -> None:
    """The top of the ladder has nobody above: the case stays, breached, and stops escalating."""
    Complaint.objects.filter(pk=complaint.pk).update(sla_breached=True, next_escalation_at=None, updated_at=now)
    ComplaintEvent.objects.create(complaint=complaint, at=now, kind=ComplaintEvent.Kind.NOTE, level=complaint.level,
                                  to_owner=complaint.owner, note=_("SLA breached at the top of the ladder."))
    audit_record(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="complaint", object_id=complaint.pk, detail={"breached": True, "level": complaint.level})
