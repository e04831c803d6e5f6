"""Checks every run kind's `clean_params` makes: no unknown names, a whole chunk size."""

from __future__ import annotations

from collections.abc import Iterable

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
