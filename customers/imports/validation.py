"""Checking a chunk of import records at once: each rule is a vectorised test over a column of the
chunk's DataFrame, never a loop of ORM calls; what needs a library (national IDs, phones) runs once
per distinct value. The result is the chunk as it is staged: the normalised values, the raw row as
received (JSON) and, for a rejected line, its errors as [{column, reason}].
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric
from stdnum.cz import rc

from crm_bank.bulk import TEXT
from crm_bank.org.models import Branch, StaffProfile
from customers.imports.reading import LINE, Record, chunk_frame
from customers.models import Customer
from customers.naming import name_key
from customers.validation import (
    PHONE_SEPARATORS,
    SEPARATORS,
    e164_valid,
    national_as_e164,
    national_id_problem,
    national_id_rule,
    phone_e164,
)

# The staged columns: normalised values ("" / None: not given, keep what the customer has).
TEXT_FIELDS = ("kind", "first_name", "last_name", "legal_name", "national_id_type", "national_id", "gender",
               "phone", "email", "address_line", "city", "postal_code", "country")
STAGE_COLUMNS = ("line", "source_key", "valid", "payload", "errors", *TEXT_FIELDS, "birth_date", "branch_id",
                 "branch_given", "rm_id", "marketing_consent", "do_not_contact", "name_key", "name_key_reversed")

_TRUE = frozenset({"yes", "y", "true", "t", "1", "ano", "是"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "ne", "否"})
_GENDERS = {"f": "F", "female": "F", "女": "F", "m": "M", "male": "M", "男": "M", "": ""}
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_LIMITS = {"source_key": 64, "first_name": 100, "last_name": 100, "legal_name": 200, "email": 254,
           "address_line": 200, "city": 100, "postal_code": 12}
# RIC weights of ISO 7064 mod 11-2 over the first 17 digits.
_JSON_CONTROL_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
_RIC_WEIGHTS = np.array([pow(2, 16 - i, 11) for i in range(17)], dtype=np.int64)


class Errors:
    """A chunk's errors as (row position, column, reason), turned into each line's list at the end."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series | np.ndarray, column: str, reason: str | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        reasons = reason[mask].to_numpy() if isinstance(reason, pd.Series) else np.full(len(positions), reason)
        self._parts.append(pd.DataFrame({"position": positions, "column": column, "reason": reasons}))

    def by_row(self, rows: int) -> list[str | None]:
        """Each line's errors as JSON, in the order the rules ran (None: no error). A plain loop over
        the errors, which are few: a groupby would cost more than the rule checks together."""
        result: list[str | None] = [None] * rows
        if not self._parts:
            return result
        by_position: dict[int, list[dict]] = {}
        for part in self._parts:
            for position, column, reason in zip(part["position"].tolist(), part["column"].tolist(),
                                                part["reason"].tolist(), strict=True):
                by_position.setdefault(position, []).append({"column": column, "reason": reason})
        for position, found in by_position.items():
            result[position] = json.dumps(found, ensure_ascii=False)
        return result


def chunk_validate(records: list[Record], *, columns: list[str], **options) -> pd.DataFrame:
    """frame_validate over a chunk of (line, cells) records."""
    raw, widths = chunk_frame(records, columns)
    return frame_validate(raw, widths, columns=columns, **options)


