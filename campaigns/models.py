"""Campaigns and the contacts made in them (historic campaigns included)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_bank.runs.models import Run
from crm_bank.ui.names import localized
from customers.models import CONTACT_CHANNELS, TOUCHPOINT_CHANNELS, Customer, Product, channel_choices
from customers.models.channels import CHANNEL_MAX_LENGTH
from segmentation.models import BranchSnapshotRow, CustomerValue, RuleSegment, run_reference


class Campaign(models.Model):
    """A campaign: what it offers, to whom, through which channels, for how much, from when to when.

    Maker-checker: a campaign is drafted, submitted, and approved or rejected (with a reason) by a
    different user with the supervisor or admin role, then launched (running) and closed. A change
    after submission sends it back to draft; every step is audited (campaigns.services). Historic
    campaigns loaded from files (the UCI telemarketing campaign) arrive closed."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        ACTIVE = "active", _("Running")
        COMPLETED = "completed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("name in Chinese"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    objective = models.TextField(_("objective"), blank=True)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("product")
    )
    # The main channel (a historic file names one); `channels` lists every channel the campaign uses.
    channel = models.CharField(
        _("channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(CONTACT_CHANNELS)
    )
    channels = ArrayField(
        models.CharField(max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(CONTACT_CHANNELS)),
        verbose_name=_("channels"), default=list, blank=True,
    )
    # Who may be targeted: {"tiers": […], "segments": [rule segment ids], "branches": [ids],
    # "lifecycle_stages": […], "min_propensity": 0.2, "holds_product": code, "lacks_product": code}.
    criteria = models.JSONField(_("target criteria"), default=dict, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, null=True, blank=True)
    # Channel → cost of one contact in the reporting currency.
    contact_costs = models.JSONField(_("cost per contact by channel"), default=dict, blank=True)
    # What one conversion is worth to the bank (reporting currency): expected value per contact is
    # propensity × this − the channel's cost.
    conversion_value = models.DecimalField(_("value of one conversion"), max_digits=12, decimal_places=2,
                                           null=True, blank=True)
    control_share = models.DecimalField(_("control group share"), max_digits=4, decimal_places=3,
                                        default=Decimal("0.100"))
    seed = models.PositiveIntegerField(_("random seed"), default=7)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Bumped by every change of a draft: an approval names the version it read.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("approved or rejected by"))
    decided_at = models.DateTimeField(_("approved or rejected"), null=True, blank=True)
    rejection_reason = models.TextField(_("why it was rejected"), blank=True)
    # The published targeting run (campaigns.targeting): its targets and control group.
    targeting_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      verbose_name=_("targeting run"))
    data_note = models.TextField(_("data note"), blank=True)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start",
                violation_error_message=_("A campaign ends on or after the day it starts."),
            ),
            models.CheckConstraint(
                condition=models.Q(control_share__gte=0) & models.Q(control_share__lt=1),
                name="campaign_control_share_range",
                violation_error_message=_("The control group is a share from 0 up to (not including) 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(budget__isnull=True) | models.Q(budget__gte=0), name="campaign_budget_not_negative",
                violation_error_message=_("The budget cannot be negative."),
            ),
        ]
        indexes = [
            # The approval queue: submitted campaigns, the longest waiting first.
            models.Index(fields=["submitted_at"], name="campaign_waiting_idx",
                         condition=models.Q(status="submitted")),
        ]

    def __str__(self) -> str:
        return self.localized_name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:index")

    @property
    def localized_name(self) -> str:
        return localized(english=self.name, chinese=self.name_zh)


