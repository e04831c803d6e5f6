"""The synthetic bank's contact history: the campaign contacts behind each generated last contact,
and the customers' earlier contacts on every channel, on the timeline.

`customers.generation` draws when each customer was last contacted and by which channel, and the
contacts before it; campaigns and the timeline sit above customers, so they are written here, in
the generator's segment transaction, through the writer hook `bank_generate(contacts_writer=…)`.
The last contact is a campaign contact and, on the timeline, the customer's newest interaction:
`last_contact_at` is right as the generator wrote it, with no UPDATE of a million customers. The
daily rollup is rebuilt once, after the last segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models.functions import Greatest, Least
from django.utils import translation

from campaigns.models import Campaign, CampaignContact
from campaigns.timeline import SOURCE_ID_PREFIX, campaigns_channel_system
from channels.models import ChannelSystem, Interaction, InteractionDailyCount
from channels.services.rollup import interaction_daily_counts_rebuild
from crm_bank.bulk import allocate_ids, tables_analyze
from customers.generation import bank_generate
from customers.generation.constants import _NULL, _S
from customers.generation.writer import GeneratedContacts, frame_copy
from customers.models import Channel

CONTACTS_CAMPAIGN_CODE = "SYN{seed:03d}-CONTACTS"
CONTACTS_CAMPAIGN_NAME = "Relationship contacts (synthetic)"
GENERATOR_SYSTEM_CODE = "bank-generate"
# Share of relationship contacts that ended in a product taken up (an RM's review call or visit).
ACCEPTED_SHARE = 0.12
INTERACTIONS_PER_CUSTOMER = 5


def synthetic_contacts_write(cursor: object, contacts: GeneratedContacts) -> dict[str, int]:
    """COPYs one contact per contacted customer into the seed's contact campaign (its period grows to
    cover them), the same contact as a campaign_contact interaction at its exact time, and the
    customer's earlier interactions. Same seed and segment, same rows."""
    if not len(contacts.customer_ids):
        return {"last_contacts": 0, "interactions": 0}
    local = pd.to_datetime(contacts.contacted_at, unit="s", utc=True).tz_convert(settings.TIME_ZONE)
    days = local.tz_localize(None).values.astype("datetime64[D]")
    campaign = _contacts_campaign(seed=contacts.seed, first=min(days).astype(object), last=max(days).astype(object))
    rng = np.random.default_rng([contacts.seed, contacts.start, 0xC0])
    accepted = rng.random(len(days)) < ACCEPTED_SHARE
    outcomes = np.where(accepted, CampaignContact.Outcome.ACCEPTED.value, CampaignContact.Outcome.DECLINED.value)
    contact_ids = np.asarray(allocate_ids(CampaignContact, len(days)), dtype=np.int64)
    written = frame_copy(cursor, CampaignContact, {
        "id": contact_ids, "campaign_id": str(campaign.pk), "customer_id": contacts.customer_ids,
        "contacted_on": days.astype(np.int64), "channel": contacts.channels.astype(_S), "outcome": outcomes.astype(_S),
        "attempts": "1", "previous_contacts": "0", "previous_outcome": "", "source_ref": "bank_generate",
    })
    with translation.override(settings.LANGUAGE_CODE):
        labels = {code: str(label) for code, label in CampaignContact.Outcome.choices}
    outcome_text = np.where(accepted, labels[CampaignContact.Outcome.ACCEPTED],
                            labels[CampaignContact.Outcome.DECLINED])
    in_branch = (contacts.channels == Channel.BRANCH.value) & (contacts.rm_ids != _NULL)
    timeline = frame_copy(cursor, Interaction, {
        "customer_id": contacts.customer_ids, "channel": contacts.channels.astype(_S), "kind": "campaign_contact",
        "direction": "outbound", "staff_id": np.where(in_branch, contacts.rm_ids, _NULL),
        "branch_id": contacts.branch_ids, "occurred_at": contacts.contacted_at,
        "summary": np.strings.add(f"{CONTACTS_CAMPAIGN_NAME}: ", outcome_text.astype(_S)),
        "outcome": outcome_text.astype(_S), "campaign_code": campaign.code,
        "source_system_id": str(campaigns_channel_system().pk),
        "source_id": np.strings.add(SOURCE_ID_PREFIX, contact_ids.astype(_S)), "payload_hash": "",
        "recorded_at": contacts.contacted_at,
    })
    before = {name: values for name, values in (contacts.interactions or {}).items() if not name.startswith("_")}
    if before and len(before["customer_id"]):
        timeline += frame_copy(cursor, Interaction, {
            **before, "campaign_code": "", "source_system_id": str(_generator_system().pk), "source_id": "",
            "payload_hash": ""})
    return {"last_contacts": written, "interactions": timeline}


def _contacts_campaign(*, seed: int, first: object, last: object) -> Campaign:
    campaign, created = Campaign.objects.get_or_create(
        code=CONTACTS_CAMPAIGN_CODE.format(seed=seed),
        defaults={
            "name": CONTACTS_CAMPAIGN_NAME, "name_zh": "客户关系联络（合成数据）",
            "channel": Channel.BRANCH, "channels": [Channel.BRANCH], "starts_on": first,
            "ends_on": last, "status": Campaign.Status.COMPLETED,
            "data_note": "Synthetic demo bank: each generated customer's last contact (the date on the 360° "
                         "page), through the customer's preferred channel.",
        },
    )
    if not created:
        Campaign.objects.filter(pk=campaign.pk).update(starts_on=Least("starts_on", first),
                                                       ends_on=Greatest("ends_on", last))
    return campaign


def _generator_system() -> ChannelSystem:
    system, _created = ChannelSystem.objects.get_or_create(
        code=GENERATOR_SYSTEM_CODE, defaults={"name": "Synthetic demo bank (generate_bank)"})
    return system


def synthetic_bank_generate(
    *, customers: int, transactions_per_customer: int, seed: int, branches: int = 20, password: str | None,
    log: Callable[[str], object] = print, interactions_per_customer: int = INTERACTIONS_PER_CUSTOMER,
) -> dict:
    """The generated demo bank with its contact history (what load_demo and generate_bank write);
    then the daily rollup the channel analytics read, rebuilt once from the interactions."""
    figures = bank_generate(customers=customers, transactions_per_customer=transactions_per_customer, seed=seed,
                            branches=branches, password=password, log=log, contacts_writer=synthetic_contacts_write,
                            interactions_per_customer=interactions_per_customer)
    if figures.get("interactions"):
        started = time.perf_counter()
        figures["interaction_daily_counts"] = interaction_daily_counts_rebuild()
        tables_analyze(Interaction._meta.db_table, InteractionDailyCount._meta.db_table,
                       CampaignContact._meta.db_table)
        figures["rollup_seconds"] = round(time.perf_counter() - started, 1)
    return figures
