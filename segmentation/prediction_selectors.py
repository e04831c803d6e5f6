"""Reads of the published model-training run for pages: the models and their reports, the per-segment
action table, one customer's scores for the 360° page.

Everything reads the run that CurrentRun points at (or a run the caller passes), so a run in
progress or a failed one is never shown.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection

from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.selectors import current_run
from customers.models import Channel, Product
from segmentation.cross_sell import CROSS_SELL
from segmentation.models import (
    CrossSellSuggestion,
    CustomerPrediction,
    LearnedSegment,
    ModelArtefact,
    SegmentAction,
    segment_label,
)
from segmentation.training import MODEL_TRAINING

_CATEGORY_LABELS = dict(Product.Category.choices)
_CHANNEL_LABELS = dict(Channel.choices)

# Churn levels by the share of the training accounts scoring lower (the score is a ranking hint).
CHURN_HIGH = 0.9
CHURN_MEDIUM = 0.7


def model_training_run_current() -> Run | None:
    """The published model-training run, or None before the first one."""
    return current_run(kind=MODEL_TRAINING)


def model_training_run_active() -> Run | None:
    """The model-training run queued or running now (at most one, by the runs' constraint)."""
    return Run.objects.filter(kind=MODEL_TRAINING, status__in=Run.ACTIVE).only("id", "status").first()


@dataclass(frozen=True)
class ModelSummary:
    """One model of a run as the models page reports it (shares as fractions, None when not reported)."""

    name: str
    version: str
    sha256: str
    report: dict
    # The headline AUC (response: time-ordered test part, retrained a month at a time; churn: trained one
    # horizon earlier and tried on the next period, else the held-out accounts) and the second figure
    # (response: stratified 5-fold; churn: out-of-fold 5-fold).
    headline_auc: float | None
    second_auc: float | None
    capture_top20: float | None
    capture_top50: float | None
    brier: float | None = None
    brier_reference: float | None = None
    # Churn: the AUC of the observation window's transaction count alone, the bar its label sets
    # (on the headline's accounts), and the AUC on the held-out accounts of the cutoff's own period.
    baseline_auc: float | None = None
    holdout_auc: float | None = None
    # Response: the time-ordered test part scored by one model fitted on the training part, never retrained.
    one_fit_auc: float | None = None
    # The report's key of the headline's lift by decile.
    deciles_key: str = "lift_deciles"

    @property
    def time_ordered(self) -> bool:
        return self.deciles_key.startswith("time_ordered")

    @property
    def walked_forward(self) -> bool:
        """Response: the headline test was scored a month at a time, the one fit beside it (since response-2)."""
        return self.one_fit_auc is not None

    @property
    def gains(self) -> list[tuple[float, float]]:
        """(share of scores from the top, share of positives caught) from (0, 0), by decile."""
        deciles = self.report.get(self.deciles_key) or []
        return [(0.0, 0.0)] + [(row["decile"] / 10, row["cumulative_capture"]) for row in deciles]

    @property
    def capture_top20_percent(self) -> float | None:
        return None if self.capture_top20 is None else 100 * self.capture_top20

    @property
    def capture_top50_percent(self) -> float | None:
        return None if self.capture_top50 is None else 100 * self.capture_top50


def _capture_at(report: dict, decile: int, key: str = "lift_deciles") -> float | None:
    rows = [row for row in report.get(key) or [] if row.get("decile") == decile]
    return rows[0]["cumulative_capture"] if rows else None


def _summary(artefact: ModelArtefact) -> ModelSummary:
    report = artefact.report or {}
    common = {"name": artefact.name, "version": artefact.version, "sha256": artefact.sha256, "report": report,
              "capture_top20": report.get("capture_top20")}
    if artefact.name == ModelArtefact.Name.RESPONSE:
        return ModelSummary(
            **common, headline_auc=report.get("time_ordered_test_auc"), second_auc=report.get("stratified_5fold_auc"),
            capture_top50=report.get("capture_top50"), brier=report.get("brier_test"),
            brier_reference=report.get("brier_test_reference_train_prevalence"),
            one_fit_auc=report.get("one_fit_test_auc"),
        )
    if report.get("time_ordered_test_auc") is not None:
        return ModelSummary(
            **{**common, "capture_top20": report.get("time_ordered_capture_top20")},
            headline_auc=report["time_ordered_test_auc"], second_auc=report.get("out_of_fold_auc"),
            capture_top50=_capture_at(report, 5, "time_ordered_lift_deciles"),
            baseline_auc=report.get("time_ordered_baseline_auc_transactions_only"),
            holdout_auc=report.get("test_auc"), deciles_key="time_ordered_lift_deciles",
        )
    return ModelSummary(
        **common, headline_auc=report.get("test_auc"), second_auc=report.get("out_of_fold_auc"),
        capture_top50=_capture_at(report, 5), baseline_auc=report.get("baseline_test_auc_transactions_only"),
    )


def model_summaries(*, run: Run) -> dict[str, ModelSummary]:
    """The run's models by name with their figures, without their bytes (one query)."""
    return {
        artefact.name: _summary(artefact)
        for artefact in ModelArtefact.objects.filter(run=run).defer("data").order_by("name")
    }


def channel_label(code: str) -> str:
    return str(_CHANNEL_LABELS.get(code, code))


def product_label(category: str) -> str:
    return str(_CATEGORY_LABELS.get(category, category))


@dataclass(frozen=True)
class SegmentActionRow:
    segment: int
    segment_name: str
    product_category: str
    channel: str
    basis: str
    customers: int
    predicted_response: float
    value_per_conversion: float | None
    cost_per_contact: float
    expected_value: float | None

    @property
    def segment_label(self) -> str:
        return segment_label(self.segment_name)

    @property
    def product_label(self) -> str:
        return product_label(self.product_category)

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def response_percent(self) -> float:
        return 100 * self.predicted_response


def segment_action_table(*, run: Run) -> list[SegmentActionRow]:
    """The run's action table by segment, best expected value first (one query, the unique index)."""
    return [
        SegmentActionRow(**row)
        for row in SegmentAction.objects.filter(run=run).order_by("segment", "-expected_value", "product_category",
                                                                   "channel").values(
            "segment", "segment_name", "product_category", "channel", "basis", "customers", "predicted_response",
            "value_per_conversion", "cost_per_contact", "expected_value",
        )
    ]


@dataclass(frozen=True)
class CustomerPredictionSummary:
    """A customer's scores in the published model-training run, for the 360° page."""

    run_id: int
    as_of: datetime.date | None
    published_at: datetime.datetime | None
    propensity: float | None
    propensity_reason: str
    propensity_detail: str
    propensity_up: bool | None
    churn_risk: float | None
    churn_percentile: float | None
    churn_reason: str
    churn_detail: str
    churn_up: bool | None
    # The churn model's last transaction day (its windows end there, often before the run's date).
    churn_data_end: datetime.date | None = None

    @property
    def churn_level(self) -> str:
        """"high", "medium" or "low" against the accounts the model was trained on; "" without a score."""
        if self.churn_percentile is None:
            return ""
        if self.churn_percentile >= CHURN_HIGH:
            return "high"
        return "medium" if self.churn_percentile >= CHURN_MEDIUM else "low"


def customer_prediction_summary(*, customer_id: int) -> CustomerPredictionSummary | None:
    """The customer's propensity and churn risk with their reasons and the run's dates; None before
    the first run or when the run has no row for the customer. One query (the current pointer, the
    run, the row by its primary key, the churn model's row by (run, name))."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT r.id, r.as_of, c.published_at, p.propensity, p.propensity_reason, p.propensity_detail,
                       p.propensity_up, p.churn_risk, p.churn_percentile, p.churn_reason, p.churn_detail, p.churn_up,
                       (a.report ->> 'data_end')::date
                FROM {CurrentRun._meta.db_table} c
                JOIN {Run._meta.db_table} r ON r.id = c.run_id
                JOIN {CustomerPrediction._meta.db_table} p ON p.run_id = c.run_id AND p.customer_id = %s
                LEFT JOIN {ModelArtefact._meta.db_table} a ON a.run_id = c.run_id AND a.name = %s
                WHERE c.kind = %s""",
            [customer_id, ModelArtefact.Name.CHURN, MODEL_TRAINING],
        )
        row = cursor.fetchone()
    return CustomerPredictionSummary(*row) if row is not None else None


