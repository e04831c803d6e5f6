"""Complaint cases: SLA by severity, the escalation ladder, and skip-level complaints (越级投诉)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm_bank.org.models import Branch
from customers.models import TOUCHPOINT_CHANNELS, Customer, Product, channel_choices
from customers.models.channels import CHANNEL_MAX_LENGTH


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Level(models.IntegerChoices):
    """The escalation ladder, bottom to top. A case sits at one level; escalation moves it one up.
    A skip-level complaint starts above the branch, at the level the customer went to."""

    OWNER = 0, _("Case owner")
    BRANCH_SUPERVISOR = 1, _("Branch supervisor")
    REGIONAL_HEAD = 2, _("Regional head")
    HEAD_OFFICE = 3, _("Head-office service centre")
    REGULATOR = 4, _("Regulator")


class ComplaintSLA(models.Model):
    """How long a case of one severity may stay unresolved before it escalates (editable in admin)."""

    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, unique=True)
    resolve_within_hours = models.PositiveIntegerField(_("resolve within (hours)"))
    # After a breach escalates a case, the new owner gets this long before the next step.
    escalation_step_hours = models.PositiveIntegerField(_("each escalation step (hours)"))

    class Meta:
        ordering = ["resolve_within_hours"]
        verbose_name = _("complaint SLA")
        verbose_name_plural = _("complaint SLAs")

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.resolve_within_hours} h"


class EscalationContact(models.Model):
    """Who receives cases at the levels above a branch: a regional head per region (Branch.region),
    the head-office service centre (region blank), the regulator liaison (region blank)."""

    level = models.PositiveSmallIntegerField(_("level"), choices=[
        (Level.REGIONAL_HEAD, Level.REGIONAL_HEAD.label), (Level.HEAD_OFFICE, Level.HEAD_OFFICE.label),
        (Level.REGULATOR, Level.REGULATOR.label),
    ])
    region = models.CharField(_("region"), max_length=120, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("staff member"))

    class Meta:
        ordering = ["level", "region"]
        verbose_name = _("escalation contact")
        verbose_name_plural = _("escalation contacts")
        constraints = [
            models.UniqueConstraint(fields=["level", "region"], name="escalation_contact_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.region}".strip()


class Complaint(models.Model):
    class Category(models.TextChoices):
        SERVICE = "service", _("Service quality")
        STAFF = "staff", _("Staff conduct")
        FEES = "fees", _("Fees and charges")
        PRODUCT = "product", _("Product")
        CARD = "card", _("Cards and ATM")
        DIGITAL = "digital", _("Internet and mobile banking")
        WAITING = "waiting", _("Waiting time")
        MIS_SELLING = "mis_selling", _("Mis-selling")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", pgettext_lazy("complaint status", "Closed")

    # Statuses in which the SLA clock runs and the case counts as open.
    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)

    Severity = Severity
    Level = Level

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("customer"), db_index=False)  # complaint_customer_idx
    channel = models.CharField(_("received through"), max_length=CHANNEL_MAX_LENGTH,
                               choices=channel_choices(TOUCHPOINT_CHANNELS))
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.MEDIUM)
    description = models.TextField(_("description"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    # The branch answerable for the case: the customer's home branch when it was opened.
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"),
                               db_index=False)  # complaint_branch_opened_idx
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("owner"), db_index=False)  # complaint_owner_idx
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, default=Level.OWNER)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("opened by"))
    sla_due_at = models.DateTimeField(_("SLA deadline"))
    # When the current owner's step ends: the SLA deadline first, then one escalation step per level.
    next_escalation_at = models.DateTimeField(_("escalates at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("customer satisfaction (1–5)"), null=True, blank=True,
    )
    sla_breached = models.BooleanField(_("SLA breached"), default=False)
    # 越级投诉: the customer went over the branch's head, straight to `level`.
    is_skip_level = models.BooleanField(_("skip-level complaint"), default=False)
    # The skipped branch must answer; the case is not closed until it has.
    skipped_branch_answer = models.TextField(_("answer of the skipped branch"), blank=True)
    skipped_branch_answered_at = models.DateTimeField(_("skipped branch answered"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True) | models.Q(satisfaction__range=(1, 5)),
                name="complaint_satisfaction_1_to_5",
            ),
        ]
        indexes = [
            # A customer's cases (360° page, eligibility "open complaint"), newest first.
            models.Index(fields=["customer", "-opened_at"], name="complaint_customer_idx"),
            # The escalation task: open cases whose step has ended.
            models.Index(fields=["next_escalation_at"], name="complaint_escalation_due_idx",
                         condition=models.Q(status__in=["open", "in_progress", "waiting_customer"])),
            # Complaint queue of a branch, SLA first; compliance per branch over time.
            models.Index(fields=["branch", "opened_at"], name="complaint_branch_opened_idx"),
            # An owner's open cases.
            models.Index(fields=["owner", "status"], name="complaint_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer_id} {self.get_category_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ComplaintEvent(models.Model):
    """One step in a case's life: opened, assigned, escalated, routed over the branch, status
    changes, the skipped branch's answer. Append-only; the case page lists them."""

    class Kind(models.TextChoices):
        OPENED = "opened", pgettext_lazy("complaint case", "Opened")
        ASSIGNED = "assigned", _("Assigned")
        ESCALATED = "escalated", _("Escalated on SLA breach")
        SKIP_LEVEL = "skip_level", _("Taken over the branch's head")
        STATUS = "status", _("Status changed")
        SKIPPED_BRANCH_ANSWER = "branch_answer", _("Skipped branch answered")
        NOTE = "note", _("Note")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"))  # null: the escalation task
    from_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("from"))
    to_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("to"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Complaint.Status.choices, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
