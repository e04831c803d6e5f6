"""Complaint cases: open (from staff, the API or a skip-level route), assign, escalate on SLA
breach, resolve and close; the churn-risk flag and notifications they raise.

The escalation ladder, bottom to top: the case owner → the branch supervisor (the owner's manager
if set) → the regional head of the branch's region → the head-office service centre. A level with
nobody configured is passed over to the next one up, and with nobody at all the case goes to an
administrator: a case is never left without an owner.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import ChurnFlag, Complaint, ComplaintEvent, ComplaintSLA, EscalationContact, Interaction, Task
from channels.models.complaints import Level, Severity
from channels.models.work import Notification
from channels.services.interactions import SUMMARY_MAX, NewInteraction, interactions_after_store, interactions_store
from channels.services.work import notification_send, task_create
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import Branch, StaffProfile
from customers.access import customer_full_access_reason
from customers.models import TOUCHPOINT_CHANNELS, Customer, Product
from customers.value_ranking import top_customer_condition

logger = logging.getLogger(__name__)
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


# --- who holds a case at each level -------------------------------------------------------------

def _active_user(user_id: int | None) -> AbstractBaseUser | None:
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def branch_supervisor(*, branch_id: int) -> AbstractBaseUser | None:
    """An active supervisor of the branch (the longest-serving account first), or None."""
    profile = (StaffProfile.objects.select_related("user")
               .filter(branch_id=branch_id, role=Role.SUPERVISOR, user__is_active=True).order_by("user_id").first())
    return profile.user if profile else None


def _an_admin() -> AbstractBaseUser | None:
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


def _holder_at_or_above(
    *, level: int, branch: Branch, owner_id: int | None, top: int, exclude_id: int | None = None,
) -> tuple[int, AbstractBaseUser | None]:
    """(level, user) of the first level from `level` up to `top` with someone to hold the case who is
    not `exclude_id` (escalating to the person who has it already moves nothing); an administrator at
    `level` if the whole ladder is empty (see below)."""
    for step in range(level, top + 1):
        if step == Level.OWNER:
            user = _active_user(owner_id)
        elif step == Level.BRANCH_SUPERVISOR:
            user = _supervisor_for(owner_id=owner_id, branch_id=branch.pk)
        else:
            user = _contact(level=step, region=branch.region)
        if user is not None and user.pk != exclude_id:
            return step, user
    # Nobody configured on the way up: an administrator; without one, the branch's own people;
    # with nobody at all the case is kept without an owner (admins see every case) rather than lost.
    holder = _an_admin() or branch_supervisor(branch_id=branch.pk) or _active_user(owner_id)
    return level, holder


def _case_url(complaint: Complaint) -> str:
    return reverse("channels:complaint-detail", args=[complaint.pk])


def _sla(severity: str) -> ComplaintSLA | None:
    return ComplaintSLA.objects.filter(severity=severity).first()


def _profile(user: AbstractBaseUser | None) -> StaffProfile | None:
    if user is None:
        return None
    return StaffProfile.objects.filter(user_id=user.pk).first()


def complaint_may_act(*, complaint: Complaint, user: AbstractBaseUser, profile: StaffProfile | None = None) -> bool:
    """The owner, a supervisor of the case's branch, the contact of the case's level, or an admin."""
    if complaint.owner_id == user.pk or user.is_superuser:
        return True
    profile = profile if profile is not None else _profile(user)
    if profile is None:
        return False
    if profile.role == Role.ADMIN:
        return True
    if profile.role == Role.SUPERVISOR and profile.branch_id == complaint.branch_id:
        return True
    if complaint.level >= Level.REGIONAL_HEAD:
        region = complaint.branch.region if complaint.level == Level.REGIONAL_HEAD else ""
        return EscalationContact.objects.filter(level=complaint.level, region=region, user_id=user.pk).exists()
    return False


def _is_branch_supervisor_or_admin(*, user: AbstractBaseUser, branch_id: int) -> bool:
    if user.is_superuser:
        return True
    profile = _profile(user)
    return profile is not None and (
        profile.role == Role.ADMIN or (profile.role == Role.SUPERVISOR and profile.branch_id == branch_id)
    )


# --- opening a case -----------------------------------------------------------------------------

def complaint_errors(
    *, channel: str, category: str, severity: str, description: str, skip_level_to: int | None,
) -> dict[str, str]:
    """Field → message for everything wrong with a new case's values; empty when it may be opened."""
    errors: dict[str, str] = {}
    if channel not in TOUCHPOINT_CHANNELS:
        errors["channel"] = _("Unknown channel “%(value)s”.") % {"value": channel}
    if category not in Complaint.Category.values:
        errors["category"] = _("Choose a complaint category.")
    if severity not in Severity.values:
        errors["severity"] = _("Choose a severity.")
    if not (description or "").strip():
        errors["description"] = _("Describe what the customer complains about.")
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = _("At most %(n)d characters.") % {"n": DESCRIPTION_MAX}
    if skip_level_to is not None and skip_level_to not in SKIP_LEVEL_TARGETS:
        errors["skip_level_to"] = _("A skip-level complaint goes to a regional head, head office or the regulator.")
    return errors


