from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip
from crm_bank.org.models import StaffProfile
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    Household,
    Product,
    RMAssignment,
    SourceRecord,
    StandingOrder,
    Transaction,
)
from customers.services import customer_create, customer_fields_clean, customer_rm_handover, customer_update


class AccountHolderInline(admin.TabularInline):
    model = AccountHolder
    extra = 0
    raw_id_fields = ["customer", "account"]


class CustomerAdminForm(forms.ModelForm):
    """Runs the services' own checks, so a bad ID or phone is a form error, not a server error."""

    class Meta:
        model = Customer
        fields = "__all__"  # noqa: DJ007 - the admin edits the whole record

    def clean(self) -> dict:
        data = super().clean()
        checked = ("national_id_type", "national_id", "phone", "marketing_consent", "do_not_contact")
        try:
            data.update(customer_fields_clean({name: data.get(name) or "" for name in checked}))
        except ValidationError as error:
            raise ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages) from error
        if self.instance.pk and "primary_rm" in self.changed_data:
            new_rm = data.get("primary_rm")
            if new_rm is None:
                self.add_error("primary_rm", _("A customer keeps an RM: hand the customer over to another RM."))
            elif not StaffProfile.objects.filter(user=new_rm, role=StaffProfile.Role.RM).exists():
                self.add_error("primary_rm", _("Only a relationship manager can take over a customer."))
        return data


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    form = CustomerAdminForm
    list_display = ["cif", "display_name", "kind", "home_branch", "primary_rm", "lifecycle_stage", "last_contact_at"]
    list_filter = ["kind", "lifecycle_stage", "marketing_consent", "do_not_contact", "home_branch__region"]
    # Exact or prefix look-ups only: each is served by an index (icontains would scan 1M rows).
    search_fields = ["=cif", "^name_key", "=national_id", "=phone"]
    list_select_related = ["home_branch", "primary_rm"]
    raw_id_fields = ["home_branch", "primary_rm", "household"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False
    inlines = [AccountHolderInline]

    def _audit_view(self, request: HttpRequest, object_id: str, purpose: str, status_code: int) -> None:
        """Opening a customer in the admin is a view of the full record: audited like the 360° page."""
        if request.method != "GET" or not object_id.isdecimal() or status_code == 404:
            return
        outcome = AuditEvent.Outcome.ALLOWED if status_code == 200 else AuditEvent.Outcome.DENIED
        audit_record(actor=request.user, action=AuditEvent.Action.VIEW, outcome=outcome, object_type="customer",
                     object_id=object_id, ip_address=request_ip(request), detail={"purpose": purpose})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._audit_view(request, object_id, "admin", response.status_code)
        return response

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        self._audit_view(request, object_id, "admin history", response.status_code)
        return response

    def save_model(self, request: HttpRequest, obj: Customer, form, change: bool) -> None:
        """Admin edits go through the services, so they are validated, historised and audited."""
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if not change:
            saved = customer_create(actor=request.user, ip_address=request_ip(request), **form.cleaned_data)
            obj.pk = saved.pk
            return
        current = Customer.objects.get(pk=obj.pk)
        new_rm = data.pop("primary_rm", None)  # the form refused an empty RM
        customer_update(customer=current, actor=request.user, ip_address=request_ip(request), **data)
        if new_rm is not None:
            customer_rm_handover(customer=current, new_rm=new_rm, actor=request.user, reason="handover",
                                 ip_address=request_ip(request))


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(SourceRecord)
class SourceRecordAdmin(admin.ModelAdmin):
    list_display = ["system", "external_id", "customer", "department", "received_at"]
    list_filter = ["system", "department"]
    search_fields = ["=external_id", "=customer__cif"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "department"]
    show_full_result_count = False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category", "currency", "is_active"]
    list_filter = ["category", "currency", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["number", "product", "branch", "status", "currency", "balance", "opened_on"]
    list_filter = ["status", "product__category", "currency", "branch__region"]
    search_fields = ["=number", "=source_ref"]
    raw_id_fields = ["branch", "linked_account"]
    list_select_related = ["product", "branch"]
    show_full_result_count = False
    inlines = [AccountHolderInline]


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = ["booked_at", "account", "direction", "kind", "channel", "amount", "balance_after"]
    list_filter = ["direction", "kind", "channel"]
    search_fields = ["=account__number", "=source_ref"]
    raw_id_fields = ["account"]
    list_select_related = ["account__product"]
    show_full_result_count = False


@admin.register(StandingOrder)
class StandingOrderAdmin(admin.ModelAdmin):
    list_display = ["account", "counterparty_bank", "counterparty_account", "amount", "currency", "purpose"]
    list_filter = ["purpose", "counterparty_bank"]
    search_fields = ["=account__number", "=counterparty_account"]
    raw_id_fields = ["account"]
    list_select_related = ["account__product"]


@admin.register(RMAssignment)
class RMAssignmentAdmin(admin.ModelAdmin):
    list_display = ["customer", "rm", "started_at", "ended_at", "reason"]
    list_filter = ["reason"]
    search_fields = ["=customer__cif", "=rm__username"]
    raw_id_fields = ["customer", "rm", "assigned_by"]
    list_select_related = ["customer", "rm"]
    show_full_result_count = False
