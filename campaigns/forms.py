"""The campaign form (draft and edit) and the approval steps' small forms."""

from __future__ import annotations

from decimal import Decimal

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from crm_bank.org.models import Branch
from customers.models import CONTACT_CHANNELS, Customer, Product, channel_choices
from segmentation.models import CustomerValue, RuleSegment

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _cost_field(channel: str) -> str:
    return f"cost_{channel}"


class CampaignForm(forms.Form):
    """What a maker fills in; `campaign_fields()` turns it into campaigns.services.campaign_save's
    keyword arguments (the service checks the rules again and says what is wrong)."""

    code = forms.SlugField(label=gettext_lazy("Code"), max_length=32)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    name_zh = forms.CharField(label=gettext_lazy("Name in Chinese"), max_length=200, required=False)
    objective = forms.CharField(label=gettext_lazy("Objective"), widget=forms.Textarea(attrs={"rows": 2}))
    product = forms.ModelChoiceField(label=gettext_lazy("Product offered"), queryset=Product.objects.order_by("code"))
    channels = forms.MultipleChoiceField(label=gettext_lazy("Channels"), choices=channel_choices(CONTACT_CHANNELS),
                                         widget=forms.CheckboxSelectMultiple)
    budget = forms.DecimalField(label=gettext_lazy("Budget"), min_value=0, max_digits=14, decimal_places=2)
    conversion_value = forms.DecimalField(
        label=gettext_lazy("Value of one conversion"), min_value=0, max_digits=12, decimal_places=2, required=False,
        help_text=gettext_lazy("What one customer who takes the offer is worth to the bank; targeting spends the "
                               "budget where propensity × this value − the contact's cost is highest."))
    control_share = forms.DecimalField(label=gettext_lazy("Control group (%)"), min_value=0, max_value=50,
                                       decimal_places=1, initial=10)
    seed = forms.IntegerField(label=gettext_lazy("Random seed"), min_value=0, initial=7,
                              help_text=gettext_lazy("The same seed draws the same control group."))
    starts_on = forms.DateField(label=gettext_lazy("Starts"), widget=_DATE)
    ends_on = forms.DateField(label=gettext_lazy("Ends"), widget=_DATE, required=False)
    tiers = forms.MultipleChoiceField(label=gettext_lazy("Value tiers"), choices=CustomerValue.Tier.choices,
                                      widget=forms.CheckboxSelectMultiple, required=False)
    segments = forms.ModelMultipleChoiceField(label=gettext_lazy("Segments"), required=False,
                                              queryset=RuleSegment.objects.filter(active=True).order_by("name"))
    branches = forms.ModelMultipleChoiceField(label=gettext_lazy("Branches"), required=False,
                                              queryset=Branch.objects.order_by("code"),
                                              help_text=gettext_lazy("None: bank-wide (an administrator approves)."))
    lifecycle_stages = forms.MultipleChoiceField(label=gettext_lazy("Lifecycle stages"), required=False,
                                                 choices=Customer.Lifecycle.choices,
                                                 widget=forms.CheckboxSelectMultiple)
    min_propensity = forms.DecimalField(label=gettext_lazy("Minimum propensity"), required=False, min_value=0,
                                        max_value=1, decimal_places=3)
    holds_product = forms.ModelChoiceField(label=gettext_lazy("Holds the product"), required=False,
                                           queryset=Product.objects.order_by("code"), to_field_name="code")
    lacks_product = forms.ModelChoiceField(label=gettext_lazy("Does not hold the product"), required=False,
                                           queryset=Product.objects.order_by("code"), to_field_name="code")
    next_best_product = forms.ChoiceField(
        label=gettext_lazy("Next-best product"), required=False, choices=[("", "—"), *Product.Category.choices],
        help_text=gettext_lazy("Only customers whose next-best product (the published cross-sell run) is of this "
                               "kind."))

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs) -> None:
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(campaign)
        super().__init__(*args, **kwargs)
        labels = dict(channel_choices(CONTACT_CHANNELS))
        for channel in CONTACT_CHANNELS:
            self.fields[_cost_field(channel)] = forms.DecimalField(
                label=gettext_lazy("Cost of one contact: %(channel)s") % {"channel": labels[channel]},
                required=False, min_value=0, decimal_places=2)
        if campaign is not None:
            self.fields["code"].disabled = True
        self.helper = FormHelper()
        self.helper.form_tag = False

    @staticmethod
    def initial_from(campaign: Campaign) -> dict:
        criteria = campaign.criteria or {}
        return {
            "code": campaign.code, "name": campaign.name, "name_zh": campaign.name_zh, "objective": campaign.objective,
            "product": campaign.product_id, "channels": campaign.channels, "budget": campaign.budget,
            "conversion_value": campaign.conversion_value,
            "control_share": campaign.control_share * 100, "seed": campaign.seed, "starts_on": campaign.starts_on,
            "ends_on": campaign.ends_on, "tiers": criteria.get("tiers", []), "segments": criteria.get("segments", []),
            "branches": criteria.get("branches", []), "lifecycle_stages": criteria.get("lifecycle_stages", []),
            "min_propensity": criteria.get("min_propensity"), "holds_product": criteria.get("holds_product"),
            "lacks_product": criteria.get("lacks_product"), "next_best_product": criteria.get("next_best_product", ""),
            **{_cost_field(channel): cost for channel, cost in (campaign.contact_costs or {}).items()},
        }

    def clean(self) -> dict:
        data = super().clean()
        for channel in data.get("channels") or []:
            if data.get(_cost_field(channel)) is None:
                self.add_error(_cost_field(channel), gettext_lazy("Give the cost of one contact by this channel."))
        return data

    def campaign_fields(self) -> dict:
        data = self.cleaned_data
        criteria = {
            "tiers": data["tiers"], "segments": [segment.pk for segment in data["segments"]],
            "branches": [branch.pk for branch in data["branches"]], "lifecycle_stages": data["lifecycle_stages"],
            "min_propensity": None if data["min_propensity"] is None else float(data["min_propensity"]),
            "holds_product": data["holds_product"].code if data["holds_product"] else "",
            "lacks_product": data["lacks_product"].code if data["lacks_product"] else "",
            "next_best_product": data["next_best_product"],
        }
        fields = {
            "name": data["name"], "name_zh": data["name_zh"], "objective": data["objective"],
            "product": data["product"], "channels": data["channels"], "budget": data["budget"],
            "conversion_value": data["conversion_value"],
            "control_share": (data["control_share"] or Decimal(0)) / 100, "seed": data["seed"],
            "starts_on": data["starts_on"], "ends_on": data["ends_on"],
            "criteria": {key: value for key, value in criteria.items() if value not in ([], "", None)},
            "contact_costs": {channel: str(data[_cost_field(channel)]) for channel in data["channels"]},
        }
        if "code" not in self.fields or not self.fields["code"].disabled:
            fields["code"] = data["code"]
        return fields

    def add_service_errors(self, error: ValidationError) -> None:
        """The service's ValidationError on the fields it names (criteria on the criteria fields)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.message_dict.items():
            target = {"criteria": "tiers", "contact_costs": "channels", "ends_on": "ends_on"}.get(field, field)
            self.add_error(target if target in self.fields else None, errors)


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Why it is rejected"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
