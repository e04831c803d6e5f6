"""Break the glass: unmasking a customer for a stated reason, for a limited time, audited.

The bank shares every customer's name, branch and RM with all staff, and masks the rest outside
the customer's branch (customers.access). A customer who walks into another branch, or calls the
service centre, still needs to be served: an RM or supervisor there states why, and sees the
customer in full for `CRM_UNMASK_MINUTES`. Each grant is one row here and one audit row; a user
may take at most `CRM_UNMASK_DAILY_LIMIT` in 24 hours (so nobody browses the bank unmasked), and
supervisors see every grant that touches their branch (`unmask_grants_for_supervisor`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from customers.access import UNMASK_ROLES, customer_full_access_reason, unmask_grant_active
from customers.models import Customer, UnmaskGrant

EXPLANATION_MIN_LENGTH = 20


def unmask_grant(
    *,
    user: AbstractBaseUser,
    customer_id: int,
    reason: str,
    explanation: str,
    ip_address: str | None = None,
) -> UnmaskGrant:
    """Opens `customer_id` in full to `user` for CRM_UNMASK_MINUTES, or says why not.

    PermissionDenied: the user's role may not break the glass (audited as denied).
    ValidationError: the reason is not one of the list, the explanation is shorter than
    EXPLANATION_MIN_LENGTH characters, the user sees the customer in full already, or has used
    the daily limit (audited as denied). An open grant is returned as it is, not extended.
    """
    profile = staff_profile_for_user(user)
    customer = Customer.objects.select_related("home_branch").filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError(_("No such customer."))
    if profile is None or profile.role not in UNMASK_ROLES or not user.is_active:
        _audit_refusal(user=user, customer_id=customer_id, ip_address=ip_address, why="role")
        raise PermissionDenied(_("Your role may not unmask customers."))
    if reason not in UnmaskGrant.Reason.values:
        raise ValidationError({"reason": _("Choose a reason from the list.")})
    explanation = (explanation or "").strip()
    if len(explanation) < EXPLANATION_MIN_LENGTH:
        raise ValidationError({"explanation": _(
            "Say in at least %(n)d characters why you need the full record."
        ) % {"n": EXPLANATION_MIN_LENGTH}})
    if customer_full_access_reason(profile=profile, customer=customer) is not None:
        raise ValidationError(_("You see this customer in full already."))
    now = timezone.now()
    open_grant = unmask_grant_active(user_id=user.pk, customer_id=customer_id, at=now)
    if open_grant is not None:
        return open_grant
    with transaction.atomic():
        # One user's grants are counted under a lock on their staff profile, so two requests at
        # once cannot both take the last grant of the day.
        StaffProfile.objects.select_for_update().filter(pk=profile.pk).first()
        used = UnmaskGrant.objects.filter(user_id=user.pk, granted_at__gt=now - timedelta(days=1)).count()
        grant = None
        if used < settings.CRM_UNMASK_DAILY_LIMIT:
            grant = UnmaskGrant.objects.create(
                user=user, customer=customer, reason=reason, explanation=explanation, granted_at=now,
                expires_at=now + timedelta(minutes=settings.CRM_UNMASK_MINUTES), ip_address=ip_address,
            )
            audit_record(
                actor=user, action=AuditEvent.Action.UNMASK, outcome=AuditEvent.Outcome.ALLOWED,
                object_type="customer", object_id=customer_id, ip_address=ip_address,
                # Not the explanation: free text that often names people, and the append-only trail
                # outlives the customer's retention, which blanks it on the grant (the grant links to it).
                detail={"grant": grant.pk, "reason": reason, "expires_at": grant.expires_at.isoformat()},
            )
    if grant is None:
        _audit_refusal(user=user, customer_id=customer_id, ip_address=ip_address, why="daily limit")
        raise ValidationError(_(
            "You have unmasked %(n)d customers in the last 24 hours, the most allowed. Ask the customer's "
            "branch or your supervisor."
        ) % {"n": used})
    return grant


def _audit_refusal(*, user: AbstractBaseUser, customer_id: int, ip_address: str | None, why: str) -> None:
    audit_record(actor=user, action=AuditEvent.Action.UNMASK, outcome=AuditEvent.Outcome.DENIED,
                 object_type="customer", object_id=customer_id, ip_address=ip_address, detail={"refused": why})


def unmask_grants_for_supervisor(
    *, profile: StaffProfile, since: datetime | None = None, until: datetime | None = None, username: str = "",
) -> QuerySet[UnmaskGrant]:
    """The grants a supervisor answers for: on their branch's customers or taken by their branch's
    staff (all of them for admins and compliance officers), newest first."""
    grants = UnmaskGrant.objects.select_related(
        "user", "user__staff_profile__branch", "customer", "customer__home_branch",
    )
    if profile.role not in (StaffProfile.Role.ADMIN, StaffProfile.Role.COMPLIANCE):
        if profile.branch_id is None:
            return grants.none()
        grants = grants.filter(
            Q(customer__home_branch_id=profile.branch_id) | Q(user__staff_profile__branch_id=profile.branch_id)
        )
    if since is not None:
        grants = grants.filter(granted_at__gte=since)
    if until is not None:
        grants = grants.filter(granted_at__lt=until)
    if username:
        grants = grants.filter(user__username=username)
    return grants.order_by("-granted_at", "-id")
