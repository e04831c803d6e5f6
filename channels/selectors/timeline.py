"""The 360° page's contact reads: the unified timeline (all channels, newest first, keyset-paged)
and the touchpoint map (the latest contact per channel, the open complaints and the churn flag).

Both read a customer's rows through the interaction indexes, never all of them: the timeline one
page (plus one row to know there is more), the map one row per channel.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection

from channels.models import ChannelSystem, ChurnFlag, Complaint, Interaction
from crm_bank.bulk import quoted_table
from crm_bank.prepared import prepared_cursor
from crm_bank.ui.names import person_name
from customers.models import TOUCHPOINT_CHANNELS

TIMELINE_MAX_LIMIT = 100
_CHANNELS = frozenset(TOUCHPOINT_CHANNELS)
_KINDS = frozenset(Interaction.Kind.values)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    id: int
    occurred_at: datetime.datetime
    channel: str
    kind: str
    direction: str
    staff_name: str  # "" when no member of staff took part (a channel system's contact)
    source_system: str  # the channel system's code; "" for contacts logged in the CRM
    summary: str
    outcome: str
    campaign_code: str
    complaint_id: int | None


@dataclass(frozen=True, slots=True)
class TimelinePage:
    rows: list[TimelineRow]
    next_cursor: str  # "" on the last page
    channel: str  # the filters as applied ("" = all): an unknown value was dropped
    kind: str
    is_first: bool


def timeline_cursor(row: TimelineRow) -> str:
    """An opaque position after `row`: its time (UTC, to the microsecond) and id, URL-safe."""
    moment = row.occurred_at.astimezone(datetime.UTC).isoformat()
    return base64.urlsafe_b64encode(f"{moment}|{row.id}".encode()).decode().rstrip("=")


def timeline_cursor_parse(cursor: str) -> tuple[datetime.datetime, int] | None:
    """The position a cursor names, or None for anything that is not one of ours (first page)."""
    if not cursor or len(cursor) > 120:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment_text, id_text = text.split("|")
        moment = datetime.datetime.fromisoformat(moment_text)
        row_id = int(id_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if moment.tzinfo is None or not 0 < row_id < 2**63:
        return None
    return moment, row_id


_TIMELINE_SELECT = (
    "SELECT i.id, i.occurred_at, i.channel, i.kind, i.direction, u.username, u.first_name, u.last_name, s.code,"
    " i.summary, i.outcome, i.campaign_code, i.complaint_id"
    f" FROM {quoted_table(Interaction)} i"
    f" LEFT JOIN {quoted_table(get_user_model())} u ON u.id = i.staff_id"
    f" LEFT JOIN {quoted_table(ChannelSystem)} s ON s.id = i.source_system_id"
    " WHERE "
)
_TIMELINE_ORDER = " ORDER BY i.occurred_at DESC, i.id DESC LIMIT %(limit)s"


def timeline_page(
    *, customer_id: int, channel: str = "", kind: str = "", before: str = "", limit: int = 20,
) -> TimelinePage:
    """One page of a customer's contacts, newest first (ties: higher id first), in one query.

    1. Unknown channel or kind filters are dropped (the page says which filters it applied).
    2. `before` is a cursor from the previous page; one that does not parse gives the first page.
    3. limit + 1 rows are read, so the page knows whether another follows without counting.
    """
    channel = channel if channel in _CHANNELS else ""
    kind = kind if kind in _KINDS else ""
    limit = max(1, min(limit, TIMELINE_MAX_LIMIT))
    conditions, params = ["i.customer_id = %(customer)s"], {"customer": customer_id, "limit": limit + 1}
    if channel:
        conditions.append("i.channel = %(channel)s")
        params["channel"] = channel
    if kind:
        conditions.append("i.kind = %(kind)s")
        params["kind"] = kind
    position = timeline_cursor_parse(before)
    if position is not None:
        # The first condition bounds the index range scan; the second drops the ties already shown.
        conditions.append("i.occurred_at <= %(moment)s AND (i.occurred_at < %(moment)s OR i.id < %(row)s)")
        params["moment"], params["row"] = position
    # One of eight fixed statements (channel, kind, cursor: each there or not), prepared on the
    # connection: the 360° page asks for the first of them on every view.
    with prepared_cursor() as cursor:
        cursor.execute(_TIMELINE_SELECT + " AND ".join(conditions) + _TIMELINE_ORDER, params)
        values = cursor.fetchall()
    found = [
        TimelineRow(
            id=row_id, occurred_at=at, channel=row_channel, kind=row_kind, direction=direction,
            staff_name=(person_name(given=first or "", family=last or "") or username) if username else "",
            source_system=system or "", summary=summary, outcome=outcome, campaign_code=campaign_code,
            complaint_id=complaint_id,
        )
        for (row_id, at, row_channel, row_kind, direction, username, first, last, system, summary, outcome,
             campaign_code, complaint_id) in values
    ]
    shown = found[:limit]
    return TimelinePage(
        rows=shown, next_cursor=timeline_cursor(shown[-1]) if len(found) > limit else "", channel=channel,
        kind=kind, is_first=position is None,
    )


@dataclass(frozen=True, slots=True)
class Touchpoint:
    channel: str
    last_at: datetime.datetime | None  # None: never used
    kind: str
    direction: str


@dataclass(frozen=True, slots=True)
class TouchpointMap:
    touchpoints: list[Touchpoint]  # one per touchpoint channel, in the vocabulary's order
    open_complaints: int
    churn_flag_reason: str  # "" when no flag is raised
    churn_flag_raised_at: datetime.datetime | None

    @property
    def churn_flag_raised(self) -> bool:
        return self.churn_flag_raised_at is not None


def _touchpoint_sql(*, with_header: bool) -> str:
    """The latest contact per channel: one index probe (interaction_customer_chan_idx) per channel
    through a LATERAL join, so a customer with years of ATM withdrawals costs nine probes, not a scan.
    The header's figures are uncorrelated subqueries, which PostgreSQL evaluates once."""
    header = ""
    if with_header:
        header = f""",
            (SELECT count(*) FROM {quoted_table(Complaint)} c
              WHERE c.customer_id = %(customer)s AND c.status = ANY(%(open)s)) AS open_complaints,
            (SELECT f.reason FROM {quoted_table(ChurnFlag)} f
              WHERE f.customer_id = %(customer)s AND f.cleared_at IS NULL) AS flag_reason,
            (SELECT f.raised_at FROM {quoted_table(ChurnFlag)} f
              WHERE f.customer_id = %(customer)s AND f.cleared_at IS NULL) AS flag_raised_at"""
    return f"""
        SELECT ch.channel, last.occurred_at, last.kind, last.direction{header}
        FROM unnest(%(channels)s::text[]) WITH ORDINALITY AS ch(channel, position)
        LEFT JOIN LATERAL (
            SELECT i.occurred_at, i.kind, i.direction FROM {quoted_table(Interaction)} i
            WHERE i.customer_id = %(customer)s AND i.channel = ch.channel
            ORDER BY i.occurred_at DESC LIMIT 1
        ) last ON true
        ORDER BY ch.position"""


def _touchpoint_rows(*, customer_id: int, with_header: bool) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(_touchpoint_sql(with_header=with_header), {
            "customer": customer_id, "channels": [str(c) for c in TOUCHPOINT_CHANNELS],
            "open": [str(s) for s in Complaint.OPEN_STATUSES],
        })
        return cursor.fetchall()


def _touchpoints(rows: list[tuple]) -> list[Touchpoint]:
    return [Touchpoint(channel=row[0], last_at=row[1], kind=row[2] or "", direction=row[3] or "") for row in rows]


def customer_touchpoints(*, customer_id: int) -> list[Touchpoint]:
    """The latest contact on each touchpoint channel (never-used channels included), in one query."""
    return _touchpoints(_touchpoint_rows(customer_id=customer_id, with_header=False))


def customer_touchpoint_map(*, customer_id: int) -> TouchpointMap:
    """The touchpoint map panel and the header alerts it fills, in one query."""
    rows = _touchpoint_rows(customer_id=customer_id, with_header=True)
    first = rows[0]
    return TouchpointMap(
        touchpoints=_touchpoints(rows), open_complaints=first[4], churn_flag_reason=first[5] or "",
        churn_flag_raised_at=first[6],
    )
