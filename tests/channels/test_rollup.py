"""The daily rollup rebuilt in SQL equals what the storing service keeps incrementally."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command

from channels.models import Interaction, InteractionDailyCount
from channels.services.interactions import NewInteraction, interactions_store
from channels.services.rollup import customer_last_contacts_catch_up, interaction_daily_counts_rebuild
from crm_bank.audit.models import AuditEvent
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def _rollup() -> set[tuple]:
    return set(InteractionDailyCount.objects.values_list("day", "branch_id", "channel", "kind", "direction", "count"))


def _store_mixed(branch_a, branch_b) -> None:
    a, b = CustomerFactory(home_branch=branch_a), CustomerFactory(home_branch=branch_b)
    moments = [
        datetime.datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        # 23:30 UTC on 2 March is 00:30 on 3 March in Prague: the rollup day is the local one.
        datetime.datetime(2026, 3, 2, 23, 30, tzinfo=UTC),
        datetime.datetime(2026, 3, 9, 12, 0, tzinfo=UTC),
    ]
    items = []
    for at in moments:
        for customer, channel, kind, direction in (
            (a, "atm", "transaction", "inbound"), (a, "branch", "visit", "inbound"),
            (b, "call_centre", "sale", "outbound"), (b, "atm", "transaction", "inbound"),
            (a, "web", "enquiry", "inbound"),
        ):
            items.append(NewInteraction(customer_id=customer.pk, channel=channel, kind=kind, direction=direction,
                                        occurred_at=at, summary="x"))
    interactions_store(items=items[:7])
    interactions_store(items=items[7:])


def test_rebuild_equals_the_incremental_counts(branch_a, branch_b):
    _store_mixed(branch_a, branch_b)
    incremental = _rollup()
    assert any(day == datetime.date(2026, 3, 3) for day, *_ in incremental)  # the local day, not UTC's
    InteractionDailyCount.objects.all().delete()

    written = interaction_daily_counts_rebuild()

    assert _rollup() == incremental
    assert written == len(incremental)
    assert sum(r[-1] for r in incremental) == Interaction.objects.count() == 15
    assert AuditEvent.objects.filter(object_type="interaction_daily_counts").exists()


def test_rebuild_counts_contacts_without_a_branch_as_one_group(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    at = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    Interaction.objects.bulk_create([
        Interaction(customer=customer, branch=None, channel="sms", kind="enquiry", direction="outbound",
                    summary="x", occurred_at=at) for _ in range(2)
    ])
    interaction_daily_counts_rebuild()
    assert _rollup() == {(datetime.date(2026, 3, 2), None, "sms", "enquiry", "outbound", 2)}


def test_rebuild_since_repairs_later_days_and_leaves_earlier_ones(branch_a, branch_b):
    _store_mixed(branch_a, branch_b)
    incremental = _rollup()
    InteractionDailyCount.objects.filter(day__gte=datetime.date(2026, 3, 9)).update(count=999)
    InteractionDailyCount.objects.filter(day=datetime.date(2026, 3, 2)).update(count=7)  # before `since`: kept

    interaction_daily_counts_rebuild(since=datetime.date(2026, 3, 3))

    after = _rollup()
    assert {r for r in after if r[0] >= datetime.date(2026, 3, 3)} == {
        r for r in incremental if r[0] >= datetime.date(2026, 3, 3)}
    assert {r[-1] for r in after if r[0] == datetime.date(2026, 3, 2)} == {7}


def test_rebuild_command_takes_since_and_refuses_a_bad_date(branch_a, branch_b, capsys):
    _store_mixed(branch_a, branch_b)
    incremental = _rollup()
    InteractionDailyCount.objects.update(count=1)
    call_command("rebuild_channel_rollup", "--since", "2026-03-01")
    assert _rollup() == incremental
    assert "from 2026-03-01" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not a date"):
        call_command("rebuild_channel_rollup", "--since", "March")


def test_last_contacts_catch_up_moves_forward_only(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    newer = datetime.datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    Interaction.objects.bulk_create([
        Interaction(customer=customer, channel="atm", kind="transaction", direction="inbound", summary="x",
                    occurred_at=datetime.datetime(2026, 4, 1, 9, 0, tzinfo=UTC)),
        Interaction(customer=customer, channel="web", kind="enquiry", direction="inbound", summary="x",
                    occurred_at=newer),
    ])
    assert customer_last_contacts_catch_up() == 1
    customer.refresh_from_db()
    assert (customer.last_contact_at, customer.last_contact_channel) == (newer, "web")
    assert customer_last_contacts_catch_up() == 0  # nothing newer: nothing written
    customer.last_contact_at = datetime.datetime(2026, 6, 1, tzinfo=UTC)
    customer.save(update_fields=["last_contact_at"])
    assert customer_last_contacts_catch_up() == 0  # never moved back
