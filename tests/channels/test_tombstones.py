"""Merged-away customers (tombstones) in the channels features: a channel system posting a merged-away
customer number lands on the survivor; the lifecycle run leaves a tombstone closed; a tombstone is
never a silent top customer."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from channels.models import Interaction
from channels.selectors.work import silent_top_customers
from channels.services.lifecycle import lifecycle_run_start
from channels.services.systems import channel_system_register, channel_token_create
from customers.models import Customer
from tests.customers.factories import CustomerFactory, account_for

pytestmark = pytest.mark.django_db


def _tombstone(absorbed: Customer, survivor: Customer) -> None:
    Customer.objects.filter(pk=absorbed.pk).update(merged_into=survivor, lifecycle_stage=Customer.Lifecycle.CLOSED,
                                                   primary_rm=None)


def test_a_post_for_a_merged_away_customer_number_lands_on_the_survivor(branch_a, branch_b):
    survivor = CustomerFactory(cif="S000000001", home_branch=branch_b)
    absorbed = CustomerFactory(cif="A000000001", home_branch=branch_a)
    _tombstone(absorbed, survivor)
    system = channel_system_register(code="call-centre", name="Call centre")[0]
    api = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")
    body = {"customer": "A000000001", "channel": "call_centre", "kind": "enquiry", "direction": "inbound",
            "occurred_at": "2026-11-02T09:15:00+01:00", "summary": "Asked about cards", "source_id": "cc-9"}
    response = api.post("/api/v1/interactions/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    stored = Interaction.objects.get()
    assert (stored.customer_id, stored.branch_id) == (survivor.pk, branch_b.pk)


def test_the_lifecycle_run_leaves_a_tombstone_closed(branch_a, django_capture_on_commit_callbacks):
    survivor = CustomerFactory(home_branch=branch_a, customer_since=datetime.date(2020, 1, 1))
    absorbed = CustomerFactory(home_branch=branch_a, customer_since=datetime.date(2020, 1, 1))
    account_for(absorbed, opened_on=datetime.date(2020, 1, 1))  # an open account would make it a customer
    _tombstone(absorbed, survivor)
    with django_capture_on_commit_callbacks(execute=True):
        run = lifecycle_run_start(sync=True, as_of=datetime.date(2026, 11, 1))
    assert run.error == ""
    assert Customer.objects.get(pk=absorbed.pk).lifecycle_stage == Customer.Lifecycle.CLOSED


def test_a_tombstone_is_never_a_silent_top_customer(branch_a, settings):
    settings.CRM_TOP_CUSTOMER_BALANCE = 100_000
    survivor = CustomerFactory(home_branch=branch_a)
    absorbed = CustomerFactory(home_branch=branch_a)
    for customer in (survivor, absorbed):
        account_for(customer, balance=Decimal("900000.00"))
    _tombstone(absorbed, survivor)
    silent = silent_top_customers(branch_id=branch_a.pk)
    assert [c.pk for c in silent.customers] == [survivor.pk]


def test_a_contact_or_complaint_for_a_record_merged_since_goes_to_the_survivor_unsaved(client, branch_a, rm_a):
    """A tab left open on X while X was merged into Y: its forms wrote onto the tombstone, where no
    timeline, RM or task would ever see them."""
    from django.urls import reverse

    from channels.models import Complaint, Interaction

    survivor = CustomerFactory(home_branch=branch_a, primary_rm=rm_a)
    gone = CustomerFactory(home_branch=branch_a, merged_into=survivor)
    client.force_login(rm_a)

    logged = client.post(reverse("channels:interaction-log", args=[gone.pk]),
                         {"channel": "branch", "kind": "enquiry", "summary": "Asked about rates"},
                         HTTP_HX_REQUEST="true")
    opened = client.post(reverse("channels:complaint-open", args=[gone.pk]),
                         {"channel": "branch", "category": "fees", "severity": "low", "description": "Fee"})

    assert logged.status_code == 204 and logged["HX-Redirect"] == reverse("customers:customer-detail",
                                                                             args=[survivor.pk])
    assert opened.status_code == 302 and opened["Location"] == reverse("customers:customer-detail",
                                                                       args=[survivor.pk])
    assert not Interaction.objects.filter(customer=gone).exists()
    assert not Complaint.objects.filter(customer=gone).exists()
