"""A campaign's scorecard: conversion, cost per conversion and return against its targeting plan,
the standard score, the uplift; who may open it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from performance.campaign_scores import campaign_scorecard
from tests.campaigns.conftest import bank, running, term  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_the_scorecard_measures_the_contacts_against_the_targeting_plan(
    client, running, bank, rm_a, supervisor_a, django_assert_max_num_queries,  # noqa: F811
):
    client.force_login(rm_a)
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_a'].pk}/", {"outcome": "accepted"})
    client.post(f"/campaigns/{running.pk}/outcome/{bank['good_b'].pk}/", {"outcome": "declined"})
    campaign = Campaign.objects.select_related("targeting_run").get(pk=running.pk)
    plan = campaign.targeting_run.metrics["comparison"]["by_expected_value"]

    card = campaign_scorecard(campaign=campaign)

    lines = {line.code: line for line in card.lines}
    # Two e-mails at 1 each, one conversion worth 200.
    assert (card.contacted, card.converted, card.spent) == (2, 1, 2.0)
    assert lines["conversion"].actual == pytest.approx(50.0)
    assert lines["conversion"].plan == pytest.approx(100 * plan["expected_responses"] / plan["contacts"])
    assert lines["cost_per_conversion"].actual == pytest.approx(2.0)
    assert lines["return"].actual == pytest.approx(100 * (200 - 2) / 2)
    expected = [min(line.achievement, 1.0) for line in card.lines]
    assert card.score == pytest.approx(100 * sum(expected) / 3, abs=0.01)
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(14):
        page = client.get(reverse("performance:campaign", args=[running.pk])).content.decode()
    assert 'data-line="conversion"' in page and 'id="campaign-score"' in page
    assert 'id="open-scorecard"' in client.get(f"/campaigns/{running.pk}/").content.decode()
    client.force_login(rm_a)
    assert client.get(reverse("performance:campaign", args=[running.pk])).status_code == 403


def test_the_campaign_scorecard_exports_neutralised_and_audited(client, running, supervisor_a):  # noqa: F811
    from crm_bank.audit.models import AuditEvent

    Campaign.objects.filter(pk=running.pk).update(name="=cmd|' /C calc'!A0")
    client.force_login(supervisor_a)
    response = client.get(reverse("performance:campaign-export", args=[running.pk, "csv"]))
    text = response.content.decode("utf-8-sig")
    assert text.startswith("Scorecard,'=cmd") and "Conversion of the contacted" in text
    assert client.get(reverse("performance:campaign-export", args=[running.pk, "xlsx"])).status_code == 200
    assert AuditEvent.objects.filter(action="export", object_id=f"campaign:{running.pk}").count() == 2
