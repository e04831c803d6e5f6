"""Batches: one result per item in order, good items stored whatever the others do, one audit row,
a query count that does not grow with the batch, and retries racing each other."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from channels.models import Complaint, ComplaintSLA, HeldInteraction, Interaction
from channels.services import ingest as ingest_module
from channels.services import interactions as interactions_module
from channels.services.systems import channel_system_register, channel_token_create
from crm_bank.audit.models import AuditEvent
from tests.channels.test_api import item
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/interactions/batch/"


@pytest.fixture
def api() -> Client:
    system = channel_system_register(code="call-centre")[0]
    return Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")


@pytest.fixture
def customers(branch_a):
    return [CustomerFactory(cif=f"C{n:09d}", home_branch=branch_a) for n in range(1, 4)]


def post(client: Client, items: object):
    return client.post(URL, {"items": items} if isinstance(items, list) else items, content_type="application/json")


def test_mixed_batch_gets_a_result_per_item_in_order_and_stores_the_good_ones(api, customers):
    assert post(api, [item(source_id="old-1"), item(source_id="old-2")]).status_code == 200
    response = post(api, [
        item(source_id="new-1"),
        item(source_id="old-1"),                                   # replay
        item(source_id="old-2", summary="Changed"),                # another body
        item(source_id="new-2", customer="C999999999"),            # unknown customer
        item(source_id="new-3", channel="pigeon", kind="chat"),    # invalid
        item(source_id="new-4", customer="C000000002"),
        item(source_id="new-1"),                                   # repeated within the batch
        item(source_id="new-4", summary="Other"),                  # repeated with another body
        "not an object",
    ])
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created", "duplicate", "conflict", "held", "error", "created", "duplicate", "conflict", "error"]
    assert [r["index"] for r in body["results"]] == list(range(9))
    results = body["results"]
    stored = dict(Interaction.objects.values_list("source_id", "pk"))
    assert results[0]["id"] == stored["new-1"] == results[6]["id"]
    assert results[1]["id"] == stored["old-1"] and results[2]["id"] == stored["old-2"]
    assert results[3]["held_id"] == HeldInteraction.objects.get(source_id="new-2").pk
    assert set(results[4]["errors"]) == {"channel", "kind"}
    assert results[5]["id"] == stored["new-4"]
    assert body["counts"] == {"created": 2, "duplicate": 2, "conflict": 2, "held": 1, "error": 2}
    assert set(stored) == {"old-1", "old-2", "new-1", "new-4"}
    assert Interaction.objects.get(source_id="old-2").summary == "Asked about the mortgage rate"
    audit = AuditEvent.objects.filter(object_type="interaction_batch").order_by("-id").first()
    assert audit.detail == {"system": "call-centre", "items": 9, "created": 2, "duplicate": 2, "conflict": 2,
                            "held": 1, "error": 2}
    assert AuditEvent.objects.filter(object_type="interaction_batch").count() == 2  # one per request


@pytest.mark.parametrize(("body", "message"), [
    ({"items": [item(source_id=f"s{n}") for n in range(1001)]}, "At most 1,000 items in one batch."),
    ({"items": []}, "Send at least one item."),
    ({"items": "x"}, "Send the items as a list under “items”."),
    ([item()], "Send the items as a list under “items”."),
])
def test_a_bad_batch_is_refused_whole(api, customers, body, message):
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"items": message}
    assert not Interaction.objects.exists()


def test_a_full_batch_of_1000_is_taken(api, customers):
    response = post(api, [item(source_id=f"s{n}", customer=f"C{n % 3 + 1:09d}") for n in range(1000)])
    assert response.json()["counts"]["created"] == 1000
    assert Interaction.objects.count() == 1000


def _queries_for(api: Client, size: int, start: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = post(api, [item(source_id=f"q{start + n}", customer=f"C{n % 3 + 1:09d}", staff="rm_a")
                              for n in range(size)])
    assert response.json()["counts"]["created"] == size
    return len(queries)


def test_batch_queries_do_not_grow_with_its_size(api, customers, rm_a):
    _queries_for(api, 1, 1000)  # the token's first use is recorded once
    small = _queries_for(api, 5, 0)
    assert small <= 14
    assert _queries_for(api, 300, 100) == small


def test_an_item_its_hook_refuses_fails_alone(api, customers, monkeypatch):
    def refuse(rows, items, actor):
        if any(new.summary == "refused" for new in items):
            raise ValidationError("Nobody can take the case.")

    monkeypatch.setattr(interactions_module, "_AFTER_STORE", [refuse])
    response = post(api, [item(source_id="a"), item(source_id="b", summary="refused"), item(source_id="c")])
    assert [r["status"] for r in response.json()["results"]] == ["created", "error", "created"]
    assert response.json()["results"][1]["errors"] == {"item": "Nobody can take the case."}
    assert set(Interaction.objects.values_list("source_id", flat=True)) == {"a", "c"}


def test_a_complaint_in_a_batch_a_hook_refuses_part_of_opens_one_linked_case(api, customers, monkeypatch):
    """The batch's attempt opens the complaint's case, then another hook refuses an item: the
    savepoint takes the case back, and the item-by-item retry must not carry the lost case's id
    (its deferred foreign key would fail at COMMIT and lose every item)."""
    for severity, hours, step in (("critical", 24, 4), ("high", 48, 12), ("medium", 120, 24), ("low", 240, 48)):
        ComplaintSLA.objects.get_or_create(severity=severity,
                                           defaults={"resolve_within_hours": hours, "escalation_step_hours": step})

    def refuse(rows, items, actor):
        if any(new.summary == "refused" for new in items):
            raise ValidationError("Nobody can take the case.")

    monkeypatch.setattr(interactions_module, "_AFTER_STORE", [*interactions_module._AFTER_STORE, refuse])
    response = post(api, [item(source_id="a", kind="complaint", category="card", summary="ATM kept my card"),
                          item(source_id="b", summary="refused"), item(source_id="c")])
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["created", "error", "created"]
    with connection.cursor() as cursor:  # what COMMIT checks: the deferred foreign keys hold
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    complaint = Complaint.objects.get()
    assert (complaint.category, complaint.description) == ("card", "ATM kept my card")
    assert dict(Interaction.objects.values_list("source_id", "complaint_id")) == {"a": complaint.pk, "c": None}


def test_a_nul_in_one_items_text_fails_that_item_alone(api, customers):
    response = post(api, [item(source_id="n1"), item(source_id="n2", summary="Hello\u0000world"),
                          item(source_id="n3", staff="rm\u0000a"), item(source_id="n4")])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error", "created"]
    assert results[1]["errors"] == {"summary": "Must not contain NUL characters."}
    assert results[2]["errors"] == {"staff": "Must not contain NUL characters."}
    assert set(Interaction.objects.values_list("source_id", flat=True)) == {"n1", "n4"}


def test_a_racing_request_storing_the_same_source_ids_first_turns_them_into_duplicates(api, customers, monkeypatch):
    """The other request commits between this one's look-up and its insert: the unique constraint
    refuses the clash, the clashing items become duplicates or conflicts, the rest are stored."""
    racing = [item(source_id="r1"), item(source_id="r2", summary="Racer's own body")]
    real_sort = ingest_module._replays_sort

    def sort_then_race(**kwargs):
        fresh = real_sort(**kwargs)
        monkeypatch.setattr(ingest_module, "_replays_sort", real_sort)
        assert post(api, racing).json()["counts"]["created"] == 2
        return fresh

    monkeypatch.setattr(ingest_module, "_replays_sort", sort_then_race)
    response = post(api, [item(source_id="r1"), item(source_id="r2"), item(source_id="r3")])
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["duplicate", "conflict", "created"]
    assert Interaction.objects.filter(source_id__in=["r1", "r2", "r3"]).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_batch_store_each_item_once(branch_a):
    """Two connections post the same batch at once: each item is created by one and a duplicate for
    the other, and neither answers with a server error."""
    for n in range(1, 4):
        CustomerFactory(cif=f"C{n:09d}", home_branch=branch_a)
    system = channel_system_register(code="mobile")[0]
    token = channel_token_create(system=system)[1]
    batch = [item(source_id=f"m{n}", customer=f"C{n % 3 + 1:09d}") for n in range(200)]
    answers: list = []
    start = threading.Barrier(2)

    def retry() -> None:
        try:
            start.wait()
            response = Client(HTTP_AUTHORIZATION=f"Token {token}").post(URL, {"items": batch},
                                                                         content_type="application/json")
            answers.append((response.status_code, response.json()["counts"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200, 200]
    assert sum(counts["created"] for _, counts in answers) == 200
    assert sum(counts["duplicate"] for _, counts in answers) == 200
    assert Interaction.objects.filter(source_system=system).count() == 200
