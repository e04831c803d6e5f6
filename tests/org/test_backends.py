"""The sign-in backend reads each request's user with their staff profile, branch and department."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm_bank.org.backends import StaffModelBackend
from crm_bank.org.selectors import staff_profile_for_user
from tests.org.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_user_comes_with_profile_branch_and_department_in_one_query(rm_a):
    with CaptureQueriesContext(connection) as queries:
        user = StaffModelBackend().get_user(rm_a.pk)
        profile = staff_profile_for_user(user)
        names = (profile.branch.name, profile.department and profile.department.name)
    assert len(queries) == 1 and profile.role == "RM" and names[0] == "Alpha"


def test_a_user_without_a_profile_has_none_and_a_superuser_the_admin_stand_in():
    plain = UserFactory(username="plain")
    root = get_user_model().objects.create_superuser("root", password="x-for-tests")
    assert staff_profile_for_user(StaffModelBackend().get_user(plain.pk)) is None
    assert staff_profile_for_user(StaffModelBackend().get_user(root.pk)).role == "ADMIN"


def test_an_inactive_or_missing_user_is_nobody(rm_a):
    get_user_model().objects.filter(pk=rm_a.pk).update(is_active=False)
    assert StaffModelBackend().get_user(rm_a.pk) is None
    assert StaffModelBackend().get_user(10**9) is None


def test_a_page_after_signing_in_through_the_form_asks_once_for_user_and_profile(client, rm_a):
    response = client.post(reverse("login"), {"username": "rm_a", "password": "pw-for-tests"})
    assert response.status_code == 302
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("customers:my-book")).status_code == 200
    staff_reads = [q["sql"] for q in queries if 'FROM "org_staffprofile"' in q["sql"] or 'FROM "auth_user"' in q["sql"]]
    assert len(staff_reads) == 1 and 'JOIN "org_staffprofile"' in staff_reads[0]


def test_the_user_read_is_the_user_the_orm_reads(rm_a):
    """The hand-written SQL builds the same instances select_related would."""
    user = StaffModelBackend().get_user(rm_a.pk)
    expected = get_user_model().objects.select_related("staff_profile__branch", "staff_profile__department").get(
        pk=rm_a.pk)
    fields = get_user_model()._meta.concrete_fields
    assert [getattr(user, f.attname) for f in fields] == [getattr(expected, f.attname) for f in fields]
    for mine, theirs in ((user.staff_profile, expected.staff_profile),
                         (user.staff_profile.branch, expected.staff_profile.branch),
                         (user.staff_profile.department, expected.staff_profile.department)):
        if theirs is None:
            assert mine is None
            continue
        assert [getattr(mine, f.attname) for f in type(theirs)._meta.concrete_fields] == [
            getattr(theirs, f.attname) for f in type(theirs)._meta.concrete_fields]
    assert user.staff_profile.user is user and not user._state.adding and user._state.db == "default"


def test_a_session_naming_no_valid_user_id_is_nobody():
    assert StaffModelBackend().get_user("not-a-number") is None
    assert StaffModelBackend().get_user(None) is None
