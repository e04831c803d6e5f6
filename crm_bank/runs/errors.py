"""Why a run cannot start: messages fit for a form error or a command's output."""

from __future__ import annotations


class RunError(Exception):
    pass


class RunKindUnknown(RunError):
    pass


class RunParamsInvalid(RunError):
    pass


class RunAlreadyActive(RunError):
    pass
