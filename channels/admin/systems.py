"""Admin for channel systems, their API tokens, and the holding list of items for unknown customers."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from channels.models import ChannelSystem, ChannelToken, HeldInteraction
from channels.services.ingest import held_item_build
from channels.services.systems import channel_token_revoke, held_interaction_discard, held_interaction_resolve
from crm_bank.audit.admin import AuditedModelAdmin
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip


class ChannelTokenInline(admin.TabularInline):
    model = ChannelToken
    extra = 0
    fields = ["prefix", "created_at", "created_by", "revoked_at", "last_used_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False  # a token is made by create_channel_token, which shows it once


@admin.register(ChannelSystem)
class ChannelSystemAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "default_channel", "branch", "is_active", "created_at"]
    list_filter = ["is_active", "default_channel"]
    search_fields = ["code", "name"]
    list_select_related = ["branch"]
    raw_id_fields = ["branch"]
    inlines = [ChannelTokenInline]
    audits_its_saves = True  # save_model records the change with the system's code

    def get_readonly_fields(self, request: HttpRequest, obj: ChannelSystem | None = None) -> list[str]:
        return ["code", "created_at"] if obj else ["created_at"]  # source ids are scoped by the code

    def save_model(self, request: HttpRequest, obj: ChannelSystem, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user, action=AuditEvent.Action.CHANGE if change else AuditEvent.Action.CREATE,
            outcome=AuditEvent.Outcome.ALLOWED, object_type="channel_system", object_id=obj.pk,
            ip_address=request_ip(request), detail={"code": obj.code, "changed": form.changed_data},
        )


@admin.register(ChannelToken)
class ChannelTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "system", "created_at", "revoked_at", "last_used_at"]
    list_filter = ["system", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["system"]
    fields = ["system", "prefix", "key_hash", "created_at", "created_by", "revoked_at", "last_used_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by create_channel_token, which shows the token once

    def has_delete_permission(self, request: HttpRequest, obj: ChannelToken | None = None) -> bool:
        return False  # revoked, so the trail keeps which token posted what

    @admin.action(description=gettext_lazy("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ChannelToken]) -> None:
        revoked = sum(channel_token_revoke(token=token, actor=request.user, ip_address=request_ip(request))
                      for token in queryset)
        self.message_user(request, ngettext("%(n)d token revoked.", "%(n)d tokens revoked.", revoked) % {"n": revoked},
                          messages.SUCCESS)


class HeldInteractionForm(forms.ModelForm):
    """Resolve the held item to a customer (stored as a normal interaction) or discard it with a note."""

    resolve_to = forms.CharField(label=gettext_lazy("Store for customer number"), max_length=64, required=False)
    discard_note = forms.CharField(label=gettext_lazy("Or discard it, because"), max_length=300, required=False,
                                   widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = HeldInteraction
        fields = ["resolve_to", "discard_note"]

    def clean(self) -> dict:
        data = super().clean()
        cif, note = data.get("resolve_to", "").strip(), data.get("discard_note", "").strip()
        if self.instance.status != HeldInteraction.Status.HELD:
            raise ValidationError(_("This item is no longer held."))
        if bool(cif) == bool(note):
            raise ValidationError(_("Give either the customer number to store the item for, or why it is discarded."))
        if cif:
            try:
                held_item_build(held=self.instance, cif=cif)
            except ValidationError as error:
                for name, texts in error.message_dict.items():
                    self.add_error("resolve_to", texts if name == "customer" else [f"{name}: {text}" for text in texts])
        return data


@admin.register(HeldInteraction)
class HeldInteractionAdmin(AuditedModelAdmin):
    """What waits for a customer number: resolve each to a customer or discard it with a note."""

    form = HeldInteractionForm
    list_display = ["received_at", "system", "source_id", "customer_ref", "status", "resolved_by", "resolved_at"]
    list_filter = ["status", "system"]
    search_fields = ["=source_id", "=customer_ref"]
    list_select_related = ["system", "resolved_by"]
    readonly_fields = ["system", "source_id", "customer_ref", "item_as_received", "received_at", "status",
                       "interaction", "resolved_by", "resolved_at", "note"]
    audit_object_type = "held_interaction"
    search_kinds = (("source_id", "source_id"), ("customer_ref", "cif"))
    audits_its_saves = True  # resolved or discarded through the services, which audit

    def get_queryset(self, request: HttpRequest) -> QuerySet[HeldInteraction]:
        return super().get_queryset(request).order_by("status", "received_at")  # what waits first, oldest first

    def get_fields(self, request: HttpRequest, obj: HeldInteraction | None = None) -> list[str]:
        held = obj is not None and obj.status == HeldInteraction.Status.HELD
        return [*self.readonly_fields, *(["resolve_to", "discard_note"] if held else [])]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: HeldInteraction | None = None) -> bool:
        return False  # never dropped: discarded with a note instead

    @admin.display(description=gettext_lazy("item as received"))
    def item_as_received(self, obj: HeldInteraction) -> str:
        return format_html("<pre class='mb-0'>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def save_model(self, request: HttpRequest, obj: HeldInteraction, form: HeldInteractionForm, change: bool) -> None:
        """Through the services: the item stored (or discarded), the holding row updated, audited."""
        cif, note = form.cleaned_data.get("resolve_to", "").strip(), form.cleaned_data.get("discard_note", "").strip()
        try:
            if cif:
                stored = held_interaction_resolve(held=obj, cif=cif, actor=request.user, ip_address=request_ip(request))
                self.message_user(request, _("Stored as interaction %(id)s.") % {"id": stored.pk}, messages.SUCCESS)
            elif note:
                held_interaction_discard(held=obj, note=note, actor=request.user, ip_address=request_ip(request))
        except ValidationError as error:  # a race the form could not see (resolved meanwhile)
            self.message_user(request, " ".join(error.messages), messages.ERROR)
