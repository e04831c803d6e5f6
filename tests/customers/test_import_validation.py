"""Row checks of the import, a chunk at a time."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.cz import rc

from crm_bank.exports import neutralised
from customers.imports.reading import chunk_frame
from customers.imports.schema import COLUMN_NAMES
from customers.imports.services import error_file_write
from customers.imports.validation import chunk_validate, payload_json, rc_valid, ric_valid
from tests.customers.import_helpers import JIRI, LI_WEI, cn_ric

COLUMNS = [*COLUMN_NAMES, "loyalty_id"]


def _check(*rows: dict, default_branch_id: int | None = 7):
    records = [(line, [row.get(column, "") for column in COLUMNS]) for line, row in enumerate(rows, start=2)]
    return chunk_validate(records, columns=COLUMNS, default_branch_id=default_branch_id,
                          branch_ids=lambda codes: {"A01": 1}, rm_ids=lambda names: {"rm_a": 11})


def _errors(frame) -> list[list[tuple[str, str]]]:
    return [[(error["column"], error["reason"]) for error in json.loads(value)] if isinstance(value, str) else []
            for value in frame["errors"]]


def test_validation_normalises_good_rows_in_both_scripts():
    frame = _check({**LI_WEI, "rm_username": "rm_a", "loyalty_id": "=1+1"}, {**JIRI, "branch_code": ""})
    assert frame["valid"].tolist() == [True, True]
    li, jiri = frame.to_dict("records")
    assert (li["first_name"], li["last_name"], li["name_key"], li["name_key_reversed"]) == ("伟", "李", "wei li",
                                                                                            "li wei")
    assert (li["phone"], li["branch_id"], li["rm_id"]) == ("+8613800138000", 1, 11)
    assert json.loads(li["payload"])["loyalty_id"] == "=1+1"  # unknown columns kept, formulas as text
    assert (jiri["phone"], jiri["address_line"], jiri["postal_code"]) == ("+420601123456", "Vodičkova 12, byt 3",
                                                                          "110 00")
    assert jiri["branch_id"] == 7 and not jiri["branch_given"]  # the source's default branch
    assert jiri["marketing_consent"] is True and jiri["do_not_contact"] is None
    assert str(jiri["birth_date"]) == "1971-03-19"


def test_validation_reports_each_bad_column():
    frame = _check({"source_key": "", "kind": "robot", "given_name": "X", "national_id": LI_WEI["national_id"][:-1]
                    + "0", "national_id_type": "CN_RIC", "birth_date": "12/03/1985", "gender": "?", "phone": "12345",
                    "email": "nope", "country": "China", "branch_code": "ZZ", "rm_username": "ghost",
                    "marketing_consent": "yes", "do_not_contact": "yes"})
    columns = [column for column, _reason in _errors(frame)[0]]
    assert columns == ["source_key", "kind", "national_id", "birth_date", "gender", "phone", "email", "country",
                       "branch_code", "rm_username", "marketing_consent"]
    assert ("national_id", "Not a valid PRC resident identity card: the check digit does not match.") in _errors(
        frame)[0]


@pytest.mark.parametrize(("row", "column"), [
    ({"source_key": "c1", "kind": "corporate"}, "legal_name"),
    ({"source_key": "p1", "family_name": "Novak", "national_id": "8001011234", "national_id_type": "CZ_RC"},
     "national_id"),
    ({"source_key": "p2", "family_name": "Novak", "national_id": "AB12345"}, "national_id_type"),
    ({"source_key": "p3", "family_name": "Novak", "birth_date": "2999-01-01"}, "birth_date"),
    ({"source_key": "p4", "family_name": "Novak"}, "branch_code"),  # no branch and no default
])
def test_validation_single_rule(row, column):
    frame = _check(row, default_branch_id=None if column == "branch_code" else 7)
    assert [found for found, _reason in _errors(frame)[0]] == [column]


def test_validation_line_with_wrong_number_of_values_is_rejected():
    records = [(2, ["k1", "individual"])]
    frame = chunk_validate(records, columns=COLUMNS, default_branch_id=1, branch_ids=dict, rm_ids=dict)
    assert _errors(frame)[0][0] == ("", f"The line has 2 values; the header has {len(COLUMNS)}.")


@settings(max_examples=300, deadline=None)
@given(birth=st.dates(), seq=st.integers(0, 999), digit=st.sampled_from("0123456789X"))
def test_vectorised_ric_check_agrees_with_stdnum(birth, seq, digit):
    valid = cn_ric(f"{birth:%Y%m%d}", seq)
    candidates = [valid, valid[:-1] + digit, "11010" + valid[5:]]
    import pandas as pd
    assert ric_valid(pd.Series(candidates)).tolist() == [ric.is_valid(value) for value in candidates]


def test_error_file_neutralises_formula_like_cells():
    out = io.StringIO()
    error_file_write(out, [(5, "=cmd|'/C calc'!A0", {"email": "@SUM(1)", "phone": "+1"},
                            [{"column": "email", "reason": "Not a valid e-mail address."},
                             {"column": "phone", "reason": "-bad"}])])
    lines = out.getvalue().splitlines()
    assert lines[0] == "line,source_key,column,value,reason"
    assert lines[1] == "5,'=cmd|'/C calc'!A0,email,'@SUM(1),Not a valid e-mail address."
    assert lines[2] == "5,'=cmd|'/C calc'!A0,phone,'+1,'-bad"
    assert neutralised("Anna") == "Anna"


@settings(max_examples=300, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=8, max_size=11), birth=st.dates(), serial=st.integers(0, 9999),
       woman=st.booleans())
def test_vectorised_czech_birth_number_check_agrees_with_stdnum(digits, birth, serial, woman):
    import pandas as pd

    month = birth.month + (50 if woman else 0)
    body = f"{birth:%y}{month:02d}{birth:%d}"
    nine, ten = f"{body}{serial % 1000:03d}", f"{body}{serial:04d}"
    fixed = f"{body}{serial % 1000:03d}" + str(int(f"{body}{serial % 1000:03d}") % 11 % 10)
    candidates = [digits, nine, ten, fixed, fixed[:-1] + str((int(fixed[-1]) + 1) % 10), "71O3192745", ""]
    assert rc_valid(pd.Series(candidates)).tolist() == [rc.is_valid(value) for value in candidates]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.text(max_size=12), min_size=3, max_size=3))
def test_payload_is_the_row_as_json_whatever_the_cells_hold(cells):
    """Quotes, backslashes, control characters and any script come back as they were sent."""
    columns = ["source_key", "given_name", "note \"quoted\" \\ ключ"]
    frame, _widths = chunk_frame([(2, cells), (3, ["k", "", ""])], columns)
    payload = payload_json(frame, columns)
    assert [json.loads(line) for line in payload] == [dict(zip(columns, cells, strict=True)),
                                                      dict(zip(columns, ["k", "", ""], strict=True))]


def test_line_with_a_nul_is_rejected_and_staged_without_it():
    frame = _check({**LI_WEI, "address_line1": "Chang'an Ave\x001"}, JIRI)
    assert frame["valid"].tolist() == [False, True]
    assert _errors(frame)[0] == [("", "The line contains a NUL character, which cannot be stored.")]
    assert json.loads(frame["payload"][0])["address_line1"] == "Chang'an Ave1"
    assert "\x00" not in frame["address_line"][0]
