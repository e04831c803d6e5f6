"""Duplicate customers: the find-duplicates run over the golden records, and the supervisors' review
queue it fills (what a viewer may see, merge, and "not the same customer").

The run ("duplicate_search", `python manage.py find_duplicates`, the admin's button on the queue):

1. prepare: the live customers (tombstones — `merged_into` set — excluded) are partitioned into
   *passes*, one per family of the matcher's blocking rules (`matching/model.py`), each keyed by a
   value that every pair those rules block on must share; within a pass, customers are split into
   hash buckets of that key, and neighbouring buckets are grouped into chunks of about
   `chunk_size` customers. A chunk is `(pass × STRIDE + first bucket, pass × STRIDE + last bucket)`.
2. process_chunk: one SQL reads the chunk's customers into the matcher's frame; `candidate_pairs`
   scores the pairs its blocking rules let through; the pairs at `review` or `auto_merge` are
   upserted as pending MatchCandidate rows. Chunks of all passes run on any worker at once.
3. finish: with `settings.CRM_AUTO_MERGE` (default False) the run's `auto_merge` pairs whose records
   have the same RM (or one has none) are merged with `customer_merge` (actor None: the audit trail
   names no person); otherwise — and for every pair with an ownership conflict — they wait in the
   queue flagged "merge automatically" for a supervisor to confirm. Then the metrics.
4. publish: pending pairs of earlier runs that this run did not find again (a record changed or was
   merged since) become "no longer current".

Why no pair is lost between chunks. A blocking rule compares two records only when they agree
exactly on its keys, so a pass keyed by something those keys imply puts both records of each such
pair into the same bucket, hence the same chunk:

- pass "birth_year" — rules (birth date, name initials) and (order-free name, birth year): both
  need the same birth year; the buckets *are* years (contiguous years form a chunk, read through the
  birth-date index).
- pass "postcode" — rule (postcode, name initials): the same normalised postcode.
- passes "national_id", "phone", "email" — the rules on those near-unique keys: the same ID
  (type-qualified, separators dropped), the same last seven digits of the phone (what two ways of
  writing one number share, with or without the country code) and the same lower-cased e-mail.
  Only keys held by 2 to PLACEHOLDER_LIMIT live records are read: a key held once pairs nobody,
  and one held by a crowd is a placeholder the matcher ignores anyway.

The name-initials part of the first rules needs pinyin (no SQL), so it does not split the passes;
the year and postcode still keep blocks small. A pair blocked by several rules is scored in several
chunks; the score depends only on the two records, so the upsert keeps one row. Values held by more
than PLACEHOLDER_LIMIT live customers bank-wide (a branch's phone typed into every form) are blanked
in every frame (md5 digests computed once in prepare, kept in the run's params), so a chunk treats
them as the whole bank would. Each chunk rereads its pass's keys in one statement: a sequential scan, the price of not
keeping a key table; the matching itself dominates.

Idempotent: a pair is stored left < right and upserted on the one-pending-per-pair constraint, so
a re-run (or a redelivered chunk) updates its row's score instead of adding one; a pair a
supervisor decided is "not the same customer" is never proposed again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.errors import RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.params import params_chunk_size, params_unknown_refuse
from crm_bank.runs.registry import RunKind
from crm_bank.runs.selectors import run_rows_written
from crm_bank.runs.services import run_start
from customers.models import Customer, CustomerMerge, MatchCandidate

# The matcher (splink, DuckDB, pypinyin) is imported by the steps that use it, not when the app
# registers the run kind: web processes never load it for the queue pages.

logger = logging.getLogger(__name__)

DUPLICATE_SEARCH = "duplicate_search"
DUPLICATE_SEARCH_VERSION = "duplicates-1"  # the matcher's own MODEL_VERSION goes on each pair and the metrics
CHUNK_SIZE = 20_000
STRIDE = 10_000  # chunk bounds: pass × STRIDE + bucket (years and hash buckets are below it)
_HASH_BUCKETS = "('x' || left(md5({key}), 3))::bit(12)::int"  # 0..4095, stable across servers

_CUSTOMER = Customer._meta.db_table
_CANDIDATE = MatchCandidate._meta.db_table
_DIGITS = "regexp_replace(c.phone, '[^0-9]', '', 'g')"
# The bank-wide placeholder test per frame column: the SQL key a placeholder is counted by.
_CROWD_KEYS = {
    "national_id": "lower(c.national_id_type) || ':' || regexp_replace(upper(c.national_id), '[^0-9A-Z]', '', 'g')",
    "phone": _DIGITS,
    "email": "lower(trim(c.email))",
}


@dataclass(frozen=True)
class Pass:
    name: str
    key: str  # SQL over the customer row `c`
    present: str  # SQL: the record has the key
    # Keys held by more than the matcher's PLACEHOLDER_LIMIT live records are placeholders: left out.
    capped: bool


PASSES = (
    Pass("birth_year", "extract(year FROM c.birth_date)::int", "c.birth_date IS NOT NULL", capped=False),
    Pass("postcode", "regexp_replace(upper(c.postal_code), '[^0-9A-Z]', '', 'g')",
         "regexp_replace(upper(c.postal_code), '[^0-9A-Z]', '', 'g') <> ''", capped=False),
    Pass("national_id", _CROWD_KEYS["national_id"], "c.national_id <> ''", capped=True),
    Pass("phone", f"right({_DIGITS}, 7)", f"length({_DIGITS}) >= 7", capped=True),
    Pass("email", _CROWD_KEYS["email"], "position('@' in c.email) > 0", capped=True),
)


# Reading customers into the matcher's frame

def _placeholder_limit() -> int:
    from customers.matching.normalise import PLACEHOLDER_LIMIT

    return PLACEHOLDER_LIMIT


def _bucket_sql(step: Pass) -> str:
    return "key" if step.name == "birth_year" else _HASH_BUCKETS.format(key="key")


def _keyed_sql(step: Pass) -> str:
    """The live customers that have the pass's key, with it."""
    return f"SELECT c.id, {step.key} AS key FROM {_CUSTOMER} c WHERE c.merged_into_id IS NULL AND {step.present}"


