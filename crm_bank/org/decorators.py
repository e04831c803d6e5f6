"""View guards by staff role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user


def staff_required(*roles: str) -> Callable:
    """Only signed-in bank staff (of the given roles, if any) reach the view; others get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            profile = staff_profile_for_user(request.user)
            if profile is None or (roles and profile.role not in roles and profile.role != StaffProfile.Role.ADMIN):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return decorator
