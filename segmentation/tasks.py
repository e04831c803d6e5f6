"""Thin Celery tasks of the segmentation app; the run's own steps are the framework's tasks."""

from __future__ import annotations

import logging

from celery import shared_task

from crm_bank.runs.errors import RunError
from segmentation.cross_sell import cross_sell_start
from segmentation.segments import segmentation_start
from segmentation.services import value_scoring_start
from segmentation.training import model_training_start, predictions_score_new_customers

logger = logging.getLogger(__name__)


@shared_task(name="segmentation.tasks.value_scoring_nightly")
def value_scoring_nightly() -> int | None:
    """The nightly value-scoring run as of the latest transaction date; returns its id.

    A run already queued or running, or no data, is logged and skipped: the last published
    run stays current and tomorrow's schedule tries again.
    """
    try:
        return value_scoring_start().pk
    except RunError as exc:
        logger.warning("Nightly value scoring not started: %s", exc)
        return None


@shared_task(name="segmentation.tasks.segmentation_nightly")
def segmentation_nightly() -> int | None:
    """The nightly segmentation run (k by silhouette, the default seed) as of the latest
    transaction date; returns its id. Refused runs are logged and skipped, as above."""
    try:
        return segmentation_start().pk
    except RunError as exc:
        logger.warning("Nightly segmentation not started: %s", exc)
        return None


@shared_task(name="segmentation.tasks.model_training_weekly")
def model_training_weekly() -> int | None:
    """The weekly model-training run (default seed) as of the latest data; returns its id.
    Refused runs (nothing to learn from, a run already active) are logged and skipped, as above."""
    try:
        return model_training_start().pk
    except RunError as exc:
        logger.warning("Weekly model training not started: %s", exc)
        return None


@shared_task(name="segmentation.tasks.cross_sell_nightly")
def cross_sell_nightly() -> int | None:
    """The nightly cross-sell run on the published segmentation and models; returns its id.
    Refused runs (no segmentation yet, a run already active) are logged and skipped, as above."""
    try:
        return cross_sell_start().pk
    except RunError as exc:
        logger.warning("Nightly cross-sell not started: %s", exc)
        return None


@shared_task(name="segmentation.tasks.new_customers_scoring_nightly")
def new_customers_scoring_nightly() -> int:
    """Scores, with the published models, the customers they have no score for yet (those who
    joined since the weekly training); returns how many. Before the first training, or with a
    stored model that fails its checks, logged and skipped: nothing is written."""
    try:
        run, scored = predictions_score_new_customers()
    except RunError as exc:
        logger.warning("Nightly scoring of new customers not done: %s", exc)
        return 0
    logger.info("Nightly scoring of new customers: %s scored with the models of run #%s", scored, run.pk)
    return scored