def _alert_owner(*, complaint: Complaint, owner: AbstractBaseUser, actor: AbstractBaseUser | None,
                 customer: Customer, kind: str, text: str, due_at: datetime.datetime) -> None:
    notification_send(recipient=owner, kind=kind, text=text, url=_case_url(complaint))
    task_create(
        assignee=owner, kind=Task.Kind.COMPLAINT_ACTION, due_at=due_at, customer=customer, actor=actor,
        complaint_id=complaint.pk,
        title=_("Complaint #%(id)s: %(category)s") % {"id": complaint.pk, "category": complaint.get_category_display()},
        detail=_("Resolve by %(due)s.") % {"due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
    )


def _complaint_create(
    *, customer: Customer, channel: str, category: str, severity: str, description: str,
    actor: AbstractBaseUser | None, product_id: int | None, skip_level_to: int | None, at: datetime.datetime,
    sla: ComplaintSLA, is_top_customer: bool, ip_address: str | None = None,
) -> Complaint:
    """Writes one valid case with its events, owner's task and notifications (caller's transaction).

    1. Owner: the customer's RM if active, else the branch supervisor (further up if nobody);
       a skip-level case goes to the owner of the level the customer went to.
    2. The SLA clock: deadline by severity; the first escalation is due at the deadline.
    3. Events (opened, assigned or skip-level), the owner's notification and task.
    4. A skip-level case tells the skipped branch's supervisor, who must answer.
    5. A top customer's complaint raises the churn flag.
    """
    branch = customer.home_branch
    if skip_level_to is not None:
        level, owner = _holder_at_or_above(level=skip_level_to, branch=branch, owner_id=None, top=Level.REGULATOR)
    else:
        level, owner = _holder_at_or_above(level=Level.OWNER, branch=branch, owner_id=customer.primary_rm_id,
                                           top=ESCALATION_TOP)
    sla_due_at = at + datetime.timedelta(hours=sla.resolve_within_hours)
    complaint = Complaint.objects.create(
        customer=customer, channel=channel, category=category, severity=severity, description=description,
        product_id=product_id, branch=branch, owner=owner, level=level, status=Status.OPEN, opened_at=at,
        opened_by=actor, sla_due_at=sla_due_at, next_escalation_at=sla_due_at, is_skip_level=skip_level_to is not None,
    )
    events = [ComplaintEvent(complaint=complaint, at=at, kind=ComplaintEvent.Kind.OPENED, actor=actor,
                             status=Status.OPEN, level=level)]
    events.append(ComplaintEvent(
        complaint=complaint, at=at, actor=actor, to_owner=owner, level=level,
        kind=ComplaintEvent.Kind.SKIP_LEVEL if complaint.is_skip_level else ComplaintEvent.Kind.ASSIGNED,
    ))
    ComplaintEvent.objects.bulk_create(events)
    if owner is None:
        logger.error("Complaint %s has no owner: no staff, escalation contact or administrator", complaint.pk)
    else:
        _alert_owner(
            complaint=complaint, owner=owner, actor=actor, customer=customer, due_at=sla_due_at,
            kind=Notification.Kind.COMPLAINT_ASSIGNED,
            text=_("New complaint #%(id)s from %(customer)s (%(severity)s), due %(due)s.") % {
                "id": complaint.pk, "customer": customer.display_name, "severity": complaint.get_severity_display(),
                "due": timezone.localtime(sla_due_at).strftime("%Y-%m-%d %H:%M")},
        )
    if complaint.is_skip_level:
        _skipped_branch_tell(complaint=complaint, customer=customer, actor=actor)
    if is_top_customer:
        churn_flag_raise(customer=customer, complaint=complaint, at=at,
                         reason=_("Complaint #%(id)s from one of the bank's most valuable customers.")
                         % {"id": complaint.pk})
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="complaint", object_id=complaint.pk, ip_address=ip_address,
                 detail={"customer": customer.pk, "owner": owner.pk if owner else None, "level": level,
                         "severity": severity, "category": category, "skip_level": complaint.is_skip_level})
    return complaint