def frame_validate(
    raw: pd.DataFrame, widths: np.ndarray, *, columns: list[str], default_branch_id: int | None,
    branch_ids: Lookup, rm_ids: Lookup, branch_scope: frozenset[int] | None = None,
) -> pd.DataFrame:
    """1. The payload (the row as received, as JSON) from the chunk's raw cells (ImportFile.frames).
    2. Each rule over whole columns, its failures added to the chunk's errors.
    3. Branch codes and RM user names looked up once each for the chunk; with `branch_scope` (a
       supervisor's import) a line whose branch is not in it is rejected.
    Returns the staged chunk, STAGE_COLUMNS in order."""
    rows = len(raw)
    errors = Errors()
    payload = payload_json(raw, columns)
    errors.add(widths != len(columns), "", pd.Series(
        [_("The line has %(found)s values; the header has %(expected)s.") % {"found": found, "expected": len(columns)}
         for found in widths]) if (widths != len(columns)).any() else "")
    if any((column_bytes(raw[name]) == 0).any() for name in columns):
        # PostgreSQL text holds no NUL: such a line is rejected, and staged without them.
        has_nul = payload.str.contains("\\u0000", regex=False)
        errors.add(has_nul, "", _("The line contains a NUL character, which cannot be stored."))
        raw = raw.replace("\x00", "", regex=True)
        payload = payload.str.replace("\\u0000", "", regex=False)

    def column(name: str) -> pd.Series:
        return raw[name].str.strip() if name in raw else pd.Series([""] * rows, dtype=TEXT)

    out = pd.DataFrame({"line": raw[LINE], "source_key": column("source_key")})
    errors.add(out["source_key"] == "", "source_key", _("Required."))

    kind = column("kind").str.lower().replace("", Customer.Kind.INDIVIDUAL)
    errors.add(~kind.isin(Customer.Kind.values), "kind", _("Use individual or corporate."))
    out["kind"] = kind
    out["first_name"], out["last_name"], out["legal_name"] = (
        column("given_name"), column("family_name"), column("legal_name"))
    individual = kind == Customer.Kind.INDIVIDUAL
    errors.add(individual & (out["first_name"] == "") & (out["last_name"] == ""), "family_name",
               _("An individual needs a given name or a family name."))
    errors.add((kind == Customer.Kind.CORPORATE) & (out["legal_name"] == ""), "legal_name",
               _("A corporate customer needs its legal name."))

    _national_ids_check(out, column("national_id"), column("national_id_type"), column("country"), errors)
    out["birth_date"] = _birth_dates_check(column("birth_date"), errors)
    gender = column("gender").str.lower().map(_GENDERS)
    errors.add(gender.isna(), "gender", _("Use F, M or leave it empty."))
    out["gender"] = gender.fillna("")
    out["phone"] = _phones_check(column("phone"), column("country"), errors)
    email = column("email")
    errors.add((email != "") & ~email.str.match(_EMAIL), "email", _("Not a valid e-mail address."))
    out["email"] = email
    line2 = column("address_line2")
    out["address_line"] = column("address_line1").str.cat(line2.where(line2 == "", ", " + line2))
    out["city"], out["postal_code"] = column("city"), column("postcode")
    country = column("country").str.upper()
    errors.add((country != "") & ~country.str.match(r"^[A-Z]{2}$"), "country",
               _("Use the two-letter country code, e.g. CN or CZ."))
    out["country"] = country
    for name, limit in _LIMITS.items():
        errors.add(out[name].str.len() > limit, name, _("At most %(limit)s characters.") % {"limit": limit})

    out["branch_id"] = _branches_check(column("branch_code"), default_branch_id, errors, branch_ids)
    if branch_scope is not None:
        errors.add(out["branch_id"].notna() & ~out["branch_id"].isin(list(branch_scope)), "branch_code",
                   _("You may import customers of your own branch only."))
    out["branch_given"] = column("branch_code") != ""
    out["rm_id"] = _rms_check(column("rm_username"), errors, rm_ids)
    out["marketing_consent"] = _booleans_check(column("marketing_consent"), "marketing_consent", errors)
    out["do_not_contact"] = _booleans_check(column("do_not_contact"), "do_not_contact", errors)
    errors.add((out["marketing_consent"] == True) & (out["do_not_contact"] == True), "marketing_consent",  # noqa: E712
               _("A customer who asked not to be contacted cannot give marketing consent."))

    out["name_key"], out["name_key_reversed"] = _name_keys(out)
    out["payload"] = payload
    out["errors"] = errors.by_row(rows)
    out["valid"] = out["errors"].isna()
    return out[list(STAGE_COLUMNS)]


