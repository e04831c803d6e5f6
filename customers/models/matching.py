"""Entity resolution: candidate duplicate pairs with their scores, the merges made from them (kept so
each can be undone exactly), and the survivorship rules that pick a merged record's values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.runs.models import Run
from customers.models.customer import Customer
from customers.models.sources import FieldGroup, ImportRow


class SurvivorshipRule(models.Model):
    """How a merge picks each field group's value when both records have one (editable in admin)."""

    class Strategy(models.TextChoices):
        TRUST = "trust", _("The more trusted source")
        RECENT = "recent", _("The more recent value")
        COMPLETE = "complete", _("The more complete value")

    group = models.CharField(_("field group"), max_length=12, choices=FieldGroup.choices, unique=True)
    strategy = models.CharField(_("strategy"), max_length=10, choices=Strategy.choices, default=Strategy.TRUST)

    class Meta:
        ordering = ["group"]
        verbose_name = _("survivorship rule")
        verbose_name_plural = _("survivorship rules")

    def __str__(self) -> str:
        return f"{self.get_group_display()}: {self.get_strategy_display()}"


class MatchCandidate(models.Model):
    """A pair that may be one customer: two golden records (a find-duplicates run) or an incoming
    import row and a golden record. Keeps the score and the field comparisons behind it."""

    class Decision(models.TextChoices):
        AUTO_MERGE = "auto_merge", _("Merge automatically")
        REVIEW = "review", _("Review")
        NEW = "new", _("Different customers")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        MERGED = "merged", _("Merged")
        NOT_DUPLICATE = "distinct", _("Not the same customer")
        SUPERSEDED = "superseded", _("No longer current")

    left = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer"),
                             db_index=False)  # indexed by match_candidate_left_idx
    right = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("possible duplicate"), db_index=False)
    # An incoming row matched against `left` (import review) instead of a second golden record.
    import_row = models.ForeignKey(ImportRow, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                   verbose_name=_("import row"))
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            verbose_name=_("run"))
    match_probability = models.FloatField(_("match probability"))
    match_weight = models.FloatField(_("match weight"))
    # [{"field": …, "level": …, "label": …, "weight": …}] as the matcher explained the score.
    comparisons = models.JSONField(_("field comparisons"), default=list)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    rule = models.CharField(_("rule"), max_length=40, blank=True)
    model_version = models.CharField(_("model version"), max_length=40, blank=True)
    # The two records have different RMs: a supervisor decides, the merge never picks silently.
    ownership_conflict = models.BooleanField(_("different RMs"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("found"), auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("match candidate")
        verbose_name_plural = _("match candidates")
        constraints = [
            # One open question per pair of golden records (left < right), whatever the runs.
            models.UniqueConstraint(fields=["left", "right"], condition=models.Q(status="pending"),
                                    name="match_candidate_one_pending_pair"),
            models.CheckConstraint(
                condition=models.Q(right__isnull=False) | models.Q(import_row__isnull=False),
                name="match_candidate_has_a_counterpart",
            ),
        ]
        indexes = [
            # The review queue: pending pairs, most likely first.
            models.Index(fields=["status", "-match_probability"], name="match_candidate_queue_idx"),
            # A customer's open questions (360° page notice, merge guard).
            models.Index(fields=["left", "status"], name="match_candidate_left_idx"),
            models.Index(fields=["right", "status"], name="match_candidate_right_idx",
                         condition=models.Q(right__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.left_id} ~ {self.right_id or self.import_row_id}: {self.match_probability:.3f}"


class CustomerMerge(models.Model):
    """One merge of `absorbed` into `survivor`, with everything needed to undo it exactly: both
    records' field values before, the value chosen per field, and the ids of every row moved."""

    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("survivor"))
    absorbed = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("absorbed record"))
    candidate = models.ForeignKey(MatchCandidate, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("match candidate"))
    survivor_before = models.JSONField(_("survivor before"))
    absorbed_before = models.JSONField(_("absorbed record before"))
    # field → "survivor" or "absorbed": whose value the merged record kept.
    chosen = models.JSONField(_("values chosen"), default=dict)
    # "app_label.model" → [ids re-pointed from the absorbed record to the survivor].
    moved = models.JSONField(_("rows moved"), default=dict)
    ownership_conflict = models.BooleanField(_("different RMs"), default=False)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("merged by"))
    merged_at = models.DateTimeField(_("merged"))
    unmerged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("unmerged by"))
    unmerged_at = models.DateTimeField(_("unmerged"), null=True, blank=True)

    class Meta:
        ordering = ["-merged_at"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        constraints = [
            # A record is absorbed by at most one merge in force.
            models.UniqueConstraint(fields=["absorbed"], condition=models.Q(unmerged_at__isnull=True),
                                    name="customer_merge_one_in_force"),
        ]
        indexes = [
            # A survivor's merges (360° page "merged from", unmerge).
            models.Index(fields=["survivor", "-merged_at"], name="customer_merge_survivor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.survivor_id} {self.merged_at:%Y-%m-%d}"
