"""National IDs and phone numbers, checked with the libraries banks already trust."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.cn import ric
from stdnum.cz import rc
from stdnum.exceptions import ValidationError as StdnumError

from customers.models import Customer

_SEPARATORS = re.compile(r"[\s\-/.]")
_GENERIC_ID = re.compile(r"^[A-Z0-9]{5,32}$")


def national_id_clean(*, id_type: str, value: str) -> str:
    """The ID in its stored form (no separators, upper case), or ValidationError saying why."""
    compact = _SEPARATORS.sub("", value or "").upper()
    if not compact:
        return ""
    if not id_type:
        raise ValidationError({"national_id_type": _("Choose the type of the ID document.")})
    validators = {Customer.IdType.CN_RIC: ric.validate, Customer.IdType.CZ_RC: rc.validate}
    try:
        if id_type in validators:
            validators[id_type](compact)
        elif not _GENERIC_ID.match(compact):
            raise StdnumError("5 to 32 letters or digits")
    except StdnumError as error:
        raise ValidationError(
            {"national_id": _("%(value)s is not a valid %(type)s: %(reason)s")
             % {"value": value, "type": Customer.IdType(id_type).label, "reason": error}}
        ) from error
    return compact


def phone_clean(value: str) -> str:
    """E.164: `+420 601 123 456` → `+420601123456`. A number without a country code is refused."""
    compact = _SEPARATORS.sub("", value or "").replace("(", "").replace(")", "")
    if not compact:
        return ""
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not re.fullmatch(r"\+[1-9]\d{6,14}", compact):
        raise ValidationError({"phone": _("Enter the phone number with its country code, e.g. +420 601 123 456.")})
    return compact
