"""National IDs and phone numbers, checked with the libraries banks already trust — one set of rules
for the staff forms and the customer import (which applies them a column at a time).

- A national ID is checked by its type and the country that issued it (`national_id_rule`):
  python-stdnum for Chinese resident IDs, Czech birth numbers, and company registrations of China
  (unified social credit code) and the Czech Republic (DIČ); any other ID (passports, other
  countries' companies) must be 5 to 32 letters or digits.
- A phone number is stored in E.164 and must be a valid number by phonenumbers' metadata, not only
  look like one (`+1000000000` is refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

import pandas as pd
import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc
from stdnum.cz import dic, rc

from crm_bank.bulk import TEXT
from customers.models import Customer

SEPARATORS = re.compile(r"[\s\-/.]")
PHONE_SEPARATORS = re.compile(r"[\s\-/.()]")
GENERIC_ID = re.compile(r"^[A-Z0-9]{5,32}$")
E164_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")

IdCheck = Callable[[str], object]


def national_id_rule(*, id_type: str, country: str) -> IdCheck | None:
    """The python-stdnum check for an ID of `id_type` issued in `country` (ISO alpha-2, may be
    empty), or None when only the generic shape applies (GENERIC_ID)."""
    if id_type == Customer.IdType.CN_RIC:
        return ric.validate
    if id_type == Customer.IdType.CZ_RC:
        return rc.validate
    if id_type == Customer.IdType.COMPANY_REG:
        return {"CN": uscc.validate, "CZ": dic.validate}.get(country.upper())
    return None


_STDNUM_REASONS: dict[type, Callable[[], str]] = {
    stdnum_errors.InvalidLength: lambda: _("wrong length"),
    stdnum_errors.InvalidFormat: lambda: _("wrong format"),
    stdnum_errors.InvalidChecksum: lambda: _("the check digit does not match"),
    stdnum_errors.InvalidComponent: lambda: _("a part of it (birth date or region) is not valid"),
}


def national_id_problem(*, id_type: str, country: str, compact: str) -> str | None:
    """Why `compact` (separators dropped, upper case) is not a valid ID of its type, in the reader's
    language, or None."""
    check = national_id_rule(id_type=id_type, country=country)
    if check is None:
        return None if GENERIC_ID.match(compact) else _("use 5 to 32 letters or digits")
    try:
        check(compact)
    except stdnum_errors.ValidationError as error:
        return next((reason() for kind, reason in _STDNUM_REASONS.items() if isinstance(error, kind)), _("not valid"))
    return None


def national_id_compact(value: str) -> str:
    return SEPARATORS.sub("", value or "").upper()


def national_id_clean(*, id_type: str, value: str, country: str = "") -> str:
    """The ID in its stored form (no separators, upper case), or ValidationError saying why."""
    compact = national_id_compact(value)
    if not compact:
        return ""
    if not id_type:
        raise ValidationError({"national_id_type": _("Choose the type of the ID document.")})
    if id_type not in Customer.IdType.values:
        raise ValidationError({"national_id_type": _("Unknown ID type.")})
    problem = national_id_problem(id_type=id_type, country=country, compact=compact)
    if problem:
        raise ValidationError(
            {"national_id": _("%(value)s is not a valid %(type)s: %(reason)s")
             % {"value": value, "type": Customer.IdType(id_type).label, "reason": problem}}
        )
    return compact


@lru_cache(maxsize=200_000)
def phone_e164(value: str, region: str = "") -> str | None:
    """A number as E.164 through phonenumbers (a national number is read in `region`), or None when
    it is not a valid number."""
    try:
        number = phonenumbers.parse(value, region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_compact(value: str) -> str:
    compact = PHONE_SEPARATORS.sub("", value or "")
    return "+" + compact[2:] if compact.startswith("00") else compact


def phone_clean(value: str, region: str = "") -> str:
    """E.164: `+420 601 123 456` → `+420601123456`. Without a country code the number is read in
    `region`; with neither, or not a valid number, ValidationError."""
    compact = phone_compact(value)
    if not compact:
        return ""
    e164 = phone_e164(compact, region)
    if e164 is None:
        raise ValidationError({"phone": _("Not a valid phone number: give it with its country code, "
                                          "e.g. +420 601 123 456.")})
    return e164


_NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
                 "pager", "uan", "voicemail")


@cache
def _national_number_checks(calling_code: int) -> tuple[tuple[str, str], ...]:
    """The valid national numbers of a calling code, from phonenumbers' metadata, as is_valid_number
    reads it: per region of the code, (its general pattern, its number types' patterns as one
    alternation); a number is valid when both match it whole, for one of the regions."""
    checks = []
    for region in COUNTRY_CODE_TO_REGION_CODE.get(calling_code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
        if metadata is None or metadata.general_desc is None or not metadata.general_desc.national_number_pattern:
            continue
        kinds = [desc.national_number_pattern for desc in (getattr(metadata, name) for name in _NUMBER_TYPES)
                 if desc is not None and desc.national_number_pattern]
        if kinds:
            checks.append((metadata.general_desc.national_number_pattern, "|".join(f"(?:{kind})" for kind in kinds)))
    return tuple(checks)


_CALLING_CODES = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)


def e164_valid(numbers: pd.Series) -> pd.Series:
    """Whether each number is valid and already in canonical E.164, a column at a time (the
    patterns of phonenumbers' metadata per calling code, matched in Arrow, instead of parsing each
    number). True only where is_valid_number agrees; a False may still be a number phonenumbers can
    read (a national prefix after the country code), so callers parse those with phone_e164."""
    numbers = numbers.astype(TEXT)
    digits = numbers.str[1:]
    valid = pd.Series(False, index=numbers.index)
    undecided = numbers.str.match(E164_SHAPE.pattern).fillna(False).astype(bool)
    for length in (1, 2, 3):  # calling codes are prefix-free: at most one length names a code
        codes = digits.str[:length]
        known = undecided & codes.isin(_CALLING_CODES)
        for code in codes[known].unique().tolist():
            rows = known & (codes == code)
            national = digits[rows].str[length:]
            for general, kinds in _national_number_checks(int(code)):
                valid[rows] |= (national.str.fullmatch(general) & national.str.fullmatch(kinds)).astype(bool)
        undecided &= ~known
    return valid.astype(bool)


@cache
def _plain_national_numbers(region: str) -> tuple[str, re.Pattern] | None:
    """(calling code, international prefix) of a region whose national numbers phonenumbers reads
    as they are, with no national prefix to strip (CZ, ES, IT, PL, …); None for other regions."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix or metadata.national_prefix_for_parsing:
        return None
    return str(metadata.country_code), re.compile(metadata.international_prefix or "(?!)")


def national_as_e164(numbers: pd.Series, regions: pd.Series) -> pd.Series:
    """A national number in E.164 ("+<code><number>") where phonenumbers would read it that way in
    the line's region: digits only, not starting with 0, the region's calling code or its
    international prefix, in a region without a national prefix; None elsewhere. Where the result
    passes e164_valid it is what phone_e164(number, region) returns (a property test checks it)."""
    result = pd.Series(None, index=numbers.index, dtype=object)
    digits_only = numbers.str.fullmatch(r"[1-9][0-9]{1,16}").fillna(False).astype(bool)
    for region in regions[digits_only].str.upper().unique():
        plain = _plain_national_numbers(region)
        if plain is None:
            continue
        code, international = plain
        rows = digits_only & (regions.str.upper() == region) & ~numbers.str.startswith(code).fillna(True)
        rows &= ~numbers.str.match(international.pattern).fillna(True).astype(bool)
        result[rows] = "+" + code + numbers[rows]
    return result
