"""Forms of the work pages: the task list's filters, the book transfer, a new prospect and the
ownership check, the lifecycle funnel's branch."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from channels.models import BookTransfer, Task
from channels.selectors.work import DUE_FILTERS
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.ui.names import person_name
from customers.models import Customer
from customers.validation import phone_clean


def _no_form_tag(form: forms.Form) -> None:
    form.helper = FormHelper()
    form.helper.form_tag = False


def _staff_label(user) -> str:
    name = person_name(given=user.first_name, family=user.last_name) or user.get_username()
    return name if user.is_active else f"{name} ({gettext_lazy('inactive')})"


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False,
                               choices=[("", gettext_lazy("Any")), *Task.Status.choices])
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False,
                             choices=[("", gettext_lazy("Any")), *Task.Kind.choices])
    due = forms.ChoiceField(label=gettext_lazy("Due"), required=False, choices=[
        ("", gettext_lazy("Any time")), *zip(DUE_FILTERS, [gettext_lazy("Overdue"), gettext_lazy("Today"),
                                                            gettext_lazy("Within 7 days")], strict=True),
    ])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _no_form_tag(self)


class IdsField(forms.Field):
    """Customer ids from a column of checkboxes named alike."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: object) -> list[int]:
        try:
            return sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise ValidationError(gettext_lazy("Choose customers from the list.")) from None


class BookTransferForm(forms.Form):
    SCOPE_ALL = "all"
    SCOPE_SELECTED = "selected"

    from_rm = forms.ModelChoiceField(label=gettext_lazy("From RM"), queryset=get_user_model().objects.none())
    to_rm = forms.ModelChoiceField(label=gettext_lazy("To RM"), queryset=get_user_model().objects.none(),
                                   required=False)
    scope = forms.ChoiceField(label=gettext_lazy("Customers"), widget=forms.RadioSelect, initial=SCOPE_SELECTED,
                              choices=[(SCOPE_SELECTED, gettext_lazy("The customers ticked below")),
                                       (SCOPE_ALL, gettext_lazy("The whole book"))])
    customers = IdsField(required=False)
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=BookTransfer.Reason.choices)
    note = forms.CharField(label=gettext_lazy("Hand-over note"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("What the new RM should know: it goes into every introduction task."))

    def __init__(self, *args, branch: Branch, from_rm_id: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rms = (get_user_model().objects.filter(staff_profile__branch=branch, staff_profile__role=StaffProfile.Role.RM)
               .order_by("last_name", "first_name", "pk"))
        self.fields["from_rm"].queryset = rms
        self.fields["from_rm"].label_from_instance = _staff_label
        # Any member of staff validates, so a wrong pick gets the service's own message (another
        # branch, inactive, not an RM); the list offers the branch's active RMs.
        self.fields["to_rm"].queryset = get_user_model().objects.filter(staff_profile__isnull=False)
        self.fields["to_rm"].choices = [("", "---------")] + [
            (user.pk, _staff_label(user)) for user in rms if user.is_active and user.pk != from_rm_id
        ]
        _no_form_tag(self)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("scope") == self.SCOPE_SELECTED and not cleaned.get("customers"):
            self.add_error("customers", gettext_lazy("Tick at least one customer, or choose the whole book."))
        return cleaned


class ProspectForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Customer.Kind.choices,
                             initial=Customer.Kind.INDIVIDUAL)
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    legal_name = forms.CharField(label=gettext_lazy("Legal name"), max_length=200, required=False,
                                 help_text=gettext_lazy("For a company."))
    national_id_type = forms.ChoiceField(label=gettext_lazy("ID type"), required=False,
                                         choices=[("", "---------"), *Customer.IdType.choices])
    national_id = forms.CharField(label=gettext_lazy("National ID"), max_length=32, required=False)
    birth_date = forms.DateField(label=gettext_lazy("Birth date"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=24, required=False,
                            help_text=gettext_lazy("With the country code, e.g. +420 601 123 456."))
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    home_branch = forms.ModelChoiceField(label=gettext_lazy("Branch"), queryset=Branch.objects.filter(is_active=True))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _no_form_tag(self)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") == Customer.Kind.CORPORATE:
            if not cleaned.get("legal_name", "").strip():
                self.add_error("legal_name", gettext_lazy("Give the company's legal name."))
        elif not (cleaned.get("first_name", "").strip() and cleaned.get("last_name", "").strip()):
            self.add_error("last_name", gettext_lazy("Give the person's first and last name."))
        return cleaned

    def customer_fields(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


class OwnershipCheckForm(forms.Form):
    """The fields the htmx ownership check reads; a phone it cannot read is left out, not an error."""

    national_id = forms.CharField(required=False, max_length=32)
    phone = forms.CharField(required=False, max_length=24)
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    birth_date = forms.DateField(required=False)

    def clean_phone(self) -> str:
        try:
            return phone_clean(self.cleaned_data.get("phone", ""))
        except ValidationError:
            return ""


class FunnelBranchForm(forms.Form):
    branch = forms.ModelChoiceField(label=gettext_lazy("Branch"), queryset=Branch.objects.order_by("code"),
                                    required=False)
