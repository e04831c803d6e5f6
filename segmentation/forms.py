from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from segmentation.models import CustomerValue

TIER_CHOICES = CustomerValue.Tier.choices


class ValueRunForm(forms.Form):
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: the date of the latest transaction."),
    )


class MoversForm(forms.Form):
    from_tier = forms.ChoiceField(choices=TIER_CHOICES, initial="A")
    to_tier = forms.ChoiceField(choices=TIER_CHOICES, initial="B")
    page = forms.IntegerField(min_value=1, required=False)
