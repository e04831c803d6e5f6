"""crm_bank.joined_rows: the instances the ORM's select_related would build, in one query, with no
query later for what the read joined."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm_bank.joined_rows import Join, JoinedRead
from crm_bank.org.models import Branch
from customers.models import Customer, Household
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CUSTOMER = JoinedRead(Customer, "c", joins=(
    Join(Branch, "b", on="b.id = c.home_branch_id", parent="c", field="home_branch"),
    Join(get_user_model(), "u", on="u.id = c.primary_rm_id", parent="c", field="primary_rm"),
    Join(Household, "h", on="h.id = c.household_id", parent="c", field="household"),
), where="c.id = %s")


def _values(instance) -> list:
    return [getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields]


def test_a_row_and_its_joins_are_the_instances_the_orm_builds_in_one_query(branch_a, rm_a):
    household = Household.objects.create(name="Novak family")
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, household=household,
                               attributes={"age": "41", "source": {"system": "cards"}})
    expected = Customer.objects.select_related("home_branch", "primary_rm", "household").get(pk=customer.pk)
    with CaptureQueriesContext(connection) as queries:
        read = CUSTOMER.get([customer.pk])
        joined = (read.home_branch, read.primary_rm, read.household)
    assert len(queries) == 1
    assert _values(read) == _values(expected)
    assert read.attributes == {"age": "41", "source": {"system": "cards"}}  # JSON converted, as the ORM does
    assert [_values(j) for j in joined] == [_values(expected.home_branch), _values(expected.primary_rm),
                                            _values(expected.household)]
    assert not read._state.adding and read._state.db == "default"


def test_a_join_that_finds_no_row_is_none_without_a_query_and_no_match_is_none(branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=None, household=None)
    read = CUSTOMER.get([customer.pk])
    with CaptureQueriesContext(connection) as queries:
        assert read.primary_rm is None and read.household is None
    assert len(queries) == 0
    assert CUSTOMER.get([10**12]) is None


def test_a_deferred_field_is_not_read_and_is_loaded_if_asked_for(branch_a, rm_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=rm_a)
    read_without = JoinedRead(Customer, "c", joins=(
        Join(get_user_model(), "u", on="u.id = c.primary_rm_id", parent="c", field="primary_rm",
             deferred=("password", "last_login")),
    ), where="c.id = %s")
    with CaptureQueriesContext(connection) as queries:
        rm = read_without.get([customer.pk]).primary_rm
        assert rm.get_deferred_fields() == {"password", "last_login"}
        assert (rm.username, rm.first_name) == (rm_a.username, rm_a.first_name)
    assert len(queries) == 1 and '"password"' not in queries[0]["sql"]
    with CaptureQueriesContext(connection) as queries:
        assert rm.password == get_user_model().objects.get(pk=rm_a.pk).password
    assert len(queries) == 2  # the deferred field's own load, then the check's


def test_the_customer_pages_read_never_loads_the_rms_password_or_last_sign_in(customer_a):
    from customers.access import _customer_read

    assert _customer_read().get([customer_a.pk]).primary_rm.get_deferred_fields() == {"password", "last_login"}