def _skipped_branch_tell(*, complaint: Complaint, customer: Customer, actor: AbstractBaseUser | None) -> None:
    recipient = branch_supervisor(branch_id=complaint.branch_id) or _an_admin()
    if recipient is None:
        return
    notification_send(
        recipient=recipient, kind=Notification.Kind.SKIP_LEVEL, url=_case_url(complaint),
        text=_("%(customer)s took complaint #%(id)s over the branch's head to the %(level)s. "
               "Your branch must answer.") % {"customer": customer.display_name, "id": complaint.pk,
                                              "level": complaint.get_level_display()},
    )
    task_create(
        assignee=recipient, kind=Task.Kind.COMPLAINT_ACTION, due_at=complaint.sla_due_at, customer=customer,
        actor=actor, complaint_id=complaint.pk, dedupe_key=f"skip-answer:{complaint.pk}",
        title=_("Answer skip-level complaint #%(id)s") % {"id": complaint.pk},
    )


def _is_top_customer(customer_ids: Iterable[int]) -> set[int]:
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(Customer.objects.filter(pk__in=ids).filter(top_customer_condition()).values_list("pk", flat=True))


def complaint_open(
    *, customer: Customer, channel: str, category: str, severity: str, description: str,
    actor: AbstractBaseUser | None, product: Product | None = None, skip_level_to: int | None = None,
    interaction_id: int | None = None, at: datetime.datetime | None = None, ip_address: str | None = None,
) -> Complaint:
    """Opens a case (see _complaint_create) and links `interaction_id`, or records the complaint as
    an inbound contact on the timeline. Raises ValidationError with a message per field and writes
    nothing when a value is wrong."""
    at = at or timezone.now()
    if skip_level_to in ("", None):
        skip_level_to = None
    else:
        try:
            skip_level_to = int(skip_level_to)
        except (TypeError, ValueError):
            skip_level_to = -1
    errors = complaint_errors(channel=channel, category=category, severity=severity, description=description,
                              skip_level_to=skip_level_to)
    if timezone.is_naive(at):
        errors["at"] = _("Give the time with its UTC offset.")
    sla = _sla(severity) if "severity" not in errors else None
    if "severity" not in errors and sla is None:
        errors["severity"] = _("No SLA is configured for this severity; ask an administrator.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        complaint = _complaint_create(
            customer=customer, channel=channel, category=category, severity=severity, description=description.strip(),
            actor=actor, product_id=product.pk if product else None, skip_level_to=skip_level_to, at=at, sla=sla,
            is_top_customer=bool(_is_top_customer([customer.pk])), ip_address=ip_address,
        )
        if interaction_id is not None:
            Interaction.objects.filter(pk=interaction_id, customer_id=customer.pk).update(complaint=complaint)
        else:  # the complaint is a contact too: it lands on the customer's timeline, linked to the case
            actor_profile = _profile(actor)
            interactions_store(actor=actor, items=[NewInteraction(
                customer_id=customer.pk, channel=channel, kind=Interaction.Kind.COMPLAINT,
                direction=Interaction.Direction.INBOUND, occurred_at=at, summary=description.strip()[:SUMMARY_MAX],
                product_id=product.pk if product else None, staff_id=actor.pk if actor else None,
                branch_id=(actor_profile.branch_id if actor_profile else None) or customer.home_branch_id,
                complaint_id=complaint.pk,
            )])
    return complaint


