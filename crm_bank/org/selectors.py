"""Reads about staff: who a user is in the bank, and the branch rosters."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from crm_bank.org.models import StaffProfile


def staff_profile_for_user(user: AbstractBaseUser | AnonymousUser) -> StaffProfile | None:
    """The user's staff profile with branch loaded, or None; cached on the user object."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_staff_profile_loaded", False)
    if cached is not False:
        return cached
    profile = (
        StaffProfile.objects.select_related("branch", "department")
        .filter(user_id=user.pk)
        .first()
    )
    return staff_profile_remember(user, profile)


def staff_profile_remember(user: AbstractBaseUser, profile: StaffProfile | None) -> StaffProfile | None:
    """Caches `profile` (as read with the user, by crm_bank.org.backends) for staff_profile_for_user."""
    if profile is None and user.is_superuser:
        profile = StaffProfile(user=user, role=StaffProfile.Role.ADMIN)  # unsaved stand-in
    user._staff_profile_loaded = profile
    return profile

