"""Channels admin: lists over tens of millions of rows never count the whole table."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels.models import Interaction
from channels.services.interactions import NewInteraction, interactions_store
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["interaction", "task"])
def test_admin_changelists_count_at_most_the_cap(client, bank_admin, branch_a, model):
    customer = CustomerFactory(home_branch=branch_a)
    at = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
    interactions_store(items=[NewInteraction(customer_id=customer.pk, channel="atm", kind="transaction",
                                             direction="inbound", occurred_at=at, summary="Withdrawal")])
    client.force_login(bank_admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(f"admin:channels_{model}_changelist"))
    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries
              if "COUNT(" in q["sql"].upper() and f"channels_{model}" in q["sql"]]
    assert counts and all("LIMIT 10001" in sql for sql in counts), counts


def test_admin_interaction_page_is_read_only(client, bank_admin):
    client.force_login(bank_admin)
    assert client.get(reverse("admin:channels_interaction_add")).status_code == 403
    assert not Interaction.objects.exists()