def _block_sql(step: Pass) -> str:
    """Ids of the customers of buckets %(lo)s..%(hi)s of the pass (keys shared within limits)."""
    if step.name == "birth_year":  # a range of the birth-date index
        return (f"SELECT c.id FROM {_CUSTOMER} c WHERE c.merged_into_id IS NULL"
                " AND c.birth_date >= make_date(%(lo)s, 1, 1) AND c.birth_date < make_date(%(hi)s + 1, 1, 1)")
    upper = f" AND holders <= {_placeholder_limit()}" if step.capped else ""
    return (
        f"SELECT id FROM (SELECT id, count(*) OVER (PARTITION BY key) AS holders FROM ({_keyed_sql(step)}) k"
        f" WHERE {_bucket_sql(step)} BETWEEN %(lo)s AND %(hi)s) b WHERE holders >= 2{upper}"
    )


def _frame_sql(step: Pass) -> str:
    blanked = {
        column: f"CASE WHEN md5({key}) = ANY(%(crowd_{column})s) THEN '' ELSE c.{column} END"
        for column, key in _CROWD_KEYS.items()
    }
    return f"""
        WITH block AS ({_block_sql(step)}),
        countryless AS (
            SELECT DISTINCT c.home_branch_id FROM {_CUSTOMER} c JOIN block b ON b.id = c.id WHERE c.country = ''
        ),
        branch_country AS (  -- a branch's country as its customers give it (a sample, through the branch index)
            SELECT w.home_branch_id, s.country FROM countryless w CROSS JOIN LATERAL (
                SELECT mode() WITHIN GROUP (ORDER BY x.country) AS country FROM (
                    SELECT y.country FROM {_CUSTOMER} y WHERE y.home_branch_id = w.home_branch_id
                    AND y.country <> '' LIMIT 500) x) s
        )
        SELECT c.id, c.first_name, c.last_name, c.legal_name, c.national_id_type,
               {blanked['national_id']}, c.birth_date, c.gender, {blanked['phone']}, {blanked['email']},
               c.address_line, c.city, c.postal_code, COALESCE(NULLIF(c.country, ''), bc.country, ''),
               c.primary_rm_id
        FROM {_CUSTOMER} c JOIN block b ON b.id = c.id
        LEFT JOIN branch_country bc ON bc.home_branch_id = c.home_branch_id
        ORDER BY c.id
    """


