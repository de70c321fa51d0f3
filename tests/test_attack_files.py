"""Hostile files (issue 10, findings 6, 12 and 17): a spreadsheet that would take the
machine's memory or crash the import, and evidence that would run code or take the
memory of the officer who opens it. Each is refused with a message that says what is
wrong and leaves nothing behind.

The hostile files are built here, byte by byte where a normal writer would refuse to
make them. Time and memory on full-size files are measured by ``bench/import_limits.py``
(results in ``bench/RESULTS.md``), not asserted here.
"""

from __future__ import annotations

import struct
import tracemalloc
import zipfile
from xml.sax.saxutils import escape

import openpyxl
import pytest
from django.core.checks import run_checks

from cases import imports
from cases.models import Record
from tests.test_import import HEADER, company_fined, import_file, person_listed, write_csv

NOT_A_WORKBOOK = "The file is not a valid XLSX workbook: "


# --- workbooks written by hand --------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{prolog}'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Records{entity}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>'
)
BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>\n"
)
EXTERNAL_ENTITY = '<!DOCTYPE r [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>\n'
HARMLESS_ENTITY = '<!DOCTYPE r [<!ENTITY agency "SZAMR">]>\n'


def inline(reference: str, value: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def record_row(number: int, row: dict) -> str:
    cells = "".join(
        inline(f"{chr(ord('A') + position)}{number}", str(row[column]))
        for position, column in enumerate(HEADER)
    )
    return f'<row r="{number}">{cells}</row>'


HEADER_ROW = (
    '<row r="1">'
    + "".join(
        inline(f"{chr(ord('A') + position)}1", column) for position, column in enumerate(HEADER)
    )
    + "</row>"
)


def sheet(rows: str, *, prolog: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        + prolog
        + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + f"<sheetData>{rows}</sheetData></worksheet>"
    )


def write_workbook(path, sheet_xml: str, *, workbook_xml: str | None = None, extra=()):
    """An .xlsx as a ZIP of hand-written parts: what any program (or attacker) can write."""
    workbook_xml = workbook_xml or WORKBOOK.format(prolog="", entity="")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", workbook_xml)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, content in extra:
            archive.writestr(name, content)
    return path


def one_good_record() -> str:
    return HEADER_ROW + record_row(2, company_fined())


def imported_nothing() -> bool:
    return not Record.objects.exists()


# --- finding 6: a workbook that takes the memory --------------------------------------------


@pytest.mark.django_db
def test_a_value_in_column_xfd_on_200000_rows_is_refused_at_row_2_in_little_memory(
    agency, tmp_path
):
    far_right = "".join(
        f'<row r="{number}">{inline(f"XFD{number}", "x")}</row>' for number in range(2, 200_002)
    )
    path = write_workbook(tmp_path / "xfd.xlsx", sheet(HEADER_ROW + far_right))
    assert path.stat().st_size < 1_500_000  # the tester's 1 MB workbook

    tracemalloc.start()
    try:
        outcome = import_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert outcome.failure == (
        f"{path}: row 2, column XFD: holds a value, but an import reads only columns A to Z "
        "(REDRESS_IMPORT_MAX_COLUMNS). The records take the first 8 columns; delete "
        "everything to the right of them."
    )
    assert peak < 20 * 1_048_576  # Python allocations; it was 3.9 GB before MemoryError
    assert imported_nothing()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_file_with_more_rows_than_the_limit_is_refused_naming_the_limit(
    agency, tmp_path, settings, kind
):
    settings.REDRESS_IMPORT_MAX_ROWS = 3
    rows = [company_fined(decision_no=f"深市监罚〔2025〕{number}号") for number in range(1, 5)]
    if kind == "csv":
        path = write_csv(tmp_path / "long.csv", rows)
    else:
        body = "".join(record_row(number, row) for number, row in enumerate(rows, start=2))
        path = write_workbook(tmp_path / "long.xlsx", sheet(HEADER_ROW + body))

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: row 5: the sheet goes on past row 4, and one import takes at most 3 "
        "records (REDRESS_IMPORT_MAX_ROWS). Split the records into several files, or "
        "delete the rows below them (a blank row that carries formatting counts as a row)."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_sheet_of_a_million_empty_rows_is_refused_at_the_row_limit(agency, tmp_path):
    path = write_workbook(
        tmp_path / "rows.xlsx",
        sheet(one_good_record() + '<row ht="20" customHeight="1"/>' * 1_000_000),
    )

    outcome = import_file(path)

    assert outcome.failure.startswith(f"{path}: row 100002: the sheet goes on past row 100,001")
    assert imported_nothing()


@pytest.mark.django_db
def test_a_row_of_millions_of_empty_cells_is_refused_before_it_is_in_memory(agency, tmp_path):
    huge_row = '<row r="3">' + '<c r="A3"/>' * 2_000_000 + "</row>"
    path = write_workbook(tmp_path / "wide.xlsx", sheet(one_good_record() + huge_row))

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: {NOT_A_WORKBOOK}a row of its first sheet takes more than 1.0 MB, where a "
        "row of records takes a few kilobytes."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_on_its_declared_size_naming_the_limit(agency, tmp_path, settings):
    settings.REDRESS_IMPORT_MAX_BYTES = 1_048_576
    padding = " " * 3_000_000  # whitespace between rows is valid XML, and packs to 3 KB
    path = write_workbook(tmp_path / "bomb.xlsx", sheet(one_good_record() + padding))

    outcome = import_file(path)

    assert outcome.failure.startswith(
        f"{path}: The workbook unpacks to 2.9 MB (xl/worksheets/sheet1.xml alone to 2.9 MB from "
    )
    assert outcome.failure.endswith(
        "one import reads at most 1.0 MB (REDRESS_IMPORT_MAX_BYTES). "
        "Split the records into several files."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_styles_part_that_unpacks_to_megabytes_is_refused_before_it_is_parsed(agency, tmp_path):
    styles = (
        '<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><cellXfs>' + "<xf/>" * 4_000_000 + "</cellXfs></styleSheet>"
    )
    path = write_workbook(
        tmp_path / "styles.xlsx", sheet(one_good_record()), extra=[("xl/styles.xml", styles)]
    )

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: {NOT_A_WORKBOOK}its part xl/styles.xml unpacks to 19.1 MB, where it takes "
        "a few kilobytes (at most 16.0 MB is read)."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_workbook_of_thousands_of_parts_is_refused_before_its_directory_is_read(agency, tmp_path):
    extra = [(f"customXml/item{number}.xml", "") for number in range(imports.XLSX_MAX_PARTS)]
    path = write_workbook(tmp_path / "parts.xlsx", sheet(one_good_record()), extra=extra)

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: {NOT_A_WORKBOOK}it has 10,005 parts, where a workbook has a few dozen "
        "(at most 10,000 are read)."
    )


@pytest.mark.django_db
def test_formatting_far_right_and_far_down_is_not_data_and_the_records_import(agency, tmp_path):
    """Empty styled cells and rows (what a whole-row format leaves) are not values."""
    styled = '<row r="3" s="1" customFormat="1"><c r="XFD3" s="1"/></row>'
    path = write_workbook(tmp_path / "formatted.xlsx", sheet(one_good_record() + styled))

    outcome = import_file(path)

    assert outcome.failure is None
    assert outcome.printed == "Imported 1 record (1 new, 0 unchanged); 1 new subject."


# --- finding 17: a malformed or hostile workbook ----------------------------------------------


def not_a_zip(path):
    path.write_bytes(",".join(HEADER).encode() + b"\n")  # a CSV saved as .xlsx
    return path


def a_zip_of_something_else(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return path


def damaged_sheet_xml(path):
    return write_workbook(path, sheet(HEADER_ROW + '<row r="2"><c r="A2"><v>1</c></row>'))


def laughs_in_the_sheet(path):
    rows = HEADER_ROW + f'<row r="2">{inline("A2", "&lol9;")}</row>'
    return write_workbook(path, sheet(rows, prolog=BILLION_LAUGHS))


def laughs_in_the_workbook_part(path):
    workbook_xml = WORKBOOK.format(prolog=BILLION_LAUGHS, entity="&lol9;")
    return write_workbook(path, sheet(one_good_record()), workbook_xml=workbook_xml)


def external_entity_in_the_sheet(path):
    rows = HEADER_ROW + f'<row r="2">{inline("A2", "&passwd;")}</row>'
    return write_workbook(path, sheet(rows, prolog=EXTERNAL_ENTITY))


def harmless_entity(path):
    """Expat would expand this one; only defusedxml refuses every entity declaration."""
    rows = HEADER_ROW + record_row(2, company_fined(subject_name="&agency;"))
    return write_workbook(
        path, sheet(rows.replace("&amp;agency;", "&agency;"), prolog=HARMLESS_ENTITY)
    )


def damaged_compressed_data(path):
    write_workbook(path, sheet(one_good_record() + " " * 50_000))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo("xl/worksheets/sheet1.xml")
    name_and_extra = struct.unpack_from("<HH", data, entry.header_offset + 26)
    start = entry.header_offset + 30 + sum(name_and_extra)
    for offset in range(start + 20, start + entry.compress_size - 20):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            not_a_zip,
            "it is not a ZIP archive, which every .xlsx file is (an old .xls workbook or a "
            "CSV renamed .xlsx? Save it as .xlsx).",
        ),
        (
            a_zip_of_something_else,
            "a part it needs is missing (There is no item named '[Content_Types].xml' "
            "in the archive).",
        ),
        (damaged_sheet_xml, "its XML is malformed (mismatched tag: line 2, column "),
        (laughs_in_the_sheet, "its XML declares entities, which no workbook does"),
        (laughs_in_the_workbook_part, "its XML declares entities, which no workbook does"),
        (external_entity_in_the_sheet, "its XML declares entities, which no workbook does"),
        (harmless_entity, "its XML declares entities, which no workbook does"),
        (damaged_compressed_data, "its compressed data is damaged ("),
    ],
    ids=lambda value: getattr(value, "__name__", "reason"),
)
def test_a_malformed_or_hostile_workbook_is_named_as_such_and_imports_nothing(
    agency, tmp_path, make, reason
):
    path = make(tmp_path / "records.xlsx")

    outcome = import_file(path)

    assert outcome.failure is not None
    assert outcome.failure.startswith(f"{path}: {NOT_A_WORKBOOK}{reason}")
    assert imported_nothing()


