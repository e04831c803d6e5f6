"""What every draw takes: the bank's fixed figures and the Faker pools, made once per run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from faker import Faker
from stdnum import numdb


@dataclass(frozen=True)
class _Bank:
    seed: int
    as_of_day: int  # days since 1970-01-01
    transactions_per_customer: float
    branch_ids: np.ndarray
    rm_ids: np.ndarray | None  # (branch, 2) user ids
    product_ids: np.ndarray  # by the _PRODUCTS position
    interactions_per_customer: float = 0.0  # mean contacts of a contacted customer, before the last one


@dataclass(frozen=True)
class _Pools:
    """Faker's draws, made once per run and sampled with numpy (Faker per row is too slow)."""

    zh_last: np.ndarray
    zh_first: tuple[np.ndarray, np.ndarray]  # (female, male)
    en_last: np.ndarray
    en_first: tuple[np.ndarray, np.ndarray]
    zh_company_words: np.ndarray
    zh_company_suffixes: np.ndarray
    streets: np.ndarray
    jobs_zh: np.ndarray
    jobs_en: np.ndarray
    area_codes: np.ndarray  # county codes valid in every year, sorted
    area_bounds: dict[int, tuple[int, int]]  # province → slice of area_codes



def _pools_build(*, seed: int) -> _Pools:
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    rng = np.random.default_rng([seed, 0xFA])

    def draw(method: Callable[[], str], count: int) -> np.ndarray:
        return np.array([_copy_escape(method()) for _ in range(count)], dtype=object)

    def zh_given(method: Callable[[], str]) -> np.ndarray:
        # Faker knows ~60 given names per sex; two characters from them give a realistic spread.
        names = draw(method, 1000)
        chars = np.array(sorted(set("".join(names))), dtype=object)
        return np.concatenate([names, rng.choice(chars, 1000) + rng.choice(chars, 1000)])

    codes = sorted(
        int(province + county)
        for _, province, _, _, children in numdb.get("cn/loc").prefixes
        for _, county, high, props, _ in children
        # A county code valid in every year keeps any birth year valid (stdnum checks both).
        if county == high and not county.endswith("00") and not props.get("county", "[").startswith("[")
    )
    area_codes = np.array(codes, dtype=np.int64)
    provinces = area_codes // 10_000
    bounds = {int(p): (int(np.searchsorted(provinces, p)), int(np.searchsorted(provinces, p, "right")))
              for p in np.unique(provinces)}
    return _Pools(
        zh_last=draw(zh.last_name, 5000),
        zh_first=(zh_given(zh.first_name_female), zh_given(zh.first_name_male)),
        en_last=draw(en.last_name, 3000),
        en_first=(draw(en.first_name_female, 2000), draw(en.first_name_male, 2000)),
        zh_company_words=draw(zh.company_prefix, 400),
        zh_company_suffixes=draw(zh.company_suffix, 100),
        streets=draw(zh.street_address, 5000),
        jobs_zh=np.array([j[:60] for j in draw(zh.job, 500)], dtype=object),
        jobs_en=np.array([j[:60] for j in draw(en.job, 500)], dtype=object),
        area_codes=area_codes,
        area_bounds=bounds,
    )


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _pick(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), count)]

