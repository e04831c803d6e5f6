"""Channel systems and tokens (the command, hashing, revocation, the admin) and the holding list."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from channels.models import ChannelSystem, ChannelToken, HeldInteraction, Interaction
from channels.services.systems import (
    channel_system_register,
    channel_token_create,
    channel_token_revoke,
    held_interaction_discard,
    held_interaction_resolve,
)
from crm_bank.audit.models import AuditEvent
from tests.channels.test_api import item
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _command(*args: str) -> str:
    out = StringIO()
    call_command("create_channel_token", *args, stdout=out)
    return out.getvalue()


def test_create_channel_token_registers_a_new_system_and_prints_a_working_token(branch_a):
    CustomerFactory(cif="C000000001", home_branch=branch_a)
    output = _command("atm-switch", "--name", "ATM switch")
    assert "Registered channel system atm-switch (ATM switch)." in output
    token = output.strip().splitlines()[-1]
    row = ChannelToken.objects.get()
    assert row.system.code == "atm-switch" and row.system.name == "ATM switch"
    assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:8]
    assert not ChannelToken.objects.filter(key_hash=token).exists()  # only the hash is kept
    response = Client(HTTP_AUTHORIZATION=f"Token {token}").post("/api/v1/interactions/", item(),
                                                                content_type="application/json")
    assert response.status_code == 201
    assert response.json()["source_system"] == "atm-switch"
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert AuditEvent.objects.filter(object_type="channel_system").count() == 1
    assert AuditEvent.objects.filter(object_type="channel_token", action="create").count() == 1


def test_create_channel_token_for_a_known_system_adds_a_token_only():
    first = _command("web")
    second = _command("web")
    assert "Registered" not in second
    assert ChannelSystem.objects.count() == 1
    assert ChannelToken.objects.count() == 2
    assert first.strip().splitlines()[-1] != second.strip().splitlines()[-1]


def test_create_channel_token_refuses_a_bad_code():
    with pytest.raises(CommandError, match="Cannot register"):
        _command("not a slug!")
    assert not ChannelSystem.objects.exists()


def test_revoke_is_once_and_audited():
    system = channel_system_register(code="sms")[0]
    row, token = channel_token_create(system=system)
    assert channel_token_revoke(token=row, actor=None) is True
    assert channel_token_revoke(token=row, actor=None) is False
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEvent.objects.filter(object_type="channel_token", action="change").count() == 1
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/customers/X/timeline/").status_code == 401


# Admin -----------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(bank_admin) -> Client:
    client = Client()
    client.force_login(bank_admin)
    return client


def test_token_admin_lists_prefixes_and_revokes_with_the_action(admin_client, bank_admin):
    system = channel_system_register(code="branch-tellers")[0]
    row, token = channel_token_create(system=system)
    page = admin_client.get("/admin/channels/channeltoken/")
    assert page.status_code == 200
    assert row.prefix in page.content.decode() and token not in page.content.decode()
    response = admin_client.post("/admin/channels/channeltoken/",
                                 {"action": "revoke", "_selected_action": [row.pk]}, follow=True)
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEvent.objects.filter(object_type="channel_token", action="change", actor=bank_admin).exists()
    change = admin_client.get(f"/admin/channels/channeltoken/{row.pk}/change/").content.decode()
    assert 'name="key_hash"' not in change  # shown, never editable


def test_channel_system_admin_edit_is_audited(admin_client, bank_admin, branch_a):
    system = channel_system_register(code="web")[0]
    response = admin_client.post(f"/admin/channels/channelsystem/{system.pk}/change/", {
        "name": "Internet banking", "default_channel": "web", "branch": branch_a.pk, "is_active": "on",
        "tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    system.refresh_from_db()
    assert system.branch_id == branch_a.pk
    assert AuditEvent.objects.filter(object_type="channel_system", action="change", actor=bank_admin).exists()


@pytest.fixture
def held(branch_a) -> HeldInteraction:
    system = channel_system_register(code="call-centre")[0]
    client = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")
    response = client.post("/api/v1/interactions/", item(customer="NEW-123", source_id="h-1"),
                           content_type="application/json")
    assert response.status_code == 202
    held = HeldInteraction.objects.get()
    held.client = client  # the system's client, to replay the original post
    return held


def test_held_admin_resolves_to_a_customer_and_a_replay_is_then_a_duplicate(admin_client, held, branch_a):
    customer = CustomerFactory(cif="C000000042", home_branch=branch_a)
    listing = admin_client.get("/admin/channels/heldinteraction/")
    assert listing.status_code == 200 and "NEW-123" in listing.content.decode()
    url = f"/admin/channels/heldinteraction/{held.pk}/change/"
    page = admin_client.get(url)
    assert "Asked about the mortgage rate" in page.content.decode()
    response = admin_client.post(url, {"resolve_to": "C000000042", "discard_note": ""})
    assert response.status_code == 302
    held.refresh_from_db()
    stored = Interaction.objects.get()
    assert held.status == HeldInteraction.Status.RESOLVED and held.interaction_id == stored.pk
    assert (stored.customer_id, stored.source_id, stored.source_system_id) == (customer.pk, "h-1", held.system_id)
    assert AuditEvent.objects.filter(object_type="held_interaction", action="change").exists()
    replay = held.client.post("/api/v1/interactions/", item(customer="NEW-123", source_id="h-1"),
                              content_type="application/json")
    assert replay.status_code == 200 and replay.json()["id"] == stored.pk
    assert Interaction.objects.count() == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"resolve_to": "NOBODY", "discard_note": ""}, "No customer with this number."),
    ({"resolve_to": "", "discard_note": ""}, "Give either the customer number"),
    ({"resolve_to": "C000000042", "discard_note": "both"}, "Give either the customer number"),
])
def test_held_admin_refuses_a_bad_resolution_and_writes_nothing(admin_client, held, branch_a, data, message):
    CustomerFactory(cif="C000000042", home_branch=branch_a)
    response = admin_client.post(f"/admin/channels/heldinteraction/{held.pk}/change/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    held.refresh_from_db()
    assert held.status == HeldInteraction.Status.HELD
    assert not Interaction.objects.exists()


def test_held_admin_discards_with_a_note(admin_client, held):
    response = admin_client.post(f"/admin/channels/heldinteraction/{held.pk}/change/",
                                 {"resolve_to": "", "discard_note": "Test record from the vendor"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == HeldInteraction.Status.DISCARDED and held.note == "Test record from the vendor"
    replay = held.client.post("/api/v1/interactions/", item(customer="NEW-123", source_id="h-1"),
                              content_type="application/json")
    assert replay.status_code == 202 and replay.json()["held_status"] == "discarded"
    assert not Interaction.objects.exists()


def test_held_services_refuse_twice_and_without_a_reason(held, branch_a, rm_a):
    CustomerFactory(cif="C000000042", home_branch=branch_a)
    with pytest.raises(ValidationError):
        held_interaction_discard(held=held, note="  ", actor=rm_a)
    held_interaction_resolve(held=held, cif="C000000042", actor=rm_a)
    with pytest.raises(ValidationError):
        held_interaction_resolve(held=held, cif="C000000042", actor=rm_a)
    with pytest.raises(ValidationError):
        held_interaction_discard(held=held, note="late", actor=rm_a)
    assert Interaction.objects.count() == 1


def test_held_admin_is_for_admins_only(held, rm_a):
    client = Client()
    client.force_login(rm_a)
    response = client.get("/admin/channels/heldinteraction/")
    assert response.status_code in (302, 403)
