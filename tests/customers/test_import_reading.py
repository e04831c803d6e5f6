"""Reading import files: encodings, delimiters, header, size, empty files, XLSX."""

from __future__ import annotations

import re

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.imports import reading
from customers.imports.reading import LINE, FileRefused, import_file_open
from tests.customers.import_helpers import JIRI, LI_WEI, write_file


def _records(opened, size):
    """ImportFile.frames as (line, cells) records, each line's cells as the frame holds them (the
    header's width)."""
    return [record for frame, _widths in opened.frames(size)
            for record in zip(frame[LINE].tolist(), frame[opened.columns].to_numpy(dtype=object).tolist(), strict=True)]


def _read(path):
    with import_file_open(path, file_name=path.name) as opened:
        return opened, _records(opened, 2)


@pytest.mark.parametrize(("encoding", "expected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                                     ("gb18030", "gb18030")])
def test_reading_chinese_names_in_each_encoding(tmp_path, encoding, expected):
    opened, records = _read(write_file(tmp_path / "a.csv", [LI_WEI, {**LI_WEI, "source_key": "k9",
                                                                     "family_name": "欧阳"}], encoding=encoding))
    assert opened.encoding == expected
    assert opened.columns[0] == "source_key"
    given = opened.columns.index("given_name")
    assert [(line, cells[given]) for line, cells in records] == [(2, "伟"), (3, "伟")]


def test_reading_cp1250_czech_file(tmp_path):
    opened, records = _read(write_file(tmp_path / "cz.csv", [JIRI, {**JIRI, "family_name": "Šťastný"}],
                                       encoding="cp1250", delimiter=";"))
    assert (opened.encoding, opened.delimiter) == ("cp1250", ";")
    family = opened.columns.index("family_name")
    assert [cells[family] for _line, cells in records] == ["Dvořák", "Šťastný"]


def test_reading_tab_delimited_with_extra_column_and_blank_lines(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("Source Key\tgiven_name\tloyalty_id\n\nk1\tAnna\tL-9\n\n", encoding="utf-8")
    opened, records = _read(path)
    assert opened.delimiter == "\t"
    assert opened.columns == ["source_key", "given_name", "loyalty_id"]
    assert records == [(3, ["k1", "Anna", "L-9"])]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"source_key,given_name\n", None),  # header only: refused later, when no line is staged
    (b"given_name,family_name\nAnna,Novak\n", "no column source_key"),
    (b"source_key|given_name\nk1|Anna\n", "cannot be told apart"),
    (b"source_key,source_key\nk1,k2\n", "names a column twice"),
    (b"source_key,given_name\rk1,Anna\r", "end with a carriage return alone"),
    (b"source_key,given_name\nk1,An\rna\n", "Line 2 is not valid CSV"),
    ("source_key,given_name\nk1,Anna\n".encode("utf-16"), "encoding is not UTF-8"),
    (b"source_key,given_name\nk1," + bytes(range(0x80, 0xA0)) + b"\n", "encoding is not UTF-8"),
])
def test_reading_bad_files_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    if message is None:
        assert _read(path)[1] == []
        return
    with pytest.raises(FileRefused, match=message):
        _read(path)


def test_reading_a_line_that_does_not_decode_after_the_sample_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("customers.imports.reading._SAMPLE_BYTES", 64)
    path = tmp_path / "late.csv"
    path.write_bytes(("source_key,given_name\n" + "k1,Anna\n" * 20).encode() + b"k2,\xff\xfe\n")
    with pytest.raises(FileRefused, match="Line 22 cannot be read as UTF-8"):
        _read(path)


def test_reading_too_large_file_is_refused(tmp_path, settings):
    settings.CRM_IMPORT_MAX_BYTES = 100
    path = write_file(tmp_path / "big.csv", [LI_WEI, JIRI])
    with pytest.raises(FileRefused, match="files up to 100"):
        _read(path)


