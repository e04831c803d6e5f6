"""The RM's campaign work queue: the targets of running campaigns that are theirs to contact — their
own book first, then the branch pool (targets without an RM in the RM's branch), each with the
customer's next-best product (the published cross-sell run) — and the one-click outcome that
records the contact.

An outcome is a campaign contact (CampaignContact: attempts, date, channel, outcome) and an
interaction on the customer's timeline (kind campaign_contact, outbound, the campaign's code), in
one transaction; "do not contact again" also sets the customer's do-not-contact flag (withdrawing
marketing consent). A target leaves the queue once its outcome is final (converted, declined,
do not contact); no answer, call back and interested keep it there.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignContact, CampaignTarget
from channels.models import Interaction
from channels.services.interactions import interaction_record
from crm_bank.bulk import quoted_table
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.models import CurrentRun, Run
from customers.models import Channel, Customer, Product
from customers.panels import next_product_reason
from customers.services import customer_update
from segmentation.cross_sell import CROSS_SELL
from segmentation.models import CrossSellSuggestion, LearnedSegment
from segmentation.prediction_selectors import NextProduct

Outcome = CampaignContact.Outcome
QUEUE_OUTCOMES = (Outcome.NO_ANSWER, Outcome.CALL_BACK, Outcome.INTERESTED, Outcome.ACCEPTED, Outcome.DECLINED,
                  Outcome.DO_NOT_CONTACT)
OPEN_OUTCOMES = (Outcome.PENDING, Outcome.NO_ANSWER, Outcome.CALL_BACK, Outcome.INTERESTED)
QUEUE_LENGTH = 50


@dataclass(frozen=True, slots=True)
class QueueLine:
    campaign_id: int
    campaign_name: str
    campaign_name_zh: str
    script: str
    product: str
    customer_id: int
    cif: str
    customer_name: str
    channel: str
    expected_value: float
    own_book: bool
    last_outcome: str
    attempts: int
    # The customer's next-best product in the published cross-sell run, with its reason; None without.
    next_product: NextProduct | None = None

    @property
    def next_product_reason(self) -> str:
        return next_product_reason(self.next_product) if self.next_product else ""

    @property
    def channel_label(self) -> str:
        return str(dict(Channel.choices).get(self.channel, self.channel))


def rm_campaign_queue(*, rm: AbstractBaseUser, limit: int = QUEUE_LENGTH) -> list[QueueLine]:
    """The RM's open targets of running campaigns: own book first, then the branch pool, each by
    expected value. Whose a target is comes from the customer as they are now (a book handed over
    after targeting goes with its targets to the new RM); customers who asked not to be contacted or
    withdrew their marketing consent since targeting are left out."""
    profile = staff_profile_for_user(rm)
    branch_id = profile.branch_id if profile is not None else None
    sql = f"""
        SELECT c.id, c.name, c.name_zh, coalesce(nullif(c.description, ''), c.objective), coalesce(p.name, ''),
               cu.id, cu.cif, cu.kind, cu.first_name, cu.last_name, cu.legal_name, t.channel, t.expected_value,
               cu.primary_rm_id IS NOT NULL, coalesce(k.outcome, ''), coalesce(k.attempts, 0),
               x.category, x.score, x.basis, x.antecedent, x.measured_on, coalesce(ls.name, ''), xr.as_of
        FROM {quoted_table(Campaign)} c
        JOIN {quoted_table(CampaignTarget)} t ON t.run_id = c.targeting_run_id AND t."group" = 'treatment'
        JOIN {quoted_table(Customer)} cu ON cu.id = t.customer_id
        LEFT JOIN {quoted_table(Product)} p ON p.id = c.product_id
        LEFT JOIN {quoted_table(CampaignContact)} k ON k.campaign_id = c.id AND k.customer_id = t.customer_id
        LEFT JOIN {quoted_table(CurrentRun)} xc ON xc.kind = %(cross_sell)s
        LEFT JOIN {quoted_table(Run)} xr ON xr.id = xc.run_id
        LEFT JOIN {quoted_table(CrossSellSuggestion)} x ON x.run_id = xc.run_id AND x.customer_id = t.customer_id
        LEFT JOIN {quoted_table(LearnedSegment)} ls
            ON ls.run_id = (xr.params ->> 'segmentation_run')::bigint AND ls.number = x.segment
        WHERE c.status = 'active' AND NOT cu.do_not_contact AND cu.marketing_consent AND cu.merged_into_id IS NULL
          AND (cu.primary_rm_id = %(rm)s OR (cu.primary_rm_id IS NULL AND cu.home_branch_id = %(branch)s))
          AND (k.id IS NULL OR k.outcome = ANY(%(open)s))
        ORDER BY cu.primary_rm_id IS NULL, t.expected_value DESC, cu.id
        LIMIT %(limit)s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"rm": rm.pk, "branch": branch_id or 0, "open": list(OPEN_OUTCOMES), "limit": limit,
                             "cross_sell": CROSS_SELL})
        rows = cursor.fetchall()
    lines = []
    for (campaign_id, name, name_zh, script, product, customer_id, cif, kind, first, last, legal, channel, value,
         own, outcome, attempts, *suggestion) in rows:
        display = Customer(kind=kind, first_name=first, last_name=last, legal_name=legal).display_name
        lines.append(QueueLine(campaign_id, name, name_zh, script, product, customer_id, cif, display, channel,
                               value, own, outcome, attempts, NextProduct(*suggestion) if suggestion[0] else None))
    return lines


