"""What keeps a relationship going when people and stages change: RM tasks, in-app notifications,
book transfers between RMs, the churn-risk flag a complaint raises, and the lifecycle rules."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from crm_bank.runs.models import Run
from customers.models import Customer


class Task(models.Model):
    """A to-do on a staff member's landing page: due, overdue, done with one click."""

    class Kind(models.TextChoices):
        FOLLOW_UP = "follow_up", _("Follow-up")
        KYC_REFRESH = "kyc_refresh", _("KYC refresh")
        INTRODUCTION = "introduction", _("Introduction to a new RM")
        COMPLAINT_ACTION = "complaint", _("Complaint action")
        FEEDBACK_RESPONSE = "feedback", _("Answer customer feedback")
        CHURN_RISK = "churn_risk", _("Customer at risk of leaving")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("assigned to"), db_index=False)  # task_assignee_due_idx
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 verbose_name=_("customer"), db_index=False)  # task_customer_idx
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    # What the assignee needs to act without digging: for an introduction, the relationship digest
    # (holdings, last contacts, open complaints, notes) as it was at the hand-over.
    detail = models.TextField(_("detail"), blank=True)
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("done by"))
    interaction = models.ForeignKey("channels.Interaction", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("interaction"))
    complaint = models.ForeignKey("channels.Complaint", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="tasks", verbose_name=_("complaint"))
    # Set by generators that must not create a task twice (e.g. "kyc:<customer>:<due date>").
    dedupe_key = models.CharField(max_length=80, blank=True, editable=False)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], condition=~models.Q(dedupe_key=""),
                                    name="task_dedupe_unique"),
        ]
        indexes = [
            # Landing page: my open tasks, soonest due first (overdue on top).
            models.Index(fields=["assignee", "due_at"], name="task_assignee_due_idx",
                         condition=models.Q(status="open")),
            # A customer's open tasks (360° page).
            models.Index(fields=["customer", "status"], name="task_customer_idx"),
            # The full task list of an assignee (any status, latest due first) and its page count
            # (channels.selectors.work.tasks_for).
            models.Index(fields=["assignee", "-due_at", "-id"], name="task_assignee_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class Notification(models.Model):
    """An in-app message on the recipient's landing page. The text is rendered when it is created,
    in the recipient's preferred language (it is also what the e-mail says)."""

    class Kind(models.TextChoices):
        COMPLAINT_ASSIGNED = "complaint_assigned", _("Complaint assigned")
        COMPLAINT_ESCALATED = "complaint_escalated", _("Complaint escalated")
        SKIP_LEVEL = "skip_level", _("Skip-level complaint about your branch")
        CHURN_RISK = "churn_risk", _("Churn risk raised")
        BOOK_TRANSFER = "book_transfer", _("Customers transferred to you")
        FEEDBACK = "feedback", _("Customer feedback on your product")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("recipient"), db_index=False)  # notification_recipient_idx
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=300, blank=True)
    # The customer the text names, if any: the retention run erases the text with the customer's data.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 verbose_name=_("customer"), db_index=False)  # notification_customer_idx
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # Landing page: my notifications, newest first (unread ones are the ones shown).
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_idx"),
            # The unread list and count on the landing page (channels.selectors.work.notifications_unread):
            # only the unread rows, so a recipient with years of read notifications (an admin as the
            # fallback recipient) costs no more than one with none.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_unread_idx",
                         condition=models.Q(read_at__isnull=True)),
            # The retention run: a customer's notifications (most name none).
            models.Index(fields=["customer"], name="notification_customer_idx",
                         condition=models.Q(customer__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.text[:40]}"


class BookTransfer(models.Model):
    """One hand-over of some or all of an RM's customers to another RM of the branch."""

    class Reason(models.TextChoices):
        STAFF_LEFT = "staff_left", _("RM left the branch")
        REBALANCING = "rebalancing", _("Book rebalancing")
        HANDOVER = "handover", _("Hand-over")

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+", verbose_name=_("branch"))
    from_rm = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("from RM"))
    to_rm = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("to RM"))
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    note = models.TextField(_("hand-over note"))
    customers_moved = models.PositiveIntegerField(_("customers moved"))
    transferred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("transferred by"))
    transferred_at = models.DateTimeField(_("transferred"))

    class Meta:
        ordering = ["-transferred_at"]
        verbose_name = _("book transfer")
        verbose_name_plural = _("book transfers")

    def __str__(self) -> str:
        return f"{self.from_rm_id} → {self.to_rm_id}: {self.customers_moved}"


class ChurnFlag(models.Model):
    """A customer flagged as at risk of leaving by an event (a top customer's complaint, an
    escalated case), until staff clear it. The model-based churn score lives in segmentation."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="+",
                                    verbose_name=_("customer"))
    raised_at = models.DateTimeField(_("raised"))
    reason = models.CharField(_("reason"), max_length=300)
    complaint = models.ForeignKey("channels.Complaint", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("complaint"))
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("cleared by"))

    class Meta:
        verbose_name = _("churn-risk flag")
        verbose_name_plural = _("churn-risk flags")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.reason}"

    @property
    def is_raised(self) -> bool:
        return self.cleared_at is None


class LifecycleRule(models.Model):
    """When a customer is in a stage, as data an admin edits. The nightly lifecycle run checks the
    active rules in priority order; the first whose every set condition holds gives the stage, and a
    customer no rule matches is a plain customer (a prospect until their first account opens)."""

    STAGES = [(code, label) for code, label in Customer.Lifecycle.choices
              if code not in (Customer.Lifecycle.PROSPECT, Customer.Lifecycle.CUSTOMER)]

    stage = models.CharField(_("stage"), max_length=10, choices=STAGES)
    priority = models.PositiveSmallIntegerField(_("priority"), help_text=_("Lower is checked first."))
    min_tenure_months = models.PositiveIntegerField(_("customer for at least (months)"), null=True, blank=True)
    min_products = models.PositiveSmallIntegerField(_("at least this many open products"), null=True, blank=True)
    min_months_inactive = models.PositiveIntegerField(
        _("no activity for at least (months)"), null=True, blank=True,
        help_text=_("Activity: an own transaction, or a contact the customer made (an inbound interaction)."),
    )
    no_open_accounts = models.BooleanField(_("has no open account"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority"]
        verbose_name = _("lifecycle rule")
        verbose_name_plural = _("lifecycle rules")
        constraints = [
            models.UniqueConstraint(fields=["priority"], name="lifecycle_rule_priority_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: {self.get_stage_display()}"


class LifecycleSnapshot(models.Model):
    """What a lifecycle run found per branch: customers per stage and moves between stages since the
    previous run. The funnel page reads these, so past runs stay as they were."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    from_stage = models.CharField(max_length=10, blank=True)  # "": stage counts, not a move
    stage = models.CharField(max_length=10)
    customers = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("lifecycle snapshot")
        verbose_name_plural = _("lifecycle snapshots")
        constraints = [
            models.UniqueConstraint(fields=["run", "branch", "from_stage", "stage"], name="lifecycle_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.branch_id} {self.from_stage}→{self.stage}: {self.customers}"
