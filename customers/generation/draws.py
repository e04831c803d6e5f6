"""Who the customers are: people, households, customer columns, contacts and preferences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from customers.generation.constants import (
    _BRANCH_CITIES,
    _DAY,
    _DEPOSIT_PRODUCTS,
    _NULL,
    _S,
    _STAGE_P,
    _STAGES,
    CLOSED,
    DORMANT,
    LOYAL,
    PROSPECT,
)
from customers.generation.holdings import _accounts_draw, _holders_draw, _transactions_draw
from customers.generation.inputs import _Bank, _pick, _Pools
from customers.generation.national_ids import _national_id_bodies, _national_ids_unique
from customers.generation.touchpoints import _interactions_draw
from customers.models import CONTACT_CHANNELS, Customer, Household
from customers.naming import customer_name_keys

# Mobile prefixes phonenumbers accepts (not 174: satellite, mostly unassigned; not 179).
_MOBILE_PREFIXES = np.array([*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
                             170, 171, 172, 173, 175, 176, 177, 178, *range(180, 190), 198, 199])
_EMAIL_DOMAINS_ZH = np.array(["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com"], dtype=object)
_EMAIL_DOMAINS_EN = np.array(["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"], dtype=object)
_INTERESTS = ("travel", "wealth_management", "insurance", "real_estate", "education", "retirement",
              "cars", "sports", "technology", "overseas_study", "health", "family")
_INDUSTRIES = ("Trading", "Logistics", "Technology", "Manufacturing", "Consulting", "Foods", "Textiles",
               "Electronics", "Construction", "Pharmaceuticals", "Media", "Machinery")


@dataclass
class _Segment:
    seed: int
    start: int
    customers: dict[str, np.ndarray]  # household_id holds a local household index
    households: dict[str, np.ndarray]
    accounts: dict[str, np.ndarray]  # owner / linked_account_id hold local indexes
    holders: dict[str, np.ndarray]  # account_id / customer_id hold local indexes
    transactions: dict[str, np.ndarray]  # account_id holds a local index
    interactions: dict[str, np.ndarray]  # _customer holds a local index
    deposit_cents: np.ndarray  # per customer, for the concentration figure


def _cif(seed: int, index: int) -> str:
    return f"S{seed:03d}{index:08d}"



# Drawing a segment: numpy and Faker pools only, no database, so a test can compare two draws.


def _segment_build(*, bank: _Bank, pools: _Pools, start: int, stop: int) -> _Segment:
    """Draws customers start…stop-1 and everything they hold."""
    rng = np.random.default_rng([bank.seed, start, stop])
    people = _people_draw(rng=rng, bank=bank, count=stop - start)
    households = _households_draw(rng=rng, people=people)
    customers = _customers_draw(rng=rng, bank=bank, pools=pools, people=people, start=start)
    households["name"] = _household_names(households=households, customers=customers)
    accounts = _accounts_draw(rng=rng, bank=bank, people=people, start=start)
    deposit = np.isin(accounts["_product"], _DEPOSIT_PRODUCTS) & (accounts["balance"] != _NULL)
    return _Segment(
        seed=bank.seed,
        start=start,
        customers=customers,
        households=households,
        accounts=accounts,
        holders=_holders_draw(accounts=accounts, households=households),
        transactions=_transactions_draw(rng=rng, bank=bank, people=people, accounts=accounts),
        interactions=_interactions_draw(bank=bank, start=start, stop=stop, people=people, customers=customers),
        deposit_cents=np.bincount(accounts["_owner"], np.where(deposit, accounts["balance"], 0), len(people["stage"])),
    )


def _people_draw(*, rng: np.random.Generator, bank: _Bank, count: int) -> dict[str, np.ndarray]:
    """Who the customers are: kind, branch, stage, age, tenure, deposit wealth (CNY)."""
    n, as_of = count, bank.as_of_day
    corporate = rng.random(n) < 0.05
    size = 1 / np.arange(1, len(bank.branch_ids) + 1) ** 0.6  # a few big city branches, a long tail
    branch = rng.choice(len(size), n, p=size / size.sum())
    stage = rng.choice(len(_STAGES), n, p=_STAGE_P)
    # Ages below 18 are folded back above it (a clip would put 3 % of the bank on one birth date).
    drawn = rng.normal(44, 15, n)
    age = np.clip(np.where(drawn < 18, 36 - drawn, drawn), 18, 92)
    tenure = rng.exponential(6.0, n) + np.where(stage == LOYAL, 5, 0)
    tenure = np.clip(np.minimum(tenure, np.where(corporate, 30, age - 17)), 0.1, 30)  # adults open accounts
    since = as_of - (tenure * 365.25).astype(np.int64)
    inactive_for = np.select(
        [stage == DORMANT, stage == CLOSED], [rng.integers(400, 1500, n), rng.integers(30, 1800, n)]
    )
    # Lognormal wealth (σ 1.4 people, 1.6 companies), with the prospects' and closed customers' zeros,
    # puts ~80 % of deposits with the richest 20 % of customers (Pareto's rule, as banks observe).
    wealth = np.where(corporate, rng.lognormal(np.log(150_000), 1.6, n), rng.lognormal(np.log(20_000), 1.4, n))
    return {
        "corporate": corporate,
        "zh": rng.random(n) < 0.6,
        "male": rng.random(n) < 0.5,
        "married": rng.random(n) < 0.55,
        "branch": branch,
        "stage": stage,
        "age": age,
        "birth_day": np.where(corporate, _NULL, as_of - (age * 365.25).astype(np.int64)),
        "since_day": np.where(stage == PROSPECT, _NULL, since),
        "until_day": np.minimum(as_of, np.maximum(since + 30, as_of - inactive_for)),
        "wealth": wealth * np.select([stage == DORMANT, np.isin(stage, (PROSPECT, CLOSED))], [0.3, 0.0], 1.0),
        "surname_from": np.arange(n),
        "home_from": np.arange(n),
    }


def _households_draw(*, rng: np.random.Generator, people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Families of 2–4 neighbouring individuals (one address, one branch) and corporate groups.

    Roles follow age: the oldest is the head, a partner within 12 years the spouse, members at
    least 16 years younger are children. Chinese spouses keep their surname, children take the
    head's; English-named members all take it.
    """
    corporate, age, n = people["corporate"], people["age"], len(people["age"])
    household, role = np.full(n, _NULL), np.full(n, "", dtype=object)
    kinds, heads, spouses = [], [], []
    free_from = 0
    for first in np.flatnonzero(rng.random(n) < 0.09):
        members = []
        for j in range(first, min(first + int(rng.integers(2, 5)), n)):
            if corporate[j] or j < free_from:
                break
            members.append(j)
        if len(members) < 2:
            continue
        free_from = members[-1] + 1
        head, *others = sorted(members, key=lambda j: -age[j])
        spouse = others[0] if age[head] - age[others[0]] <= 12 else _NULL
        household[members], role[head] = len(kinds), Customer.HouseholdRole.HEAD
        for j in others:
            young = age[head] - age[j] >= 16
            role[j] = (Customer.HouseholdRole.SPOUSE if j == spouse
                       else Customer.HouseholdRole.CHILD if young else Customer.HouseholdRole.OTHER)
            for key in ("branch", "zh"):
                people[key][j] = people[key][head]
            people["home_from"][j] = head
            if not (people["zh"][head] and j == spouse):
                people["surname_from"][j] = head
        if spouse != _NULL:
            people["male"][spouse] = not people["male"][head]
            people["married"][[head, spouse]] = True
        kinds.append(Household.Kind.FAMILY)
        heads.append(head)
        spouses.append(spouse)
    companies = rng.permutation(np.flatnonzero(corporate))
    grouped, position = companies[: int(len(companies) * 0.3)], 0
    while position + 2 <= len(grouped):
        group = grouped[position: position + int(rng.integers(2, 5))]
        position += len(group)
        household[group], role[group] = len(kinds), Customer.HouseholdRole.SUBSIDIARY
        role[group[0]] = Customer.HouseholdRole.PARENT_COMPANY
        kinds.append(Household.Kind.CORPORATE_GROUP)
        heads.append(group[0])
        spouses.append(_NULL)
    people["household"], people["household_role"] = household, role
    return {"kind": np.array(kinds, dtype=object), "_head": np.array(heads, dtype=np.int64),
            "_spouse": np.array(spouses, dtype=np.int64)}


