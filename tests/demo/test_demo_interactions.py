"""load_demo puts the contacts the data implies on the timeline: counter visits and ATM withdrawals
from PKDD'99 transactions, sales from its holdings, the UCI campaign's calls."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from channels.models import Interaction, InteractionDailyCount
from channels.services.rollup import interaction_daily_counts_rebuild
from customers.models import Account, Customer, Transaction
from demo.loader import UCI_CAMPAIGN_CODE
from tests.demo.test_load_demo import DATASETS, needs_data

pytestmark = [needs_data, pytest.mark.django_db]


def _rollup() -> set[tuple]:
    return set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind", "direction", "count"))


def test_load_demo_writes_implied_contacts_rollup_and_last_contacts_once(capsys):
    call_command("load_demo", "--data", str(DATASETS), "--sample", "40")

    # One counter visit per client and day with cash at the counter, whatever the number of transactions.
    cash = Transaction.objects.filter(channel="branch", source_ref__startswith="pkdd:trans:")
    cash_days = {(t.account.holdings.get(role="owner").customer_id, timezone.localtime(t.booked_at).date())
                 for t in cash.select_related("account")}
    visits = Interaction.objects.filter(channel="branch", kind="visit")
    assert visits.count() == len(cash_days) > 0
    assert {(v.customer_id, timezone.localtime(v.occurred_at).date()) for v in visits} == cash_days
    assert all(time(8, 30) <= timezone.localtime(v.occurred_at).time() < time(17, 0) for v in visits)
    assert all(v.summary.startswith("Cash ") and v.direction == "inbound" for v in visits)
    # Every PKDD holding with an opening date is a sale at its branch.
    holdings = Account.objects.filter(source_ref__startswith="pkdd:", opened_on__isnull=False)
    sales = Interaction.objects.filter(kind="sale", channel="branch")
    assert sales.count() == holdings.count()
    assert set(sales.values_list("source_id", flat=True)) == set(holdings.values_list("source_ref", flat=True))
    # The campaign's calls.
    calls = Interaction.objects.filter(kind="campaign_contact", campaign_code=UCI_CAMPAIGN_CODE)
    assert calls.count() == 40 and set(calls.values_list("channel", flat=True)) == {"call_centre"}
    # The rollup is what a rebuild gives, and every customer's last contact is the newest interaction.
    rollup = _rollup()
    assert sum(r[-1] for r in rollup) == Interaction.objects.count()
    interaction_daily_counts_rebuild()
    assert _rollup() == rollup
    newest = dict(Interaction.objects.values("customer_id").annotate(at=Max("occurred_at"))
                  .values_list("customer_id", "at"))
    assert dict(Customer.objects.filter(pk__in=newest).values_list("pk", "last_contact_at")) == newest

    before = Interaction.objects.count()
    call_command("load_demo", "--data", str(DATASETS), "--sample", "40")
    assert Interaction.objects.count() == before and _rollup() == rollup
    assert "channels_interaction" not in capsys.readouterr().out.split("already loaded")[-1]


def test_load_demo_on_a_bank_loaded_before_the_timeline_adds_its_contacts():
    call_command("load_demo", "--data", str(DATASETS), "--sample", "20")
    written = Interaction.objects.count()
    Interaction.objects.all().delete()
    InteractionDailyCount.objects.all().delete()

    call_command("load_demo", "--data", str(DATASETS), "--sample", "20")

    assert Interaction.objects.count() == written > 0
    assert sum(r[-1] for r in _rollup()) == written
