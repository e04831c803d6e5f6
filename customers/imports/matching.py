"""The probabilistic step of an import: lines that no source key or national ID resolved are
matched against the live customers they could be (ROW_MATCHERS hook of `apply`).

1. Candidates, bounded per line: customers with the line's phone, with its name in either order
   (given/family swapped), or born the same day with the same initial (either name first) — the
   matcher's own blocking keys, each an index range (phone, name key, birth date + name key), at
   most `_PER_KEY` per key and line (a placeholder phone held by a thousand records adds twenty).
2. `candidate_pairs` (splink, Fellegi–Sunter) scores each line against its candidates; a line keeps
   its best pair.
3. `auto_merge` with settings.CRM_AUTO_MERGE on and no RM conflict: the line is **merged** into the
   customer (applied like a national-ID match, by source trust). Otherwise `auto_merge` or
   `review`: the line is sent to **review** — it becomes a customer of its own, so nothing it
   carries waits outside the CRM, and the pair goes to the supervisors' review queue with its score
   and field comparisons, where a merge (reversible) or "not the same customer" settles it.
   Below the review threshold the line stays unresolved and is created as a new customer.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from django.conf import settings

from crm_bank.bulk import quoted_table
from customers.models import Customer, ImportBatch

_PER_KEY = 20
_CUSTOMER = quoted_table(Customer)
_LINE_COLUMNS = ("line", "first_name", "last_name", "legal_name", "national_id_type", "national_id", "birth_date",
                 "gender", "phone", "email", "address_line", "city", "postal_code", "country", "rm_id")


def _born_same_day_with_initial(key: str) -> str:
    """Customers born on the line's birth date whose name key starts with the first letter of `key`:
    a range of the (birth_date, name_key) index (name keys are ASCII in collation "C")."""
    initial = f'left({key}, 1) COLLATE "C"'
    return (f"(SELECT c.id FROM {_CUSTOMER} c WHERE c.birth_date = s.birth_date AND {key} <> ''"
            f" AND c.name_key >= {initial} AND c.name_key < ({initial} || chr(127))"
            f" AND c.merged_into_id IS NULL LIMIT {_PER_KEY})")


def _candidates_sql(table: str) -> str:
    live = "c.merged_into_id IS NULL"
    return f"""
        SELECT c.id, c.first_name, c.last_name, c.legal_name, c.national_id_type, c.national_id, c.birth_date,
               c.gender, c.phone, c.email, c.address_line, c.city, c.postal_code, c.country, c.primary_rm_id
        FROM {_CUSTOMER} c WHERE c.id IN (
            SELECT k.id FROM {table} s CROSS JOIN LATERAL (
                (SELECT c.id FROM {_CUSTOMER} c WHERE s.phone <> '' AND c.phone <> '' AND c.phone = s.phone AND {live}
                 LIMIT {_PER_KEY})
                UNION ALL
                (SELECT c.id FROM {_CUSTOMER} c WHERE s.name_key <> ''
                 AND c.name_key IN (s.name_key, s.name_key_reversed) AND {live} LIMIT {_PER_KEY})
                UNION ALL
                {_born_same_day_with_initial("s.name_key")}
                UNION ALL
                {_born_same_day_with_initial("s.name_key_reversed")}
            ) k WHERE s.valid AND s.outcome IS NULL
        )
    """


def import_rows_match(*, cursor, batch: ImportBatch, table: str) -> None:
    """Steps 1–3 above over the staged batch, in the import's transaction."""
    from customers.matching.match import COMPARISON_NAMES, candidate_pairs
    from customers.matching.normalise import FRAME_COLUMNS

    cursor.execute(f"SELECT {', '.join(_LINE_COLUMNS)} FROM {table} WHERE valid AND outcome IS NULL")
    lines = pd.DataFrame(cursor.fetchall(), columns=list(_LINE_COLUMNS), dtype=object)
    if lines.empty:
        return
    cursor.execute(_candidates_sql(table))
    known = pd.DataFrame(cursor.fetchall(), columns=[*FRAME_COLUMNS, "primary_rm_id"], dtype=object)
    if known.empty:
        return
    incoming = lines.rename(columns={"line": "id", "first_name": "given_name", "last_name": "family_name",
                                     "postal_code": "postcode"})
    pairs = candidate_pairs(known[list(FRAME_COLUMNS)], incoming[list(FRAME_COLUMNS)])
    if pairs.empty:
        return
    best = pairs.sort_values(["id_r", "match_probability"], ascending=[True, False]).drop_duplicates("id_r")
    rms_known = known.set_index("id")["primary_rm_id"].reindex(best["id_l"]).to_numpy()
    rms_line = lines.set_index("line")["rm_id"].reindex(best["id_r"]).to_numpy()
    conflict = np.array([a is not None and b is not None and not pd.isna(a) and not pd.isna(b) and a != b
                         for a, b in zip(rms_known, rms_line, strict=True)], dtype=bool)
    merged = (best["decision"].to_numpy() == "auto_merge") & settings.CRM_AUTO_MERGE & ~conflict
    comparisons = [
        json.dumps([{"field": name, "level": int(row[f"{name}_gamma"]), "label": row[f"{name}_level"],
                     "weight": float(row[f"{name}_weight"])} for name in COMPARISON_NAMES])
        for row in best.to_dict("records")
    ]
    cursor.execute(
        f"UPDATE {table} s SET outcome = CASE WHEN t.merged THEN 'merged' ELSE 'review' END,"
        f" customer_id = CASE WHEN t.merged THEN t.candidate END, match_left = t.candidate,"
        f" match_probability = t.p, match_weight = t.w, match_decision = t.d, match_rule = t.ru,"
        f" match_comparisons = t.c::jsonb, match_conflict = t.oc"
        f" FROM unnest(%s::int[], %s::bigint[], %s::bool[], %s::float8[], %s::float8[], %s::text[], %s::text[],"
        f" %s::text[], %s::bool[]) AS t(line, candidate, merged, p, w, d, ru, c, oc)"
        f" WHERE s.line = t.line AND s.valid AND s.outcome IS NULL",
        [best["id_r"].astype("int64").tolist(), best["id_l"].astype("int64").tolist(), merged.tolist(),
         best["match_probability"].astype(float).tolist(), best["match_weight"].astype(float).tolist(),
         best["decision"].tolist(), best["rule"].fillna("").tolist(), comparisons, conflict.tolist()],
    )
