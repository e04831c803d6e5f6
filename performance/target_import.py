"""KPI targets from a CSV file: one target per line, each checked and set like one typed on the
targets page (performance.services.target_set: permissions, the four eyes on branch targets, the
audit), the bad lines reported with their line number, column and reason.

Columns (a header line first): kpi (the KPI's code), period (2026-11 or 2026-Q4), rm (an RM's
username) or branch (a branch code) — one of the two — and value. The good lines are set in one
transaction; a bad line holds none of them back.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm_bank.org.models import Branch
from performance.models import Kpi
from performance.services import target_set

COLUMNS = ("kpi", "period", "rm", "branch", "value")
MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class LineError:
    line: int
    column: str
    reason: str


@dataclass
class TargetImport:
    set: int = 0
    proposed: int = 0
    errors: list[LineError] = field(default_factory=list)


class TargetFileInvalid(ValueError):
    """The file as a whole cannot be read (not text, no header, missing columns, too large)."""


def _rows(content: bytes) -> list[dict[str, str]]:
    if len(content) > MAX_BYTES:
        raise TargetFileInvalid(_("The file is larger than 2 MB."))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TargetFileInvalid(_("The file is not UTF-8 text.")) from None
    if "\x00" in text:  # PostgreSQL takes no NUL in text: a server error at the first look-up
        raise TargetFileInvalid(_("The file is not a CSV text file (it holds NUL characters)."))
    try:
        return _csv_rows(text)
    except csv.Error as error:  # an unclosed quote running past the field limit, and the like
        raise TargetFileInvalid(_("The file cannot be read as CSV (%(error)s).") % {"error": error}) from None


def _csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in ("kpi", "period", "value") if name not in header]
    if missing or not {"rm", "branch"} & set(header):
        raise TargetFileInvalid(_("The header must name the columns kpi, period, rm or branch, and value."))
    reader.fieldnames = header
    return [{key: (value or "").strip() for key, value in row.items() if key} for row in reader]


def targets_import(*, content: bytes, actor: AbstractBaseUser, ip_address: str | None = None) -> TargetImport:
    """Sets the file's targets; TargetFileInvalid when the file itself cannot be read."""
    rows = _rows(content)
    kpis = {kpi.code: kpi for kpi in Kpi.objects.filter(active=True)}
    users = {user.get_username(): user for user in get_user_model().objects.filter(
        username__in={row.get("rm", "") for row in rows} - {""})}
    branches = {branch.code: branch for branch in Branch.objects.filter(
        code__in={row.get("branch", "") for row in rows} - {""})}
    result = TargetImport()
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            kpi = kpis.get(row.get("kpi", ""))
            if kpi is None:
                result.errors.append(LineError(number, "kpi", _("Unknown or inactive KPI “%(code)s”.")
                                               % {"code": row.get("kpi", "")}))
                continue
            rm_name, branch_code = row.get("rm", ""), row.get("branch", "")
            if bool(rm_name) == bool(branch_code):
                result.errors.append(LineError(number, "rm", _("Give an RM or a branch, not both or neither.")))
                continue
            if rm_name and rm_name not in users:
                result.errors.append(LineError(number, "rm", _("No user “%(name)s”.") % {"name": rm_name}))
                continue
            if branch_code and branch_code not in branches:
                result.errors.append(LineError(number, "branch", _("No branch “%(code)s”.") % {"code": branch_code}))
                continue
            # No savepoint of its own: target_set refuses before it writes, and writes in its own
            # transaction. A savepoint here also rolled back the audit row of a refused line.
            try:
                target = target_set(actor=actor, kpi=kpi, period=row.get("period", ""), value=row.get("value", ""),
                                    rm=users.get(rm_name), branch=branches.get(branch_code), ip_address=ip_address)
            except ValidationError as exc:
                for column, messages in (exc.message_dict.items() if hasattr(exc, "error_dict")
                                         else [("value", exc.messages)]):
                    result.errors.append(LineError(number, column if column in COLUMNS else "value",
                                                   " ".join(messages)))
                continue
            except PermissionDenied as exc:
                result.errors.append(LineError(number, "rm" if rm_name else "branch", str(exc)))
                continue
            if target.status == target.Status.PROPOSED:
                result.proposed += 1
            else:
                result.set += 1
    return result
