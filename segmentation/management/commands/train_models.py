"""`python manage.py train_models [--as-of YYYY-MM-DD] [--sync] [--seed N]`: a model-training run;
`python manage.py train_models --score-only [--customer ID …]`: scores the customers the published
run has not scored yet (created since) with its models."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError, CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from segmentation.training import model_training_start, predictions_score_new_customers


class Command(RunCommand):
    help = (
        "Trains the response-propensity and churn-risk models, scores every customer and values each segment's "
        "service actions, as of a date (default: the later of the latest campaign contact and the latest "
        "transaction). Queued for the Celery workers, or run here with --sync. With --score-only, scores the "
        "customers the published run has not scored yet with its models instead (no training)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--seed", type=int, help="random seed (default 7): same data and seed, same models")
        parser.add_argument("--score-only", action="store_true",
                            help="score customers the published run has not scored, with its models")
        parser.add_argument("--customer", type=int, action="append", dest="customers", metavar="ID",
                            help="with --score-only: only this customer (repeatable)")

    def handle(self, *args, score_only: bool = False, customers: list[int] | None = None, **options) -> None:
        if not score_only:
            if customers:
                raise CommandError("--customer only goes with --score-only.")
            super().handle(*args, **options)
            return
        # Scoring uses the published run's models as they are: a date, a seed or --sync would be
        # silently ignored.
        given = {"--as-of": options.get("as_of"), "--seed": options.get("seed") is not None,
                 "--sync": options.get("sync")}
        ignored = [flag for flag, is_given in given.items() if is_given]
        if ignored:
            raise CommandError(f"--score-only scores with the published models as they are; drop {', '.join(ignored)}.")
        try:
            run, scored = predictions_score_new_customers(customer_ids=customers)
        except RunError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Scored {scored} customer(s) not yet scored, with the models of run #{run.pk} "
                          f"(as of {run.as_of}).")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        return model_training_start(as_of=as_of, seed=options.get("seed"), sync=sync)

    def published(self, run: Run) -> str:
        response, churn = run.metrics["response"], run.metrics["churn"]
        return (
            f"response: time-ordered AUC {response['time_ordered_test_auc']:.3f} retrained monthly "
            f"({response['one_fit_test_auc']:.3f} fitted once), "
            f"5-fold {response['stratified_5fold_auc']:.3f}, "
            f"top 20% catch {response['capture_top20']:.1%}, top 50% {response['capture_top50']:.1%}; "
            f"churn: held-out AUC {churn['test_auc']:.3f}, out-of-fold {churn['out_of_fold_auc']:.3f}; "
            f"{run.metrics['customers']} customers ({run.metrics['with_propensity']} with a propensity, "
            f"{run.metrics['with_churn_risk']} with a churn risk); "
            f"{run.metrics.get('segment_actions') or 0} segment actions"
        )
