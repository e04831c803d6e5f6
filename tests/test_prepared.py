"""crm_bank.prepared: statements prepared once per connection, logged and counted like any other,
errors translated as Django's own cursors translate them."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext

from crm_bank.prepared import prepared_cursor
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT id, cif FROM customers_customer WHERE id = %s"


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_statement_is_prepared_on_its_first_run_and_answers_as_a_plain_cursor(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    for _ in range(3):
        with prepared_cursor() as cursor:
            cursor.execute(STATEMENT, [customer.pk])
            assert cursor.fetchall() == [(customer.pk, customer.cif)]
    assert sum("FROM customers_customer WHERE id = $1" in statement for statement in _prepared_statements()) == 1
    with connection.cursor() as cursor:  # Django's own cursors stay unprepared
        cursor.execute("SELECT cif FROM customers_customer WHERE id = %s AND cif <> ''", [customer.pk])
    assert not any("cif <> ''" in statement for statement in _prepared_statements())


def test_the_statement_is_logged_with_its_values_and_counted(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    with CaptureQueriesContext(connection) as queries, prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [customer.pk])
    assert [query["sql"] for query in queries] == [STATEMENT.replace("%s", str(customer.pk))]


def test_an_error_is_djangos_and_leaves_the_connection_usable(branch_a):
    with pytest.raises(ProgrammingError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM customers_customer WHERE id = %s", [1])
    customer = CustomerFactory(home_branch=branch_a)
    with prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [customer.pk])
        assert cursor.fetchone() == (customer.pk, customer.cif)
