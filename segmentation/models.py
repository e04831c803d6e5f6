"""Per-run results of the value-scoring, segmentation and model-training runs, keyed (run, customer),
and the small per-run tables their pages read (tier summaries, segments, model artefacts, actions).

Rows belong to a run and never change after it is published (the model-training run only gains the
rows of customers scored after it, see training.predictions_score_new_customers); pages read the published run's rows
(crm_bank.runs CurrentRun), so a run in progress or a failed one is never seen.

The per-customer tables are written in bulk (INSERT … SELECT, COPY) a million rows at a time. Run,
customer, branch and RM are plain columns without foreign-key constraints: the rows are derived data,
a constraint check per row would slow every bulk write for nothing (the rows come from those tables),
and a cascade would make Django load a million rows to delete a run. Runs are never deleted by the
application (their admin is read-only); after each publish the framework deletes the per-customer
rows of failed runs and of runs older than the kind's newest few (crm_bank.runs run_results_prune).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from crm_bank.runs.models import Run
from customers.models import Customer
from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.profiles import QUALIFIER_SEPARATOR
from segmentation.rules import MAX_LENGTH as RULE_MAX_LENGTH
from segmentation.rules import RuleError, parse_rule


def run_reference(verbose_name: str | None = None) -> models.ForeignKey:
    """The run a result row belongs to: a plain column without a constraint, an index or a reverse
    accessor (derived rows, bulk-written; see the module docstring)."""
    return models.ForeignKey(
        Run, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
        verbose_name=verbose_name or _("run"),
    )


class RunCustomerRow(models.Model):
    """A run's result row for one customer, keyed (run, customer). No foreign-key constraints and no
    indexes of their own: bulk-written derived rows (see the module docstring); the primary key leads
    with run."""

    pk = models.CompositePrimaryKey("run_id", "customer_id")
    run = run_reference()
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
        verbose_name=_("customer"),
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.run_id}:{self.customer_id}"


class BranchSnapshotRow(RunCustomerRow):
    """Where the customer belonged when the run was made (tier tables by branch and RM)."""

    branch = models.ForeignKey(
        Branch, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
        verbose_name=_("branch"),
    )
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True,
        related_name="+", verbose_name=_("RM"),
    )

    class Meta:
        abstract = True


class CustomerFeatures(BranchSnapshotRow):
    """What the SQL feature step knows of a customer as of the run's date (segmentation/features.py)."""

    # Null when the customer has no transaction on or before the as-of date.
    recency_days = models.IntegerField(_("days since last transaction"), null=True)
    frequency = models.IntegerField(_("transactions in 12 months"))
    money_in = models.DecimalField(_("money in, 12 months"), max_digits=18, decimal_places=2)
    money_out = models.DecimalField(_("money out, 12 months"), max_digits=18, decimal_places=2)
    deposit_balance = models.DecimalField(_("deposit balance"), max_digits=18, decimal_places=2)
    # The deposit accounts' time-weighted balance over the 12 months (0 in runs before it was kept).
    # Defaults in the database: a worker of the previous release still writing a chunk during a deploy
    # (an INSERT without these columns) does not fail.
    average_balance = models.DecimalField(
        _("average deposit balance, 12 months"), max_digits=18, decimal_places=2, db_default=0,
    )
    loans_outstanding = models.DecimalField(_("loans outstanding"), max_digits=18, decimal_places=2)
    card_payments = models.IntegerField(_("card payments in 12 months"))
    fees_paid = models.DecimalField(_("fees paid, 12 months"), max_digits=18, decimal_places=2)
    product_count = models.SmallIntegerField(_("products held"))
    # Open accounts per product category (segmentation.columns.PRODUCT_CATEGORIES), one column each.
    n_current = models.SmallIntegerField(_("current accounts"), default=0)
    n_deposit = models.SmallIntegerField(_("deposits"), default=0)
    n_loan = models.SmallIntegerField(_("loans"), default=0)
    n_mortgage = models.SmallIntegerField(_("mortgages"), default=0)
    n_card = models.SmallIntegerField(_("cards"), default=0)
    n_wealth = models.SmallIntegerField(_("wealth / investment accounts"), default=0)
    n_insurance = models.SmallIntegerField(_("insurance policies"), default=0)
    tenure_days = models.IntegerField(_("tenure (days)"), null=True)
    age = models.SmallIntegerField(_("age"), null=True)
    # Web, mobile and card transactions over all, in the 12 months; null without transactions.
    digital_share = models.FloatField(_("digital channel share"), null=True)
    # From the interaction timeline, over the 12 months: contacts either way, complaints among them,
    # and the share of inbound contacts at a branch, the call centre or a service centre (null
    # without inbound contacts).
    contacts = models.IntegerField(_("contacts in 12 months"), db_default=0)
    complaints = models.IntegerField(_("complaints in 12 months"), db_default=0)
    assisted_share = models.FloatField(_("assisted contact share"), null=True)
    # Campaign contacts by the date (segmentation.contact_history): 1 for a customer who accepted an
    # offer (or whose previous campaign was a success), 0 for one contacted without success, null
    # for one never contacted.
    responded_before = models.FloatField(_("responded to a campaign before"), null=True)

    class Meta:
        verbose_name = _("customer features")
        verbose_name_plural = _("customer features")
        # The primary key (run, customer) serves every read: a chunk's delete-then-insert by id range,
        # the segmentation finish's read of a run's rows, one customer's features.

    @property
    def product_mix(self) -> dict[str, int]:
        """The categories the customer holds open accounts in, with how many: {"current": 1, "card": 2}."""
        counts = {category: getattr(self, f"n_{category}") for category in PRODUCT_CATEGORIES}
        return {category: count for category, count in counts.items() if count}


