"""Merging two golden records and undoing the merge: survivorship, moved rows, tombstones, refusals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from campaigns.models import Campaign, CampaignContact
from channels.models import ChurnFlag, Complaint, Interaction, Task
from crm_bank.audit.models import AuditEvent
from customers.merging import customer_merge, customer_snapshot, customer_unmerge, merge_field_choices
from customers.models import (
    AccountHolder,
    Channel,
    Customer,
    CustomerMerge,
    FieldGroup,
    FieldProvenance,
    Household,
    ImportBatch,
    ImportRow,
    MatchCandidate,
    RMAssignment,
    SourceRecord,
    SourceSystem,
    SurvivorshipRule,
    Transaction,
)
from customers.selectors import branch_summary, customer_list, customer_search_in_name_order, rm_book
from tests.customers.factories import AccountFactory, CustomerFactory, account_for, transactions_for

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


def _customer(branch, rm, **fields) -> Customer:
    customer = CustomerFactory(home_branch=branch, primary_rm=rm, **fields)
    if rm is not None:
        RMAssignment.objects.create(customer=customer, rm=rm, started_at=NOW - dt.timedelta(days=400),
                                    reason=RMAssignment.Reason.ONBOARDING)
    return customer


def _interaction(customer: Customer, *, days_ago: int) -> Interaction:
    return Interaction.objects.create(
        customer=customer, channel=Channel.BRANCH, kind=Interaction.Kind.ENQUIRY,
        direction=Interaction.Direction.INBOUND, occurred_at=NOW - dt.timedelta(days=days_ago), summary="Asked")


def _complaint(customer: Customer) -> Complaint:
    return Complaint.objects.create(customer=customer, channel=Channel.BRANCH, category=Complaint.Category.FEES,
                                    description="Fee", branch=customer.home_branch, opened_at=NOW,
                                    sla_due_at=NOW + dt.timedelta(days=5))


def _task(customer: Customer, assignee) -> Task:
    return Task.objects.create(assignee=assignee, customer=customer, kind=Task.Kind.KYC_REFRESH, title="KYC",
                               due_at=NOW + dt.timedelta(days=3))


def _provenance(customer: Customer, group: str, source: str, days_ago: int) -> FieldProvenance:
    return FieldProvenance.objects.create(customer=customer, group=group, source_id=source,
                                          set_at=NOW - dt.timedelta(days=days_ago))


@dataclass
class Pair:
    survivor: Customer
    absorbed: Customer
    third: Customer
    joint_account_id: int


@pytest.fixture
def pair(branch_a, rm_a, supervisor_a) -> Pair:
    """Two records of one person in branch A, both RM A, each with rows in every table a merge moves."""
    survivor = _customer(branch_a, rm_a, first_name="Jana", last_name="Novakova", phone="+420601000001",
                         birth_date=dt.date(1971, 3, 19), customer_since=dt.date(2015, 1, 1),
                         last_contact_at=NOW - dt.timedelta(days=30), last_contact_channel=Channel.BRANCH)
    household = Household.objects.create(name="Novak family")
    absorbed = _customer(branch_a, rm_a, first_name="Jana", last_name="Novakova", email="jana@example.cz",
                         national_id_type="CZ_RC", national_id="7153192745", address_line="Vodickova 12",
                         customer_since=dt.date(2009, 5, 1), household=household, household_role="spouse",
                         last_contact_at=NOW - dt.timedelta(days=2), last_contact_channel=Channel.CALL_CENTRE,
                         marketing_consent=True, marketing_consent_at=NOW - dt.timedelta(days=90),
                         marketing_consent_source=Customer.ConsentSource.BRANCH_FORM)
    third = _customer(branch_a, rm_a, first_name="Jan", last_name="Novak")
    for customer in (survivor, absorbed):
        transactions_for(account_for(customer), 3)
        SourceRecord.objects.create(customer=customer, system_id="branch", external_id=f"B-{customer.pk}")
        _interaction(customer, days_ago=5)
        _complaint(customer)
        _task(customer, rm_a)
        ChurnFlag.objects.create(customer=customer, raised_at=NOW, reason="Complained")
    joint = AccountFactory(branch=branch_a)
    for customer in (survivor, absorbed):
        AccountHolder.objects.create(account=joint, customer=customer, role=AccountHolder.Role.OWNER)
    batch = ImportBatch.objects.create(source=SourceSystem.objects.get(code="branch"), file_name="crm.csv")
    ImportRow.objects.create(batch=batch, line=2, payload={}, customer=absorbed, outcome=ImportRow.Outcome.CREATED)
    shared, own = (Campaign.objects.create(code=code, name=code, channel=Channel.BRANCH, starts_on=dt.date(2025, 1, 1))
                   for code in ("SPRING", "CARD"))
    for customer, campaign in ((survivor, shared), (absorbed, shared), (absorbed, own)):
        CampaignContact.objects.create(campaign=campaign, customer=customer)
    MatchCandidate.objects.create(left=absorbed, right=third, match_probability=0.7, match_weight=3,
                                  decision=MatchCandidate.Decision.REVIEW)
    _provenance(absorbed, FieldGroup.CONTACT, "uci_tm", days_ago=1)
    return Pair(survivor, absorbed, third, joint.pk)


REFERENCES = (AccountHolder, SourceRecord, ImportRow, RMAssignment, FieldProvenance, Interaction, Complaint, Task,
              ChurnFlag, CampaignContact)


def _owners(*customers: Customer) -> dict[str, dict[int, int]]:
    """Every referencing row of these customers: model → {row id: customer id}."""
    ids = [c.pk for c in customers]
    return {model._meta.label: dict(model.objects.filter(customer_id__in=ids).values_list("pk", "customer_id"))
            for model in REFERENCES}


def _transactions_of(customer: Customer) -> int:
    return Transaction.objects.filter(account__holdings__customer=customer).count()


@time_machine.travel(NOW, tick=False)
def test_merge_and_unmerge_round_trip_restores_everything(pair, supervisor_a):
    survivor, absorbed = pair.survivor, pair.absorbed
    before = _owners(survivor, absorbed)
    rm_periods = dict(RMAssignment.objects.filter(customer__in=[survivor, absorbed]).values_list("pk", "ended_at"))
    transactions = (_transactions_of(survivor), _transactions_of(absorbed))
    candidate_statuses = dict(MatchCandidate.objects.values_list("pk", "status"))

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)

    survivor.refresh_from_db()
    absorbed.refresh_from_db()
    assert (absorbed.merged_into_id, absorbed.lifecycle_stage, absorbed.primary_rm_id, absorbed.household_id) == (
        survivor.pk, Customer.Lifecycle.CLOSED, None, None)
    # Filled on one side only: taken from the absorbed record, the national ID included.
    assert (survivor.email, survivor.national_id, survivor.address_line) == (
        "jana@example.cz", "7153192745", "Vodickova 12")
    assert (absorbed.national_id, absorbed.national_id_type) == ("", "")
    assert survivor.customer_since == dt.date(2009, 5, 1)  # the longer relationship
    assert survivor.household.name == "Novak family"
    assert (survivor.last_contact_at, survivor.last_contact_channel) == (NOW - dt.timedelta(days=2),
                                                                         Channel.CALL_CENTRE)
    assert survivor.marketing_consent and survivor.marketing_consent_source == Customer.ConsentSource.BRANCH_FORM
    # Every row moved but those a unique rule keeps on the tombstone.
    after = _owners(survivor, absorbed)
    kept = {label: [pk for pk, owner in rows.items() if owner == absorbed.pk] for label, rows in after.items()}
    assert {label: ids for label, ids in kept.items() if ids} == {
        "customers.AccountHolder": list(AccountHolder.objects.filter(
            customer=absorbed, account_id=pair.joint_account_id).values_list("pk", flat=True)),
        "channels.ChurnFlag": list(ChurnFlag.objects.filter(customer=absorbed).values_list("pk", flat=True)),
        "campaigns.CampaignContact": list(CampaignContact.objects.filter(customer=absorbed, campaign__code="SPRING")
                                          .values_list("pk", flat=True)),
    }
    assert merge.moved["_kept"].keys() == {"customers.accountholder", "channels.churnflag", "campaigns.campaigncontact"}
    assert len(merge.moved["channels.interaction"]) == 1 and len(merge.moved["customers.importrow"]) == 1
    assert _transactions_of(survivor) == sum(transactions) == 6  # the absorbed record's account moved over
    assert RMAssignment.objects.filter(customer=survivor, ended_at__isnull=True).count() == 1
    assert MatchCandidate.objects.get(left=absorbed).status == MatchCandidate.Status.SUPERSEDED
    assert FieldProvenance.objects.get(group=FieldGroup.CONTACT).customer_id == survivor.pk

    restored = customer_unmerge(merge=merge, actor=supervisor_a)

    survivor.refresh_from_db()
    assert restored.pk == absorbed.pk
    restored.refresh_from_db()
    assert customer_snapshot(survivor) == merge.survivor_before
    assert customer_snapshot(restored) == merge.absorbed_before
    assert restored.merged_into_id is None and restored.national_id == "7153192745"
    assert _owners(survivor, absorbed) == before
    assert dict(RMAssignment.objects.filter(customer__in=[survivor, absorbed]).values_list("pk", "ended_at")) \
        == rm_periods
    assert (_transactions_of(survivor), _transactions_of(restored)) == transactions
    assert dict(MatchCandidate.objects.values_list("pk", "status")) == candidate_statuses
    merge.refresh_from_db()
    assert merge.unmerged_by == supervisor_a and merge.unmerged_at == NOW
    for customer in (survivor, restored):
        reasons = list(Customer.history.filter(id=customer.pk).order_by("history_id")
                       .values_list("history_change_reason", "history_user_id"))
        assert reasons[-2:] == [(f"merge #{merge.pk}", supervisor_a.pk), (f"unmerge #{merge.pk}", supervisor_a.pk)]


@time_machine.travel(NOW, tick=False)
def test_merge_audits_both_records_with_moved_counts(pair, supervisor_a):
    merge = customer_merge(survivor=pair.survivor, absorbed=pair.absorbed, actor=supervisor_a, ip_address="10.0.0.9")

    rows = AuditEvent.objects.filter(object_type="customer", action=AuditEvent.Action.CHANGE, actor=supervisor_a)
    assert sorted(rows.values_list("object_id", flat=True)) == sorted([str(pair.survivor.pk), str(pair.absorbed.pk)])
    detail = rows.get(object_id=str(pair.survivor.pk)).detail
    assert (detail["merge"], detail["survivor"], detail["absorbed"]) == (merge.pk, pair.survivor.pk, pair.absorbed.pk)
    assert detail["moved"]["channels.interaction"] == 1 and detail["kept"]["channels.churnflag"] == 1
    assert "national_id" in detail["fields_taken"] and "7153192745" not in str(detail)

    customer_unmerge(merge=merge, actor=supervisor_a)
    unmerged = rows.filter(detail__unmerge=merge.pk)
    assert unmerged.count() == 2 and unmerged.first().detail["moved_back"]["channels.interaction"] == 1


# Survivorship ---------------------------------------------------------------------------------------


def _rule(group: str, strategy: str) -> None:
    SurvivorshipRule.objects.update_or_create(group=group, defaults={"strategy": strategy})


def test_survivorship_trust_takes_the_more_trusted_sources_values(branch_a, rm_a):
    _rule(FieldGroup.CONTACT, SurvivorshipRule.Strategy.TRUST)
    SourceSystem.objects.filter(code="uci_tm").update(trust_contact=90)
    SourceSystem.objects.filter(code="branch").update(trust_contact=40)
    survivor = _customer(branch_a, rm_a, phone="+420601000001", email="a@example.cz")
    absorbed = _customer(branch_a, rm_a, phone="+420601000002", email="b@example.cz")
    _provenance(survivor, FieldGroup.CONTACT, "branch", days_ago=1)
    _provenance(absorbed, FieldGroup.CONTACT, "uci_tm", days_ago=300)

    chosen = merge_field_choices(survivor=survivor, absorbed=absorbed)

    assert (chosen["phone"], chosen["email"]) == ("absorbed", "absorbed")
    SourceSystem.objects.filter(code="uci_tm").update(trust_contact=40)  # a tie keeps the survivor's
    assert merge_field_choices(survivor=survivor, absorbed=absorbed)["phone"] == "survivor"


def test_survivorship_trust_without_provenance_uses_the_default_trust(branch_a, rm_a):
    _rule(FieldGroup.CONTACT, SurvivorshipRule.Strategy.TRUST)
    SourceSystem.objects.filter(code="uci_tm").update(trust_contact=SourceSystem.DEFAULT_TRUST - 1)
    survivor = _customer(branch_a, rm_a, phone="+420601000001")
    absorbed = _customer(branch_a, rm_a, phone="+420601000002")
    _provenance(survivor, FieldGroup.CONTACT, "uci_tm", days_ago=1)

    assert merge_field_choices(survivor=survivor, absorbed=absorbed)["phone"] == "absorbed"


def test_survivorship_recent_takes_the_newer_value(branch_a, rm_a):
    _rule(FieldGroup.ADDRESS, SurvivorshipRule.Strategy.RECENT)
    survivor = _customer(branch_a, rm_a, address_line="Old street 1", city="Brno")
    absorbed = _customer(branch_a, rm_a, address_line="New street 2", city="Praha")
    _provenance(survivor, FieldGroup.ADDRESS, "branch", days_ago=200)
    _provenance(absorbed, FieldGroup.ADDRESS, "uci_tm", days_ago=3)

    chosen = merge_field_choices(survivor=survivor, absorbed=absorbed)

    assert (chosen["address_line"], chosen["city"]) == ("absorbed", "absorbed")
    FieldProvenance.objects.filter(customer=absorbed).update(set_at=NOW - dt.timedelta(days=500))
    assert merge_field_choices(survivor=survivor, absorbed=absorbed)["address_line"] == "survivor"


def test_survivorship_complete_takes_the_longer_value_and_filled_beats_empty(branch_a, rm_a):
    _rule(FieldGroup.ADDRESS, SurvivorshipRule.Strategy.COMPLETE)
    _rule(FieldGroup.CONTACT, SurvivorshipRule.Strategy.TRUST)
    survivor = _customer(branch_a, rm_a, address_line="Vodickova 12", city="Praha", phone="")
    absorbed = _customer(branch_a, rm_a, address_line="Vodickova 12/681, Nove Mesto", city="", phone="+420601000002")
    _provenance(survivor, FieldGroup.CONTACT, "pkdd_core", days_ago=1)
    SourceSystem.objects.filter(code="pkdd_core").update(trust_contact=100)

    chosen = merge_field_choices(survivor=survivor, absorbed=absorbed)

    assert chosen["address_line"] == "absorbed"  # longer
    assert chosen["city"] == "survivor"  # the absorbed has none
    assert chosen["phone"] == "absorbed"  # empty on the survivor: trust does not matter


@time_machine.travel(NOW, tick=False)
def test_reviewer_override_wins_over_the_rule(branch_a, rm_a, supervisor_a):
    _rule(FieldGroup.CONTACT, SurvivorshipRule.Strategy.COMPLETE)
    survivor = _customer(branch_a, rm_a, email="short@ex.cz", phone="+420601000001")
    absorbed = _customer(branch_a, rm_a, email="much.longer@example.cz", phone="+420601000002")

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a,
                           choices={"email": "survivor", "phone": "absorbed"})

    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone) == ("short@ex.cz", "+420601000002")
    assert (merge.chosen["email"], merge.chosen["phone"]) == ("survivor", "absorbed")


@pytest.mark.parametrize(("choices", "message"), [
    ({"cif": "absorbed"}, "cannot be chosen"),
    ({"email": "both"}, "survivor or the absorbed"),
    ({"national_id": "absorbed", "national_id_type": "survivor"}, "go together"),
])
def test_bad_choices_are_refused_and_nothing_is_written(branch_a, rm_a, supervisor_a, choices, message):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)

    with pytest.raises(ValidationError, match=message):
        customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a, choices=choices)

    assert not CustomerMerge.objects.exists()


# Ownership conflict ---------------------------------------------------------------------------------


def test_different_rms_are_refused_without_an_explicit_choice(branch_a, rm_a, rm_a2, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a2)
    history = Customer.history.count()

    with pytest.raises(ValidationError, match="different RMs"):
        customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)

    absorbed.refresh_from_db()
    assert absorbed.merged_into_id is None and not CustomerMerge.objects.exists()
    assert Customer.history.count() == history


@time_machine.travel(NOW, tick=False)
def test_the_chosen_rm_is_kept_and_flagged(branch_a, rm_a, rm_a2, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a2)
    periods = dict(RMAssignment.objects.values_list("pk", "ended_at"))

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a, choices={"primary_rm": "absorbed"})

    survivor.refresh_from_db()
    assert merge.ownership_conflict and survivor.primary_rm == rm_a2
    current = RMAssignment.objects.get(customer=survivor, ended_at__isnull=True)
    assert current.rm == rm_a2
    assert RMAssignment.objects.get(rm=rm_a).ended_at == NOW  # the survivor's own period ended by the merge

    customer_unmerge(merge=merge, actor=supervisor_a)

    survivor.refresh_from_db()
    assert survivor.primary_rm == rm_a
    assert dict(RMAssignment.objects.values_list("pk", "ended_at")) == periods
    assert RMAssignment.objects.get(rm=rm_a2).customer_id == absorbed.pk


# Permissions ----------------------------------------------------------------------------------------


def test_an_rm_cannot_merge_and_the_refusal_is_audited(branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)

    with pytest.raises(PermissionDenied):
        customer_merge(survivor=survivor, absorbed=absorbed, actor=rm_a)

    absorbed.refresh_from_db()
    assert absorbed.merged_into_id is None
    denied = AuditEvent.objects.get(outcome=AuditEvent.Outcome.DENIED, actor=rm_a)
    assert denied.object_id == str(absorbed.pk)


def test_a_supervisor_merges_only_within_their_branch(branch_a, branch_b, rm_a, rm_b, supervisor_a, supervisor_b):
    in_a, also_in_a, in_b = _customer(branch_a, rm_a), _customer(branch_a, rm_a), _customer(branch_b, None)

    with pytest.raises(PermissionDenied):
        customer_merge(survivor=in_a, absorbed=also_in_a, actor=supervisor_b)
    with pytest.raises(PermissionDenied):
        customer_merge(survivor=in_a, absorbed=in_b, actor=supervisor_a)

    assert customer_merge(survivor=in_a, absorbed=also_in_a, actor=supervisor_a).pk


def test_an_admin_merges_across_branches(branch_a, branch_b, rm_a, bank_admin):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_b, None)

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=bank_admin)

    assert merge.merged_by == bank_admin and not merge.ownership_conflict


def test_a_supervisor_of_another_branch_cannot_unmerge(branch_a, rm_a, supervisor_a, supervisor_b):
    merge = customer_merge(survivor=_customer(branch_a, rm_a), absorbed=_customer(branch_a, rm_a), actor=supervisor_a)

    with pytest.raises(PermissionDenied):
        customer_unmerge(merge=merge, actor=supervisor_b)

    merge.refresh_from_db()
    assert merge.unmerged_at is None


# Refusals -------------------------------------------------------------------------------------------


def test_a_customer_cannot_be_merged_into_itself(branch_a, rm_a, supervisor_a):
    customer = _customer(branch_a, rm_a)
    with pytest.raises(ValidationError, match="into itself"):
        customer_merge(survivor=customer, absorbed=customer, actor=supervisor_a)


def test_tombstones_cannot_take_part_in_a_merge(branch_a, rm_a, supervisor_a):
    survivor, absorbed, other = _customer(branch_a, rm_a), _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)

    with pytest.raises(ValidationError, match="already merged"):
        customer_merge(survivor=other, absorbed=absorbed, actor=supervisor_a)
    with pytest.raises(ValidationError, match="merge into that one"):
        customer_merge(survivor=absorbed, absorbed=other, actor=supervisor_a)
    assert CustomerMerge.objects.count() == 1


def test_unmerge_twice_is_refused(branch_a, rm_a, supervisor_a):
    merge = customer_merge(survivor=_customer(branch_a, rm_a), absorbed=_customer(branch_a, rm_a), actor=supervisor_a)
    customer_unmerge(merge=merge, actor=supervisor_a)

    with pytest.raises(ValidationError, match="already undone"):
        customer_unmerge(merge=merge, actor=supervisor_a)



def test_a_merge_whose_customer_was_anonymised_cannot_be_undone_and_says_why(branch_a, rm_a, supervisor_a):
    """Retention replaces the merge's snapshots: undoing it raised a KeyError (a server error)."""
    from customers.models import CustomerMerge

    merge = customer_merge(survivor=_customer(branch_a, rm_a), absorbed=_customer(branch_a, rm_a), actor=supervisor_a)
    CustomerMerge.objects.filter(pk=merge.pk).update(survivor_before={"anonymised": True},
                                                     absorbed_before={"anonymised": True})
    merge.refresh_from_db()

    with pytest.raises(ValidationError, match="anonymised under the retention rules"):
        customer_unmerge(merge=merge, actor=supervisor_a)
    assert CustomerMerge.objects.get(pk=merge.pk).unmerged_at is None

