"""The cross-sell run ("cross_sell", crm_bank/runs): each customer's next-best product and why.

Built on the published segmentation run (its learned segments and the holdings its features
recorded, by product category, as of its date) and the published model-training run (the response
propensity), both fixed in the run's params when it is asked for, so the run can be repeated.

1. prepare: the association rules, in one INSERT … SELECT over the segmentation run's rows — for
   every learned segment, and for the whole bank (segment BANK_WIDE), and every pair of product
   categories (X, Y): of the customers holding X, the share also holding Y (confidence) and that
   share over the group's share holding Y (lift); and each category's share of the group
   (antecedent ""). Segments are learned partly from holdings, so within one segment holdings are
   often alike and its rules say little; the bank-wide rules still do. Then the customer-id ranges.
2. process_chunk (set-based SQL per range): each customer's candidates are
   - `rule` / `bank_rule`: Y from a rule of their segment / of the bank whose X they hold,
     measured on at least MIN_SUPPORT customers and with a lift of at least MIN_LIFT (holding X
     says something about Y);
   - `segment` / `bank`: Y at the segment's / the bank's own rate (the most common product they
     lack), measured on at least MIN_SUPPORT customers;
   - `propensity`: the response model's product (a term deposit: the campaign outcomes it learned
     from) at the customer's calibrated propensity.
   Categories the customer holds or the bank does not sell (no active product) drop out; the best
   score wins (ties: the model, a segment rule, a bank rule, the segment rate, the bank rate, then
   the category's name), if it reaches MIN_SCORE. A customer of the segmentation run without any is simply not written.
3. finish: counts per category and basis.
The framework publishes the run (the current pointer flips last).

Every score is a probability measured on the bank's own customers, so the 360° page can say why:
"82 % of customers in 'Young digital savers' with a current account also hold a card". Holding
rates are what customers like this one hold, not a measured take-up of an offer; the response
model's figure is a measured take-up. Both are said as what they are.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count
from django.utils.translation import gettext as _

from crm_bank.bulk import quoted_table
from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.params import params_chunk_size, params_unknown_refuse
from crm_bank.runs.registry import RunKind, chunk_ranges
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_start
from customers.models import Customer, Product
from segmentation.features import PRODUCT_COUNT_COLUMNS, held_categories_sql
from segmentation.models import (
    CrossSellRule,
    CrossSellSuggestion,
    CustomerFeatures,
    CustomerPrediction,
    SegmentMembership,
)

CROSS_SELL = "cross_sell"
CROSS_SELL_VERSION = "cross-sell-1"
CHUNK_SIZE = 50_000
# A rule or a segment rate counts only when measured on at least this many customers.
MIN_SUPPORT = 30
# Below this probability a suggestion is noise, not advice.
MIN_SCORE = 0.05
# A rule says something only when holding X makes Y this much likelier than the group's own rate.
MIN_LIFT = 1.1
# The `segment` of the rules measured on every customer of the segmentation run.
BANK_WIDE = -1
# What the response model predicts: acceptance of a term-deposit offer (the UCI campaign's outcomes).
RESPONSE_MODEL_CATEGORY = Product.Category.DEPOSIT


def _published(kind: str) -> int:
    run = current_run(kind=kind)
    return run.pk if run else 0


def cross_sell_params_clean(params: dict) -> dict:
    """The runs it reads (the published ones unless given) and the chunk size; refused without a
    published segmentation run (there are no segments to learn affinities in)."""
    params_unknown_refuse(params, allowed={"segmentation_run", "model_run", "chunk_size"})
    chunk_size = params_chunk_size(params, default=CHUNK_SIZE)
    try:
        segmentation_run = int(params.get("segmentation_run") or _published("segmentation"))
        model_run = int(params.get("model_run") or _published("model_training"))
    except (TypeError, ValueError):
        raise RunParamsInvalid(_("The segmentation and model runs are run numbers.")) from None
    if not Run.objects.filter(pk=segmentation_run, kind="segmentation", status=Run.Status.SUCCEEDED).exists():
        raise RunParamsInvalid(_("Cross-sell needs a published segmentation run: run the segmentation first."))
    return {"segmentation_run": segmentation_run, "model_run": model_run, "chunk_size": chunk_size}


def cross_sell_start(*, started_by: AbstractBaseUser | None = None, sync: bool = False) -> Run:
    """Queues (or with `sync`, runs) a cross-sell run on the published segmentation and models, as
    of the segmentation run's date. RunError, nothing written, when refused."""
    params = cross_sell_params_clean({})
    as_of = Run.objects.filter(pk=params["segmentation_run"]).values_list("as_of", flat=True).first()
    return run_start(kind=CROSS_SELL, params=params, as_of=as_of, started_by=started_by, sync=sync)


