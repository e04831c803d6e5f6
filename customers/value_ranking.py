"""Who the bank's most valuable customers are, for the apps beside segmentation (channels: silent
top customers, a top customer's complaint raising the churn flag).

Segmentation sits beside those apps in the layers, so it registers the published 80/20 run's tier A
from its AppConfig.ready(). Before the first value run (or in a deployment without one) a deposit
account of at least CRM_TOP_CUSTOMER_BALANCE stands in: the largest balances.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from customers.models import Account, AccountHolder, Product

# Returns a filter on Customer (may use OuterRef("pk")), or None when it has nothing published.
TopCustomerCondition = Callable[[], "Exists | Q | None"]
_providers: list[TopCustomerCondition] = []


def top_customers_register(provider: TopCustomerCondition) -> None:
    if provider not in _providers:
        _providers.append(provider)


def _largest_balances() -> Exists:
    return Exists(AccountHolder.objects.filter(
        customer_id=OuterRef("pk"), account__status=Account.Status.ACTIVE,
        account__balance__gte=settings.CRM_TOP_CUSTOMER_BALANCE,
    ).exclude(account__product__category__in=Product.NOT_DEPOSITS))


def top_customer_condition() -> Exists | Q:
    """`Customer.objects.filter(top_customer_condition())`: the most valuable customers by the first
    registered source that has published something, else by the largest balances."""
    for provider in _providers:
        condition = provider()
        if condition is not None:
            return condition
    return _largest_balances()


def top_customer_basis() -> str:
    """What `top_customer_condition` reads now: "value_tier" or "balance" (pages say which)."""
    return "value_tier" if any(provider() is not None for provider in _providers) else "balance"
