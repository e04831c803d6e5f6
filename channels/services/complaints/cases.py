"""Opening a case, its status, assignment and the skipped branch's answer."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import Complaint, ComplaintEvent, ComplaintSLA, Interaction, Task
from channels.models.complaints import Level, Severity
from channels.models.work import Notification
from channels.services.complaints.churn import churn_flag_raise
from channels.services.complaints.ladder import (
    DESCRIPTION_MAX,
    ESCALATION_TOP,
    RESOLUTION_MAX,
    SKIP_LEVEL_TARGETS,
    TRANSITIONS,
    Status,
    an_admin,
    branch_supervisor,
    complaint_may_act,
    complaint_may_assign,
    complaint_sla,
    complaint_url,
    holder_at_or_above,
    is_branch_supervisor_or_admin,
    is_with_the_branch,
    staff_profile,
)
from channels.services.interactions import SUMMARY_MAX, NewInteraction, interactions_store
from channels.services.work import notification_send, task_create
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from customers.models import TOUCHPOINT_CHANNELS, Customer, Product
from customers.value_ranking import top_customer_condition

logger = logging.getLogger(__name__)


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


def skip_answer_key(complaint_id: int) -> str:
    """The dedupe key of the skipped branch's answer task: it closes when the branch answers, not
    with the case's owners' tasks."""
    return f"skip-answer:{complaint_id}"


def owner_tasks_open(complaint: Complaint) -> QuerySet[Task]:
    """The open complaint-action tasks of the case's holders (now and before), not the skipped
    branch's answer task."""
    return (Task.objects.filter(complaint_id=complaint.pk, kind=Task.Kind.COMPLAINT_ACTION, status=Task.Status.OPEN)
            .exclude(dedupe_key=skip_answer_key(complaint.pk)))


def owner_tasks_cancel(complaint: Complaint) -> int:
    """Cancels the open action tasks of whoever held the case before a hand-over (escalation,
    assignment): the new holder gets their own. Returns how many."""
    return owner_tasks_open(complaint).update(status=Task.Status.CANCELLED)