# --- the churn-risk flag --------------------------------------------------------------------------

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
    rm = _active_user(customer.primary_rm_id) or branch_supervisor(branch_id=customer.home_branch_id)
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
    profile = _profile(actor)
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


# --- escalation -------------------------------------------------------------------------------------

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
        sla = _sla(complaint.severity)
        step = datetime.timedelta(hours=sla.escalation_step_hours if sla else 24)
        if complaint.level >= ESCALATION_TOP:
            _complaint_breach_at_top(complaint=complaint, now=now)
            return 0
        old_owner, old_level = complaint.owner, complaint.level
        level, new_owner = _holder_at_or_above(
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
        if new_owner is not None:
            _alert_owner(
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
                             "to_owner": new_owner.pk if new_owner else None, "from_level": old_level, "level": level})
    return 1


def _complaint_breach_at_top(*, complaint: Complaint, now: datetime.datetime) -> None:
    """The top of the ladder has nobody above: the case stays, breached, and stops escalating."""
    Complaint.objects.filter(pk=complaint.pk).update(sla_breached=True, next_escalation_at=None, updated_at=now)
    ComplaintEvent.objects.create(complaint=complaint, at=now, kind=ComplaintEvent.Kind.NOTE, level=complaint.level,
                                  to_owner=complaint.owner, note=_("SLA breached at the top of the ladder."))
    audit_record(actor=None, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="complaint", object_id=complaint.pk, detail={"breached": True, "level": complaint.level})


# --- status, assignment, the skipped branch's answer -----------------------------------------------

def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update(of=("self",)).select_related("branch", "customer").get(pk=complaint.pk)


def complaint_update_status(
    *, complaint: Complaint, actor: AbstractBaseUser, status: str, resolution: str = "",
    satisfaction: int | None = None, note: str = "", at: datetime.datetime | None = None,
    ip_address: str | None = None,
) -> Complaint:
    """Moves a case along TRANSITIONS. Resolving needs the resolution; closing takes an optional
    satisfaction 1–5 and, for a skip-level case, the skipped branch's answer first; reopening a
    resolved case restarts the escalation clock (one step if the deadline has passed)."""
    at = at or timezone.now()
    with transaction.atomic():
        case = _locked(complaint)
        if not complaint_may_act(complaint=case, user=actor):
            raise PermissionDenied(_("Only the owner, a supervisor of the branch or an administrator may do this."))
        errors: dict[str, str] = {}
        if status not in TRANSITIONS.get(case.status, ()):
            errors["status"] = _("A case that is “%(old)s” cannot become “%(new)s”.") % {
                "old": case.get_status_display(), "new": dict(Status.choices).get(status, status)}
        if status == Status.RESOLVED and not resolution.strip():
            errors["resolution"] = _("Say how the complaint was resolved.")
        if len(resolution) > RESOLUTION_MAX:
            errors["resolution"] = _("At most %(n)d characters.") % {"n": RESOLUTION_MAX}
        if satisfaction is not None and (status != Status.CLOSED or not 1 <= satisfaction <= 5):
            errors["satisfaction"] = _("Satisfaction is a score from 1 to 5, given when the case is closed.")
        if status == Status.CLOSED and case.is_skip_level and case.skipped_branch_answered_at is None:
            errors["status"] = _("The skipped branch has not answered yet; the case cannot be closed.")
        if errors:
            raise ValidationError(errors)
        old = case.status
        fields = ["status", "updated_at"]
        case.status = status
        if status == Status.RESOLVED:
            case.resolution, case.resolved_at, case.next_escalation_at = resolution.strip(), at, None
            fields += ["resolution", "resolved_at", "next_escalation_at"]
        elif status == Status.CLOSED:
            case.closed_at, case.satisfaction = at, satisfaction
            fields += ["closed_at", "satisfaction"]
        elif old == Status.RESOLVED:  # reopened
            case.resolved_at = None
            case.next_escalation_at = _reopened_escalation_at(case=case, at=at)
            fields += ["resolved_at", "next_escalation_at"]
        case.save(update_fields=fields)
        if status in (Status.RESOLVED, Status.CLOSED):
            Task.objects.filter(complaint=case, status=Task.Status.OPEN).update(
                status=Task.Status.DONE, done_at=at, done_by=actor)
        ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.STATUS, actor=actor,
                                      status=status, level=case.level, note=(resolution or note).strip())
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address,
                     detail={"status": [old, status], "satisfaction": satisfaction})
    return case


