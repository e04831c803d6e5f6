"""The lifecycle run: rules from LifecycleRule, as of a frozen date, published with the run."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from channels.models import Interaction, LifecycleRule, LifecycleSnapshot
from channels.services.lifecycle import LIFECYCLE, lifecycle_run_start
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.services import run_chunk_complete, run_finalize, run_prepare
from customers.models import Account, Channel, Customer, Product, Transaction
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

pytestmark = pytest.mark.django_db
AS_OF = datetime.date(2026, 6, 30)
Stage = Customer.Lifecycle


DEFAULT_RULES = [(10, "closed", {"no_open_accounts": True}), (20, "dormant", {"min_months_inactive": 12}),
                 (30, "loyal", {"min_tenure_months": 36, "min_products": 3})]


@pytest.fixture(autouse=True)
def default_rules():
    """The rules migration 0002 seeds (a transactional test elsewhere may have emptied the table)."""
    for priority, stage, conditions in DEFAULT_RULES:
        LifecycleRule.objects.get_or_create(priority=priority, defaults={"stage": stage, **conditions})


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def booked(account: Account, day: datetime.date, kind: str = Transaction.Kind.CARD_PAYMENT) -> None:
    Transaction.objects.create(account=account, booked_at=at(day), amount=Decimal("10"), kind=kind,
                               direction=Transaction.Direction.DEBIT, channel=Channel.BRANCH)


def products(n: int) -> list[Product]:
    codes = [("CURRENT", Product.Category.CURRENT), ("SAVE", Product.Category.DEPOSIT),
             ("VISA", Product.Category.CARD)]
    return [ProductFactory(code=code, name=code, category=category) for code, category in codes[:n]]


@pytest.fixture
def book(branch_a, branch_b):
    """One customer per rule, at branch A, and one plain customer at branch B."""
    since_long_ago = datetime.date(2018, 1, 15)
    made = {}
    made["loyal"] = CustomerFactory(home_branch=branch_a, customer_since=since_long_ago)
    for product in products(3):
        account = account_for(made["loyal"], product=product, opened_on=since_long_ago)
    booked(account, datetime.date(2026, 6, 1))

    made["dormant"] = CustomerFactory(home_branch=branch_a, customer_since=since_long_ago)
    account = account_for(made["dormant"], opened_on=since_long_ago)
    booked(account, datetime.date(2025, 1, 10))
    booked(account, datetime.date(2026, 6, 1), kind=Transaction.Kind.FEE)  # the bank's own: not activity
    booked(account, datetime.date(2026, 8, 1))  # after the as-of date: not seen by the run

    made["contacted"] = CustomerFactory(home_branch=branch_a, customer_since=since_long_ago)
    account = account_for(made["contacted"], opened_on=since_long_ago)
    booked(account, datetime.date(2025, 1, 10))
    Interaction.objects.create(customer=made["contacted"], channel="call_centre", kind=Interaction.Kind.ENQUIRY,
                               direction="inbound", occurred_at=at(datetime.date(2026, 3, 1)), summary="Rates")

    made["closed"] = CustomerFactory(home_branch=branch_a, customer_since=since_long_ago)
    account_for(made["closed"], opened_on=since_long_ago, status=Account.Status.CLOSED,
                closed_on=datetime.date(2025, 12, 1))

    made["prospect"] = CustomerFactory(home_branch=branch_a, lifecycle_stage=Stage.PROSPECT)
    made["converted"] = CustomerFactory(home_branch=branch_a, lifecycle_stage=Stage.PROSPECT,
                                        customer_since=datetime.date(2026, 5, 1))
    booked(account_for(made["converted"], opened_on=datetime.date(2026, 5, 1)), datetime.date(2026, 6, 20))

    made["other_branch"] = CustomerFactory(home_branch=branch_b, customer_since=datetime.date(2025, 1, 1))
    booked(account_for(made["other_branch"], opened_on=datetime.date(2025, 1, 1)), datetime.date(2026, 6, 2))
    return made


@pytest.fixture
def run_sync(django_capture_on_commit_callbacks):
    """A run in this process to the end, with the stage writes that follow its publish: they run
    once the publishing transaction commits, which the test's own transaction never does."""
    def start(**kwargs) -> Run:
        with django_capture_on_commit_callbacks(execute=True):
            run = lifecycle_run_start(sync=True, **kwargs)
        return run
    return start


