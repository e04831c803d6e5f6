"""A slot that one app fills for readers in the layers below it.

An app low in the layers (segmentation, customers) may need data an app above or beside it keeps
(campaign contacts, the interaction timeline) without importing it. The keeping app registers a
source object from its AppConfig.ready(); the reader asks the slot. One source per slot: a second,
different one is a programming error (two apps cannot both keep the same history).
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class NamedSource(Protocol):
    name: str


SourceT = TypeVar("SourceT", bound=NamedSource)


class SingleSource(Generic[SourceT]):
    def __init__(self, what: str) -> None:
        self.what = what  # "A contact history", for the error message
        self._source: SourceT | None = None

    @property
    def source(self) -> SourceT | None:
        return self._source

    def register(self, source: SourceT) -> None:
        if self._source is not None and self._source.name != source.name:
            raise ValueError(f"{self.what} source ({self._source.name!r}) is already registered.")
        self._source = source

    def unregister(self) -> SourceT | None:
        """For tests that run without a source; returns the source to register again."""
        source, self._source = self._source, None
        return source
