"""The find-duplicates run: planted duplicates found through blocking (never all pairs), one pending
row per pair whatever the re-runs, decided pairs left alone, tombstones out, and the run on a real
Celery worker."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from customers.duplicates import (
    DUPLICATE_SEARCH,
    PASSES,
    STRIDE,
    bucket_ranges,
    customers_frame,
    duplicate_search_start,
)
from customers.models import Customer, MatchCandidate
from tests.customers.factories import CustomerFactory
from tests.runs.waiting import wait_until_finished

D = datetime.date


def _person(branch, rm=None, **fields):
    return CustomerFactory(home_branch=branch, primary_rm=rm, **fields)


@pytest.fixture
def planted(branch_a, branch_b, rm_a, rm_b):
    """Three planted duplicate pairs among unrelated customers."""
    people = {
        "jana": _person(branch_a, rm_a, first_name="Jana", last_name="Novakova", birth_date=D(1971, 3, 19),
                        phone="+420601123456", gender="F", postal_code="110 00"),
        "jana_typo": _person(branch_a, None, first_name="Jana", last_name="Novakowa", birth_date=D(1971, 3, 19),
                             phone="+420601123456", gender="F", postal_code="11000"),
        "petr": _person(branch_a, rm_a, first_name="Petr", last_name="Svoboda", birth_date=D(1980, 6, 2),
                        email="petr.svoboda@example.cz", gender="M"),
        "petr_swapped": _person(branch_b, rm_b, first_name="Svoboda", last_name="Petr", birth_date=D(1980, 6, 2),
                                email="Petr.Svoboda@example.cz", gender="M"),
        "wang": _person(branch_a, rm_a, first_name="小明", last_name="王", birth_date=D(1990, 1, 5),
                        phone="+8613800138000", gender="M"),
        "wang_pinyin": _person(branch_a, rm_a, first_name="Xiaoming", last_name="Wang", birth_date=D(1990, 1, 5),
                               phone="+86 138 0013 8000", gender="M"),
    }
    others = [
        _person(branch_a, first_name=f"Other{i}", last_name=f"Person{i}", birth_date=D(1950 + i, 1 + i % 12, 1),
                phone=f"+42077700{i:04d}")
        for i in range(14)
    ]
    return people, others


def _pairs(status: str = MatchCandidate.Status.PENDING) -> dict[tuple[int, int], MatchCandidate]:
    return {(c.left_id, c.right_id): c for c in MatchCandidate.objects.filter(status=status)}


def _pair(a, b) -> tuple[int, int]:
    return (min(a.pk, b.pk), max(a.pk, b.pk))


@pytest.mark.django_db
def test_run_finds_planted_duplicates_through_blocking(planted, rm_a, rm_b):
    people, others = planted

    run = duplicate_search_start(sync=True, params={"chunk_size": 4})

    assert run.status == Run.Status.SUCCEEDED, run.error
    found = _pairs()
    for a, b in [("jana", "jana_typo"), ("petr", "petr_swapped"), ("wang", "wang_pinyin")]:
        assert _pair(people[a], people[b]) in found, (a, b)
    assert set(found) == {_pair(people[a], people[b]) for a, b in [
        ("jana", "jana_typo"), ("petr", "petr_swapped"), ("wang", "wang_pinyin")]}
    for candidate in found.values():
        assert candidate.left_id < candidate.right_id
        assert candidate.run_id == run.pk and candidate.decision in {"review", "auto_merge"}
        assert {c["field"] for c in candidate.comparisons} >= {"name", "birth_date", "phone"}
    swapped = found[_pair(people["petr"], people["petr_swapped"])]
    assert swapped.ownership_conflict  # rm_a and rm_b
    assert next(c for c in swapped.comparisons if c["field"] == "name")["label"] == "given and family swapped"
    assert not found[_pair(people["jana"], people["jana_typo"])].ownership_conflict  # one has no RM
    total = len(people) + len(others)
    assert run.metrics["customers"] == total
    assert 0 < run.metrics["pairs_compared"] < total * (total - 1) // 2  # blocked, never all pairs
    assert sum(run.metrics["pairs"].values()) == 3
    assert run.metrics["ownership_conflicts"] == 1
    assert run.chunks_total > 1  # split by blocking key


@pytest.mark.django_db
def test_rerun_adds_no_second_pending_row_and_keeps_decided_pairs_closed(planted, supervisor_a):
    people, _ = planted
    duplicate_search_start(sync=True)
    first = _pairs()
    distinct = first[_pair(people["wang"], people["wang_pinyin"])]
    MatchCandidate.objects.filter(pk=distinct.pk).update(status=MatchCandidate.Status.NOT_DUPLICATE)

    second_run = duplicate_search_start(sync=True)

    again = _pairs()
    assert set(again) == set(first) - {_pair(people["wang"], people["wang_pinyin"])}
    assert {c.pk for c in again.values()} <= {c.pk for c in first.values()}  # updated in place
    assert all(c.run_id == second_run.pk for c in again.values())
    assert MatchCandidate.objects.count() == 3
    assert MatchCandidate.objects.get(pk=distinct.pk).status == MatchCandidate.Status.NOT_DUPLICATE



@pytest.mark.django_db
def test_a_not_the_same_decision_holds_after_either_record_is_merged_on(planted, branch_a, rm_a):
    """Wang ≠ Wang (pinyin), said a supervisor; the pinyin record was then merged into a third. The
    next search proposed Wang and that third record again (and could have merged them automatically)."""
    people, _ = planted
    duplicate_search_start(sync=True)
    MatchCandidate.objects.filter(left_id=min(people["wang"].pk, people["wang_pinyin"].pk),
                                  right_id=max(people["wang"].pk, people["wang_pinyin"].pk)).update(
        status=MatchCandidate.Status.NOT_DUPLICATE)
    survivor = _person(branch_a, rm_a, first_name="Xiaoming", last_name="Wang", birth_date=D(1990, 1, 5),
                       phone="+8613800138000", gender="M")
    Customer.objects.filter(pk=people["wang_pinyin"].pk).update(merged_into=survivor)

    duplicate_search_start(sync=True)

    assert _pair(people["wang"], survivor) not in _pairs()
    assert _pair(people["jana"], people["jana_typo"]) in _pairs()  # other pairs still found

@pytest.mark.django_db
def test_tombstones_are_left_out_and_their_pending_pairs_superseded(planted):
    people, _ = planted
    duplicate_search_start(sync=True)
    pair = _pairs()[_pair(people["jana"], people["jana_typo"])]
    people["jana_typo"].merged_into = people["jana"]
    people["jana_typo"].save(update_fields=["merged_into"])

    run = duplicate_search_start(sync=True)

    assert _pair(people["jana"], people["jana_typo"]) not in _pairs()
    assert MatchCandidate.objects.get(pk=pair.pk).status == MatchCandidate.Status.SUPERSEDED
    assert run.metrics["customers"] == 19
    frame = customers_frame(step=PASSES[0], lo=1900, hi=2100, crowd={})
    assert people["jana_typo"].pk not in set(frame["id"]) and people["jana"].pk in set(frame["id"])


@pytest.mark.django_db
def test_frame_reads_one_block_with_country_from_the_branch(branch_a):
    cz = [_person(branch_a, first_name="A", last_name="B", birth_date=D(1971, 1, 1), country="CZ")
          for _ in range(3)]
    bare = _person(branch_a, first_name="C", last_name="D", birth_date=D(1971, 5, 5), country="")
    other_year = _person(branch_a, first_name="E", last_name="F", birth_date=D(1985, 5, 5), country="SK")

    frame = customers_frame(step=PASSES[0], lo=1971, hi=1971, crowd={})

    assert list(frame["id"]) == sorted(c.pk for c in [*cz, bare])
    assert other_year.pk not in set(frame["id"])
    assert frame.set_index("id").loc[bare.pk, "country"] == "CZ"


@pytest.mark.django_db
def test_placeholder_phone_is_blanked_bank_wide(branch_a):
    """A phone typed into 25 records is no evidence: never blocks or scores, even in small chunks."""
    crowd = [_person(branch_a, first_name=f"N{i}", last_name=f"M{i}", birth_date=D(1960 + i, 2, 2),
                     phone="+420224000000") for i in range(25)]

    run = duplicate_search_start(sync=True, params={"chunk_size": 3})

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert MatchCandidate.objects.count() == 0
    assert len(Run.objects.get(pk=run.pk).params["crowd"]["phone"]) == 1
    frame = customers_frame(step=PASSES[0], lo=1960, hi=1961, crowd=run.params["crowd"])
    assert set(frame["phone"]) == {""} and len(frame) == 2 and crowd


def test_bucket_ranges_group_neighbours_and_never_split_a_bucket():
    assert bucket_ranges([(1, 2), (5, 2), (7, 9), (8, 1)], size=4) == [(1, 5), (7, 7), (8, 8)]
    assert bucket_ranges([], size=4) == []
    assert all(0 <= index * STRIDE < 10 * STRIDE for index, _ in enumerate(PASSES))


@pytest.mark.django_db
def test_bad_params_and_too_few_customers_are_refused(branch_a):
    with pytest.raises(RunParamsInvalid, match="fewer than two customers"):
        duplicate_search_start(sync=True)
    _person(branch_a, first_name="A", last_name="B")
    _person(branch_a, first_name="C", last_name="D")
    with pytest.raises(RunParamsInvalid, match="at least 2"):
        duplicate_search_start(params={"chunk_size": "x"})
    with pytest.raises(RunParamsInvalid, match="Unknown parameters"):
        duplicate_search_start(params={"k": 3})
    assert not Run.objects.filter(kind=DUPLICATE_SEARCH).exists()


@pytest.mark.django_db
def test_nothing_shared_still_publishes_an_empty_run(branch_a):
    _person(branch_a, first_name="A", last_name="B")
    _person(branch_a, first_name="C", last_name="D")

    run = duplicate_search_start(sync=True)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.metrics["pairs"] == {"auto_merge": 0, "review": 0}


@pytest.mark.django_db
def test_command_runs_and_reports(planted, capsys):
    call_command("find_duplicates", "--sync", "--chunk-size", "5")
    out = capsys.readouterr().out
    assert "published" in out and "pairs compared" in out and "to review" in out
    with pytest.raises(CommandError, match="at least 2"):
        call_command("find_duplicates", "--sync", "--chunk-size", "1")


@pytest.mark.django_db
def test_auto_merge_waits_in_the_queue_by_default(planted):
    run = duplicate_search_start(sync=True)

    assert run.metrics["auto_merge"] is False and run.metrics["merged"] == 0
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    assert MatchCandidate.objects.filter(decision="auto_merge", status="pending").exists()


@pytest.mark.django_db
def test_auto_merge_setting_merges_the_pairs_without_an_rm_conflict(planted, settings):
    """With CRM_AUTO_MERGE the run merges its auto-merge pairs whose RMs agree through
    customer_merge (no actor: the bank's automatic merge), the older record surviving; a pair with
    different RMs stays in the queue for a supervisor."""
    settings.CRM_AUTO_MERGE = True

    run = duplicate_search_start(sync=True)

    auto = MatchCandidate.objects.filter(run=run, decision="auto_merge")
    merged = auto.filter(ownership_conflict=False)
    assert merged.exists() and run.metrics["merged"] == merged.count()
    for candidate in merged:
        assert candidate.status == MatchCandidate.Status.MERGED and candidate.decided_by is None
        assert Customer.objects.get(pk=candidate.right_id).merged_into_id == candidate.left_id
    assert all(c.status == "pending" for c in MatchCandidate.objects.filter(run=run, ownership_conflict=True))
    assert run.metrics["auto_merge_left_for_review"] == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_through_a_real_worker(planted, worker):
    people, _ = planted

    run = wait_until_finished(duplicate_search_start(params={"chunk_size": 4}))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total > 1
    assert _pair(people["wang"], people["wang_pinyin"]) in _pairs()
    assert sum(run.metrics["pairs"].values()) == 3