def test_unmerge_is_blocked_by_a_later_merge_of_either_record(branch_a, rm_a, supervisor_a):
    survivor, absorbed, later = _customer(branch_a, rm_a), _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    first = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    second = customer_merge(survivor=later, absorbed=survivor, actor=supervisor_a)

    with pytest.raises(ValidationError, match=f"Undo merge #{second.pk} first.*{survivor.cif} into {later.cif}"):
        customer_unmerge(merge=first, actor=supervisor_a)

    customer_unmerge(merge=second, actor=supervisor_a)
    customer_unmerge(merge=first, actor=supervisor_a)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_a_candidate_for_another_pair_is_refused(branch_a, rm_a, supervisor_a):
    survivor, absorbed, other = _customer(branch_a, rm_a), _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    candidate = MatchCandidate.objects.create(left=survivor, right=other, match_probability=0.8, match_weight=4,
                                              decision=MatchCandidate.Decision.REVIEW)

    with pytest.raises(ValidationError, match="not about these two"):
        customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a, candidate=candidate)


def test_the_candidate_is_marked_merged_and_reopened_by_the_unmerge(branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    candidate = MatchCandidate.objects.create(left=survivor, right=absorbed, match_probability=0.9, match_weight=5,
                                              decision=MatchCandidate.Decision.REVIEW)

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a, candidate=candidate)
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by, merge.candidate) == (
        MatchCandidate.Status.MERGED, supervisor_a, candidate)

    customer_unmerge(merge=merge, actor=supervisor_a)
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by, candidate.decided_at) == (MatchCandidate.Status.PENDING, None, None)


