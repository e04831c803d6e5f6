from __future__ import annotations

from django.contrib import admin

from campaigns.models import Campaign, CampaignContact


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "channel", "product", "starts_on", "ends_on", "status"]
    list_filter = ["status", "channel"]
    search_fields = ["code", "name"]


@admin.register(CampaignContact)
class CampaignContactAdmin(admin.ModelAdmin):
    list_display = ["campaign", "customer", "contacted_on", "channel", "outcome", "attempts"]
    list_filter = ["outcome", "channel", "previous_outcome", "campaign"]
    search_fields = ["=customer__cif", "=source_ref"]
    raw_id_fields = ["customer"]
    list_select_related = ["campaign", "customer"]
    show_full_result_count = False
