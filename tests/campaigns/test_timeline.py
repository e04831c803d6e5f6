"""Historic campaign contacts on the unified timeline: set-based, idempotent, last contact in step."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, CampaignContact
from campaigns.timeline import campaign_contacts_to_interactions
from channels.models import ChannelSystem, Interaction, InteractionDailyCount
from channels.services.interactions import NewInteraction, interactions_store
from channels.services.rollup import interaction_daily_counts_rebuild
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
PRAGUE = ZoneInfo("Europe/Prague")


@pytest.fixture
def contacts(branch_a, branch_b):
    campaign = Campaign.objects.create(code="TD-2009", name="Term deposit drive", channel="call_centre",
                                       starts_on=datetime.date(2009, 5, 1), status=Campaign.Status.COMPLETED)
    letters = Campaign.objects.create(code="POST-2009", name="Mailing", channel="post",
                                      starts_on=datetime.date(2009, 5, 1))
    a, b, never = (CustomerFactory(home_branch=branch_a), CustomerFactory(home_branch=branch_b),
                   CustomerFactory(home_branch=branch_a))
    rows = [
        CampaignContact(campaign=campaign, customer=a, contacted_on=datetime.date(2009, 5, 4), channel="",
                        outcome=CampaignContact.Outcome.ACCEPTED),
        CampaignContact(campaign=letters, customer=a, contacted_on=datetime.date(2009, 6, 1), channel="sms",
                        outcome=CampaignContact.Outcome.NO_ANSWER),
        CampaignContact(campaign=campaign, customer=b, contacted_on=datetime.date(2009, 5, 4), channel="",
                        outcome=CampaignContact.Outcome.DECLINED),
        CampaignContact(campaign=campaign, customer=never, contacted_on=None),  # planned, never reached
    ]
    CampaignContact.objects.bulk_create(rows)
    return {"a": a, "b": b, "never": never, "rows": rows}


def test_contacts_become_campaign_contact_interactions(contacts):
    assert campaign_contacts_to_interactions() == 3
    first = Interaction.objects.get(source_id=f"contact-{contacts['rows'][0].pk}")
    assert first.source_system == ChannelSystem.objects.get(code="campaigns")
    assert (first.kind, first.direction, first.channel) == ("campaign_contact", "outbound", "call_centre")
    assert first.occurred_at == datetime.datetime(2009, 5, 4, 12, 0, tzinfo=PRAGUE)
    assert first.summary == "Term deposit drive: Accepted the offer"
    assert first.outcome == "Accepted the offer" and first.campaign_code == "TD-2009"
    assert first.branch_id == contacts["a"].home_branch_id
    sms = Interaction.objects.get(source_id=f"contact-{contacts['rows'][1].pk}")
    assert sms.channel == "sms"  # the contact's own channel wins over the campaign's
    assert not Interaction.objects.filter(customer=contacts["never"]).exists()


def test_conversion_is_idempotent(contacts):
    campaign_contacts_to_interactions()
    before = sorted(Interaction.objects.values_list("source_id", "occurred_at", "channel", "summary"))
    rollup = set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "count"))

    assert campaign_contacts_to_interactions() == 0

    assert sorted(Interaction.objects.values_list("source_id", "occurred_at", "channel", "summary")) == before
    assert set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "count")) == rollup


def test_last_contact_advances_where_newer_only(contacts):
    a, b = contacts["a"], contacts["b"]
    later = datetime.datetime(2010, 1, 5, 9, 0, tzinfo=PRAGUE)
    b.last_contact_at, b.last_contact_channel = later, "branch"
    b.save(update_fields=["last_contact_at", "last_contact_channel"])

    campaign_contacts_to_interactions()

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.last_contact_at, a.last_contact_channel) == (datetime.datetime(2009, 6, 1, 12, tzinfo=PRAGUE), "sms")
    assert (b.last_contact_at, b.last_contact_channel) == (later, "branch")  # newer already: kept


def test_rollup_after_conversion_equals_a_rebuild(contacts, branch_a):
    # A contact stored the normal way on one of the same days: the conversion adds to its count.
    interactions_store(items=[NewInteraction(
        customer_id=contacts["a"].pk, channel="call_centre", kind="campaign_contact", direction="outbound",
        occurred_at=datetime.datetime(2009, 5, 4, 15, 0, tzinfo=PRAGUE), summary="Follow-up call")])
    campaign_contacts_to_interactions()
    incremental = set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind",
                                                                "direction", "count"))
    assert (datetime.date(2009, 5, 4), branch_a.pk, "call_centre", "campaign_contact", "outbound", 2) in incremental
    interaction_daily_counts_rebuild()
    assert set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind", "direction",
                                                         "count")) == incremental


def test_command_reports_what_it_wrote(contacts, capsys):
    call_command("campaign_contacts_to_timeline")
    call_command("campaign_contacts_to_timeline")
    out = capsys.readouterr().out
    assert "3 campaign contacts written" in out and "0 campaign contacts written" in out
