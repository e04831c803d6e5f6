"""The registry through which the feature step reads the interaction timeline (customers.interaction_history)."""

from __future__ import annotations

import pytest

from customers import interaction_history


class OtherTimeline:
    name = "elsewhere"

    def interactions_sql(self) -> str:
        return "SELECT 1"


def test_the_channels_app_registers_the_timeline_as_a_plain_select():
    sql = interaction_history.interactions_sql()

    assert sql is not None and sql.lstrip().upper().startswith("SELECT")
    for column in interaction_history.INTERACTION_COLUMNS:
        assert column in sql
    assert "GROUP BY" not in sql.upper()  # a reader's range must reach the customer index


def test_a_second_timeline_is_refused_and_the_first_stays():
    before = interaction_history.interactions_sql()

    with pytest.raises(ValueError, match="already registered"):
        interaction_history.interaction_history_register(OtherTimeline())

    assert interaction_history.interactions_sql() == before


def test_without_a_source_there_is_no_timeline():
    source = interaction_history.interaction_history_unregister()
    try:
        assert interaction_history.interactions_sql() is None
    finally:
        interaction_history.interaction_history_register(source)
