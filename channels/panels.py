"""The 360° page's contact panels as the viewer may see them: timeline rows and the touchpoint map,
masked per MASKING_RULES and formatted for the reader's locale here, so templates only write text
(see customers/panels.py for why).

When, where, what kind, which direction and who of the bank took part stay visible bank-wide, so
nobody treats the customer as new; what was said (summary, outcome) only to full-access viewers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext, ngettext

from channels.models import Interaction
from channels.selectors.timeline import TimelinePage, TimelineRow, TouchpointMap
from crm_bank.ui.dates import local_date
from crm_bank.ui.labels import ChoiceLabels
from customers.access import CustomerAccess
from customers.models import TOUCHPOINT_CHANNELS, Channel

_CHANNEL = ChoiceLabels(Channel.choices)
_KIND = ChoiceLabels(Interaction.Kind.choices)
_DIRECTION = ChoiceLabels(Interaction.Direction.choices)


def timeline_channel_choices() -> list[tuple[str, str]]:
    return [(str(c.value), str(c.label)) for c in TOUCHPOINT_CHANNELS]


def timeline_kind_choices() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in Interaction.Kind.choices]


def _local(moment: datetime.datetime, fmt: str) -> str:
    return local_date(moment, fmt)


@dataclass(frozen=True, slots=True)
class TimelineLine:
    id: int
    when: str
    when_iso: str
    channel: str
    channel_label: str
    kind: str
    kind_label: str
    direction: str
    direction_label: str
    staff: str
    source_system: str
    campaign_code: str
    summary: str  # "****" for a masked viewer
    outcome: str
    masked: bool
    complaint_id: int | None


def timeline_lines(access: CustomerAccess, rows: list[TimelineRow]) -> list[TimelineLine]:
    masked = access.masked
    channels, kinds, directions = _CHANNEL.current(), _KIND.current(), _DIRECTION.current()
    return [
        TimelineLine(
            id=row.id, when=_local(row.occurred_at, "SHORT_DATETIME_FORMAT"),
            when_iso=row.occurred_at.isoformat(), channel=row.channel,
            channel_label=channels.get(row.channel, row.channel), kind=row.kind,
            kind_label=kinds.get(row.kind, row.kind), direction=row.direction,
            direction_label=directions.get(row.direction, row.direction), staff=row.staff_name,
            source_system=row.source_system, campaign_code=row.campaign_code,
            summary=str(access.shown("interaction_summary", row.summary)),
            outcome=str(access.shown("interaction_outcome", row.outcome)), masked=masked,
            complaint_id=row.complaint_id,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class TimelinePanel:
    """What the timeline panel and its "load more" rows need: the lines, the filters as applied
    (unknown ones dropped), the filter choices, and the cursor of the next page."""

    lines: list[TimelineLine]
    channel: str
    kind: str
    next_cursor: str
    channels: list[tuple[str, str]]
    kinds: list[tuple[str, str]]

    @property
    def filtered(self) -> bool:
        return bool(self.channel or self.kind)


def timeline_panel(access: CustomerAccess, page: TimelinePage) -> TimelinePanel:
    return TimelinePanel(
        lines=timeline_lines(access, page.rows), channel=page.channel, kind=page.kind,
        next_cursor=page.next_cursor, channels=timeline_channel_choices(), kinds=timeline_kind_choices(),
    )


def days_ago_text(moment: datetime.datetime, *, today: datetime.date | None = None) -> str:
    """"today", "1 day ago", "12 days ago", counted in local calendar days."""
    today = today or timezone.localdate()
    days = (today - timezone.localdate(moment)).days
    if days <= 0:
        return gettext("today")
    return ngettext("%(n)d day ago", "%(n)d days ago", days) % {"n": days}


@dataclass(frozen=True, slots=True)
class TouchpointLine:
    channel: str
    channel_label: str
    when: str  # "" when the channel was never used
    ago: str
    kind_label: str
    direction_label: str
    is_preferred: bool
    is_stale: bool  # the preferred channel, unused for too long (or never)


@dataclass(frozen=True, slots=True)
class TouchpointPanel:
    lines: list[TouchpointLine]
    preferred_warning: str  # "" when the preferred channel is in use, or none is recorded
    open_complaints: int
    churn_flagged: bool
    churn_flag_title: str
    last_contact: str  # the header's "last contact" after a contact was logged; "" when none


def _preferred_warning(label: str, last_at: datetime.datetime | None, unused_days: int) -> str:
    if last_at is None:
        return gettext("The preferred channel (%(channel)s) has never been used.") % {"channel": label}
    return ngettext(
        "The preferred channel (%(channel)s) has not been used in the last %(days)d day.",
        "The preferred channel (%(channel)s) has not been used in the last %(days)d days.", unused_days,
    ) % {"channel": label, "days": unused_days}


def touchpoint_panel(
    access: CustomerAccess, touchpoint_map: TouchpointMap, *, unused_days: int,
    now: datetime.datetime | None = None,
) -> TouchpointPanel:
    """The map with a warning when the customer's preferred channel has not been used for
    `unused_days` days (settings.CRM_PREFERRED_CHANNEL_UNUSED_DAYS) or never."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    preferred = access.customer.preferred_channel
    lines, warning = [], ""
    for touchpoint in touchpoint_map.touchpoints:
        label = _CHANNEL.get(touchpoint.channel, touchpoint.channel)
        is_preferred = bool(preferred) and touchpoint.channel == preferred
        stale = is_preferred and (
            touchpoint.last_at is None or touchpoint.last_at <= now - datetime.timedelta(days=unused_days)
        )
        if stale:
            warning = _preferred_warning(label, touchpoint.last_at, unused_days)
        lines.append(TouchpointLine(
            channel=touchpoint.channel, channel_label=label,
            when=_local(touchpoint.last_at, "SHORT_DATE_FORMAT") if touchpoint.last_at else "",
            ago=days_ago_text(touchpoint.last_at, today=today) if touchpoint.last_at else "",
            kind_label=_KIND.get(touchpoint.kind, touchpoint.kind) if touchpoint.kind else "",
            direction_label=_DIRECTION.get(touchpoint.direction, "") if touchpoint.direction else "",
            is_preferred=is_preferred, is_stale=stale,
        ))
    flag_title = ""
    if touchpoint_map.churn_flag_raised:
        raised = _local(touchpoint_map.churn_flag_raised_at, "SHORT_DATE_FORMAT")
        flag_title = gettext("Raised %(date)s: %(reason)s") % {
            "date": raised, "reason": touchpoint_map.churn_flag_reason,
        } if not access.masked else gettext("Raised %(date)s") % {"date": raised}
    used = [t for t in touchpoint_map.touchpoints if t.last_at is not None]
    latest = max(used, key=lambda t: t.last_at) if used else None
    return TouchpointPanel(
        lines=lines, preferred_warning=warning, open_complaints=touchpoint_map.open_complaints,
        churn_flagged=touchpoint_map.churn_flag_raised, churn_flag_title=flag_title,
        last_contact=f"{_local(latest.last_at, 'SHORT_DATE_FORMAT')} ({_CHANNEL.get(latest.channel, latest.channel)})"
        if latest else "",
    )
