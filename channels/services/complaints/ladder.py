"""Who holds a case at each level of the escalation ladder, and who may act on it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from channels.models import Complaint, ComplaintSLA, EscalationContact
from channels.models.complaints import Level
from crm_bank.org.models import Branch, StaffProfile

User = get_user_model()
Role = StaffProfile.Role
Status = Complaint.Status

DESCRIPTION_MAX = 4000
RESOLUTION_MAX = 4000
SKIP_LEVEL_TARGETS = (Level.REGIONAL_HEAD, Level.HEAD_OFFICE, Level.REGULATOR)
# Escalation on a breach climbs to the head-office service centre; only the customer takes a case
# to the regulator (a skip-level complaint).
ESCALATION_TOP = Level.HEAD_OFFICE

# Which status a case may move to from each status (resolved → in progress reopens it).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.OPEN: (Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED),
    Status.IN_PROGRESS: (Status.WAITING_CUSTOMER, Status.RESOLVED),
    Status.WAITING_CUSTOMER: (Status.IN_PROGRESS, Status.RESOLVED),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (),
}


def active_user(user_id: int | None) -> AbstractBaseUser | None:
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def branch_supervisor(*, branch_id: int) -> AbstractBaseUser | None:
    """An active supervisor of the branch (the longest-serving account first), or None."""
    profile = (StaffProfile.objects.select_related("user")
               .filter(branch_id=branch_id, role=Role.SUPERVISOR, user__is_active=True).order_by("user_id").first())
    return profile.user if profile else None


def an_admin() -> AbstractBaseUser | None:
    profile = (StaffProfile.objects.select_related("user")
               .filter(role=Role.ADMIN, user__is_active=True).order_by("user_id").first())
    if profile is not None:
        return profile.user
    return User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()


def _contact(*, level: int, region: str) -> AbstractBaseUser | None:
    region = region if level == Level.REGIONAL_HEAD else ""
    found = (EscalationContact.objects.select_related("user")
             .filter(level=level, region=region, user__is_active=True).first())
    return found.user if found else None


def _supervisor_for(*, owner_id: int | None, branch_id: int) -> AbstractBaseUser | None:
    """The owner's manager if set and active, else an active supervisor of the case's branch."""
    if owner_id is not None:
        manager = (StaffProfile.objects.select_related("manager__user")
                   .filter(user_id=owner_id, manager__user__is_active=True).first())
        if manager is not None:
            return manager.manager.user
    return branch_supervisor(branch_id=branch_id)


def holder_at_or_above(
    *, level: int, branch: Branch, owner_id: int | None, top: int, exclude_id: int | None = None,
) -> tuple[int, AbstractBaseUser | None]:
    """(level, user) of the first level from `level` up to `top` with someone to hold the case who is
    not `exclude_id` (escalating to the person who has it already moves nothing); an administrator at
    `level` if the whole ladder is empty (see below)."""
    for step in range(level, top + 1):
        if step == Level.OWNER:
            user = active_user(owner_id)
        elif step == Level.BRANCH_SUPERVISOR:
            user = _supervisor_for(owner_id=owner_id, branch_id=branch.pk)
        else:
            user = _contact(level=step, region=branch.region)
        if user is not None and user.pk != exclude_id:
            return step, user
    # Nobody configured on the way up: an administrator; without one, the branch's own people;
    # with nobody at all the case is kept without an owner (admins see every case) rather than lost.
    holder = an_admin() or branch_supervisor(branch_id=branch.pk) or active_user(owner_id)
    return level, holder


def complaint_url(complaint: Complaint) -> str:
    return reverse("channels:complaint-detail", args=[complaint.pk])


def complaint_sla(severity: str) -> ComplaintSLA | None:
    return ComplaintSLA.objects.filter(severity=severity).first()


def staff_profile(user: AbstractBaseUser | None) -> StaffProfile | None:
    if user is None:
        return None
    return StaffProfile.objects.filter(user_id=user.pk).first()


def _is_admin(*, user: AbstractBaseUser, profile: StaffProfile | None) -> bool:
    return user.is_superuser or (profile is not None and profile.role == Role.ADMIN)


def is_level_contact(*, complaint: Complaint, user: AbstractBaseUser) -> bool:
    """Whether `user` is the escalation contact of the case's level (above the branch only)."""
    if complaint.level < Level.REGIONAL_HEAD:
        return False
    region = complaint.branch.region if complaint.level == Level.REGIONAL_HEAD else ""
    return EscalationContact.objects.filter(level=complaint.level, region=region, user_id=user.pk).exists()


def is_with_the_branch(complaint: Complaint) -> bool:
    """Whether the case is still the branch's to handle: not escalated above the branch supervisor
    and not taken over the branch's head (then the branch only answers)."""
    return complaint.level <= Level.BRANCH_SUPERVISOR and not complaint.is_skip_level


def complaint_may_act(*, complaint: Complaint, user: AbstractBaseUser, profile: StaffProfile | None = None) -> bool:
    """The owner, the contact of the case's level, or an admin; a supervisor of the case's branch
    only while the case is with the branch (see is_with_the_branch)."""
    if complaint.owner_id == user.pk or user.is_superuser:
        return True
    profile = profile if profile is not None else staff_profile(user)
    if profile is None:
        return False
    if _is_admin(user=user, profile=profile):
        return True
    if is_with_the_branch(complaint):
        return profile.role == Role.SUPERVISOR and profile.branch_id == complaint.branch_id
    return is_level_contact(complaint=complaint, user=user)


def complaint_may_assign(*, complaint: Complaint, user: AbstractBaseUser, profile: StaffProfile | None = None) -> bool:
    """An admin; while the case is with the branch, a supervisor of the branch; above it, only the
    holder of the case's level (its escalation contact or the current owner), so a skipped or
    escalated-over branch cannot take a case back."""
    profile = profile if profile is not None else staff_profile(user)
    if _is_admin(user=user, profile=profile):
        return True
    if profile is None:
        return False
    if is_with_the_branch(complaint):
        return profile.role == Role.SUPERVISOR and profile.branch_id == complaint.branch_id
    return complaint.owner_id == user.pk or is_level_contact(complaint=complaint, user=user)


def is_branch_supervisor_or_admin(*, user: AbstractBaseUser, branch_id: int) -> bool:
    if user.is_superuser:
        return True
    profile = staff_profile(user)
    return profile is not None and (
        profile.role == Role.ADMIN or (profile.role == Role.SUPERVISOR and profile.branch_id == branch_id)
    )
