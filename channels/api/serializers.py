"""The API's bodies. Incoming items are checked by channels.services.ingest (the same checks for a
single post, a batch and a CSV line); the input serializers here document them in the schema."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from channels.models import Complaint, Interaction
from channels.services.ingest import BATCH_MAX, Status
from customers.masking import masked_value
from customers.models import TOUCHPOINT_CHANNELS, channel_choices


class InteractionInSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text=_("The customer number (cif)."))
    channel = serializers.ChoiceField(choices=channel_choices(TOUCHPOINT_CHANNELS))
    kind = serializers.ChoiceField(choices=Interaction.Kind.choices)
    direction = serializers.ChoiceField(choices=Interaction.Direction.choices)
    occurred_at = serializers.DateTimeField(help_text=_("ISO 8601 with its UTC offset."))
    summary = serializers.CharField(max_length=500)
    source_id = serializers.CharField(max_length=64, help_text=_("The system's own id of the contact."))
    outcome = serializers.CharField(max_length=200, required=False)
    campaign = serializers.CharField(max_length=32, required=False, help_text=_("Campaign code."))
    staff = serializers.CharField(required=False, help_text=_("Username of the member of staff."))
    product = serializers.CharField(required=False, help_text=_("Product code (feedback about a product)."))
    category = serializers.ChoiceField(choices=Complaint.Category.choices, required=False,
                                       help_text=_("Complaints: the category."))
    severity = serializers.ChoiceField(choices=Complaint.Severity.choices, required=False,
                                       help_text=_("Complaints: the severity."))


class InteractionSerializer(serializers.ModelSerializer):
    """A stored interaction; with context {"masked": True} its free text is hidden."""

    customer = serializers.CharField(source="customer.cif")
    campaign = serializers.CharField(source="campaign_code")
    staff = serializers.CharField(source="staff.username", allow_null=True, default=None)
    product = serializers.CharField(source="product.code", allow_null=True, default=None)
    source_system = serializers.CharField(source="source_system.code", allow_null=True, default=None)

    class Meta:
        model = Interaction
        fields = ["id", "customer", "channel", "kind", "direction", "occurred_at", "summary", "outcome", "campaign",
                  "staff", "product", "source_system", "source_id", "recorded_at"]
        read_only_fields = fields

    def to_representation(self, instance: Interaction) -> dict:
        data = super().to_representation(instance)
        if self.context.get("masked"):
            data["summary"] = masked_value("interaction_summary", data["summary"])
            data["outcome"] = masked_value("interaction_outcome", data["outcome"])
        return data


class HeldSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Status.HELD])
    held_id = serializers.IntegerField()
    held_status = serializers.CharField(help_text=_("held, resolved or discarded"))
    detail = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Status.ERROR])
    errors = serializers.DictField(child=serializers.CharField(), help_text=_("A message per field."))


class ConflictSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Status.CONFLICT])
    id = serializers.IntegerField(required=False, help_text=_("The stored interaction with this source_id."))
    held_id = serializers.IntegerField(required=False, help_text=_("The held item with this source_id."))
    errors = serializers.DictField(child=serializers.CharField())


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class BatchInSerializer(serializers.Serializer):
    items = InteractionInSerializer(many=True, max_length=BATCH_MAX)


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    source_id = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.ALL)
    id = serializers.IntegerField(required=False)
    held_id = serializers.IntegerField(required=False)
    held_status = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.CharField(), required=False)


class BatchOutSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text=_("Items per status."))


class TimelineSerializer(serializers.Serializer):
    customer = serializers.CharField()
    masked = serializers.BooleanField(help_text=_("Summaries and outcomes hidden: not the system's branch."))
    results = InteractionSerializer(many=True)