def customers_frame(*, step: Pass, lo: int, hi: int, crowd: dict[str, list[str]]) -> pd.DataFrame:
    """The live customers of buckets lo..hi of `step` as the matcher's frame (FRAME_COLUMNS plus
    primary_rm_id), in id order; one SQL statement. Values in `crowd` (md5 digests per column) are
    blanked. Country: the customer's, else the one most of its branch's customers have."""
    from customers.matching.normalise import FRAME_COLUMNS

    params = {"lo": lo, "hi": hi, **{f"crowd_{column}": crowd.get(column, []) for column in _CROWD_KEYS}}
    with connection.cursor() as cursor:
        cursor.execute(_frame_sql(step), params)
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=[*FRAME_COLUMNS, "primary_rm_id"], dtype=object)


# The run's steps

def duplicate_params_clean(params: dict) -> dict:
    params_unknown_refuse(params, allowed={"chunk_size"})
    return {"chunk_size": params_chunk_size(params, default=CHUNK_SIZE, minimum=2,
                                            message=_("The chunk size must be at least 2 customers."))}


def _bucket_counts(step: Pass) -> list[tuple[int, int]]:
    """(bucket, customers) of the pass, in bucket order."""
    limit = f" AND count(*) <= {_placeholder_limit()}" if step.capped else ""
    sql = (f"SELECT {_bucket_sql(step)} AS bucket, sum(n)::bigint FROM (SELECT key, count(*) AS n"
           f" FROM ({_keyed_sql(step)}) k GROUP BY key HAVING count(*) >= 2{limit}) s GROUP BY 1 ORDER BY 1")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [(int(bucket), int(count)) for bucket, count in cursor.fetchall()]


def bucket_ranges(counts: list[tuple[int, int]], *, size: int) -> list[tuple[int, int]]:
    """Neighbouring buckets grouped into inclusive ranges of at most `size` customers (a bucket
    bigger than that is a range of its own: a block is never split)."""
    ranges: list[tuple[int, int]] = []
    start, filled, last = None, 0, None
    for bucket, count in counts:
        if start is not None and filled + count > size:
            ranges.append((start, last))
            start, filled = None, 0
        if start is None:
            start = bucket
        filled, last = filled + count, bucket
    if start is not None:
        ranges.append((start, last))
    return ranges


def _crowd_digests() -> dict[str, list[str]]:
    """md5 of each value held by more than PLACEHOLDER_LIMIT live customers, per column."""
    crowd = {}
    with connection.cursor() as cursor:
        for column, key in _CROWD_KEYS.items():
            cursor.execute(
                f"SELECT md5({key}) FROM {_CUSTOMER} c WHERE c.merged_into_id IS NULL AND c.{column} <> ''"
                f" GROUP BY {key} HAVING count(*) > %s", [_placeholder_limit()])
            crowd[column] = sorted(digest for (digest,) in cursor.fetchall())
    return crowd


def duplicate_search_prepare(run: Run) -> list[tuple[int, int]]:
    size = int(run.params.get("chunk_size", CHUNK_SIZE))
    ranges = [
        (index * STRIDE + lo, index * STRIDE + hi)
        for index, step in enumerate(PASSES)
        for lo, hi in bucket_ranges(_bucket_counts(step), size=size)
    ]
    Run.objects.filter(pk=run.pk).update(params={**run.params, "crowd": _crowd_digests()})
    # No key is shared at all: one chunk (postcode bucket 0, empty then), so the run publishes
    # "no duplicates" rather than failing with nothing to process.
    return ranges or [(STRIDE, STRIDE)]