def snapshot(run: Run, branch) -> tuple[dict, dict]:
    stages, moves = {}, {}
    for from_stage, stage, n in LifecycleSnapshot.objects.filter(run=run, branch=branch).values_list(
            "from_stage", "stage", "customers"):
        if from_stage:
            moves[(from_stage, stage)] = n
        else:
            stages[stage] = n
    return stages, moves


def test_lifecycle_run_applies_the_rules_as_of_the_frozen_date(book, branch_a, branch_b, run_sync):
    run = run_sync(as_of=AS_OF, params={"chunk_size": 3})
    assert run.status == Run.Status.SUCCEEDED and run.chunks_total == 3
    stages = dict(Customer.objects.values_list("pk", "lifecycle_stage"))
    assert {name: stages[customer.pk] for name, customer in book.items()} == {
        "loyal": Stage.LOYAL, "dormant": Stage.DORMANT, "contacted": Stage.CUSTOMER, "closed": Stage.CLOSED,
        "prospect": Stage.PROSPECT, "converted": Stage.CUSTOMER, "other_branch": Stage.CUSTOMER,
    }
    stage_counts, moves = snapshot(run, branch_a)
    assert stage_counts == {"loyal": 1, "dormant": 1, "customer": 2, "closed": 1, "prospect": 1}
    assert moves == {("customer", "loyal"): 1, ("customer", "dormant"): 1, ("customer", "closed"): 1,
                     ("prospect", "customer"): 1}
    assert snapshot(run, branch_b) == ({"customer": 1}, {})
    assert run.metrics["customers"] == 7 and run.metrics["moved"] == 4
    assert CurrentRun.objects.get(kind=LIFECYCLE).run_id == run.pk
    # The field history says the run moved the customer.
    latest = Customer.history.filter(id=book["loyal"].pk).order_by("-history_date").first()
    assert latest.lifecycle_stage == Stage.LOYAL and latest.history_change_reason == f"lifecycle run {run.pk}"


def test_a_second_run_moves_nobody_and_counts_the_same(book, branch_a, run_sync):
    first = run_sync(as_of=AS_OF)
    second = run_sync(as_of=AS_OF)
    assert snapshot(second, branch_a) == (snapshot(first, branch_a)[0], {})
    first.refresh_from_db()
    assert first.status == Run.Status.SUPERSEDED and second.metrics["previous_run"] == first.pk


def test_the_customer_table_is_vacuumed_after_customers_moved_and_only_then(book, run_sync, monkeypatch):
    """Moved customers leave dead row versions and pages no longer all-visible: the lists' index-only
    counts read the table again until the table is vacuumed."""
    from channels.services import lifecycle

    vacuumed = []
    monkeypatch.setattr(lifecycle, "tables_vacuum", lambda *tables: vacuumed.append(tables))
    run_sync(as_of=AS_OF)
    assert vacuumed == [(Customer._meta.db_table,)]
    run_sync(as_of=AS_OF)  # nobody moves: nothing to vacuum
    assert vacuumed == [(Customer._meta.db_table,)]


def test_vacuum_failing_leaves_the_stages_written(book, run_sync, monkeypatch, caplog):
    from django.db import DatabaseError

    from channels.services import lifecycle

    def fail(*tables):
        raise DatabaseError("must be owner of table")

    monkeypatch.setattr(lifecycle, "tables_vacuum", fail)
    run_sync(as_of=AS_OF)
    book["dormant"].refresh_from_db()
    assert book["dormant"].lifecycle_stage == Stage.DORMANT
    assert "vacuuming the customer table failed" in caplog.text


def test_a_later_as_of_date_sees_the_later_transaction(book, run_sync):
    run_sync(as_of=datetime.date(2026, 8, 31))
    book["dormant"].refresh_from_db()
    assert book["dormant"].lifecycle_stage == Stage.CUSTOMER