@dataclass(frozen=True)
class NextProduct:
    """A customer's next-best product in the published cross-sell run (segmentation/cross_sell.py)
    and what it rests on, for the 360° page and the RM's work queue."""

    category: str
    score: float  # a probability, 0-1
    basis: str  # CrossSellSuggestion.Basis
    antecedent: str  # the held category a rule follows from, "" otherwise
    measured_on: int | None
    segment_name: str  # the learned segment's English msgid
    as_of: datetime.date | None

    @property
    def product_label(self) -> str:
        return product_label(self.category)

    @property
    def antecedent_label(self) -> str:
        return product_label(self.antecedent)

    @property
    def segment_label(self) -> str:
        return segment_label(self.segment_name)


def customer_next_product(*, customer_id: int) -> NextProduct | None:
    """The customer's next-best product in the published cross-sell run, with its segment's name;
    None before the first run or without a suggestion. One query (the current pointer, the run, the
    suggestion by its primary key, the segment by (run, number))."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT s.category, s.score, s.basis, s.antecedent, s.measured_on, coalesce(ls.name, ''), r.as_of
                FROM {CurrentRun._meta.db_table} c
                JOIN {Run._meta.db_table} r ON r.id = c.run_id
                JOIN {CrossSellSuggestion._meta.db_table} s ON s.run_id = c.run_id AND s.customer_id = %s
                LEFT JOIN {LearnedSegment._meta.db_table} ls
                    ON ls.run_id = (r.params ->> 'segmentation_run')::bigint AND ls.number = s.segment
                WHERE c.kind = %s""",
            [customer_id, CROSS_SELL],
        )
        row = cursor.fetchone()
    return NextProduct(*row) if row is not None else None


