"""The segmentation run end to end (in-process): segments, memberships, rule segments, metrics,
determinism, transitions, and bad input that leaves the published run alone."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from customers.models import Customer
from segmentation import scoring
from segmentation.models import LearnedSegment, RuleSegment, SegmentMembership
from segmentation.segments import SEGMENTATION, read_frame, segmentation_params_clean, segmentation_start
from tests.segmentation.segment_bank import AS_OF, PER_KIND, segment_bank_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def memberships(run: Run) -> dict[int, tuple[int, list[int]]]:
    return {m.customer_id: (m.segment, m.rule_segments) for m in SegmentMembership.objects.filter(run=run)}


def test_run_finds_the_three_kinds_and_publishes(segment_bank):
    young_rule = RuleSegment.objects.create(name="Young and digital", rule="age < 30 and digital_share > 0.7")
    RuleSegment.objects.create(name="Inactive rule", rule="age > 200", active=False)

    run = segmentation_start(as_of=AS_OF, k=3, sync=True)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert current_run(kind=SEGMENTATION) == run
    rows = memberships(run)
    assert len(rows) == 3 * PER_KIND
    for kind in (segment_bank.young, segment_bank.retirees, segment_bank.borrowers):
        assert len({rows[c.pk][0] for c in kind}) == 1  # each kind is one segment
    # Segments are numbered by typical balances: the mortgage holders first, the young last.
    assert rows[segment_bank.borrowers[0].pk][0] == 0 and rows[segment_bank.young[0].pk][0] == 2
    assert all(rows[c.pk][1] == [young_rule.pk] for c in segment_bank.young)
    assert all(rows[c.pk][1] == [] for c in segment_bank.retirees + segment_bank.borrowers)

    segments = list(LearnedSegment.objects.filter(run=run).order_by("number"))
    assert [s.size for s in segments] == [PER_KIND] * 3
    assert segments[2].profile["response_rate"] == pytest.approx(0.25)  # 1 of the 4 contacted accepted
    assert segments[0].profile["penetration_mortgage"] == 1.0 and segments[2].profile["digital_share"] == 1.0
    assert sum(s.profile["value_share"] for s in segments) == pytest.approx(1.0, abs=1e-5)
    assert segments[1].centroid["age"] > 60
    assert run.metrics["k"] == 3 and run.metrics["sizes"] == {"0": 12, "1": 12, "2": 12}
    assert run.metrics["names"] == {str(s.number): s.name for s in segments}
    assert run.metrics["rule_sizes"] == {str(young_rule.pk): PER_KIND}
    assert run.metrics["transitions"] is None and run.metrics["previous_run"] is None
    assert run.params["rules"] == [{"id": young_rule.pk, "name": "Young and digital",
                                    "rule": "age < 30 and digital_share > 0.7"}]


def test_k_is_chosen_by_silhouette_when_not_given(segment_bank):
    run = segmentation_start(as_of=AS_OF, sync=True)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.metrics["k"] == 3 and not run.metrics["k_fixed"]
    assert set(run.metrics["silhouette"]) == {str(k) for k in range(3, 9)}
    assert max(run.metrics["silhouette"], key=run.metrics["silhouette"].get) == "3"


def test_same_data_params_and_seed_give_identical_results(segment_bank):
    first = segmentation_start(as_of=AS_OF, k=4, seed=11, sync=True)
    second = segmentation_start(as_of=AS_OF, k=4, seed=11, sync=True)

    assert memberships(first) == memberships(second)
    assert first.metrics["model"] == second.metrics["model"]
    centroids = [list(LearnedSegment.objects.filter(run=r).order_by("number").values_list("name", "size", "centroid"))
                 for r in (first, second)]
    assert centroids[0] == centroids[1]


def test_second_run_records_transitions_from_the_published_one(segment_bank):
    first = segmentation_start(as_of=AS_OF, k=3, sync=True)
    Customer.objects.filter(pk=segment_bank.young[0].pk).update(customer_since=dt.date(2025, 1, 1))  # leaves

    second = segmentation_start(as_of=AS_OF, k=3, sync=True)

    first.refresh_from_db()
    assert first.status == Run.Status.SUPERSEDED and current_run(kind=SEGMENTATION) == second
    transitions = second.metrics["transitions"]
    assert second.metrics["previous_run"] == first.pk and transitions["segments"] == [0, 1, 2]
    assert transitions["counts"] == [[12, 0, 0], [0, 12, 0], [0, 0, 11]]
    assert transitions["left"] == [0, 0, 1] and transitions["entered"] == [0, 0, 0]


def test_frame_value_matches_the_value_formula(segment_bank):
    run = segmentation_start(as_of=AS_OF, k=3, sync=True)
    frame = read_frame(run_id=run.pk)

    from segmentation.models import CustomerFeatures

    features = CustomerFeatures.objects.filter(run=run).order_by("customer_id").values(
        "customer_id", *scoring.VALUE_INPUTS)
    import pandas as pd

    expected = scoring.customer_value(pd.DataFrame(list(features)))
    assert frame["value"].to_numpy() == pytest.approx(expected["value"].to_numpy())
    responded = frame.set_index("customer_id")["responded_before"]
    assert responded[segment_bank.young[0].pk] == 1 and responded[segment_bank.young[1].pk] == 0
    assert responded[segment_bank.retirees[0].pk] != responded[segment_bank.retirees[0].pk]  # never contacted: NaN


# Bad input: a clear message, nothing written, the published run stays current

@pytest.mark.parametrize(("k", "message"), [(0, "k must be at least 2"), (1, "k must be at least 2"),
                                            (31, "k must be at most 30"), (1000, "k must be at most 30")])
def test_bad_k_is_refused_before_anything_is_written(segment_bank, k, message):
    published = segmentation_start(as_of=AS_OF, k=3, sync=True)

    with pytest.raises(RunError, match=message):
        segmentation_start(as_of=AS_OF, k=k, sync=True)

    assert Run.objects.count() == 1 and current_run(kind=SEGMENTATION) == published


def test_k_above_the_customers_on_the_date_is_refused_before_anything_is_written(segment_bank):
    published = segmentation_start(as_of=AS_OF, k=3, sync=True)
    first_five = [customer.pk for customer in segment_bank.everyone[:5]]
    Customer.objects.exclude(pk__in=first_five).update(customer_since=dt.date(2030, 1, 1))

    with pytest.raises(RunError, match="k = 6 is more segments than there are customers \\(5\\)"):
        segmentation_start(as_of=AS_OF, k=6, sync=True)

    assert Run.objects.count() == 1 and current_run(kind=SEGMENTATION) == published


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_numpy_cannot_take_is_refused_before_anything_is_written(segment_bank, seed):
    # 2**32 failed only in the run's finish, after every chunk had been computed.
    with pytest.raises(RunError, match="seed must"):
        segmentation_start(as_of=AS_OF, k=3, seed=seed, sync=True)

    assert not Run.objects.exists()


def test_no_customers_or_no_data_is_refused(db, segment_bank):
    with pytest.raises(RunError, match="No transaction is booked on or before 1990-01-01"):
        segmentation_start(as_of=dt.date(1990, 1, 1), k=3, sync=True)
    Customer.objects.update(customer_since=dt.date(2030, 1, 1))
    with pytest.raises(RunError, match="no customers to segment"):
        segmentation_start(as_of=AS_OF, k=3, sync=True)

    assert not Run.objects.exists()


def test_empty_bank_is_refused(db):
    with pytest.raises(RunError, match="no transactions"):
        segmentation_start(sync=True)

    assert not Run.objects.exists()


def test_a_stored_rule_that_no_longer_parses_is_refused_by_name(segment_bank):
    published = segmentation_start(as_of=AS_OF, k=3, sync=True)
    RuleSegment.objects.create(name="Old rule", rule="balance > 10")  # written before `balance` was renamed

    with pytest.raises(RunParamsInvalid, match="“Old rule” no longer parses: Unknown feature 'balance' at position 1"):
        segmentation_start(as_of=AS_OF, k=3, sync=True)

    assert Run.objects.count() == 1 and current_run(kind=SEGMENTATION) == published


def test_a_run_whose_rule_fails_in_finish_fails_and_keeps_the_published_run(segment_bank):
    published = segmentation_start(as_of=AS_OF, k=3, sync=True)
    # A run queued with a rule that parsed then, finished by code whose rule language changed.
    run = Run.objects.create(kind=SEGMENTATION, as_of=AS_OF,
                             params={"k": 3, "rules": [{"id": 1, "name": "R", "rule": "balance > 1"}]})

    from crm_bank.runs.services import _run_in_process

    _run_in_process(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "“R” no longer parses" in run.error
    assert current_run(kind=SEGMENTATION) == published
    assert not SegmentMembership.objects.filter(run=run).exists()


def test_k_above_the_distinct_customers_fails_the_run_with_a_reason(segment_bank):
    published = segmentation_start(as_of=AS_OF, k=3, sync=True)
    run = Run.objects.create(kind=SEGMENTATION, as_of=AS_OF, params={"k": 200})

    from crm_bank.runs.services import _run_in_process

    _run_in_process(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "k = 200 is more segments than there are customers" in run.error
    assert current_run(kind=SEGMENTATION) == published


@pytest.mark.parametrize(("params", "message"), [
    ({"k": "three"}, "whole numbers"), ({"k": 2.5}, "whole numbers"), ({"k_range": [1, 4]}, "k range"),
    ({"seed": -1}, "seed must be"), ({"colour": "red"}, "Unknown parameters: colour"),
    ({"rules": [{"id": 1}]}, "needs an id, a name and a rule"),
])
def test_params_are_checked(params, message):
    with pytest.raises(RunParamsInvalid, match=message):
        segmentation_params_clean(params)


def test_params_get_their_defaults(db):
    assert segmentation_params_clean({}) == {"k": None, "seed": 7, "k_range": [3, 8], "sample_size": 20_000,
                                             "chunk_size": 20_000, "rules": [], "currency": "CZK",
                                             "rates": {"CZK": 1.0, "EUR": 25.0}}


# The 360° page's selectors

def test_customer_segment_path_lists_the_published_runs_oldest_first(segment_bank, django_assert_num_queries):
    from segmentation.selectors import customer_segment_current, customer_segment_path

    young_rule = RuleSegment.objects.create(name="Young", name_zh="年轻", rule="age < 30")
    first = segmentation_start(as_of=AS_OF, k=3, sync=True)
    young_rule.rule = "age > 200"
    young_rule.save()
    second = segmentation_start(as_of=AS_OF, k=3, sync=True)
    Run.objects.create(kind=SEGMENTATION, status=Run.Status.FAILED)  # never shown
    customer = segment_bank.young[0]

    with django_assert_num_queries(1):
        path = customer_segment_path(customer_id=customer.pk)

    assert [step.run_id for step in path] == [first.pk, second.pk]
    assert [step.as_of for step in path] == [AS_OF, AS_OF] and all(step.segment == 2 for step in path)
    names = LearnedSegment.objects.filter(run=second, number=2).values_list("name", flat=True).get()
    assert path[1].segment_name == names and path[1].segment_label == names
    assert [r.label for r in path[0].rule_segments] == ["Young"] and path[1].rule_segments == ()
    assert len(customer_segment_path(customer_id=customer.pk, runs=1)) == 1
    with django_assert_num_queries(1):
        current = customer_segment_current(customer_id=customer.pk)
    assert current.run_id == second.pk and current.segment == 2
    assert customer_segment_current(customer_id=0) is None and customer_segment_path(customer_id=0) == []


# The command and the nightly schedule

def test_run_segmentation_sync_publishes_and_prints_the_segments(segment_bank, capsys):
    from django.core.management import call_command

    call_command("run_segmentation", "--as-of", AS_OF.isoformat(), "--k", "3", "--seed", "5", "--sync")

    run = Run.objects.get(kind=SEGMENTATION)
    assert run.status == Run.Status.SUCCEEDED and run.params["seed"] == 5 and run.metrics["k"] == 3
    out = capsys.readouterr().out
    assert f"Run #{run.pk} published as of 2024-06-30: k = 3;" in out and "affluent retirees: 12" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--k", "0"], "k must be at least 2 \\(got 0\\)"), (["--k", "99"], "k must be at most 30 \\(got 99\\)"),
    (["--as-of", "30/06/2024"], "YYYY-MM-DD"), (["--as-of", "1990-01-01"], "No transaction is booked"),
    (["--seed", "-2"], "seed must be"),
])
def test_run_segmentation_bad_input_is_a_command_error(segment_bank, args, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("run_segmentation", *args, "--sync")

    assert not Run.objects.exists()


def test_run_segmentation_queues_without_sync(segment_bank, capsys, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=False):
        call_command("run_segmentation", "--as-of", AS_OF.isoformat())

    run = Run.objects.get(kind=SEGMENTATION)
    assert run.status == Run.Status.QUEUED and f"Run #{run.pk} queued" in capsys.readouterr().out


def test_nightly_segmentation_schedule_is_seeded_once(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("segmentation.migrations.0005_fill_segmentation_nightly_schedule")
    migration.fill_schedule(apps, None)
    migration.fill_schedule(apps, None)

    task = PeriodicTask.objects.get(task="segmentation.tasks.segmentation_nightly")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "30")


def test_nightly_segmentation_without_data_logs_and_starts_nothing(db, caplog):
    from segmentation.tasks import segmentation_nightly

    assert segmentation_nightly() is None
    assert "Nightly segmentation not started" in caplog.text and not Run.objects.exists()
