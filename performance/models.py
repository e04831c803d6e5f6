"""The standard KPI model: definitions (which registered SQL measure, direction, weights), targets per
period for RMs and branches, and what each KPI run found (actuals, achievements, scores, ranks).

A KPI run (performance/runs.py) is one period's figures; past periods stay as their runs published
them. Result rows are few (one per KPI per RM and per branch) and keyed by run.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from crm_bank.runs.models import Run
from crm_bank.ui.names import localized
from performance.measures import MEASURES


class Scope(models.TextChoices):
    RM = "rm", _("RM")
    BRANCH = "branch", _("Branch")


class Kpi(models.Model):
    """One KPI of the bank's standard model: the measure it reads (performance.measures, SQL written
    in code), whether higher or lower is better, and its weight in an RM's and a branch's score."""

    class Direction(models.TextChoices):
        HIGHER = "higher", _("Higher is better")
        LOWER = "lower", _("Lower is better")

    class Unit(models.TextChoices):
        COUNT = "count", _("Count")
        PERCENT = "percent", _("Percent")
        AMOUNT = "amount", _("Amount")
        RATIO = "ratio", _("Ratio")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name in Chinese"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    measure = models.CharField(_("measure"), max_length=40, choices=[(m.code, m.label) for m in MEASURES.values()])
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices)
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices, default=Direction.HIGHER)
    weight_rm = models.DecimalField(_("weight in an RM's score"), max_digits=5, decimal_places=2, default=Decimal(0))
    weight_branch = models.DecimalField(_("weight in a branch's score"), max_digits=5, decimal_places=2,
                                        default=Decimal(0))
    # Achievement is shown up to this share of the target (1.5: 150 %); the score counts at most 100 %.
    cap = models.DecimalField(_("achievement cap"), max_digits=4, decimal_places=2, default=Decimal("1.50"))
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("KPI")
        verbose_name_plural = _("KPIs")
        constraints = [
            models.CheckConstraint(condition=models.Q(weight_rm__gte=0) & models.Q(weight_branch__gte=0),
                                   name="kpi_weights_not_negative",
                                   violation_error_message=_("Weights cannot be negative.")),
            models.CheckConstraint(condition=models.Q(cap__gte=1), name="kpi_cap_at_least_target",
                                   violation_error_message=_("The cap is at least 1: the target itself.")),
        ]

    def __str__(self) -> str:
        return self.localized_name

    @property
    def localized_name(self) -> str:
        return localized(english=self.name, chinese=self.name_zh)

    def weight_for(self, scope: str) -> Decimal:
        return self.weight_rm if scope == Scope.RM else self.weight_branch


class KpiTarget(models.Model):
    """A KPI's target for one period ("2026-11" or "2026-Q4") and one RM or branch. A supervisor's
    RM target applies at once; a branch target waits for a second approver (campaigns' four eyes)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Waiting for approval")
        APPROVED = "approved", _("Approved")

    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, related_name="targets", verbose_name=_("KPI"))
    period = models.CharField(_("period"), max_length=7)
    scope = models.CharField(_("for"), max_length=6, choices=Scope.choices)
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                           related_name="+", verbose_name=_("RM"))
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("branch"))
    value = models.DecimalField(_("target"), max_digits=18, decimal_places=4)
    # The value in force: the last approved one. A change to an approved branch target waits for its
    # approver with `value`, while this one still counts (one person cannot take a target out of the
    # scores by proposing another). None until a first value is approved; a row written approved
    # without it counts at `value` (performance.runs.TARGET_IN_FORCE).
    approved_value = models.DecimalField(_("approved target"), max_digits=18, decimal_places=4, null=True,
                                         blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.APPROVED)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("set by"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("approved by"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [
            models.UniqueConstraint(fields=["kpi", "period", "scope", "rm", "branch"], nulls_distinct=False,
                                    name="kpi_target_one_per_scope",
                                    violation_error_message=_("This KPI has a target for this period already.")),
            models.CheckConstraint(
                condition=(models.Q(scope="rm", rm__isnull=False, branch__isnull=True)
                           | models.Q(scope="branch", branch__isnull=False, rm__isnull=True)),
                name="kpi_target_scope_matches", violation_error_message=_("An RM target names an RM, a branch "
                                                                           "target a branch.")),
        ]
        indexes = [
            # The run's read: a period's approved targets.
            models.Index(fields=["period", "status"], name="kpi_target_period_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi.code} {self.period} {self.scope}:{self.rm_id or self.branch_id} = {self.value}"


class KpiResult(models.Model):
    """One KPI's figure for one RM or branch in a KPI run: the measure's numerator and denominator,
    the actual, the approved target of the period and the achievement (direction-aware, capped)."""

    run = models.ForeignKey(Run, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                            verbose_name=_("run"), db_index=False)
    kpi = models.ForeignKey(Kpi, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                            verbose_name=_("KPI"))
    scope = models.CharField(_("for"), max_length=6, choices=Scope.choices)
    scope_id = models.BigIntegerField(_("RM or branch id"))
    numerator = models.FloatField(_("numerator"))
    denominator = models.FloatField(_("denominator"))
    actual = models.FloatField(_("actual"), null=True)
    target = models.FloatField(_("target"), null=True)
    achievement = models.FloatField(_("achievement"), null=True)

    class Meta:
        verbose_name = _("KPI result")
        verbose_name_plural = _("KPI results")
        constraints = [
            # Also the index of every read: a run's figures of one RM or branch, a chunk's rewrite.
            models.UniqueConstraint(fields=["run", "scope", "scope_id", "kpi"], name="kpi_result_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.scope}:{self.scope_id} {self.kpi_id} = {self.actual}"


class KpiScore(models.Model):
    """An RM's or a branch's 0–100 score in a KPI run and its rank among its peers (RMs of a similar
    book size, branches of one region)."""

    run = models.ForeignKey(Run, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
                            verbose_name=_("run"), db_index=False)
    scope = models.CharField(_("for"), max_length=6, choices=Scope.choices)
    scope_id = models.BigIntegerField(_("RM or branch id"))
    # The RM's branch (an RM's scorecard links to it); the branch itself for a branch.
    branch = models.ForeignKey(Branch, on_delete=models.DO_NOTHING, db_constraint=False, null=True,
                               related_name="+", verbose_name=_("branch"))
    score = models.FloatField(_("score"), null=True)  # null: no KPI with a target and a weight
    peer_group = models.CharField(_("peer group"), max_length=120)
    rank = models.PositiveIntegerField(_("rank"), null=True)
    peers = models.PositiveIntegerField(_("peers"))
    customers = models.PositiveIntegerField(_("customers in the book"), default=0)

    class Meta:
        ordering = ["scope", "peer_group", "rank"]
        verbose_name = _("KPI score")
        verbose_name_plural = _("KPI scores")
        constraints = [
            models.UniqueConstraint(fields=["run", "scope", "scope_id"], name="kpi_score_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.scope}:{self.scope_id} {self.score} #{self.rank}/{self.peers}"