def test_reading_xlsx_keeps_formulas_as_text(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["source_key", "given_name", "birth_date", "note"])
    sheet.append(["k1", "伟", "1985-03-12", "=1+1"])
    sheet.append([42, "Jiří", None, "@SUM(A1)"])
    workbook.save(tmp_path / "a.xlsx")
    opened, records = _read(tmp_path / "a.xlsx")
    assert opened.encoding == "xlsx"
    assert records == [(2, ["k1", "伟", "1985-03-12", "=1+1"]), (3, ["42", "Jiří", "", "@SUM(A1)"])]


def _xlsx_rewritten(path, rewrite) -> None:
    """Rewrites the first sheet's XML inside the workbook at `path`."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = rewrite(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)


def test_reading_xlsx_reads_past_a_stale_dimension(tmp_path):
    """Another program wrote <dimension ref="A1:B2"> over cells in A1:C4: read-only openpyxl trusted
    it and dropped a column and two rows without a word."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["source_key", "given_name", "phone"])
    for key in ("k1", "k2", "k3"):
        sheet.append([key, "Jana", "+420601000111"])
    workbook.save(tmp_path / "stale.xlsx")
    _xlsx_rewritten(tmp_path / "stale.xlsx",
                    lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:B2"', xml))

    opened, records = _read(tmp_path / "stale.xlsx")

    assert "phone" in opened.columns
    assert [line for line, _cells in records] == [2, 3, 4] and records[-1][1][:3] == ["k3", "Jana", "+420601000111"]


def test_reading_xlsx_whose_sheet_breaks_off_is_refused(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["source_key", "given_name"])
    for n in range(50):
        sheet.append([f"k{n}", "Jana"])
    workbook.save(tmp_path / "cut.xlsx")
    _xlsx_rewritten(tmp_path / "cut.xlsx", lambda xml: xml[: len(xml) * 2 // 3])

    with pytest.raises(FileRefused, match="not a readable XLSX workbook"):
        _read(tmp_path / "cut.xlsx")


def _read_in_python(path, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(reading, "_arrow_batches", lambda *args, **kwargs: None)
        return _read(path)


def test_a_well_formed_utf8_file_is_read_by_arrow_and_gives_what_python_gives(tmp_path, monkeypatch):
    path = tmp_path / "w.csv"
    path.write_bytes("\ufeffsource_key,given_name,note\r\nk1,Anna,\"two\r\nlines, \"\"quoted\"\"\"\r\n"
                     " , ,\r\n\r\nk2,伟,\r\n".encode())
    opened, records = _read(path)
    assert opened.read_by_arrow  # the fast path
    assert records == [(2, ["k1", "Anna", 'two\r\nlines, "quoted"']), (6, ["k2", "伟", ""])]
    assert _read_in_python(path, monkeypatch)[1] == records


@pytest.mark.parametrize("content", [
    b"source_key,given_name\nk1,Anna,extra\nk2,Ben\n",  # a wider line
    b"source_key,given_name\nk1,An\rna\nk2,Ben\n",  # a carriage return alone
])
def test_a_file_arrow_cannot_number_exactly_is_read_by_python(tmp_path, monkeypatch, content):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    try:
        expected = _read_in_python(path, monkeypatch)[1]
    except FileRefused as refused:
        expected = str(refused)
    with import_file_open(path) as opened:
        try:
            found = _records(opened, 1)
        except FileRefused as refused:
            found = str(refused)
        assert found == expected
        assert not opened.read_by_arrow


_PIECES = ["a", "b", "中", "é", " ", ",", '"', '""', "\n", "\r\n", "\r", "\t", ";", 'x,"q",', ',"a""b",', '"c"d']


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.lists(st.sampled_from(_PIECES), max_size=40), size=st.sampled_from([1, 2, 7]))
def test_arrow_and_python_read_any_file_alike(tmp_path, monkeypatch, body, size):
    """Whatever quotes, separators and line ends a file holds, the two readers give the same records
    with the same line numbers (or the file goes to Python, which refuses what it cannot read)."""
    path = tmp_path / "any.csv"
    path.write_bytes(("source_key,given_name,note\n" + "".join(body)).encode())
    try:
        expected = _read_in_python(path, monkeypatch)[1]
    except FileRefused:
        expected = "refused"
    try:
        with import_file_open(path) as opened:
            found = _records(opened, size)
    except FileRefused:
        found = "refused"
    assert found == expected
