from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from crm_bank.runs.params import MAX_SEED
from segmentation.models import CustomerValue, RuleSegment, validate_rule_text
from segmentation.rules import MAX_LENGTH as RULE_MAX_LENGTH
from segmentation.segments import MAX_K

TIER_CHOICES = CustomerValue.Tier.choices


# A date picker the size of the run buttons beside it (a bare input sat on its label's line).
DATE_INPUT = forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"})


class ValueRunForm(forms.Form):
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=DATE_INPUT,
        help_text=_("Empty: the date of the latest transaction."),
    )


class MoversForm(forms.Form):
    from_tier = forms.ChoiceField(choices=TIER_CHOICES, initial="A")
    to_tier = forms.ChoiceField(choices=TIER_CHOICES, initial="B")
    page = forms.IntegerField(min_value=1, required=False)


class SegmentationRunForm(forms.Form):
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=DATE_INPUT,
        help_text=_("Empty: the date of the latest transaction."),
    )
    k = forms.IntegerField(
        label=_("Segments (k)"), required=False, min_value=2, max_value=MAX_K,
        help_text=_("Empty: chosen by silhouette."),
    )
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0, max_value=MAX_SEED)


class RuleSegmentForm(forms.ModelForm):
    """An analyst's rule segment; the model's validator puts a rule error at the field, with its position."""

    class Meta:
        model = RuleSegment
        fields = ["name", "name_zh", "rule", "description"]
        widgets = {
            "rule": forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "font-monospace"}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        # The live count: the rule goes to the count view as the analyst types.
        self.fields["rule"].widget.attrs.update({
            "hx-post": reverse_lazy("segmentation:rule-count"), "hx-trigger": "input changed delay:400ms",
            "hx-target": "#rule-count", "hx-swap": "outerHTML",
        })


class RuleCountForm(forms.Form):
    rule = forms.CharField(max_length=RULE_MAX_LENGTH, validators=[validate_rule_text], strip=False)
