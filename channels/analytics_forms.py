"""The channel analytics filter: a date range, a branch among those the user may see, one kind."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from channels.models import Interaction
from crm_bank.org.models import Branch

# Weekly bars stay readable, and a supervisor's question ("how did this quarter compare?") fits.
MAX_RANGE_DAYS = 2 * 366
EARLIEST_DAY, LATEST_DAY = datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)
ALL = ""


class ChannelAnalyticsForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(
        format="%Y-%m-%d", attrs={"type": "date", "class": "form-control form-control-sm"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(
        format="%Y-%m-%d", attrs={"type": "date", "class": "form-control form-control-sm"}))
    branch = forms.ChoiceField(label=_("Branch"), required=False,
                               widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    kind = forms.ChoiceField(label=_("Kind"), required=False,
                             choices=[(ALL, _("All kinds")), *Interaction.Kind.choices],
                             widget=forms.Select(attrs={"class": "form-select form-select-sm"}))

    def __init__(self, *args, branches: list[Branch], all_allowed: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.branches = {str(b.pk): b for b in branches}
        choices = [(key, str(b)) for key, b in self.branches.items()]
        self.fields["branch"].choices = [(ALL, _("All branches")), *choices] if all_allowed else choices
        self.all_allowed = all_allowed

    def clean_branch(self) -> str:
        value = self.cleaned_data.get("branch") or ""
        if value == ALL and not self.all_allowed:
            return next(iter(self.branches), ALL)  # a supervisor's default: the own branch
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            # The range arithmetic below (and the charts) needs room on both sides of a date.
            if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
                self.add_error(name, gettext("Choose a date between 1900 and 2100."))
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", gettext("The end date must not be before the start date."))
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("date_from", gettext("Choose at most two years."))
        return cleaned

    def branch_ids(self) -> list[int] | None:
        """The branches to count (None: the whole bank)."""
        chosen = self.cleaned_data.get("branch") or ALL
        if chosen == ALL:
            return None if self.all_allowed else []
        return [self.branches[chosen].pk]

    def date_range(self, *, default: tuple[datetime.date, datetime.date]) -> tuple[datetime.date, datetime.date]:
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        if start and end:
            return start, end
        if end:  # only an end: the default length before it
            return end - (default[1] - default[0]), end
        if start:
            return start, max(start, min(default[1], start + datetime.timedelta(days=MAX_RANGE_DAYS - 1)))
        return default
