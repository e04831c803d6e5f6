"""Shared fixtures: staff of each role at two branches, and a customer of branch A."""

from __future__ import annotations

import datetime

import pytest
from django.utils import translation

from crm_bank.org.models import StaffProfile
from tests.customers.factories import CustomerFactory
from tests.org.factories import BranchFactory, StaffProfileFactory, UserFactory

Role = StaffProfile.Role


@pytest.fixture(autouse=True)
def english_by_default():
    """A request in Chinese leaves its language active in the thread; each test starts in English."""
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def empty_cache():
    """Pages cache their aggregates (customers.selectors.AGGREGATE_CACHE_SECONDS): each test starts
    without another test's figures."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def migration_seeded_rows(request):
    """The rows the migrations seed — source systems, the tiers' service policies, the KPI model — back after a
    transactional test flushed them (a test that writes a SourceRecord of a built-in source needs its
    row; a 360° page shows its tier's policy)."""
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        from campaigns.services import service_policies_ensure
        from customers.services import source_systems_builtin_ensure
        from performance.services import kpis_ensure

        request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
        source_systems_builtin_ensure()
        service_policies_ensure()
        kpis_ensure()


# Test accounts are in Czech crowns (tests/customers/factories.py) and the hand-computed values are
# in crowns: the runs convert at 1 unless a test says otherwise.
TEST_CURRENCY_RATES = {"CZK": 1.0, "EUR": 25.0}


@pytest.fixture(autouse=True)
def report_in_the_test_accounts_currency(settings):
    settings.CRM_REPORTING_CURRENCY = "CZK"
    settings.CRM_CURRENCY_RATES = TEST_CURRENCY_RATES


@pytest.fixture
def branch_a():
    return BranchFactory(code="A01", name="Alpha")


@pytest.fixture
def branch_b():
    return BranchFactory(code="B02", name="Beta")


@pytest.fixture
def rm_a(branch_a):
    return StaffProfileFactory(user__username="rm_a", role=Role.RM, branch=branch_a).user


@pytest.fixture
def rm_a2(branch_a):
    return StaffProfileFactory(user__username="rm_a2", role=Role.RM, branch=branch_a).user


@pytest.fixture
def rm_b(branch_b):
    return StaffProfileFactory(user__username="rm_b", role=Role.RM, branch=branch_b).user


@pytest.fixture
def supervisor_a(branch_a):
    return StaffProfileFactory(user__username="sup_a", role=Role.SUPERVISOR, branch=branch_a).user


@pytest.fixture
def supervisor_b(branch_b):
    return StaffProfileFactory(user__username="sup_b", role=Role.SUPERVISOR, branch=branch_b).user


@pytest.fixture
def analyst_b(branch_b):
    return StaffProfileFactory(user__username="analyst_b", role=Role.ANALYST, branch=branch_b).user


@pytest.fixture
def bank_admin():
    return StaffProfileFactory(
        user__username="bank_admin", user__is_staff=True, user__is_superuser=True, role=Role.ADMIN, branch=None
    ).user


@pytest.fixture
def no_role_user():
    return UserFactory(username="visitor")


@pytest.fixture
def customer_a(branch_a, rm_a):
    return CustomerFactory(
        home_branch=branch_a, primary_rm=rm_a, first_name="Jana", last_name="Novakova",
        national_id_type="CZ_RC", national_id="7103192745", phone="+420601123456",
        email="jana.novakova@example.cz", address_line="Vodickova 12", birth_date=datetime.date(1971, 3, 19),
        gender="F",
    )


@pytest.fixture
def worker():
    """A real Celery worker on the broker: two threads take a run's chunks as N machines would."""
    from celery.contrib.testing.worker import start_worker

    from crm_bank.celery import app

    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10) as started:
        yield started
