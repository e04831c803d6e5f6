"""The Data notes page describes what is loaded, with counts taken from the database."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from customers.models import SourceRecord, Transaction
from tests.customers.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _customers(system: str, count: int) -> list:
    customers = CustomerFactory.create_batch(count)
    SourceRecord.objects.bulk_create(
        SourceRecord(customer=customer, system_id=system, external_id=str(customer.pk)) for customer in customers
    )
    return customers


def _transactions(account, days: list[int]) -> None:
    Transaction.objects.bulk_create(
        Transaction(account=account, amount="10.00", direction=Transaction.Direction.CREDIT,
                    booked_at=datetime.datetime(1994, 3, day, 12, tzinfo=timezone.get_current_timezone()))
        for day in days
    )


def test_data_notes_counts_loaded_pkdd_customers_and_transactions(client, django_assert_max_num_queries, rm_a):
    first, *_ = _customers(SourceRecord.System.PKDD_CORE, 3)
    _customers(SourceRecord.System.UCI_TELEMARKETING, 2)
    _transactions(AccountFactory(source_ref="pkdd:account:1"), [1, 2, 3, 4])
    _transactions(AccountFactory(source_ref="pkdd:account:2"), [29])
    _transactions(AccountFactory(source_ref=""), [30])  # not from the PKDD file: not counted
    client.force_login(rm_a)
    # Session, user, profile, sources, transactions, consenting customers, generated campaigns.
    with django_assert_max_num_queries(7):
        page = client.get("/data-notes/").content.decode()
    assert "3 customers from the PKDD" in page and "2 call-centre customers" in page
    assert "of which 5 are loaded here" in page and "March 29, 1994" in page
    assert 'id="synthetic-notes"' not in page
    # The anonymisation note names how a client reads, in escaped text (it once lost "<number>" as HTML).
    assert "shown as “Client” followed by the client's number in the files" in page


def test_data_notes_in_synthetic_mode_describes_only_the_generated_bank(client, rm_a):
    _customers(SourceRecord.System.SYNTHETIC, 4)
    client.force_login(rm_a)
    page = client.get("/data-notes/").content.decode()
    assert "4 generated customers" in page
    assert 'id="pkdd-notes"' not in page and 'id="uci-notes"' not in page
    assert "0 customers" not in page and "from PKDD" not in page


def test_data_notes_without_data_says_nothing_is_loaded(client, rm_a):
    client.force_login(rm_a)
    page = client.get("/data-notes/").content.decode()
    assert 'id="no-demo-data"' in page and "customers from" not in page
