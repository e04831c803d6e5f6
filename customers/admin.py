from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import model_to_dict
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from crm_bank.audit.admin import AuditedModelAdmin, ChangesAuditedAdmin, ReadOnlyAdminMixin
from crm_bank.audit.services import request_ip
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from customers.merging import customer_unmerge
from customers.models import (
    Account,
    AccountHolder,
    Customer,
    CustomerMerge,
    Household,
    ImportBatch,
    ImportRow,
    MatchCandidate,
    Product,
    RMAssignment,
    SourceRecord,
    SourceSystem,
    StandingOrder,
    SurvivorshipRule,
    Transaction,
)
from customers.services import customer_create, customer_fields_clean, customer_rm_handover, customer_update
from customers.validation import national_id_clean, phone_clean


class AccountHolderInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AccountHolder
    extra = 0
    raw_id_fields = ["customer", "account"]


def _is_valid(check: Callable[[], str]) -> bool:
    try:
        return bool(check())
    except ValidationError:
        return False


class CustomerDataAdmin(AuditedModelAdmin):
    """Pages with customer data: opening and searching audited; what a fruitless search looked like guessed."""

    def search_kind_guess(self, query: str) -> str:
        if query.lstrip().startswith(("+", "00")) and _is_valid(lambda: phone_clean(query)):
            return "phone"
        if any(_is_valid(lambda id_type=id_type: national_id_clean(id_type=id_type, value=query))
               for id_type in (Customer.IdType.CZ_RC, Customer.IdType.CN_RIC)):
            return "national_id"
        return "other" if any(char.isdigit() for char in query) else "name"


class CustomerAdminForm(forms.ModelForm):
    """Runs the services' own checks, so a bad ID, phone or RM is a form error, not a server error."""

    class Meta:
        model = Customer
        fields = "__all__"  # noqa: DJ007 - the admin edits the whole record

    def clean(self) -> dict:
        data = super().clean()
        # The stored record, not self.instance: on a past version's page (revert) the form starts
        # from that version, and in the change view the instance is about to take the new values.
        self.current = Customer.objects.get(pk=self.instance.pk) if self.instance.pk else None
        checked = {name: data.get(name) or "" for name in ("national_id_type", "national_id", "phone")}
        # An unticked box is False: passed as "" it would reach the model as a non-boolean.
        checked |= {name: bool(data.get(name)) for name in ("marketing_consent", "do_not_contact")}
        try:
            data.update(customer_fields_clean(checked))
        except ValidationError as error:
            raise ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages) from error
        if self.current is not None and "primary_rm" in self.fields:
            self._clean_handover(data.get("primary_rm"))
        return data

    def _clean_handover(self, new_rm: AbstractBaseUser | None) -> None:
        if (new_rm.pk if new_rm else None) == self.current.primary_rm_id:
            return
        if new_rm is None:
            self.add_error("primary_rm", _("A customer keeps an RM: hand the customer over to another RM."))
        elif not StaffProfile.objects.filter(
            user=new_rm, role=StaffProfile.Role.RM, user__is_active=True
        ).exists():
            # The hand-over service refuses the same; checked here so it is a form error, not a 500.
            self.add_error("primary_rm", _("Only an active relationship manager can take over a customer."))

    def changed_from_stored(self) -> list[str]:
        """The fields whose submitted value differs from the stored record.

        Django's own test (Field.has_changed), run against the stored record instead of the form's
        initial values: on a past version's page those are the version's, so changed_data would
        miss exactly the fields a revert restores.
        """
        stored = model_to_dict(self.current, fields=list(self.fields))
        changed = []
        for name, field in self.fields.items():
            initial = stored.get(name)
            if isinstance(initial, datetime) and not field.widget.supports_microseconds:
                initial = initial.replace(microsecond=0)  # as BaseForm.get_initial_for_field does
            if not field.disabled and field.has_changed(initial, self[name].data):
                changed.append(name)
        return changed


