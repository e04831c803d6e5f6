"""`python manage.py run_value_scoring [--as-of YYYY-MM-DD] [--sync] [--weight NAME=RATE …] [--a-share S]
[--b-share S]`: a value-scoring (80/20) run, with the formula's rates and the tier cut-offs of the
bank's settings unless given here."""

from __future__ import annotations

import datetime
import json

from django.core.management.base import CommandError, CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from segmentation.scoring import ValueWeights
from segmentation.services import value_scoring_start

RATE_NAMES = tuple(ValueWeights.__dataclass_fields__)


def weight_option(text: str) -> tuple[str, float]:
    """NAME=RATE for --weight."""
    name, sep, rate = text.partition("=")
    if not sep or name.strip() not in RATE_NAMES:
        raise CommandError(f"--weight takes NAME=RATE with NAME one of {', '.join(RATE_NAMES)}, not {text!r}.")
    try:
        return name.strip(), float(rate)
    except ValueError:
        raise CommandError(f"--weight {name.strip()}: the rate must be a number, not {rate!r}.") from None


class Command(RunCommand):
    help = (
        "Scores every customer's value and Pareto tier (A/B/C) as of a date (default: the latest transaction "
        "date). Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--chunk-size", type=int, help="customers per chunk (default 20000)")
        parser.add_argument("--weight", action="append", default=[], metavar="NAME=RATE",
                            help=f"a rate of the value formula ({', '.join(RATE_NAMES)}); default CRM_VALUE_WEIGHTS")
        parser.add_argument("--a-share", type=float, help="tier A: the first share of value (default CRM_TIER_A_SHARE)")
        parser.add_argument("--b-share", type=float, help="tier B: the next share of value (default CRM_TIER_B_SHARE)")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        given = ("chunk_size", "a_share", "b_share")
        params: dict = {key: options[key] for key in given if options.get(key) is not None}
        if options["weight"]:
            params["weights"] = dict(weight_option(text) for text in options["weight"])
        return value_scoring_start(as_of=as_of, params=params, sync=sync)

    def published(self, run: Run) -> str:
        # The figures a reader checks; the Lorenz points and the rest are on the Value page.
        shown = ("customers", "value_total", "top20_share", "gini", "tier_counts", "tier_value_shares", "movers")
        summary = {key: run.metrics[key] for key in shown if key in run.metrics}
        return json.dumps({**summary, "currency": run.params.get("currency")}, ensure_ascii=False)
