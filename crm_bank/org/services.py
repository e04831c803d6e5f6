"""Writes for the organisation: branches and the demo staff that work in them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import Branch, Department, StaffProfile

DEFAULT_DEPARTMENTS = (
    ("RETAIL", "Retail banking", Department.Kind.RETAIL),
    ("CORPORATE", "Corporate banking", Department.Kind.CORPORATE),
    ("CARDS", "Card centre", Department.Kind.CARD_CENTRE),
    ("CALLCENTRE", "Call centre", Department.Kind.CALL_CENTRE),
    ("WEALTH", "Wealth management", Department.Kind.WEALTH),
    ("SERVICE", "Service centre", Department.Kind.SERVICE_CENTRE),
    ("HQ", "Head office", Department.Kind.HEAD_OFFICE),
)


def branches_ensure(*, branches: Iterable[tuple[str, str, str]]) -> dict[str, Branch]:
    """Creates the (code, name, region) branches that are missing; returns them by code, in order."""
    ensured = {}
    for code, name, region in branches:
        ensured[code], _ = Branch.objects.get_or_create(code=code, defaults={"name": name, "region": region})
    return ensured


def departments_ensure() -> dict[str, Department]:
    """Creates the standard departments if missing; returns them by code."""
    for code, name, kind in DEFAULT_DEPARTMENTS:
        Department.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    return {d.code: d for d in Department.objects.all()}


DEMO_ADMIN = "admin"
# Head office's analyst: runs the value scoring, segmentation and model training and reads their pages.
DEMO_ANALYST = "analyst"


def demo_usernames(*, branch_code: str) -> tuple[str, str, str]:
    """The demo staff of a branch: its supervisor, then its two RMs."""
    return f"sup_{branch_code}", f"rm_{branch_code}_1", f"rm_{branch_code}_2"


def demo_staff_ensure(*, branches: Iterable[Branch], password: str) -> dict[int, list[int]]:
    """Creates `admin`, the head-office `analyst`, and per branch one supervisor and two RMs, unless they exist.

    Usernames: `demo_usernames` (`sup_<code>`, `rm_<code>_1`, `rm_<code>_2`). One password hash serves every demo
    user (hashing is deliberately slow; hundreds of users would take a minute otherwise).
    Returns {branch_id: [rm user ids]} for assigning customers.
    """
    if not password:
        raise ValueError("A demo password is required (DEMO_PASSWORD); production has none on purpose.")
    User = get_user_model()
    departments = departments_ensure()
    encoded = make_password(password)
    with transaction.atomic():
        admin, _ = User.objects.get_or_create(
            username=DEMO_ADMIN,
            defaults={"password": encoded, "is_staff": True, "is_superuser": True,
                      "first_name": "Demo", "last_name": "Administrator"},
        )
        StaffProfile.objects.get_or_create(
            user=admin, defaults={"role": StaffProfile.Role.ADMIN, "employee_number": "E000000",
                                  "department": departments["HQ"]},
        )
        _demo_user(User, DEMO_ANALYST, encoded, "Demo", "Analyst", None, StaffProfile.Role.ANALYST,
                   departments["HQ"], None)
        rms_by_branch: dict[int, list[int]] = {}
        for branch in branches:
            supervisor_name, *rm_names = demo_usernames(branch_code=branch.code)
            supervisor = _demo_user(
                User, supervisor_name, encoded, "Supervisor", branch.name, branch,
                StaffProfile.Role.SUPERVISOR, departments["RETAIL"], None,
            )
            rms_by_branch[branch.pk] = [
                _demo_user(
                    User, username, encoded, f"RM {n}", branch.name, branch,
                    StaffProfile.Role.RM, departments["RETAIL"], supervisor,
                ).user_id
                for n, username in enumerate(rm_names, start=1)
            ]
    return rms_by_branch


def _demo_user(User, username, encoded, first, last, branch, role, department, manager) -> StaffProfile:
    user, _ = User.objects.get_or_create(
        username=username, defaults={"password": encoded, "first_name": first, "last_name": last}
    )
    profile, _ = StaffProfile.objects.get_or_create(
        user=user,
        defaults={"role": role, "branch": branch, "department": department, "manager": manager,
                  "employee_number": f"E{user.pk:06d}"},
    )
    return profile


# Deactivation guards: the apps above this one say why a member of staff may not be deactivated
# yet (channels: an RM who still has customers). They register from their AppConfig.ready(), so
# this layer needs none of them.
DeactivationGuard = Callable[[AbstractBaseUser], "str | None"]
_deactivation_guards: list[DeactivationGuard] = []


def user_deactivation_guard_register(guard: DeactivationGuard) -> DeactivationGuard:
    if guard not in _deactivation_guards:
        _deactivation_guards.append(guard)
    return guard


def user_deactivation_refusals(*, user: AbstractBaseUser) -> list[str]:
    """Every registered guard's reason to keep `user` active; empty when they may be deactivated."""
    return [reason for guard in _deactivation_guards if (reason := guard(user))]


def user_deactivate(*, user: AbstractBaseUser, actor: AbstractBaseUser | None, ip_address: str | None = None) -> None:
    """Deactivates a member of staff unless a guard refuses (ValidationError with the reasons).

    The user's row is locked and the guards asked inside the same transaction, so a refusal and the
    deactivation see the same state: two deactivations of one user run one after the other."""
    with transaction.atomic():
        rows = get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("is_active", flat=True)
        is_active = next(iter(rows), False)
        refusals = user_deactivation_refusals(user=user)
        if refusals:
            raise ValidationError(refusals)
        if not is_active:
            return
        user.is_active = False
        user.save(update_fields=["is_active"])  # a save, so the security receiver ends the sessions
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="user", object_id=user.pk, ip_address=ip_address,
                     detail={"fields": ["is_active"], "is_active": False})