@dataclass(frozen=True)
class CrossSellRuleRow:
    segment: int
    segment_name: str
    antecedent: str
    consequent: str
    antecedent_customers: int
    both_customers: int
    confidence: float
    lift: float

    @property
    def segment_label(self) -> str:
        from django.utils.translation import gettext

        return gettext("The whole bank") if self.segment < 0 else segment_label(self.segment_name)

    @property
    def antecedent_label(self) -> str:
        return product_label(self.antecedent)

    @property
    def consequent_label(self) -> str:
        return product_label(self.consequent)


def cross_sell_rules(*, run: Run, per_segment: int = 5) -> list[CrossSellRuleRow]:
    """The rules suggestions may follow in `run` (measured on enough customers, lift of at least
    MIN_LIFT): the bank-wide rules', then each segment's strongest `per_segment` by confidence. One
    query."""
    from segmentation.cross_sell import MIN_LIFT, MIN_SUPPORT
    from segmentation.models import CrossSellRule

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT segment, coalesce(ls.name, ''), antecedent, consequent, antecedent_customers, both_customers,
                       confidence, lift
                FROM (SELECT r.*, row_number() OVER (PARTITION BY r.segment ORDER BY r.confidence DESC,
                                                     r.lift DESC, r.antecedent, r.consequent) AS n
                      FROM {CrossSellRule._meta.db_table} r
                      WHERE r.run_id = %(run)s AND r.antecedent <> '' AND r.lift >= %(lift)s
                        AND r.antecedent_customers >= %(support)s) r
                LEFT JOIN {LearnedSegment._meta.db_table} ls
                    ON ls.run_id = %(segmentation_run)s AND ls.number = r.segment
                WHERE r.n <= %(limit)s ORDER BY segment, n""",
            {"run": run.pk, "support": MIN_SUPPORT, "lift": MIN_LIFT, "limit": per_segment,
             "segmentation_run": run.params.get("segmentation_run") or 0},
        )
        return [CrossSellRuleRow(*row) for row in cursor.fetchall()]