def _household_names(*, households: dict[str, np.ndarray], customers: dict[str, np.ndarray]) -> np.ndarray:
    names = []
    for kind, head in zip(households["kind"], households["_head"], strict=True):
        last, legal = customers["last_name"][head], customers["legal_name"][head]
        if kind == Household.Kind.FAMILY:
            names.append(f"{last} family" if last.isascii() else f"{last}家")
        elif "有限公司" in legal:
            names.append(legal.removesuffix("有限公司") + "集团")
        else:
            names.append(legal.split(" (")[0] + " Group")
    return np.array(names, dtype=object)


def _customers_draw(
    *, rng: np.random.Generator, bank: _Bank, pools: _Pools, people: dict[str, np.ndarray], start: int
) -> dict[str, np.ndarray]:
    """The Customer columns, by database column name."""
    n, as_of = len(people["stage"]), bank.as_of_day
    corporate, zh, male, stage = people["corporate"], people["zh"], people["male"], people["stage"]
    city = people["branch"] % len(_BRANCH_CITIES)
    city_en, city_zh, _, province, postal = (np.array(col, dtype=object) for col in zip(*_BRANCH_CITIES, strict=True))
    female_zh, male_zh = (_pick(rng, pool, n) for pool in pools.zh_first)
    female_en, male_en = (_pick(rng, pool, n) for pool in pools.en_first)
    first = np.where(zh, np.where(male, male_zh, female_zh), np.where(male, male_en, female_en))
    last = np.where(zh, _pick(rng, pools.zh_last, n), _pick(rng, pools.en_last, n))[people["surname_from"]]
    company = np.where(
        zh,
        city_zh[city] + _pick(rng, pools.zh_company_words, n) + _pick(rng, pools.zh_company_words, n)
        + _pick(rng, pools.zh_company_suffixes, n),
        _pick(rng, pools.en_last, n) + " " + _pick(rng, np.array(_INDUSTRIES, dtype=object), n)
        + " (" + city_en[city] + ") Co., Ltd.",
    )
    legal = np.where(corporate, company, np.where(zh, last + first, first + " " + last))
    first, last = np.where(corporate, "", first), np.where(corporate, "", last)
    kind = np.where(corporate, Customer.Kind.CORPORATE.value, Customer.Kind.INDIVIDUAL.value).astype(object)
    keys = [customer_name_keys(kind=k, first_name=f, last_name=s, legal_name=g)
            for k, f, s, g in zip(kind, first, last, legal, strict=True)]
    body = _national_id_bodies(rng=rng, pools=pools, people=people, province=province[city].astype(np.int64))
    body, national_id = _national_ids_unique(body=body, corporate=corporate)
    home = people["home_from"]
    since, until = people["since_day"], people["until_day"]
    created = np.minimum(np.where(stage == PROSPECT, as_of - rng.integers(1, 120, n), since) * _DAY
                         + rng.integers(3600, 36_000, n), as_of * _DAY - 1)
    columns = {
        "cif": np.array([_cif(bank.seed, start + i) for i in range(n)], dtype=object),
        "kind": kind,
        "first_name": first,
        "last_name": last,
        "legal_name": legal,
        "name_key": np.array([k[0] for k in keys], dtype=object),
        "name_key_reversed": np.array([k[1] for k in keys], dtype=object),
        "national_id_type": np.where(corporate, Customer.IdType.COMPANY_REG.value, Customer.IdType.CN_RIC.value),
        "national_id": national_id,
        "_id_body": body,
        "birth_date": people["birth_day"],
        "gender": np.where(corporate, "", np.where(male, "M", "F")),
        "occupation": np.where(corporate | (rng.random(n) < 0.08), "",
                               np.where(zh, _pick(rng, pools.jobs_zh, n), _pick(rng, pools.jobs_en, n))),
        "marital_status": np.where(corporate, "", np.where(
            people["married"], "married", rng.choice(["single", "divorced", "widowed"], n, p=[0.8, 0.14, 0.06]))),
        "education": np.where(corporate, "", rng.choice(
            ["primary", "secondary", "tertiary", "postgraduate"], n, p=[0.1, 0.4, 0.4, 0.1])),
        **_contact_draw(rng=rng, pools=pools, keys=keys, corporate=corporate, zh=zh, city=city, home=home),
        "home_branch_id": bank.branch_ids[people["branch"]],
        "primary_rm_id": (np.full(n, _NULL) if bank.rm_ids is None
                          else bank.rm_ids[people["branch"], rng.integers(0, 2, n)]),
        "lifecycle_stage": _STAGES[stage],
        "customer_since": since,
        **_preferences_draw(rng=rng, people=people, as_of=as_of, created=created),
        "kyc_review_due": np.where(np.isin(stage, (PROSPECT, CLOSED)), _NULL, np.where(
            rng.random(n) < 0.12, as_of - rng.integers(1, 365, n), as_of + rng.integers(0, 3 * 365, n))),
        "household_id": people["household"],
        "household_role": people["household_role"],
        # Before the as-of day began (UTC): generated in the morning, a contact later "today" would
        # be in the future, and every contact, interaction and campaign call drawn before it too.
        "last_contact_at": np.where((stage == PROSPECT) | (rng.random(n) < 0.3), _NULL, np.minimum(
            np.maximum(since, until - rng.exponential(60, n).astype(np.int64)) * _DAY + rng.integers(0, _DAY, n),
            as_of * _DAY - 1)),
        "attributes": "{}",
        "created_at": created,
        "updated_at": created + (rng.random(n) * (as_of * _DAY - created)).astype(np.int64),
    }
    # The last contact came through the customer's preferred channel, else at the branch.
    contacted, preferred = columns["last_contact_at"] != _NULL, columns["preferred_channel"]
    columns["last_contact_channel"] = np.where(contacted, np.where(preferred == "", "branch", preferred), "")
    return columns


