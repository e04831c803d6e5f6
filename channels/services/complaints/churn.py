"""The churn-risk flag a top customer's complaint or an escalation raises, and clearing it."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import ChurnFlag, Complaint, Task
from channels.models.work import Notification
from channels.services.complaints.ladder import (
    active_user,
    branch_supervisor,
    staff_profile,
)
from channels.services.work import notification_send, task_create
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from customers.access import customer_full_access_reason
from customers.models import Customer


def churn_flag_raise(*, customer: Customer, complaint: Complaint | None, reason: str,
                     at: datetime.datetime | None = None) -> ChurnFlag:
    """Raises (or re-raises a cleared) flag and alerts the RM once per raise; a flag already up is
    left as it is (the RM has been told). Runs in the caller's transaction."""
    at = at or timezone.now()
    flag = ChurnFlag.objects.select_for_update().filter(customer_id=customer.pk).first()
    if flag is not None and flag.is_raised:
        return flag
    if flag is None:
        flag = ChurnFlag.objects.create(customer=customer, raised_at=at, reason=reason[:300], complaint=complaint)
    else:
        flag.raised_at, flag.reason, flag.complaint = at, reason[:300], complaint
        flag.cleared_at = flag.cleared_by = None
        flag.save(update_fields=["raised_at", "reason", "complaint", "cleared_at", "cleared_by"])
    audit_record(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="churn_flag", object_id=customer.pk,
                 detail={"raised": True, "complaint": complaint.pk if complaint else None})
    rm = active_user(customer.primary_rm_id) or branch_supervisor(branch_id=customer.home_branch_id)
    if rm is None:
        return flag
    complaint_id = complaint.pk if complaint else None
    task = task_create(
        assignee=rm, kind=Task.Kind.CHURN_RISK, customer=customer, complaint_id=complaint_id,
        due_at=at + datetime.timedelta(days=1), dedupe_key=f"churn:{customer.pk}:{complaint_id}:{int(at.timestamp())}",
        title=_("%(customer)s may leave the bank: call them") % {"customer": customer.display_name}, detail=reason,
    )
    if task is not None:
        notification_send(
            recipient=rm, kind=Notification.Kind.CHURN_RISK, text=f"{customer.display_name}: {reason}",
            url=reverse("customers:customer-detail", args=[customer.pk]),
        )
    return flag


def churn_flag_clear(*, customer: Customer, actor: AbstractBaseUser, note: str = "",
                     ip_address: str | None = None) -> ChurnFlag:
    """Clears a raised flag; only staff who may see the customer in full (RM, branch, admin)."""
    profile = staff_profile(actor)
    if profile is None or customer_full_access_reason(profile=profile, customer=customer) is None:
        raise PermissionDenied(_("Only the customer's RM, branch staff or an administrator may clear the flag."))
    with transaction.atomic():
        flag = ChurnFlag.objects.select_for_update().filter(customer_id=customer.pk, cleared_at__isnull=True).first()
        if flag is None:
            raise ValidationError({"customer": _("The customer has no raised churn-risk flag.")})
        flag.cleared_at, flag.cleared_by = timezone.now(), actor
        flag.save(update_fields=["cleared_at", "cleared_by"])
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="churn_flag", object_id=customer.pk, ip_address=ip_address,
                     detail={"cleared": True, "note": note[:200]})
    return flag
