"""The narrow copy of each customer's last contact, RM and branch that the database keeps in step
(migration 0027), and why it exists: a contact updates the customer row in place."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels.services.interactions import NewInteraction, interactions_store
from customers.models import Customer, CustomerContactRecency
from tests.customers.factories import CustomerFactory
from tests.customers.test_views import QUERY_BUDGET_LIST
from tests.query_plans import plan_of

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
AT = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def copy_of(customer: Customer) -> tuple:
    return CustomerContactRecency.objects.values_list(
        "primary_rm_id", "home_branch_id", "last_contact_at").get(customer_id=customer.pk)


def test_every_new_customer_gets_its_copy_however_it_is_written(branch_a, rm_a):
    by_orm = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, last_contact_at=AT)
    in_bulk = Customer.objects.bulk_create([
        CustomerFactory.build(home_branch=branch_a, primary_rm=None, last_contact_at=None, cif=f"BULK{i}")
        for i in range(3)])
    assert copy_of(by_orm) == (rm_a.pk, branch_a.pk, AT)
    assert [copy_of(c) for c in in_bulk] == [(None, branch_a.pk, None)] * 3


def test_the_copy_follows_the_last_contact_the_rm_and_the_branch(branch_a, branch_b, rm_a, rm_b):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, last_contact_at=None)
    customer.primary_rm, customer.home_branch = rm_b, branch_b
    customer.save()
    assert copy_of(customer) == (rm_b.pk, branch_b.pk, None)
    Customer.objects.filter(pk=customer.pk).update(primary_rm=None)
    assert copy_of(customer) == (None, branch_b.pk, None)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET last_contact_at = %s WHERE id = %s", [AT, customer.pk])
    assert copy_of(customer) == (None, branch_b.pk, AT)


def test_a_deleted_customer_takes_its_copy_along(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    customer.delete()
    assert not CustomerContactRecency.objects.filter(customer_id=customer.pk).exists()


def _hot_updates_of_customers() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                       "WHERE relname = 'customers_customer'")
        return cursor.fetchone()


def test_a_contact_updates_the_customer_row_in_place_and_the_copy(branch_a, rm_a):
    """No index of the customer row holds the last contact, so the contact's UPDATE is a HOT one (no
    index entry written); an index on it would make this fail."""
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, last_contact_at=None)
    before = _hot_updates_of_customers()
    interactions_store(items=[NewInteraction(customer_id=customer.pk, channel="web", kind="enquiry",
                                             direction="inbound", occurred_at=AT, summary="Asked about rates")])
    updates, hot = (after - then for after, then in zip(_hot_updates_of_customers(), before, strict=True))
    assert (updates, hot) == (1, 1)
    assert copy_of(customer) == (rm_a.pk, branch_a.pk, AT)


def test_customer_list_in_last_contact_order_walks_the_copy_index(client, rm_a, branch_a):
    never = CustomerFactory(home_branch=branch_a, last_contact_at=None)
    old = CustomerFactory(home_branch=branch_a, last_contact_at=AT - datetime.timedelta(days=30))
    new = CustomerFactory(home_branch=branch_a, last_contact_at=AT)
    client.force_login(rm_a)
    url = reverse("customers:customer-list")
    for sort, expected in (("last_contact_at", [old, new, never]), ("-last_contact_at", [never, new, old])):
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url, {"sort": sort}).content.decode()
        assert [int(pk) for pk in re.findall(r'href="/customers/(\d+)/"', page)] == [c.pk for c in expected]
        assert len(queries.captured_queries) <= QUERY_BUDGET_LIST
        listed = next(q["sql"] for q in queries.captured_queries
                      if "customercontactrecency" in q["sql"] and "ORDER BY" in q["sql"])
        plan = plan_of(listed)
        assert "contact_recency_at_idx" in plan and "Sort" not in plan, plan
