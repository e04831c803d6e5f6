"""Checks every run kind's `clean_params` makes: no unknown names, a whole chunk size; and the
as-of date every run is asked for."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.runs.errors import RunParamsInvalid


def params_unknown_refuse(params: dict, *, allowed: Iterable[str]) -> None:
    """RunParamsInvalid naming every parameter the kind does not take."""
    unknown = set(params) - set(allowed)
    if unknown:
        raise RunParamsInvalid(_("Unknown parameters: %(names)s") % {"names": ", ".join(sorted(unknown))})


def params_chunk_size(params: dict, *, default: int, minimum: int = 1, message: str = "") -> int:
    """`params["chunk_size"]` (or `default`) as a whole number of at least `minimum`; otherwise
    RunParamsInvalid with `message` (by default: at least 1)."""
    try:
        chunk_size = int(params.get("chunk_size", default))
    except (TypeError, ValueError):
        chunk_size = minimum - 1
    if chunk_size < minimum:
        raise RunParamsInvalid(message or _("The chunk size must be at least 1."))
    return chunk_size


# No bank data this system holds is older. Dates far outside (year 1, 9999-12-31) also broke the
# runs' date arithmetic (a year before year 1, a day after the last) with a server error.
EARLIEST_AS_OF = datetime.date(1900, 1, 1)


def as_of_check(as_of: datetime.date | None) -> None:
    """RunParamsInvalid for an as-of date before EARLIEST_AS_OF or after today (a run describes
    what the bank knew on a day that has come); None (the kind's default date) passes."""
    if as_of is None:
        return
    today = timezone.localdate()
    if not EARLIEST_AS_OF <= as_of <= today:
        raise RunParamsInvalid(
            _("The as-of date must lie between %(earliest)s and today (%(today)s), not %(date)s.")
            % {"earliest": EARLIEST_AS_OF.isoformat(), "today": today.isoformat(), "date": as_of.isoformat()}
        )


# The random generators the learned runs seed (numpy's, scikit-learn's) take 0 to 2**32 - 1; a larger
# seed failed only in the run's last step, after every chunk had been computed.
MAX_SEED = 2**32 - 1


def seed_check(seed: int) -> None:
    """RunParamsInvalid for a seed outside 0 … MAX_SEED."""
    if not 0 <= seed <= MAX_SEED:
        raise RunParamsInvalid(_("The seed must be a whole number from 0 to %(max)s.") % {"max": MAX_SEED})
