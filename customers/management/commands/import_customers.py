"""import_customers FILE --source CODE [--dry-run] [--errors OUT.csv]: a source system's CSV or XLSX
file into customers, from the command line (the same services as the import page)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.imports.services import (
    error_file_write,
    import_batch_commit,
    import_batch_errors_export,
    import_batch_preview,
    import_batch_upload,
    source_system_ensure,
)
from customers.models import ImportBatch, ImportRow


class Command(BaseCommand):
    help = ("Imports customers from a CSV or XLSX file of one source system. Exits with 1 when lines were "
            "rejected, 2 when the file was refused.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="The source system's code (a new one is registered).")
        parser.add_argument("--dry-run", action="store_true", help="Check and count, change nothing.")
        parser.add_argument("--errors", type=Path, help="Write the rejected lines (line, column, reason) here.")

    def handle(self, *args, file: Path, source: str, dry_run: bool, errors: Path | None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file", returncode=2)
        try:
            system, created = source_system_ensure(code=source, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=2) from None
        if created:
            self.stdout.write(f"Registered the new source system {system.code} with the default trust "
                              f"({system.DEFAULT_TRUST} for every field group); set its name and trust in admin.")
        with file.open("rb") as handle:
            batch = import_batch_upload(source=system, file=handle, file_name=file.name, actor=None)
        if dry_run:
            batch = self._preview(batch, errors)
            counts = batch.preview_counts.get("outcomes", {})
        else:
            batch = self._commit(batch, errors)
            counts = batch.counts
        self.stdout.write(f"Batch #{batch.pk}: {batch.line_count} lines"
                          + (" (dry run, nothing changed)" if dry_run else ""))
        for outcome, label in ImportRow.Outcome.choices:
            if outcome != ImportRow.Outcome.PENDING:
                self.stdout.write(f"  {outcome:<10} {counts.get(outcome, 0):>9}  {label}")
        if counts.get(ImportRow.Outcome.REJECTED):
            raise CommandError(f"{counts[ImportRow.Outcome.REJECTED]} lines were rejected"
                               + (f"; see {errors}" if errors else "; --errors FILE lists them"), returncode=1)

    def _preview(self, batch: ImportBatch, errors: Path | None) -> ImportBatch:
        if batch.status == ImportBatch.Status.REFUSED:
            raise CommandError(f"The file was refused: {batch.refusal}", returncode=2)
        if errors is None:
            batch = import_batch_preview(batch=batch, actor=None)
        else:
            with errors.open("w", encoding="utf-8", newline="") as out:
                batch = import_batch_preview(batch=batch, actor=None, rejected_sink=lambda rows: error_file_write(
                    out, rows))
        if batch.status == ImportBatch.Status.REFUSED:
            raise CommandError(f"The file was refused: {batch.refusal}", returncode=2)
        return batch

    def _commit(self, batch: ImportBatch, errors: Path | None) -> ImportBatch:
        if batch.status == ImportBatch.Status.REFUSED:
            raise CommandError(f"The file was refused: {batch.refusal}", returncode=2)
        try:
            run = import_batch_commit(batch=batch, actor=None, sync=True)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=2) from None
        batch.refresh_from_db()
        if batch.status != ImportBatch.Status.COMMITTED:
            raise CommandError(f"The import failed: {run.error}", returncode=2)
        if errors is not None:
            with errors.open("w", encoding="utf-8", newline="") as out:
                out.writelines(import_batch_errors_export(batch=batch, actor=None))
        return batch
