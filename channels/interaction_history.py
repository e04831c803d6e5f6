"""The channels app's interaction timeline, in the vocabulary segmentation's feature step reads
(customers/interaction_history.py). Registered from ChannelsConfig.ready()."""

from __future__ import annotations

from channels.models import Interaction
from crm_bank.bulk import quoted_table


class InteractionTimeline:
    name = "channels"

    def interactions_sql(self) -> str:
        """Every stored interaction; a plain SELECT, so the reader's range reaches the customer index."""
        return f"""SELECT customer_id, occurred_at, channel, kind, direction
            FROM {quoted_table(Interaction)}"""
