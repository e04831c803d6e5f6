"""Search keys for names: one spelling for 李伟, "Li Wei" and "li  wei"."""

from __future__ import annotations

import re

from unidecode import unidecode

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def name_key(text: str) -> str:
    """Transliterates (汉字 → pinyin, č → c), lower-cases and keeps words separated by one space."""
    return _NOT_WORD.sub(" ", unidecode(text or "").lower()).strip()


def customer_name_keys(*, kind: str, first_name: str, last_name: str, legal_name: str) -> tuple[str, str]:
    """The ("first last", "last first") search keys of a customer."""
    if kind == "corporate":
        key = name_key(legal_name)
        return key, key
    return name_key(f"{first_name} {last_name}"), name_key(f"{last_name} {first_name}")
