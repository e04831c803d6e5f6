"""Tasks and notifications: follow-ups, KYC refresh, introductions, complaint actions, feedback
clocks on a staff member's landing page; in-app notifications, also sent by e-mail."""

from __future__ import annotations

import datetime
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from channels.models import Notification, Task
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
) -> Notification:
    """An in-app notification on the recipient's landing page, and the same text by e-mail (Django's
    mail backend) once the transaction commits, when the recipient has an address."""
    notification = Notification.objects.create(recipient=recipient, kind=kind, text=text[:500], url=url)
    if recipient.email:
        subject = email_subject or text[:80]

        def deliver() -> None:
            try:
                send_mail(subject, f"{text}\n\n{url}".strip(), None, [recipient.email])
            except OSError:  # the in-app notification stands; a mail outage must not undo the action
                logger.exception("Notification e-mail to user %s failed", recipient.pk)

        transaction.on_commit(deliver)
    return notification