def column_bytes(cells: pd.Series | pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a text column's cells (Arrow's data buffer, no copy): a test on them finds
    a quote or a control character without a Python call per cell."""
    cells = pa.array(cells, type=pa.large_string())
    parts = [chunk.buffers()[2] for chunk in getattr(cells, "chunks", [cells])]
    found = [np.frombuffer(data, dtype=np.uint8) for data in parts if data is not None]
    return np.concatenate(found) if found else np.empty(0, dtype=np.uint8)


def payload_json(raw: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Each line as received, as a JSON object of its cells ({column: text}, in the header's order),
    built a column at a time in Arrow: each cell escaped as a JSON string and the pieces joined. A
    column pays for the escaping only when its bytes hold a quote, a backslash or a control
    character (UTF-8 never uses bytes below 0x80 inside a multi-byte letter, so a byte test is exact)."""
    text = pa.large_string()
    pieces: list = []
    for position, name in enumerate(columns):
        cells = pa.array(raw[name], type=text)
        found = column_bytes(cells)
        if ((found == 0x22) | (found == 0x5C)).any():
            cells = pc.replace_substring(pc.replace_substring(cells, "\\", "\\\\"), '"', '\\"')
        if (found < 0x20).any():
            for code in np.unique(found[found < 0x20]).tolist():
                cells = pc.replace_substring(cells, chr(code), _JSON_CONTROL_ESCAPES.get(code, f"\\u{code:04x}"))
        key = json.dumps(name, ensure_ascii=False)
        pieces += [pa.scalar(("{" if position == 0 else ",") + key + ':"', text), cells, pa.scalar('"', text)]
    joined = pc.binary_join_element_wise(*pieces, pa.scalar("}", text), pa.scalar("", text))
    return pd.Series(joined, index=raw.index, dtype=TEXT)


# Rules that need more than a string test

@lru_cache(maxsize=100_000)
def _ric_place_valid(prefix: str, year: int) -> bool:
    """stdnum's region check of a RIC (the region existed in the birth year), once per pair."""
    try:
        ric.get_birth_place(prefix + f"{year:04d}0101" + "0000")
    except stdnum_errors.ValidationError:
        return False
    return True


