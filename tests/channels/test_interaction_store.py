"""The one storing path: rows, the customer's last contact, the daily rollup, validation."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from channels.models import Interaction, InteractionDailyCount
from channels.services.interactions import NewInteraction, interaction_record, interactions_store
from crm_bank.audit.models import AuditEvent
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def _item(customer, at, channel="atm", kind="transaction", direction="inbound"):
    return NewInteraction(customer_id=customer.pk, channel=channel, kind=kind, direction=direction,
                          occurred_at=at, summary="Cash withdrawal")


def test_interactions_store_moves_last_contact_forward_only(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    late = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    early = datetime.datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    interactions_store(items=[_item(customer, late, channel="web")])
    interactions_store(items=[_item(customer, early, channel="atm")])
    customer.refresh_from_db()
    assert customer.last_contact_at == late
    assert customer.last_contact_channel == "web"
    assert Interaction.objects.filter(customer=customer).count() == 2
    assert set(Interaction.objects.values_list("branch_id", flat=True)) == {branch_a.pk}


def test_interactions_store_adds_to_the_daily_rollup(branch_a):
    customers = CustomerFactory.create_batch(3, home_branch=branch_a)
    at = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    interactions_store(items=[_item(c, at) for c in customers])
    interactions_store(items=[_item(customers[0], at), _item(customers[0], at, channel="web")])
    counts = {(r.channel, r.count) for r in InteractionDailyCount.objects.filter(branch=branch_a)}
    assert counts == {("atm", 4), ("web", 1)}


def test_interaction_record_refuses_bad_fields_and_writes_nothing(branch_a, rm_a):
    customer = CustomerFactory(home_branch=branch_a)
    with pytest.raises(ValidationError) as refused:
        interaction_record(customer=customer, actor=rm_a, channel="pigeon", kind="chat", direction="sideways",
                           occurred_at=datetime.datetime(2026, 11, 2, 9, 0), summary=" ")  # noqa: DTZ001
    assert set(refused.value.message_dict) == {"channel", "kind", "direction", "occurred_at", "summary"}
    assert not Interaction.objects.exists()
    assert not InteractionDailyCount.objects.exists()


def test_interaction_record_stores_and_audits(branch_a, rm_a):
    customer = CustomerFactory(home_branch=branch_a)
    at = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    stored = interaction_record(customer=customer, actor=rm_a, channel="branch", kind="enquiry",
                                direction="inbound", occurred_at=at, summary="Asked about mortgages")
    assert stored.staff_id == rm_a.pk
    assert AuditEvent.objects.filter(object_type="interaction", object_id=str(stored.pk), actor=rm_a).exists()
