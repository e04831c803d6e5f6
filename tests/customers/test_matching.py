"""The matching engine (customers.matching): normalisation, blocking, scores of tricky pairs and
name-variant properties. Pure pandas + in-memory DuckDB: no database."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.matching.match import PAIR_COLUMNS, candidate_pairs, compared_pair_count
from customers.matching.normalise import PLACEHOLDER_LIMIT, name_key, normalise, phone_key

JIRI = {
    "id": 1,
    "given_name": "Jiří",
    "family_name": "Dvořák",
    "birth_date": "1970-04-09",
    "gender": "m",
    "phone": "+420 601 123 456",
    "email": "jiri.dvorak@seznam.cz",
    "address_line": "Na Příkopě 5",
    "city": "Praha",
    "postcode": "110 00",
    "country": "CZ",
}
XIAOMING = {
    "id": 1,
    "given_name": "小明",
    "family_name": "王",
    "birth_date": "1985-03-07",
    "gender": "m",
    "phone": "13800001111",
    "address_line": "朝阳区建国路88号",
    "postcode": "100022",
    "country": "CN",
}


def pair(left: dict, right: dict) -> pd.Series:
    """The scored pair of two records (include_new, so a "new" pair is returned too)."""
    pairs = candidate_pairs(pd.DataFrame([{**left, "id": 1}, {**right, "id": 2}]), include_new=True)
    assert len(pairs) == 1, "the two records were not compared"
    return pairs.iloc[0]


# Normalisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("王小明", "wangxiaoming"),
        ("Wang Xiao-Ming", "wangxiaoming"),
        ("XIAO MING", "xiaoming"),
        ("Ing. Jiří", "jiri"),
        ("Dvořák, Ph.D.", "dvorak"),
        ("MUDr. Jana Nováková, CSc.", "jananovakova"),
        ("小明先生", "xiaoming"),
        ("Mr", None),
        ("", None),
        (None, None),
    ],
)
def test_name_key_reads_pinyin_latin_and_drops_titles(raw, key):
    assert name_key(raw) == key


def test_normalise_reads_surname_readings_and_splits_a_whole_chinese_name():
    keys = normalise(
        pd.DataFrame(
            [
                {"id": 1, "family_name": "曾", "given_name": "小明"},
                {"id": 2, "given_name": "欧阳娜娜"},
                {"id": 3, "family_name": "单田芳"},
            ]
        )
    )
    assert keys[["family", "given"]].values.tolist() == [["zeng", "xiaoming"], ["ouyang", "nana"], ["shan", "tianfang"]]


def test_normalise_gives_swapped_names_the_same_order_free_keys():
    keys = normalise(
        pd.DataFrame(
            [
                {"id": 1, "given_name": "Xiaoming", "family_name": "Wang"},
                {"id": 2, "given_name": "Wang", "family_name": "Xiaoming"},
            ]
        )
    )
    assert keys.at[0, "name_fg"] == keys.at[1, "name_gf"] == "wangxiaoming"
    assert keys.at[0, "name_sorted"] == keys.at[1, "name_sorted"]
    assert keys.at[0, "name_initials"] == keys.at[1, "name_initials"] == "wx"


def test_normalise_reads_dates_phones_emails_and_ids():
    keys = normalise(
        pd.DataFrame(
            [
                {
                    "id": 1,
                    "birth_date": dt.date(1970, 4, 9),
                    "phone": "601 123 456",
                    "country": "CZ",
                    "email": " Jiri.Dvorak@Seznam.CZ ",
                    "national_id_type": "cz_rc",
                    "national_id": "700409/1234",
                    "postcode": "110 00",
                },
                {
                    "id": 2,
                    "birth_date": "1970-02-30",
                    "phone": "12",
                    "email": "not an address",
                    "national_id": "000000",
                },
            ]
        )
    )
    first, second = keys.iloc[0], keys.iloc[1]
    assert (first["birth_date"], first["birth_swapped"], first["birth_year"]) == ("1970-04-09", "1970-09-04", "1970")
    assert first["phone"] == "420601123456" == phone_key("+420601123456")
    assert (first["email"], first["email_user"]) == ("jiri.dvorak@seznam.cz", "jiri.dvorak")
    assert (first["national_id"], first["postcode"]) == ("cz_rc:7004091234", "11000")
    assert second[["birth_date", "phone", "email", "national_id"]].isna().all()


def test_normalise_drops_a_value_shared_by_too_many_records():
    frame = pd.DataFrame(
        [{"id": i, "phone": "+420 224 000 000", "email": f"{i}@x.cz"} for i in range(PLACEHOLDER_LIMIT + 1)]
    )
    keys = normalise(frame)
    assert keys["phone"].isna().all()
    assert keys["email"].notna().all()


# Blocking --------------------------------------------------------------------------------------


def people(count: int, seed: int = 3) -> pd.DataFrame:
    """`count` different people who share what crowds share: city, country, gender, a few names."""
    rng = random.Random(seed)
    names = ["Novák", "Svoboda", "Novotný", "Dvořák", "Černý"]
    givens = ["Jan", "Petr", "Josef", "Pavel", "Martin"]
    return pd.DataFrame(
        [
            {
                "id": i,
                "given_name": rng.choice(givens),
                "family_name": rng.choice(names),
                "birth_date": dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 60)),
                "gender": "m",
                "phone": f"+420 6{i:08d}",
                "city": "Praha",
                "country": "CZ",
                "postcode": f"1{rng.randrange(100):02d}00",
            }
            for i in range(count)
        ]
    )


def test_blocking_compares_far_fewer_pairs_than_all():
    frame = people(400)
    compared = compared_pair_count(frame)
    assert 0 < compared < 400 * 399 // 2 // 20


def test_blocking_never_pairs_records_that_share_only_city_gender_or_placeholder_phone():
    frame = people(60).assign(phone="+420 224 000 000", postcode=None)
    frame["birth_date"] = [dt.date(1950, 1, 1) + dt.timedelta(days=400 * i) for i in range(60)]
    frame["given_name"] = [f"Given{chr(97 + i % 26)}{i}" for i in range(60)]
    assert compared_pair_count(frame) == 0


# Tricky pairs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(JIRI, {**JIRI, "family_name": "Dvořáak"}, id="typo in the family name"),
        pytest.param(JIRI, {**JIRI, "given_name": "Dvořák", "family_name": "Jiří"}, id="given and family swapped"),
        pytest.param(JIRI, {**JIRI, "given_name": "Ing. Jiri", "family_name": "DVORAK"}, id="title, no diacritics"),
        pytest.param(JIRI, {**JIRI, "birth_date": "1970-09-04", "email": None}, id="day and month swapped"),
        pytest.param(XIAOMING, {**XIAOMING, "given_name": "Xiaoming", "family_name": "Wang"}, id="pinyin"),
        pytest.param(XIAOMING, {**XIAOMING, "given_name": "Wang", "family_name": "Xiao Ming"}, id="pinyin swapped"),
        pytest.param(
            XIAOMING, {**XIAOMING, "phone": "+86 138 0000 1111", "address_line": None}, id="phone written otherwise"
        ),
    ],
)
def test_candidate_pairs_auto_merges_the_same_person_written_differently(left, right):
    assert pair(left, right)["decision"] == "auto_merge"


def test_candidate_pairs_does_not_auto_merge_a_namesake_at_the_same_address():
    son = {**JIRI, "birth_date": "1998-11-23", "email": None}
    scored = pair(JIRI, son)
    assert scored["decision"] != "auto_merge"
    assert scored["birth_date_level"] == "different" and scored["birth_date_weight"] < -5


def test_candidate_pairs_sends_the_same_name_and_birth_date_alone_to_review():
    other = {**JIRI, "phone": "+420 777 000 111", "email": None, "address_line": "Dlouhá 1", "postcode": "602 00"}
    assert pair(JIRI, other)["decision"] == "review"


def test_candidate_pairs_calls_a_household_member_new():
    wife = {**JIRI, "given_name": "Jana", "family_name": "Dvořáková", "gender": "f", "birth_date": "1973-06-30"}
    assert pair(JIRI, {**wife, "email": None})["decision"] == "new"


def test_candidate_pairs_auto_merges_a_shared_national_id_whatever_the_names():
    left = {**JIRI, "national_id_type": "cz_rc", "national_id": "700409/1234"}
    right = {"given_name": "J.", "family_name": "D.", "national_id_type": "cz_rc", "national_id": "7004091234"}
    scored = pair(left, right)
    assert (scored["decision"], scored["rule"]) == ("auto_merge", "national_id")


def test_candidate_pairs_reviews_a_shared_national_id_with_another_birth_date():
    left = {**JIRI, "national_id_type": "cz_rc", "national_id": "7004091234"}
    right = {**left, "given_name": "Karel", "birth_date": "1950-01-01", "phone": None, "email": None}
    scored = pair(left, right)
    assert (scored["decision"], scored["rule"]) == ("review", "national_id_conflict")


def test_candidate_pairs_explains_each_field():
    scored = pair(
        JIRI, {**JIRI, "given_name": "Dvořák", "family_name": "Jiří", "birth_date": "1970-09-04", "email": None}
    )
    assert list(scored.index) == list(PAIR_COLUMNS)
    assert scored["name_level"] == "given and family swapped" and scored["name_weight"] > 5
    assert scored["birth_date_level"] == "day and month swapped"
    assert (scored["email_level"], scored["email_gamma"], scored["email_weight"]) == ("missing", -1, 0)
    assert scored["match_weight"] == pytest.approx(
        sum(
            scored[f"{name}_weight"]
            for name in ("name", "birth_date", "national_id", "phone", "email", "address", "gender")
        )
        - 19.93,
        abs=0.05,
    )


def test_candidate_pairs_links_two_frames_without_pairing_inside_either():
    existing = pd.DataFrame([{**JIRI, "id": "C1"}, {**JIRI, "id": "C2", "email": None}])
    incoming = pd.DataFrame([{**JIRI, "id": "C1", "family_name": "Dvorak"}, {**XIAOMING, "id": "N2"}])
    pairs = candidate_pairs(existing, incoming)
    assert pairs[["id_l", "id_r"]].values.tolist() == [["C1", "C1"], ["C2", "C1"]]
    assert set(pairs["decision"]) == {"auto_merge"}


def test_candidate_pairs_leaves_out_new_pairs_unless_asked_and_is_deterministic():
    frame = people(200)
    everything = candidate_pairs(frame, include_new=True)
    kept = candidate_pairs(frame)
    assert set(kept["decision"]) <= {"auto_merge", "review"}
    assert len(kept) == (everything["decision"] != "new").sum()
    pd.testing.assert_frame_equal(everything, candidate_pairs(frame, include_new=True))


def test_candidate_pairs_refuses_bad_thresholds_and_ids():
    frame = pd.DataFrame([JIRI, {**JIRI, "id": 2}])
    with pytest.raises(ValueError, match="threshold"):
        candidate_pairs(frame, threshold_low=0.9, threshold_high=0.5)
    with pytest.raises(ValueError, match="own id"):
        candidate_pairs(pd.DataFrame([JIRI, JIRI]))


def test_candidate_pairs_of_too_few_records_is_empty():
    assert candidate_pairs(pd.DataFrame([JIRI])).empty
    assert list(candidate_pairs(pd.DataFrame([JIRI]), pd.DataFrame(columns=["id"])).columns) == list(PAIR_COLUMNS)


def test_candidate_pairs_leaves_no_files_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    candidate_pairs(people(50))
    assert list(tmp_path.iterdir()) == []


# Name variants (hypothesis) --------------------------------------------------------------------

LATIN = st.text(alphabet="abcdefghijklmnoprstuvzáéíóúýčďěňřšťžů", min_size=2, max_size=10)
HAN = st.text(alphabet="伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红", min_size=1, max_size=2)
SURNAMES = st.sampled_from(["王", "李", "张", "刘", "陈", "杨", "曾", "欧阳"])


@st.composite
def name_variants(draw: st.DrawFn) -> tuple[dict, dict]:
    """A person and the same person with one character of one name part changed, or the order of
    the parts swapped."""
    if draw(st.booleans()):
        given, family = draw(LATIN).title(), draw(LATIN).title()
        alphabet = "abcdefghijklmnoprstuvz"
    else:
        given, family = draw(HAN), draw(SURNAMES)
        alphabet = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
    base = {"given_name": given, "family_name": family, "birth_date": "1981-05-17", "phone": "602555123"}
    base["country"] = "CZ"
    if draw(st.booleans()):
        return base, {**base, "given_name": family, "family_name": given}
    part = draw(st.sampled_from(["given_name", "family_name"]))
    text = base[part]
    position = draw(st.integers(0, len(text) - 1))
    changed = text[:position] + draw(st.sampled_from(alphabet)) + text[position + 1 :]
    return base, {**base, part: changed}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name_variants())
def test_a_name_variant_with_the_same_birth_date_and_phone_is_at_least_reviewed(variants):
    left, right = variants
    assert pair(left, right)["decision"] in {"auto_merge", "review"}


@given(LATIN, LATIN)
def test_name_order_never_changes_the_order_free_keys(given_name, family_name):
    keys = normalise(
        pd.DataFrame(
            [
                {"id": 1, "given_name": given_name, "family_name": family_name},
                {"id": 2, "given_name": family_name, "family_name": given_name},
            ]
        )
    )
    assert keys.at[0, "name_sorted"] == keys.at[1, "name_sorted"]
    assert keys.at[0, "name_fg"] == keys.at[1, "name_gf"]