class CustomerValueInputs(BranchSnapshotRow):
    """The value formula's inputs (scoring.VALUE_INPUTS) of a customer in one value-scoring run,
    as the feature step computes them (segmentation/features.py: value_inputs_sql). The value run
    writes only these, not the whole CustomerFeatures row: its chunks then take a third of the time."""

    deposit_balance = models.DecimalField(_("deposit balance"), max_digits=18, decimal_places=2)
    loans_outstanding = models.DecimalField(_("loans outstanding"), max_digits=18, decimal_places=2)
    card_payments = models.IntegerField(_("card payments in 12 months"))
    fees_paid = models.DecimalField(_("fees paid, 12 months"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("customer value inputs")
        verbose_name_plural = _("customer value inputs")
        # The primary key (run, customer) serves every read: a chunk's delete-then-insert by id range,
        # the finish's read of the run's rows, one customer's value drivers.


class CustomerValue(BranchSnapshotRow):
    """A customer's value, Pareto rank and tier in one run.

    The money per driver is not stored: it is the run's inputs (CustomerValueInputs, same key) times
    the run's value weights (Run.params["weights"]), computed when one customer's page asks for it. The
    run's Lorenz curve is in its metrics and its tier counts per branch and RM in ValueTierSummary,
    so the million rows need only the indexes below and are written at well over 100,000 a second.
    """

    class Tier(models.TextChoices):
        A = "A", _("Tier A")
        B = "B", _("Tier B")
        C = "C", _("Tier C")

    # A yearly contribution estimate in money, computed in floating point and rounded to cents.
    value = models.FloatField(_("value"))
    rank = models.PositiveIntegerField(_("rank"))
    branch_rank = models.PositiveIntegerField(_("rank in branch"))
    share = models.FloatField(_("share of value"))
    cumulative_share = models.FloatField(_("cumulative share"))
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices)
    # The tier in the run this one superseded ("" if the customer was not in it, or no previous run).
    previous_tier = models.CharField(_("previous tier"), max_length=1, choices=Tier.choices, blank=True)

    class Meta:
        verbose_name = _("customer value")
        verbose_name_plural = _("customer values")
        indexes = [
            # The customer list's tier filter: EXISTS (run, tier, customer) probes while the list
            # walks its name index, and its capped count merge-joins on customer id (index only).
            models.Index(fields=["run", "tier", "customer"], name="custvalue_tier_customer_idx"),
            # Movers since the previous run (A→B, B→A…): the few rows whose tier changed, by rank.
            models.Index(
                fields=["run", "previous_tier", "tier", "rank"], name="custvalue_run_movers_idx",
                condition=~Q(previous_tier="") & ~Q(previous_tier=models.F("tier")),
            ),
        ]
        # The primary key (run, customer) serves the 360° page's look-up of one customer.

    def __str__(self) -> str:
        return f"{self.run_id}:{self.customer_id} {self.tier}"


class ValueTierSummary(models.Model):
    """How many customers of one branch and RM a value run put in each tier, and their value: the
    tier table per branch and the tier mix per RM read these few rows, not a million."""

    run = run_reference()
    branch = models.ForeignKey(
        Branch, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
        verbose_name=_("branch"),
    )
    rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True,
        related_name="+", verbose_name=_("RM"),
    )
    tier = models.CharField(_("tier"), max_length=1, choices=CustomerValue.Tier.choices)
    customers = models.PositiveIntegerField(_("customers"))
    value = models.FloatField(_("value"))

    class Meta:
        verbose_name = _("value tier summary")
        verbose_name_plural = _("value tier summaries")
        constraints = [
            # Also the index of both reads: one run's rows.
            models.UniqueConstraint(
                fields=["run", "branch", "rm", "tier"], name="valuetiersummary_run_branch_rm_tier_uniq",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.branch_id}/{self.rm_id} {self.tier} {self.customers}"


def validate_rule_text(text: str) -> None:
    """A rule segment's condition must parse; the message says what is wrong and where."""
    try:
        parse_rule(text)
    except RuleError as exc:
        raise ValidationError(gettext(exc.template) % exc.params, code="rule") from None


class RuleSegment(models.Model):
    """An analyst's segment: a condition on the per-customer features, recomputed every run."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=80, blank=True)
    rule = models.TextField(
        _("rule"), max_length=RULE_MAX_LENGTH, validators=[validate_rule_text],
        help_text=_("Conditions on the features, e.g. age < 30 and digital_share > 0.7"),
    )
    description = models.TextField(_("description"), blank=True)
    # Inactive segments keep their history but are left out of the next runs.
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("rule segment")
        verbose_name_plural = _("rule segments")

    def __str__(self) -> str:
        return self.name


_REPEATED_NAME = re.compile(r"^(?P<name>.*) \((?P<n>\d+)\)$")


def segment_label(name: str) -> str:
    """A learned segment's name in the reader's language: "mortgage holders|older" reads "mortgage
    holders (older)" (segmentation.profiles.segment_names); " (2)" on a repeated name stays."""
    if QUALIFIER_SEPARATOR in name:
        base, qualifier = name.split(QUALIFIER_SEPARATOR, 1)
        return f"{gettext(base)} ({gettext(qualifier)})"
    repeated = _REPEATED_NAME.match(name)
    if repeated:
        return f"{gettext(repeated['name'])} ({repeated['n']})"
    return gettext(name) if name else ""


class LearnedSegment(models.Model):
    """One k-means segment of a segmentation run: its name, size and what it looks like."""

    run = run_reference()
    number = models.SmallIntegerField(_("segment number"))
    # An English msgid from segmentation.profiles.NAME_RULES, with "|" and a qualifier msgid when
    # segments share it (" (2)" appended where none tells them apart); pages translate it.
    name = models.CharField(_("name"), max_length=80)
    size = models.PositiveIntegerField(_("customers"))
    # segmentation.profiles.segment_profiles' row: shares, means, medians, penetration, response rate.
    profile = models.JSONField(_("profile"), default=dict)
    # The centre in the features' own units (segmentation.columns.CLUSTER_FEATURES).
    centroid = models.JSONField(_("centroid"), default=dict)

    class Meta:
        ordering = ["run", "number"]
        verbose_name = _("learned segment")
        verbose_name_plural = _("learned segments")
        constraints = [
            # Also the index of the segment page (a run's segments in order) and of the segment path.
            models.UniqueConstraint(fields=["run", "number"], name="learnedsegment_run_number_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.number} {self.name}"

    @property
    def label(self) -> str:
        return segment_label(self.name)


class SegmentMembership(RunCustomerRow):
    """Where a customer fell in one segmentation run: a learned segment and any rule segments."""

    segment = models.SmallIntegerField(_("learned segment"))
    # Ids of the RuleSegments whose rule held for the customer in this run (ascending).
    rule_segments = ArrayField(models.IntegerField(), default=list, blank=True, verbose_name=_("rule segments"))

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        # The primary key (run, customer) serves every read: a run's rows for the transition matrix
        # (read once, when the next run finishes), the delete of a run's rows before a rewrite, and
        # the 360° page's segment path (one probe per kept run, customer_segment_path). No index led
        # by the customer: each run's million rows landed at random places in it, and keeping it up
        # cost the run's write more than the rows themselves.

    def __str__(self) -> str:
        return f"{self.run_id}:{self.customer_id} {self.segment}"


# The model-training run (segmentation/training.py): fitted models, per-customer scores, per-segment actions.

class ModelArtefact(models.Model):
    """A model fitted by a model-training run: the serialised estimator (joblib, written by this
    application only), its SHA-256 and that digest's signature, checked before every load, and its
    evaluation report."""

    class Name(models.TextChoices):
        RESPONSE = "response", _("Response propensity")
        CHURN = "churn", _("Churn risk")

    run = run_reference()
    name = models.CharField(_("model"), max_length=20, choices=Name.choices)
    # The pure module's MODEL_VERSION (propensity.py, churn.py): which features and code made it.
    version = models.CharField(_("model version"), max_length=40)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # HMAC of name and digest keyed by SECRET_KEY (segmentation.model_store): checked before every load.
    signature = models.CharField(_("signature"), max_length=64, blank=True, default="")
    data = models.BinaryField(_("fitted model"))
    report = models.JSONField(_("evaluation report"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["run", "name"]
        verbose_name = _("model artefact")
        verbose_name_plural = _("model artefacts")
        constraints = [
            # Also the index of every read: a run's models, one model of a run by name.
            models.UniqueConstraint(fields=["run", "name"], name="modelartefact_run_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.name} {self.version} {self.sha256[:12]}"


class CustomerPrediction(RunCustomerRow):
    """A customer's response propensity and churn risk in one model-training run, each with the one
    reason a page shows: the strongest driver of the score, or why there is no score."""

    # Probability of accepting a term-deposit call (calibrated); null: the inputs are missing.
    propensity = models.FloatField(_("response propensity"), null=True)
    # A scored customer: the feature that moved the score most (propensity.FEATURES); else a
    # no-score code (training.NO_SCORE_REASONS).
    propensity_reason = models.CharField(_("propensity reason"), max_length=40)
    # The driver's value as text, or the missing inputs (comma-separated).
    propensity_detail = models.CharField(_("propensity reason detail"), max_length=80, blank=True)
    # Whether the driver raised (true) or lowered (false) the score; null without a score.
    propensity_up = models.BooleanField(_("driver raises the propensity"), null=True)
    # Model score of the customer's riskiest eligible account; null: no account the model can judge.
    churn_risk = models.FloatField(_("churn risk"), null=True)
    # Share (0-1) of the accounts the model was trained on that score below this customer's.
    churn_percentile = models.FloatField(_("churn risk percentile"), null=True)
    churn_reason = models.CharField(_("churn reason"), max_length=40)
    churn_detail = models.CharField(_("churn reason detail"), max_length=80, blank=True)
    churn_up = models.BooleanField(_("driver raises the churn risk"), null=True)

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")
        # The primary key (run, customer) serves every read: the 360° page's look-up of one
        # customer, a chunk's delete-then-insert by id range, the finish step's read of a run.

    def __str__(self) -> str:
        return f"{self.run_id}:{self.customer_id} {self.propensity} {self.churn_risk}"


class SegmentAction(models.Model):
    """One service action (product × channel) for one learned segment in a model-training run: the
    predicted response and the expected value per contact (segmentation/actions.py says how)."""

    class Basis(models.TextChoices):
        RESPONSE_MODEL = "response_model", _("Response model (campaign outcomes)")
        LOOK_ALIKE = "look_alike", _("Look-alike holding propensity (proxy)")

    run = run_reference()
    # The published segmentation run whose segments these are.
    segmentation_run = run_reference(_("segmentation run"))
    segment = models.SmallIntegerField(_("learned segment"))
    # The segment's English name (LearnedSegment.name) as it was when the table was made.
    segment_name = models.CharField(_("segment name"), max_length=80)
    product_category = models.CharField(_("product category"), max_length=20)
    channel = models.CharField(_("channel"), max_length=20)
    basis = models.CharField(_("basis"), max_length=20, choices=Basis.choices)
    # Customers the action is for: the segment's members without the product (with a score, for the
    # response model).
    customers = models.PositiveIntegerField(_("customers"))
    predicted_response = models.FloatField(_("predicted response"))
    # Null where the value formula has no rate for the product (wealth, insurance).
    value_per_conversion = models.FloatField(_("value of a conversion"), null=True)
    cost_per_contact = models.FloatField(_("cost per contact"))
    expected_value = models.FloatField(_("expected value per contact"), null=True)

    class Meta:
        ordering = ["run", "segment", "-expected_value"]
        verbose_name = _("segment action")
        verbose_name_plural = _("segment actions")
        constraints = [
            # Also the index of the model page (a run's table in segment order) and of a campaign's
            # look-up of one segment's actions.
            models.UniqueConstraint(
                fields=["run", "segment", "product_category", "channel"], name="segmentaction_run_key_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.segment} {self.product_category}×{self.channel}"


# The cross-sell run (segmentation/cross_sell.py): product affinity within segments, next-best product.

class CrossSellRule(models.Model):
    """Within one learned segment of the run's segmentation (or the whole bank: segment -1): of the
    customers holding `antecedent` (empty: every member), how many also hold `consequent` — an
    association rule over holdings by product category, with its confidence and lift."""

    pk = models.CompositePrimaryKey("run_id", "segment", "antecedent", "consequent")
    run = run_reference()
    segment = models.SmallIntegerField(_("learned segment"))
    antecedent = models.CharField(_("holds"), max_length=20, blank=True)
    consequent = models.CharField(_("also holds"), max_length=20)
    # Members holding the antecedent (every member for the segment-wide rate) and those holding both.
    antecedent_customers = models.PositiveIntegerField(_("customers holding the first"))
    both_customers = models.PositiveIntegerField(_("customers holding both"))
    confidence = models.FloatField(_("confidence"))
    # Confidence ÷ the segment's share of holders of the consequent (1: holding the first says nothing).
    lift = models.FloatField(_("lift"))

    class Meta:
        verbose_name = _("cross-sell rule")
        verbose_name_plural = _("cross-sell rules")
        # The primary key serves every read: a run's rules by segment, one segment's rules.

    def __str__(self) -> str:
        return f"{self.run_id}:{self.segment} {self.antecedent or '*'}→{self.consequent} {self.confidence:.2f}"


class CrossSellSuggestion(BranchSnapshotRow):
    """A customer's next-best product category in one cross-sell run and why: the strongest rule of
    their segment from a category they hold, the segment's own rate, or the response model."""

    class Basis(models.TextChoices):
        RULE = "rule", _("Customers like them who hold the same product")
        BANK_RULE = "bank_rule", _("The bank's customers who hold the same product")
        SEGMENT = "segment", _("Customers of their segment")
        BANK = "bank", _("The bank's customers")
        PROPENSITY = "propensity", _("Response model")

    segment = models.SmallIntegerField(_("learned segment"))
    category = models.CharField(_("next-best product"), max_length=20)
    # The probability the suggestion rests on: the rule's confidence, the segment's rate or the propensity.
    score = models.FloatField(_("score"))
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices)
    antecedent = models.CharField(_("held product it follows from"), max_length=20, blank=True)
    # How many customers the figure was measured on (null for the response model).
    measured_on = models.PositiveIntegerField(_("measured on customers"), null=True)

    class Meta:
        verbose_name = _("cross-sell suggestion")
        verbose_name_plural = _("cross-sell suggestions")
        # The primary key (run, customer) serves every read: the 360° page's look-up, the targeting
        # join by customer-id range, a chunk's delete-then-insert.