def _may_work(actor: AbstractBaseUser, customer: Customer) -> bool:
    """The customer's RM as they are now (not at targeting), their branch's supervisor, an admin; any
    member of the branch for a customer without an RM (the branch pool)."""
    profile = staff_profile_for_user(actor)
    if profile is None or not actor.is_active:
        return False
    if profile.role == StaffProfile.Role.ADMIN or customer.primary_rm_id == actor.pk:
        return True
    same_branch = profile.branch_id is not None and profile.branch_id == customer.home_branch_id
    return same_branch and (customer.primary_rm_id is None or profile.role == StaffProfile.Role.SUPERVISOR)


def campaign_outcome_record(
    *, campaign: Campaign, customer: Customer, actor: AbstractBaseUser, outcome: str, note: str = "",
    ip_address: str | None = None,
) -> CampaignContact:
    """Records one contact of a running campaign's target with its outcome (module docstring).
    ValidationError for a bad outcome, a campaign not running or a customer it does not target;
    PermissionDenied for staff it is not theirs to contact."""
    if outcome not in QUEUE_OUTCOMES:
        raise ValidationError({"outcome": _("Unknown outcome.")})
    if campaign.status != Campaign.Status.ACTIVE:
        raise ValidationError(_("The campaign is not running."))
    target = CampaignTarget.objects.filter(run_id=campaign.targeting_run_id, customer_id=customer.pk,
                                           group=CampaignTarget.Group.TREATMENT).first()
    if target is None:
        raise ValidationError(_("This customer is not one of the campaign's targets."))
    if not _may_work(actor, customer):
        raise PermissionDenied(_("This target belongs to another RM's book."))
    label = str(Outcome(outcome).label)
    with transaction.atomic():
        contact, _created = CampaignContact.objects.select_for_update().get_or_create(
            campaign=campaign, customer=customer, defaults={"channel": target.channel})
        # A final outcome is final: a second click or a retried request would count a second
        # attempt, a second conversion and a second contact's cost.
        if contact.outcome and contact.outcome not in OPEN_OUTCOMES:
            raise ValidationError(_("This contact's outcome is already recorded (%(outcome)s).")
                                  % {"outcome": Outcome(contact.outcome).label})
        contact.outcome, contact.contacted_on = outcome, timezone.localdate()
        contact.attempts = F("attempts") + 1
        contact.channel = target.channel
        contact.save(update_fields=["outcome", "contacted_on", "attempts", "channel"])
        interaction_record(
            customer=customer, actor=actor, channel=target.channel, kind=Interaction.Kind.CAMPAIGN_CONTACT,
            direction=Interaction.Direction.OUTBOUND, occurred_at=timezone.now(),
            summary=(f"{campaign.localized_name}: {label}" + (f" — {note.strip()}" if note.strip() else ""))[:500],
            outcome=label, campaign_code=campaign.code, product=campaign.product, ip_address=ip_address,
            extra={"campaign_outcome": outcome},
        )
        if outcome == Outcome.DO_NOT_CONTACT and not customer.do_not_contact:
            customer_update(customer=customer, actor=actor, ip_address=ip_address, do_not_contact=True,
                            marketing_consent=False)
    contact.refresh_from_db()
    return contact
