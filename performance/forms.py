"""The targets page's forms."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy

from performance.models import Kpi
from performance.target_import import MAX_BYTES

BRANCH_CHOICE = "branch"


class TargetForm(forms.Form):
    """One target: a KPI, the branch or one of its RMs, the value."""

    kpi = forms.ModelChoiceField(label=gettext_lazy("KPI"), queryset=Kpi.objects.filter(active=True))
    who = forms.ChoiceField(label=gettext_lazy("For"))
    value = forms.CharField(label=gettext_lazy("Target"), max_length=30)

    def __init__(self, *args, rms: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["who"].choices = [(BRANCH_CHOICE, gettext_lazy("The branch (needs a second approver)")),
                                      *[(rm.get_username(), rm.get_full_name() or rm.get_username()) for rm in rms]]
        self.helper = FormHelper()
        self.helper.form_tag = False


class TargetFileForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"), help_text=gettext_lazy(
        "Columns: kpi, period, rm or branch, value; a header line first. At most 2 MB."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_file(self):
        """Refused by its size before a byte of it is read (the view reads the file into memory)."""
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(gettext_lazy("The file is larger than 2 MB."))
        return upload
