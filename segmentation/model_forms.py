from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_bank.runs.params import MAX_SEED
from segmentation.forms import DATE_INPUT


class ModelTrainingForm(forms.Form):
    as_of = forms.DateField(
        label=_("As of"), required=False, widget=DATE_INPUT,
        help_text=_("Empty: the later of the latest campaign contact and the latest transaction."),
    )
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0, max_value=MAX_SEED)
