"""QuickSelect writes the same <select> as Django's Select, attributes and selection included."""

from __future__ import annotations

import re

import pytest
from django.forms import Select

from crm_bank.ui.widgets import QuickSelect

CHOICES = [("", "---------"), (1, "Jana Nováková"), (2, "O'Brien & <Sons>"), (3, "李伟")]


def _normalised(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


@pytest.mark.parametrize("value", [None, "", 2, "3"])
def test_quick_select_writes_what_select_writes(value):
    attrs = {"id": "id_rm", "class": "form-select", "aria-label": "RM", "required": True}
    expected = Select(choices=CHOICES).render("primary_rm", value, attrs=attrs)
    assert _normalised(QuickSelect(choices=CHOICES).render("primary_rm", value, attrs=attrs)) == _normalised(expected)


def test_labels_and_values_are_escaped():
    html = QuickSelect(choices=[('"><script>', "<b>x</b>")]).render("f", None)
    assert "<script>" not in html and "<b>" not in html
