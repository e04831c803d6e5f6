"""/healthz, the Django admin pages, and a real Celery worker taking work from Redis."""

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


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_and_add_pages_load(client, bank_admin, customer_a, model):
    client.force_login(bank_admin)
    info = (model._meta.app_label, model._meta.model_name)
    assert client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
    model_admin = admin.site._registry[model]
    add = client.get(reverse("admin:{}_{}_add".format(*info)))
    assert add.status_code == (200 if model_admin.has_add_permission(type("R", (), {"user": bank_admin})) else 403)


def test_admin_customer_history_page_loads(client, bank_admin, customer_a):
    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_history", args=[customer_a.pk])
    assert client.get(url).status_code == 200


def test_admin_opening_a_customer_is_audited(client, bank_admin, customer_a):
    from crm_bank.audit.models import AuditEvent

    client.force_login(bank_admin)
    assert client.get(reverse("admin:customers_customer_change", args=[customer_a.pk])).status_code == 200
    event = AuditEvent.objects.get(actor=bank_admin, action=AuditEvent.Action.VIEW)
    assert event.object_id == str(customer_a.pk) and event.detail["purpose"] == "admin"


def test_admin_customer_edit_goes_through_services_and_is_audited(client, bank_admin, customer_a):
    from crm_bank.audit.models import AuditEvent
    from customers.models import Customer

    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_change", args=[customer_a.pk])
    form = client.get(url).context["adminform"].form
    data = {name: (value if value is not None else "") for name, value in form.initial.items()}
    data.update({"city": "Olomouc", "interests": "", "attributes": "{}",
                 "holdings-TOTAL_FORMS": "0", "holdings-INITIAL_FORMS": "0"})
    for name in ("marketing_consent", "do_not_contact"):
        if not data.get(name):
            data.pop(name, None)
    for name in ("birth_date", "marketing_consent_at", "kyc_review_due", "customer_since", "last_contact_at"):
        data[name] = data.get(name) or ""
    data.pop("marketing_consent_at", None)
    data.pop("last_contact_at", None)
    data["marketing_consent_at_0"] = data["marketing_consent_at_1"] = ""
    data["last_contact_at_0"] = data["last_contact_at_1"] = ""
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert Customer.objects.get(pk=customer_a.pk).city == "Olomouc"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, actor=bank_admin).exists()