def duplicate_search_chunk(run: Run, lo: int, hi: int) -> int:
    """Scores the chunk's blocked pairs and upserts the review / auto-merge ones; returns the number
    of pairs compared (scored), whatever their decision — the run's work, summed in the metrics."""
    from customers.matching.match import candidate_pairs
    from customers.matching.normalise import FRAME_COLUMNS

    step = PASSES[lo // STRIDE]
    frame = customers_frame(step=step, lo=lo % STRIDE, hi=hi % STRIDE, crowd=run.params.get("crowd", {}))
    pairs = candidate_pairs(frame[list(FRAME_COLUMNS)], include_new=True)
    found = pairs[pairs["decision"] != "new"]
    if not found.empty:
        rms = frame.set_index("id")["primary_rm_id"]
        _candidates_upsert(run=run, pairs=found, rms=rms)
    return len(pairs)


def _candidates_upsert(*, run: Run, pairs: pd.DataFrame, rms: pd.Series) -> int:
    from customers.matching.match import COMPARISON_NAMES
    from customers.matching.model import MODEL_VERSION

    ids_l, ids_r = pairs["id_l"].astype("int64").to_numpy(), pairs["id_r"].astype("int64").to_numpy()
    left, right = np.minimum(ids_l, ids_r).tolist(), np.maximum(ids_l, ids_r).tolist()
    rm_l, rm_r = rms.reindex(left).to_numpy(), rms.reindex(right).to_numpy()
    conflict = [bool(a is not None and b is not None and not pd.isna(a) and not pd.isna(b) and a != b)
                for a, b in zip(rm_l, rm_r, strict=True)]
    comparisons = [
        json.dumps([
            {"field": name, "level": int(row[f"{name}_gamma"]), "label": row[f"{name}_level"],
             "weight": float(row[f"{name}_weight"])}
            for name in COMPARISON_NAMES
        ])
        for row in pairs.to_dict("records")
    ]
    params = {
        "run": run.pk, "version": MODEL_VERSION, "l": left, "r": right,
        "p": [float(v) for v in pairs["match_probability"]], "w": [float(v) for v in pairs["match_weight"]],
        "c": comparisons, "d": list(pairs["decision"]), "ru": list(pairs["rule"]), "oc": conflict,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {_CANDIDATE} (left_id, right_id, run_id, match_probability, match_weight, comparisons,
                decision, rule, model_version, ownership_conflict, status, created_at, note)
            SELECT t.l, t.r, %(run)s, t.p, t.w, t.c::jsonb, t.d, t.ru, %(version)s, t.oc, 'pending', now(), ''
            FROM unnest(%(l)s::bigint[], %(r)s::bigint[], %(p)s::float8[], %(w)s::float8[], %(c)s::text[],
                        %(d)s::text[], %(ru)s::text[], %(oc)s::bool[]) AS t(l, r, p, w, c, d, ru, oc)
            -- A "not the same customer" decision holds for the records it was made on and for the
            -- records they were merged into since (a merge must not reopen it, nor let it auto-merge).
            WHERE NOT EXISTS (
                SELECT 1 FROM {_CANDIDATE} x
                JOIN {_CUSTOMER} xl ON xl.id = x.left_id
                JOIN {_CUSTOMER} xr ON xr.id = x.right_id
                WHERE x.status = 'distinct'
                  AND x.left_id IN (SELECT t.l UNION ALL SELECT t.r UNION ALL
                                    SELECT m.id FROM {_CUSTOMER} m WHERE m.merged_into_id IN (t.l, t.r))
                  AND coalesce(xl.merged_into_id, xl.id) IN (t.l, t.r)
                  AND coalesce(xr.merged_into_id, xr.id) IN (t.l, t.r)
                  AND coalesce(xl.merged_into_id, xl.id) <> coalesce(xr.merged_into_id, xr.id))
            ON CONFLICT (left_id, right_id) WHERE status = 'pending' DO UPDATE SET
                run_id = EXCLUDED.run_id, match_probability = EXCLUDED.match_probability,
                match_weight = EXCLUDED.match_weight, comparisons = EXCLUDED.comparisons,
                decision = EXCLUDED.decision, rule = EXCLUDED.rule, model_version = EXCLUDED.model_version,
                ownership_conflict = EXCLUDED.ownership_conflict
        """, params)
        return cursor.rowcount


def duplicate_search_finish(run: Run) -> dict:
    from customers.matching.model import MODEL_VERSION

    merged, left_for_review = _auto_merge(run) if settings.CRM_AUTO_MERGE else (0, 0)
    found = MatchCandidate.objects.filter(run=run)
    by_decision = dict(found.values_list("decision").annotate(n=Count("id")).order_by())
    return {
        "customers": Customer.objects.filter(merged_into__isnull=True).count(),
        "pairs_compared": run_rows_written(run),
        "pairs": {decision: int(by_decision.get(decision, 0)) for decision in ("auto_merge", "review")},
        "ownership_conflicts": found.filter(ownership_conflict=True).count(),
        "auto_merge": bool(settings.CRM_AUTO_MERGE),
        "merged": merged,
        "auto_merge_left_for_review": left_for_review,
        "model_version": MODEL_VERSION,
    }


def _auto_merge(run: Run) -> tuple[int, int]:
    """Merges the run's pending auto-merge pairs without an ownership conflict, the most likely
    first, the older record surviving; returns (merged, refused). A pair whose record was absorbed
    by an earlier merge of the loop is left to the next run (which pairs it with the survivor)."""
    from customers.merging import customer_merge

    merged = refused = 0
    queue = MatchCandidate.objects.filter(
        run=run, status=MatchCandidate.Status.PENDING, decision=MatchCandidate.Decision.AUTO_MERGE,
        ownership_conflict=False,
    ).order_by("-match_probability", "id")
    for candidate in queue:
        live = {c.pk: c for c in Customer.objects.filter(pk__in=[candidate.left_id, candidate.right_id],
                                                         merged_into__isnull=True)}
        if len(live) != 2:
            continue
        survivor, absorbed = live[candidate.left_id], live[candidate.right_id]
        try:
            with transaction.atomic():  # a savepoint: a refused merge leaves the rest of the run intact
                # The merge takes the survivorship rules' choices on the rows it has locked.
                customer_merge(survivor=survivor, absorbed=absorbed, actor=None, candidate=candidate)
            merged += 1
        except (ValidationError, PermissionDenied) as exc:
            logger.warning("Run %s: pair %s left for review: %s", run.pk, candidate.pk, exc)
            refused += 1
        except Exception:  # one broken pair must not keep the whole queue from being published
            logger.exception("Run %s: merging pair %s failed; left for review", run.pk, candidate.pk)
            refused += 1
    return merged, refused


def duplicate_search_publish(run: Run) -> None:
    """Pending pairs of earlier runs that this run did not find again are no longer current."""
    MatchCandidate.objects.filter(
        status=MatchCandidate.Status.PENDING, right__isnull=False, run__kind=DUPLICATE_SEARCH,
    ).exclude(run=run).update(status=MatchCandidate.Status.SUPERSEDED)


DUPLICATE_SEARCH_KIND = RunKind(
    name=DUPLICATE_SEARCH,
    version=DUPLICATE_SEARCH_VERSION,
    clean_params=duplicate_params_clean,
    prepare=duplicate_search_prepare,
    process_chunk=duplicate_search_chunk,
    finish=duplicate_search_finish,
    publish=duplicate_search_publish,
)


def duplicate_search_start(*, started_by: AbstractBaseUser | None = None, params: dict | None = None,
                           sync: bool = False) -> Run:
    """Queues (or with `sync`, runs here) a find-duplicates run over every live customer. Refused
    with a RunError, nothing written, with fewer than two customers or while one is running."""
    if Customer.objects.filter(merged_into__isnull=True)[:2].count() < 2:  # not a count of a million
        raise RunParamsInvalid(_("There are fewer than two customers: nothing to compare."))
    return run_start(kind=DUPLICATE_SEARCH, params=params, started_by=started_by, sync=sync)


# The review queue: who sees and decides which pairs

REVIEW_ROLES = (StaffProfile.Role.ADMIN, StaffProfile.Role.SUPERVISOR)


def _scope(profile: StaffProfile) -> Q:
    """Admins: every pair; a supervisor: pairs with a record in their branch; anyone else: none."""
    if profile.role == StaffProfile.Role.ADMIN:
        return Q()
    if profile.role == StaffProfile.Role.SUPERVISOR and profile.branch_id is not None:
        return Q(left__home_branch_id=profile.branch_id) | Q(right__home_branch_id=profile.branch_id)
    return Q(pk__in=[])


def duplicate_queue(*, profile: StaffProfile, decision: str = "", conflict: bool | None = None) -> QuerySet:
    """Pending pairs of two golden records the viewer may review, the most likely first."""
    pairs = MatchCandidate.objects.filter(_scope(profile), status=MatchCandidate.Status.PENDING,
                                          right__isnull=False)
    if decision:
        pairs = pairs.filter(decision=decision)
    if conflict is not None:
        pairs = pairs.filter(ownership_conflict=conflict)
    return pairs.select_related(
        "left__home_branch", "left__primary_rm", "right__home_branch", "right__primary_rm",
    ).order_by("-match_probability", "id")


def duplicate_queue_counts(*, profile: StaffProfile) -> dict[str, int]:
    """The viewer's pending pairs: in all, per decision, with an ownership conflict (one query)."""
    return MatchCandidate.objects.filter(
        _scope(profile), status=MatchCandidate.Status.PENDING, right__isnull=False,
    ).aggregate(
        total=Count("id"),
        auto_merge=Count("id", filter=Q(decision=MatchCandidate.Decision.AUTO_MERGE)),
        review=Count("id", filter=Q(decision=MatchCandidate.Decision.REVIEW)),
        conflicts=Count("id", filter=Q(ownership_conflict=True)),
    )


def duplicate_pair_for_user(*, user: AbstractBaseUser, pk: int, ip_address: str | None = None) -> MatchCandidate:
    """A pair of golden records the user may open (any status), audited; PermissionDenied (audited)
    for a pair outside a supervisor's branch; MatchCandidate.DoesNotExist when there is none."""
    profile = staff_profile_for_user(user)
    candidate = MatchCandidate.objects.select_related("left", "right", "import_row", "import_row__batch__source").get(
        pk=pk, right__isnull=False)
    allowed = profile is not None and MatchCandidate.objects.filter(_scope(profile), pk=pk).exists()
    audit_record(
        actor=user, action=AuditEvent.Action.VIEW, object_type="match_candidate", object_id=pk,
        outcome=AuditEvent.Outcome.ALLOWED if allowed else AuditEvent.Outcome.DENIED, ip_address=ip_address,
        detail={"left": candidate.left_id, "right": candidate.right_id},
    )
    if not allowed:
        raise PermissionDenied(_("This pair is outside your branch."))
    return candidate


def duplicate_may_decide(*, profile: StaffProfile, left: Customer, right: Customer) -> bool:
    """Admins decide any pair; a supervisor the pairs with both records in their branch (they see
    both in full, and a merge changes both)."""
    if profile.role == StaffProfile.Role.ADMIN:
        return True
    return (profile.role == StaffProfile.Role.SUPERVISOR and profile.branch_id is not None
            and left.home_branch_id == right.home_branch_id == profile.branch_id)


def _candidate_decided(*, candidate_id: int, status: str, actor: AbstractBaseUser | None, note: str = "") -> bool:
    return MatchCandidate.objects.filter(pk=candidate_id, status=MatchCandidate.Status.PENDING).update(
        status=status, decided_by=actor, decided_at=timezone.now(), note=note[:300],
    ) == 1


def duplicate_mark_distinct(*, candidate: MatchCandidate, actor: AbstractBaseUser, note: str = "",
                            ip_address: str | None = None) -> None:
    """"Not the same customer": the pair is closed and never proposed again; audited (a refusal too).
    PermissionDenied for a viewer who may not decide it, ValidationError once it is decided."""
    profile = staff_profile_for_user(actor)
    detail = {"status": MatchCandidate.Status.NOT_DUPLICATE, "left": candidate.left_id, "right": candidate.right_id}
    if profile is None or not duplicate_may_decide(profile=profile, left=candidate.left, right=candidate.right):
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.DENIED,
                     object_type="match_candidate", object_id=candidate.pk, ip_address=ip_address, detail=detail)
        raise PermissionDenied(_("Only an administrator or the supervisor of both records' branch may decide."))
    with transaction.atomic():
        if not _candidate_decided(candidate_id=candidate.pk, status=MatchCandidate.Status.NOT_DUPLICATE,
                                  actor=actor, note=note):
            raise ValidationError(_("This pair has already been decided."))
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="match_candidate", object_id=candidate.pk, ip_address=ip_address,
                     detail=detail)


def duplicate_merge(*, candidate: MatchCandidate, actor: AbstractBaseUser, survivor_side: str,
                    choices: dict[str, str], ip_address: str | None = None) -> CustomerMerge:
    """Merges the pair's records — `survivor_side` "left" or "right" survives, `choices` maps a field
    (and "primary_rm") to "survivor" or "absorbed". customer_merge checks who may merge, refuses a
    decided pair, marks it merged and audits, all in its one transaction."""
    from customers.merging import customer_merge

    survivor, absorbed = ((candidate.left, candidate.right) if survivor_side == "left"
                          else (candidate.right, candidate.left))
    return customer_merge(survivor=survivor, absorbed=absorbed, actor=actor, choices=choices,
                          candidate=candidate, ip_address=ip_address)