def _contact_draw(
    *, rng: np.random.Generator, pools: _Pools, keys: list[tuple[str, str]], corporate: np.ndarray,
    zh: np.ndarray, city: np.ndarray, home: np.ndarray,
) -> dict[str, np.ndarray]:
    """Phone (E.164), e-mail from the pinyin name, and an address shared within a family."""
    n = len(corporate)
    number = rng.integers(0, 10**8, n).astype(_S)
    prefix = np.strings.add("+86", _pick(rng, _MOBILE_PREFIXES, n).astype(_S))
    phone = np.strings.add(prefix, np.strings.zfill(number, 8))
    domain = np.where(zh, _pick(rng, _EMAIL_DOMAINS_ZH, n), _pick(rng, _EMAIL_DOMAINS_EN, n))
    tail = rng.integers(0, 100, n)
    email = [
        "" if skip else f"finance@{key.replace(' ', '')[:20]}.com.cn" if corp else f"{key.replace(' ', '.')}{t:02d}@{d}"
        for (key, _), corp, d, t, skip in zip(keys, corporate, domain, tail, rng.random(n) < 0.25, strict=True)
    ]
    street = _pick(rng, pools.streets, n) + rng.integers(1, 400, n).astype(str).astype(object) + "号"
    city_zh = np.array([c[1] for c in _BRANCH_CITIES], dtype=object)
    city = np.where(rng.random(n) < 0.9, city, rng.integers(0, len(_BRANCH_CITIES), n))
    postal = np.array([c[4] for c in _BRANCH_CITIES])[city] * 1000 + rng.integers(0, 1000, n)
    return {
        "phone": np.where(rng.random(n) < 0.03, "", phone),
        "email": np.array(email, dtype=object),
        "address_line": street[home],
        "city": city_zh[city][home],
        "postal_code": np.strings.zfill(postal.astype(_S), 6)[home],
        "country": "CN",
    }


