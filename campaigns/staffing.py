"""How many people a channel needs in an hour, by the Erlang C queueing model, and where to add or
move staff against the roster (the war room's staffing advice). Pure functions, no database.

Erlang C models a queue with Poisson arrivals, exponential handling times and N interchangeable
agents (M/M/N): with λ arrivals per hour and an average handling time h, the offered load is
A = λ·h erlangs; the chance that a caller waits is C(N, A); the service level — the share answered
within t seconds — is 1 − C(N, A)·exp(−(N − A)·t / h); the average speed of answer is
C(N, A)·h / (N − A). N must exceed A, or the queue grows without end.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_AGENTS = 10_000


def offered_load(*, arrivals_per_hour: float, handling_seconds: float) -> float:
    """Erlangs: arrivals per hour × average handling time in hours."""
    if arrivals_per_hour < 0 or handling_seconds <= 0:
        raise ValueError("arrivals must be ≥ 0 and the handling time > 0")
    return arrivals_per_hour * handling_seconds / 3600


def erlang_c(agents: int, load: float) -> float:
    """The probability that an arrival waits, with `agents` agents and `load` erlangs (1 when the
    agents cannot keep up, agents ≤ load). Through the Erlang B recursion, which stays stable for
    thousands of agents where factorials overflow."""
    if agents <= 0:
        raise ValueError("agents must be positive")
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return agents * blocking / (agents - load * (1 - blocking))


def service_level(agents: int, load: float, *, handling_seconds: float, answer_seconds: float) -> float:
    """The share of arrivals answered within `answer_seconds`."""
    if load <= 0:
        return 1.0
    if agents <= load:
        return 0.0
    return 1 - erlang_c(agents, load) * math.exp(-(agents - load) * answer_seconds / handling_seconds)


def average_speed_of_answer(agents: int, load: float, *, handling_seconds: float) -> float:
    """Seconds an arrival waits on average (infinite when the agents cannot keep up)."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return math.inf
    return erlang_c(agents, load) * handling_seconds / (agents - load)


def agents_needed(*, arrivals_per_hour: float, handling_seconds: float, target: float = 0.8,
                  answer_seconds: float = 20) -> int:
    """The fewest agents that answer `target` of arrivals within `answer_seconds` (0 for no arrivals)."""
    if not 0 < target < 1:
        raise ValueError("the service-level target is a share between 0 and 1")
    load = offered_load(arrivals_per_hour=arrivals_per_hour, handling_seconds=handling_seconds)
    if load == 0:
        return 0
    agents = max(1, math.floor(load) + 1)
    while service_level(agents, load, handling_seconds=handling_seconds, answer_seconds=answer_seconds) < target:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError("more than 10,000 agents: check the arrivals and the handling time")
    return agents


@dataclass(frozen=True, slots=True)
class ChannelHour:
    """One channel's hour: forecast arrivals, the people rostered, and what the model says."""

    channel: str
    hour: int
    arrivals: float
    rostered: int
    needed: int
    service_level: float  # with the rostered people

    @property
    def gap(self) -> int:
        """People to add (> 0) or that could move elsewhere (< 0)."""
        return self.needed - self.rostered


@dataclass(frozen=True, slots=True)
class Advice:
    """Consecutive hours of one channel with the same gap: "call centre: +2 agents 14:00–16:00"."""

    channel: str
    first_hour: int
    last_hour: int  # inclusive
    gap: int

    @property
    def hours(self) -> str:
        return f"{self.first_hour:02d}:00–{(self.last_hour + 1) % 24:02d}:00"


def staffing_plan(
    *, forecast: Mapping[tuple[str, int], float], roster: Mapping[tuple[str, int], int],
    handling_seconds: Mapping[str, float], target: float = 0.8, answer_seconds: float = 20,
) -> list[ChannelHour]:
    """Each (channel, hour) of the forecast (arrivals) with the people the roster gives it and the
    people Erlang C says it needs for the target."""
    plan = []
    for (channel, hour), arrivals in sorted(forecast.items()):
        handling = handling_seconds[channel]
        load = offered_load(arrivals_per_hour=arrivals, handling_seconds=handling)
        rostered = roster.get((channel, hour), 0)
        plan.append(ChannelHour(
            channel=channel, hour=hour, arrivals=arrivals, rostered=rostered,
            needed=agents_needed(arrivals_per_hour=arrivals, handling_seconds=handling, target=target,
                                 answer_seconds=answer_seconds),
            service_level=service_level(rostered, load, handling_seconds=handling, answer_seconds=answer_seconds)
            if rostered else (1.0 if load == 0 else 0.0),
        ))
    return plan


def staffing_advice(plan: Iterable[ChannelHour]) -> list[Advice]:
    """Runs of consecutive hours per channel that need people added or could spare some, the
    biggest shortfalls first; hours that are staffed right give no advice."""
    advice: list[Advice] = []
    for line in sorted(plan, key=lambda line: (line.channel, line.hour)):
        if line.gap == 0:
            continue
        last = advice[-1] if advice else None
        if last and last.channel == line.channel and last.last_hour + 1 == line.hour and last.gap == line.gap:
            advice[-1] = Advice(last.channel, last.first_hour, line.hour, last.gap)
        else:
            advice.append(Advice(line.channel, line.hour, line.hour, line.gap))
    return sorted(advice, key=lambda item: (-item.gap, item.channel, item.first_hour))


# The current hour's count says something about its rate once this many minutes have passed.
MIN_MINUTES_FOR_RATE = 10


def arrivals_forecast(
    *, hourly: Mapping[datetime.datetime, int], now: datetime.datetime, hours_ahead: int = 4, days: int = 7,
    trend_hours: int = 3,
) -> dict[datetime.datetime, float]:
    """Arrivals expected in each of the next `hours_ahead` hours (keyed by the hour's start): the
    mean of the same hour of day over the last `days` days (the profile), times the campaign's
    recent trend — the arrivals of the last `trend_hours` hours over what the profile expected for
    them (1 when it expected none). `hourly`: arrivals by hour start, in any time zone.

    A campaign in its first day has no profile for these hours: then the latest rate goes on — the
    current hour's arrivals per hour so far (once MIN_MINUTES_FOR_RATE have passed), else the last
    complete hour's — which is what a supervisor watching the first surge would assume."""
    current = now.replace(minute=0, second=0, microsecond=0)
    counts = {moment.astimezone(now.tzinfo).replace(minute=0, second=0, microsecond=0): n
              for moment, n in hourly.items()}

    def profile(hour_start: datetime.datetime) -> float:
        return sum(counts.get(hour_start - datetime.timedelta(days=back), 0) for back in range(1, days + 1)) / days

    recent = [current - datetime.timedelta(hours=back) for back in range(1, trend_hours + 1)]
    coming = [current + datetime.timedelta(hours=ahead) for ahead in range(hours_ahead)]
    if not any(profile(hour) for hour in recent + coming):
        elapsed_minutes = (now - current).total_seconds() / 60
        if elapsed_minutes >= MIN_MINUTES_FOR_RATE:
            level = counts.get(current, 0) * 60 / elapsed_minutes
        else:
            level = float(counts.get(recent[0], 0))
        return {hour: level for hour in coming}
    expected = sum(profile(hour) for hour in recent)
    trend = sum(counts.get(hour, 0) for hour in recent) / expected if expected else 1.0
    return {hour: profile(hour) * trend for hour in coming}
