"""Every contact between the bank and a customer, on any channel: the unified timeline.

Sized for tens of millions of rows: the timeline reads one customer's rows from an index in
time order, analytics read the daily rollup, never this table (README: monthly partitioning for
larger banks).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models.systems import ChannelSystem
from crm_bank.org.models import Branch
from customers.models import TOUCHPOINT_CHANNELS, Customer, Product, channel_choices
from customers.models.channels import CHANNEL_MAX_LENGTH


class Interaction(models.Model):
    class Kind(models.TextChoices):
        ENQUIRY = "enquiry", _("Enquiry")
        TRANSACTION = "transaction", _("Transaction")
        SERVICE_REQUEST = "service_request", _("Service request")
        COMPLAINT = "complaint", _("Complaint")
        SALE = "sale", _("Sale")
        FEEDBACK = "feedback", _("Feedback")
        CAMPAIGN_CONTACT = "campaign_contact", _("Campaign contact")
        VISIT = "visit", _("Visit")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer"), db_index=False,
    )  # indexed by interaction_customer_time_idx
    channel = models.CharField(
        _("channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(TOUCHPOINT_CHANNELS),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("staff member"), db_index=False,
    )  # indexed by interaction_staff_time_idx
    # The branch the contact counts for in analytics: the staff member's branch, else the
    # customer's home branch when it happened (kept, so a later move does not rewrite history).
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch"),
        db_index=False,
    )
    occurred_at = models.DateTimeField(_("occurred at"))  # aware; stored in UTC
    summary = models.CharField(_("summary"), max_length=500)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    # A campaign by its code: campaigns sit above channels in the layers and read this column.
    campaign_code = models.CharField(_("campaign"), max_length=32, blank=True)
    # Feedback about a product goes to the product's owner.
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product"),
        db_index=False,
    )
    # Null for contacts staff log in the CRM itself.
    source_system = models.ForeignKey(
        ChannelSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("source system"), db_index=False,
    )  # indexed by interaction_source_unique
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    # SHA-256 of the item as the system sent it: a replay with another body is a conflict (409).
    payload_hash = models.CharField(max_length=64, blank=True, editable=False)
    complaint = models.ForeignKey(
        "channels.Complaint", on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions",
        verbose_name=_("complaint"), db_index=False,
    )  # indexed by interaction_complaint_idx
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            # Idempotent ingest: one row per (system, the system's own id), whatever the retries.
            models.UniqueConstraint(
                fields=["source_system", "source_id"], condition=~models.Q(source_id=""),
                name="interaction_source_unique",
            ),
        ]
        indexes = [
            # The 360° timeline: one customer's contacts, newest first, paged by keyset.
            models.Index(fields=["customer", "-occurred_at", "-id"], name="interaction_customer_time_idx"),
            # Timeline filtered by channel, and the touchpoint map (latest contact per channel).
            models.Index(fields=["customer", "channel", "-occurred_at"], name="interaction_customer_chan_idx"),
            # A staff member's own contacts (RM activity, follow-ups).
            models.Index(fields=["staff", "-occurred_at"], name="interaction_staff_time_idx",
                         condition=models.Q(staff__isnull=False)),
            # A complaint case's linked contacts.
            models.Index(fields=["complaint"], name="interaction_complaint_idx",
                         condition=models.Q(complaint__isnull=False)),
            # A campaign's contacts and responses (campaign dashboards), newest first.
            models.Index(fields=["campaign_code", "-occurred_at"], name="interaction_campaign_idx",
                         condition=~models.Q(campaign_code="")),
            # The rollup rebuild's day range (occurred_at between two days): rows arrive in time
            # order, so a BRIN of a few pages finds a day's blocks in tens of millions of rows.
            BrinIndex(fields=["occurred_at"], name="interaction_occurred_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"


class HeldInteraction(models.Model):
    """An interaction a channel system sent for a customer number the bank does not know: kept,
    never dropped, until someone resolves it to a customer (admin) or discards it with a reason."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        RESOLVED = "resolved", _("Resolved to a customer")
        DISCARDED = "discarded", _("Discarded")

    system = models.ForeignKey(ChannelSystem, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("channel system"))
    source_id = models.CharField(_("source id"), max_length=64)
    customer_ref = models.CharField(_("customer number sent"), max_length=64)
    payload = models.JSONField(_("item as received"))
    payload_hash = models.CharField(max_length=64, editable=False)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    interaction = models.ForeignKey(
        Interaction, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("stored as"),
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("held interaction")
        verbose_name_plural = _("held interactions")
        constraints = [
            # A retried post of an unknown customer's item is held once.
            models.UniqueConstraint(fields=["system", "source_id"], name="held_interaction_source_unique"),
        ]
        indexes = [
            # The holding list: what still waits, oldest first.
            models.Index(fields=["status", "received_at"], name="held_interaction_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.source_id} → {self.customer_ref}"


class InteractionDailyCount(models.Model):
    """Interactions per day, branch, channel, kind and direction: what the channel analytics read,
    so a chart over ten million contacts reads thousands of rows. Kept in step by every service that
    stores interactions (an upsert in the same transaction); rebuilt in bulk after a generator."""

    day = models.DateField(_("day"))  # in the bank's time zone
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                               db_index=False)
    channel = models.CharField(max_length=CHANNEL_MAX_LENGTH)
    kind = models.CharField(max_length=16)
    direction = models.CharField(max_length=8)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily interaction count")
        verbose_name_plural = _("daily interaction counts")
        constraints = [
            # The upsert's conflict target; a null branch (no branch known) is one group, not many.
            models.UniqueConstraint(
                fields=["day", "branch", "channel", "kind", "direction"], name="interaction_daily_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # Channel mix of one branch over a date range.
            models.Index(fields=["branch", "day"], name="interaction_daily_branch_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.branch_id} {self.channel} {self.kind} {self.direction}: {self.count}"
