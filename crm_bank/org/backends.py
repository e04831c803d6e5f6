"""The sign-in backend: Django's ModelBackend whose per-request user lookup also reads the user's
staff profile, branch and department in the same query (every page asks for them: navigation,
branch scoping, masking), instead of a second query on each request."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ObjectDoesNotExist

from crm_bank.org.selectors import staff_profile_remember


class StaffModelBackend(ModelBackend):
    def get_user(self, user_id):
        user = (
            get_user_model()._default_manager
            .select_related("staff_profile__branch", "staff_profile__department")
            .filter(pk=user_id).first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        try:
            profile = user.staff_profile
        except ObjectDoesNotExist:
            profile = None
        staff_profile_remember(user, profile)
        return user