# The segmentation run's members with their holdings (alias m: the membership, f: its features row).
_MEMBERS = f"""{quoted_table(SegmentMembership)} m
    JOIN {quoted_table(CustomerFeatures)} f ON f.run_id = m.run_id AND f.customer_id = m.customer_id"""


# The features row's open accounts per category (features.held_categories_sql reads them).
_PRODUCT_COUNTS = ", ".join(f"f.{column}" for column in PRODUCT_COUNT_COLUMNS)


def cross_sell_prepare(run: Run) -> list[tuple[int, int]]:
    """Step 1: the run's rules (rewritten if the step is repeated), then the id ranges."""
    rule = quoted_table(CrossSellRule)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {rule} WHERE run_id = %s", [run.pk])
        cursor.execute(
            f"""WITH members AS (
                    SELECT m.customer_id, m.segment, {_PRODUCT_COUNTS} FROM {_MEMBERS} WHERE m.run_id = %(seg)s
                ), held AS (
                    SELECT m.customer_id, m.segment, k.category
                    FROM members m CROSS JOIN LATERAL {held_categories_sql("m")} WHERE k.accounts > 0
                ), sizes AS (  -- per segment, and for the whole bank (segment {BANK_WIDE})
                    SELECT CASE WHEN GROUPING(segment) = 1 THEN {BANK_WIDE} ELSE segment END AS segment,
                           count(*)::int AS n
                    FROM members GROUP BY GROUPING SETS ((segment), ())
                ), single AS (
                    SELECT CASE WHEN GROUPING(segment) = 1 THEN {BANK_WIDE} ELSE segment END AS segment, category,
                           count(*)::int AS n
                    FROM held GROUP BY GROUPING SETS ((segment, category), (category))
                ), pairs AS (
                    SELECT CASE WHEN GROUPING(a.segment) = 1 THEN {BANK_WIDE} ELSE a.segment END AS segment,
                           a.category AS x, b.category AS y, count(*)::int AS n
                    FROM held a JOIN held b ON b.customer_id = a.customer_id AND b.category <> a.category
                    GROUP BY GROUPING SETS ((a.segment, a.category, b.category), (a.category, b.category))
                )
                INSERT INTO {rule} (run_id, segment, antecedent, consequent, antecedent_customers, both_customers,
                                    confidence, lift)
                SELECT %(run)s, p.segment, p.x, p.y, sx.n, p.n, p.n::float8 / sx.n,
                       (p.n::float8 / sx.n) / (sy.n::float8 / z.n)
                FROM pairs p
                JOIN single sx ON sx.segment = p.segment AND sx.category = p.x
                JOIN single sy ON sy.segment = p.segment AND sy.category = p.y
                JOIN sizes z ON z.segment = p.segment
                UNION ALL
                SELECT %(run)s, s.segment, '', s.category, z.n, s.n, s.n::float8 / z.n, 1.0
                FROM single s JOIN sizes z ON z.segment = s.segment""",
            {"run": run.pk, "seg": run.params["segmentation_run"]},
        )
    size = int(run.params.get("chunk_size", CHUNK_SIZE))
    return chunk_ranges(Customer.objects.filter(merged_into__isnull=True), size=size) or [(0, 0)]


