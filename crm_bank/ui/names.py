"""How a person's name is written: family name first and no space for names in Chinese
characters (韩洋), given name first otherwise (Jana Novakova)."""

from __future__ import annotations

import re

from django.utils.translation import get_language

# CJK unified ideographs (and extension A, compatibility ideographs): a name written in them.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def person_name(*, given: str, family: str) -> str:
    if _HAN.search(given) or _HAN.search(family):
        return f"{family}{given}"
    return " ".join(part for part in (given, family) if part)


def localized(*, english: str, chinese: str) -> str:
    """A catalogue name (product, campaign) in the reader's language: Chinese where it has one."""
    if chinese and (get_language() or "").startswith("zh"):
        return chinese
    return english
