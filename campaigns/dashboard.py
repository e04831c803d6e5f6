"""What the campaign war room shows, read from small tables only: the hourly event counts
(campaigns.events), the targeting run's groups, the campaign contacts, and product uptake of the
treatment and control groups.

Uplift compares the share of each group that took the product since the campaign started (an
account of the campaign's product opened on or after the start date) — the one measure both groups
have, since the control group is never contacted — with its 95 % confidence interval (normal
approximation of the difference of two proportions).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact, CampaignHourlyCount, CampaignTarget
from crm_bank.bulk import quoted_table
from customers.models import Account, AccountHolder

Z_95 = 1.959963984540054
RESPONDED = (CampaignContact.Outcome.INTERESTED, CampaignContact.Outcome.CALL_BACK, CampaignContact.Outcome.ACCEPTED)


@dataclass(frozen=True, slots=True)
class Uplift:
    treated: int
    treated_converted: int
    control: int
    control_converted: int

    @property
    def treated_rate(self) -> float | None:
        return self.treated_converted / self.treated if self.treated else None

    @property
    def control_rate(self) -> float | None:
        return self.control_converted / self.control if self.control else None

    @property
    def difference(self) -> float | None:
        if self.treated_rate is None or self.control_rate is None:
            return None
        return self.treated_rate - self.control_rate

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % confidence interval of the difference (None without both groups)."""
        if self.difference is None:
            return None
        p_t, p_c = self.treated_rate, self.control_rate
        error = math.sqrt(p_t * (1 - p_t) / self.treated + p_c * (1 - p_c) / self.control)
        return self.difference - Z_95 * error, self.difference + Z_95 * error


@dataclass(frozen=True, slots=True)
class Funnel:
    targeted: int
    contacted: int
    responded: int
    converted: int


@dataclass(frozen=True, slots=True)
class Spend:
    spent: float
    budget: float | None
    converted: int

    @property
    def burn(self) -> float | None:
        return self.spent / self.budget if self.budget else None

    @property
    def per_conversion(self) -> float | None:
        return self.spent / self.converted if self.converted else None


def events_per_hour(*, campaign: Campaign, hours: int = 48, now: datetime.datetime | None = None,
                    ) -> tuple[list[datetime.datetime], dict[str, list[int]], int, int]:
    """The last `hours` hours: their starts, events per channel per hour, and the totals of events
    and conversions over them. One query over the hourly counts."""
    now = (now or timezone.now()).astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    starts = [now - datetime.timedelta(hours=hours - 1 - n) for n in range(hours)]
    rows = (CampaignHourlyCount.objects.filter(campaign=campaign, hour__gte=starts[0])
            .values("hour", "channel").annotate(n=Sum("events"), c=Sum("conversions")).order_by())
    index = {start: position for position, start in enumerate(starts)}
    series: dict[str, list[int]] = {}
    events = conversions = 0
    for row in rows:
        position = index.get(row["hour"].astimezone(datetime.UTC))
        if position is None:
            continue
        series.setdefault(row["channel"], [0] * hours)[position] += row["n"]
        events, conversions = events + row["n"], conversions + row["c"]
    return starts, dict(sorted(series.items())), events, conversions


def targeting_group_sizes(campaign: Campaign) -> dict[str, int]:
    """The targeting run's group sizes, from its metrics (no count over its targets)."""
    run = campaign.targeting_run  # the view selects it with the campaign
    return (run.metrics or {}).get("counts", {}) if run is not None else {}


def campaign_funnel_and_spend(*, campaign: Campaign, group_sizes: dict[str, int] | None = None
                              ) -> tuple[Funnel, Spend]:
    """The funnel (targeted → contacted → responded → converted) and what the contacts so far cost
    (each contact's attempts × its channel's cost per contact): one pass over the campaign's
    contacts, grouped by channel."""
    sizes = targeting_group_sizes(campaign) if group_sizes is None else group_sizes
    by_channel = (CampaignContact.objects.filter(campaign=campaign).values("channel").order_by()
                  .annotate(tries=Sum("attempts"), contacted=Count("pk", filter=Q(attempts__gt=0)),
                            responded=Count("pk", filter=Q(outcome__in=RESPONDED)),
                            converted=Count("pk", filter=Q(outcome=CampaignContact.Outcome.ACCEPTED))))
    costs = {channel: float(cost) for channel, cost in (campaign.contact_costs or {}).items()}
    contacted = responded = converted = 0
    spent = 0.0
    for row in by_channel:
        contacted, responded, converted = (contacted + row["contacted"], responded + row["responded"],
                                           converted + row["converted"])
        spent += costs.get(row["channel"], 0.0) * (row["tries"] or 0)
    funnel = Funnel(sizes.get(CampaignTarget.Group.TREATMENT, 0), contacted, responded, converted)
    return funnel, Spend(spent, float(campaign.budget) if campaign.budget is not None else None, converted)