def test_provenance_follows_the_chosen_side_and_is_restored(branch_a, rm_a, supervisor_a):
    _rule(FieldGroup.CONTACT, SurvivorshipRule.Strategy.RECENT)
    survivor = _customer(branch_a, rm_a, phone="+420601000001")
    absorbed = _customer(branch_a, rm_a, phone="+420601000002")
    ours = _provenance(survivor, FieldGroup.CONTACT, "branch", days_ago=100)
    theirs = _provenance(absorbed, FieldGroup.CONTACT, "uci_tm", days_ago=1)

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)

    ours.refresh_from_db()
    assert (ours.customer_id, ours.source_id, ours.set_at) == (survivor.pk, "uci_tm", theirs.set_at)
    customer_unmerge(merge=merge, actor=supervisor_a)
    ours.refresh_from_db()
    assert (ours.source_id, ours.set_at) == ("branch", NOW - dt.timedelta(days=100))
    assert FieldProvenance.objects.get(pk=theirs.pk).customer_id == absorbed.pk


# Tombstones elsewhere -------------------------------------------------------------------------------


def test_a_tombstones_link_redirects_to_the_survivor_and_is_audited(client, branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    client.force_login(rm_a)

    response = client.get(reverse("customers:customer-detail", args=[absorbed.pk]))

    assert response.status_code == 302 and response.url == reverse("customers:customer-detail", args=[survivor.pk])
    assert absorbed.cif in str(next(iter(get_messages(response.wsgi_request))))
    opened = AuditEvent.objects.get(action=AuditEvent.Action.VIEW, object_id=str(absorbed.pk), actor=rm_a)
    assert opened.detail["merged_into"] == survivor.pk
    assert client.get(response.url).status_code == 200


def test_a_tombstone_link_still_needs_a_staff_role(client, no_role_user, branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    client.force_login(no_role_user)

    assert client.get(reverse("customers:customer-detail", args=[absorbed.pk])).status_code == 403


def test_lists_search_book_and_counts_leave_tombstones_out(branch_a, rm_a, supervisor_a):
    survivor = _customer(branch_a, rm_a, first_name="Zdena", last_name="Zelena", phone="+420601999999")
    absorbed = _customer(branch_a, rm_a, first_name="Zdena", last_name="Zelena", phone="+420601888888")
    before = branch_summary(branch_id=branch_a.pk).customers_total
    customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)

    assert absorbed.pk not in set(customer_list().values_list("pk", flat=True))
    for query in ("zdena", "zelena zd", "+420601888888", absorbed.cif):
        page, count = customer_search_in_name_order(query=query, rows=25, count_cap=1000)
        assert absorbed.pk not in {c.pk for c in page}, query
    page, count = customer_search_in_name_order(query="zdena", rows=25, count_cap=1000)
    assert [c.pk for c in page] == [survivor.pk] and count == 1
    assert absorbed.pk not in set(rm_book(rm_id=rm_a.pk).values_list("pk", flat=True))
    assert branch_summary(branch_id=branch_a.pk).customers_total == before - 1


def test_the_customer_list_page_leaves_tombstones_out(client, branch_a, rm_a, supervisor_a,
                                                      django_assert_max_num_queries):
    survivor = _customer(branch_a, rm_a, first_name="Zdena", last_name="Zelena")
    absorbed = _customer(branch_a, rm_a, first_name="Zdena", last_name="Zelena")
    customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    client.force_login(rm_a)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("customers:customer-list"), {"q": "zdena zelena"})

    assert survivor.cif in response.content.decode() and absorbed.cif not in response.content.decode()
    response = client.get(reverse("customers:customer-list"), {"q": "zdena", "home_branch": branch_a.pk})
    assert survivor.cif in response.content.decode() and absorbed.cif not in response.content.decode()


