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


def _admin_change_data(client, customer, **changes) -> dict:
    form = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data.update({"interests": "", "attributes": "{}", "holdings-TOTAL_FORMS": "0", "holdings-INITIAL_FORMS": "0"})
    for name in ("marketing_consent", "do_not_contact"):
        if not data.get(name):
            data.pop(name)
    for name in ("marketing_consent_at", "last_contact_at"):
        data.pop(name, None)
        data[f"{name}_0"] = data[f"{name}_1"] = ""
    for name in ("birth_date", "kyc_review_due", "customer_since"):
        data[name] = data.get(name) or ""
    data.update(changes)
    return data


def test_admin_customer_edit_goes_through_services_and_is_audited(client, bank_admin, customer_a):
    from crm_bank.audit.models import AuditEvent
    from customers.models import Customer

    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_change", args=[customer_a.pk])
    response = client.post(url, _admin_change_data(client, customer_a, city="Olomouc", phone="+420 601 999 888"))
    assert response.status_code == 302
    saved = Customer.objects.get(pk=customer_a.pk)
    assert (saved.city, saved.phone) == ("Olomouc", "+420601999888")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE, actor=bank_admin).exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"phone": "601 123"}, "country code"),
    ({"national_id": "7103192746"}, "not a valid"),
    ({"primary_rm": ""}, "keeps an RM"),
])
def test_admin_customer_bad_edit_is_a_form_error_and_changes_nothing(client, bank_admin, customer_a, changes, message):
    from customers.models import Customer

    client.force_login(bank_admin)
    url = reverse("admin:customers_customer_change", args=[customer_a.pk])
    response = client.post(url, _admin_change_data(client, customer_a, city="Nowhere", **changes))
    assert response.status_code == 200 and message in response.content.decode()
    saved = Customer.objects.get(pk=customer_a.pk)
    assert saved.city != "Nowhere" and saved.primary_rm_id == customer_a.primary_rm_id


def test_admin_is_closed_to_staff_who_are_not_administrators(client, rm_b, customer_a):
    from django.contrib.auth.models import Permission

    rm_b.is_staff = True
    rm_b.save(update_fields=["is_staff"])
    rm_b.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(rm_b)
    response = client.get(reverse("admin:customers_customer_change", args=[customer_a.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
