"""The campaigns app's contact history, in the vocabulary segmentation reads (segmentation/contact_history.py).

Registered from CampaignsConfig.ready(): segmentation sits below campaigns in the layers and never
imports this app, so the outcome codes of CampaignContact are translated here, next to the model
that defines them.
"""

from __future__ import annotations

from campaigns.models import Campaign, CampaignContact
from crm_bank.bulk import quoted_table
from customers.models import Product

_RESPONDED = {
    CampaignContact.Outcome.ACCEPTED: "true",
    CampaignContact.Outcome.DECLINED: "false",
    CampaignContact.Outcome.NO_ANSWER: "false",
    CampaignContact.Outcome.DO_NOT_CONTACT: "false",
    # A call back or an interested customer has not answered yet: no label until the outcome is final.
}


class CampaignContactHistory:
    name = "campaigns"

    def contacts_sql(self) -> str:
        """Every campaign contact. LEFT JOINs only (campaign_id is not null): a reader that needs no
        campaign or product column lets PostgreSQL drop those joins."""
        responded = " ".join(f"WHEN '{outcome}' THEN {value}" for outcome, value in _RESPONDED.items())
        return f"""SELECT k.customer_id, k.id AS contact_id, k.contacted_on,
                   coalesce(nullif(k.channel, ''), c.channel) AS channel,
                   coalesce(p.category, '') AS product_category,
                   k.attempts::int AS attempts, k.previous_contacts::int AS previous_contacts,
                   k.days_since_previous::int AS days_since_previous, k.previous_outcome,
                   CASE k.outcome {responded} END AS responded
            FROM {quoted_table(CampaignContact)} k
            LEFT JOIN {quoted_table(Campaign)} c ON c.id = k.campaign_id
            LEFT JOIN {quoted_table(Product)} p ON p.id = c.product_id"""
