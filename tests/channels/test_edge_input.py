"""Input at the edges of the calendar and of Unicode digits: a clear 400 or form error, never a 500,
and nothing stored that PostgreSQL could not give back."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from channels.models import Interaction
from channels.services.interactions import interaction_record
from channels.services.systems import channel_system_register, channel_token_create
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> Client:
    system = channel_system_register(code="call-centre", name="Call centre")[0]
    return Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")


@pytest.fixture
def customer(branch_a):
    return CustomerFactory(cif="C000000001", home_branch=branch_a)


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00", "1899-12-31T23:00:00+00:00"])
def test_api_refuses_a_contact_before_1900_with_a_field_message(api, customer, moment):
    body = {"customer": customer.cif, "channel": "atm", "kind": "transaction", "direction": "inbound",
            "occurred_at": moment, "summary": "Withdrawal", "source_id": "atm-1"}
    response = api.post("/api/v1/interactions/", body, content_type="application/json")
    assert response.status_code == 400
    assert "1900" in response.json()["errors"]["occurred_at"]
    assert not Interaction.objects.exists()


def test_staff_cannot_log_a_contact_in_year_one(customer, rm_a):
    tz = datetime.timezone(datetime.timedelta(hours=1))
    with pytest.raises(ValidationError) as refused:
        interaction_record(customer=customer, actor=rm_a, channel="branch", kind="visit", direction="inbound",
                           occurred_at=datetime.datetime(1, 1, 1, 0, 30, tzinfo=tz), summary="Visit")
    assert "occurred_at" in refused.value.message_dict
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("limit", ["²", "٣", "0", "101", "-1", "1e3"])
def test_api_timeline_limit_must_be_ascii_digits_in_range(api, customer, limit):
    response = api.get(f"/api/v1/customers/{customer.cif}/timeline/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


@pytest.mark.parametrize("params", [{"date_to": "0001-01-05"}, {"date_from": "9999-12-31"},
                                    {"date_from": "0001-01-01", "date_to": "0001-01-02"}])
def test_analytics_dates_far_out_are_a_form_error(client, supervisor_a, params):
    client.force_login(supervisor_a)
    response = client.get(reverse("channels:analytics"), params)
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2100." in response.content.decode()


def test_api_json_nested_too_deeply_is_a_400_not_a_500(api):
    body = '{"items": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.post("/api/v1/interactions/batch/", body, content_type="application/json")

    assert response.status_code == 400 and "nests too deeply" in response.content.decode()
    assert not Interaction.objects.exists()
