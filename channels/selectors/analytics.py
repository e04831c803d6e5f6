"""Channel analytics: contact volumes per channel and week, inbound against outbound, and the channel
mix per branch, read from the daily rollup (InteractionDailyCount) only.

The rollup holds at most days × branches × channels × kinds × directions rows, so twelve weeks of
a bank with ten million contacts aggregate a few thousand rows in two grouped queries (the
(day, branch, …) unique index bounds a bank-wide range, the (branch, day) index one branch's).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import DateField, Max, Q, Sum
from django.db.models.functions import Trunc

from channels.models import Interaction, InteractionDailyCount
from crm_bank.org.models import Branch, StaffProfile
from customers.models import TOUCHPOINT_CHANNELS, Channel

DEFAULT_WEEKS = 12


@dataclass(frozen=True)
class BranchMix:
    branch_id: int | None
    code: str
    name: str
    counts: dict[str, int]  # channel → contacts
    total: int

    def percent(self, channel: str) -> float:
        return 100 * self.counts.get(channel, 0) / self.total if self.total else 0.0


@dataclass(frozen=True)
class ChannelAnalytics:
    date_from: datetime.date
    date_to: datetime.date
    weeks: list[datetime.date]  # Mondays, first to last
    channels: list[str]  # the channels with contacts in the range, in the vocabulary's order
    volume: dict[str, list[int]]  # channel → contacts per week (aligned with weeks)
    inbound: list[int]
    outbound: list[int]
    branches: list[BranchMix]  # most contacts first

    @property
    def inbound_total(self) -> int:
        return sum(self.inbound)

    @property
    def outbound_total(self) -> int:
        return sum(self.outbound)

    @property
    def total(self) -> int:
        return self.inbound_total + self.outbound_total

    def week_rows(self) -> list[tuple[datetime.date, list[int], int, int, int]]:
        """(week, contacts per channel, inbound, outbound, total) per week: the table under the charts."""
        return [
            (week, [self.volume[c][i] for c in self.channels], self.inbound[i], self.outbound[i],
             self.inbound[i] + self.outbound[i])
            for i, week in enumerate(self.weeks)
        ]

    def mix_rows(self) -> list[tuple[BranchMix, list[float]]]:
        return [(mix, [mix.percent(c) for c in self.channels]) for mix in self.branches]


def analytics_branches_for(*, profile: StaffProfile) -> tuple[list[Branch], bool]:
    """The branches the user may pick, and whether "all branches" is one of the choices.
    Supervisors see their own branch only; analysts and admins the whole bank."""
    if profile.role == StaffProfile.Role.SUPERVISOR and not profile.is_admin:
        return ([profile.branch] if profile.branch else []), False
    return list(Branch.objects.order_by("code")), True


def _scope(*, branch_ids: list[int] | None, kind: str | None) -> Q:
    scope = Q()
    if branch_ids is not None:
        scope &= Q(branch_id__in=branch_ids)
    if kind:
        scope &= Q(kind=kind)
    return scope


def channel_analytics_latest_day(*, branch_ids: list[int] | None) -> datetime.date | None:
    """The last day with any contact in scope: the demo data is historic, so "now" is no default."""
    return InteractionDailyCount.objects.filter(_scope(branch_ids=branch_ids, kind=None)).aggregate(
        last=Max("day"))["last"]


def channel_analytics_default_range(*, latest: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The DEFAULT_WEEKS calendar weeks (Monday first) ending with the week of `latest`."""
    monday = latest - datetime.timedelta(days=latest.weekday())
    return monday - datetime.timedelta(weeks=DEFAULT_WEEKS - 1), latest


def channel_analytics(
    *, date_from: datetime.date, date_to: datetime.date, branch_ids: list[int] | None = None, kind: str | None = None,
) -> ChannelAnalytics:
    """Weekly volumes per channel and direction, and the channel mix per branch, for the days
    date_from…date_to (bank time zone), the branches given (None: all) and one kind (None: all)."""
    rows = InteractionDailyCount.objects.filter(
        _scope(branch_ids=branch_ids, kind=kind), day__range=(date_from, date_to)).order_by()
    first_monday = date_from - datetime.timedelta(days=date_from.weekday())
    weeks = [first_monday + datetime.timedelta(weeks=n)
             for n in range((date_to - first_monday).days // 7 + 1)]
    position = {week: n for n, week in enumerate(weeks)}
    volume = {channel.value: [0] * len(weeks) for channel in TOUCHPOINT_CHANNELS}
    directions = {direction: [0] * len(weeks) for direction in Interaction.Direction.values}
    weekly = (rows.annotate(week=Trunc("day", "week", output_field=DateField()))
              .values("week", "channel", "direction").annotate(contacts=Sum("count")))
    for row in weekly:
        n = position[row["week"]]
        volume.setdefault(row["channel"], [0] * len(weeks))[n] += row["contacts"]
        directions[row["direction"]][n] += row["contacts"]
    channels = [channel for channel, counts in volume.items() if any(counts)]
    mixes: dict[int | None, BranchMix] = {}
    for row in rows.values("branch_id", "branch__code", "branch__name", "channel").annotate(contacts=Sum("count")):
        mix = mixes.setdefault(row["branch_id"], BranchMix(
            branch_id=row["branch_id"], code=row["branch__code"] or "", name=row["branch__name"] or "",
            counts={}, total=0))
        mix.counts[row["channel"]] = row["contacts"]
    branches = sorted(
        (BranchMix(branch_id=m.branch_id, code=m.code, name=m.name, counts=m.counts, total=sum(m.counts.values()))
         for m in mixes.values()),
        key=lambda m: (-m.total, m.code),
    )
    return ChannelAnalytics(
        date_from=date_from, date_to=date_to, weeks=weeks, channels=channels,
        volume={c: volume[c] for c in channels}, inbound=directions[Interaction.Direction.INBOUND],
        outbound=directions[Interaction.Direction.OUTBOUND], branches=branches,
    )


def channel_analytics_chart_data(*, analytics: ChannelAnalytics, week_labels: list[str],
                                 no_branch_label: str) -> dict:
    """What the page's charts draw (json_script): the same numbers as its tables."""
    labels = dict(Channel.choices)
    return {
        "weeks": week_labels,
        "volume": [{"code": c, "label": str(labels.get(c, c)), "values": analytics.volume[c]}
                   for c in analytics.channels],
        "directions": [
            {"code": code, "label": str(label),
             "values": analytics.inbound if code == Interaction.Direction.INBOUND else analytics.outbound}
            for code, label in Interaction.Direction.choices
        ],
        "branches": [f"{m.code} {m.name}".strip() or no_branch_label for m in analytics.branches],
        "mix": [{"code": c, "label": str(labels.get(c, c)),
                 "values": [round(m.percent(c), 2) for m in analytics.branches]} for c in analytics.channels],
        # One bar per branch: the chart grows with the branches instead of squeezing them.
        "mix_height": 80 + 26 * len(analytics.branches),
    }