def test_openpyxl_parses_workbooks_with_defusedxml_and_the_system_check_says_so(monkeypatch):
    assert openpyxl.DEFUSEDXML is True
    assert not [message for message in run_checks() if message.id == "cases.E001"]

    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)

    errors = [message for message in run_checks() if message.id == "cases.E001"]
    assert len(errors) == 1
    assert "defusedxml" in errors[0].msg


# --- the same for CSV -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_utf16_unicode_text_file_saved_as_csv_is_refused_for_its_nul_bytes(agency, tmp_path):
    path = write_csv(tmp_path / "unicode.csv", [company_fined()], encoding="utf-16-le")

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: The file contains NUL bytes, so it is not a CSV text file (it may be "
        "UTF-16 'Unicode text' or a workbook renamed .csv); save it as 'CSV UTF-8'."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_nul_byte_inside_a_value_refuses_the_file_rather_than_reaching_the_database(
    agency, tmp_path
):
    path = write_csv(
        tmp_path / "nul.csv", [company_fined(), person_listed(subject_name="李\x00四")]
    )

    outcome = import_file(path)

    assert outcome.failure.startswith(f"{path}: The file contains NUL bytes")
    assert imported_nothing()


@pytest.mark.django_db
def test_a_line_of_a_hundred_thousand_commas_is_refused_as_no_table(agency, tmp_path):
    path = write_csv(tmp_path / "commas.csv", [company_fined()])
    path.write_bytes(path.read_bytes() + b"," * 100_000 + b"\n")

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: Line 3 of the file is longer than 65,536 characters, which no row of "
        "records is; this is not a CSV table of records."
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_csv_value_beyond_the_last_column_read_is_refused_naming_its_column(agency, tmp_path):
    path = write_csv(tmp_path / "wide.csv", [company_fined()])
    path.write_bytes(path.read_bytes() + b"," * 29 + b"note\n")

    outcome = import_file(path)

    assert outcome.failure.startswith(
        f"{path}: row 3, column AD: holds a value, but an import reads only columns A to Z"
    )
    assert imported_nothing()


@pytest.mark.django_db
def test_a_file_larger_than_the_byte_limit_is_refused_before_it_is_read(agency, tmp_path, settings):
    settings.REDRESS_IMPORT_MAX_BYTES = 2048
    rows = [company_fined(decision_no=f"深市监罚〔2025〕{n}号") for n in range(1, 40)]
    path = write_csv(tmp_path / "big.csv", rows)

    outcome = import_file(path)

    assert outcome.failure == (
        f"{path}: The file is {path.stat().st_size / 1024:,.1f} KB; one import reads at "
        "most 2.0 KB (REDRESS_IMPORT_MAX_BYTES). Split the records into several files."
    )
    assert imported_nothing()