def campaign_uplift(*, campaign: Campaign, group_sizes: dict[str, int] | None = None) -> Uplift:
    """Product uptake since the start in the treatment and the control group (module docstring):
    the groups' sizes from the targeting run's metrics, the takers from the accounts of the product
    opened since the start (few), each looked up in the targets by primary key."""
    if not campaign.targeting_run_id or not campaign.product_id:
        return Uplift(0, 0, 0, 0)
    sizes = targeting_group_sizes(campaign) if group_sizes is None else group_sizes
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT t."group", count(*) FROM (
                    SELECT DISTINCT h.customer_id FROM {quoted_table(Account)} a
                    JOIN {quoted_table(AccountHolder)} h ON h.account_id = a.id
                    WHERE a.product_id = %s AND a.opened_on >= %s) took
                JOIN {quoted_table(CampaignTarget)} t ON t.run_id = %s AND t.customer_id = took.customer_id
                WHERE t."group" IN ('treatment', 'control') GROUP BY 1""",
            [campaign.product_id, campaign.starts_on, campaign.targeting_run_id],
        )
        took = dict(cursor.fetchall())
    return Uplift(sizes.get("treatment", 0), took.get("treatment", 0), sizes.get("control", 0),
                  took.get("control", 0))


# A branch or segment is ranked once this many of its targets have been contacted (fewer say nothing).
LEADERS_MIN_CONTACTED = 10
LEADERS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Contacts and conversions of one group of a campaign's targets: a branch or segment so far (the
    war room), or a month, tier, segment or previous outcome (a closed campaign's results)."""

    key: object
    label: str
    contacted: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.contacted if self.contacted else 0.0

    @property
    def percent(self) -> float:
        return round(100 * self.rate, 1)


@dataclass(frozen=True, slots=True)
class Leaders:
    """The best and worst branches and learned segments so far, by conversion of the contacted."""

    best_branches: list[GroupResult]
    worst_branches: list[GroupResult]
    best_segments: list[GroupResult]
    worst_segments: list[GroupResult]
    unranked: int  # branches and segments with fewer than LEADERS_MIN_CONTACTED contacted


def _best_and_worst(groups: list[GroupResult]) -> tuple[list[GroupResult], list[GroupResult]]:
    ranked = sorted(groups, key=lambda g: (-g.rate, -g.contacted, g.label))
    best = ranked[:LEADERS_SHOWN]
    worst = [group for group in reversed(ranked[len(best):])][:LEADERS_SHOWN]
    return best, worst


