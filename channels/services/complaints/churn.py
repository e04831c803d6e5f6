"""The churn-risk flag a top customer's complaint or an escalation raises, and clearing it."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
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
from crm_bank.bulk import quoted_table
from customers.access import customer_full_access_reason
from customers.models import Customer


def churn_flag_raise(*, customer: Customer, complaint: Complaint | None, reason: str,
                     at: datetime.datetime | None = None) -> ChurnFlag:
    """Raises (or re-raises a cleared) flag and alerts the RM once per raise; a flag already up is
    left as it is (the RM has been told). Runs in the caller's transaction."""
    at = at or timezone.now()
    created = _churn_flag_insert(customer_id=customer.pk, complaint_id=complaint.pk if complaint else None,
                                 reason=reason[:300], at=at)
    flag = ChurnFlag.objects.select_for_update().get(customer_id=customer.pk)
    if created is None:  # the customer had a flag already
        if flag.is_raised:
            return flag
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
            url=reverse("customers:customer-detail", args=[customer.pk]), customer=customer,
        )
    return flag


def _churn_flag_insert(*, customer_id: int, complaint_id: int | None, reason: str,
                       at: datetime.datetime) -> int | None:
    """Inserts the customer's flag raised unless they have one; the new row's id, or None.

    INSERT … ON CONFLICT DO NOTHING rather than "lock, then create if missing": a row that does not
    exist yet cannot be locked, so two complaints at once would both create it and one would fail on
    the one-flag-per-customer constraint. Here the second waits for the first and inserts nothing.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {quoted_table(ChurnFlag)} (customer_id, raised_at, reason, complaint_id)
                VALUES (%s, %s, %s, %s)
                ON CONFLICT (customer_id) DO NOTHING
                RETURNING id""",
            [customer_id, at, reason, complaint_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


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
