"""The demo logins that exist in this database (their names depend on which data was loaded)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count

from crm_bank.org.models import Branch
from crm_bank.org.services import DEMO_ADMIN, DEMO_ANALYST, demo_usernames


def demo_logins(*, branches: int | None = 3) -> list[tuple[str, list[str]]]:
    """[(who, [usernames])]: the administrator, the head-office analyst, then the demo staff of the
    `branches` branches with the most customers (all when None). Only users that exist are named."""
    ranked = Branch.objects.annotate(customer_count=Count("customers")).order_by("-customer_count", "code")
    ranked = list(ranked if branches is None else ranked[:branches])
    wanted = {branch.pk: demo_usernames(branch_code=branch.code) for branch in ranked}
    names = [DEMO_ADMIN, DEMO_ANALYST, *(name for group in wanted.values() for name in group)]
    existing = set(get_user_model().objects.filter(username__in=names).values_list("username", flat=True))
    logins = [(who, [name]) for who, name in (("Administrator", DEMO_ADMIN), ("Analyst (head office)", DEMO_ANALYST))
              if name in existing]
    for branch in ranked:
        present = [name for name in wanted[branch.pk] if name in existing]
        if present:
            logins.append((f"{branch.name} ({branch.code})", present))
    return logins