def owner_task_create(*, complaint: Complaint, owner: AbstractBaseUser, actor: AbstractBaseUser | None,
                      customer: Customer, due_at: datetime.datetime) -> None:
    task_create(
        assignee=owner, kind=Task.Kind.COMPLAINT_ACTION, due_at=due_at, customer=customer, actor=actor,
        complaint_id=complaint.pk,
        title=_("Complaint #%(id)s: %(category)s") % {"id": complaint.pk, "category": complaint.get_category_display()},
        detail=_("Resolve by %(due)s.") % {"due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
    )


def owner_alert(*, complaint: Complaint, owner: AbstractBaseUser, actor: AbstractBaseUser | None,
                 customer: Customer, kind: str, text: str, due_at: datetime.datetime) -> None:
    notification_send(recipient=owner, kind=kind, text=text, url=complaint_url(complaint), customer=customer)
    owner_task_create(complaint=complaint, owner=owner, actor=actor, customer=customer, due_at=due_at)


def complaint_create_valid(
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
        # Only a customer who went to the regulator lands with its liaison; a case for the bank's own
        # levels climbs no higher than head office, then goes to an administrator.
        top = Level.REGULATOR if skip_level_to == Level.REGULATOR else ESCALATION_TOP
        level, owner = holder_at_or_above(level=skip_level_to, branch=branch, owner_id=None, top=top)
    else:
        level, owner = holder_at_or_above(level=Level.OWNER, branch=branch, owner_id=customer.primary_rm_id,
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
        owner_alert(
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
    recipient = branch_supervisor(branch_id=complaint.branch_id) or an_admin()
    if recipient is None:
        return
    notification_send(
        recipient=recipient, kind=Notification.Kind.SKIP_LEVEL, url=complaint_url(complaint), customer=customer,
        text=_("%(customer)s took complaint #%(id)s over the branch's head to the %(level)s. "
               "Your branch must answer.") % {"customer": customer.display_name, "id": complaint.pk,
                                              "level": complaint.get_level_display()},
    )
    task_create(
        assignee=recipient, kind=Task.Kind.COMPLAINT_ACTION, due_at=complaint.sla_due_at, customer=customer,
        actor=actor, complaint_id=complaint.pk, dedupe_key=skip_answer_key(complaint.pk),
        title=_("Answer skip-level complaint #%(id)s") % {"id": complaint.pk},
    )


def top_customer_ids(customer_ids: Iterable[int]) -> set[int]:
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(Customer.objects.filter(pk__in=ids).filter(top_customer_condition()).values_list("pk", flat=True))


# A form sent again within this time (a double click, a retried request) is the same complaint.
RESEND_WINDOW = datetime.timedelta(minutes=10)


def complaint_open(
    *, customer: Customer, channel: str, category: str, severity: str, description: str,
    actor: AbstractBaseUser | None, product: Product | None = None, skip_level_to: int | None = None,
    interaction_id: int | None = None, at: datetime.datetime | None = None, ip_address: str | None = None,
) -> Complaint:
    """Opens a case (see complaint_create_valid) and links `interaction_id`, or records the complaint as
    an inbound contact on the timeline. Raises ValidationError with a message per field and writes
    nothing when a value is wrong.

    The customer's row is locked first, so the same form sent twice is handled one after the other;
    the second finds the case the first opened (same opener, customer, channel, category, severity,
    description, product and skip-level route, opened within RESEND_WINDOW of `at`) and returns it:
    nothing more is written, no second task or notification. A genuinely new complaint from the
    customer differs in its description, or comes later."""
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
    sla = complaint_sla(severity) if "severity" not in errors else None
    if "severity" not in errors and sla is None:
        errors["severity"] = _("No SLA is configured for this severity; ask an administrator.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk"))
        resent = _complaint_resent(customer=customer, actor=actor, channel=channel, category=category,
                                   severity=severity, description=description.strip(), product=product,
                                   skip_level_to=skip_level_to, at=at)
        if resent is not None:
            return resent
        complaint = complaint_create_valid(
            customer=customer, channel=channel, category=category, severity=severity, description=description.strip(),
            actor=actor, product_id=product.pk if product else None, skip_level_to=skip_level_to, at=at, sla=sla,
            is_top_customer=bool(top_customer_ids([customer.pk])), ip_address=ip_address,
        )
        if interaction_id is not None:
            Interaction.objects.filter(pk=interaction_id, customer_id=customer.pk).update(complaint=complaint)
        else:  # the complaint is a contact too: it lands on the customer's timeline, linked to the case
            actor_profile = staff_profile(actor)
            interactions_store(actor=actor, items=[NewInteraction(
                customer_id=customer.pk, channel=channel, kind=Interaction.Kind.COMPLAINT,
                direction=Interaction.Direction.INBOUND, occurred_at=at, summary=description.strip()[:SUMMARY_MAX],
                product_id=product.pk if product else None, staff_id=actor.pk if actor else None,
                branch_id=(actor_profile.branch_id if actor_profile else None) or customer.home_branch_id,
                complaint_id=complaint.pk,
            )])
    return complaint


def _complaint_resent(
    *, customer: Customer, actor: AbstractBaseUser | None, channel: str, category: str, severity: str,
    description: str, product: Product | None, skip_level_to: int | None, at: datetime.datetime,
) -> Complaint | None:
    """The case this opener opened for the customer with the same values within RESEND_WINDOW of `at`
    (complaint_customer_idx), if any. The product and the skip-level route are the same too: a
    skip-level case at the level this one would start at (the same text sent to another level is
    another case)."""
    same = Complaint.objects.filter(
        customer_id=customer.pk, opened_by_id=actor.pk if actor else None, channel=channel, category=category,
        severity=severity, description=description, product_id=product.pk if product else None,
        is_skip_level=skip_level_to is not None, opened_at__range=(at - RESEND_WINDOW, at + RESEND_WINDOW),
    )
    if skip_level_to is not None:
        if not same.exists():
            return None
        top = Level.REGULATOR if skip_level_to == Level.REGULATOR else ESCALATION_TOP
        level, _holder = holder_at_or_above(level=skip_level_to, branch=customer.home_branch, owner_id=None, top=top)
        same = same.filter(events__kind=ComplaintEvent.Kind.SKIP_LEVEL, events__level=level)
    return same.order_by("opened_at", "pk").first()


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
        previous_owner_id, handed_over = case.owner_id, False
        if old == Status.RESOLVED and status != Status.CLOSED:  # reopened
            handed_over = _reopened_hand_over(case)
            case.resolved_at = None
            case.next_escalation_at = _reopened_escalation_at(case=case, at=at)
            fields += ["resolved_at", "next_escalation_at"] + (["owner", "level"] if handed_over else [])
        case.save(update_fields=fields)
        ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.STATUS, actor=actor,
                                      status=status, level=case.level, note=(resolution or note).strip())
        detail: dict = {"status": [old, status], "satisfaction": satisfaction}
        if handed_over:
            ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.ASSIGNED, actor=actor,
                                          from_owner_id=previous_owner_id, to_owner=case.owner, level=case.level)
            notification_send(
                recipient=case.owner, kind=Notification.Kind.COMPLAINT_ASSIGNED, url=complaint_url(case),
                customer=case.customer,
                text=_("Complaint #%(id)s from %(customer)s was reopened and is yours: its owner is no longer "
                       "active.") % {"id": case.pk, "customer": case.customer.display_name},
            )
            detail.update(owner=[previous_owner_id, case.owner_id], level=case.level)
        tasks = _tasks_follow_status(case=case, old=old, actor=actor, at=at)
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address, detail={**detail, **tasks})
    return case


