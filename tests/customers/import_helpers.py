"""Shared by the import tests: valid national IDs, files written in a given encoding, a batch run
through the services."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from stdnum.cn import ric

from customers.imports.schema import COLUMN_NAMES
from customers.imports.services import import_batch_commit, import_batch_upload, source_system_ensure
from customers.models import ImportBatch


def cn_ric(birth: str, seq: int, region: str = "110105") -> str:
    """A valid PRC resident ID for a YYYYMMDD birth date."""
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def cz_rc(birth: str, seq: int) -> str:
    """A valid 10-digit Czech birth number for a YYMMDD birth date (after 1954)."""
    body = f"{birth}{seq:03d}"
    return body + str(int(body) % 11 % 10)


def csv_text(rows: list[dict], *, columns: tuple[str, ...] | list[str] = COLUMN_NAMES, delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_file(path: Path, rows: list[dict], *, encoding: str = "utf-8", **options) -> Path:
    path.write_bytes(csv_text(rows, **options).encode(encoding))
    return path


def batch_import(path: Path, *, source: str = "crm_web", actor=None) -> ImportBatch:
    """Upload and commit in-process, as the command does; the batch as it ends."""
    system, _created = source_system_ensure(code=source, actor=actor)
    with path.open("rb") as handle:
        batch = import_batch_upload(source=system, file=handle, file_name=path.name, actor=actor)
    if batch.status != ImportBatch.Status.REFUSED:
        import_batch_commit(batch=batch, actor=actor, sync=True)
    batch.refresh_from_db()
    return batch


LI_WEI = {"source_key": "k1", "given_name": "伟", "family_name": "李", "national_id": cn_ric("19850312", 123),
          "national_id_type": "CN_RIC", "birth_date": "1985-03-12", "phone": "+86 138 0013 8000",
          "email": "li.wei@example.cn", "city": "北京", "country": "CN", "branch_code": "A01"}
JIRI = {"source_key": "k2", "given_name": "Jiří", "family_name": "Dvořák", "national_id": cz_rc("710319", 274),
        "national_id_type": "CZ_RC", "birth_date": "1971-03-19", "phone": "601 123 456", "country": "CZ",
        "address_line1": "Vodičkova 12", "address_line2": "byt 3", "postcode": "110 00", "branch_code": "A01",
        "marketing_consent": "ano"}
