"""The one documented column schema of a customer import file (README, upload page, validation)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ImportColumn:
    name: str
    description: Promise
    required: bool = False


COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("source_key", _("The record's key in the source system; a later file updates by it."), True),
    ImportColumn("kind", _("individual or corporate (empty: individual)")),
    ImportColumn("given_name", _("Given name, in Chinese characters or Latin script")),
    ImportColumn("family_name", _("Family name; an individual needs a given or a family name")),
    ImportColumn("legal_name", _("A company's registered name (required for corporate)")),
    ImportColumn("national_id", _("National ID; the checksum is checked")),
    ImportColumn("national_id_type", _("CN_RIC, CZ_RC, PASSPORT or COMPANY_REG (needed with a national ID)")),
    ImportColumn("birth_date", _("ISO date, e.g. 1984-03-21")),
    ImportColumn("gender", _("F, M or empty")),
    ImportColumn("phone", _("With its country code, e.g. +86 138 0013 8000; stored as E.164")),
    ImportColumn("email", _("E-mail address")),
    ImportColumn("address_line1", _("Street and number")),
    ImportColumn("address_line2", _("Second address line (joined to the first)")),
    ImportColumn("city", _("City")),
    ImportColumn("postcode", _("Postcode")),
    ImportColumn("country", _("Two-letter country code, e.g. CN or CZ")),
    ImportColumn("branch_code", _("Home branch code (empty: the source's default branch)")),
    ImportColumn("rm_username", _("The relationship manager's user name")),
    ImportColumn("marketing_consent", _("yes / no (also true/false, 1/0, 是/否)")),
    ImportColumn("do_not_contact", _("yes / no (also true/false, 1/0, 是/否)")),
)

COLUMN_NAMES = tuple(column.name for column in COLUMNS)
REQUIRED_COLUMNS = tuple(column.name for column in COLUMNS if column.required)