@admin.register(Customer)
class CustomerAdmin(CustomerDataAdmin, SimpleHistoryAdmin):
    form = CustomerAdminForm
    list_display = ["cif", "display_name", "kind", "home_branch", "primary_rm", "lifecycle_stage", "last_contact_at"]
    list_filter = ["kind", "lifecycle_stage", "marketing_consent", "do_not_contact", "home_branch__region"]
    # Exact or prefix look-ups only: each is served by an index (icontains would scan 1M rows).
    search_fields = ["=cif", "^name_key", "=national_id", "=phone"]
    list_select_related = ["home_branch", "primary_rm"]
    raw_id_fields = ["home_branch", "primary_rm", "household"]
    # The consent time is stamped by customer_update whenever consent is given or withdrawn.
    readonly_fields = ["marketing_consent_at", "merged_into", "created_at", "updated_at"]
    show_full_result_count = False
    inlines = [AccountHolderInline]
    audit_object_type = "customer"
    search_kinds = (("cif", "cif"), ("national_id", "national_id"), ("phone", "phone"))
    audits_its_saves = True  # save_model goes through the customer services, which audit with the values
    search_prefix_kind = "name"

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        return self.audited_open(request, object_id, "admin history", super().history_view, extra_context)

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        """A past version in full; its "Revert" button saves through save_model, i.e. the services."""
        return self.audited_open(request, object_id, "admin past version", super().history_form_view,
                                 version_id, extra_context, version=version_id)

    def save_model(self, request: HttpRequest, obj: Customer, form: CustomerAdminForm, change: bool) -> None:
        """Admin edits and reverts go through the services, so they are validated, historised and audited."""
        if not change:
            saved = customer_create(actor=request.user, ip_address=request_ip(request), **form.cleaned_data)
            obj.pk = saved.pk
            return
        current = form.current
        data = {name: form.cleaned_data[name] for name in form.changed_from_stored() if name in form.cleaned_data}
        new_rm = data.pop("primary_rm", None)  # the form refused an empty or inactive RM
        customer_update(customer=current, actor=request.user, ip_address=request_ip(request), **data)
        if new_rm is not None:
            customer_rm_handover(customer=current, new_rm=new_rm, actor=request.user, reason="handover",
                                 ip_address=request_ip(request))


@admin.register(Household)
class HouseholdAdmin(ChangesAuditedAdmin):
    audit_object_type = "household"
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(SourceSystem)
class SourceSystemAdmin(ChangesAuditedAdmin):
    """The registry of source systems: a new one, its default branch and its trust per field group."""

    audit_object_type = "source_system"
    list_display = ["code", "name", "department", "default_branch", "trust_identity", "trust_contact",
                    "trust_address", "trust_consent", "trust_relationship", "is_active"]
    list_filter = ["is_active", "department"]
    list_select_related = ["department", "default_branch"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: SourceSystem | None = None) -> list[str]:
        # Records carry the code: renaming it would orphan the meaning of every row already loaded.
        return ["code"] if obj is not None else []


@admin.register(SurvivorshipRule)
class SurvivorshipRuleAdmin(ChangesAuditedAdmin):
    audit_object_type = "survivorship_rule"
    list_display = ["group", "strategy"]
    list_editable = ["strategy"]
    list_display_links = ["group"]


@admin.register(MatchCandidate)
class MatchCandidateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "left", "right", "import_row", "match_probability", "decision", "status"]
    list_filter = ["status", "decision", "ownership_conflict"]
    raw_id_fields = ["left", "right", "import_row"]
    list_select_related = ["left", "right"]
    show_full_result_count = False


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    """Merges are made by the merge service and undone only by it (the "Unmerge" action), which
    restores both records and every moved row from what the merge kept. A merge's page shows both
    records' values (national ID included), so opening it is audited."""

    audit_object_type = "customer_merge"

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(CustomerMerge.objects.filter(pk=object_id).values_list("survivor_id", "absorbed_id").first() or [])

    list_display = ["merged_at", "survivor", "absorbed", "merged_by", "ownership_conflict", "unmerged_at"]
    list_filter = ["ownership_conflict", ("unmerged_at", admin.EmptyFieldListFilter)]
    raw_id_fields = ["survivor", "absorbed", "candidate"]
    list_select_related = ["survivor", "absorbed", "merged_by"]
    actions = ["unmerge"]

    def has_unmerge_permission(self, request: HttpRequest) -> bool:
        profile = staff_profile_for_user(request.user)
        return profile is not None and profile.role == StaffProfile.Role.ADMIN

    @admin.action(description=gettext_lazy("Unmerge"), permissions=["unmerge"])
    def unmerge(self, request: HttpRequest, queryset) -> None:
        """Each selected merge undone on its own, newest first (an older one may build on it)."""
        for merge in queryset.order_by("-pk"):
            try:
                customer_unmerge(merge=merge, actor=request.user, ip_address=request_ip(request))
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, _("Merge #%(id)s: %(reason)s") % {
                    "id": merge.pk, "reason": " ".join(getattr(error, "messages", [str(error)]))}, messages.ERROR)
            else:
                self.message_user(request, _("Merge #%(id)s undone: both customers are as they were before it.")
                                  % {"id": merge.pk}, messages.SUCCESS)


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["uploaded_at", "source", "file_name", "status", "line_count", "uploaded_by"]
    list_filter = ["status", "source"]
    list_select_related = ["source", "uploaded_by"]


