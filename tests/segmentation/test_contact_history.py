"""The contact history registry: segmentation reads campaign outcomes through the source campaigns
registers, never by importing campaigns or looking its models up by name."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.db import connection

from campaigns.models import Campaign, CampaignContact
from segmentation.contact_history import (
    CONTACT_COLUMNS,
    ContactHistoryMissing,
    contact_history_register,
    contact_history_unregister,
    contacts_sql,
    responded_before_sql,
)
from tests.customers.factories import CustomerFactory
from tests.segmentation.segment_bank import segment_bank_fixture  # noqa: F401

# The modules that read contact history for the models.
MODEL_MODULES = ("contact_history", "training", "prediction_data", "prediction_frames", "actions", "model_store",
                 "prediction_selectors", "model_views")


def _responded_before(as_of: dt.date) -> dict[int, float]:
    with connection.cursor() as cursor:
        cursor.execute(responded_before_sql(), {"as_of": as_of})
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_responded_before_as_of_a_date(segment_bank):
    accepted, *declined = segment_bank.young[:4]

    assert _responded_before(dt.date(2024, 6, 30)) == {accepted.pk: 1.0, **{c.pk: 0.0 for c in declined}}
    assert _responded_before(dt.date(2024, 1, 31)) == {}  # the contacts were made on 1 February


@pytest.mark.django_db
def test_campaign_contacts_in_the_shared_vocabulary(branch_a):
    campaign = Campaign.objects.create(code="C1", name="Cards", channel="sms", starts_on=dt.date(2024, 1, 1))
    outcomes = ["pending", "no_answer", "accepted"]
    customers = [CustomerFactory(home_branch=branch_a) for _ in outcomes]
    for customer, outcome in zip(customers, outcomes, strict=True):
        CampaignContact.objects.create(campaign=campaign, customer=customer, outcome=outcome)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({contacts_sql()}) k ORDER BY contact_id")
        columns = tuple(column.name for column in cursor.description)
        rows = cursor.fetchall()

    assert columns == CONTACT_COLUMNS
    responded = [row[columns.index("responded")] for row in rows]
    assert responded == [None, False, True]
    # The contact names no channel of its own: the campaign's is used; no product: no category.
    assert {row[columns.index("channel")] for row in rows} == {"sms"}
    assert {row[columns.index("product_category")] for row in rows} == {""}


def test_without_a_source_there_is_no_history_and_training_is_told_why():
    source = contact_history_unregister()
    try:
        assert responded_before_sql() is None
        with pytest.raises(ContactHistoryMissing, match="campaigns app registers it"):
            contacts_sql()
    finally:
        contact_history_register(source)


def test_a_second_different_source_is_refused():
    class Other:
        name = "other"

        def contacts_sql(self) -> str:
            return "SELECT 1"

    with pytest.raises(ValueError, match="already registered"):
        contact_history_register(Other())


def test_the_model_modules_never_reach_into_campaigns():
    folder = Path(__file__).parents[2] / "segmentation"
    for module in MODEL_MODULES:
        source = (folder / f"{module}.py").read_text()
        assert not re.search(r"get_model\(\s*[\"']campaigns", source), module
        assert not re.search(r"^\s*(from|import) campaigns\b", source, re.MULTILINE), module
