"""Task and notification services every channel feature uses."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import transaction

from channels.models import Notification, Task
from channels.services.work import notification_send, task_create
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
DUE = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


def test_task_create_with_a_used_dedupe_key_creates_nothing_and_keeps_the_transaction(rm_a, branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    with transaction.atomic():
        first = task_create(assignee=rm_a, kind=Task.Kind.KYC_REFRESH, title="KYC", due_at=DUE,
                            customer=customer, dedupe_key="kyc:1:2026-12-01")
        again = task_create(assignee=rm_a, kind=Task.Kind.KYC_REFRESH, title="KYC", due_at=DUE,
                            customer=customer, dedupe_key="kyc:1:2026-12-01")
        # The outer transaction is still usable after the refused duplicate.
        other = task_create(assignee=rm_a, kind=Task.Kind.FOLLOW_UP, title="Call back", due_at=DUE)
    assert first is not None and again is None and other is not None
    assert Task.objects.count() == 2


def test_notification_send_mails_after_commit_only(rm_a, django_capture_on_commit_callbacks):
    rm_a.email = "rm.a@bank.example"
    rm_a.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(recipient=rm_a, kind=Notification.Kind.COMPLAINT_ESCALATED,
                          text="Complaint #7 escalated to you", url="/channels/complaints/7/")
    assert Notification.objects.get(recipient=rm_a).text == "Complaint #7 escalated to you"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["rm.a@bank.example"]
    assert "/channels/complaints/7/" in mail.outbox[0].body


def test_notification_send_without_an_address_is_in_app_only(rm_a, django_capture_on_commit_callbacks):
    rm_a.email = ""
    rm_a.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(recipient=rm_a, kind=Notification.Kind.CHURN_RISK, text="Churn risk")
    assert Notification.objects.filter(recipient=rm_a).count() == 1
    assert mail.outbox == []
