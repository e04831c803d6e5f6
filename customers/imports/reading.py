"""Reading an import file as a stream: CSV in UTF-8 (with or without BOM), GB18030 or CP1250, comma,
semicolon or tab separated; or the first sheet of an XLSX workbook. Never the whole file in memory:
records come out in chunks, and a file that cannot be read is refused with a sentence saying why.

A well-formed UTF-8 CSV file (every line as wide as the header, no lone carriage return) is read
by Arrow's CSV reader, in C++, straight into columns; any other file by Python's csv module line by
line, which names the line of each problem (a file found not to qualify part-way goes on through
Python from the first line Arrow had not handed out). Both give the same records with the same line
numbers (a property test compares them).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from pyarrow import compute as pc
from pyarrow import csv as pa_csv

from crm_bank.bulk import TEXT
from customers.imports.schema import REQUIRED_COLUMNS

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
CHUNK_ROWS = 30_000
# Enough text to tell the encodings apart and to hold the header line.
_SAMPLE_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER_SPACES = re.compile(r"[\s\-]+")
_XLSX_MAGIC = b"PK\x03\x04"

Record = tuple[int, list[str]]  # (line in the file, header = 1; the cells as text)
LINE = "__line"
_ARROW_BLOCK_BYTES = 4 << 20
# A cell Python's str.strip() empties: the characters str.isspace() accepts, as an RE2 class.
_BLANK = r"^[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*$"


class FileRefused(Exception):
    """The file as a whole cannot be imported; the message says why, in the uploader's language."""


