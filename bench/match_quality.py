"""Quality and speed of the duplicate matcher (customers.matching) on generated customers whose
true duplicates are known.

    .venv/bin/python bench/match_quality.py [--records 20000] [--seed 7] [--threads N]

No database: people are generated with Faker (zh_CN and cs_CZ, half each, seed fixed), then
copies of about a quarter of them are made as another source system would hold them — a typo in a
name, given and family swapped, a Chinese name in characters once and in pinyin once (with the
spellings people use: "Xiao Ming", "XIAOMING", "Lyu"), Czech names without diacritics or with
a title, missing fields, a new address or phone, the birth date with day and month swapped or one
digit wrong, the phone written nationally or internationally. Hard negatives are added on
purpose: household members (same family name, address, often the same landline, another birth
date), a son with his father's name at the same address, and, from the generator's small name
pools, many different people with the same common name or the same birth date.

The matcher runs in dedupe mode over the whole frame. A pair is a true duplicate when both
records come from the same person. Printed: precision, recall and F1 of the pairs decided
auto_merge, the same for auto_merge + review, the pairs compared (blocked) against all pairs, and
the seconds of the matching. The last line printed is one JSON object.

Scaling: only blocked pairs are scored, so the work grows with the block sizes, about linearly in
the records. Measured on 2 cores (seed 7): 20,000 records → ~5,800 pairs compared, ~1 s;
100,000 → ~36,000 pairs, ~5 s; 1,000,000 → ~1.06 million pairs (of 5·10¹¹), ~62 s and ~5 GB
peak for the whole process (generator included). Most of the time is the per-row normalisation in
Python (pinyin, phone parsing); the DuckDB part uses both cores. A "find duplicates" run over
more can split the frame by blocking key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
from faker import Faker  # noqa: E402
from pypinyin import Style, lazy_pinyin  # noqa: E402
from unidecode import unidecode  # noqa: E402

from customers.matching.match import DEFAULT_THRESHOLD_HIGH, DEFAULT_THRESHOLD_LOW, candidate_pairs  # noqa: E402

# How a surname is spelt in a passport where pypinyin's everyday reading differs.
SURNAME_SPELLING = {
    "曾": "Zeng", "单": "Shan", "解": "Xie", "区": "Ou", "仇": "Qiu", "查": "Zha", "朴": "Piao",
    "盖": "Ge", "覃": "Qin", "乐": "Yue", "缪": "Miao", "翟": "Zhai", "薄": "Bo",
}  # fmt: skip
HAN_NAME_CHARACTERS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏宇浩然晨阳"
CZ_TITLES = ("Ing.", "Mgr.", "Bc.", "MUDr.", "JUDr.")
# What a duplicate may differ in (each copy gets one to three of these).
CHANGES = [
    "name_typo", "names_swapped", "latin_spelling", "birth_day_month_swapped", "birth_digit_typo",
    "birth_missing", "moved", "new_phone", "new_email", "contacts_missing", "national_id_missing",
    "address_missing", "gender_missing",
]  # fmt: skip


def _is_han(text: str | None) -> bool:
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


@dataclass(frozen=True)
class Record:
    person: int
    given_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    gender: str | None
    national_id_type: str | None
    national_id: str | None
    phone: str | None
    email: str | None
    address_line: str | None
    city: str | None
    postcode: str | None
    country: str


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {"CN": Faker("zh_CN"), "CZ": Faker("cs_CZ")}
        for offset, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + offset)

    # People -------------------------------------------------------------------------------------
    def person(self, person: int) -> Record:
        country = self.rng.choice(("CN", "CZ"))
        faker = self.fakers[country]
        gender = self.rng.choice("mf")
        given = faker.first_name_male() if gender == "m" else faker.first_name_female()
        family = faker.last_name_male() if (country == "CZ" and gender == "m") else faker.last_name()
        if country == "CZ" and gender == "f":
            family = faker.last_name_female()
        birth = dt.date(1935, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 70))
        return Record(
            person=person,
            given_name=given,
            family_name=family,
            birth_date=birth,
            gender=gender,
            national_id_type="cn_ric" if country == "CN" else "cz_rc",
            national_id=self._national_id(country, birth, gender) if self.rng.random() < 0.7 else None,
            phone=self._phone(country),
            email=self._email(country, given, family) if self.rng.random() < 0.6 else None,
            **self._address(country),
            country=country,
        )

    def household_member(self, person: int, of: Record, *, same_name: bool) -> Record:
        """Someone else at the same address: a spouse or child, or (same_name) a son named after his
        father — the case a careless matcher merges."""
        member = self.person(person)
        years = self.rng.choice((-1, 1)) * self.rng.randrange(1, 6) if not same_name else -self.rng.randrange(22, 36)
        birth = (
            of.birth_date + dt.timedelta(days=365 * years + self.rng.randrange(-200, 200)) if of.birth_date else None
        )
        faker = self.fakers[of.country]
        given = member.given_name
        if of.country != member.country:
            given = faker.first_name_male() if member.gender == "m" else faker.first_name_female()
        family = of.family_name
        if of.country == "CZ" and member.gender != of.gender:
            family = faker.last_name_male() if member.gender == "m" else faker.last_name_female()
        return replace(
            member,
            given_name=of.given_name if same_name else given,
            family_name=family,
            gender=of.gender if same_name else member.gender,
            birth_date=birth,
            national_id=self._national_id(of.country, birth, member.gender) if member.national_id and birth else None,
            phone=of.phone if self.rng.random() < 0.5 else member.phone,
            address_line=of.address_line,
            city=of.city,
            postcode=of.postcode,
            country=of.country,
            national_id_type=of.national_id_type,
            email=None,
        )

    # Duplicates ---------------------------------------------------------------------------------
    def duplicate(self, of: Record) -> tuple[Record, tuple[str, ...]]:
        """The same person as another source system holds them, with one to three CHANGES (and the
        harmless ones: the phone written another way, a Chinese name in characters in one system
        and in pinyin in the other half the time). Returns the copy and its changes."""
        rng = self.rng
        record = replace(of, phone=self._reformat_phone(of.phone, of.country)) if rng.random() < 0.5 else of
        changes = rng.sample(CHANGES, k=rng.choices((1, 2, 3), weights=(0.45, 0.35, 0.2))[0])
        if of.country == "CN" and rng.random() < 0.5:
            changes.append("pinyin")
        for change in changes:
            record = self._change(record, change, of)
        return record, tuple(changes)

    def _change(self, record: Record, change: str, of: Record) -> Record:
        rng = self.rng
        if change == "pinyin":
            return replace(record, **self._pinyin(record)) if _is_han(record.family_name) else record
        if change == "name_typo":
            return self._name_typo(record)
        if change == "names_swapped":
            return replace(record, given_name=record.family_name, family_name=record.given_name)
        if change == "latin_spelling" and of.country == "CZ":
            title = f"{rng.choice(CZ_TITLES)} " if rng.random() < 0.5 else ""
            return replace(
                record, given_name=title + unidecode(record.given_name), family_name=unidecode(record.family_name)
            )
        if change == "latin_spelling":
            return replace(record, **self._pinyin(record)) if _is_han(record.family_name) else record
        birth = record.birth_date
        if change == "birth_day_month_swapped" and birth is not None and birth.day <= 12 and birth.day != birth.month:
            return replace(record, birth_date=birth.replace(day=birth.month, month=birth.day))
        if change in ("birth_digit_typo", "birth_day_month_swapped"):
            return replace(record, birth_date=self._date_typo(birth)) if birth is not None else record
        if change == "moved":
            return replace(record, **self._address(of.country))
        if change == "new_phone":
            return replace(record, phone=self._phone(of.country))
        if change == "new_email":
            return replace(record, email=self._email(of.country, of.given_name, of.family_name))
        missing = {
            "birth_missing": ("birth_date",),
            "contacts_missing": ("phone", "email"),
            "national_id_missing": ("national_id",),
            "address_missing": ("address_line", "postcode", "city"),
            "gender_missing": ("gender",),
        }[change]
        return replace(record, **dict.fromkeys(missing))

    # Field makers -------------------------------------------------------------------------------
    def _pinyin(self, record: Record) -> dict[str, str]:
        def spell(han: str, *, surname: bool) -> str:
            if surname and han in SURNAME_SPELLING:
                return SURNAME_SPELLING[han]
            syllables = lazy_pinyin(han, style=Style.NORMAL)
            syllables = [s.replace("v", self.rng.choice(("u", "yu", "v"))) for s in syllables]
            joined = self.rng.choice(("", " ", "-")).join(syllables) if len(syllables) > 1 else syllables[0]
            return joined.upper() if self.rng.random() < 0.2 else joined.title()

        return {
            "given_name": spell(record.given_name, surname=False),
            "family_name": spell(record.family_name, surname=True),
        }

    def _name_typo(self, record: Record) -> Record:
        field = self.rng.choice(("given_name", "family_name"))
        name = getattr(record, field)
        if not name:
            return record
        position = self.rng.randrange(len(name))
        if _is_han(name):
            changed = name[:position] + self.rng.choice(HAN_NAME_CHARACTERS) + name[position + 1 :]
        else:
            kind = self.rng.choice(("substitute", "delete", "transpose", "insert"))
            letter = self.rng.choice("aeiourlnstkm")
            if kind == "substitute":
                changed = name[:position] + letter + name[position + 1 :]
            elif kind == "delete" and len(name) > 3:
                changed = name[:position] + name[position + 1 :]
            elif kind == "transpose" and position < len(name) - 1:
                changed = name[:position] + name[position + 1] + name[position] + name[position + 2 :]
            else:
                changed = name[:position] + letter + name[position:]
        return replace(record, **{field: changed})

    def _date_typo(self, date: dt.date) -> dt.date:
        for _ in range(10):
            text = list(date.isoformat())
            position = self.rng.choice((2, 3, 6, 8, 9))
            text[position] = str(self.rng.randrange(10))
            try:
                changed = dt.date.fromisoformat("".join(text))
            except ValueError:
                continue
            if changed != date:
                return changed
        return date

    def _national_id(self, country: str, birth: dt.date, gender: str) -> str:
        if country == "CN":
            region = self.rng.randrange(110000, 660000)
            return f"{region}{birth:%Y%m%d}{self.rng.randrange(1000):03d}{self.rng.choice('0123456789X')}"
        month = birth.month + (50 if gender == "f" else 0)
        return f"{birth:%y}{month:02d}{birth:%d}/{self.rng.randrange(10000):04d}"

    def _phone(self, country: str) -> str:
        if country == "CN":
            return f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
        return f"+420 {self.rng.choice('67')}{self.rng.randrange(10**8):08d}"

    def _reformat_phone(self, phone: str, country: str) -> str:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if country == "CN":
            return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}" if len(digits) == 11 else phone
        national = digits[-9:]
        return f"{national[:3]} {national[3:6]} {national[6:]}"

    def _email(self, country: str, given: str, family: str) -> str:
        def ascii_part(text: str) -> str:
            return "".join(lazy_pinyin(text)) if country == "CN" else unidecode(text).lower()

        domain = self.fakers[country].free_email_domain()
        return f"{ascii_part(given)}.{ascii_part(family)}{self.rng.randrange(100)}@{domain}".replace(" ", "")

    def _address(self, country: str) -> dict[str, str]:
        faker = self.fakers[country]
        if country == "CN":
            return {
                "address_line": f"{faker.district()}区{faker.street_name()}{self.rng.randrange(1, 300)}号",
                "city": faker.city(),
                "postcode": faker.postcode(),
            }
        return {"address_line": faker.street_address(), "city": faker.city(), "postcode": faker.postcode()}


def generate(records: int, seed: int) -> pd.DataFrame:
    """About `records` rows: people, ~10% with a household member (1 in 10 of those a namesake
    son), ~25% with one or two duplicates."""
    generator = Generator(seed)
    rows: list[tuple[Record, tuple[str, ...]]] = []
    person = 0
    while len(rows) < records:
        base = generator.person(person)
        person += 1
        rows.append((base, ()))
        roll = generator.rng.random()
        if roll < 0.10:
            rows.append((generator.household_member(person, base, same_name=roll < 0.01), ()))
            person += 1
        copies = 1 if generator.rng.random() < 0.25 else 0
        copies += 1 if copies and generator.rng.random() < 0.15 else 0
        rows.extend(generator.duplicate(base) for _ in range(copies))
    frame = pd.DataFrame([{**row.__dict__, "changes": ";".join(changes)} for row, changes in rows[:records]])
    frame.insert(0, "id", range(1, len(frame) + 1))
    frame["legal_name"] = None
    order = random.Random(seed).sample(range(len(frame)), len(frame))  # sources arrive interleaved
    return frame.iloc[order].reset_index(drop=True)


def quality(pairs: pd.DataFrame, truth: set[tuple[int, int]], decisions: tuple[str, ...]) -> dict[str, float | int]:
    chosen = pairs[pairs["decision"].isin(decisions)]
    predicted = {(min(a, b), max(a, b)) for a, b in zip(chosen["id_l"], chosen["id_r"], strict=True)}
    true_positive = len(predicted & truth)
    precision = true_positive / len(predicted) if predicted else 1.0
    recall = true_positive / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "pairs_predicted": len(predicted),
        "false_positives": len(predicted - truth),
        "false_negatives": len(truth - predicted),
    }


def recall_by_change(pairs: pd.DataFrame, frame: pd.DataFrame, truth: set[tuple[int, int]]) -> dict[str, float]:
    """Of the true pairs where one record has a change, the share decided auto_merge."""
    changes = dict(zip(frame["id"], frame["changes"].str.split(";"), strict=True))
    merged = pairs[pairs["decision"] == "auto_merge"]
    found = {(min(a, b), max(a, b)) for a, b in zip(merged["id_l"], merged["id_r"], strict=True)}
    totals: dict[str, list[int]] = {}
    for pair in truth:
        for change in {*changes[pair[0]], *changes[pair[1]]} - {""}:
            totals.setdefault(change, [0, 0])
            totals[change][0] += 1
            totals[change][1] += pair in found
    return {change: round(hits / count, 3) for change, (count, hits) in sorted(totals.items())}


def true_pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for ids in frame.groupby("person")["id"].agg(list):
        ordered = sorted(ids)
        pairs.update((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :])
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--threshold-low", type=float, default=DEFAULT_THRESHOLD_LOW)
    parser.add_argument("--threshold-high", type=float, default=DEFAULT_THRESHOLD_HIGH)
    args = parser.parse_args()

    started = time.perf_counter()
    frame = generate(args.records, args.seed)
    generated_s = time.perf_counter() - started
    truth = true_pairs(frame)
    people = frame["person"].nunique()
    print(f"generated {len(frame)} records of {people} people, {len(truth)} true pairs in {generated_s:.1f}s")

    started = time.perf_counter()
    pairs = candidate_pairs(
        frame.drop(columns=["person", "changes"]),
        threshold_low=args.threshold_low,
        threshold_high=args.threshold_high,
        include_new=True,
        threads=args.threads,
    )
    seconds = time.perf_counter() - started
    found = {(min(a, b), max(a, b)) for a, b in zip(pairs["id_l"], pairs["id_r"], strict=True)}
    blocking_recall = len(found & truth) / len(truth) if truth else 1.0
    result = {
        "records": len(frame),
        "true_pairs": len(truth),
        "pairs_compared": len(pairs),
        "all_pairs": len(frame) * (len(frame) - 1) // 2,
        "blocking_recall": round(blocking_recall, 4),
        "seconds": round(seconds, 2),
        "threads": args.threads,
        "threshold_high": args.threshold_high,
        "threshold_low": args.threshold_low,
        "auto_merge": quality(pairs, truth, ("auto_merge",)),
        "review": quality(pairs, truth, ("auto_merge", "review")),
        "auto_merge_recall_by_change": recall_by_change(pairs, frame, truth),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
