from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignContact, ServicePolicy, StaffRoster
from crm_bank.audit.admin import ChangesAuditedAdmin, ReadOnlyAdminMixin
from customers.admin import CustomerDataAdmin
from customers.models import CONTACT_CHANNELS, channel_choices


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Read-only: a campaign is drafted, approved and launched on its pages (campaigns.services), so
    the four-eyes rule and the audit trail cannot be bypassed here."""

    list_display = ["code", "name", "channel", "product", "starts_on", "ends_on", "status", "version"]
    list_filter = ["status", "channel"]
    search_fields = ["code", "name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CampaignContact)
class CampaignContactAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    """Read-only, opening and searching audited: an outcome is recorded on the work queue
    (campaigns.work_queue), which audits it and puts it on the customer's timeline; an edit here
    could fake the conversions the war room and the scorecards count."""

    audit_object_type = "campaign_contact"
    search_kinds = (("customer__cif", "cif"), ("source_ref", "source_ref"))
    list_display = ["campaign", "customer", "contacted_on", "channel", "outcome", "attempts"]
    list_filter = ["outcome", "channel", "previous_outcome", "campaign"]
    search_fields = ["=customer__cif", "=source_ref"]
    raw_id_fields = ["customer"]
    list_select_related = ["campaign", "customer"]
    show_full_result_count = False

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(CampaignContact.objects.filter(pk=object_id).values_list("customer_id", flat=True))


class ServicePolicyForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(label=_("channels staff may use"), choices=channel_choices(CONTACT_CHANNELS),
                                         widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ServicePolicy
        fields = ["tier", "segment", "service_level", "channels", "min_contact_days", "note"]


@admin.register(ServicePolicy)
class ServicePolicyAdmin(ChangesAuditedAdmin):
    audit_object_type = "service_policy"
    form = ServicePolicyForm
    list_display = ["tier", "segment", "service_level", "min_contact_days", "channel_list", "note"]
    list_filter = ["tier", "service_level"]
    list_select_related = ["segment"]

    @admin.display(description=_("channels"))
    def channel_list(self, policy: ServicePolicy) -> str:
        labels = dict(channel_choices(CONTACT_CHANNELS))
        return ", ".join(str(labels.get(code, code)) for code in policy.channels)


@admin.register(StaffRoster)
class StaffRosterAdmin(ChangesAuditedAdmin):
    audit_object_type = "staff_roster"
    list_display = ["channel", "hour", "agents"]
    list_editable = ["agents"]
    list_filter = ["channel"]
