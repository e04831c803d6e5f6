"""Customer fields → comparable keys for matching: pure pandas, no database, no settings.

Every key is plain lower-case ASCII (or digits), None when the field says nothing, so the
comparisons in `model.py` see 王小明, "WANG Xiaoming", "Ing. Xiao-Ming Wang" and "xiaoming" as the
same letters:

- names: Han characters → pinyin without tones (pypinyin; the reading of a surname's own
  heteronyms such as 曾 zeng, 单 shan from a small table); Latin → unidecode; titles and
  honorifics (Ing., MUDr., Mr, 先生 …) and everything but letters dropped. A whole Chinese name
  written in one field is split into surname and given name (compound surnames included).
  `name_fg` is family+given, `name_gf` given+family (the swapped order), `name_sorted` the two
  parts in alphabetical order (the same for both orders) and `name_initials` their first letters
  sorted, so blocking on them survives a given/family swap.
- birth date: ISO `YYYY-MM-DD`, plus the same date with day and month swapped when that is a
  date too (`birth_swapped`) and the year.
- phone: E.164 digits (phonenumbers, the row's country as the default region), without "+".
- e-mail: lower-case; `email_user` the part before "@".
- address: unidecode/pinyin, lower-case, letters and digits only, common street words shortened;
  postcode: letters and digits, upper-case.
- national ID: type-qualified (`cn_ric:11010519491231002X`), separators dropped.

A value shared by more than `PLACEHOLDER_LIMIT` records of the frame (a branch's own phone typed
into every form, "test@test.cz", a dummy ID) is a placeholder, not evidence: it becomes None, so it
neither blocks a crowd of pairs together nor adds weight.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache

import pandas as pd
import phonenumbers
from pypinyin import Style, lazy_pinyin
from unidecode import unidecode

# The frame contract: one row per customer record, these columns (extra columns are ignored).
FRAME_COLUMNS = (
    "id",
    "given_name",
    "family_name",
    "legal_name",
    "national_id_type",
    "national_id",
    "birth_date",
    "gender",
    "phone",
    "email",
    "address_line",
    "city",
    "postcode",
    "country",
)

# The columns normalise() returns, in order (the splink model reads these).
KEY_COLUMNS = (
    "unique_id",
    "family",
    "given",
    "name_fg",
    "name_gf",
    "name_sorted",
    "name_initials",
    "birth_date",
    "birth_swapped",
    "birth_year",
    "gender",
    "phone",
    "email",
    "email_user",
    "address",
    "postcode",
    "national_id",
)

PLACEHOLDER_LIMIT = 20

# Titles and honorifics that say nothing about who the person is (Czech academic titles come
# before and after the name; Chinese honorifics follow it).
_TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mister", "herr", "frau", "pan", "pani",
    "slecna", "ing", "bc", "mgr", "mudr", "mvdr", "judr", "phdr", "rndr", "paeddr", "thdr", "pharmdr",
    "rsdr", "doc", "dis", "phd", "csc", "drsc", "mba", "llm", "msc", "bsc", "ma", "ba", "jr", "sr", "ii", "iii",
})  # fmt: skip
_HAN_TITLES = ("先生", "女士", "小姐", "太太", "夫人", "博士", "教授", "同志")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NOT_LETTER = re.compile(r"[^a-z]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

# Surnames whose reading as a surname differs from the character's most common reading.
_SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao",
    "盖": "ge", "覃": "qin", "乐": "yue", "缪": "miao", "秘": "bi", "种": "chong", "员": "yun",
    "翟": "zhai", "华": "hua", "任": "ren", "沈": "shen", "薄": "bo", "柏": "bai", "重": "chong",
    "牟": "mou", "黑": "he", "折": "she", "燕": "yan", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
}  # fmt: skip
_COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐",
    "澹台", "端木", "万俟", "轩辕", "呼延", "独孤", "南宫", "西门", "申屠", "钟离", "闻人", "公冶", "太史", "濮阳",
    "淳于", "单于",
})  # fmt: skip
# Street words written in full or short; shortened so "Na Příkopě ulice 5" = "na prikope ul. 5".
_ADDRESS_WORDS = {
    "ulice": "ul", "street": "st", "road": "rd", "avenue": "av", "namesti": "nam", "trida": "tr",
    "hao": "", "building": "bldg", "apartment": "apt", "no": "",
}  # fmt: skip


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame`: the FRAME_COLUMNS (missing columns count as empty). Returns KEY_COLUMNS, one row
    per input row in the same order, `unique_id` being the input `id`."""
    frame = frame.reindex(columns=list(FRAME_COLUMNS)).astype(object)
    names = [
        _name_parts(given, family, legal)
        for given, family, legal in zip(frame["given_name"], frame["family_name"], frame["legal_name"], strict=True)
    ]
    births = [birth_date_key(value) for value in frame["birth_date"]]
    emails = [email_key(value) for value in frame["email"]]
    keys: dict[str, list[object]] = {
        "unique_id": frame["id"].tolist(),
        "family": [family for family, _ in names],
        "given": [given for _, given in names],
        "name_fg": [_join(family, given) for family, given in names],
        "name_gf": [_join(given, family) for family, given in names],
        "name_sorted": ["".join(sorted(part for part in pair if part)) or None for pair in names],
        "name_initials": ["".join(sorted(part[0] for part in pair)) if all(pair) else None for pair in names],
        "birth_date": births,
        "birth_swapped": [_day_month_swapped(value) for value in births],
        "birth_year": [value[:4] if value else None for value in births],
        "gender": [_gender_key(value) for value in frame["gender"]],
        "phone": [phone_key(phone, country) for phone, country in zip(frame["phone"], frame["country"], strict=True)],
        "email": emails,
        "email_user": [value.split("@", 1)[0] if value else None for value in emails],
        "address": [address_key(value) for value in frame["address_line"]],
        "postcode": [postcode_key(value) for value in frame["postcode"]],
        "national_id": [
            national_id_key(kind, value)
            for kind, value in zip(frame["national_id_type"], frame["national_id"], strict=True)
        ],
    }
    result = pd.DataFrame(keys, columns=list(KEY_COLUMNS), dtype=object)
    for column in ("phone", "email", "email_user", "address", "national_id"):
        result[column] = _without_placeholders(result[column])
    return result


