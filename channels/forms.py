"""Forms of the channels pages: the 360° quick log and the timeline's filters."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Field, Layout, Row
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.models import Interaction
from customers.models import TOUCHPOINT_CHANNELS, Channel, Product, channel_choices

SUMMARY_MAX = Interaction._meta.get_field("summary").max_length
OUTCOME_MAX = Interaction._meta.get_field("outcome").max_length
# A complaint is opened with its own form (category, severity, SLA); campaign contacts are logged
# from the campaign's call list, which knows the campaign.
QUICK_LOG_KINDS = [
    (code, label) for code, label in Interaction.Kind.choices
    if code not in (Interaction.Kind.COMPLAINT, Interaction.Kind.CAMPAIGN_CONTACT)
]
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def _now_local_text() -> str:
    return timezone.localtime().strftime(LOCAL_INPUT_FORMAT)


class InteractionLogForm(forms.Form):
    """A contact a member of staff logs from the 360° page. The values are checked again by
    interaction_record, whose messages land next to these same field names."""

    channel = forms.ChoiceField(label=_("Channel"), choices=channel_choices(TOUCHPOINT_CHANNELS),
                                initial=Channel.BRANCH)
    kind = forms.ChoiceField(label=_("Kind"), choices=QUICK_LOG_KINDS, initial=Interaction.Kind.ENQUIRY)
    direction = forms.ChoiceField(label=_("Direction"), choices=Interaction.Direction.choices,
                                  initial=Interaction.Direction.INBOUND, widget=forms.RadioSelect)
    # Local time as the member of staff reads the clock; Django makes it aware in the active zone.
    occurred_at = forms.DateTimeField(
        label=_("Occurred at"), initial=_now_local_text, input_formats=[LOCAL_INPUT_FORMAT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT_FORMAT),
    )
    summary = forms.CharField(label=_("Summary"), max_length=SUMMARY_MAX,
                              widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.CharField(label=_("Outcome"), max_length=OUTCOME_MAX, required=False)
    # Feedback about a product is routed to the product's owner, with a clock to answer it.
    product = forms.ModelChoiceField(
        label=_("Product"), required=False,
        queryset=Product.objects.filter(is_active=True).order_by("category", "name"),
        help_text=_("For feedback about a product: it goes to the product's owner."),
    )
    follow_up_on = forms.DateField(
        label=_("Follow up on"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional: creates a follow-up task for you, due that day."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page sends the token in every htmx request's headers
        self.helper.layout = Layout(
            Row(Column("channel", css_class="col-md-4"), Column("kind", css_class="col-md-4"),
                Column(Field("direction"), css_class="col-md-4")),
            Row(Column("occurred_at", css_class="col-md-6"), Column("follow_up_on", css_class="col-md-6")),
            "summary",
            Row(Column("outcome", css_class="col-md-6"), Column("product", css_class="col-md-6")),
        )

    def clean_follow_up_on(self):
        day = self.cleaned_data.get("follow_up_on")
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError(_("The follow-up date cannot be in the past."))
        return day

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") == Interaction.Kind.FEEDBACK and not cleaned.get("product"):
            self.add_error("product", _("Say which product the feedback is about: it goes to its owner."))
        return cleaned

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """The storing service's messages, each next to its field (or above the form)."""
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class TimelineFilterForm(forms.Form):
    """The timeline's query string. Unknown values are dropped rather than refused: a stale link
    shows the whole timeline, not an error."""

    channel = forms.CharField(required=False, max_length=32)
    kind = forms.CharField(required=False, max_length=32)
    before = forms.CharField(required=False, max_length=120)

    def values(self) -> dict[str, str]:
        if not self.is_valid():
            return {"channel": "", "kind": "", "before": ""}
        return {name: self.cleaned_data.get(name) or "" for name in ("channel", "kind", "before")}
