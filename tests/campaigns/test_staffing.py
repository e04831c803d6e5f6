"""Erlang C against published table values, and the staffing advice built on it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.staffing import (
    agents_needed,
    average_speed_of_answer,
    erlang_c,
    offered_load,
    service_level,
    staffing_advice,
    staffing_plan,
)


@pytest.mark.parametrize(("agents", "waits"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741), (15, 0.1020)])
def test_erlang_c_matches_the_published_table_for_ten_erlangs(agents, waits):
    assert erlang_c(agents, 10.0) == pytest.approx(waits, abs=5e-5)


def test_the_classic_call_centre_example():
    """200 calls an hour of 3 minutes each is 10 erlangs; 80 % within 20 s needs 14 agents (13 give 79.6 %)."""
    load = offered_load(arrivals_per_hour=200, handling_seconds=180)
    assert load == pytest.approx(10.0)
    assert service_level(13, load, handling_seconds=180, answer_seconds=20) == pytest.approx(0.7956, abs=5e-4)
    assert service_level(14, load, handling_seconds=180, answer_seconds=20) == pytest.approx(0.8884, abs=5e-4)
    assert average_speed_of_answer(14, load, handling_seconds=180) == pytest.approx(7.8, abs=0.05)
    assert agents_needed(arrivals_per_hour=200, handling_seconds=180, target=0.8, answer_seconds=20) == 14


@given(load=st.floats(0.1, 200), extra=st.integers(1, 40))
def test_erlang_c_agrees_with_the_factorial_formula_and_falls_as_agents_are_added(load, extra):
    agents = math.floor(load) + extra
    if load < 50 and agents <= 120:  # the direct formula overflows beyond
        top = load ** agents / math.factorial(agents) * agents / (agents - load)
        direct = top / (sum(load ** k / math.factorial(k) for k in range(agents)) + top)
        assert erlang_c(agents, load) == pytest.approx(direct, rel=1e-9, abs=1e-12)
    assert erlang_c(agents + 1, load) <= erlang_c(agents, load)


def test_an_overloaded_or_idle_channel():
    assert erlang_c(5, 5.0) == 1.0 and service_level(5, 5.0, handling_seconds=60, answer_seconds=20) == 0.0
    assert math.isinf(average_speed_of_answer(4, 5.0, handling_seconds=60))
    assert agents_needed(arrivals_per_hour=0, handling_seconds=300) == 0
    assert erlang_c(1, 0.0) == 0.0


@pytest.mark.parametrize("bad", [{"target": 1.0}, {"target": 0}, {"handling_seconds": 0}, {"arrivals_per_hour": -1}])
def test_bad_figures_are_refused(bad):
    arguments = {"arrivals_per_hour": 100, "handling_seconds": 180, "target": 0.8} | bad
    with pytest.raises(ValueError):
        agents_needed(**arguments)


def test_advice_says_where_to_add_and_where_people_could_move():
    forecast = {("call_centre", 14): 200, ("call_centre", 15): 200, ("call_centre", 16): 60,
                ("branch", 14): 12}
    roster = {("call_centre", 14): 12, ("call_centre", 15): 12, ("call_centre", 16): 12, ("branch", 14): 3}
    plan = staffing_plan(forecast=forecast, roster=roster, handling_seconds={"call_centre": 180, "branch": 600})
    needed = {(line.channel, line.hour): line.needed for line in plan}
    assert needed[("call_centre", 14)] == 14 and needed[("call_centre", 16)] == 5  # 3 erlangs
    assert needed[("branch", 14)] == 4  # 12 visits of 10 minutes: 2 erlangs
    advice = staffing_advice(plan)
    assert [(a.channel, a.hours, a.gap) for a in advice] == [
        ("call_centre", "14:00–16:00", 2), ("branch", "14:00–15:00", 1), ("call_centre", "16:00–17:00", -7)]
    short = next(line for line in plan if (line.channel, line.hour) == ("call_centre", 14))
    assert short.service_level < 0.8  # what the roster gives, the reason for the advice


def test_the_forecast_is_last_weeks_profile_times_the_recent_trend():
    import datetime as dt

    from campaigns.staffing import arrivals_forecast

    now = dt.datetime(2026, 11, 30, 14, 20, tzinfo=dt.UTC)
    hourly = {}
    for back in range(1, 8):  # every day of last week: 10 calls at 11–13 h, 40 at 14 h, 20 at 15 h
        day = now.replace(minute=0) - dt.timedelta(days=back)
        hourly |= {day.replace(hour=h): 10 for h in (11, 12, 13)} | {day.replace(hour=14): 40, day.replace(hour=15): 20}
    hourly |= {now.replace(minute=0, hour=h): 15 for h in (11, 12, 13)}  # today runs 50 % above the profile
    forecast = arrivals_forecast(hourly=hourly, now=now, hours_ahead=2)
    assert forecast == {now.replace(minute=0): pytest.approx(60.0), now.replace(minute=0, hour=15): pytest.approx(30.0)}
    quiet = arrivals_forecast(hourly={}, now=now, hours_ahead=1)
    assert quiet == {now.replace(minute=0): 0.0}


def test_a_campaign_without_a_week_of_history_forecasts_its_latest_rate():
    import datetime as dt

    from campaigns.staffing import arrivals_forecast

    hour = dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)
    first_day = {hour - dt.timedelta(hours=1): 30, hour: 50}  # launched an hour ago: 50 calls in 20 minutes
    forecast = arrivals_forecast(hourly=first_day, now=hour + dt.timedelta(minutes=20), hours_ahead=2)
    assert forecast == {hour: pytest.approx(150.0), hour + dt.timedelta(hours=1): pytest.approx(150.0)}
    # Five minutes into the hour say too little: the last complete hour's 30 go on.
    early = arrivals_forecast(hourly=first_day, now=hour + dt.timedelta(minutes=5), hours_ahead=1)
    assert early == {hour: pytest.approx(30.0)}


@pytest.mark.django_db
def test_the_war_room_advises_against_the_roster(running, settings):
    import datetime as dt

    from django.utils import timezone

    from campaigns.dashboard import campaign_staffing
    from campaigns.models import CampaignHourlyCount, StaffRoster

    settings.CRM_CHANNEL_HANDLING_SECONDS = {"call_centre": 180}
    now = timezone.localtime()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(1, 8):  # 200 inbound calls in this hour of day all last week
        CampaignHourlyCount.objects.create(campaign=running, hour=hour - dt.timedelta(days=back), channel="call_centre",
                                           kind="enquiry", direction="inbound", events=200)
    StaffRoster.objects.create(channel="call_centre", hour=hour.hour, agents=12)
    staffing = campaign_staffing(campaign=running, now=now, hours_ahead=1)
    (line,) = staffing.plan
    assert (line.arrivals, line.rostered, line.needed) == (200.0, 12, 14)  # the classic 10 erlangs, 80/20
    assert [(item.channel, item.gap) for item in staffing.advice] == [("call_centre", 2)]
