"""Reads about campaigns and their contacts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Campaign, CampaignContact, ServicePolicy
from customers.models import Channel, SourceRecord


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


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """A service policy as pages and targeting read it."""

    tier: str
    segment_id: int | None
    channels: tuple[str, ...]
    min_contact_days: int
    service_level: str

    @property
    def service_level_label(self) -> str:
        return str(ServicePolicy.ServiceLevel(self.service_level).label)

    @property
    def channel_labels(self) -> list[str]:
        labels = dict(Channel.choices)
        return [str(labels.get(code, code)) for code in self.channels]


# The policies are a handful of rows read on every 360° page: kept in the shared cache, dropped
# whenever one is saved or deleted (campaigns.apps connects the signals).
_POLICIES_KEY = "campaigns:service-policies"


def service_policies() -> dict[tuple[str, int | None], ServiceLine]:
    """(tier, rule segment id or None) → policy."""
    policies = cache.get(_POLICIES_KEY)
    if policies is None:
        policies = {
            (p.tier, p.segment_id): ServiceLine(p.tier, p.segment_id, tuple(p.channels), p.min_contact_days,
                                                p.service_level)
            for p in ServicePolicy.objects.all()
        }
        cache.set(_POLICIES_KEY, policies, 3600)
    return policies


def service_policies_forget(**_kwargs) -> None:
    cache.delete(_POLICIES_KEY)


def service_policy_for(*, tier: str, segment_ids: Iterable[int] = ()) -> ServiceLine | None:
    """The policy of a customer of `tier` who belongs to the rule segments `segment_ids`: a segment's
    own policy for the tier when there is one (the lowest segment id if several), else the tier's."""
    policies = service_policies()
    for segment_id in sorted(segment_ids):
        if (tier, segment_id) in policies:
            return policies[(tier, segment_id)]
    return policies.get((tier, None))


@dataclass(frozen=True, slots=True)
class WaitingCampaign:
    """A submitted campaign in the approval queue, with how long it has waited against the SLA."""

    campaign: Campaign
    waited_hours: float
    late: bool


def campaigns_waiting_for(*, profile, now=None) -> list[WaitingCampaign]:
    """Submitted campaigns `profile` may decide, the longest waiting first: every one for an
    administrator, those targeting just the supervisor's branch for a supervisor, never the
    viewer's own (campaigns.services.campaign_may_decide and the four-eyes rule)."""
    from crm_bank.org.models import StaffProfile

    if profile is None or profile.role not in (StaffProfile.Role.SUPERVISOR, StaffProfile.Role.ADMIN):
        return []
    # A campaign waits for somebody else than its maker (the four-eyes rule).
    waiting = (Campaign.objects.filter(status=Campaign.Status.SUBMITTED)
               .exclude(submitted_by_id=profile.user_id).exclude(created_by_id=profile.user_id)
               .select_related("product", "submitted_by").order_by("submitted_at", "pk"))
    if profile.role == StaffProfile.Role.SUPERVISOR:
        if profile.branch_id is None:
            return []
        waiting = waiting.filter(criteria__branches=[profile.branch_id])
    now = now or timezone.now()
    sla = settings.CRM_CAMPAIGN_APPROVAL_SLA_HOURS
    lines = []
    for campaign in waiting[:200]:
        hours = (now - campaign.submitted_at).total_seconds() / 3600 if campaign.submitted_at else 0.0
        lines.append(WaitingCampaign(campaign, hours, hours > sla))
    return lines


def campaign_criteria_lines(campaign: Campaign) -> list[tuple[str, str]]:
    """The target criteria as a reader sees them: labels and names, not codes and ids."""
    from crm_bank.org.models import Branch
    from customers.models import Customer, Product
    from segmentation.models import RuleSegment

    criteria = campaign.criteria or {}
    lines: list[tuple[str, str]] = []
    if criteria.get("tiers"):
        lines.append((gettext("Value tiers"), ", ".join(criteria["tiers"])))
    if criteria.get("segments"):
        names = RuleSegment.objects.filter(pk__in=criteria["segments"]).order_by("name")
        lines.append((gettext("Segments"), ", ".join(str(segment) for segment in names)))
    if criteria.get("branches"):
        branches = Branch.objects.filter(pk__in=criteria["branches"]).order_by("code")
        lines.append((gettext("Branches"), ", ".join(str(branch) for branch in branches)))
    if criteria.get("lifecycle_stages"):
        stages = dict(Customer.Lifecycle.choices)
        lines.append((gettext("Lifecycle stages"),
                      ", ".join(str(stages[code]) for code in criteria["lifecycle_stages"])))
    if criteria.get("min_propensity") is not None:
        lines.append((gettext("Minimum propensity"), f"{criteria['min_propensity']:.0%}"))
    codes = [criteria[key] for key in ("holds_product", "lacks_product") if criteria.get(key)]
    products = {p.code: str(p) for p in Product.objects.filter(code__in=codes)} if codes else {}
    if criteria.get("holds_product"):
        lines.append((gettext("Holds the product"), products.get(criteria["holds_product"], criteria["holds_product"])))
    if criteria.get("lacks_product"):
        lines.append((gettext("Does not hold the product"),
                      products.get(criteria["lacks_product"], criteria["lacks_product"])))
    if criteria.get("next_best_product"):
        categories = dict(Product.Category.choices)
        lines.append((gettext("Next-best product"),
                      str(categories.get(criteria["next_best_product"], criteria["next_best_product"]))))
    return lines


def campaign_cost_lines(campaign: Campaign) -> list[tuple[str, str]]:
    """(channel label, cost of one contact) in the campaign's channel order."""
    labels = dict(Channel.choices)
    return [(str(labels.get(channel, channel)), cost) for channel, cost in (campaign.contact_costs or {}).items()]


STEP_LABELS = {"submit": gettext_lazy("Submitted"), "approve": gettext_lazy("Approved"),
               "reject": gettext_lazy("Rejected"), "launch": gettext_lazy("Launched"), "close": gettext_lazy("Closed")}