def _preferences_draw(
    *, rng: np.random.Generator, people: dict[str, np.ndarray], as_of: int, created: np.ndarray
) -> dict[str, np.ndarray]:
    """Channel, language, interests and marketing consent (given or withdrawn, with when and how)."""
    n, stage, zh = len(created), people["stage"], people["zh"]
    channels = [c.value for c in CONTACT_CHANNELS]
    bits = (rng.random((n, len(_INTERESTS))) < 0.12) @ (1 << np.arange(len(_INTERESTS)))
    interest_sets = np.array(["{" + ",".join(t for b, t in enumerate(_INTERESTS) if mask >> b & 1) + "}"
                              for mask in range(1 << len(_INTERESTS))], dtype=object)
    do_not_contact = rng.random(n) < 0.04
    consent = ~do_not_contact & (stage != CLOSED) & (rng.random(n) < 0.5)
    recorded = consent | ((stage != PROSPECT) & (rng.random(n) < 0.1))  # withdrawn consent keeps its date
    consent_at = created + (rng.random(n) * (as_of * _DAY - created)).astype(np.int64)
    return {
        "preferred_channel": np.where(rng.random(n) < 0.1, "", rng.choice(
            channels, n, p=[0.2, 0.1, 0.08, 0.1, 0.15, 0.35, 0.02])),
        "preferred_contact_time": rng.choice([t.value for t in Customer.ContactTime], n, p=[0.5, 0.15, 0.15, 0.2]),
        "preferred_language": np.where(zh, rng.choice(["zh-hans", "en", ""], n, p=[0.93, 0.03, 0.04]),
                                       rng.choice(["en", "zh-hans", ""], n, p=[0.7, 0.25, 0.05])),
        "interests": interest_sets[bits],
        "marketing_consent": consent,
        "marketing_consent_at": np.where(recorded, consent_at, _NULL),
        "marketing_consent_source": np.where(recorded, rng.choice([s.value for s in Customer.ConsentSource], n), ""),
        "do_not_contact": do_not_contact,
    }

