"""Reading import files: encodings, delimiters, header, size, empty files, XLSX."""

from __future__ import annotations

import openpyxl
import pytest

from customers.imports.reading import FileRefused, import_file_open
from tests.customers.import_helpers import JIRI, LI_WEI, write_file


def _read(path):
    with import_file_open(path, file_name=path.name) as opened:
        return opened, [record for chunk in opened.chunks(size=2) for record in chunk]


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