# Admin ----------------------------------------------------------------------------------------------


def test_admin_unmerge_action_undoes_the_merge(client, bank_admin, branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    client.force_login(bank_admin)

    response = client.post(reverse("admin:customers_customermerge_changelist"),
                           {"action": "unmerge", "_selected_action": [merge.pk]}, follow=True)

    assert response.status_code == 200
    merge.refresh_from_db()
    assert merge.unmerged_by == bank_admin
    assert Customer.objects.get(pk=absorbed.pk).merged_into_id is None
    assert "undone" in response.content.decode()
    again = client.post(reverse("admin:customers_customermerge_changelist"),
                        {"action": "unmerge", "_selected_action": [merge.pk]}, follow=True)
    assert "already undone" in again.content.decode()


def test_admin_unmerge_action_is_offered_to_administrators_only(client, supervisor_a, branch_a, rm_a):
    merge = customer_merge(survivor=_customer(branch_a, rm_a), absorbed=_customer(branch_a, rm_a), actor=supervisor_a)
    supervisor_a.is_staff = True
    supervisor_a.save(update_fields=["is_staff"])
    client.force_login(supervisor_a)

    client.post(reverse("admin:customers_customermerge_changelist"),
                {"action": "unmerge", "_selected_action": [merge.pk]})

    merge.refresh_from_db()
    assert merge.unmerged_at is None


def test_channels_and_campaigns_register_their_customer_references():
    """Those rows follow a merge; segmentation results (run, customer) stay on the tombstone."""
    from customers.merge_registry import customer_references

    assert {r.key for r in customer_references()} == {
        "channels.interaction", "channels.complaint", "channels.task", "channels.churnflag",
        "campaigns.campaigncontact"}



def test_opening_a_merge_in_the_admin_is_audited(client, bank_admin, branch_a, rm_a, supervisor_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=supervisor_a)
    client.force_login(bank_admin)

    response = client.get(reverse("admin:customers_customermerge_change", args=[merge.pk]))

    assert response.status_code == 200
    opened = AuditEvent.objects.get(object_type="customer_merge", actor=bank_admin)
    assert opened.detail["customers"] == [survivor.pk, absorbed.pk]


def test_a_chain_of_merges_leaves_every_tombstone_one_redirect_from_the_live_record(client, branch_a, rm_a,
                                                                                      supervisor_a):
    first, second, last = _customer(branch_a, rm_a), _customer(branch_a, rm_a), _customer(branch_a, rm_a)
    customer_merge(survivor=second, absorbed=first, actor=supervisor_a)
    later = customer_merge(survivor=last, absorbed=second, actor=supervisor_a)
    first.refresh_from_db()
    assert first.merged_into_id == last.pk  # re-pointed by the second merge
    client.force_login(rm_a)

    response = client.get(reverse("customers:customer-detail", args=[first.pk]), follow=True)

    assert [url for url, _status in response.redirect_chain] == [reverse("customers:customer-detail", args=[last.pk])]
    assert response.status_code == 200
    customer_unmerge(merge=later, actor=supervisor_a)  # the older tombstone points at its own survivor again
    first.refresh_from_db()
    assert first.merged_into_id == second.pk and Customer.objects.get(pk=second.pk).merged_into_id is None


def test_an_automatic_merge_has_no_actor_and_is_audited(branch_a, rm_a):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, None)

    merge = customer_merge(survivor=survivor, absorbed=absorbed, actor=None,
                           choices=merge_field_choices(survivor=survivor, absorbed=absorbed))

    assert merge.merged_by is None
    assert AuditEvent.objects.filter(actor=None, detail__merge=merge.pk).count() == 2


def test_an_automatic_merge_never_settles_an_ownership_conflict(branch_a, rm_a, rm_a2):
    survivor, absorbed = _customer(branch_a, rm_a), _customer(branch_a, rm_a2)

    with pytest.raises(ValidationError, match="different RMs"):
        customer_merge(survivor=survivor, absorbed=absorbed, actor=None,
                       choices=merge_field_choices(survivor=survivor, absorbed=absorbed))

    assert not CustomerMerge.objects.exists()
