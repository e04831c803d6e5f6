"""Form pieces several pages' filters share."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from crm_bank.dates import day_start


class DateRangeForm(forms.Form):
    """"From" and "To" days, both optional, both included; a start after the end is refused."""

    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned

    def moments(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """[from, to) as moments in the bank's time zone: the start of "From", the end of "To"."""
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        # "To" on the last day there is: no end (the day after it cannot be written).
        return (day_start(since) if since else None,
                day_start(until + datetime.timedelta(days=1)) if until and until < datetime.date.max else None)
