"""National IDs: Chinese resident IDs and unified social credit codes, unique within a segment."""

from __future__ import annotations

import numpy as np
from stdnum.cn import uscc

from customers.generation.constants import _S
from customers.generation.inputs import _Pools

_RIC_WEIGHTS = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)
_RIC_POWERS = 10 ** np.arange(16, -1, -1, dtype=np.int64)
_RIC_CHECK_CHARS = np.array(list("0123456789X"), dtype=_S)
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, inside a USCC


def _national_id_bodies(
    *, rng: np.random.Generator, pools: _Pools, people: dict[str, np.ndarray], province: np.ndarray
) -> np.ndarray:
    """Resident IDs without the check digit, or a company's area code and organisation number.

    A resident ID is area (6) + birth date (8) + sequence (3, odd for men): most customers were
    born in their branch's province.
    """
    n = len(province)
    low, high = (np.array([pools.area_bounds.get(int(p), (0, 0))[k] for p in province]) for k in (0, 1))
    local = (rng.random(n) < 0.7) & (high > low)
    area = pools.area_codes[np.where(
        local, low + (rng.random(n) * (high - low)).astype(np.int64), rng.integers(0, len(pools.area_codes), n))]
    born = np.where(people["corporate"], 0, people["birth_day"]).astype("datetime64[D]")
    year = born.astype("datetime64[Y]").astype(np.int64) + 1970
    month = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    sequence = rng.integers(0, 500, n) * 2 + people["male"]
    resident = area * 10**11 + (year * 10_000 + month * 100 + day) * 1000 + sequence
    return np.where(people["corporate"], area * 10**8 + rng.integers(0, 10**8, n), resident)


def _national_ids_unique(
    *, body: np.ndarray, corporate: np.ndarray, taken: frozenset[str] | set[str] = frozenset()
) -> tuple[np.ndarray, np.ndarray]:
    """Bumps the sequence number of IDs that repeat within the segment or are `taken`."""
    while True:
        text = _national_id_text(body=body, corporate=corporate)
        _, first = np.unique(text, return_index=True)
        clash = np.ones(len(text), dtype=bool)
        clash[first] = False
        if taken:
            clash |= np.array([t in taken for t in text.tolist()], dtype=bool)
        if not clash.any():
            return body, text.astype(object)
        bumped = np.where(corporate, body - body % 10**8 + (body % 10**8 + 1) % 10**8,
                          body - body % 1000 + (body % 1000 + 2) % 1000)  # keeps the sex digit's parity
        body = np.where(clash, bumped, body)


def _national_id_text(*, body: np.ndarray, corporate: np.ndarray) -> np.ndarray:
    text = np.full(len(body), "", dtype=_S)
    resident = body[~corporate]
    check = (12 - ((resident[:, None] // _RIC_POWERS % 10) @ _RIC_WEIGHTS) % 11) % 11  # ISO 7064 MOD 11-2
    text[~corporate] = np.strings.add(resident.astype(_S), _RIC_CHECK_CHARS[check])
    text[corporate] = [_uscc(int(b)) for b in body[corporate]]
    return text


def _uscc(body: int) -> str:
    """A unified social credit code: 91 (enterprise) + area + organisation code + check."""
    area, organisation = divmod(body, 10**8)
    digits = f"{organisation:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, _ORG_CODE_WEIGHTS, strict=True)) % 11
    code = f"91{area:06d}{digits}{'X' if check == 10 else check % 11}"
    return code + uscc.calc_check_digit(code)

