"""Where readers below the timeline's app (segmentation's feature step) read customers' contacts
with the bank from, without importing the app that keeps them.

Interactions belong to `channels`; segmentation sits beside it in the layers and may neither import
it nor look its models up by name. So the app that keeps the timeline registers an
`InteractionHistorySource` here, from its AppConfig.ready() (channels/interaction_history.py), the
way apps register merge references and retention erasers. With no source there are no contacts.

A source offers one SQL relation, one row per contact, in this vocabulary:

    customer_id   bigint
    occurred_at   timestamptz
    channel       text     a code of customers.models.Channel
    kind          text     'complaint' for a complaint; other kinds are plain contacts
    direction     text     'inbound' (the customer came to the bank) or 'outbound'

The relation takes no parameters and must stay a plain SELECT (no GROUP BY, DISTINCT or LIMIT):
PostgreSQL then pushes a reader's customer range and dates into it, down to an index.
"""

from __future__ import annotations

from typing import Protocol

from crm_bank.registries import SingleSource

INTERACTION_COLUMNS = ("customer_id", "occurred_at", "channel", "kind", "direction")


class InteractionHistorySource(Protocol):
    name: str

    def interactions_sql(self) -> str:
        """A SELECT with INTERACTION_COLUMNS (see the module docstring), without parameters."""


_timeline: SingleSource[InteractionHistorySource] = SingleSource("An interaction history")


def interaction_history_register(source: InteractionHistorySource) -> None:
    """Called once from the timeline app's AppConfig.ready()."""
    _timeline.register(source)


def interaction_history_unregister() -> InteractionHistorySource | None:
    """For tests that run without a timeline; returns the source to register again."""
    return _timeline.unregister()


def interactions_sql() -> str | None:
    """The registered source's relation, or None when no app keeps a timeline."""
    return None if _timeline.source is None else _timeline.source.interactions_sql()
