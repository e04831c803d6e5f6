"""Choice labels translated once per language, not once per row."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import get_language


class ChoiceLabels:
    """The labels of a set of choices as plain text in the active language.

    A lazy label costs a gettext call (about 5 µs) each time it is turned into text, and a page of
    rows turns the same few labels into text a hundred times (150 such calls on a 360° page). Each
    language's labels are translated on first use and kept: `current()` is a plain dict.
    """

    def __init__(self, choices: Iterable[tuple[str, object]]) -> None:
        self._choices = tuple(choices)
        self._by_language: dict[str | None, dict[str, str]] = {}

    def current(self) -> dict[str, str]:
        language = get_language()
        labels = self._by_language.get(language)
        if labels is None:
            labels = {value: str(label) for value, label in self._choices}
            self._by_language[language] = labels
        return labels

    def get(self, value: str, default: str | None = None) -> str | None:
        return self.current().get(value, default)
