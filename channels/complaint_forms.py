"""Forms of the complaint pages: open a case (the 360° page's htmx form), the queue's filters, the
case page's actions, and the report's period."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import Complaint
from channels.models.complaints import Level, Severity
from channels.services.complaints import DESCRIPTION_MAX, RESOLUTION_MAX, TRANSITIONS
from crm_bank.org.models import Branch
from customers.models import TOUCHPOINT_CHANNELS, Product, channel_choices

SKIP_LEVEL_CHOICES = [
    ("", _("No: the branch handles it")),
    (str(Level.REGIONAL_HEAD.value), Level.REGIONAL_HEAD.label),
    (str(Level.HEAD_OFFICE.value), Level.HEAD_OFFICE.label),
    (str(Level.REGULATOR.value), Level.REGULATOR.label),
]


def _no_form_tag(form: forms.Form) -> None:
    form.helper = FormHelper()
    form.helper.form_tag = False
    form.helper.disable_csrf = True  # the page's own <form> carries the token


def _branch_choice(form: forms.Form, *, shown: bool) -> None:
    """The branch filter is for admins, who see every branch; others see their own."""
    if shown:
        form.fields["branch"].queryset = Branch.objects.filter(is_active=True)
    else:
        del form.fields["branch"]


class ComplaintOpenForm(forms.Form):
    channel = forms.ChoiceField(label=_("Received through"), choices=channel_choices(TOUCHPOINT_CHANNELS))
    category = forms.ChoiceField(label=_("Category"), choices=Complaint.Category.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.MEDIUM)
    description = forms.CharField(label=_("What the customer complains about"), max_length=DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    product = forms.ModelChoiceField(label=_("Product"), required=False, queryset=Product.objects.none())
    skip_level_to = forms.TypedChoiceField(
        label=_("Taken over the branch's head to"), choices=SKIP_LEVEL_CHOICES, required=False, coerce=int,
        empty_value=None,
        help_text=_("The customer went straight to a regional head, head office or the regulator."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(is_active=True).order_by("category", "name")
        _no_form_tag(self)


class ComplaintQueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Open cases")), ("all", _("All")), *Complaint.Status.choices])
    severity = forms.ChoiceField(label=_("Severity"), required=False, choices=[("", _("Any")), *Severity.choices])
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 choices=[("", _("Any")), *Complaint.Category.choices])
    skip_level = forms.ChoiceField(label=_("Skip-level"), required=False,
                                   choices=[("", _("Any")), ("yes", _("Skip-level only")), ("no", _("Not skip-level"))])
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=Branch.objects.none())

    def __init__(self, *args, branches: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _branch_choice(self, shown=branches)


class ComplaintAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=None)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, staff, **kwargs) -> None:
        super().__init__(*args, auto_id="assign_%s", **kwargs)  # the case page has several forms
        self.fields["assignee"].queryset = staff
        self.fields["assignee"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
        _no_form_tag(self)


class ComplaintStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=Complaint.Status.choices)
    resolution = forms.CharField(label=_("Resolution"), required=False, max_length=RESOLUTION_MAX,
                                 widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text=_("Needed to resolve the case."))
    satisfaction = forms.TypedChoiceField(
        label=_("Customer satisfaction (1–5)"), required=False, coerce=int, empty_value=None,
        choices=[("", "—"), *[(str(n), str(n)) for n in range(1, 6)]], help_text=_("When closing the case."),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, current: str | None = None, **kwargs) -> None:
        super().__init__(*args, auto_id="status_%s", **kwargs)
        if current is not None:  # offer only the moves the case can make (the service checks again)
            allowed = TRANSITIONS.get(current, ())
            self.fields["status"].choices = [(code, label) for code, label in Complaint.Status.choices
                                             if code in allowed]
        _no_form_tag(self)


class SkippedBranchAnswerForm(forms.Form):
    answer = forms.CharField(label=_("The branch's answer"), max_length=RESOLUTION_MAX,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _no_form_tag(self)


class ComplaintReportForm(forms.Form):
    months = forms.TypedChoiceField(label=_("Period"), coerce=int, required=False, empty_value=12, choices=[
        ("3", _("3 months")), ("6", _("6 months")), ("12", _("12 months")), ("24", _("24 months"))])
    branch = forms.ModelChoiceField(label=_("Branch"), required=False, queryset=Branch.objects.none())

    def __init__(self, *args, branches: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _branch_choice(self, shown=branches)
