"""KPI targets and the starting KPI model: who may set which target, the four eyes on branch targets,
every change audited."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from performance.defaults import DEFAULT_KPIS
from performance.measures import PeriodInvalid, period_days
from performance.models import Kpi, KpiTarget, Scope

Role = StaffProfile.Role


def kpis_ensure() -> None:
    """The starting KPI model (performance/defaults.py) where a KPI of its code is missing."""
    for order, (code, name, name_zh, measure, unit, direction, weight_rm, weight_branch) in enumerate(DEFAULT_KPIS):
        Kpi.objects.get_or_create(code=code, defaults={
            "name": name, "name_zh": name_zh, "measure": measure, "unit": unit, "direction": direction,
            "weight_rm": Decimal(weight_rm), "weight_branch": Decimal(weight_branch), "order": order})


# KpiTarget.value is numeric(18, 4): a larger number failed in the database, a server error.
TARGET_LIMIT = Decimal(10) ** 14


def target_value_clean(kpi: Kpi, value: object) -> Decimal:
    """The target as a number the KPI's unit allows; ValidationError saying what is wrong."""
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({"value": _("Enter the target as a number.")}) from None
    if not number.is_finite():
        raise ValidationError({"value": _("Enter the target as a number.")})
    if abs(number) >= TARGET_LIMIT:  # the column keeps 14 digits before the point
        raise ValidationError({"value": _("The target must be below 100,000,000,000,000.")})
    if kpi.unit == Kpi.Unit.PERCENT and not 0 <= number <= 100:
        raise ValidationError({"value": _("A percentage target is from 0 to 100.")})
    if kpi.unit in (Kpi.Unit.COUNT, Kpi.Unit.RATIO) and number < 0:
        raise ValidationError({"value": _("This target cannot be negative.")})
    return number


def _period_clean(period: str) -> str:
    try:
        period_days(period)
    except PeriodInvalid:
        raise ValidationError({"period": _("A period is a month (2026-11) or a quarter (2026-Q4).")}) from None
    return period


def target_may_set(actor: AbstractBaseUser, *, scope: str, branch_id: int | None) -> bool:
    """An administrator sets any target; a supervisor those of their own branch and its RMs."""
    profile = staff_profile_for_user(actor)
    if profile is None or not actor.is_active:
        return False
    if profile.role == Role.ADMIN:
        return True
    return profile.role == Role.SUPERVISOR and branch_id is not None and profile.branch_id == branch_id


def _refuse(actor, detail: dict, message: str) -> None:
    audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.DENIED,
                 object_type="kpi_target", object_id=str(detail.get("target", "")), detail=detail)
    raise PermissionDenied(message)


def target_set(*, actor: AbstractBaseUser, kpi: Kpi, period: str, value: object, rm: AbstractBaseUser | None = None,
               branch: Branch | None = None, ip_address: str | None = None) -> KpiTarget:
    """Sets an RM's target (applies at once) or proposes a branch's (waits for a second approver; a
    change to an approved one waits again, the approved value counting meanwhile). ValidationError
    for bad input, PermissionDenied for somebody who may not set it; audited either way, nothing
    written when refused."""
    period = _period_clean(period)
    number = target_value_clean(kpi, value)
    if (rm is None) == (branch is None):
        raise ValidationError(_("A target is for one RM or one branch."))
    scope = Scope.RM if rm is not None else Scope.BRANCH
    if rm is not None:
        rm_profile = staff_profile_for_user(rm)
        if rm_profile is None or rm_profile.role != Role.RM:
            raise ValidationError({"rm": _("%(user)s is not an RM.") % {"user": rm.get_username()}})
        branch_id = rm_profile.branch_id
    else:
        branch_id = branch.pk
    detail = {"kpi": kpi.code, "period": period, "scope": scope, "rm": rm.pk if rm else None, "branch": branch_id,
              "value": str(number)}
    if not target_may_set(actor, scope=scope, branch_id=branch_id):
        _refuse(actor, detail, _("You may set the targets of your own branch and its RMs only."))
    status = KpiTarget.Status.APPROVED if scope == Scope.RM else KpiTarget.Status.PROPOSED
    with transaction.atomic():
        in_force = number if status == KpiTarget.Status.APPROVED else None
        target, created = KpiTarget.objects.select_for_update().get_or_create(
            kpi=kpi, period=period, scope=scope, rm=rm, branch=None if rm else branch,
            defaults={"value": number, "approved_value": in_force, "status": status, "set_by": actor})
        if not created:
            if target.value == number and target.status == KpiTarget.Status.APPROVED:
                return target
            target.value, target.status, target.set_by, target.approved_by = number, status, actor, None
            if in_force is not None:  # a branch target's approved value stays in force until the next approval
                target.approved_value = in_force
            target.save(update_fields=["value", "approved_value", "status", "set_by", "approved_by", "updated_at"])
        audit_record(actor=actor, action=AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE,
                     outcome=AuditEvent.Outcome.ALLOWED, object_type="kpi_target", object_id=str(target.pk),
                     ip_address=ip_address, detail=detail | {"status": status})
    return target


def target_may_approve(actor: AbstractBaseUser, target: KpiTarget) -> bool:
    """A branch target is approved by somebody else than who set it: an administrator, or a
    supervisor of that branch (the four-eyes rule of campaigns)."""
    profile = staff_profile_for_user(actor)
    if profile is None or not actor.is_active or actor.pk == target.set_by_id:
        return False
    if profile.role == Role.ADMIN:
        return True
    return profile.role == Role.SUPERVISOR and profile.branch_id == target.branch_id


def target_approve(*, actor: AbstractBaseUser, target: KpiTarget, value: Decimal,
                   ip_address: str | None = None) -> KpiTarget:
    """Approves a proposed branch target at the `value` the approver read (a value changed since is
    refused: the approver must read it again). Audited."""
    detail = {"target": target.pk, "kpi": target.kpi_id, "period": target.period, "branch": target.branch_id}
    if target.scope != Scope.BRANCH or target.status != KpiTarget.Status.PROPOSED:
        raise ValidationError(_("Only a proposed branch target waits for approval."))
    if not target_may_approve(actor, target):
        _refuse(actor, detail, _("A branch target is approved by another supervisor of the branch or an "
                                 "administrator, never by who set it."))
    with transaction.atomic():
        current = KpiTarget.objects.select_for_update().get(pk=target.pk)
        if current.value != value or current.status != KpiTarget.Status.PROPOSED:
            raise ValidationError(_("The target changed since you read it: read it again before approving."))
        current.status, current.approved_by, current.approved_value = KpiTarget.Status.APPROVED, actor, current.value
        current.save(update_fields=["status", "approved_by", "approved_value", "updated_at"])
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="kpi_target", object_id=str(current.pk), ip_address=ip_address,
                     detail=detail | {"step": "approve", "value": str(value)})
    return current
