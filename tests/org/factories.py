from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from crm_bank.org.models import Branch, Department, StaffProfile


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Faker("city")
    region = factory.Faker("state")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = "RETAIL"
    name = "Retail banking"
    kind = Department.Kind.RETAIL


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-for-tests")


class StaffProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffProfile

    user = factory.SubFactory(UserFactory)
    role = StaffProfile.Role.RM
    branch = factory.SubFactory(BranchFactory)
    department = factory.SubFactory(DepartmentFactory)
    employee_number = factory.Sequence(lambda n: f"T{n:06d}")
