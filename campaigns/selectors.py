"""Reads about campaigns and their contacts."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import Campaign, CampaignContact
from customers.models import SourceRecord


def customer_campaign_contacts(*, customer_id: int, limit: int = 10) -> list[CampaignContact]:
    """A customer's latest campaign contacts with their campaign (index campaign_contact_customer_idx)."""
    return list(
        CampaignContact.objects.filter(customer_id=customer_id)
        .select_related("campaign")
        .order_by("-contacted_on", "-id")[:limit]
    )


def campaign_list_with_results() -> QuerySet[Campaign]:
    """Campaigns with contact and acceptance counts (index campaign_contact_outcome_idx)."""
    return Campaign.objects.select_related("product").annotate(
        contacts_total=Count("contacts"),
        accepted=Count("contacts", filter=Q(contacts__outcome=CampaignContact.Outcome.ACCEPTED)),
    ).order_by("-starts_on")


def customers_by_source() -> list[tuple[str, int]]:
    """(source system label, customers) of what is loaded, largest first: what the campaigns page
    says when there are no campaigns (a generated bank, a database without demo data)."""
    labels = dict(SourceRecord.System.choices)
    counts = SourceRecord.objects.values_list("system").annotate(n=Count("id")).order_by("-n", "system")
    return [(labels.get(system, system), n) for system, n in counts]