def campaign_leaders(*, campaign: Campaign) -> Leaders:
    """Per branch and per learned segment (of the segmentation the targeting read): the targets
    contacted and converted so far, the best and worst few of those contacted often enough to
    judge. Reads the campaign's contacts (one per customer reached) with their targets and
    memberships by primary key."""
    from crm_bank.org.models import Branch
    from segmentation.models import LearnedSegment, SegmentMembership, segment_label

    run = campaign.targeting_run
    if run is None:
        return Leaders([], [], [], [], 0)
    segment_run = int((run.params or {}).get("segment_run") or 0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT GROUPING(t.branch_id), t.branch_id, m.segment,
                       count(*) FILTER (WHERE k.attempts > 0), count(*) FILTER (WHERE k.outcome = %(accepted)s)
                FROM {quoted_table(CampaignContact)} k
                JOIN {quoted_table(CampaignTarget)} t ON t.run_id = %(run)s AND t.customer_id = k.customer_id
                LEFT JOIN {quoted_table(SegmentMembership)} m ON m.run_id = %(segment_run)s
                    AND m.customer_id = k.customer_id
                WHERE k.campaign_id = %(campaign)s
                GROUP BY GROUPING SETS ((t.branch_id), (m.segment))""",
            {"run": run.pk, "segment_run": segment_run, "campaign": campaign.pk,
             "accepted": CampaignContact.Outcome.ACCEPTED},
        )
        rows = cursor.fetchall()
    by_branch = [(branch, contacted, converted) for grouped, branch, _s, contacted, converted in rows if not grouped]
    by_segment = [(segment, contacted, converted) for grouped, _b, segment, contacted, converted in rows
                  if grouped and segment is not None]
    branch_names = {b.pk: str(b) for b in Branch.objects.filter(pk__in=[key for key, *_ in by_branch])}
    segment_names = dict(LearnedSegment.objects.filter(run_id=segment_run, number__in=[k for k, *_ in by_segment])
                         .values_list("number", "name")) if by_segment else {}
    branches = [GroupResult(k, branch_names.get(k, str(k)), c, v) for k, c, v in by_branch]
    segments = [GroupResult(k, segment_label(segment_names.get(k, "")) or str(k), c, v) for k, c, v in by_segment]
    judged_branches = [g for g in branches if g.contacted >= LEADERS_MIN_CONTACTED]
    judged_segments = [g for g in segments if g.contacted >= LEADERS_MIN_CONTACTED]
    best_branches, worst_branches = _best_and_worst(judged_branches)
    best_segments, worst_segments = _best_and_worst(judged_segments)
    return Leaders(best_branches, worst_branches, best_segments, worst_segments,
                   len(branches) - len(judged_branches) + len(segments) - len(judged_segments))


@dataclass(frozen=True, slots=True)
class SlowFigures:
    """The war room's figures that read beyond the hourly counts (product uptake in the bank's
    accounts; the contacts by branch and segment), with when they were computed."""

    uplift: Uplift
    leaders: Leaders
    computed_at: datetime.datetime


# The beat recomputes the running campaigns' slow figures every minute (campaigns.tasks); a copy
# is kept this long, so a page never waits for them while the beat runs.
SLOW_FIGURES_KEEP_SECONDS = 10 * 60


def _slow_figures_key(campaign: Campaign) -> str:
    return f"campaigns:slow-figures:{campaign.pk}:{campaign.targeting_run_id or 0}"


def campaign_slow_figures_refresh(*, campaign: Campaign, group_sizes: dict[str, int] | None = None) -> SlowFigures:
    """Computes the slow figures now and keeps them for the pages."""
    figures = SlowFigures(campaign_uplift(campaign=campaign, group_sizes=group_sizes),
                          campaign_leaders(campaign=campaign), timezone.now())
    cache.set(_slow_figures_key(campaign), figures, SLOW_FIGURES_KEEP_SECONDS)
    return figures


def campaign_slow_figures(*, campaign: Campaign, group_sizes: dict[str, int] | None = None) -> SlowFigures:
    """The kept slow figures (at most a minute or two old while the beat runs), or computed now
    when there are none (the first view, or no beat)."""
    found = cache.get(_slow_figures_key(campaign))
    return found if found is not None else campaign_slow_figures_refresh(campaign=campaign, group_sizes=group_sizes)


def running_campaigns_slow_figures_refresh() -> int:
    """The beat's minute: every running campaign's slow figures recomputed; returns how many."""
    campaigns = Campaign.objects.filter(status=Campaign.Status.ACTIVE).select_related("targeting_run")
    for campaign in campaigns:
        campaign_slow_figures_refresh(campaign=campaign)
    return len(campaigns)


@dataclass(frozen=True, slots=True)
class CampaignResults:
    """A campaign's recorded contacts summed up: per month, per value tier and learned segment of the
    published runs, and per outcome of the customer's previous campaign (the historic campaign's
    dashboard; any closed campaign has one)."""

    months: list[GroupResult]
    tiers: list[GroupResult]
    segments: list[GroupResult]
    previous_outcomes: list[GroupResult]
    contacted: int
    converted: int

    @property
    def percent(self) -> float:
        return round(100 * self.converted / self.contacted, 1) if self.contacted else 0.0


# A closed campaign's contacts no longer change; a new value or segmentation run changes the key.
RESULTS_CACHE_SECONDS = 3600


def campaign_results(*, campaign: Campaign) -> CampaignResults:
    """The campaign's contacts (one row per customer reached, with the day of the last contact and
    the outcome) grouped four ways in one query; tiers and segments are those of the published
    value and segmentation runs (customers not in them: "not scored")."""
    from django.utils.formats import date_format
    from django.utils.translation import gettext

    from crm_bank.runs.models import CurrentRun
    from segmentation.models import CustomerValue, LearnedSegment, SegmentMembership, segment_label

    runs = dict(CurrentRun.objects.filter(kind__in=["value_scoring", "segmentation"]).values_list("kind", "run_id"))
    value_run, segment_run = runs.get("value_scoring", 0), runs.get("segmentation", 0)
    key = f"campaigns:results:{campaign.pk}:{value_run}:{segment_run}"
    found = cache.get(key)
    if found is not None:
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT GROUPING(date_trunc('month', k.contacted_on)), GROUPING(coalesce(v.tier, '')),
                       GROUPING(m.segment), GROUPING(k.previous_outcome),
                       date_trunc('month', k.contacted_on)::date, coalesce(v.tier, ''), m.segment,
                       k.previous_outcome,
                       count(*), count(*) FILTER (WHERE k.outcome = %(accepted)s), coalesce(max(ls.name), '')
                FROM {quoted_table(CampaignContact)} k
                LEFT JOIN {quoted_table(CustomerValue)} v ON v.run_id = %(value_run)s AND v.customer_id = k.customer_id
                LEFT JOIN {quoted_table(SegmentMembership)} m ON m.run_id = %(segment_run)s
                    AND m.customer_id = k.customer_id
                LEFT JOIN {quoted_table(LearnedSegment)} ls ON ls.run_id = %(segment_run)s AND ls.number = m.segment
                WHERE k.campaign_id = %(campaign)s AND (k.attempts > 0 OR k.contacted_on IS NOT NULL)
                GROUP BY GROUPING SETS ((date_trunc('month', k.contacted_on)), (coalesce(v.tier, '')), (m.segment),
                                        (k.previous_outcome), ())""",
            {"accepted": CampaignContact.Outcome.ACCEPTED, "value_run": value_run, "segment_run": segment_run,
             "campaign": campaign.pk},
        )
        rows = cursor.fetchall()
    not_scored = gettext("Not scored")
    previous = dict(CampaignContact.PreviousOutcome.choices)
    months, tiers, segments, outcomes = [], [], [], []
    contacted = converted = 0
    for g_month, g_tier, g_segment, g_previous, month, tier, segment, outcome, n, won, name in rows:
        if not g_month:
            if month is not None:
                months.append(GroupResult(month.isoformat(), date_format(month, "YEAR_MONTH_FORMAT"), n, won))
        elif not g_tier:
            tiers.append(GroupResult(tier, gettext("Tier %(tier)s") % {"tier": tier} if tier else not_scored, n, won))
        elif not g_segment:
            segments.append(GroupResult("" if segment is None else str(segment),
                                       segment_label(name) if segment is not None else not_scored, n, won))
        elif not g_previous:
            outcomes.append(GroupResult(outcome, str(previous.get(outcome, outcome)), n, won))
        else:
            contacted, converted = n, won
    results = CampaignResults(
        sorted(months, key=lambda line: line.key), sorted(tiers, key=lambda line: (not line.key, line.key)),
        sorted(segments, key=lambda line: -line.rate), sorted(outcomes, key=lambda line: -line.rate),
        contacted, converted)
    cache.set(key, results, RESULTS_CACHE_SECONDS)
    return results