def ric_valid(ids: pd.Series) -> np.ndarray:
    """stdnum.cn.ric's checks (length, digits, ISO 7064 check digit, birth date, region) over a
    column at once: the arithmetic in numpy, the region look-up once per (region, year)."""
    text = ids.astype(TEXT).reset_index(drop=True)
    ok = text.str.fullmatch(r"[0-9]{17}[\x00-\x7f]").fillna(False).to_numpy(dtype=bool, copy=True)
    if not ok.any():
        return ok
    shaped = text[ok]
    digits = (np.frombuffer("".join(shaped).encode("ascii"), dtype=np.uint8).reshape(-1, 18)[:, :17]
              .astype(np.int64) - 48)
    check = (1 - 2 * (digits @ _RIC_WEIGHTS)) % 11  # stdnum: (1 - 2 * int(number[:-1], 13)) % 11
    expected = np.where(check == 10, "X", check.astype(str))
    dates = pd.to_datetime(shaped.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    good = (expected == shaped.str[17].to_numpy(dtype=object)) & dates.notna().to_numpy()
    places = shaped.str[:6] + ":" + dates.dt.year.fillna(0).astype(int).astype(str)
    known = {place: _ric_place_valid(place[:6], int(place[7:])) for place in places[good].unique()}
    good &= places.isin([place for place, valid in known.items() if valid]).to_numpy(dtype=bool)
    ok[ok] = good
    return ok


def rc_valid(ids: pd.Series) -> np.ndarray:
    """stdnum.cz.rc's checks (9 or 10 digits, the embedded birth date, 9 digits only before 1954,
    the mod-11 check digit of 10-digit numbers) over a column at once, in numpy."""
    values = ids.to_numpy(dtype=object)
    lengths = np.fromiter((len(value) for value in values), dtype=np.int64, count=len(values))
    ok = ((lengths == 9) | (lengths == 10)) & np.fromiter(
        (value.isascii() and value.isdigit() for value in values), dtype=bool, count=len(values))
    if not ok.any():
        return ok
    kept = values[ok]
    numbers = np.array([int(value) for value in kept], dtype=np.int64)
    ten = lengths[ok] == 10
    head = np.where(ten, numbers // 10_000, numbers // 1_000)  # YYMMDD
    year = 1900 + head // 10_000
    month = head // 100 % 100 % 50 % 20
    day = head % 100
    nine_too_late = ~ten & (np.where(year >= 1980, year - 100, year) > 1953)
    year = np.where(ten, np.where(year < 1954, year + 100, year), np.where(year >= 1980, year - 100, year))
    dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    good = dates.notna().to_numpy() & ~nine_too_late
    good &= ~ten | (numbers // 10 % 11 % 10 == numbers % 10)
    ok[ok] = good
    return ok


# The column-at-a-time versions of the stdnum checks that most lines of a file need.
_VECTORISED = {ric.validate: ric_valid, rc.validate: rc_valid}


def _national_ids_check(out: pd.DataFrame, raw_id: pd.Series, raw_type: pd.Series, country: pd.Series,
                        errors: Errors) -> None:
    """customers.validation's ID rules a column at a time: each (type, country) group at once, the
    resident IDs through the vectorised ric_valid (its reasons only for the lines that fail)."""
    compact = raw_id.str.replace(SEPARATORS.pattern, "", regex=True).str.upper()
    id_type = raw_type.str.upper()
    country = country.str.upper()
    given = compact != ""
    errors.add(given & (id_type == ""), "national_id_type", _("Give the type of the ID document."))
    errors.add((id_type != "") & ~id_type.isin(Customer.IdType.values), "national_id_type",
               _("Use CN_RIC, CZ_RC, PASSPORT or COMPANY_REG."))
    errors.add(~given & (id_type != ""), "national_id", _("The ID type is given but the ID is missing."))
    reasons = pd.Series([None] * len(compact), dtype=object, index=compact.index)
    checked = given & id_type.isin(Customer.IdType.values)
    for (kind, issuer), group in compact[checked].groupby([id_type[checked], country[checked]], sort=False):
        vectorised = _VECTORISED.get(national_id_rule(id_type=kind, country=issuer))
        if vectorised is not None:  # only the failures are explained, one by one
            failing = group[~vectorised(group)]
            reasons[failing.index] = [national_id_problem(id_type=kind, country=issuer, compact=value)
                                      or _("not valid") for value in failing]
        else:
            reasons[group.index] = [national_id_problem(id_type=kind, country=issuer, compact=value)
                                    for value in group]
    bad = reasons.notna()
    if bad.any():
        labels = {code: str(label) for code, label in Customer.IdType.choices}
        messages = pd.Series("", index=compact.index, dtype=object)
        messages[bad] = [_("Not a valid %(type)s: %(reason)s.") % {"type": labels.get(kind, kind), "reason": reason}
                         for kind, reason in zip(id_type[bad], reasons[bad], strict=True)]
        errors.add(bad, "national_id", messages)
    out["national_id"] = compact
    out["national_id_type"] = id_type.where(given, "")


def _birth_dates_check(raw: pd.Series, errors: Errors) -> pd.Series:
    """The valid dates as ISO text (None where not given or refused): the staging table's date
    column reads them, and text costs no Python object per line."""
    given = raw != ""
    dates = pd.to_datetime(raw.where(given), format="%Y-%m-%d", errors="coerce")
    errors.add(given & dates.isna(), "birth_date", _("Use an ISO date (YYYY-MM-DD)."))
    today = pd.Timestamp(timezone.localdate())
    errors.add(dates.notna() & ((dates > today) | (dates < pd.Timestamp(1900, 1, 1))), "birth_date",
               _("The birth date must be between 1900-01-01 and today."))
    return dates.dt.strftime("%Y-%m-%d").astype(TEXT)


def _phones_check(raw: pd.Series, country: pd.Series, errors: Errors) -> pd.Series:
    """customers.validation's phone rule a column at a time: numbers already in valid E.164 (most
    files) pass on phonenumbers' metadata patterns per calling code, and so do national numbers of
    a region without a national prefix once its calling code is added; anything else is parsed once
    per distinct (number, country), a national number in the line's country."""
    compact = raw.str.replace(PHONE_SEPARATORS.pattern, "", regex=True)
    compact = compact.where(~compact.str.startswith("00"), "+" + compact.str[2:])
    fast = e164_valid(compact)
    result = compact.where(fast, None)
    # The rest through phonenumbers itself: national numbers, and the E.164-shaped numbers the
    # metadata patterns refuse (phonenumbers may still read one, e.g. after a national prefix).
    slow = (compact != "") & ~fast
    if slow.any():  # national numbers of a region without a national prefix: the calling code added
        national = national_as_e164(compact[slow], country[slow])
        national = national[e164_valid(national.fillna(""))]
        result[national.index] = national
        slow[national.index] = False
    if slow.any():
        result[slow] = [phone_e164(value, region) for value, region in zip(raw[slow], country[slow], strict=True)]
    result[compact == ""] = ""
    errors.add(result.isna(), "phone", _("Not a valid phone number: give it with its country code, "
                                         "e.g. +86 138 0013 8000."))
    return result.fillna("")


def _booleans_check(raw: pd.Series, name: str, errors: Errors) -> pd.Series:
    lowered = raw.str.lower()
    values = pd.Series(np.where(lowered.isin(_TRUE), True, np.where(lowered.isin(_FALSE), False, None)),
                       index=raw.index, dtype=object)
    values[lowered == ""] = None
    errors.add((lowered != "") & ~lowered.isin(_TRUE | _FALSE), name, _("Use yes or no."))
    return values


Lookup = Callable[[list[str]], dict[str, int]]


def file_lookups() -> tuple[Lookup, Lookup]:
    """(branch_ids, rm_ids) for a whole file: every branch code and every active RM's user name,
    each read once before the staging COPY opens (no other statement can run on its connection
    until the COPY ends), then looked up in memory chunk by chunk."""
    branches = dict(Branch.objects.values_list("code", "id"))
    rms = dict(get_user_model().objects.filter(
        is_active=True, staff_profile__role=StaffProfile.Role.RM).values_list("username", "id"))

    def known(table: dict[str, int]) -> Lookup:
        return lambda names: {name: table[name] for name in names if name in table}

    return known(branches), known(rms)


def _mapped(values: pd.Series, mapping: dict[str, object], value_type: pa.DataType) -> pd.Series:
    """`values.map(mapping)` in Arrow (a hash look-up per cell in C): the mapped value, missing
    where the text is not in `mapping`. Integers come back as Int64, text as TEXT."""
    text = pa.large_string()
    positions = pc.index_in(pa.array(values, type=text), value_set=pa.array(list(mapping), type=text))
    taken = pa.array(list(mapping.values()), type=value_type).take(positions)
    if pa.types.is_integer(value_type):  # float64 with NaN on the way: exact for ids below 2**53
        return pd.Series(taken.to_numpy(zero_copy_only=False), index=values.index).astype("Int64")
    return pd.Series(pd.array(taken, dtype=TEXT), index=values.index)


def _ids_of(raw: pd.Series, given: pd.Series, lookup: Lookup) -> pd.Series:
    """The id of each given code or user name (Int64, missing where unknown), looked up once per
    distinct value."""
    known = lookup(sorted(raw[given].unique().tolist())) if given.any() else {}
    return _mapped(raw, known, pa.int64())


def _branches_check(raw: pd.Series, default_branch_id: int | None, errors: Errors, lookup: Lookup) -> pd.Series:
    given = raw != ""
    ids = _ids_of(raw, given, lookup)
    errors.add(given & ids.isna(), "branch_code", _("No branch has this code."))
    if default_branch_id is None:
        errors.add(~given, "branch_code", _("Give the branch code: this source has no default branch."))
    return ids.where(given, default_branch_id).astype("Int64")


def _rms_check(raw: pd.Series, errors: Errors, lookup: Lookup) -> pd.Series:
    given = raw != ""
    ids = _ids_of(raw, given, lookup)
    errors.add(given & ids.isna(), "rm_username", _("No active relationship manager has this user name."))
    return ids.astype("Int64")


def _name_keys(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """customers.naming's keys, each distinct name transliterated once: "first last" is the two
    parts' keys joined (the separators collapse either way)."""
    keys: dict[str, str] = {}

    def key(values: pd.Series) -> pd.Series:
        for value in values.unique().tolist():
            if value not in keys:
                keys[value] = name_key(value)
        return _mapped(values, keys, pa.large_string())

    first, last, legal = key(out["first_name"]), key(out["last_name"]), key(out["legal_name"])
    forward = (first + " " + last).str.strip()
    backward = (last + " " + first).str.strip()
    corporate = out["kind"] == Customer.Kind.CORPORATE
    return forward.where(~corporate, legal), backward.where(~corporate, legal)


