"""Spreadsheet cells are neutralised wherever a formula could start: after spaces, in full-width form,
after a line feed; numbers and ordinary text are kept as they are."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_bank.exports import neutralised, spreadsheet_row


@pytest.mark.parametrize("typed", [
    "=1+1", "+420601123456", "-2", "@SUM(A1)", "\t=1", "\r=1", "\n=1+1", " =1+1", "  @cmd", "\u00a0=1",
    "\uff1d1+1", "\uff0bcmd", "\uff0d1", "\uff20x", " \uff1dHYPERLINK(\"x\")",
])
def test_text_that_a_spreadsheet_would_run_gets_an_apostrophe(typed):
    assert neutralised(typed) == "'" + typed


@pytest.mark.parametrize("typed", ["Jana Novakova", "12 Vodickova", "a=b", "李伟", "", " x=1", "e-mail"])
def test_other_text_is_kept(typed):
    assert neutralised(typed) == typed


def test_numbers_stay_numbers_and_none_is_an_empty_cell():
    assert spreadsheet_row([12, Decimal("-3.50"), -1.5, None, True, "=A1"]) == [12, Decimal("-3.50"), -1.5, "",
                                                                                 "True", "'=A1"]
