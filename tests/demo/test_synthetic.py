"""The generated demo bank writes the contacts its customers' last-contact dates claim."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from crm_bank.org.models import StaffProfile
from customers.models import Customer
from demo.synthetic import synthetic_bank_generate

pytestmark = pytest.mark.django_db


def _generate(customers: int = 200) -> dict:
    return synthetic_bank_generate(customers=customers, transactions_per_customer=2, seed=21, branches=3,
                                   password="test-demo-password", log=lambda _: None)


def test_every_last_contact_has_its_campaign_contact_on_that_day():
    figures = _generate()

    contacted = Customer.objects.filter(last_contact_at__isnull=False)
    assert figures["last_contacts"] == contacted.count() > 50
    contacts = {c.customer_id: c for c in CampaignContact.objects.select_related("campaign")}
    assert set(contacts) == set(contacted.values_list("pk", flat=True))
    for customer in contacted:
        contact = contacts[customer.pk]
        assert contact.contacted_on == timezone.localtime(customer.last_contact_at).date()
        assert contact.channel == customer.last_contact_channel
    campaign = Campaign.objects.get()
    days = [c.contacted_on for c in contacts.values()]
    assert (campaign.starts_on, campaign.ends_on) == (min(days), max(days))


def test_generated_bank_extended_keeps_one_campaign_covering_every_contact_and_rerun_writes_nothing():
    _generate(customers=120)
    _generate(customers=200)
    before = CampaignContact.objects.count()

    figures = _generate(customers=200)

    assert figures["customers"] == 0 and CampaignContact.objects.count() == before
    campaign = Campaign.objects.get()
    days = list(CampaignContact.objects.values_list("contacted_on", flat=True))
    assert campaign.starts_on == min(days) and campaign.ends_on == max(days)
    assert before == Customer.objects.filter(last_contact_at__isnull=False).count()


def test_synthetic_customers_timeline_shows_the_last_contact(client):
    _generate(customers=60)
    customer = Customer.objects.filter(last_contact_at__isnull=False).order_by("pk").first()
    client.force_login(StaffProfile.objects.get(user__username="admin").user)

    page = client.get(f"/customers/{customer.pk}/").content.decode()

    timeline = page[page.index('id="timeline-panel"'):]
    timeline = timeline[: timeline.index("</section>")]
    assert "Relationship contacts (synthetic)" in timeline and "No interactions recorded" not in timeline


@pytest.mark.parametrize(("arguments", "message"), [
    (["--transactions-per-customer", "-1"], "transactions-per-customer"),
    (["--transactions-per-customer", "1000000000"], "transactions-per-customer"),
    (["--branches", "0"], "branches"),
    (["--branches", "3000"], "branches"),
    (["--customers", "0"], "customers"),
    (["--customers", "many"], "customers"),
    (["--seed", "1000"], "seed"),
])
def test_generate_bank_refuses_arguments_outside_their_limits(arguments: list[str], message: str):
    base = {"--customers": "10", "--transactions-per-customer": "1", "--seed": "1"}
    base.update(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    with pytest.raises(CommandError, match=message):
        call_command("generate_bank", *[item for pair in base.items() for item in pair])
    assert not Customer.objects.exists() and not StaffProfile.objects.exists()


def test_generate_bank_called_with_numbers_checks_them_too():
    with pytest.raises(CommandError, match="branches must be a whole number from 1 to 99"):
        call_command("generate_bank", customers=10, transactions_per_customer=1, seed=1, branches=3000)
    assert not StaffProfile.objects.exists()


def test_generate_bank_writes_a_small_bank_with_contacts(capsys):
    call_command("generate_bank", "--customers", "30", "--transactions-per-customer", "2", "--seed", "3",
                 "--branches", "2")
    assert Customer.objects.count() == 30 and '"customers": 30' in capsys.readouterr().out
    assert CampaignContact.objects.count() == Customer.objects.filter(last_contact_at__isnull=False).count()


def test_load_demo_fallback_bank_has_contacts_behind_its_last_contacts(tmp_path, settings):
    settings.CRM_DATASETS = str(tmp_path)
    call_command("load_demo", "--sample", "40")
    assert Customer.objects.count() == 40
    assert CampaignContact.objects.count() == Customer.objects.filter(last_contact_at__isnull=False).count() > 0
    assert timezone.localdate() >= Campaign.objects.get().ends_on


def test_demo_logins_name_the_synthetic_banks_users_that_exist(capsys):
    _generate(customers=60)

    call_command("demo_logins")

    out = capsys.readouterr().out
    assert out.startswith("Administrator: admin\nAnalyst (head office): analyst\n")
    assert "sup_G01, rm_G01_1, rm_G01_2" in out and "sup_01" not in out
    named = {name for line in out.splitlines() for name in line.split(": ")[1].split(", ")}
    assert named <= set(StaffProfile.objects.values_list("user__username", flat=True))


def test_generated_timeline_ends_with_the_last_contact_and_the_rollup_counts_it():
    from django.db.models import Max

    from campaigns.timeline import campaign_contacts_to_interactions
    from channels.models import Interaction, InteractionDailyCount
    from channels.services.rollup import interaction_daily_counts_rebuild

    figures = _generate(customers=300)

    contacted = dict(Customer.objects.filter(last_contact_at__isnull=False)
                     .values_list("pk", "last_contact_at"))
    assert figures["interactions"] == Interaction.objects.count() > 2 * len(contacted)
    campaign_rows = Interaction.objects.filter(kind="campaign_contact")
    assert campaign_rows.count() == CampaignContact.objects.count() == len(contacted)
    assert dict(campaign_rows.values_list("customer_id", "occurred_at")) == contacted
    newest = dict(Interaction.objects.values("customer_id").annotate(at=Max("occurred_at"))
                  .values_list("customer_id", "at"))
    assert newest == contacted  # no interaction after the customer's last contact, none without one
    assert set(Interaction.objects.values_list("channel", flat=True)) >= {"atm", "mobile", "branch", "call_centre"}
    rollup = set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind", "direction",
                                                           "count"))
    assert sum(r[-1] for r in rollup) == figures["interactions"]
    interaction_daily_counts_rebuild()
    assert set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind", "direction",
                                                         "count")) == rollup
    assert campaign_contacts_to_interactions() == 0  # the generated contacts are already on the timeline

    assert _generate(customers=300)["customers"] == 0
    assert Interaction.objects.count() == figures["interactions"]


def test_generate_bank_command_takes_interactions_per_customer(capsys):
    from channels.models import Interaction

    call_command("generate_bank", "--customers", "80", "--transactions-per-customer", "1", "--seed", "4",
                 "--branches", "2", "--interactions-per-customer", "0")
    assert "interaction_daily_counts" in capsys.readouterr().out
    assert set(Interaction.objects.values_list("kind", flat=True)) == {"campaign_contact"}
    with pytest.raises(CommandError, match="interactions-per-customer"):
        call_command("generate_bank", "--customers", "10", "--transactions-per-customer", "1", "--seed", "5",
                     "--interactions-per-customer", "500")