def _reopened_hand_over(case: Complaint) -> bool:
    """A reopened case whose owner is no longer active (or who has none) goes to the active holder
    of its level or the next one up (holder_at_or_above; at owner level the customer's RM first, as
    on opening): case.owner and case.level are set, not saved. Whether it changed hands."""
    if case.owner_id is not None and case.owner.is_active:
        return False
    owner_id = case.customer.primary_rm_id if case.level == Level.OWNER else case.owner_id
    level, holder = holder_at_or_above(level=case.level, branch=case.branch, owner_id=owner_id,
                                       top=max(case.level, ESCALATION_TOP))
    if holder is None or holder.pk == case.owner_id:
        return False
    case.level, case.owner = level, holder
    return True


def _tasks_follow_status(*, case: Complaint, old: str, actor: AbstractBaseUser,
                         at: datetime.datetime) -> dict[str, int]:
    """Resolving or closing ends the holders' action tasks: the actor's own is done, anyone else's
    cancelled (nobody is recorded as doing another's task); the skipped branch's answer task stays
    until the branch answers. Reopening gives the owner a task again."""
    if case.status in (Status.RESOLVED, Status.CLOSED):
        open_tasks = owner_tasks_open(case)
        done = open_tasks.filter(assignee_id=actor.pk).update(status=Task.Status.DONE, done_at=at, done_by=actor)
        return {"tasks_done": done, "tasks_cancelled": owner_tasks_cancel(case)}
    if old == Status.RESOLVED and case.owner_id is not None and case.owner.is_active:
        owner_task_create(complaint=case, owner=case.owner, actor=actor, customer=case.customer,
                          due_at=case.next_escalation_at or at + _escalation_step(case))
    return {}


def _escalation_step(case: Complaint) -> datetime.timedelta:
    sla = complaint_sla(case.severity)
    return datetime.timedelta(hours=sla.escalation_step_hours if sla else 24)


def _reopened_escalation_at(*, case: Complaint, at: datetime.datetime) -> datetime.datetime | None:
    if case.level >= ESCALATION_TOP:
        return None
    if case.sla_due_at > at:
        return case.sla_due_at
    return at + _escalation_step(case)


def complaint_assign(
    *, complaint: Complaint, actor: AbstractBaseUser, assignee: AbstractBaseUser, note: str = "",
    at: datetime.datetime | None = None, ip_address: str | None = None,
) -> Complaint:
    """Gives an open case to another active member of the branch's staff: a supervisor of the case's
    branch while the case is with the branch, above it only the holder of the case's level, or an
    admin (complaint_may_assign). The case keeps its level, so a case sent above the branch never
    comes back down the ladder and keeps escalating from where it is. The previous owner's action
    task is cancelled; the new owner is notified and gets one."""
    at = at or timezone.now()
    with transaction.atomic():
        case = _locked(complaint)
        if not complaint_may_assign(complaint=case, user=actor):
            if is_with_the_branch(case):
                raise PermissionDenied(_("Only a supervisor of the case's branch or an administrator may assign it."))
            raise PermissionDenied(_("This case is above the branch: only the holder of its level or an "
                                     "administrator may assign it."))
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
        cancelled = owner_tasks_cancel(case)
        ComplaintEvent.objects.create(complaint=case, at=at, kind=ComplaintEvent.Kind.ASSIGNED, actor=actor,
                                      from_owner_id=old_owner_id, to_owner=assignee, level=case.level,
                                      note=note.strip())
        owner_alert(
            complaint=case, owner=assignee, actor=actor, customer=case.customer,
            due_at=max(case.sla_due_at, at), kind=Notification.Kind.COMPLAINT_ASSIGNED,
            text=_("Complaint #%(id)s from %(customer)s was assigned to you.") % {
                "id": case.pk, "customer": case.customer.display_name},
        )
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address,
                     detail={"owner": [old_owner_id, assignee.pk], "level": case.level,
                             "tasks_cancelled": cancelled})
    return case


def complaint_answer_for_skipped_branch(
    *, complaint: Complaint, actor: AbstractBaseUser, answer: str, at: datetime.datetime | None = None,
    ip_address: str | None = None,
) -> Complaint:
    """The skipped branch's answer to a skip-level case (its supervisor or an admin), once."""
    at = at or timezone.now()
    with transaction.atomic():
        case = _locked(complaint)
        if not is_branch_supervisor_or_admin(user=actor, branch_id=case.branch_id):
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
        Task.objects.filter(dedupe_key=skip_answer_key(case.pk), status=Task.Status.OPEN).update(
            status=Task.Status.DONE, done_at=at, done_by=actor)
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="complaint", object_id=case.pk, ip_address=ip_address,
                     detail={"skipped_branch_answered": True})
    return case
