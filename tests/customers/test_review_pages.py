"""The duplicate review pages: who sees and decides which pairs, the records side by side as the
viewer may see them, merge and "not the same customer" from the page, the find-duplicates button,
and query budgets."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from customers.duplicates import DUPLICATE_SEARCH
from customers.models import Customer, MatchCandidate
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

COMPARISONS = [
    {"field": "name", "level": 5, "label": "one typo", "weight": 8.1},
    {"field": "birth_date", "level": 6, "label": "exact", "weight": 14.0},
    {"field": "phone", "level": 2, "label": "exact", "weight": 11.6},
    {"field": "gender", "level": 1, "label": "same", "weight": 1.0},
    {"field": "email", "level": -1, "label": "missing", "weight": 0.0},
]


def _customer(branch, rm=None, **fields) -> Customer:
    defaults = {"first_name": "Jana", "last_name": "Novakova", "birth_date": datetime.date(1971, 3, 19),
                "phone": "+420601123456", "gender": "F", "national_id_type": "", "national_id": ""}
    return CustomerFactory(home_branch=branch, primary_rm=rm, **{**defaults, **fields})


def _pair(left: Customer, right: Customer, *, decision: str = "review", probability: float = 0.9) -> MatchCandidate:
    left, right = sorted([left, right], key=lambda c: c.pk)
    return MatchCandidate.objects.create(
        left=left, right=right, match_probability=probability, match_weight=12.5, comparisons=COMPARISONS,
        decision=decision, rule="probabilistic", model_version="match-2025.1",
        ownership_conflict=None not in (left.primary_rm_id, right.primary_rm_id)
        and left.primary_rm_id != right.primary_rm_id,
    )


@pytest.fixture
def pairs(branch_a, branch_b, rm_a, rm_a2, rm_b):
    """A-A (same RM), A-A auto-merge (no RM on one side), A-B (different RMs), B-B."""
    a1 = _customer(branch_a, rm_a, phone="+420601123456")
    a2 = _customer(branch_a, rm_a, last_name="Novakowa", phone="+420601999888", email="jana@example.cz")
    a3 = _customer(branch_a, None, first_name="Petr", last_name="Svoboda")
    a4 = _customer(branch_a, rm_a2, first_name="Petr", last_name="Svobodа")
    ab_a = _customer(branch_a, rm_a, first_name="Eva", last_name="Mala", phone="+420777111222")
    ab_b = _customer(branch_b, rm_b, first_name="Eva", last_name="Malá", phone="+420777111223")
    b1 = _customer(branch_b, rm_b, first_name="Karel", last_name="Dvorak")
    b2 = _customer(branch_b, None, first_name="Karel", last_name="Dvořák")
    return {
        "aa": _pair(a1, a2, probability=0.95),
        "aa_auto": _pair(a3, a4, decision="auto_merge", probability=0.9995),
        "ab": _pair(ab_a, ab_b, probability=0.8),
        "bb": _pair(b1, b2, probability=0.7),
    }


def _url(name: str, *args) -> str:
    return reverse(f"customers:{name}", args=args)


def test_rms_and_analysts_are_refused(client, pairs, rm_a, analyst_b):
    for user in (rm_a, analyst_b):
        client.force_login(user)
        assert client.get(_url("review-queue")).status_code == 403
        assert client.get(_url("review-pair", pairs["aa"].pk)).status_code == 403
        assert client.post(_url("review-distinct", pairs["aa"].pk)).status_code == 403
        assert client.post(_url("review-merge", pairs["aa"].pk), {"survivor": "left"}).status_code == 403
    assert MatchCandidate.objects.filter(status="pending").count() == 4


def test_supervisor_sees_the_pairs_touching_their_branch_most_likely_first(client, pairs, supervisor_a):
    client.force_login(supervisor_a)

    response = client.get(_url("review-queue"))

    assert response.status_code == 200
    shown = [pair.pk for pair in response.context["pairs"]]
    assert shown == [pairs["aa_auto"].pk, pairs["aa"].pk, pairs["ab"].pk]
    assert response.context["counts"] == {"total": 3, "auto_merge": 1, "review": 2, "conflicts": 1}
    html = response.content.decode()
    assert "Find duplicates" not in html and "Review queue" in html  # nav link, no admin button
    assert AuditEvent.objects.filter(object_type="match_candidate_queue", actor=supervisor_a).exists()


def test_queue_filters_by_decision_and_conflict(client, pairs, bank_admin):
    client.force_login(bank_admin)

    auto = client.get(_url("review-queue"), {"decision": "auto_merge"}).context["pairs"]
    conflicts = client.get(_url("review-queue"), {"conflict": "yes"}).context["pairs"]
    bad = client.get(_url("review-queue"), {"decision": "nonsense"})

    assert [p.pk for p in auto] == [pairs["aa_auto"].pk]
    assert [p.pk for p in conflicts] == [pairs["ab"].pk]
    assert bad.status_code == 200 and len(bad.context["pairs"]) == 4  # an unknown filter shows everything


def test_admin_sees_every_pair_and_the_find_duplicates_button(client, pairs, bank_admin):
    client.force_login(bank_admin)

    response = client.get(_url("review-queue"))

    assert len(response.context["pairs"]) == 4
    assert 'id="find-duplicates-form"' in response.content.decode()


def test_another_branchs_supervisor_is_refused_the_pair_page_and_it_is_audited(client, pairs, supervisor_b):
    client.force_login(supervisor_b)

    response = client.get(_url("review-pair", pairs["aa"].pk))

    assert response.status_code == 403
    assert AuditEvent.objects.filter(object_type="match_candidate", object_id=str(pairs["aa"].pk),
                                     outcome=AuditEvent.Outcome.DENIED, actor=supervisor_b).exists()
    assert client.post(_url("review-distinct", pairs["aa"].pk)).status_code == 403
    assert MatchCandidate.objects.get(pk=pairs["aa"].pk).status == "pending"


def test_pair_page_shows_records_side_by_side_with_the_matchers_reasons(client, pairs, supervisor_a):
    client.force_login(supervisor_a)
    pair = pairs["aa"]

    response = client.get(_url("review-pair", pair.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "+420601123456" in html and "+420601999888" in html  # their own branch: in full
    assert 'name="field_phone"' in html and 'name="field_email"' in html  # the differing fields
    assert 'name="field_first_name"' not in html  # the same on both sides: nothing to choose
    assert "one typo" in html and "14.0" in html  # why the score
    assert 'id="merge-button"' in html and 'id="distinct-button"' in html
    rows = {row.field: row for row in response.context["rows"]}
    assert rows["email"].choice == "right"  # empty on the left: merge_field_choices takes the right's
    assert AuditEvent.objects.filter(object_type="customer", object_id=str(pair.left_id),
                                     detail__purpose="duplicate review").exists()


def test_side_by_side_masks_the_other_branchs_record_and_offers_no_decision(client, pairs, supervisor_a):
    client.force_login(supervisor_a)
    pair = pairs["ab"]

    html = client.get(_url("review-pair", pair.pk)).content.decode()

    assert "+420777111222" in html  # branch A's record in full
    assert "+420777111223" not in html and "+420*******23" in html  # branch B's masked
    assert 'id="merge-button"' not in html and 'id="cannot-decide"' in html
    assert 'id="ownership-conflict"' in html and "different RMs" in html


def test_admin_sees_both_records_in_full(client, pairs, bank_admin):
    client.force_login(bank_admin)

    html = client.get(_url("review-pair", pairs["ab"].pk)).content.decode()

    assert "+420777111222" in html and "+420777111223" in html
    assert 'name="primary_rm"' in html and 'id="merge-button"' in html


def test_supervisor_merges_within_their_branch_and_lands_on_the_survivor(client, pairs, supervisor_a):
    client.force_login(supervisor_a)
    pair = pairs["aa"]

    response = client.post(_url("review-merge", pair.pk), {"survivor": "left", "field_phone": "right"})

    assert response.status_code == 302 and response.url == _url("customer-detail", pair.left_id)
    survivor, absorbed = Customer.objects.get(pk=pair.left_id), Customer.objects.get(pk=pair.right_id)
    assert absorbed.merged_into_id == survivor.pk
    assert survivor.phone == "+420601999888" and survivor.email == "jana@example.cz"
    pair.refresh_from_db()
    assert pair.status == MatchCandidate.Status.MERGED and pair.decided_by == supervisor_a
    assert AuditEvent.objects.filter(actor=supervisor_a, action=AuditEvent.Action.CHANGE).exists()


def test_merge_with_the_right_record_surviving(client, pairs, bank_admin):
    client.force_login(bank_admin)
    pair = pairs["aa"]

    response = client.post(_url("review-merge", pair.pk), {"survivor": "right", "field_phone": "left"})

    assert response.url == _url("customer-detail", pair.right_id)
    survivor = Customer.objects.get(pk=pair.right_id)
    assert Customer.objects.get(pk=pair.left_id).merged_into_id == survivor.pk
    assert survivor.phone == "+420601123456"


def test_ownership_conflict_needs_the_rm_choice(client, pairs, bank_admin, rm_b):
    client.force_login(bank_admin)
    pair = pairs["ab"]

    refused = client.post(_url("review-merge", pair.pk), {"survivor": "left"}, follow=True)

    assert "choose the RM who keeps the customer" in refused.content.decode()
    assert Customer.objects.filter(pk__in=[pair.left_id, pair.right_id], merged_into__isnull=True).count() == 2
    merged = client.post(_url("review-merge", pair.pk), {"survivor": "left", "primary_rm": "right"})
    assert merged.status_code == 302
    assert Customer.objects.get(pk=pair.left_id).primary_rm == rm_b


def test_supervisor_cannot_merge_a_pair_across_branches(client, pairs, supervisor_a):
    client.force_login(supervisor_a)
    pair = pairs["ab"]

    response = client.post(_url("review-merge", pair.pk), {"survivor": "left", "primary_rm": "left"})

    assert response.status_code == 403
    assert not Customer.objects.filter(merged_into__isnull=False).exists()
    assert MatchCandidate.objects.get(pk=pair.pk).status == "pending"


def test_not_the_same_customer_is_recorded_and_audited(client, pairs, supervisor_a):
    client.force_login(supervisor_a)
    pair = pairs["aa"]

    response = client.post(_url("review-distinct", pair.pk), {"note": "mother and daughter"})

    assert response.status_code == 302 and response.url == _url("review-queue")
    pair.refresh_from_db()
    assert pair.status == MatchCandidate.Status.NOT_DUPLICATE and pair.decided_by == supervisor_a
    assert pair.note == "mother and daughter"
    assert AuditEvent.objects.filter(object_type="match_candidate", object_id=str(pair.pk), actor=supervisor_a,
                                     action=AuditEvent.Action.CHANGE, detail__status="distinct").exists()
    again = client.post(_url("review-distinct", pair.pk), follow=True)
    assert "already been decided" in again.content.decode()
    assert pair.pk not in [p.pk for p in client.get(_url("review-queue")).context["pairs"]]


def test_supervisor_cannot_mark_a_cross_branch_pair_distinct(client, pairs, supervisor_a):
    client.force_login(supervisor_a)

    assert client.post(_url("review-distinct", pairs["ab"].pk)).status_code == 403
    assert MatchCandidate.objects.get(pk=pairs["ab"].pk).status == "pending"


def test_unknown_pair_is_404(client, bank_admin):
    client.force_login(bank_admin)
    assert client.get(_url("review-pair", 999999)).status_code == 404


def test_find_duplicates_button_queues_a_run_and_shows_its_progress(client, pairs, bank_admin, supervisor_a):
    client.force_login(bank_admin)

    response = client.post(_url("review-find"))

    assert response.status_code == 302
    run = Run.objects.get(kind=DUPLICATE_SEARCH)
    assert run.status == Run.Status.QUEUED and run.started_by == bank_admin
    html = client.get(_url("review-queue")).content.decode()
    assert _url("review-run-progress", run.pk) in html
    progress = client.get(_url("review-run-progress", run.pk))
    assert progress.status_code == 200 and 'hx-trigger="every 2s"' in progress.content.decode()
    second = client.post(_url("review-find"), follow=True)
    assert "already queued or running" in second.content.decode()
    client.force_login(supervisor_a)
    assert client.post(_url("review-find")).status_code == 403
    assert client.get(_url("review-run-progress", run.pk)).status_code == 403


def test_queue_query_budget(client, branch_a, rm_a, supervisor_a, django_assert_max_num_queries):
    for i in range(30):
        _pair(_customer(branch_a, rm_a, first_name=f"J{i}"), _customer(branch_a, None, first_name=f"J{i}"))
    client.force_login(supervisor_a)
    client.get(_url("review-queue"))  # session and profile warmed like any later page

    with django_assert_max_num_queries(8):
        response = client.get(_url("review-queue"))

    assert len(response.context["pairs"]) == 25


def test_pair_page_query_budget(client, pairs, bank_admin, django_assert_max_num_queries):
    client.force_login(bank_admin)
    client.get(_url("review-queue"))

    with django_assert_max_num_queries(12):
        response = client.get(_url("review-pair", pairs["ab"].pk))

    assert response.status_code == 200


def test_queue_summarises_the_last_published_search(client, branch_a, bank_admin):
    from customers.duplicates import duplicate_search_start

    _customer(branch_a, first_name="Anna", last_name="Kralova", phone="+420601000001")
    _customer(branch_a, first_name="Boris", last_name="Cerny", phone="+420601000002",
              birth_date=datetime.date(1960, 1, 1))
    run = duplicate_search_start(sync=True)
    client.force_login(bank_admin)

    html = client.get(_url("review-queue")).content.decode()

    assert f"run #{run.pk}" in html and "2 customers" in html and 'id="queue-empty"' in html


def test_supervisor_undoes_a_merge_from_the_pair_page(client, pairs, supervisor_a, supervisor_b):
    client.force_login(supervisor_a)
    pair = pairs["aa"]
    client.post(_url("review-merge", pair.pk), {"survivor": "left", "field_phone": "right"})
    page = client.get(_url("review-pair", pair.pk)).content.decode()
    assert 'id="unmerge-button"' in page and 'id="merge-button"' not in page
    client.force_login(supervisor_b)  # another branch's supervisor cannot undo it
    assert client.post(_url("review-unmerge", pair.pk)).status_code == 403
    assert Customer.objects.get(pk=pair.right_id).merged_into_id == pair.left_id
    client.force_login(supervisor_a)
    response = client.post(_url("review-unmerge", pair.pk))
    assert response.status_code == 302 and response.url == _url("review-pair", pair.pk)
    survivor, absorbed = Customer.objects.get(pk=pair.left_id), Customer.objects.get(pk=pair.right_id)
    assert absorbed.merged_into_id is None and survivor.phone == "+420601123456" and survivor.email == ""
    pair.refresh_from_db()
    assert pair.status == MatchCandidate.Status.PENDING
    assert 'id="merge-button"' in client.get(_url("review-pair", pair.pk)).content.decode()
    again = client.post(_url("review-unmerge", pair.pk), follow=True).content.decode()
    assert "no merge in force" in again
