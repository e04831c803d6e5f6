from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        # Segmentation learns responses from the contacts recorded here, through its registry
        # (it sits below campaigns in the layers and never imports this app).
        from campaigns.contact_history import CampaignContactHistory
        from segmentation.contact_history import contact_history_register

        contact_history_register(CampaignContactHistory())

        # A customer merge moves campaign contacts to the surviving record (customers.merging); one
        # contact per campaign and customer: when both records were in a campaign, the absorbed's
        # contact stays on the tombstone.
        from campaigns.models import CampaignContact
        from customers.merge_registry import customer_references_register

        customer_references_register(CampaignContact, on_conflict="skip")

        # The service policies are cached (campaigns.selectors.service_policies): any change drops them.
        from django.db.models.signals import post_delete, post_save

        from campaigns.models import ServicePolicy
        from campaigns.selectors import service_policies_forget

        post_save.connect(service_policies_forget, sender=ServicePolicy, dispatch_uid="service-policies-save")
        post_delete.connect(service_policies_forget, sender=ServicePolicy, dispatch_uid="service-policies-delete")

        # Campaign targeting is a batch run of the shared framework (crm_bank/runs).
        from campaigns.targeting import CAMPAIGN_TARGETING_KIND
        from crm_bank.runs.registry import register

        register(CAMPAIGN_TARGETING_KIND)

        # Every interaction naming a campaign is counted into its hourly counts as it is stored.
        from campaigns.events import campaign_codes_check, campaign_events_count
        from channels.services.interactions import interactions_after_store, interactions_campaign_check

        interactions_after_store(campaign_events_count)
        # The ingest API refuses events of unknown campaigns and of those not running.
        interactions_campaign_check(campaign_codes_check)
