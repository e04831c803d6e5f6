"""Files staff download: CSV and XLSX of a table, with every text cell that a spreadsheet would run
as a formula neutralised (CSV injection), numbers kept as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse

# A formula's first character, in ASCII and in the full-width forms an input method types (a
# spreadsheet reads "＝1+1" as a formula too), and the control characters that start one in a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
CONTROL_STARTS = ("\t", "\r", "\n")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralised(value: str) -> str:
    """A text cell for a spreadsheet: text starting like a formula (=, +, -, @, their full-width
    forms, or a tab, CR or line feed), spaces before it or not, gets a leading apostrophe, so opening
    the file never runs what somebody typed or a source sent."""
    if value[:1] in CONTROL_STARTS or value.lstrip()[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    return neutralised(str(value))


def spreadsheet_row(row: Sequence[object]) -> list[object]:
    """A row for a CSV or XLSX file: text neutralised, numbers kept, None as an empty cell."""
    return [_cell(value) for value in row]


def csv_response(rows: Iterable[Sequence[object]], *, filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(spreadsheet_row(row))
    response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(rows: Iterable[Sequence[object]], *, filename: str, title: str = "Sheet") -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for row in rows:
        sheet.append(spreadsheet_row(row))
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