def test_customers_change_only_when_the_run_publishes(book, django_capture_on_commit_callbacks):
    run = lifecycle_run_start(as_of=AS_OF, params={"chunk_size": 2})
    ranges = run_prepare(run_id=run.pk)
    for lo, hi in ranges:
        run_chunk_complete(run_id=run.pk, lo=lo, hi=hi)
    assert set(Customer.objects.values_list("lifecycle_stage", flat=True)) == {Stage.CUSTOMER, Stage.PROSPECT}
    assert LifecycleSnapshot.objects.filter(run=run).exists()
    with django_capture_on_commit_callbacks(execute=True):
        run_finalize(run_id=run.pk)
    book["closed"].refresh_from_db()
    assert book["closed"].lifecycle_stage == Stage.CLOSED


def test_rules_edited_in_admin_take_effect_at_the_next_run(book, run_sync):
    LifecycleRule.objects.filter(stage=Stage.LOYAL).update(min_tenure_months=1, min_products=1)
    LifecycleRule.objects.filter(stage=Stage.DORMANT).update(is_active=False)
    run = run_sync(as_of=AS_OF)
    book["dormant"].refresh_from_db()
    assert book["dormant"].lifecycle_stage == Stage.LOYAL
    assert [rule["stage"] for rule in run.params["rules"]] == ["closed", "loyal"]


def test_run_lifecycle_command_in_sync_mode(book, capsys):
    call_command("run_lifecycle", "--as-of", AS_OF.isoformat(), "--sync")
    out = capsys.readouterr().out
    assert "published as of 2026-06-30" in out and '"moved": 4' in out


def test_nightly_schedule_is_seeded_for_the_lifecycle_run():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("channels.migrations.0003_fill_lifecycle_schedule")
    migration.fill_schedule(apps, None)  # idempotent: what the migration did, again
    task = PeriodicTask.objects.get(name="Customer lifecycle (nightly)")
    assert task.task == "channels.lifecycle_nightly" and task.crontab.hour == "3" and task.enabled


def test_lifecycle_rules_are_edited_in_admin_and_audited(client, bank_admin):
    from crm_bank.audit.models import AuditEvent

    rule = LifecycleRule.objects.get(stage=Stage.LOYAL)
    client.force_login(bank_admin)
    assert client.get("/admin/channels/lifecyclerule/").status_code == 200
    response = client.post(f"/admin/channels/lifecyclerule/{rule.pk}/change/", {
        "stage": "loyal", "priority": rule.priority, "min_tenure_months": 24, "min_products": 2,
        "min_months_inactive": "", "is_active": "on",
    })
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.min_tenure_months, rule.min_products) == (24, 2)
    assert AuditEvent.objects.filter(object_type="lifecycle_rule", object_id=str(rule.pk)).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_lifecycle_run_through_a_real_worker_in_chunks(book, branch_a, worker):
    from tests.runs.waiting import wait_until_finished

    run = wait_until_finished(lifecycle_run_start(as_of=AS_OF, params={"chunk_size": 2}), timeout=60)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total == 4
    assert snapshot(run, branch_a)[1] == {("customer", "loyal"): 1, ("customer", "dormant"): 1,
                                          ("customer", "closed"): 1, ("prospect", "customer"): 1}
    # The worker writes the stages just after the publish commits: wait for them (a few seconds at most).
    deadline = time.monotonic() + 10
    while not Customer.objects.filter(pk=book["closed"].pk, lifecycle_stage=Stage.CLOSED).exists():
        assert time.monotonic() < deadline, "the stages were not written after the publish"
        time.sleep(0.05)
    book["loyal"].refresh_from_db()
    assert book["loyal"].lifecycle_stage == Stage.LOYAL


# Activity is what the customer does

def test_outbound_contacts_do_not_keep_a_customer_active(branch_a, run_sync):
    """The bank's own SMS and campaign calls are not the customer's activity; a call the customer
    made is."""
    since = datetime.date(2018, 1, 15)
    marketed = CustomerFactory(home_branch=branch_a, customer_since=since)
    called_in = CustomerFactory(home_branch=branch_a, customer_since=since)
    for customer in (marketed, called_in):
        booked(account_for(customer, opened_on=since), datetime.date(2025, 1, 10))
        Interaction.objects.create(customer=customer, channel="sms", kind=Interaction.Kind.CAMPAIGN_CONTACT,
                                   direction="outbound", occurred_at=at(datetime.date(2026, 5, 1)), summary="Offer")
    Interaction.objects.create(customer=called_in, channel="call_centre", kind=Interaction.Kind.ENQUIRY,
                               direction="inbound", occurred_at=at(datetime.date(2026, 4, 1)), summary="Rates")
    run_sync(as_of=AS_OF)
    marketed.refresh_from_db()
    called_in.refresh_from_db()
    assert (marketed.lifecycle_stage, called_in.lifecycle_stage) == (Stage.DORMANT, Stage.CUSTOMER)