def cross_sell_chunk(run: Run, lo: int, hi: int) -> int:
    """Step 2 for customers lo..hi: each one's best candidate, written (delete-then-insert)."""
    suggestion = quoted_table(CrossSellSuggestion)
    params = {
        "run": run.pk, "seg": run.params["segmentation_run"], "model_run": run.params.get("model_run") or 0,
        "lo": lo, "hi": hi, "min_support": MIN_SUPPORT, "min_score": MIN_SCORE, "min_lift": MIN_LIFT,
        "model_category": str(RESPONSE_MODEL_CATEGORY),
        "on_sale": sorted(set(Product.objects.filter(is_active=True).values_list("category", flat=True))),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {suggestion} WHERE run_id = %s AND customer_id BETWEEN %s AND %s",
                       [run.pk, lo, hi])
        cursor.execute(
            f"""WITH c AS (
                    SELECT m.customer_id, m.segment, {_PRODUCT_COUNTS}, f.branch_id, f.rm_id
                    FROM {_MEMBERS} WHERE m.run_id = %(seg)s AND m.customer_id BETWEEN %(lo)s AND %(hi)s
                ), held AS (
                    SELECT c.customer_id, k.category
                    FROM c CROSS JOIN LATERAL {held_categories_sql("c")} WHERE k.accounts > 0
                ), candidates AS (
                    -- A rule of the customer's segment, or of the whole bank, from a category they hold.
                    SELECT h.customer_id, r.consequent AS category, r.confidence AS score,
                           CASE WHEN r.segment = {BANK_WIDE} THEN 'bank_rule' ELSE 'rule' END AS basis,
                           r.antecedent, r.antecedent_customers AS measured_on,
                           CASE WHEN r.segment = {BANK_WIDE} THEN 2 ELSE 1 END AS preference
                    FROM held h JOIN c ON c.customer_id = h.customer_id
                    JOIN {quoted_table(CrossSellRule)} r ON r.run_id = %(run)s
                        AND r.segment IN (c.segment, {BANK_WIDE}) AND r.antecedent = h.category
                    WHERE r.antecedent_customers >= %(min_support)s AND r.lift >= %(min_lift)s
                    UNION ALL
                    -- The segment's own rate, or the bank's.
                    SELECT c.customer_id, r.consequent, r.confidence,
                           CASE WHEN r.segment = {BANK_WIDE} THEN 'bank' ELSE 'segment' END, '',
                           r.antecedent_customers, CASE WHEN r.segment = {BANK_WIDE} THEN 4 ELSE 3 END
                    FROM c JOIN {quoted_table(CrossSellRule)} r ON r.run_id = %(run)s
                        AND r.segment IN (c.segment, {BANK_WIDE}) AND r.antecedent = ''
                    WHERE r.antecedent_customers >= %(min_support)s
                    UNION ALL
                    SELECT c.customer_id, %(model_category)s, p.propensity, 'propensity', '', NULL, 0
                    FROM c JOIN {quoted_table(CustomerPrediction)} p ON p.run_id = %(model_run)s
                        AND p.customer_id = c.customer_id
                    WHERE p.propensity IS NOT NULL
                )
                INSERT INTO {suggestion} (run_id, customer_id, branch_id, rm_id, segment, category, score, basis,
                                          antecedent, measured_on)
                SELECT DISTINCT ON (k.customer_id) %(run)s, k.customer_id, c.branch_id, c.rm_id, c.segment,
                       k.category, k.score, k.basis, k.antecedent, k.measured_on
                FROM candidates k JOIN c ON c.customer_id = k.customer_id
                WHERE k.category = ANY(%(on_sale)s) AND k.score >= %(min_score)s
                  AND NOT EXISTS (SELECT 1 FROM held h WHERE h.customer_id = k.customer_id
                                  AND h.category = k.category)
                ORDER BY k.customer_id, k.score DESC, k.preference, k.category""",
            params,
        )
        return cursor.rowcount


def cross_sell_finish(run: Run) -> dict:
    """Step 3: how many customers got a suggestion, per category and per basis, and the rules."""
    rows = CrossSellSuggestion.objects.filter(run_id=run.pk)
    by_category = dict(rows.values("category").annotate(n=Count("*")).values_list("category", "n"))
    by_basis = dict(rows.values("basis").annotate(n=Count("*")).values_list("basis", "n"))
    return {
        "customers": sum(by_category.values()), "by_category": by_category, "by_basis": by_basis,
        "rules": CrossSellRule.objects.filter(run_id=run.pk, antecedent__gt="", lift__gte=MIN_LIFT,
                                              antecedent_customers__gte=MIN_SUPPORT).count(),
        "min_support": MIN_SUPPORT, "min_score": MIN_SCORE, "min_lift": MIN_LIFT,
    }


CROSS_SELL_KIND = RunKind(
    name=CROSS_SELL,
    version=CROSS_SELL_VERSION,
    result_tables=(CrossSellSuggestion._meta.db_table,),
    clean_params=cross_sell_params_clean,
    prepare=cross_sell_prepare,
    process_chunk=cross_sell_chunk,
    finish=cross_sell_finish,
)