@admin.register(ImportRow)
class ImportRowAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    list_display = ["batch", "line", "source_key", "outcome", "customer"]
    list_filter = ["outcome"]
    search_fields = ["=source_key"]
    raw_id_fields = ["batch", "customer"]
    list_select_related = ["batch", "customer"]
    show_full_result_count = False
    audit_object_type = "import_row"
    search_kinds = (("source_key", "source_key"),)

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return [pk for pk in ImportRow.objects.filter(pk=object_id).values_list("customer_id", flat=True) if pk]


@admin.register(SourceRecord)
class SourceRecordAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    list_display = ["system", "external_id", "customer", "department", "received_at"]
    list_filter = ["system", "department"]
    search_fields = ["=external_id", "=customer__cif"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "department", "system"]
    show_full_result_count = False
    audit_object_type = "source_record"
    search_kinds = (("external_id", "source_id"), ("customer__cif", "cif"))

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(SourceRecord.objects.filter(pk=object_id).values_list("customer_id", flat=True))


@admin.register(Product)
class ProductAdmin(ChangesAuditedAdmin):
    audit_object_type = "product"
    list_display = ["code", "name", "category", "currency", "is_active"]
    list_filter = ["category", "currency", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    list_display = ["number", "product", "branch", "status", "currency", "balance", "opened_on"]
    list_filter = ["status", "product__category", "currency", "branch__region"]
    search_fields = ["=number", "=source_ref"]
    raw_id_fields = ["branch", "linked_account"]
    list_select_related = ["product", "branch"]
    show_full_result_count = False
    inlines = [AccountHolderInline]
    audit_object_type = "account"
    search_kinds = (("number", "account_number"), ("source_ref", "source_ref"))

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return _holder_ids(AccountHolder.objects.filter(account_id=object_id))


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    list_display = ["booked_at", "account", "direction", "kind", "channel", "amount", "balance_after"]
    list_filter = ["direction", "kind", "channel"]
    search_fields = ["=account__number", "=source_ref"]
    raw_id_fields = ["account"]
    list_select_related = ["account__product"]
    show_full_result_count = False
    audit_object_type = "transaction"
    search_kinds = (("account__number", "account_number"), ("source_ref", "source_ref"))

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return _holder_ids(AccountHolder.objects.filter(account__transactions=object_id))


def _holder_ids(holders) -> list[int]:
    # One indexed query (holder_customer_idx / the primary key): cheap enough for every page view.
    return sorted(holders.values_list("customer_id", flat=True))


@admin.register(StandingOrder)
class StandingOrderAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    list_display = ["account", "counterparty_bank", "counterparty_account", "amount", "currency", "purpose"]
    list_filter = ["purpose", "counterparty_bank"]
    search_fields = ["=account__number", "=counterparty_account"]
    raw_id_fields = ["account"]
    list_select_related = ["account__product"]
    audit_object_type = "standing_order"
    search_kinds = (("account__number", "account_number"), ("counterparty_account", "account_number"))

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return _holder_ids(AccountHolder.objects.filter(account__standing_orders=object_id))


@admin.register(RMAssignment)
class RMAssignmentAdmin(ReadOnlyAdminMixin, CustomerDataAdmin):
    """Read-only: a customer's RM changes only by hand-over (customer_rm_handover), which keeps the
    history gap-free and audited; in the admin that is the customer's RM field."""

    list_display = ["customer", "rm", "started_at", "ended_at", "reason"]
    list_filter = ["reason"]
    search_fields = ["=customer__cif", "=rm__username"]
    raw_id_fields = ["customer", "rm", "assigned_by"]
    list_select_related = ["customer", "rm"]
    show_full_result_count = False
    audit_object_type = "rm_assignment"
    search_kinds = (("customer__cif", "cif"), ("rm__username", "username"))

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(RMAssignment.objects.filter(pk=object_id).values_list("customer_id", flat=True))
