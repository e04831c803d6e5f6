"""Historic campaign contacts on the unified timeline: one Interaction per CampaignContact with a
contact date, written set-based and idempotently (the interaction's source id is the contact's).

Campaigns sit above channels in the layers, so the conversion lives here and writes the channels
tables; contacts made through a campaign after this runs reach the timeline through the channels
storing service like any other contact.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.utils import translation

from campaigns.models import Campaign, CampaignContact
from channels.models import ChannelSystem, Interaction, InteractionDailyCount
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import quoted_table
from customers.models import TOUCHPOINT_CHANNELS, Channel, Customer

CAMPAIGNS_SYSTEM_CODE = "campaigns"
SOURCE_ID_PREFIX = "contact-"
# A contact date has no time: the timeline shows it at noon, bank time, which sorts it after a
# morning and before an evening contact of the same day.
CONTACT_HOUR = "12:00"
# Campaign channels the timeline has no touchpoint for (none today; the vocabulary may grow).
FALLBACK_CHANNEL = Channel.CALL_CENTRE


def campaigns_channel_system() -> ChannelSystem:
    """The channel system the converted contacts carry as their source (created when missing)."""
    system, _created = ChannelSystem.objects.get_or_create(
        code=CAMPAIGNS_SYSTEM_CODE, defaults={"name": "Campaign contact history"},
    )
    return system


def campaign_contacts_to_interactions() -> int:
    """Writes the timeline row of every campaign contact with a contact date that has none yet;
    returns how many it wrote (0 on a second run).

    One statement, in one transaction:
    1. INSERT … SELECT every dated contact as an outbound campaign_contact interaction (the
       contact's channel, else the campaign's, else the call centre; the customer's home branch;
       summary = campaign name and outcome), ON CONFLICT DO NOTHING on the source's unique index.
    2. From the rows actually inserted: each customer's last contact moves forward where newer,
       and the daily rollup gets the new rows' counts (an upsert, as the storing service does for
       single contacts: exact for the affected days, without re-reading the whole table).
    3. Audit one row for the batch.
    """
    with translation.override(settings.LANGUAGE_CODE):
        outcomes = [(code, str(label)) for code, label in CampaignContact.Outcome.choices]
    interaction, rollup = quoted_table(Interaction), quoted_table(InteractionDailyCount)
    with transaction.atomic(), connection.cursor() as cursor:
        system = campaigns_channel_system()
        cursor.execute(
            f"""WITH labels (code, label) AS (SELECT * FROM unnest(%(codes)s::text[], %(labels)s::text[])),
                inserted AS (
                    INSERT INTO {interaction} (customer_id, channel, kind, direction, branch_id, occurred_at,
                        summary, outcome, campaign_code, source_system_id, source_id, payload_hash, recorded_at)
                    SELECT k.customer_id, ch.channel, 'campaign_contact', 'outbound', cu.home_branch_id,
                           (k.contacted_on + %(hour)s::time) AT TIME ZONE %(zone)s,
                           left(c.name || ': ' || coalesce(l.label, k.outcome), 500),
                           left(coalesce(l.label, k.outcome), 200),
                           c.code, %(system)s, %(prefix)s || k.id, '', now()
                    FROM {quoted_table(CampaignContact)} k
                    JOIN {quoted_table(Campaign)} c ON c.id = k.campaign_id
                    JOIN {quoted_table(Customer)} cu ON cu.id = k.customer_id
                    LEFT JOIN labels l ON l.code = k.outcome
                    CROSS JOIN LATERAL (SELECT CASE WHEN coalesce(nullif(k.channel, ''), c.channel) = ANY(%(touch)s)
                                                    THEN coalesce(nullif(k.channel, ''), c.channel)
                                                    ELSE %(fallback)s END AS channel) ch
                    WHERE k.contacted_on IS NOT NULL
                    ORDER BY k.id
                    ON CONFLICT (source_system_id, source_id) WHERE NOT (source_id = '') DO NOTHING
                    RETURNING customer_id, branch_id, channel, kind, direction, occurred_at),
                latest AS (
                    SELECT DISTINCT ON (customer_id) customer_id, occurred_at, channel
                    FROM inserted ORDER BY customer_id, occurred_at DESC),
                advanced AS (
                    UPDATE {quoted_table(Customer)} cu
                    SET last_contact_at = latest.occurred_at, last_contact_channel = latest.channel
                    FROM latest
                    WHERE cu.id = latest.customer_id
                      AND (cu.last_contact_at IS NULL OR cu.last_contact_at < latest.occurred_at)
                    RETURNING 1),
                counted AS (
                    INSERT INTO {rollup} (day, branch_id, channel, kind, direction, count)
                    SELECT (occurred_at AT TIME ZONE %(zone)s)::date, branch_id, channel, kind, direction, count(*)
                    FROM inserted GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                    ON CONFLICT (day, branch_id, channel, kind, direction)
                    DO UPDATE SET count = {rollup}.count + excluded.count
                    RETURNING 1)
                SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM advanced),
                       (SELECT count(*) FROM counted)""",
            {"codes": [code for code, _ in outcomes], "labels": [label for _, label in outcomes],
             "hour": CONTACT_HOUR, "zone": settings.TIME_ZONE, "system": system.pk, "prefix": SOURCE_ID_PREFIX,
             "touch": [c.value for c in TOUCHPOINT_CHANNELS], "fallback": FALLBACK_CHANNEL.value},
        )
        written, advanced, days = cursor.fetchone()
        audit_record(actor=None, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="interaction", object_id="campaign-contacts",
                     detail={"written": written, "last_contacts_advanced": advanced, "rollup_rows": days})
    return written
