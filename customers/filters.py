from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Value
from django.db.models.functions import Concat, Lower
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch, StaffProfile
from crm_bank.ui.fields import ListedModelChoiceField
from crm_bank.ui.names import person_name
from crm_bank.ui.widgets import QuickSelect
from customers.models import Customer
from customers.models.customer import INCOMPLETE_BELOW
from customers.selectors import customer_list_searched


def _relationship_managers(request) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(staff_profile__role=StaffProfile.Role.RM)
        .order_by(Lower(Concat("first_name", Value(" "), "last_name")), "username")  # as the labels read
    )


class StaffChoiceField(ListedModelChoiceField):
    def label_from_instance(self, user) -> str:
        return person_name(given=user.first_name, family=user.last_name) or user.get_username()


class StaffChoiceFilter(django_filters.ModelChoiceFilter):
    """Staff by the name people know them by, not their user name."""

    field_class = StaffChoiceField


class BranchChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = ListedModelChoiceField


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"), method="filter_search",
        help_text=_("Name, customer number, national ID, phone or account number"),
    )
    home_branch = BranchChoiceFilter(label=_("Branch"), queryset=Branch.objects.order_by("code"))
    primary_rm = StaffChoiceFilter(label=_("RM"), queryset=_relationship_managers)
    lifecycle_stage = django_filters.ChoiceFilter(
        label=_("Lifecycle"), choices=Customer.Lifecycle.choices, widget=QuickSelect
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=Customer.Kind.choices, widget=QuickSelect)
    incomplete = django_filters.BooleanFilter(
        label=_("Incomplete profiles only"), method="filter_incomplete", widget=forms.CheckboxInput,
        help_text=format_lazy(_("Completeness below {percent}%"), percent=INCOMPLETE_BELOW),
    )

    class Meta:
        model = Customer
        fields = ["q", "home_branch", "primary_rm", "lifecycle_stage", "kind", "incomplete"]

    def filter_incomplete(self, queryset: QuerySet[Customer], name: str, value: bool) -> QuerySet[Customer]:
        # Served in name order by the partial indexes customer_incomplete_name_idx / _branch_incomplete_idx.
        return queryset.filter(completeness__lt=INCOMPLETE_BELOW) if value else queryset

    def filter_search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return customer_list_searched(queryset=queryset, query=value)

    @property
    def narrowed_beyond_search(self) -> bool:
        """Whether a filter other than the search box is set (the form must be valid)."""
        return any(value for name, value in self.form.cleaned_data.items() if name != "q")