def _reopened_escalation_at(*, case: Complaint, at: datetime.datetime) -> datetime.datetime | None:
    if case.level >= ESCALATION_TOP:
        return None
    if case.sla_due_at > at:
        return case.sla_due_at
    sla = _sla(case.severity)
    return at + datetime.timedelta(hours=sla.escalation_step_hours if sla else 24)


def complaint_assign(
    *, complaint: Complaint, actor: AbstractBaseUser, assignee: AbstractBaseUser, note: str = "",
    at: datetime.datetime | None = None, ip_address: str | None = None,
) -> Complaint:
    """A supervisor of the case's branch (or an admin) gives an open case to another active member
    of the branch's staff; the new owner is notified and gets the task."""
    at = at or timezone.now()
    with transaction.atomic():
        case = _locked(complaint)
        if not _is_branch_supervisor_or_admin(user=actor, branch_id=case.branch_id):
            raise PermissionDenied(_("Only a supervisor of the case's branch or an administrator may assign it."))
        errors: dict[str, str] = {}
        if not case.is_open:
            errors["assignee"] = _("Only an open case can be assigned.")
        elif not StaffProfile.objects.filter(user_id=assignee.pk, branch_id=case.branch_id,
                                             user__is_active=True).exists():
            errors["assignee"] = _("Choose an active member of the case's branch.")
        elif assignee.pk == case.owner_id:
            errors["assignee"] = _("The case is already theirs.")
        if errors:
            raise ValidationError(errors)
        old_owner_id = case.owner_id
        case.owner = assignee
        case.save(update_fields=["owner", "updated_at"])
        ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.ASSIGNED, actor=actor,
                                      from_owner_id=old_owner_id, to_owner=assignee, level=case.level,
                                      note=note.strip())
        _alert_owner(
            complaint=case, owner=assignee, actor=actor, customer=case.customer,
            due_at=max(case.sla_due_at, at), kind=Notification.Kind.COMPLAINT_ASSIGNED,
            text=_("Complaint #%(id)s from %(customer)s was assigned to you.") % {
                "id": case.pk, "customer": case.customer.display_name},
        )
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address,
                     detail={"owner": [old_owner_id, assignee.pk]})
    return case


def complaint_answer_for_skipped_branch(
    *, complaint: Complaint, actor: AbstractBaseUser, answer: str, at: datetime.datetime | None = None,
    ip_address: str | None = None,
) -> Complaint:
    """The skipped branch's answer to a skip-level case (its supervisor or an admin), once."""
    at = at or timezone.now()
    with transaction.atomic():
        case = _locked(complaint)
        if not _is_branch_supervisor_or_admin(user=actor, branch_id=case.branch_id):
            raise PermissionDenied(_("Only a supervisor of the skipped branch or an administrator may answer."))
        errors: dict[str, str] = {}
        if not case.is_skip_level:
            errors["answer"] = _("This is not a skip-level complaint.")
        elif case.skipped_branch_answered_at is not None:
            errors["answer"] = _("The branch has answered already.")
        elif not answer.strip():
            errors["answer"] = _("Write the branch's answer.")
        elif len(answer) > RESOLUTION_MAX:
            errors["answer"] = _("At most %(n)d characters.") % {"n": RESOLUTION_MAX}
        if errors:
            raise ValidationError(errors)
        case.skipped_branch_answer, case.skipped_branch_answered_at = answer.strip(), at
        case.save(update_fields=["skipped_branch_answer", "skipped_branch_answered_at", "updated_at"])
        ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.SKIPPED_BRANCH_ANSWER,
                                      actor=actor, level=case.level, note=case.skipped_branch_answer)
        Task.objects.filter(dedupe_key=f"skip-answer:{case.pk}", status=Task.Status.OPEN).update(
            status=Task.Status.DONE, done_at=at, done_by=actor)
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address,
                     detail={"skipped_branch_answered": True})
    return case


