"""Reads about campaigns and their contacts."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import Campaign, CampaignContact
from customers.models import SourceRecord


def campaign_list_with_results() -> QuerySet[Campaign]:
    """Campaigns with contact and acceptance counts (index campaign_contact_outcome_idx)."""
    return Campaign.objects.select_related("product").annotate(
        contacts_total=Count("contacts"),
        accepted=Count("contacts", filter=Q(contacts__outcome=CampaignContact.Outcome.ACCEPTED)),
    ).order_by("-starts_on")


def customers_by_source() -> list[tuple[str, int]]:
    """(source system label, customers) of what is loaded, largest first: what the campaigns page
    says when there are no campaigns (a generated bank, a database without demo data)."""
    # The built-in sources by their translated labels; the ones imports added by their registry name.
    labels = dict(SourceRecord.System.choices)
    counts = (SourceRecord.objects.values_list("system", "system__name").annotate(n=Count("id"))
              .order_by("-n", "system"))
    return [(labels.get(code, name), n) for code, name, n in counts]
