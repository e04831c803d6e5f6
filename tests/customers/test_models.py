from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from customers.models import Customer
from customers.naming import customer_name_keys, name_key
from tests.customers.factories import CustomerFactory


def test_name_key_transliterates_chinese_and_czech():
    assert name_key("李伟") == "li wei"
    assert name_key("Jiří  Dvořák") == "jiri dvorak"


def test_customer_name_keys_for_company_use_legal_name():
    assert customer_name_keys(kind="corporate", first_name="", last_name="", legal_name="ACME s.r.o.") == (
        "acme s r o", "acme s r o")


@pytest.mark.django_db
def test_national_id_is_stored_once(branch_a):
    CustomerFactory(national_id_type="CZ_RC", national_id="7103192745", home_branch=branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(national_id_type="CZ_RC", national_id="7103192745", home_branch=branch_a)
    CustomerFactory(national_id="", home_branch=branch_a)
    CustomerFactory(national_id="", home_branch=branch_a)  # many records may lack an ID


@pytest.mark.django_db
def test_database_refuses_consent_together_with_do_not_contact(branch_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(marketing_consent=True, do_not_contact=True, home_branch=branch_a)


def test_completeness_counts_weighted_fields():
    empty = Customer(first_name="A")
    assert empty.completeness_percent == 0
    full = Customer(national_id="x", birth_date="2000-01-01", gender="F", phone="+1", email="a@b.c",
                    address_line="x", city="x", occupation="x", preferred_channel="web", preferred_language="en",
                    marketing_consent_at="2020-01-01T00:00Z", kyc_review_due="2030-01-01")
    assert full.completeness_percent == 100 and full.missing_fields == []
    assert "phone" in [str(f) for f in Customer(national_id="x").missing_fields]