# The stage writes after publishing

@pytest.mark.django_db(transaction=True)
def test_stages_are_written_after_the_run_is_current_one_short_transaction_per_range(book, monkeypatch):
    """The publishing transaction holds no customer lock: the stages are written once the run is
    current, each range of APPLY_RANGE ids in its own transaction."""
    from django.db import connection

    from channels.services import lifecycle

    seen = []
    apply_range = lifecycle._stages_apply_range

    def spy(*, run, lo, hi):
        seen.append((lo, hi, connection.in_atomic_block, len(connection.savepoint_ids),
                     CurrentRun.objects.get(kind=LIFECYCLE).run_id == run.pk))
        return apply_range(run=run, lo=lo, hi=hi)

    monkeypatch.setattr(lifecycle, "APPLY_RANGE", 2)
    monkeypatch.setattr(lifecycle, "_stages_apply_range", spy)
    run = lifecycle_run_start(as_of=AS_OF, params={"chunk_size": 3}, sync=True)
    assert run.status == Run.Status.SUCCEEDED and run.chunks_total == 3
    ids = sorted(customer.pk for customer in book.values())
    # Chunks of 3, 3 and 1 ids, split into ranges of at most 2: 2+1, 2+1, 1; each range its own
    # top-level transaction, with the run already current.
    assert len(seen) == 5 and seen[0][0] == ids[0] and seen[-1][1] >= ids[-1]
    assert all(hi - lo <= 1 and atomic and savepoints == 0 and current
               for lo, hi, atomic, savepoints, current in seen)
    for name, stage in (("loyal", Stage.LOYAL), ("dormant", Stage.DORMANT), ("closed", Stage.CLOSED),
                        ("converted", Stage.CUSTOMER)):
        book[name].refresh_from_db()
        assert book[name].lifecycle_stage == stage


def test_a_run_no_longer_current_writes_no_stage(book, run_sync, django_capture_on_commit_callbacks):
    """A late stage write of an older run must not undo a newer run's stages."""
    with django_capture_on_commit_callbacks() as older_writes:  # held back: not run yet
        older = lifecycle_run_start(as_of=AS_OF, sync=True)
    run_sync(as_of=datetime.date(2026, 8, 31))  # sees the August transaction: still a customer
    for callback in older_writes:
        callback()
    book["dormant"].refresh_from_db()
    assert book["dormant"].lifecycle_stage == Stage.CUSTOMER
    from channels.services.lifecycle import lifecycle_stages_apply
    assert lifecycle_stages_apply(run_id=older.pk) == 0


def test_a_failing_range_is_logged_and_the_others_are_written(book, run_sync, monkeypatch, caplog):
    from django.db import DatabaseError

    from channels.services import lifecycle

    apply_range = lifecycle._stages_apply_range

    def failing_for_the_loyal(*, run, lo, hi):
        if lo <= book["loyal"].pk <= hi:
            raise DatabaseError("deadlock detected")
        return apply_range(run=run, lo=lo, hi=hi)

    monkeypatch.setattr(lifecycle, "APPLY_RANGE", 1)
    monkeypatch.setattr(lifecycle, "_stages_apply_range", failing_for_the_loyal)
    run = run_sync(as_of=AS_OF)
    assert run.status == Run.Status.SUCCEEDED
    for name in ("loyal", "closed", "dormant"):
        book[name].refresh_from_db()
    assert book["loyal"].lifecycle_stage == Stage.CUSTOMER  # left for the next run
    assert (book["closed"].lifecycle_stage, book["dormant"].lifecycle_stage) == (Stage.CLOSED, Stage.DORMANT)
    assert f"the stages of ids {book['loyal'].pk}-{book['loyal'].pk} were not written" in caplog.text
