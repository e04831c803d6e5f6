"""Every write made in the Django admin is on the audit trail, whichever app's admin made it, and the
admin pages that show customer data audit their opening and searching (crm_bank.admin_site)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from campaigns.models import Campaign, CampaignContact
from channels.models import Task
from crm_bank.admin_site import AuditedAdminWrites
from crm_bank.audit.models import AuditEvent
from crm_bank.org.models import StaffProfile
from customers.models import Household, ImportBatch, ImportRow, RMAssignment, SourceSystem

pytestmark = pytest.mark.django_db


def _audit_rows(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


def test_every_admin_on_the_site_audits_its_writes():
    """Including the ones the installed apps register (schedules, authenticators, lock-outs, groups)."""
    unaudited = [model._meta.label for model, model_admin in admin.site._registry.items()
                 if not isinstance(model_admin, AuditedAdminWrites)]
    assert unaudited == []
    assert "otp_totp.TOTPDevice" in {model._meta.label for model in admin.site._registry}


def test_a_staff_members_role_and_branch_change_is_audited_with_the_values(client, bank_admin, rm_b, branch_a):
    profile = rm_b.staff_profile
    client.force_login(bank_admin)
    url = reverse("admin:org_staffprofile_change", args=[profile.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data |= {"role": StaffProfile.Role.SUPERVISOR, "branch": branch_a.pk}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    profile.refresh_from_db()
    assert (profile.role, profile.branch_id) == (StaffProfile.Role.SUPERVISOR, branch_a.pk)
    [row] = _audit_rows(object_type="staff_profile", action=AuditEvent.Action.CHANGE)
    assert row.actor_id == bank_admin.pk and row.object_id == str(profile.pk)
    assert row.detail["fields"] == {"role": StaffProfile.Role.SUPERVISOR, "branch": str(branch_a)}


def test_a_settings_change_is_audited_once(client, bank_admin):
    """ChangesAuditedAdmin records the values; the site's own audit does not record it again."""
    system = SourceSystem.objects.create(code="CRD", name="Cards")
    client.force_login(bank_admin)
    url = reverse("admin:customers_sourcesystem_change", args=[system.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields} | {"name": "Card system"}
    assert client.post(url, data).status_code == 302
    rows = _audit_rows(action=AuditEvent.Action.CHANGE)
    assert [(row.object_type, row.detail) for row in rows] == [("source_system", {"fields": {"name": "Card system"}})]


def test_a_bulk_delete_audits_each_record_and_a_failed_one_nothing(client, bank_admin):
    households = [Household.objects.create(name=f"Family {n}") for n in range(3)]
    client.force_login(bank_admin)
    response = client.post(reverse("admin:customers_household_changelist"), {
        "action": "delete_selected", "post": "yes", "_selected_action": [h.pk for h in households[:2]],
    })
    assert response.status_code == 302
    assert list(Household.objects.values_list("pk", flat=True)) == [households[2].pk]
    rows = _audit_rows(action=AuditEvent.Action.DELETE)
    assert sorted((row.object_type, row.object_id) for row in rows) == [
        ("household", str(households[0].pk)), ("household", str(households[1].pk))]
    assert all(row.actor_id == bank_admin.pk for row in rows)


def test_a_single_delete_is_audited(client, bank_admin):
    household = Household.objects.create(name="Novak family")
    client.force_login(bank_admin)
    response = client.post(reverse("admin:customers_household_delete", args=[household.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Household.objects.exists()
    [row] = _audit_rows(action=AuditEvent.Action.DELETE)
    assert (row.object_type, row.object_id) == ("household", str(household.pk))


def test_installed_apps_admins_are_audited_too_without_values(client, bank_admin, rm_a):
    """Deleting someone's authenticator and changing a group's permissions: audited with the fields
    changed and never their values (a device's key is a secret)."""
    device = TOTPDevice.objects.create(user=rm_a, name="phone", confirmed=True)
    group = Group.objects.create(name="Helpdesk")
    client.force_login(bank_admin)
    delete = client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
    assert delete.status_code == 302
    response = client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "Help desk"})
    assert response.status_code == 302
    [deleted] = _audit_rows(action=AuditEvent.Action.DELETE)
    assert (deleted.object_type, deleted.object_id, deleted.detail) == ("otp_totp.totpdevice", str(device.pk), {})
    [changed] = _audit_rows(action=AuditEvent.Action.CHANGE)
    assert (changed.object_type, changed.object_id) == ("auth.group", str(group.pk))
    assert changed.detail == {"admin": [{"changed": {"fields": ["Name"]}}]}
    assert device.key not in str(deleted.detail)


def test_an_added_record_is_audited_after_it_is_saved(client, bank_admin):
    client.force_login(bank_admin)
    assert client.post(reverse("admin:auth_group_add"), {"name": "Auditors"}).status_code == 302
    [row] = _audit_rows(action=AuditEvent.Action.CREATE, object_type="auth.group")
    assert (row.object_type, row.object_id) == ("auth.group", str(Group.objects.get(name="Auditors").pk))


def test_a_refused_write_leaves_no_audit_row(client, bank_admin):
    client.force_login(bank_admin)
    response = client.post(reverse("admin:auth_group_add"), {"name": ""})
    assert response.status_code == 200 and not Group.objects.exists()
    assert not AuditEvent.objects.filter(object_type="auth.group").exists()


@pytest.fixture
def contact(customer_a):
    campaign = Campaign.objects.create(code="TD", name="Term deposit", channel="call_centre",
                                       starts_on=dt.date(2026, 1, 1))
    return CampaignContact.objects.create(campaign=campaign, customer=customer_a, outcome="pending",
                                          contacted_on=dt.date(2026, 2, 1))


def test_campaign_contacts_are_read_only_in_the_admin(client, bank_admin, contact):
    """An outcome is recorded on the work queue, audited and on the timeline: never edited here."""
    client.force_login(bank_admin)
    url = reverse("admin:campaigns_campaigncontact_change", args=[contact.pk])
    assert client.post(url, {"outcome": "accepted", "attempts": 5}).status_code == 403
    delete = client.post(reverse("admin:campaigns_campaigncontact_delete", args=[contact.pk]), {"post": "yes"})
    assert delete.status_code == 403
    contact.refresh_from_db()
    assert (contact.outcome, contact.attempts) == ("pending", 0)


def test_campaign_contact_page_and_search_are_audited(client, bank_admin, contact, customer_a):
    client.force_login(bank_admin)
    assert client.get(reverse("admin:campaigns_campaigncontact_change", args=[contact.pk])).status_code == 200
    response = client.get(reverse("admin:campaigns_campaigncontact_changelist"), {"q": customer_a.cif})
    assert response.status_code == 200
    opened, searched = _audit_rows(object_type="campaign_contact")
    assert opened.detail == {"purpose": "admin", "customers": [customer_a.pk]}
    assert searched.detail == {"purpose": "admin search", "kind": "cif", "found": [contact.pk]}
    assert customer_a.cif not in str(searched.detail)


def test_task_and_rm_period_pages_and_searches_are_audited(client, bank_admin, rm_a, customer_a):
    task = Task.objects.create(assignee=rm_a, customer=customer_a, kind=Task.Kind.FOLLOW_UP, title="Call back",
                               detail="Rang about the mortgage", due_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    period = RMAssignment.objects.filter(customer=customer_a).first() or RMAssignment.objects.create(
        customer=customer_a, rm=rm_a, started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), reason="onboarding")
    client.force_login(bank_admin)
    assert client.get(reverse("admin:channels_task_change", args=[task.pk])).status_code == 200
    assert client.get(reverse("admin:customers_rmassignment_changelist"), {"q": customer_a.cif}).status_code == 200
    [opened] = _audit_rows(object_type="task")
    assert opened.detail["customers"] == [customer_a.pk]
    [searched] = _audit_rows(object_type="rm_assignment")
    assert (searched.detail["kind"], searched.detail["found"]) == ("cif", [period.pk])


def test_an_import_row_search_is_audited(client, bank_admin, customer_a):
    system = SourceSystem.objects.create(code="CRD", name="Cards")
    batch = ImportBatch.objects.create(source=system, file_name="cards.csv")
    row = ImportRow.objects.create(batch=batch, line=1, source_key="CRD-0001", customer=customer_a,
                                   payload={})
    client.force_login(bank_admin)
    assert client.get(reverse("admin:customers_importrow_changelist"), {"q": "CRD-0001"}).status_code == 200
    [searched] = _audit_rows(object_type="import_row")
    assert (searched.detail["kind"], searched.detail["found"]) == ("source_key", [row.pk])


def test_admins_listing_customer_data_say_what_each_search_field_is():
    """A list searched by an identifier records the kind it matched: a new admin over customer data
    without `search_kinds` would search unaudited."""
    request = RequestFactory().get("/")
    missing = []
    for model, model_admin in admin.site._registry.items():
        over_customers = model._meta.label == "customers.Customer" or any(
            field.many_to_one and field.related_model._meta.label == "customers.Customer"
            for field in model._meta.get_fields())
        if over_customers and model_admin.get_search_fields(request) and not getattr(model_admin, "search_kinds", ()):
            missing.append(model._meta.label)
    assert missing == []


def test_a_bulk_delete_writes_its_audit_rows_in_one_insert(client, bank_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    households = [Household.objects.create(name=f"Family {n}") for n in range(5)]
    client.force_login(bank_admin)
    with CaptureQueriesContext(connection) as queries:
        client.post(reverse("admin:customers_household_changelist"), {
            "action": "delete_selected", "post": "yes", "_selected_action": [h.pk for h in households]})
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "audit_auditevent"')]
    assert len(inserts) == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELETE, object_type="household").count() == 5
