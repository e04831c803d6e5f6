"""`python manage.py import_interactions FILE --system CODE [--errors FILE]`.

For channel systems that only export files: a CSV whose columns are the API's fields (customer,
channel, kind, direction, occurred_at, summary, source_id; optional outcome, campaign, staff,
product, category, severity). Each line is checked and stored like an API item, with the same
idempotency: a file imported twice stores nothing the second time. Good lines are stored even when
others are rejected; every rejected line is reported with its number, column and reason.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.models import ChannelSystem
from channels.services.ingest import (
    BATCH_MAX,
    ITEM_FIELDS,
    REQUIRED_FIELDS,
    IngestReport,
    Status,
    interactions_ingest,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.exports import spreadsheet_row

Rejection = tuple[int, str, str, str]  # line, column, source_id, reason


class Command(BaseCommand):
    help = "Imports a CSV of a channel system's interactions, with the API's checks and idempotency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file (UTF-8, a header line with the API's field names)")
        parser.add_argument("--system", required=True, help="code of the channel system the file comes from")
        parser.add_argument("--errors", dest="errors_file", help="also write the rejected lines to this CSV file")

    def handle(self, *args, file: str, system: str, errors_file: str | None, **options) -> None:
        channel_system = ChannelSystem.objects.filter(code=system).first()
        if channel_system is None:
            raise CommandError(f"No channel system {system!r}: register it with create_channel_token {system}.")
        if not channel_system.is_active:
            raise CommandError(f"Channel system {system!r} is inactive: activate it in admin first.")
        path = Path(file)
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                counts, rejections = self._import(handle, system=channel_system, name=path.name)
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        for line, column, source_id, reason in rejections:
            where = f"line {line}" + (f", column {column}" if column else "")
            self.stdout.write(f"{where}" + (f" (source_id {source_id})" if source_id else "") + f": {reason}")
        if errors_file:
            self._errors_write(Path(errors_file), rejections)
        summary = ", ".join(f"{count:,} {status}" for status, count in counts.items())
        self.stdout.write(f"{path.name}: {summary}.")
        if rejections:
            lines = len({rejection[0] for rejection in rejections})
            raise CommandError(f"{lines:,} line(s) rejected; the other lines are stored.")

    def _import(self, handle: TextIO, *, system: ChannelSystem, name: str) -> tuple[dict[str, int], list[Rejection]]:
        reader = csv.DictReader(handle)
        header = [column.strip() for column in reader.fieldnames or []]
        missing = [column for column in REQUIRED_FIELDS if column not in header]
        unknown = [column for column in header if column not in ITEM_FIELDS]
        if missing or unknown:
            problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
                [f"unknown column(s): {', '.join(unknown)}"] if unknown else [])
            raise CommandError(f"{name}: {'; '.join(problems)}. Nothing was imported.")
        reader.fieldnames = header
        counts = dict.fromkeys(Status.ALL, 0)
        rejections: list[Rejection] = []
        chunk: list[tuple[int, dict]] = []
        line = reader.line_num + 1
        for row in reader:
            if None in row:
                rejections.append((line, "", (row.get("source_id") or "").strip(), "More cells than columns."))
                counts[Status.ERROR] += 1
            else:
                chunk.append((line, {column: value for column, value in row.items() if value not in ("", None)}))
            line = reader.line_num + 1
            if len(chunk) == BATCH_MAX:
                self._chunk_import(chunk, system=system, name=name, counts=counts, rejections=rejections)
                chunk = []
        if chunk:
            self._chunk_import(chunk, system=system, name=name, counts=counts, rejections=rejections)
        rejections.sort()
        return counts, rejections

    def _chunk_import(
        self, chunk: list[tuple[int, dict]], *, system: ChannelSystem, name: str, counts: dict[str, int],
        rejections: list[Rejection],
    ) -> None:
        """One transaction and one audit row per chunk of lines."""
        report: IngestReport = interactions_ingest(
            system=system, items=[row for _, row in chunk], action=AuditEvent.Action.IMPORT,
            audit_detail={"file": name, "first_line": chunk[0][0], "last_line": chunk[-1][0]},
        )
        for (line, _row), result in zip(chunk, report.results, strict=True):
            counts[result.status] += 1
            for column, reason in result.errors.items():
                rejections.append((line, column if column in ITEM_FIELDS else "", result.source_id, reason))

    def _errors_write(self, path: Path, rejections: list[Rejection]) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "column", "source_id", "reason"])
            # The source ids and reasons come from the file: neutralised, it opens safely in a spreadsheet.
            writer.writerows(spreadsheet_row(rejection) for rejection in rejections)
        self.stdout.write(f"Rejected lines written to {path}.")
