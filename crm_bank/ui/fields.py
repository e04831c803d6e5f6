"""Form fields for the short choice lists of list filters (branches, RMs)."""

from __future__ import annotations

from collections.abc import Iterator

from django.forms import ModelChoiceField
from django.forms.models import ModelChoiceIterator

from crm_bank.ui.widgets import QuickSelect


class ListedChoiceIterator(ModelChoiceIterator):
    """Reads the choices with one plain query.

    Django's iterator uses `queryset.iterator()`, which on PostgreSQL opens a server-side cursor
    (DECLARE, FETCH, CLOSE: three round trips, WITH HOLD outside a transaction) for every
    rendering of the select; for a few dozen rows that was most of a filter's cost.
    """

    def __iter__(self) -> Iterator[tuple]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ListedModelChoiceField(ModelChoiceField):
    iterator = ListedChoiceIterator
    widget = QuickSelect
