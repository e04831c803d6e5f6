"""Staging a batch and resolving every line to one outcome, set-based, in the caller's transaction.

The checked chunks are COPYed into a temporary staging table; then a handful of statements, each
over the whole batch, decide and apply the outcomes:

1. Lines whose source key comes again later in the file: rejected (the last one is used).
2. (source, source_key) seen before → the customer of that source record ("updated", or
   "unchanged" when nothing differs).
3. National ID (type + value) of an existing customer → "merged" into it.
4. ROW_MATCHERS (the probabilistic matcher, `imports/matching.py`) may merge lines still unresolved
   into a customer ("merged") or send them to "review" (naming the candidate customer).
5. The rest → "created": the first line of each national ID creates the customer, later lines with
   that ID merge into it. A line in review becomes a customer too (nothing waits outside the CRM).
6. Created and in-review customers inserted from the staging table with their name keys, customer number, RM
   assignment, source record, field provenance and first history row.
7. Updated and merged lines: per field group, the incoming value overwrites when the source's trust
   for the group is at least that of the source that last set it (FieldProvenance), and otherwise
   only fills an empty field; a group nobody has set yet is only filled. When several lines of the
   file reach one customer, the last one's values count. The changed fields, the history rows
   ("~", reason "Import batch #n"), provenance, RM hand-over and source records follow.
8. Every line into ImportRow with its outcome; the counts add up to the line count.
9. Each line in review and its candidate go to the duplicate review queue as a pending pair
   (MatchCandidate, with the line's ImportRow, score and field comparisons).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _
from psycopg.copy import QueuedLibpqWriter
from pyarrow import csv as pa_csv

from crm_bank.bulk import quoted_table
from customers.history import customer_history_write
from customers.imports.validation import STAGE_COLUMNS
from customers.models import (
    FIELD_GROUPS,
    Customer,
    FieldGroup,
    FieldProvenance,
    ImportBatch,
    ImportRow,
    MatchCandidate,
    RMAssignment,
    SourceRecord,
    SourceSystem,
)
from customers.naming import customer_name_keys

STAGE = "customer_import_stage"
CIF_PREFIX = "IM"

# Hook for the probabilistic matcher: each callable gets the open cursor, the batch and the staging
# table's name, and may, on lines that are valid and still unresolved (outcome IS NULL), set
# outcome = 'merged' with customer_id = the customer, or outcome = 'review' with match_left = the
# candidate customer and the match_* columns (score, decision, rule, comparisons, RM conflict).
RowMatcher = Callable[..., None]
ROW_MATCHERS: list[RowMatcher] = []

# Customer column → (field group, SQL type).
_TYPES = {"birth_date": "date", "marketing_consent": "boolean", "do_not_contact": "boolean",
          "home_branch_id": "bigint", "primary_rm_id": "bigint"}
FIELDS: dict[str, tuple[str, str]] = {
    column: (FIELD_GROUPS[column if column in FIELD_GROUPS else column.removesuffix("_id")], _TYPES.get(column, "text"))
    for column in ("kind", "first_name", "last_name", "legal_name", "national_id_type", "national_id", "birth_date",
                   "gender", "phone", "email", "address_line", "city", "postal_code", "country", "marketing_consent",
                   "do_not_contact", "home_branch_id", "primary_rm_id")
}
# The staging column a customer column takes its value from, when the names differ.
_STAGE_SOURCE = {"home_branch_id": "branch_id", "primary_rm_id": "rm_id"}
_NAME_FIELDS = ("kind", "first_name", "last_name", "legal_name")


@dataclass(frozen=True)
class ApplyResult:
    line_count: int
    counts: dict[str, int]


def stage_create(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    text = ", ".join(f"{name} text" for name in (
        "kind", "first_name", "last_name", "legal_name", "national_id_type", "national_id", "gender", "phone",
        "email", "address_line", "city", "postal_code", "country", "name_key", "name_key_reversed"))
    trust = ", ".join(f"o_{group} boolean" for group in FieldGroup.values)
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (line integer PRIMARY KEY, source_key text, valid boolean,"
        f" payload jsonb, errors jsonb, {text}, birth_date date, branch_id bigint, branch_given boolean,"
        f" rm_id bigint, marketing_consent boolean, do_not_contact boolean,"
        f" outcome text, customer_id bigint, record_payload jsonb, changed text[] NOT NULL DEFAULT '{{}}',"
        f" applies boolean NOT NULL DEFAULT false, {trust}, match_left bigint, match_probability float8,"
        f" match_weight float8, match_decision text, match_rule text, match_comparisons jsonb,"
        f" match_conflict boolean) ON COMMIT DROP"
    )


@contextmanager
def stage_copier(cursor) -> Iterator[Callable[[pd.DataFrame], int]]:
    """One COPY into the staging table for the whole file; yields `copy(frame)`, which writes a
    checked chunk as CSV (Arrow's writer, in C) and returns its line count. The data goes out from
    a writer thread, so PostgreSQL parses one chunk while this process checks the next."""
    columns = ", ".join(STAGE_COLUMNS)
    driver_cursor = cursor.cursor  # Django's wrapper does not pass a writer on
    with driver_cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN WITH (FORMAT csv)",
                            writer=QueuedLibpqWriter(driver_cursor)) as copy:
        def chunk_copy(frame: pd.DataFrame) -> int:
            copy.write(stage_csv(frame))
            return len(frame)

        yield chunk_copy


def stage_csv(frame: pd.DataFrame) -> bytes:
    """A checked chunk as COPY's CSV: every text quoted, so an unquoted empty field is NULL."""
    buffer = io.BytesIO()
    pa_csv.write_csv(pa.Table.from_pandas(frame[list(STAGE_COLUMNS)], preserve_index=False), buffer,
                     write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return buffer.getvalue()


def _reject(cursor, *, where: str, column: str, reason: str, params: dict | None = None) -> None:
    """Turns staged lines matching `where` (an SQL condition on s) into rejections with one reason;
    `{other}` in the reason is replaced by the SQL expression `other_line` from params' context."""
    cursor.execute(
        f"UPDATE {STAGE} s SET valid = false, customer_id = NULL,"
        f" errors = jsonb_build_array(jsonb_build_object('column', %(column)s::text, 'reason', %(reason)s::text))"
        f" WHERE s.valid AND {where}",
        {"column": column, "reason": reason, **(params or {})},
    )


def batch_resolve_and_apply(*, cursor, batch: ImportBatch, source_trust: dict[str, int],
                            actor: AbstractBaseUser | None, branch_scope: frozenset[int] | None = None) -> ApplyResult:
    """Steps 1–9 of the module docstring over the staged batch; returns the counts per outcome.
    With `branch_scope` (a supervisor's import), a line that resolves to an existing customer of
    another branch is rejected: only an administrator's import changes other branches' customers."""
    reason = _("Import batch #%(batch)s") % {"batch": batch.pk}
    params = {"system": batch.source.code, "batch": batch.pk, "actor": getattr(actor, "pk", None),
              "reason": reason, **{f"trust_{group}": trust for group, trust in source_trust.items()}}
    # Autovacuum never analyses a temporary table: without statistics every plan over it is a guess.
    cursor.execute(f"ANALYZE {STAGE}")
    _duplicate_keys_reject(cursor)
    _resolve_existing(cursor, params)
    for matcher in ROW_MATCHERS:
        matcher(cursor=cursor, batch=batch, table=STAGE)
    if branch_scope is not None:
        _reject(cursor, column="source_key",
                where=f"EXISTS (SELECT 1 FROM {quoted_table(Customer)} c WHERE c.id = s.customer_id"
                      " AND NOT c.home_branch_id = ANY(%(scope)s))",
                reason=_("This customer belongs to another branch: an administrator imports changes to it."),
                params={"scope": sorted(branch_scope)})
    # A closed customer anonymised under the retention rules keeps its source keys: a source that
    # still sends the old line must not bring back the personal data retention erased.
    _reject(cursor, column="source_key",
            where=f"EXISTS (SELECT 1 FROM {quoted_table(Customer)} c WHERE c.id = s.customer_id"
                  " AND c.anonymised_at IS NOT NULL)",
            reason=_("This source key belongs to a customer anonymised under the retention rules: the line is "
                     "not applied."))
    _resolve_new(cursor)
    _created_insert(cursor, params)
    _changes_compute(cursor, params)
    _changes_apply(cursor, params)
    _source_records_write(cursor, params)
    result = _import_rows_write(cursor, params)
    _review_pairs_write(cursor, params)
    return result


def _duplicate_keys_reject(cursor) -> None:
    cursor.execute(f"SELECT s.line, d.last FROM {STAGE} s JOIN (SELECT source_key, max(line) AS last FROM {STAGE}"
                   f" WHERE valid GROUP BY source_key HAVING count(*) > 1) d USING (source_key)"
                   f" WHERE s.valid AND s.line < d.last")
    repeated = cursor.fetchall()
    if not repeated:
        return
    reason = _("The same source key comes again on line %(line)s; the last line is used.")
    cursor.execute(
        f"UPDATE {STAGE} s SET valid = false, errors = jsonb_build_array(jsonb_build_object("
        f"'column', 'source_key', 'reason', replace(%s, '%%(line)s', d.last::text)))"
        f" FROM unnest(%s::int[], %s::int[]) AS d(line, last) WHERE s.line = d.line",
        [reason, [line for line, _last in repeated], [last for _line, last in repeated]],
    )


def _resolve_existing(cursor, params: dict) -> None:
    cursor.execute(
        f"UPDATE {STAGE} s SET customer_id = r.customer_id, outcome = 'updated', record_payload = r.payload"
        f" FROM {quoted_table(SourceRecord)} r"
        f" WHERE s.valid AND r.system = %(system)s AND r.external_id = s.source_key",
        params,
    )
    cursor.execute(
        # A merged-away record that kept its ID hands the line to the record that absorbed it.
        f"UPDATE {STAGE} s SET customer_id = coalesce(c.merged_into_id, c.id), outcome = 'merged'"
        f" FROM {quoted_table(Customer)} c"
        f" WHERE s.valid AND s.outcome IS NULL AND s.national_id <> ''"
        f" AND c.national_id_type = s.national_id_type AND c.national_id = s.national_id",
    )


def _resolve_new(cursor) -> None:
    # Joins, not `line IN (subquery) OR …`: a subquery PostgreSQL cannot hash is re-run per line.
    # A line in review keeps its outcome and gets a new customer like a created one.
    cursor.execute(
        f"UPDATE {STAGE} s SET outcome = coalesce(s.outcome, 'created'),"
        f" customer_id = nextval(pg_get_serial_sequence('{Customer._meta.db_table}', 'id'))"
        f" FROM (SELECT line, national_id, row_number() OVER (PARTITION BY national_id_type, national_id"
        f"  ORDER BY line) AS nth FROM {STAGE} WHERE valid AND (outcome IS NULL OR outcome = 'review')) f"
        f" WHERE s.line = f.line AND (f.national_id = '' OR f.nth = 1)"
    )
    cursor.execute(
        f"UPDATE {STAGE} s SET outcome = 'merged', customer_id = f.customer_id, match_left = NULL FROM {STAGE} f"
        f" WHERE s.valid AND (s.outcome IS NULL OR (s.outcome = 'review' AND s.customer_id IS NULL))"
        f" AND f.outcome IN ('created', 'review') AND f.customer_id IS NOT NULL AND s.national_id <> ''"
        f" AND f.national_id_type = s.national_id_type AND f.national_id = s.national_id"
    )


_GROUP_GIVEN = {
    FieldGroup.IDENTITY: "true",
    FieldGroup.CONTACT: "(s.phone <> '' OR s.email <> '')",
    FieldGroup.ADDRESS: "(s.address_line <> '' OR s.city <> '' OR s.postal_code <> '' OR s.country <> '')",
    FieldGroup.CONSENT: "(s.marketing_consent IS NOT NULL OR s.do_not_contact IS NOT NULL)",
    FieldGroup.RELATIONSHIP: "true",
}


def _created_insert(cursor, params: dict) -> None:
    created = f"FROM {STAGE} s WHERE s.valid AND s.outcome IN ('created', 'review')"
    cursor.execute(
        f"INSERT INTO {quoted_table(Customer)} (id, cif, kind, first_name, last_name, legal_name, name_key,"
        f" name_key_reversed, national_id_type, national_id, birth_date, gender, occupation, marital_status,"
        f" education, phone, email, address_line, city, postal_code, country, home_branch_id, primary_rm_id,"
        f" lifecycle_stage, customer_since, preferred_channel, preferred_contact_time, preferred_language,"
        f" interests, marketing_consent, marketing_consent_at, marketing_consent_source, do_not_contact,"
        f" household_role, last_contact_channel, attributes, created_at, updated_at)"
        f" SELECT s.customer_id, '{CIF_PREFIX}' || lpad(s.customer_id::text, 10, '0'), s.kind, s.first_name,"
        f" s.last_name, s.legal_name, s.name_key, s.name_key_reversed, s.national_id_type, s.national_id,"
        f" s.birth_date, s.gender, '', '', '', s.phone, s.email, s.address_line, s.city, s.postal_code,"
        f" s.country, s.branch_id, s.rm_id, %(stage)s, current_date, '', %(contact_time)s, '', '{{}}',"
        f" coalesce(s.marketing_consent, false), CASE WHEN s.marketing_consent THEN now() END,"
        f" CASE WHEN s.marketing_consent IS NOT NULL THEN %(consent_source)s ELSE '' END,"
        f" coalesce(s.do_not_contact, false), '', '', '{{}}', now(), now() {created}",
        {**params, "stage": Customer.Lifecycle.CUSTOMER, "contact_time": Customer.ContactTime.ANY,
         "consent_source": Customer.ConsentSource.IMPORTED},
    )
    cursor.execute(
        f"INSERT INTO {quoted_table(RMAssignment)} (customer_id, rm_id, started_at, reason, note, assigned_by_id)"
        f" SELECT s.customer_id, s.rm_id, now(), %(onboarding)s, %(reason)s, %(actor)s {created}"
        f" AND s.rm_id IS NOT NULL",
        {**params, "onboarding": RMAssignment.Reason.ONBOARDING},
    )
    groups = " UNION ALL ".join(
        f"SELECT s.customer_id, '{group}' {created} AND {given}" for group, given in _GROUP_GIVEN.items())
    cursor.execute(
        f"INSERT INTO {quoted_table(FieldProvenance)} (customer_id, \"group\", source, set_at)"
        f" SELECT customer_id, grp, %(system)s, now() FROM ({groups}) AS g(customer_id, grp)", params,
    )
    customer_history_write(rows_sql=f"SELECT s.customer_id {created}", params=params, reason=params["reason"],
                           history_type="+", user_id=params["actor"])


def _value_sql(field: str, group: str, kind: str) -> tuple[str, str]:
    """(is the incoming value given, is the customer's value empty) as SQL over s and c."""
    incoming = f"s.{_STAGE_SOURCE.get(field, field)}"
    if field == "national_id_type":
        return "s.national_id <> ''", "c.national_id = ''"
    if field == "home_branch_id":
        return "s.branch_given", "false"
    if kind == "text":
        return f"{incoming} <> ''", f"c.{field} = ''"
    if kind == "boolean":
        return f"{incoming} IS NOT NULL", "false"
    return f"{incoming} IS NOT NULL", f"c.{field} IS NULL"


def _changes_compute(cursor, params: dict) -> None:
    """Which fields each updated or merged line changes: trust per group first (o_<group>: NULL when
    no source set the group yet), then the fields whose resulting value differs. Only the last line
    of the file per customer applies."""
    trust = ", ".join(
        f"o_{group} = (SELECT %(trust_{group})s >= ss.trust_{group} FROM {quoted_table(FieldProvenance)} fp"
        f" JOIN {quoted_table(SourceSystem)} ss ON ss.code = fp.source"
        f" WHERE fp.customer_id = s.customer_id AND fp.\"group\" = '{group}')" for group in FieldGroup.values)
    cursor.execute(
        f"UPDATE {STAGE} s SET applies = true, {trust} FROM (SELECT max(line) AS line FROM {STAGE}"
        f" WHERE valid AND outcome IN ('updated', 'merged') GROUP BY customer_id) f WHERE s.line = f.line", params,
    )
    changes = []
    for field, (group, kind) in FIELDS.items():
        given, empty = _value_sql(field, group, kind)
        incoming = f"s.{_STAGE_SOURCE.get(field, field)}"
        changes.append(f"CASE WHEN {given} AND (s.o_{group} OR {empty}) AND {incoming} IS DISTINCT FROM c.{field}"
                       f" THEN '{field}' END")
    cursor.execute(
        f"UPDATE {STAGE} s SET changed = array_remove(ARRAY[{', '.join(changes)}]::text[], NULL)"
        f" FROM {quoted_table(Customer)} c WHERE s.applies AND c.id = s.customer_id"
    )
    _reject(cursor, where=(
        f"s.applies AND 'national_id' = ANY(s.changed) AND EXISTS (SELECT 1 FROM {quoted_table(Customer)} o"
        f" WHERE o.national_id_type = s.national_id_type AND o.national_id = s.national_id AND o.id <> s.customer_id)"),
        column="national_id", reason=_("Another customer already has this national ID."))
    # Two lines of the file giving one new national ID to two customers: the first keeps it.
    _reject(cursor, where=(
        f"s.applies AND 'national_id' = ANY(s.changed) AND EXISTS (SELECT 1 FROM {STAGE} o"
        f" WHERE o.valid AND o.applies AND o.line < s.line AND 'national_id' = ANY(o.changed)"
        f" AND o.national_id_type = s.national_id_type AND o.national_id = s.national_id"
        f" AND o.customer_id <> s.customer_id)"),
        column="national_id", reason=_("An earlier line of this file gives this national ID to another customer."))
    _reject(cursor, where=(
        f"s.applies AND EXISTS (SELECT 1 FROM {quoted_table(Customer)} c WHERE c.id = s.customer_id"
        f" AND CASE WHEN 'marketing_consent' = ANY(s.changed) THEN s.marketing_consent ELSE c.marketing_consent END"
        f" AND CASE WHEN 'do_not_contact' = ANY(s.changed) THEN s.do_not_contact ELSE c.do_not_contact END)"),
        column="marketing_consent",
        reason=_("A customer who asked not to be contacted cannot give marketing consent."))
    cursor.execute(f"UPDATE {STAGE} SET applies = false, changed = '{{}}' WHERE NOT valid")


def _changes_apply(cursor, params: dict) -> None:
    changed = f"FROM {STAGE} s WHERE s.applies AND cardinality(s.changed) > 0"
    assignments = ", ".join(
        f"{field} = CASE WHEN '{field}' = ANY(s.changed) THEN s.{_STAGE_SOURCE.get(field, field)} ELSE c.{field} END"
        for field in FIELDS)
    cursor.execute(
        f"UPDATE {quoted_table(Customer)} c SET {assignments}, updated_at = now(),"
        f" marketing_consent_at = CASE WHEN 'marketing_consent' = ANY(s.changed) THEN now()"
        f"  ELSE c.marketing_consent_at END,"
        f" marketing_consent_source = CASE WHEN 'marketing_consent' = ANY(s.changed) THEN %(consent_source)s"
        f"  ELSE c.marketing_consent_source END"
        f" {changed.replace('WHERE', 'WHERE c.id = s.customer_id AND', 1)}",
        {**params, "consent_source": Customer.ConsentSource.IMPORTED},
    )
    _name_keys_refresh(cursor)
    cursor.execute(
        f"UPDATE {quoted_table(RMAssignment)} a SET ended_at = now() {changed}"
        f" AND 'primary_rm_id' = ANY(s.changed) AND a.customer_id = s.customer_id AND a.ended_at IS NULL"
    )
    cursor.execute(
        f"INSERT INTO {quoted_table(RMAssignment)} (customer_id, rm_id, started_at, reason, note, assigned_by_id)"
        f" SELECT s.customer_id, s.rm_id, now(), %(handover)s, %(reason)s, %(actor)s {changed}"
        f" AND 'primary_rm_id' = ANY(s.changed)", {**params, "handover": RMAssignment.Reason.HANDOVER},
    )
    groups = " UNION ALL ".join(
        f"SELECT s.customer_id, '{group}' {changed} AND s.o_{group} IS NOT false AND s.changed && ARRAY"
        f"{[field for field, (field_group, _kind) in FIELDS.items() if field_group == group]!r}::text[]"
        for group in FieldGroup.values)
    cursor.execute(
        f"INSERT INTO {quoted_table(FieldProvenance)} (customer_id, \"group\", source, set_at)"
        f" SELECT customer_id, grp, %(system)s, now() FROM ({groups}) AS g(customer_id, grp)"
        f" ON CONFLICT (customer_id, \"group\") DO UPDATE SET source = EXCLUDED.source, set_at = EXCLUDED.set_at",
        params,
    )
    customer_history_write(rows_sql=f"SELECT s.customer_id {changed}", params=params, reason=params["reason"],
                           history_type="~", user_id=params["actor"])


def _name_keys_refresh(cursor) -> None:
    """Name keys of customers whose names changed, transliterated here (customers.naming)."""
    cursor.execute(
        f"SELECT c.id, c.kind, c.first_name, c.last_name, c.legal_name FROM {quoted_table(Customer)} c JOIN {STAGE} s"
        f" ON s.customer_id = c.id WHERE s.applies AND s.changed && %s::text[]", [list(_NAME_FIELDS)],
    )
    rows = cursor.fetchall()
    if not rows:
        return
    keys = [customer_name_keys(kind=kind, first_name=first, last_name=last, legal_name=legal)
            for _id, kind, first, last, legal in rows]
    cursor.execute(
        f"UPDATE {quoted_table(Customer)} c SET name_key = k.forward, name_key_reversed = k.backward"
        f" FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS k(id, forward, backward) WHERE c.id = k.id",
        [[row[0] for row in rows], [key[0] for key in keys], [key[1] for key in keys]],
    )


def _source_records_write(cursor, params: dict) -> None:
    """A merged or created line links a new source record; an updated line refreshes its record
    (payload, batch) when anything differs, and is "unchanged" when nothing does."""
    cursor.execute(
        f"UPDATE {STAGE} s SET outcome = 'unchanged' WHERE s.valid AND s.outcome = 'updated'"
        f" AND cardinality(s.changed) = 0 AND s.record_payload = s.payload"
    )
    cursor.execute(
        f"UPDATE {quoted_table(SourceRecord)} r SET payload = s.payload, batch_id = %(batch)s, updated_at = now()"
        f" FROM {STAGE} s WHERE s.valid AND s.outcome = 'updated' AND r.system = %(system)s"
        f" AND r.external_id = s.source_key", params,
    )
    cursor.execute(
        f"INSERT INTO {quoted_table(SourceRecord)} (customer_id, system, external_id, department_id, payload,"
        f" received_at, batch_id, updated_at)"
        f" SELECT s.customer_id, %(system)s, s.source_key, ss.department_id, s.payload, now(), %(batch)s, now()"
        f" FROM {STAGE} s, {quoted_table(SourceSystem)} ss WHERE ss.code = %(system)s"
        f" AND s.valid AND s.outcome IN ('created', 'merged', 'review')", params,
    )


def _review_pairs_write(cursor, params: dict) -> None:
    """Step 9: the lines in review and their candidates as pending pairs of the review queue (left <
    right, as the find-duplicates run stores them; a pair already pending keeps its row)."""
    cursor.execute(
        f"INSERT INTO {quoted_table(MatchCandidate)} (left_id, right_id, import_row_id, run_id, match_probability,"
        f" match_weight, comparisons, decision, rule, model_version, ownership_conflict, status, created_at, note)"
        f" SELECT least(s.match_left, s.customer_id), greatest(s.match_left, s.customer_id), r.id, b.run_id,"
        f" s.match_probability, s.match_weight, s.match_comparisons, s.match_decision, s.match_rule,"
        f" %(model_version)s, coalesce(s.match_conflict, false), 'pending', now(), ''"
        f" FROM {STAGE} s JOIN {quoted_table(ImportRow)} r ON r.batch_id = %(batch)s AND r.line = s.line"
        f" JOIN {quoted_table(ImportBatch)} b ON b.id = %(batch)s"
        f" WHERE s.valid AND s.outcome = 'review' AND s.match_left IS NOT NULL"
        f" ON CONFLICT (left_id, right_id) WHERE status = 'pending' DO NOTHING",
        {**params, "model_version": _model_version()},
    )


def _model_version() -> str:
    from customers.matching.model import MODEL_VERSION

    return MODEL_VERSION


def _import_rows_write(cursor, params: dict) -> ApplyResult:
    cursor.execute(
        f"INSERT INTO {quoted_table(ImportRow)} (batch_id, line, source_key, payload, outcome, errors, customer_id,"
        f" changed_fields) SELECT %(batch)s, s.line, left(coalesce(s.source_key, ''), 64), s.payload,"
        f" CASE WHEN s.valid THEN s.outcome ELSE 'rejected' END, coalesce(s.errors, '[]'),"
        f" CASE WHEN s.valid THEN s.customer_id END, to_jsonb(s.changed) FROM {STAGE} s", params,
    )
    cursor.execute(f"SELECT CASE WHEN valid THEN outcome ELSE 'rejected' END, count(*) FROM {STAGE} GROUP BY 1")
    counts = {outcome: 0 for outcome in ImportRow.Outcome.values if outcome != ImportRow.Outcome.PENDING}
    counts.update(dict(cursor.fetchall()))
    cursor.execute(f"SELECT count(*) FROM {STAGE}")
    (line_count,) = cursor.fetchone()
    if sum(counts.values()) != line_count or counts.get(None):
        raise AssertionError(f"import batch {params['batch']}: outcomes {counts} do not add up to {line_count} lines")
    return ApplyResult(line_count=line_count, counts=counts)