def name_key(value: object) -> str | None:
    """One name part as lower-case ASCII letters: pinyin for Han characters, unidecode for the
    rest, titles dropped ("Ing. Jiří" → "jiri", "小明" → "xiaoming")."""
    text = _text(value)
    if text is None:
        return None
    return _name_key(text)


def birth_date_key(value: object) -> str | None:
    """A date, datetime or ISO string → `YYYY-MM-DD`; anything else → None."""
    if value is None or (not isinstance(value, str | dt.date) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        return None


def phone_key(value: object, country: object = None) -> str | None:
    """E.164 digits without "+" ("+420 601 123 456" → "420601123456"); a national number is read in
    the row's country (ISO 3166 alpha-2). Unparseable numbers keep their digits if there are 7+."""
    text = _text(value)
    if text is None:
        return None
    region = (_text(country) or "").upper()[:2] or None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    digits = re.sub(r"\D", "", text)
    return digits if len(digits) >= 7 else None


def email_key(value: object) -> str | None:
    text = _text(value)
    if text is None or "@" not in text:
        return None
    return unicodedata.normalize("NFKC", text).strip().lower()


def address_key(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    words = _NOT_ALNUM.split(_latin(text))
    key = " ".join(short for word in words if word and (short := _ADDRESS_WORDS.get(word, word)))
    return key or None


def postcode_key(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    return re.sub(r"[^0-9A-Z]", "", text.upper()) or None


def national_id_key(kind: object, value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    digits = re.sub(r"[^0-9A-Z]", "", unidecode(text).upper())
    if not digits or len(set(digits)) == 1:  # "000000", "XXXXXX": a placeholder
        return None
    return f"{(_text(kind) or '').lower()}:{digits}"


def _name_parts(given: object, family: object, legal: object) -> tuple[str | None, str | None]:
    """(family, given) keys. A corporate record (a legal name and no personal name) is its legal
    name as the family part; a whole Chinese name in one field is split at the surname."""
    given_text, family_text = _text(given), _text(family)
    if given_text is None and family_text is None:
        legal_text = _text(legal)
        return (_name_key(legal_text) if legal_text else None), None
    if family_text is None or given_text is None:
        whole = _strip_han_titles(family_text or given_text or "")
        if len(whole) >= 2 and all(_HAN.fullmatch(char) for char in whole):
            size = 2 if whole[:2] in _COMPOUND_SURNAMES and len(whole) > 2 else 1
            return _surname_key(whole[:size]), _name_key(whole[size:])
    return (_surname_key(family_text) if family_text else None), (_name_key(given_text) if given_text else None)


@lru_cache(maxsize=200_000)
def _surname_key(text: str) -> str | None:
    stripped = _strip_han_titles(text)
    return _SURNAME_READINGS.get(stripped) or _name_key(text)


@lru_cache(maxsize=200_000)
def _name_key(text: str) -> str | None:
    words = re.split(r"[\s,;/()]+", _strip_han_titles(text))
    kept = [word for word in words if word and _NOT_LETTER.sub("", _latin(word)) not in _TITLES]
    key = _NOT_LETTER.sub("", _latin(" ".join(kept)))
    return key or None


def _strip_han_titles(text: str) -> str:
    for title in _HAN_TITLES:
        if text.endswith(title) and len(text) > len(title):
            text = text[: -len(title)]
    return text.strip()


def _latin(text: str) -> str:
    """Han runs → toneless pinyin, everything else → its closest ASCII, lower-case."""
    if _HAN.search(text):
        text = " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="default", v_to_u=False))
    return unidecode(text).lower()


def _join(first: str | None, second: str | None) -> str | None:
    joined = (first or "") + (second or "")
    return joined or None


def _day_month_swapped(iso: str | None) -> str | None:
    if iso is None or iso[5:7] == iso[8:10]:
        return None
    try:
        return dt.date(int(iso[:4]), int(iso[8:10]), int(iso[5:7])).isoformat()
    except ValueError:
        return None


def _gender_key(value: object) -> str | None:
    text = (_text(value) or "").lower()[:1]
    return {"m": "m", "f": "f", "w": "f", "ž": "f", "男": "m", "女": "f"}.get(text)


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _without_placeholders(column: pd.Series) -> pd.Series:
    counts = column.map(column.value_counts()).fillna(0).to_numpy()
    return pd.Series(
        [None if count > PLACEHOLDER_LIMIT else value for value, count in zip(column, counts, strict=True)],
        dtype=object,
        index=column.index,
    )