def max_bytes() -> int:
    return int(getattr(settings, "CRM_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass
class ImportFile:
    """An opened file: how it was read, its header, and its data records in chunks."""

    encoding: str
    delimiter: str
    columns: list[str]
    # The records through Python's csv module (from the first data line on each call).
    _python: Callable[[], Iterator[Record]] = field(repr=False)
    # Arrow's record batches of the whole file (the fast path), while the file qualifies for it.
    _batches: Callable[[], Iterator[pa.RecordBatch]] | None = field(repr=False, default=None)

    @property
    def read_by_arrow(self) -> bool:
        return self._batches is not None

    def python_reader(self) -> None:
        """From now on the records come from Python's csv module."""
        self._batches = None

    def frames(self, size: int | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """The records in chunks of `size` (CHUNK_ROWS) as (frame, widths): the frame has the line
        number (LINE) and one text column per header name; widths is each line's number of values.
        When Arrow gives up part-way (a line of another width, bad UTF-8), the records go on through
        Python's csv module from the first line Arrow had not handed out: each record comes once,
        and Python names the bad line."""
        size = size or CHUNK_ROWS
        handed_through = 1  # the header
        if self._batches is not None:
            try:
                for frame, widths in _arrow_frames(self._batches(), self.columns, size):
                    handed_through = int(frame[LINE].iloc[-1])
                    yield frame, widths
                return
            except pa.ArrowInvalid:
                self.python_reader()
        for chunk in self._chunks(size, after=handed_through):
            yield chunk_frame(chunk, self.columns)

    def _chunks(self, size: int, *, after: int) -> Iterator[list[Record]]:
        chunk: list[Record] = []
        for record in self._python():
            if record[0] <= after:
                continue
            chunk.append(record)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def chunk_frame(records: list[Record], columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The chunk's cells as a DataFrame of text (one column per header name; Arrow-backed strings,
    so the rules' string tests run in Arrow's compute kernels, not a Python call per cell) and each
    line's number of values, for the lines whose width differs from the header's."""
    width = len(columns)
    widths = np.fromiter((len(cells) for _, cells in records), dtype=np.int64, count=len(records))
    rows = [cells if len(cells) == width else (cells + [""] * width)[:width] for _, cells in records]
    frame = pd.DataFrame(rows, columns=columns, dtype=TEXT)
    frame.insert(0, LINE, np.fromiter((line for line, _ in records), dtype=np.int64, count=len(records)))
    return frame, widths


@contextmanager
def import_file_open(path: Path, *, file_name: str = "") -> Iterator[ImportFile]:
    """1. Size: an empty file or one over CRM_IMPORT_MAX_BYTES is refused before a byte is read.
    2. XLSX (by its zip signature or the name): the first sheet through openpyxl in read-only mode.
    3. CSV: the encoding from the first megabyte, the delimiter and the header from the first line;
       a later line that does not decode stops the reading with FileRefused."""
    size = path.stat().st_size
    if size == 0:
        raise FileRefused(_("The file is empty."))
    if size > max_bytes():
        raise FileRefused(_("The file is %(size)s; files up to %(limit)s can be imported. Split it into parts.")
                          % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes())})
    with path.open("rb") as raw:
        head = raw.read(len(_XLSX_MAGIC))
        raw.seek(0)
        if head == _XLSX_MAGIC or file_name.lower().endswith(".xlsx"):
            yield _xlsx_open(raw)
        else:
            yield _csv_open(raw, path)


# CSV

def _csv_open(raw: BinaryIO, path: Path) -> ImportFile:
    sample = raw.read(_SAMPLE_BYTES)
    at_end = len(sample) < _SAMPLE_BYTES
    raw.seek(0)
    encoding = encoding_detect(sample, complete=at_end)
    first_line = codecs.getincrementaldecoder(encoding)().decode(sample, final=at_end).split("\n", 1)[0]
    if "\r" in first_line.rstrip("\r"):
        raise FileRefused(_("The lines of this file end with a carriage return alone (an old Mac format): save it "
                            "as CSV UTF-8 and upload it again."))
    delimiter = delimiter_detect(first_line)

    def header_read() -> tuple[csv.Reader, list[str]]:
        raw.seek(0)
        reader = csv.reader(_decoded_lines(raw, encoding), delimiter=delimiter, strict=False)
        try:
            return reader, next(reader)
        except StopIteration:
            raise FileRefused(_("The file is empty.")) from None

    reader, header = header_read()
    columns = header_check(header)
    batches = None
    if encoding.startswith("utf-8") and reader.line_num == 1 and len(columns) > 1:
        batches = _arrow_batches(path, encoding=encoding, delimiter=delimiter, width=len(columns))
    return ImportFile(encoding=encoding, delimiter=delimiter, columns=columns,
                      _python=lambda: _csv_records(header_read()[0]), _batches=batches)


def _arrow_batches(path: Path, *, encoding: str, delimiter: str,
                   width: int) -> Callable[[], Iterator[pa.RecordBatch]] | None:
    """Arrow's reader of the file's data lines, memory-mapped and read in blocks (the file is never
    in memory as a whole); None when the file has a lone carriage return (Python's csv refuses it,
    Arrow would read it as a line end). A line of another width than the header's, or one that is
    not UTF-8, raises ArrowInvalid when Arrow reaches it (ImportFile.frames goes on in Python); a
    blank line is a row of empty cells."""
    if _has_lone_carriage_return(path):
        return None
    names = [f"c{index}" for index in range(width)]
    text = pa.large_string()

    def batches() -> Iterator[pa.RecordBatch]:
        body = pa.memory_map(str(path)).read_buffer()
        if encoding == "utf-8-sig":
            body = body.slice(len(codecs.BOM_UTF8))
        yield from pa_csv.open_csv(
            pa.BufferReader(body),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False,
                                            block_size=_ARROW_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, text), strings_can_be_null=False,
                                                  quoted_strings_can_be_null=False))

    return batches


def _has_lone_carriage_return(path: Path) -> bool:
    with path.open("rb") as raw:
        carry = b""
        while block := raw.read(_ARROW_BLOCK_BYTES):
            block = carry + block
            # A carriage return that ends the block may be the first half of CR LF.
            body, carry = (block[:-1], b"\r") if block.endswith(b"\r") else (block, b"")
            if body.count(b"\r") != body.count(b"\r\n"):
                return True
    return carry == b"\r"


def _arrow_frames(batches: Iterator[pa.RecordBatch], columns: list[str],
                  size: int) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Arrow's batches regrouped into frames of `size` records, numbered as Python's csv numbers
    them: a record starts on the line after the previous one ends (line feeds inside quoted values
    count); records whose every cell is blank are dropped, their lines counted. Each frame's
    columns are contiguous Arrow arrays (the rules run fastest on one chunk)."""
    next_line, pending, held = 2, [], 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        feeds = np.zeros(batch.num_rows, dtype=np.int64)
        blank = np.ones(batch.num_rows, dtype=bool)
        for column in batch.columns:
            feeds += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
            blank &= pc.match_substring_regex(column, _BLANK).to_numpy(zero_copy_only=False)
        lines = next_line + np.concatenate(([0], np.cumsum(1 + feeds)[:-1]))
        next_line = int(lines[-1] + 1 + feeds[-1])
        numbered = pa.RecordBatch.from_arrays([pa.array(lines), *batch.columns], names=[LINE, *columns])
        if blank.any():
            numbered = numbered.filter(pa.array(~blank))
        pending.append(numbered)
        held += numbered.num_rows
        if held >= size:
            table = pa.Table.from_batches(pending).combine_chunks()
            start = 0
            while held - start >= size:
                yield _arrow_frame(table.slice(start, size), columns)
                start += size
            pending, held = [table.slice(start).combine_chunks().to_batches()[0]] if held > start else [], held - start
    if held:
        yield _arrow_frame(pa.Table.from_batches(pending).combine_chunks(), columns)


def _arrow_frame(table: pa.Table, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({LINE: table.column(LINE).to_numpy(),
                          **{name: pd.Series(pd.array(table.column(name).combine_chunks(), dtype=TEXT))
                             for name in columns}})
    return frame, np.full(len(frame), len(columns), dtype=np.int64)


def _decoded_lines(raw: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's lines decoded one by one, so a line that does not decode is named exactly (no
    byte of a UTF-8, GB18030 or CP1250 character is a line feed, so splitting bytes is safe)."""
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode(encoding if number == 1 else encoding.removesuffix("-sig"))
        except UnicodeDecodeError:
            raise FileRefused(
                _("Line %(line)s cannot be read as %(encoding)s: save the whole file as UTF-8 and upload it again.")
                % {"line": number, "encoding": encoding_label(encoding)}
            ) from None


def _csv_records(reader: csv.Reader) -> Iterator[Record]:
    line_read = reader.line_num
    try:
        for cells in reader:
            start, line_read = line_read + 1, reader.line_num
            if any(cell.strip() for cell in cells):  # blank lines are no records
                yield start, cells
    except csv.Error as error:
        raise FileRefused(_("Line %(line)s is not valid CSV: %(error)s") % {"line": line_read + 1, "error": error}
                          ) from None


def encoding_label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GB18030", "cp1250": "Windows-1250"}.get(
        encoding, encoding)


def encoding_detect(sample: bytes, *, complete: bool) -> str:
    """UTF-8 (a BOM says so; else it must decode), then GB18030 if the text reads as common Chinese
    characters, then CP1250 if it reads as Central European letters; anything else is refused.

    GB18030 decodes almost any byte string, Czech CP1250 text included (an accented letter and the
    ASCII letter after it make a valid pair), so "it decodes" is not enough: real Chinese text is
    nearly all in the GB2312 repertoire, and a Czech file read as GB18030 is not."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    refused = FileRefused(_("The file's encoding is not UTF-8, GB18030 or Windows-1250 (or it is not a text file): "
                            "save it as UTF-8 CSV and upload it again."))
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise refused
    if _decodes(sample, "utf-8", complete=complete) is not None:
        return "utf-8"
    chinese = _decodes(sample, "gb18030", complete=complete)
    if chinese is not None and _share(chinese, _is_common_chinese) >= 0.9:
        return "gb18030"
    latin = _decodes(sample, "cp1250", complete=complete)
    if latin is not None and _share(latin, _is_latin_letter) >= 0.8:
        return "cp1250"
    raise refused


def _decodes(sample: bytes, encoding: str, *, complete: bool) -> str | None:
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


def _share(text: str, test: callable) -> float:
    foreign = [char for char in text if ord(char) > 127]
    return sum(1 for char in foreign if test(char)) / len(foreign) if foreign else 1.0


def _is_common_chinese(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _is_latin_letter(char: str) -> bool:
    return char.isalpha() and "\u00c0" <= char <= "\u024f"


def delimiter_detect(first_line: str) -> str:
    """The delimiter of comma, semicolon and tab that splits the header into the most columns,
    preferring one that yields source_key; a header none of them splits is refused."""
    candidates = [
        (set(REQUIRED_COLUMNS) <= set(names), len(names), delimiter)
        for delimiter in _DELIMITERS for names in [_header_of(first_line, delimiter)]
    ]
    _has_required, best_columns, best = max(candidates, key=lambda candidate: candidate[:2])
    if best_columns <= 1 and header_name(first_line) not in REQUIRED_COLUMNS:
        raise FileRefused(_("The columns cannot be told apart: separate them with a comma, a semicolon or a tab "
                            "(the header reads “%(header)s”).") % {"header": first_line.strip()[:80]})
    return best


def _header_of(first_line: str, delimiter: str) -> list[str]:
    return [header_name(name) for name in next(csv.reader([first_line], delimiter=delimiter), [])]


def header_name(name: str) -> str:
    return _HEADER_SPACES.sub("_", name.replace("\ufeff", "").strip().lower())


def header_check(header: list[str]) -> list[str]:
    """The header's column names, normalised (`Source Key` → `source_key`); refused when a required
    column is missing or a name repeats. Unknown columns are kept (they travel in the payload)."""
    columns = [header_name(name) or f"column_{index}" for index, name in enumerate(header, start=1)]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise FileRefused(_("The header has no column %(columns)s (the first line must name the columns).")
                          % {"columns": ", ".join(missing)})
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise FileRefused(_("The header names a column twice: %(columns)s.") % {"columns": ", ".join(repeated)})
    return columns


# XLSX

def _xlsx_open(raw: BinaryIO) -> ImportFile:
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula cell reads as its text ("=SUM(A1:A3)"); nothing is evaluated.
        workbook = load_workbook(raw, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRefused(_("The file is not a readable XLSX workbook (%(error)s).") % {"error": error}) from None
    sheet = workbook.worksheets[0]
    # The sheet's own <dimension> may be stale (written by another program): read-only openpyxl
    # trusts it and silently cut rows and columns off. Read to where the cells really end.
    sheet.reset_dimensions()
    rows = _xlsx_rows(enumerate(sheet.iter_rows(values_only=True), start=1))
    for _line, values in rows:
        header = [_cell_text(value) for value in values]
        if any(header):
            columns = header_check(header)
            break
    else:
        raise FileRefused(_("The file is empty."))
    return ImportFile(encoding="xlsx", delimiter="", columns=columns, _python=lambda: _xlsx_records(rows))


def _xlsx_rows(rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    """The sheet's rows; a sheet whose XML breaks off half-way is refused like any unreadable file."""
    try:
        yield from rows
    # XML that breaks off is a SyntaxError (xml.etree's and lxml's ParseError both derive from it).
    except (SyntaxError, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRefused(_("The file is not a readable XLSX workbook (%(error)s).") % {"error": error}) from None


def _xlsx_records(rows: Iterator[tuple[int, tuple]]) -> Iterator[Record]:
    for line, values in rows:
        cells = [_cell_text(value) for value in values]
        if any(cell.strip() for cell in cells):
            yield line, cells


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
