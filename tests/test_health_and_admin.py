"""/healthz and the Django admin's pages and gate (the customers admin: tests/customers/test_admin.py)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_healthz_is_public_and_checks_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True}


def test_healthz_reports_a_broken_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["broker"] is False


# Admins whose records are written only by code (trail, RM hand-overs, lock-outs, what source systems
# sent, batch runs): no add page.
ADD_REFUSED = {
    "audit.AuditEvent", "customers.RMAssignment", "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog",
    "customers.Account", "customers.Transaction", "customers.StandingOrder", "customers.SourceRecord",
    "runs.Run", "runs.CurrentRun", "customers.ImportBatch", "customers.ImportRow",
    "customers.MatchCandidate", "customers.CustomerMerge",
    # Channels: written only by their services (ingest, complaints, transfers, runs).
    "channels.Interaction", "channels.Task", "channels.ChurnFlag", "channels.Complaint", "channels.ChannelToken",
    "channels.HeldInteraction", "channels.BookTransfer", "channels.LifecycleSnapshot",
    # Campaigns: drafted and approved on their pages, under the four-eyes rule; outcomes recorded on
    # the work queue.
    "campaigns.Campaign", "campaigns.CampaignContact",
    # KPI targets: set on the targets page, branch targets under the four-eyes rule.
    "performance.KpiTarget",
}


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_and_add_pages_load(client, bank_admin, customer_a, model):
    client.force_login(bank_admin)
    info = (model._meta.app_label, model._meta.model_name)
    assert client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
    add = client.get(reverse("admin:{}_{}_add".format(*info)))
    assert add.status_code == (403 if model._meta.label in ADD_REFUSED else 200)


def test_admin_is_closed_to_staff_who_are_not_administrators(client, rm_b, customer_a):
    from django.contrib.auth.models import Permission

    rm_b.is_staff = True
    rm_b.save(update_fields=["is_staff"])
    rm_b.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(rm_b)
    response = client.get(reverse("admin:customers_customer_change", args=[customer_a.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
