"""Campaign events as they arrive: every interaction that names a campaign (an RM's outcome, a call
or visit the channel systems post through the ingest API, feedback) is counted into the campaign's
hourly counts in the transaction that stores it — an after-store hook of channels.services — so the
war room reads a few hundred rows however many events there are.

An event counts as a conversion when it records one: an RM's "converted" outcome, or a sale.
"""

from __future__ import annotations

import datetime
from collections import Counter

from django.db import connection
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignContact, CampaignHourlyCount
from crm_bank.bulk import quoted_table

CONVERTED = CampaignContact.Outcome.ACCEPTED
SALE = "sale"


def is_conversion(item) -> bool:
    return item.kind == SALE or item.extra.get("campaign_outcome") == CONVERTED


def _hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)


def campaign_events_count(rows, items, actor) -> None:
    """The after-store hook: one upsert for the batch's campaign events (items without a campaign
    code, or naming no campaign, are not campaign events)."""
    coded = [item for item in items if item.campaign_code]
    if not coded:
        return
    campaigns = dict(Campaign.objects.filter(code__in={item.campaign_code for item in coded})
                     .values_list("code", "pk"))
    events: Counter = Counter()
    conversions: Counter = Counter()
    for item in coded:
        campaign_id = campaigns.get(item.campaign_code)
        if campaign_id is None:
            continue
        key = (campaign_id, _hour(item.occurred_at), item.channel, item.kind, item.direction)
        events[key] += 1
        conversions[key] += is_conversion(item)
    if not events:
        return
    keys = sorted(events)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {quoted_table(CampaignHourlyCount)} (campaign_id, hour, channel, kind, direction, events,
                    conversions)
                SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::int[],
                                     %s::int[])
                ON CONFLICT (campaign_id, hour, channel, kind, direction) DO UPDATE SET
                    events = {quoted_table(CampaignHourlyCount)}.events + EXCLUDED.events,
                    conversions = {quoted_table(CampaignHourlyCount)}.conversions + EXCLUDED.conversions""",
            [[key[0] for key in keys], [key[1] for key in keys], [key[2] for key in keys], [key[3] for key in keys],
             [key[4] for key in keys], [events[key] for key in keys], [conversions[key] for key in keys]],
        )


def campaign_hourly_rebuild(*, campaign: Campaign) -> int:
    """Recounts the campaign's hourly counts from its interactions, for events written in bulk past
    the storing path (a loader, a generator). Sales count as conversions; an RM's "converted"
    outcome is only known to the storing path. Returns the rows written."""
    from channels.models import Interaction

    table = quoted_table(CampaignHourlyCount)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE campaign_id = %s", [campaign.pk])
        cursor.execute(
            f"""INSERT INTO {table} (campaign_id, hour, channel, kind, direction, events, conversions)
                SELECT %s, date_trunc('hour', i.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', i.channel, i.kind,
                       i.direction, count(*), count(*) FILTER (WHERE i.kind = %s)
                FROM {quoted_table(Interaction)} i WHERE i.campaign_code = %s GROUP BY 2, 3, 4, 5""",
            [campaign.pk, SALE, campaign.code],
        )
        return cursor.rowcount


def campaign_codes_check(codes: set[str]) -> dict[str, str]:
    """The ingest API's check of campaign codes: only a running campaign takes events. An unknown
    campaign's would count for nothing, a closed or cancelled one's for a campaign that is over, and
    one not launched yet (a draft, waiting for approval, approved, rejected) has reached no customer:
    its "response" is a mistyped code or a leak, and would sit in the war room before the launch."""
    found = dict(Campaign.objects.filter(code__in=codes).values_list("code", "status"))
    problems = {}
    for code in codes:
        status = found.get(code)
        if status is None:
            problems[code] = _("No campaign with this code.")
        elif status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
            problems[code] = _("Campaign %(code)s is over: it takes no more events.") % {"code": code}
        elif status != Campaign.Status.ACTIVE:
            problems[code] = _("Campaign %(code)s has not been launched: it takes events once it runs.") % {
                "code": code}
    return problems