class CampaignContact(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", _("Not yet contacted")
        ACCEPTED = "accepted", _("Accepted the offer")
        DECLINED = "declined", _("Declined")
        NO_ANSWER = "no_answer", _("No answer")
        CALL_BACK = "call_back", _("Call back")
        INTERESTED = "interested", _("Interested")
        DO_NOT_CONTACT = "dnc", _("Do not contact again")

    class PreviousOutcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        OTHER = "other", _("Other")
        NONE = "", _("Not contacted before")

    # Indexed by campaign_contact_unique (campaign, customer) and campaign_contact_customer_idx.
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="contacts", db_index=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="campaign_contacts", db_index=False
    )
    contacted_on = models.DateField(_("last contacted"), null=True, blank=True)
    channel = models.CharField(
        _("contact channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(TOUCHPOINT_CHANNELS), blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    attempts = models.PositiveSmallIntegerField(_("contacts in this campaign"), default=0)
    last_call_seconds = models.PositiveIntegerField(_("last call (s)"), null=True, blank=True)
    previous_contacts = models.PositiveSmallIntegerField(_("contacts before this campaign"), default=0)
    days_since_previous = models.PositiveIntegerField(_("days since previous campaign"), null=True, blank=True)
    previous_outcome = models.CharField(
        _("previous campaign outcome"), max_length=8, choices=PreviousOutcome.choices, blank=True
    )
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("campaign contact")
        verbose_name_plural = _("campaign contacts")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_contact_unique"),
        ]
        indexes = [
            # 360° page: a customer's campaign contacts, newest first.
            models.Index(fields=["customer", "-contacted_on"], name="campaign_contact_customer_idx"),
            # Campaign results: outcome counts per campaign.
            models.Index(fields=["campaign", "outcome"], name="campaign_contact_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id} {self.outcome}"


class ServicePolicy(models.Model):
    """How customers of a value tier are served (the 80/20 rule put into practice): the channels
    staff may contact them by, the least time between two contacts, and their service level. One
    policy per tier, and optionally one per (tier, rule segment) that overrides it for the segment's
    members. Edited in admin; the 360° page shows it, campaign targeting and the RM's work queue
    apply it (campaigns.selectors.service_policy_for)."""

    class ServiceLevel(models.TextChoices):
        DEDICATED_RM = "dedicated_rm", _("Dedicated RM")
        PRIORITY = "priority", _("Priority queue")
        STANDARD = "standard", _("Standard service")
        DIGITAL = "digital", _("Digital self-service")

    tier = models.CharField(_("value tier"), max_length=1, choices=CustomerValue.Tier.choices)
    segment = models.ForeignKey(
        RuleSegment, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("segment"), help_text=_("Empty: every customer of the tier."),
    )
    channels = ArrayField(
        models.CharField(max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(CONTACT_CHANNELS)),
        verbose_name=_("channels staff may use"),
    )
    min_contact_days = models.PositiveSmallIntegerField(
        _("days between two contacts (at least)"),
        help_text=_("A customer contacted more recently is left out of campaign targets and work queues."),
    )
    service_level = models.CharField(_("service level"), max_length=12, choices=ServiceLevel.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["tier", "segment_id"]
        verbose_name = _("service policy")
        verbose_name_plural = _("service policies")
        constraints = [
            models.UniqueConstraint(fields=["tier", "segment"], nulls_distinct=False,
                                    name="service_policy_one_per_tier_segment",
                                    violation_error_message=_("This tier (and segment) has a policy already.")),
            models.CheckConstraint(condition=models.Q(min_contact_days__gte=1), name="service_policy_interval_positive",
                                   violation_error_message=_("Allow at least one day between two contacts.")),
            models.CheckConstraint(condition=~models.Q(channels=[]), name="service_policy_some_channel",
                                   violation_error_message=_("Choose at least one channel.")),
        ]

    def __str__(self) -> str:
        scope = f" · {self.segment}" if self.segment_id else ""
        return f"{self.tier}{scope}: {self.get_service_level_display()}"


class CampaignTarget(BranchSnapshotRow):
    """An eligible customer of a targeting run (campaigns.targeting): the channel they would be
    contacted by, its cost and the expected value of the contact; `group` says whether the budget
    reached them (treatment), the seeded draw kept them apart (control), or why not."""

    class Group(models.TextChoices):
        TREATMENT = "treatment", _("Targeted")
        CONTROL = "control", _("Control group")
        OVER_BUDGET = "over_budget", _("Beyond the budget")
        NOT_WORTH = "not_worth", _("Expected value below the contact's cost")

    tier = models.CharField(_("tier"), max_length=1, blank=True)
    propensity = models.FloatField(_("response propensity"), null=True)
    channel = models.CharField(_("channel"), max_length=CHANNEL_MAX_LENGTH)
    cost = models.FloatField(_("cost of the contact"))
    expected_value = models.FloatField(_("expected value of the contact"))
    group = models.CharField(_("group"), max_length=12, choices=Group.choices, blank=True)
    rank = models.IntegerField(_("rank"), null=True)

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")


class CampaignExclusion(models.Model):
    """How many customers of one chunk of a targeting run each eligibility rule left out (and how
    many were eligible): the preview's counts per reason, without a row per excluded customer."""

    pk = models.CompositePrimaryKey("run_id", "lo", "reason")
    run = run_reference()
    lo = models.BigIntegerField(_("first customer id of the chunk"))
    reason = models.CharField(_("reason"), max_length=20)
    customers = models.IntegerField(_("customers"))

    class Meta:
        verbose_name = _("campaign exclusion count")
        verbose_name_plural = _("campaign exclusion counts")

    def __str__(self) -> str:
        return f"{self.run_id}:{self.lo} {self.reason} {self.customers}"


class CampaignHourlyCount(models.Model):
    """A campaign's events per hour, channel, kind and direction, and how many of them were
    conversions: what the war room reads (campaigns.dashboard), kept in step as events arrive (an
    upsert in the storing transaction, campaigns.events), never a scan of the raw events."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField(_("hour"))  # the hour's start, UTC
    channel = models.CharField(_("channel"), max_length=CHANNEL_MAX_LENGTH)
    kind = models.CharField(_("kind"), max_length=16)
    direction = models.CharField(_("direction"), max_length=8)
    events = models.PositiveIntegerField(_("events"), default=0)
    conversions = models.PositiveIntegerField(_("conversions"), default=0)

    class Meta:
        verbose_name = _("campaign events per hour")
        verbose_name_plural = _("campaign events per hour")
        constraints = [
            # The upsert's conflict target; also the dashboard's read (one campaign, its hours in order).
            models.UniqueConstraint(fields=["campaign", "hour", "channel", "kind", "direction"],
                                    name="campaign_hourly_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.hour:%Y-%m-%d %H}h {self.channel} {self.kind}: {self.events}"


class StaffRoster(models.Model):
    """How many people serve a channel in an hour of the day (the call centre's agents, a branch's
    counter staff): what the war room's staffing advice compares with what Erlang C says is needed."""

    channel = models.CharField(_("channel"), max_length=CHANNEL_MAX_LENGTH,
                               choices=channel_choices(TOUCHPOINT_CHANNELS))
    hour = models.PositiveSmallIntegerField(_("hour of the day"))
    agents = models.PositiveSmallIntegerField(_("people rostered"))

    class Meta:
        ordering = ["channel", "hour"]
        verbose_name = _("staff roster hour")
        verbose_name_plural = _("staff roster")
        constraints = [
            models.UniqueConstraint(fields=["channel", "hour"], name="staff_roster_one_per_channel_hour",
                                    violation_error_message=_("This channel and hour are rostered already.")),
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="staff_roster_hour_of_day",
                                   violation_error_message=_("An hour of the day is 0 to 23.")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.hour:02d}:00 × {self.agents}"
