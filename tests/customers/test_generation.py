"""The synthetic bank: valid and unique IDs, coherent rows, skewed money, idempotent re-runs."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from django.db.models import Count, F, Q
from stdnum.cn import ric, uscc

from crm_bank.org.models import StaffProfile
from customers.generation import bank_generate
from customers.generation.draws import _segment_build
from customers.generation.inputs import _Bank, _pools_build
from customers.models import (
    TRANSACTION_CHANNELS,
    Account,
    AccountHolder,
    Customer,
    RMAssignment,
    SourceRecord,
    Transaction,
)
from customers.naming import customer_name_keys
from customers.validation import phone_clean

PASSWORD = "test-demo-password"


def _generate(**overrides) -> dict:
    arguments = {"customers": 300, "transactions_per_customer": 5, "seed": 11, "branches": 4,
                 "password": PASSWORD, "log": lambda _: None, "as_of": date(2026, 6, 30)}
    return bank_generate(**{**arguments, **overrides})


@pytest.mark.django_db
def test_bank_generate_writes_valid_unique_national_ids_and_name_keys():
    figures = _generate()

    customers = list(Customer.objects.filter(cif__startswith="S011"))
    assert figures["customers"] == len(customers) == 300
    assert [c.cif for c in sorted(customers, key=lambda c: c.cif)][:2] == ["S01100000000", "S01100000001"]
    assert len({(c.national_id_type, c.national_id) for c in customers}) == 300
    for customer in customers:
        assert (customer.name_key, customer.name_key_reversed) == customer_name_keys(
            kind=customer.kind, first_name=customer.first_name, last_name=customer.last_name,
            legal_name=customer.legal_name,
        )
        assert customer.name_key
        assert customer.created_at is not None and customer.updated_at >= customer.created_at
        if customer.kind == Customer.Kind.CORPORATE:
            assert customer.national_id_type == Customer.IdType.COMPANY_REG
            assert uscc.is_valid(customer.national_id) and customer.legal_name
        else:
            assert customer.national_id_type == Customer.IdType.CN_RIC
            assert ric.is_valid(customer.national_id), customer.national_id
            assert ric.get_birth_date(customer.national_id) == customer.birth_date
            assert customer.gender == ("M" if int(customer.national_id[16]) % 2 else "F")
            assert customer.phone.startswith("+861") and len(customer.phone) == 14 or customer.phone == ""
    # Every generated number is one the staff forms and the import would accept.
    phones = [c.phone for c in customers if c.phone]
    assert phones and all(phone_clean(phone) == phone for phone in phones)


@pytest.mark.django_db
def test_bank_generate_gives_every_customer_an_rm_of_the_home_branch_and_holdings():
    _generate()

    customers = Customer.objects.filter(cif__startswith="S011").select_related("primary_rm__staff_profile")
    for customer in customers:
        assert customer.primary_rm.staff_profile.role == StaffProfile.Role.RM
        assert customer.primary_rm.staff_profile.branch_id == customer.home_branch_id
    assert RMAssignment.objects.filter(
        customer__in=customers, reason=RMAssignment.Reason.ONBOARDING, ended_at__isnull=True
    ).count() == 300
    assert set(SourceRecord.objects.filter(system="synthetic", customer__in=customers)
               .values_list("external_id", flat=True)) == {c.cif for c in customers}
    owners = customers.annotate(owned=Count("holdings", filter=Q(holdings__role=AccountHolder.Role.OWNER)))
    # Prospects are leads, not yet customers: they hold nothing. Everyone else owns a current account.
    assert all(c.owned >= 1 for c in owners if c.lifecycle_stage != Customer.Lifecycle.PROSPECT)
    assert all(c.owned == 0 for c in owners if c.lifecycle_stage == Customer.Lifecycle.PROSPECT)
    assert AccountHolder.objects.filter(customer__in=customers, role=AccountHolder.Role.AUTHORISED).exists()
    assert not customers.filter(marketing_consent=True, do_not_contact=True).exists()
    assert not customers.filter(marketing_consent=True, marketing_consent_at__isnull=True).exists()
    assert Account.objects.filter(holdings__customer__in=customers).exclude(currency="CNY").count() == 0
    assert not customers.filter(last_contact_at__isnull=False, last_contact_channel="").exists()
    assert not customers.filter(last_contact_at__isnull=True).exclude(last_contact_channel="").exists()


@pytest.mark.django_db
def test_bank_generate_skews_deposits_and_transactions():
    figures = _generate()

    assert figures["top20_deposit_share"] >= 0.6
    transactions = Transaction.objects.filter(account__holdings__customer__cif__startswith="S011",
                                              account__holdings__role=AccountHolder.Role.OWNER)
    assert abs(transactions.count() / 300 - 5) < 2
    assert not transactions.filter(amount__lt=0).exists()
    assert set(transactions.values_list("channel", flat=True)) == {c.value for c in TRANSACTION_CHANNELS}
    kinds = dict(transactions.values_list("kind", "direction").distinct())
    assert kinds["cash_in"] == kinds["xfer_in"] == kinds["interest"] == Transaction.Direction.CREDIT
    assert kinds["card_pay"] == kinds["xfer_out"] == kinds["fee"] == Transaction.Direction.DEBIT
    assert not transactions.filter(booked_at__date__gt=F("account__closed_on")).exists()
    per_account = transactions.values("account").annotate(n=Count("id")).order_by("-n")
    assert per_account[0]["n"] >= 5 * np.median([row["n"] for row in per_account])


@pytest.mark.django_db
def test_bank_generate_rerun_with_the_same_seed_writes_nothing():
    _generate()
    before = (Customer.objects.count(), Account.objects.count(), Transaction.objects.count())

    figures = _generate()

    assert figures["customers"] == 0 and figures["already_present"] == 300
    assert (Customer.objects.count(), Account.objects.count(), Transaction.objects.count()) == before
    # Each generated customer starts its field history, so its first edit shows as a change.
    assert Customer.history.filter(history_type="+").count() == 300


@pytest.mark.django_db
def test_bank_generate_extends_to_more_customers_without_touching_the_first():
    _generate(customers=120)
    first = dict(Customer.objects.values_list("cif", "national_id"))

    figures = _generate(customers=200)

    assert figures["customers"] == 80 and figures["already_present"] == 120
    assert dict(Customer.objects.filter(cif__in=first).values_list("cif", "national_id")) == first
    assert Customer.objects.filter(cif__startswith="S011").count() == 200


@pytest.mark.django_db
def test_bank_generate_without_password_creates_no_staff_and_no_rm():
    _generate(customers=50, seed=12, password=None)

    assert not StaffProfile.objects.exists()
    assert not Customer.objects.filter(primary_rm__isnull=False).exists()
    assert not RMAssignment.objects.exists()


def test_segment_build_is_the_same_for_the_same_seed_and_differs_for_another():
    pools = _pools_build(seed=5)
    bank = _Bank(seed=5, as_of_day=20_000, transactions_per_customer=5, branch_ids=np.arange(1, 5),
                 rm_ids=None, product_ids=np.arange(1, 9), interactions_per_customer=4)
    first = _segment_build(bank=bank, pools=pools, start=0, stop=200)
    again = _segment_build(bank=bank, pools=pools, start=0, stop=200)
    other_pools = _pools_build(seed=6)
    other = _segment_build(bank=_Bank(**{**bank.__dict__, "seed": 6}), pools=other_pools, start=0, stop=200)

    for table in ("customers", "accounts", "transactions", "interactions"):
        for column, values in getattr(first, table).items():
            assert np.array_equal(np.asarray(values), np.asarray(getattr(again, table)[column])), (table, column)
    assert first.customers["national_id"].tolist() != other.customers["national_id"].tolist()


@pytest.mark.parametrize(("argument", "value"), [
    ("seed", 1000), ("seed", -1), ("customers", 0), ("customers", 10_000_001), ("transactions_per_customer", -1),
    ("transactions_per_customer", 10**9), ("branches", 0), ("branches", 3000), ("customers", 2.5),
    ("interactions_per_customer", -1), ("interactions_per_customer", 201),
])
def test_bank_generate_refuses_arguments_outside_their_limits(argument: str, value: object):
    arguments = {"customers": 10, "transactions_per_customer": 1, "seed": 1, "branches": 2, argument: value}
    with pytest.raises(ValueError, match=f"^{argument} must be a whole number from"):
        bank_generate(**arguments)


@pytest.mark.django_db
def test_bank_generate_without_a_contacts_writer_claims_no_last_contact():
    _generate(customers=100)

    assert not Customer.objects.filter(last_contact_at__isnull=False).exists()
    assert not Customer.objects.exclude(last_contact_channel="").exists()


@pytest.mark.django_db
def test_bank_generate_hands_each_drawn_last_contact_to_the_contacts_writer():
    received = []

    def writer(cursor, contacts) -> dict[str, int]:
        received.append(contacts)
        return {"last_contacts": len(contacts.customer_ids)}

    figures = _generate(customers=100, contacts_writer=writer)

    contacted = dict(Customer.objects.filter(last_contact_at__isnull=False).values_list("pk", "last_contact_channel"))
    assert figures["last_contacts"] == len(contacted) > 20
    handed = {int(pk): channel for contacts in received
              for pk, channel in zip(contacts.customer_ids, contacts.channels, strict=True)}
    assert handed == contacted


def test_money_text_keeps_the_sign_of_negative_cents():
    from customers.generation.constants import _NULL
    from customers.generation.writer import _text

    values = np.array([-150, -5, -100, -123456, 0, 7, 150, _NULL])
    assert _text("amount", values).tolist() == ["-1.50", "-0.05", "-1.00", "-1234.56", "0.00", "0.07", "1.50", "\\N"]


def test_interactions_draw_precede_the_last_contact_with_a_realistic_mix():
    from customers.generation.constants import _DAY, _NULL

    bank = _Bank(seed=3, as_of_day=20_000, transactions_per_customer=1, branch_ids=np.arange(1, 5),
                 rm_ids=np.arange(100, 108).reshape(4, 2), product_ids=np.arange(1, 9), interactions_per_customer=6)
    segment = _segment_build(bank=bank, pools=_pools_build(seed=3), start=0, stop=3_000)
    c, i = segment.customers, segment.interactions
    owner = i["_customer"]
    last = c["last_contact_at"]
    assert len(owner) > 3_000 and (last[owner] != _NULL).all()  # only contacted customers have contacts
    assert (i["occurred_at"] < last[owner]).all()  # the last contact stays the newest
    # Nothing happens after the as-of day began: a bank generated in the morning has no contact later
    # that day (in the future) on its timelines.
    assert (last[last != _NULL] < bank.as_of_day * _DAY).all()
    assert (np.asarray(c["created_at"]) < bank.as_of_day * _DAY).all()
    assert (i["occurred_at"] >= (bank.as_of_day - 6 * 365) * _DAY - 8 * 3600).all()
    assert (i["branch_id"] == c["home_branch_id"][owner]).all()
    staffed = i["staff_id"] != _NULL
    assert (i["staff_id"][staffed] == c["primary_rm_id"][owner][staffed]).all()
    assert set(i["channel"][staffed].tolist()) <= {"branch", "call_centre"}
    assert "prospect" not in set(c["lifecycle_stage"][owner].tolist())
    assert not set(i["kind"].tolist()) & {"complaint", "feedback"}  # those open cases: not invented
    assert set(i["channel"].tolist()) >= {"atm", "mobile", "web", "branch", "call_centre", "sms"}
    # Older customers come to the counter more, younger ones use the app more.
    age = np.asarray(segment.customers["birth_date"])  # day numbers; NULL for companies
    person = age[owner] != _NULL
    young = person & (age[owner] > bank.as_of_day - 35 * 365)
    old = person & (age[owner] < bank.as_of_day - 65 * 365)
    share = lambda mask, channel: (i["channel"][mask] == channel).mean()  # noqa: E731
    assert share(old, "branch") > 2 * share(young, "branch")
    assert share(young, "mobile") > 2 * share(old, "mobile")
    # Loyal customers have more contacts per head than the rest.
    per_customer = np.bincount(owner, minlength=len(last))
    contacted = last != _NULL
    loyal = contacted & (c["lifecycle_stage"] == "loyal")
    assert per_customer[loyal].mean() > per_customer[contacted & ~loyal].mean()


def test_interactions_per_customer_zero_draws_none():
    bank = _Bank(seed=3, as_of_day=20_000, transactions_per_customer=1, branch_ids=np.arange(1, 5),
                 rm_ids=None, product_ids=np.arange(1, 9), interactions_per_customer=0)
    segment = _segment_build(bank=bank, pools=_pools_build(seed=3), start=0, stop=500)
    assert len(segment.interactions["_customer"]) == 0
