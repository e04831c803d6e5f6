"""One set of ID and phone rules for the staff forms and the import: phones must be valid numbers,
not only E.164-shaped, and the column-at-a-time check gives phonenumbers' own answers."""

from __future__ import annotations

import random

import pandas as pd
import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from stdnum.cz import dic

from customers.validation import (
    e164_valid,
    national_as_e164,
    national_id_clean,
    national_id_problem,
    phone_clean,
    phone_compact,
    phone_e164,
)


def test_column_check_never_accepts_what_phonenumbers_refuses_and_the_import_agrees_with_it():
    rng = random.Random(7)
    codes = ["1", "7", "33", "44", "49", "86", "420", "421", "852", "800", "886", "971"]
    numbers = [f"+{rng.choice(codes)}{rng.randint(10**5, 10**12)}" for _ in range(4000)]
    numbers += [phonenumbers.format_number(phonenumbers.example_number(region), phonenumbers.PhoneNumberFormat.E164)
                for region in ("CZ", "CN", "US", "GB", "DE", "HK", "FR", "SK")]
    expected = [phonenumbers.is_valid_number(phonenumbers.parse(number, None)) for number in numbers]
    fast = e164_valid(pd.Series(numbers)).tolist()
    assert not [n for n, ok, quick in zip(numbers, expected, fast, strict=True) if quick and not ok]
    assert sum(fast) >= 0.99 * sum(expected) > 250  # the patterns decide nearly all valid numbers alone
    from tests.customers.test_import_validation import _check

    frame = _check(*({"source_key": str(n), "family_name": "Novak", "phone": number, "branch_code": "A01"}
                     for n, number in enumerate(numbers)))
    assert frame["valid"].tolist() == expected


def test_national_numbers_read_a_column_at_a_time_are_what_phonenumbers_reads():
    """The import's shortcut for national numbers (the region's calling code added) never differs
    from phonenumbers parsing the number in the line's region."""
    rng = random.Random(11)
    regions = ["CZ", "ES", "IT", "PL", "NO", "SG", "HK", "MX", "CN", "DE", "US", ""]
    numbers, lines = [], []
    for _ in range(3000):
        region = rng.choice(regions)
        code = str(phonenumbers.country_code_for_region(region)) if region else "1"
        head = rng.choice(["", "", "", "0", "00", code, "1", "6", "9"])
        numbers.append(head + str(rng.randint(10**4, 10**11)))
        lines.append(region)
    for region in ("CZ", "ES", "IT", "PL", "SG", "HK"):
        example = str(phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE).national_number)
        for _ in range(40):  # the example mobile number with other last digits: mostly valid
            numbers.append(example[:-3] + f"{rng.randint(0, 999):03d}")
            lines.append(region)
    from tests.customers.test_import_validation import _check

    frame = _check(*({"source_key": str(n), "family_name": "Novak", "phone": number, "country": region,
                      "branch_code": "A01"} for n, (number, region) in enumerate(zip(numbers, lines, strict=True))))
    # The import's rule: a number that is valid E.164 once compacted (00 read as +) stands, any
    # other is parsed as given in the line's region.
    compact = [phone_compact(number) for number in numbers]
    in_e164 = e164_valid(pd.Series(compact)).tolist()
    expected = [e164 if ready else phone_e164(number, region)
                for number, e164, ready, region in zip(numbers, compact, in_e164, lines, strict=True)]
    assert [phone if ok else None for phone, ok in zip(frame["phone"], frame["valid"], strict=True)] == expected
    shortcut = national_as_e164(pd.Series(numbers), pd.Series(lines))
    taken = e164_valid(shortcut.fillna("")).tolist()
    assert sum(taken) > 100  # the shortcut decides many of them


def test_column_check_refuses_what_is_not_e164_shaped():
    assert e164_valid(pd.Series(["", "+0123456789", "420601123456", "+42060112345678901"])).tolist() == [False] * 4


@pytest.mark.parametrize(("raw", "region", "stored"), [
    ("+420 601 123 456", "", "+420601123456"), ("00420601123456", "", "+420601123456"),
    ("601 123 456", "CZ", "+420601123456"), ("138 0013 8000", "CN", "+8613800138000"),
])
def test_staff_phone_is_stored_in_e164(raw, region, stored):
    assert phone_clean(raw, region=region) == stored


@pytest.mark.parametrize("raw", ["+1000000000", "+420 123 456 789", "601 123 456", "call me"])
def test_staff_phone_must_be_a_valid_number(raw):
    with pytest.raises(ValidationError) as refused:
        phone_clean(raw)
    assert "phone" in refused.value.message_dict


def test_company_registration_is_checked_by_the_issuing_country():
    good_cz = "CZ25123891"
    assert dic.is_valid(good_cz)
    assert national_id_clean(id_type="COMPANY_REG", value="CZ 251 23 891", country="CZ") == good_cz
    with pytest.raises(ValidationError):
        national_id_clean(id_type="COMPANY_REG", value="CZ25123890", country="CZ")
    # Another country's registration: only the generic shape.
    assert national_id_problem(id_type="COMPANY_REG", country="DE", compact="HRB12345") is None
    assert national_id_problem(id_type="PASSPORT", country="", compact="AB1") == "use 5 to 32 letters or digits"


@pytest.mark.django_db
def test_an_import_line_with_an_e164_shaped_but_impossible_phone_is_rejected():
    from tests.customers.test_import_validation import _check, _errors

    frame = _check({"source_key": "a", "family_name": "Novak", "phone": "+420123456789", "branch_code": "A01"},
                   {"source_key": "b", "family_name": "Novak", "phone": "+420601123456", "branch_code": "A01"})
    assert frame["valid"].tolist() == [False, True]
    assert _errors(frame.iloc[:1])[0][0][0] == "phone"
