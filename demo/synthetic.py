"""The synthetic bank's contact history: the campaign contacts behind each generated last contact.

`customers.generation` draws when each customer was last contacted and by which channel; the
contact itself is a campaign contact (campaigns sit above customers), so it is written here, in
the generator's segment transaction, through the writer hook `bank_generate(contacts_writer=…)`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models.functions import Greatest, Least

from campaigns.models import Campaign, CampaignContact
from crm_bank.bulk import copy_rows
from customers.generation import bank_generate
from customers.generation.writer import GeneratedContacts
from customers.models import Channel

CONTACTS_CAMPAIGN_CODE = "SYN{seed:03d}-CONTACTS"
# Share of relationship contacts that ended in a product taken up (an RM's review call or visit).
ACCEPTED_SHARE = 0.12


def synthetic_contacts_write(cursor: object, contacts: GeneratedContacts) -> int:
    """COPYs one contact per contacted customer into the seed's contact campaign; its period
    grows to cover them. Same seed and segment, same outcomes."""
    if not len(contacts.customer_ids):
        return 0
    local = pd.to_datetime(contacts.contacted_at, unit="s", utc=True).tz_convert(settings.TIME_ZONE)
    days = local.tz_localize(None).values.astype("datetime64[D]").astype(object)  # datetime.date each
    first, last = min(days), max(days)
    campaign, created = Campaign.objects.get_or_create(
        code=CONTACTS_CAMPAIGN_CODE.format(seed=contacts.seed),
        defaults={
            "name": "Relationship contacts (synthetic)", "name_zh": "客户关系联络（合成数据）",
            "channel": Channel.BRANCH, "starts_on": first,
            "ends_on": last, "status": Campaign.Status.COMPLETED,
            "data_note": "Synthetic demo bank: each generated customer's last contact (the date on the 360° "
                         "page), through the customer's preferred channel.",
        },
    )
    if not created:
        Campaign.objects.filter(pk=campaign.pk).update(starts_on=Least("starts_on", first),
                                                       ends_on=Greatest("ends_on", last))
    rng = np.random.default_rng([contacts.seed, contacts.start, 0xC0])
    accepted = rng.random(len(days)) < ACCEPTED_SHARE
    outcomes = np.where(accepted, CampaignContact.Outcome.ACCEPTED.value, CampaignContact.Outcome.DECLINED.value)
    columns = ["campaign_id", "customer_id", "contacted_on", "channel", "outcome", "attempts", "previous_contacts",
               "previous_outcome", "source_ref"]
    return copy_rows(CampaignContact, columns, (
        (campaign.pk, customer_id, day, channel, outcome, 1, 0, "", "bank_generate")
        for customer_id, day, channel, outcome in zip(
            contacts.customer_ids.tolist(), days, contacts.channels.tolist(), outcomes.tolist(), strict=True)
    ))


def synthetic_bank_generate(
    *, customers: int, transactions_per_customer: int, seed: int, branches: int = 20, password: str | None,
    log: Callable[[str], object] = print,
) -> dict:
    """The generated demo bank with its contact history (what load_demo and generate_bank write)."""
    return bank_generate(customers=customers, transactions_per_customer=transactions_per_customer, seed=seed,
                         branches=branches, password=password, log=log, contacts_writer=synthetic_contacts_write)
