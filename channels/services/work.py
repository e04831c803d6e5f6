"""Tasks and notifications: follow-ups, KYC refresh, introductions, complaint actions, feedback
clocks on a staff member's landing page; in-app notifications, also sent by e-mail."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from channels.models import Notification, Task
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import quoted_table
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from customers.models import Customer

logger = logging.getLogger(__name__)


def task_create(
    *, assignee: AbstractBaseUser, kind: str, title: str, due_at: datetime.datetime,
    customer: Customer | None = None, detail: str = "", actor: AbstractBaseUser | None = None,
    interaction_id: int | None = None, complaint_id: int | None = None, dedupe_key: str = "",
) -> Task | None:
    """Creates an open task; with a `dedupe_key` already used, creates nothing and returns None (a
    generator that runs again, a retried request)."""
    task = Task(
        assignee=assignee, kind=kind, title=title[:200], due_at=due_at, customer=customer, detail=detail,
        created_by=actor, interaction_id=interaction_id, complaint_id=complaint_id, dedupe_key=dedupe_key,
    )
    if not dedupe_key:
        task.save()
        return task
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a duplicate
            task.save()
    except IntegrityError:
        if Task.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    return task


def notification_send(
    *, recipient: AbstractBaseUser, kind: str, text: str, url: str = "", email_subject: str = "",
    customer: Customer | None = None,
) -> Notification:
    """An in-app notification on the recipient's landing page, and the same text by e-mail (Django's
    mail backend) once the transaction commits, when the recipient has an address. `customer`: the
    customer the text names (the retention run erases it with their data)."""
    notification = Notification.objects.create(recipient=recipient, kind=kind, text=text[:500], url=url,
                                               customer=customer)
    if recipient.email:
        subject = email_subject or text[:80]

        def deliver() -> None:
            try:
                send_mail(subject, f"{text}\n\n{url}".strip(), None, [recipient.email])
            except OSError:  # the in-app notification stands; a mail outage must not undo the action
                logger.exception("Notification e-mail to user %s failed", recipient.pk)

        transaction.on_commit(deliver)
    return notification


def task_may_close(*, task: Task, actor: AbstractBaseUser) -> bool:
    """The assignee, a supervisor of the assignee's branch, the assignee's own manager, or an admin."""
    if task.assignee_id == actor.pk:
        return True
    profile = staff_profile_for_user(actor)
    if profile is None:
        return False
    if profile.role == StaffProfile.Role.ADMIN:
        return True
    assignee = StaffProfile.objects.filter(user_id=task.assignee_id).values("branch_id", "manager_id").first()
    if assignee is None or profile.pk is None:
        return False
    same_branch_supervisor = (
        profile.role == StaffProfile.Role.SUPERVISOR and profile.branch_id is not None
        and profile.branch_id == assignee["branch_id"]
    )
    return same_branch_supervisor or assignee["manager_id"] == profile.pk


def task_done(*, task_id: int, actor: AbstractBaseUser, ip_address: str | None = None) -> Task:
    """Marks an open task done. Idempotent: a task already done is returned as it is (a double
    click, a retried request); a cancelled one cannot be done. Only the assignee or their
    supervisor may close it (PermissionDenied)."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise Task.DoesNotExist
    if not task_may_close(task=task, actor=actor):
        raise PermissionDenied(gettext("Only the person the task is assigned to, or their supervisor, can close it."))
    if task.status == Task.Status.DONE:
        return task
    if task.status != Task.Status.OPEN:
        raise ValidationError(gettext("This task was cancelled; it cannot be marked done."))
    now = timezone.now()
    with transaction.atomic():
        changed = Task.objects.filter(pk=task.pk, status=Task.Status.OPEN).update(
            status=Task.Status.DONE, done_at=now, done_by=actor,
        )
        if changed:
            audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="task", object_id=task.pk, ip_address=ip_address,
                         detail={"status": Task.Status.DONE, "kind": task.kind})
    task.refresh_from_db()
    return task


def notifications_mark_read(
    *, recipient: AbstractBaseUser, notification_ids: list[int] | None = None,
) -> int:
    """Marks the recipient's unread notifications read (the given ones, or all); returns how many.
    Someone else's notification ids are ignored, so nobody can touch another's list."""
    unread = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())


# A KYC-refresh task is due at the end of the review day, in the bank's time zone.
KYC_DUE_TIME = datetime.time(17, 0)
KYC_LOOKAHEAD_DAYS = 30


def kyc_refresh_tasks_create(*, today: datetime.date | None = None) -> int:
    """Gives each active RM a KYC-refresh task for every customer of theirs whose review falls due
    within 30 days (or is overdue); returns how many tasks were created.

    One INSERT … SELECT … ON CONFLICT DO NOTHING: the dedupe key "kyc:<customer id>:<review date>"
    makes it idempotent, hourly, for a million customers; a new review date gives a new task. The
    customers come from customer_kyc_due_idx (reviews due by a date, customers with an RM), and
    those whose task for that review exists already (open, done or moved to another RM) are
    skipped by a probe of the dedupe index, so an hour with nothing new inserts nothing and
    attempts nothing; ON CONFLICT only settles a race with another run.
    """
    today = today or timezone.localdate()
    with translation.override(settings.LANGUAGE_CODE):
        title = gettext("KYC review due")
    task_table = quoted_table(Task)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {task_table}
                   (assignee_id, customer_id, kind, title, detail, due_at, status, created_at, dedupe_key)
                SELECT c.primary_rm_id, c.id, %(kind)s, %(title)s, '',
                       (c.kyc_review_due + %(due_time)s::time) AT TIME ZONE %(tz)s, %(open)s, now(), due.key
                  FROM {quoted_table(Customer)} c
                  JOIN {connection.ops.quote_name(get_user_model()._meta.db_table)} u
                    ON u.id = c.primary_rm_id AND u.is_active
                 CROSS JOIN LATERAL (
                       SELECT 'kyc:' || c.id || ':' || to_char(c.kyc_review_due, 'YYYY-MM-DD') AS key) due
                 WHERE c.primary_rm_id IS NOT NULL AND c.kyc_review_due <= %(until)s
                   AND NOT EXISTS (SELECT FROM {task_table} t WHERE t.dedupe_key = due.key AND t.dedupe_key <> '')
                ON CONFLICT (dedupe_key) WHERE dedupe_key <> '' DO NOTHING""",
            {"kind": Task.Kind.KYC_REFRESH, "title": title, "due_time": KYC_DUE_TIME.isoformat(),
             "tz": settings.TIME_ZONE, "open": Task.Status.OPEN,
             "until": today + datetime.timedelta(days=KYC_LOOKAHEAD_DAYS)},
        )
        return cursor.rowcount
