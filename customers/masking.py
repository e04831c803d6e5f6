"""How sensitive values read when the viewer may not see them in full.

`MASKING_RULES` is the one map from a field to how a masked viewer sees it. `CustomerAccess`, the
field-history panel, the holdings and every later page ask it, so a field is masked the same way
wherever it appears. A field that is not in the map is shown to every member of staff.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

MASK = "*"
HIDDEN = MASK * 4


def mask_middle(value: str, *, keep_start: int = 3, keep_end: int = 4) -> str:
    """`330102199001011234` → `330***********1234`; short values keep less so some is hidden."""
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        keep_start, keep_end = min(1, len(value) - 1), min(2, max(len(value) - 2, 0))
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + MASK * hidden + (value[-keep_end:] if keep_end else "")


def mask_national_id(value: str) -> str:
    """`330102199001011234` → `330***********1234` (the UI guide's form) for long IDs; a short one
    (a Czech birth number is birth date + 4 digits) keeps only its last two characters."""
    if len(value) >= 15:
        return mask_middle(value)
    return mask_middle(value, keep_start=0, keep_end=2)


def mask_phone(value: str) -> str:
    """`+420601123456` → `+420*******56`: the country stays, the subscriber number does not."""
    return mask_middle(value, keep_start=4, keep_end=2)


def mask_email(value: str) -> str:
    """`jan.novak@example.cz` → `j*******@example.cz`."""
    if "@" not in value:
        return mask_middle(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}{MASK * max(len(local) - 1, 1)}@{domain}"


def mask_address(value: str) -> str:
    """Keeps nothing of the street line but that there is one."""
    return MASK * 8 if value else ""


def mask_account_number(value: str) -> str:
    """`CZ6508000000192000145399` → `****5399`: enough to tell a customer's accounts apart."""
    if not value:
        return ""
    return HIDDEN + value[-4:] if len(value) > 6 else mask_middle(value, keep_start=0, keep_end=2)


def year_only(value: object) -> str:
    """A date as its year: with an ID's last digits and the gender, a full birth date would give a
    Czech birth number away, and an account's opening date identifies the account."""
    if isinstance(value, datetime.date):
        return str(value.year)
    return str(value)[:4] if value else ""


def hidden(value: object) -> str:
    return HIDDEN if value not in (None, "") else ""


MASKING_RULES: dict[str, Callable[[object], str]] = {
    # The customer record.
    "national_id": mask_national_id,
    "phone": mask_phone,
    "email": mask_email,
    "address_line": mask_address,
    "postal_code": hidden,
    "birth_date": year_only,
    # For a loaded customer this is the first account's opening date (see opened_on).
    "customer_since": year_only,
    # When an RM took the customer on: the first one starts on the first account's opening date.
    "rm_period": year_only,
    # A source system's key for the customer can be a card or account number.
    "source_key": mask_account_number,
    # Holdings: which accounts, and money.
    "account_number": mask_account_number,
    "linked_account_number": mask_account_number,
    "opened_on": year_only,
    "balance": hidden,
    "principal": hidden,
    "instalment": hidden,
    "repayment_status": hidden,
    "transactions": hidden,
    # The 80/20 value score is built from balances and loans: its amount and drivers are money.
    "customer_value": hidden,
    # Contacts on the timeline: when, where and what kind stay visible bank-wide (nobody treats the
    # customer as new); what was said is free text that can carry amounts, IDs or health matters.
    "interaction_summary": hidden,
    "interaction_outcome": hidden,
    "complaint_description": hidden,
}

def masked_value(field: str, value: object) -> object:
    """`value` of `field` as a masked viewer sees it (unchanged for a field the map does not name)."""
    rule = MASKING_RULES.get(field)
    if rule is None:
        return value
    return "" if value in (None, "") else rule(value)


def is_masked_field(field: str) -> bool:
    """Whether masked viewers see `field` masked; such a value is never copied into an audit detail."""
    return field in MASKING_RULES
