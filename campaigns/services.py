"""Writes to campaigns: drafting and the maker-checker steps, each in one transaction and audited.

draft ──submit──▶ submitted ──approve──▶ approved ──launch──▶ running ──close──▶ closed
  ▲                  │  └────reject (reason)──▶ rejected
  └── any change to a submitted, approved or rejected campaign sends it back to draft (version + 1)

- The approver is another user than the one who submitted and drafted it, with the supervisor or
  admin role. A supervisor approves campaigns that target their own branch only; a bank-wide or
  multi-branch campaign needs an administrator.
- An approval names the version it read: a campaign changed since is refused ("outdated").
- A running, closed or cancelled campaign is not changed any more.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.defaults import DEFAULT_SERVICE_POLICIES
from campaigns.models import Campaign
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.models import Run
from customers.models import CONTACT_CHANNELS, Customer, Product
from segmentation.models import CustomerValue, RuleSegment

Status = Campaign.Status
# The fields a maker edits; the rest belong to the workflow.
EDITABLE_FIELDS = ("code", "name", "name_zh", "description", "objective", "product", "channels", "criteria",
                   "budget", "contact_costs", "conversion_value", "control_share", "seed", "starts_on", "ends_on")
_BACK_TO_DRAFT = (Status.SUBMITTED, Status.APPROVED, Status.REJECTED)
_FROZEN = (Status.ACTIVE, Status.COMPLETED, Status.CANCELLED)
MAX_CONTROL_SHARE = Decimal("0.5")
_CRITERIA_KEYS = {"tiers", "segments", "branches", "lifecycle_stages", "min_propensity", "holds_product",
                  "lacks_product", "next_best_product"}


def service_policies_ensure() -> None:
    """The default policy of each tier (campaigns/defaults.py) where the tier has none."""
    from campaigns.models import ServicePolicy

    for tier, channels, days, level, note in DEFAULT_SERVICE_POLICIES:
        ServicePolicy.objects.get_or_create(tier=tier, segment=None, defaults={
            "channels": channels, "min_contact_days": days, "service_level": level, "note": note})


def campaign_criteria_clean(criteria: dict) -> dict:
    """The target criteria with every name and number checked; ValidationError saying what is wrong."""
    if not isinstance(criteria, dict):
        raise ValidationError({"criteria": _("The criteria must be a set of named conditions.")})
    unknown = sorted(set(criteria) - _CRITERIA_KEYS)
    if unknown:
        raise ValidationError({"criteria": _("Unknown criteria: %(names)s.") % {"names": ", ".join(unknown)}})
    clean: dict = {}
    tiers = list(criteria.get("tiers") or [])
    if not set(tiers) <= set(CustomerValue.Tier.values):
        raise ValidationError({"criteria": _("Value tiers are A, B and C.")})
    stages = list(criteria.get("lifecycle_stages") or [])
    if not set(stages) <= set(Customer.Lifecycle.values):
        raise ValidationError({"criteria": _("Unknown lifecycle stage.")})
    for key, model, message in (("segments", RuleSegment, _("Unknown segment.")),
                                ("branches", Branch, _("Unknown branch."))):
        ids = sorted({int(value) for value in criteria.get(key) or []})
        if len(ids) != model.objects.filter(pk__in=ids).count():
            raise ValidationError({"criteria": message})
        if ids:
            clean[key] = ids
    if criteria.get("min_propensity") not in (None, ""):
        try:
            propensity = float(criteria["min_propensity"])
        except (TypeError, ValueError):
            propensity = -1.0
        if not 0 <= propensity <= 1:
            raise ValidationError({"criteria": _("The minimum propensity is a probability from 0 to 1.")})
        clean["min_propensity"] = propensity
    for key in ("holds_product", "lacks_product"):
        if criteria.get(key):
            if not Product.objects.filter(code=criteria[key]).exists():
                raise ValidationError({"criteria": _("Unknown product %(code)s.") % {"code": criteria[key]}})
            clean[key] = criteria[key]
    if criteria.get("next_best_product"):
        if criteria["next_best_product"] not in Product.Category.values:
            raise ValidationError({"criteria": _("The next-best product is a product category.")})
        clean["next_best_product"] = criteria["next_best_product"]
    if tiers:
        clean["tiers"] = sorted(set(tiers))
    if stages:
        clean["lifecycle_stages"] = sorted(set(stages))
    return clean


def _costs_clean(costs: dict, channels: list[str]) -> dict[str, str]:
    clean = {}
    for channel in channels:
        try:
            amount = Decimal(str(costs.get(channel, "")))
        except InvalidOperation:
            raise ValidationError({"contact_costs": _("Give the cost of one contact by %(channel)s.")
                                   % {"channel": channel}}) from None
        if amount < 0 or not amount.is_finite():
            raise ValidationError({"contact_costs": _("A contact's cost cannot be negative.")})
        clean[channel] = str(amount)
    return clean


def _fields_clean(fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:  # a programming error, not bad input
        raise TypeError(f"not an editable campaign field: {', '.join(sorted(unknown))}")
    clean = dict(fields)
    if "channels" in clean:
        channels = list(dict.fromkeys(clean["channels"] or []))
        if not channels or not set(channels) <= set(CONTACT_CHANNELS):
            raise ValidationError({"channels": _("Choose at least one contact channel.")})
        clean["channels"] = channels
    if "criteria" in clean:
        clean["criteria"] = campaign_criteria_clean(clean["criteria"] or {})
    if "control_share" in clean:
        share = Decimal(str(clean["control_share"]))
        if not 0 <= share <= MAX_CONTROL_SHARE:
            raise ValidationError({"control_share": _("The control group is from 0 to 50 percent of the targets.")})
        clean["control_share"] = share
    if clean.get("budget") is not None and Decimal(str(clean["budget"])) < 0:
        raise ValidationError({"budget": _("The budget cannot be negative.")})
    if clean.get("conversion_value") is not None and Decimal(str(clean["conversion_value"])) < 0:
        raise ValidationError({"conversion_value": _("A conversion's value cannot be negative.")})
    return clean


def campaign_save(*, actor: AbstractBaseUser, campaign: Campaign | None = None, ip_address: str | None = None,
                  **fields) -> Campaign:
    """Creates a draft, or changes a campaign not yet running. A change to a submitted, approved or
    rejected campaign sends it back to draft with a new version. Audited; ValidationError on bad input."""
    fields = _fields_clean(fields)
    with transaction.atomic():
        if campaign is None:
            campaign = Campaign(status=Status.DRAFT, created_by=actor)
            changed = list(fields)
        else:
            campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if campaign.status in _FROZEN:
                raise ValidationError(_("A running, closed or cancelled campaign cannot be changed."))
            campaign_may_change_check(actor, campaign)
            changed = [name for name, value in fields.items() if getattr(campaign, name) != value]
            if not changed:
                return campaign
        for name in changed:
            setattr(campaign, name, fields[name])
        channels = campaign.channels or ([campaign.channel] if campaign.channel else [])
        campaign.channels = channels
        campaign.channel = channels[0] if channels else ""
        campaign.contact_costs = _costs_clean(campaign.contact_costs or {}, channels) if channels else {}
        was = campaign.status
        if campaign.pk and was in _BACK_TO_DRAFT:
            campaign.status, campaign.version = Status.DRAFT, campaign.version + 1
            campaign.submitted_by = campaign.submitted_at = campaign.decided_by = campaign.decided_at = None
        elif campaign.pk:
            campaign.version += 1
        # Targets belong to the version they were chosen for: a changed campaign is targeted again
        # before it can be launched (a bank-wide list must not run under a one-branch approval).
        campaign.targeting_run = None
        campaign.full_clean()
        created = campaign.pk is None
        campaign.save()
        _audit(actor, campaign, ip_address, AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE,
               {"fields": sorted(changed), "version": campaign.version,
                **({"back_to_draft_from": was} if not created and was in _BACK_TO_DRAFT else {})})
    return campaign


def campaign_submit(*, campaign: Campaign, actor: AbstractBaseUser, ip_address: str | None = None) -> Campaign:
    """Draft (or rejected) → submitted, once it says what it offers, through which channels, at what cost."""
    with transaction.atomic():
        campaign = _locked(campaign, allowed=(Status.DRAFT, Status.REJECTED),
                           message=_("Only a draft or a rejected campaign can be submitted."))
        campaign_may_change_check(actor, campaign)
        missing = [label for label, present in (
            (_("a product"), campaign.product_id), (_("a budget"), campaign.budget is not None),
            (_("channels"), campaign.channels),
        ) if not present]
        if missing:
            raise ValidationError(_("Add %(missing)s before submitting.") % {"missing": ", ".join(missing)})
        campaign.status, campaign.submitted_by, campaign.submitted_at = Status.SUBMITTED, actor, timezone.now()
        campaign.decided_by = campaign.decided_at = None
        campaign.rejection_reason = ""
        campaign.save()
        _audit(actor, campaign, ip_address, AuditEvent.Action.CHANGE, {"step": "submit", "version": campaign.version})
    return campaign


def campaign_may_decide(*, profile: StaffProfile | None, campaign: Campaign) -> bool:
    """An admin decides any campaign; a supervisor those that target their own branch only."""
    if profile is None or not profile.user.is_active:
        return False
    if profile.role == StaffProfile.Role.ADMIN:
        return True
    return _supervises_its_one_branch(profile, campaign)


def _supervises_its_one_branch(profile: StaffProfile, campaign: Campaign) -> bool:
    """A supervisor of the one branch the campaign targets (a multi-branch or bank-wide campaign has none)."""
    return (profile.role == StaffProfile.Role.SUPERVISOR and profile.branch_id is not None
            and campaign.criteria.get("branches") == [profile.branch_id])


def campaign_may_change(*, profile: StaffProfile | None, campaign: Campaign) -> bool:
    """Head office (administrators, analysts) and the campaign's own maker change and target it; any
    other supervisor only a campaign that targets their own branch alone (another branch's campaign is
    that branch's to change)."""
    if profile is None or not profile.user.is_active:
        return False
    if campaign.created_by_id == profile.user_id:
        return True
    if profile.role in (StaffProfile.Role.ADMIN, StaffProfile.Role.ANALYST):
        return True
    return _supervises_its_one_branch(profile, campaign)


def campaign_may_change_check(actor: AbstractBaseUser, campaign: Campaign) -> None:
    """PermissionDenied (audited as a refused request) for a user who may not change `campaign`."""
    if not campaign_may_change(profile=staff_profile_for_user(actor), campaign=campaign):
        raise PermissionDenied(_("Only head office, or the supervisor of the one branch a campaign targets, may "
                                 "change it."))


def _changed_by(actor: AbstractBaseUser, campaign: Campaign) -> bool:
    """Whether `actor` changed any version of the campaign (its audit trail records every save)."""
    return AuditEvent.objects.filter(
        object_type="campaign", object_id=str(campaign.pk), actor_id=actor.pk, outcome=AuditEvent.Outcome.ALLOWED,
        action__in=(AuditEvent.Action.CREATE, AuditEvent.Action.CHANGE), detail__has_key="fields",
    ).exists()


def _checker(actor: AbstractBaseUser, campaign: Campaign) -> None:
    """The four-eyes rule: PermissionDenied for a maker — who drafted, changed or submitted any
    version — or a user without the right (the caller audits the refusal after its transaction is
    rolled back)."""
    if actor.pk in (campaign.submitted_by_id, campaign.created_by_id) or _changed_by(actor, campaign):
        raise PermissionDenied(_("The approver must be another user than the ones who drafted, changed and "
                                 "submitted the campaign."))
    if not campaign_may_decide(profile=staff_profile_for_user(actor), campaign=campaign):
        raise PermissionDenied(_("Only an administrator, or the supervisor of the one branch a campaign targets, "
                                 "may decide it."))


def _decided(step: str, campaign: Campaign, actor: AbstractBaseUser, ip_address: str | None, decide) -> Campaign:
    """Runs `decide(locked campaign)` after the four-eyes check, in one transaction; a refusal is audited."""
    try:
        with transaction.atomic():
            locked = _locked(campaign, allowed=(Status.SUBMITTED,),
                             message=_("Only a submitted campaign can be approved or rejected."))
            _checker(actor, locked)
            decide(locked)
            locked.decided_by, locked.decided_at = actor, timezone.now()
            locked.save()
            _audit(actor, locked, ip_address, AuditEvent.Action.CHANGE, {"step": step, "version": locked.version})
    except PermissionDenied as refused:
        _audit(actor, campaign, ip_address, AuditEvent.Action.CHANGE, {"step": step, "reason": str(refused)},
               outcome=AuditEvent.Outcome.DENIED)
        raise
    return locked


def campaign_approve(*, campaign: Campaign, actor: AbstractBaseUser, version: int,
                     ip_address: str | None = None) -> Campaign:
    """Submitted → approved by a checker, for the version the checker read."""
    def approve(locked: Campaign) -> None:
        if version != locked.version:
            raise ValidationError(_("The campaign changed after you opened it (version %(now)s, you read "
                                    "%(read)s): read it again before approving.")
                                  % {"now": locked.version, "read": version})
        locked.status = Status.APPROVED

    return _decided("approve", campaign, actor, ip_address, approve)


def campaign_reject(*, campaign: Campaign, actor: AbstractBaseUser, reason: str,
                    ip_address: str | None = None) -> Campaign:
    """Submitted → rejected by a checker, with the reason the maker reads."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the campaign is rejected.")})

    def reject(locked: Campaign) -> None:
        locked.status, locked.rejection_reason = Status.REJECTED, reason[:2000]

    return _decided("reject", campaign, actor, ip_address, reject)


def campaign_launch(*, campaign: Campaign, actor: AbstractBaseUser, today: date | None = None,
                    ip_address: str | None = None) -> Campaign:
    """Approved → running, not before its start date."""
    today = today or timezone.localdate()
    with transaction.atomic():
        campaign = _locked(campaign, allowed=(Status.APPROVED,),
                           message=_("Only an approved campaign can be launched."))
        _decider_check(actor, campaign)
        if campaign.starts_on > today:
            raise ValidationError(_("The campaign starts on %(date)s.") % {"date": campaign.starts_on})
        if not campaign_targets_current(campaign):
            raise ValidationError(_("Target the campaign before launching it: it has no targets for the version "
                                    "that was approved."))
        campaign.status = Status.ACTIVE
        campaign.save()
        _audit(actor, campaign, ip_address, AuditEvent.Action.CHANGE, {"step": "launch"})
    return campaign


def campaign_close(*, campaign: Campaign, actor: AbstractBaseUser, ip_address: str | None = None) -> Campaign:
    """Running → closed."""
    with transaction.atomic():
        campaign = _locked(campaign, allowed=(Status.ACTIVE,), message=_("Only a running campaign can be closed."))
        _decider_check(actor, campaign)
        campaign.status = Status.COMPLETED
        campaign.save()
        _audit(actor, campaign, ip_address, AuditEvent.Action.CHANGE, {"step": "close"})
    return campaign


def _decider_check(actor: AbstractBaseUser, campaign: Campaign) -> None:
    """Launching and closing are a checker's: an admin, or the supervisor of the one branch targeted."""
    if not campaign_may_decide(profile=staff_profile_for_user(actor), campaign=campaign):
        raise PermissionDenied(_("Only an administrator, or the supervisor of the one branch a campaign targets, "
                                 "may launch or close it."))


def campaign_targets_current(campaign: Campaign) -> bool:
    """Whether the campaign's published targets were chosen for its current version (the run as the
    page loaded it, else read without caching it on the campaign)."""
    if campaign.targeting_run_id is None:
        return False
    if Campaign.targeting_run.is_cached(campaign):
        params = campaign.targeting_run.params
    else:
        params = Run.objects.filter(pk=campaign.targeting_run_id).values_list("params", flat=True).first()
    return params is not None and params.get("version") == campaign.version


def _locked(campaign: Campaign, *, allowed: tuple[str, ...], message: str) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status not in allowed:
        raise ValidationError(message)
    return locked


def _audit(actor, campaign: Campaign, ip_address: str | None, action: str, detail: dict,
           outcome: str = AuditEvent.Outcome.ALLOWED) -> None:
    audit_record(actor=actor, action=action, outcome=outcome, object_type="campaign", object_id=campaign.pk,
                 ip_address=ip_address, detail={"status": campaign.status, **detail})
