"""Generated activity for the demo bank's last months, so every scorecard and a diagnosis show real
figures after `make run`: the public data sets end in 1994 and 2010, and hold no RM work, no
complaints and no targets of this year.

For each of the ACTIVITY_MONTHS months before the current one (seed 7, the same every time):
- a closed term-deposit call campaign ("DEMO-YYYY-MM") contacting a few per cent of the customers
  with marketing consent and an RM, each contact also an interaction on the customer's timeline;
  acceptance depends on the value tier (tier A 14 %, B 9 %, C 5 %), and in the last month tier B of
  the busiest branch falls to 2 % — the miss a supervisor's diagnosis finds;
- RMs' visits and calls to about half of their tier-A customers (contact coverage);
- complaints in every branch, most resolved within their SLA, a few late, a few over the branch's
  head (skip-level);
- targets for every RM and branch (the branch's approved by head office);
then the KPI run of each month. The value scoring and segmentation run first when none is published
(the tiers and segments the figures are split by).

Everything generated is marked (campaign codes DEMO-, summaries and descriptions starting
"Demo activity:") and counted on the data notes page.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from channels.models import Complaint, ComplaintSLA
from channels.services.interactions import NewInteraction, interactions_store
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.runs.errors import RunError
from crm_bank.runs.selectors import current_run
from customers.models import Customer, Product
from performance.measures import period_days, period_of, period_previous
from performance.models import Kpi, KpiTarget, Scope
from performance.runs import kpi_run_start
from segmentation.models import CustomerValue

ACTIVITY_MONTHS = 3
SEED = 7
MARK = "Demo activity:"
CODE_PREFIX = "DEMO-"
CONTACT_SHARE = 0.04
ACCEPT_BY_TIER = {"A": 0.14, "B": 0.09, "C": 0.05, "": 0.05}
FALLING_TIER_B = 0.02
# Targets per KPI code (the same for RMs and branches; counts are per RM or branch).
TARGETS = {
    "new-customers": 0, "net-deposits": 0, "products-per-customer": 1.8, "campaign-conversion": 9,
    "tier-a-coverage": 50, "complaint-sla": 90, "skip-level-complaints": 1, "retention": 98,
    "data-completeness": 40, "kyc-on-time": 90,
}


@dataclass
class ActivityReport:
    months: list[str] = field(default_factory=list)
    contacts: int = 0
    interactions: int = 0
    complaints: int = 0
    targets: int = 0
    kpi_runs: list[int] = field(default_factory=list)


def demo_activity_present() -> bool:
    return Campaign.objects.filter(code__startswith=CODE_PREFIX).exists()


def _months(today: datetime.date) -> list[str]:
    return period_previous(period_of(today), ACTIVITY_MONTHS)


def _moment(day: datetime.date, rng: random.Random) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(rng.randint(8, 17), rng.randint(0, 59)),
                                     tzinfo=timezone.get_default_timezone())


def _day_in(period: str, rng: random.Random) -> datetime.date:
    start, end = period_days(period)
    return start + datetime.timedelta(days=rng.randrange((end - start).days))


def demo_activity_generate(*, log: Callable[[str], None] = print, today: datetime.date | None = None) -> ActivityReport:
    """Generates the activity of the last months (module docstring) and runs their KPIs."""
    from segmentation.segments import segmentation_start
    from segmentation.services import value_scoring_start

    today = today or timezone.localdate()
    report = ActivityReport(months=_months(today))
    for kind, start, what in (("value_scoring", value_scoring_start, "Value scoring (the tiers the figures are "
                                                                     "split by)"),
                              ("segmentation", segmentation_start, "Segmentation")):
        if current_run(kind=kind) is None:
            log(f"{what}…")
            try:
                start(sync=True)
            except RunError as exc:  # no data to score: the figures are then not split by tier or segment
                log(f"{what} not run: {exc}")
    value_run = current_run(kind="value_scoring")
    tiers = dict(CustomerValue.objects.filter(run_id=value_run.pk).values_list("customer_id", "tier")) \
        if value_run else {}
    rng = random.Random(SEED)
    customers = list(Customer.objects.filter(merged_into__isnull=True, primary_rm__isnull=False)
                     .exclude(lifecycle_stage=Customer.Lifecycle.CLOSED)
                     .values_list("pk", "primary_rm_id", "home_branch_id", "marketing_consent", "do_not_contact")
                     .order_by("pk"))
    busiest = max({c[2] for c in customers}, key=lambda b: sum(1 for c in customers if c[2] == b), default=None)
    product = Product.objects.filter(category=Product.Category.DEPOSIT).order_by("code").first()
    admin = StaffProfile.objects.filter(role=StaffProfile.Role.ADMIN).select_related("user").first()
    for index, month in enumerate(report.months):
        last = index == len(report.months) - 1
        with transaction.atomic():
            _campaign_month(month, customers, tiers, product, busiest if last else None, rng, report)
            _coverage_month(month, customers, tiers, rng, report)
            _complaints_month(month, customers, rng, report)
            _targets_month(month, admin.user if admin else None, report)
        log(f"{month}: campaign, contacts, visits, complaints and targets generated")
    for month in report.months:
        run = kpi_run_start(period=month, sync=True)
        report.kpi_runs.append(run.pk)
        log(f"{month}: KPI run #{run.pk} {run.status}")
    return report


def _campaign_month(month, customers, tiers, product, falling_branch, rng, report) -> None:
    start, end = period_days(month)
    campaign = Campaign.objects.create(
        code=f"{CODE_PREFIX}{month}", name=f"Term deposit call-back offer {month}", name_zh=f"定期存款回访优惠 {month}",
        objective=f"{MARK} monthly term-deposit calls to customers with marketing consent.", product=product,
        channel="call_centre", channels=["call_centre"], contact_costs={"call_centre": "4.00"},
        budget=Decimal("50000"), conversion_value=Decimal("150"), starts_on=start,
        ends_on=end - datetime.timedelta(days=1), status=Campaign.Status.COMPLETED,
        data_note="Generated demo activity (demo.activity), not from the public data sets.",
    )
    reachable = [c for c in customers if c[3] and not c[4]]
    chosen = rng.sample(reachable, min(len(reachable), max(1, int(CONTACT_SHARE * len(reachable)))))
    contacts, items = [], []
    for customer_id, rm_id, branch_id, *_flags in chosen:
        tier = tiers.get(customer_id, "")
        rate = FALLING_TIER_B if (branch_id == falling_branch and tier == "B") else ACCEPT_BY_TIER[tier]
        accepted = rng.random() < rate
        day = _day_in(month, rng)
        contacts.append(CampaignContact(campaign=campaign, customer_id=customer_id, contacted_on=day,
                                        channel="call_centre", attempts=rng.randint(1, 2),
                                        outcome="accepted" if accepted else rng.choice(["declined", "no_answer"])))
        items.append(NewInteraction(customer_id=customer_id, channel="call_centre", kind="campaign_contact",
                                    direction="outbound", occurred_at=_moment(day, rng), staff_id=rm_id,
                                    branch_id=branch_id, campaign_code=campaign.code,
                                    summary=f"{MARK} term-deposit call", outcome="accepted" if accepted else ""))
    CampaignContact.objects.bulk_create(contacts, batch_size=5000)
    report.contacts += len(contacts)
    report.interactions += len(interactions_store(items=items))


def _coverage_month(month, customers, tiers, rng, report) -> None:
    items = [
        NewInteraction(customer_id=customer_id, channel=rng.choice(["branch", "call_centre"]), kind="enquiry",
                       direction="outbound", occurred_at=_moment(_day_in(month, rng), rng), staff_id=rm_id,
                       branch_id=branch_id, summary=f"{MARK} relationship call")
        for customer_id, rm_id, branch_id, *_flags in customers
        if tiers.get(customer_id) == "A" and rng.random() < 0.5
    ]
    for start in range(0, len(items), 2000):
        report.interactions += len(interactions_store(items=items[start:start + 2000]))


def _complaints_month(month, customers, rng, report) -> None:
    hours = dict(ComplaintSLA.objects.values_list("severity", "resolve_within_hours"))
    by_branch: dict[int, list] = {}
    for customer in customers:
        by_branch.setdefault(customer[2], []).append(customer)
    rows = []
    for _branch_id, members in sorted(by_branch.items()):
        for customer_id, rm_id, branch_id, *_flags in rng.sample(members, min(len(members), 1 + len(members) // 400)):
            severity = rng.choice(["low", "medium", "medium", "high"])
            opened = _moment(_day_in(month, rng), rng)
            due = opened + datetime.timedelta(hours=hours.get(severity, 72))
            late = rng.random() < 0.15
            resolved = (due + datetime.timedelta(hours=rng.randint(2, 48)) if late
                        else opened + (due - opened) * rng.random())
            rows.append(Complaint(
                customer_id=customer_id, channel=rng.choice(["branch", "call_centre", "web"]),
                category=rng.choice([c.value for c in Complaint.Category]), severity=severity,
                description=f"{MARK} complaint", branch_id=branch_id, owner_id=rm_id, opened_at=opened,
                sla_due_at=due, resolved_at=resolved, closed_at=resolved, status=Complaint.Status.CLOSED,
                sla_breached=late, is_skip_level=rng.random() < 0.08,
            ))
    Complaint.objects.bulk_create(rows, batch_size=2000)
    report.complaints += len(rows)


def _targets_month(month, approver, report) -> None:
    kpis = {kpi.code: kpi for kpi in Kpi.objects.filter(active=True, code__in=TARGETS)}
    rms = list(StaffProfile.objects.filter(role=StaffProfile.Role.RM).values_list("user_id", flat=True))
    branches = list(Branch.objects.filter(is_active=True).values_list("pk", flat=True))
    rows = []
    for code, kpi in kpis.items():
        value = Decimal(str(TARGETS[code]))
        rows += [KpiTarget(kpi=kpi, period=month, scope=Scope.RM, rm_id=rm, value=value) for rm in rms]
        rows += [KpiTarget(kpi=kpi, period=month, scope=Scope.BRANCH, branch_id=branch, value=value,
                           approved_by=approver) for branch in branches]
    KpiTarget.objects.bulk_create(rows, ignore_conflicts=True)
    report.targets += len(rows)


def demo_activity_counts() -> dict[str, int]:
    """What is generated (the data notes page): campaigns, contacts, interactions, complaints."""
    from channels.models import Interaction

    campaigns = Campaign.objects.filter(code__startswith=CODE_PREFIX).count()
    if not campaigns:
        return {}
    return {
        "campaigns": campaigns,
        "contacts": CampaignContact.objects.filter(campaign__code__startswith=CODE_PREFIX).count(),
        "interactions": Interaction.objects.filter(summary__startswith=MARK).count(),
        "complaints": Complaint.objects.filter(description__startswith=MARK).count(),
    }