@dataclass(frozen=True, slots=True)
class Staffing:
    plan: list  # campaigns.staffing.ChannelHour, the coming hours
    advice: list  # campaigns.staffing.Advice


def campaign_staffing(*, campaign: Campaign, now: datetime.datetime | None = None, hours_ahead: int = 4) -> Staffing:
    """The coming hours of each queued channel (settings.CRM_CHANNEL_HANDLING_SECONDS): the inbound
    arrivals the campaign's last week and recent trend forecast, the people rostered, the people
    Erlang C needs for the service-level target, and where to add or move people. Two queries."""
    from django.conf import settings

    from campaigns.models import StaffRoster
    from campaigns.staffing import arrivals_forecast, staffing_advice, staffing_plan

    now = timezone.localtime(now or timezone.now())
    handling = settings.CRM_CHANNEL_HANDLING_SECONDS
    rows = (CampaignHourlyCount.objects.filter(campaign=campaign, direction="inbound", channel__in=list(handling),
                                               hour__gte=now - datetime.timedelta(days=8))
            .values("channel", "hour").annotate(n=Sum("events")).order_by())
    hourly: dict[str, dict[datetime.datetime, int]] = {channel: {} for channel in handling}
    for row in rows:
        hourly[row["channel"]][row["hour"]] = row["n"]
    forecast = {}
    for channel, counts in hourly.items():
        for start, arrivals in arrivals_forecast(hourly=counts, now=now, hours_ahead=hours_ahead).items():
            forecast[(channel, start.hour)] = arrivals
    roster = {(channel, hour): agents for channel, hour, agents in
              StaffRoster.objects.filter(channel__in=list(handling)).values_list("channel", "hour", "agents")}
    plan = staffing_plan(forecast=forecast, roster=roster, handling_seconds=handling,
                         target=settings.CRM_SERVICE_LEVEL_TARGET, answer_seconds=settings.CRM_SERVICE_LEVEL_SECONDS)
    return Staffing(plan, staffing_advice(plan))