# --- hooks on stored interactions ------------------------------------------------------------------

@interactions_after_store
def complaints_open_for_interactions(
    rows: list[Interaction], items: list[NewInteraction], actor: AbstractBaseUser | None,
) -> None:
    """Opens a case for each stored contact of kind complaint not linked to one yet (the API, CSV
    files, the quick form), in the storing transaction: the customers, the SLAs and who is a top
    customer are read once for the batch; the links are written in one UPDATE."""
    pairs = [(row, item) for row, item in zip(rows, items, strict=True)
             if row.kind == Interaction.Kind.COMPLAINT and row.complaint_id is None]
    if not pairs:
        return
    customers = Customer.objects.select_related("home_branch").in_bulk({row.customer_id for row, _item in pairs})
    slas = {sla.severity: sla for sla in ComplaintSLA.objects.all()}
    top = _is_top_customer(customers)
    linked: list[Interaction] = []
    for row, item in pairs:
        category = item.extra.get("category")
        severity = item.extra.get("severity")
        category = category if category in Complaint.Category.values else Complaint.Category.OTHER
        severity = severity if severity in slas else Severity.MEDIUM
        if severity not in slas:
            logger.error("No complaint SLA for %s: interaction %s opens no case", severity, row.pk)
            continue
        complaint = _complaint_create(
            customer=customers[row.customer_id], channel=row.channel, category=category, severity=severity,
            description=row.summary, actor=actor, product_id=row.product_id, skip_level_to=None,
            at=row.occurred_at, sla=slas[severity], is_top_customer=row.customer_id in top,
        )
        row.complaint_id = complaint.pk
        item.complaint_id = complaint.pk
        linked.append(row)
    Interaction.objects.bulk_update(linked, ["complaint"])


@interactions_after_store
def feedback_route_to_product_owners(
    rows: list[Interaction], items: list[NewInteraction], actor: AbstractBaseUser | None,
) -> None:
    """Feedback about a product goes to the product's owner as a task with a response-time clock
    (CRM_FEEDBACK_RESPONSE_HOURS from when the customer gave it) and a notification."""
    feedback = [row for row in rows if row.kind == Interaction.Kind.FEEDBACK and row.product_id is not None]
    if not feedback:
        return
    products = Product.objects.select_related("owner").filter(
        pk__in={row.product_id for row in feedback}, owner__isnull=False, owner__is_active=True).in_bulk()
    if not products:
        return
    customers = Customer.objects.in_bulk({row.customer_id for row in feedback if row.product_id in products})
    clock = datetime.timedelta(hours=settings.CRM_FEEDBACK_RESPONSE_HOURS)
    for row in feedback:
        product = products.get(row.product_id)
        if product is None:
            continue
        customer = customers[row.customer_id]
        task = task_create(
            assignee=product.owner, kind=Task.Kind.FEEDBACK_RESPONSE, due_at=row.occurred_at + clock,
            customer=customer, actor=actor, interaction_id=row.pk, dedupe_key=f"feedback:{row.pk}", detail=row.summary,
            title=_("Feedback on %(product)s from %(customer)s") % {
                "product": product.localized_name, "customer": customer.display_name},
        )
        if task is not None:
            notification_send(
                recipient=product.owner, kind=Notification.Kind.FEEDBACK,
                url=reverse("customers:customer-detail", args=[customer.pk]),
                text=_("%(customer)s gave feedback on %(product)s; answer within %(hours)d hours.") % {
                    "customer": customer.display_name, "product": product.localized_name,
                    "hours": settings.CRM_FEEDBACK_RESPONSE_HOURS},
            )
