"""Hostile files (issue 10, findings 6, 12 and 17): a spreadsheet that would take the
machine's memory or crash the import, and evidence that would run code or take the
memory of the officer who opens it. Each is refused with a message that says what is
wrong and leaves nothing behind.

The hostile files are built here, byte by byte where a normal writer would refuse to
make them. Time and memory on full-size files are measured by ``bench/import_limits.py``
(results in ``bench/RESULTS.md``), not asserted here.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from xml.sax.saxutils import escape

import openpyxl
import pytest
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from cases import uploads
from cases.accounts import representation_request
from cases.errors import UploadRejected
from cases.models import Case, Evidence, Material, Record, RepresentationRequest
from tests import factories
from tests.flow_helpers import submit
from tests.helpers import api_token, image_bytes, restorable_record
from tests.test_import import HEADER, company_fined, import_file, person_listed, write_csv
from workflows import actions

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
    extra = [(f"customXml/item{number}.xml", "") for number in range(10_000)]
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
    assert not [message for message in run_checks() if message.id == "cases.E002"]

    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)

    errors = [message for message in run_checks() if message.id == "cases.E002"]
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


# --- finding 12: evidence that runs code or takes the memory ----------------------------------


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    storage = Evidence._meta.get_field("file").storage
    monkeypatch.setattr(storage, "location", str(tmp_path / "evidence"))
    return tmp_path / "evidence"


@pytest.fixture
def case(company, agency, platforms, applicant):
    record = restorable_record(company, agency, platforms)
    return submit(Case.Kind.RESTORATION, company, [record], applicant)


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def one_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def action(kind: str, **entries) -> DictionaryObject:
    return DictionaryObject(
        {NameObject("/S"): NameObject(kind), **{NameObject(f"/{k}"): v for k, v in entries.items()}}
    )


def opens_with_javascript() -> bytes:
    """The tester's file: ``/OpenAction`` running JavaScript."""
    writer = one_page()
    writer._root_object[NameObject("/OpenAction")] = action(
        "/JavaScript", JS=TextStringObject("app.alert('hello')")
    )
    return written(writer)


def document_javascript() -> bytes:
    """Document-level JavaScript (the catalogue's ``/Names /JavaScript`` tree) runs on opening."""
    return written_by_hand(
        {
            **SCANNED_PAGE,
            1: b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript 4 0 R >> >>",
            4: b"<< /Names [(print) 5 0 R] >>",
            5: b"<< /S /JavaScript /JS 6 0 R >>",
            6: b"<< /Length 26 >>\nstream\nthis.print({bUI: false});\nendstream",
        }
    )


def page_launches_a_program() -> bytes:
    writer = one_page()
    writer.pages[0][NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): action("/Launch", F=TextStringObject("cmd.exe"))}
    )
    return written(writer)


def link_to_a_network_file() -> bytes:
    writer = one_page()
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
            NameObject("/A"): action("/GoToR", F=TextStringObject(r"\\attacker\share\x.pdf")),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    return written(writer)


def opens_a_web_page() -> bytes:
    writer = one_page()
    writer._root_object[NameObject("/OpenAction")] = action(
        "/URI", URI=TextStringObject("https://attacker.example/seen")
    )
    return written(writer)


def carries_an_attachment() -> bytes:
    writer = one_page()
    writer.add_attachment("invoice.exe", b"MZ\x90\x00")
    return written(writer)


def xfa_form() -> bytes:
    writer = one_page()
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject(),
            NameObject("/XFA"): writer._add_object(DecodedStreamObject()),
        }
    )
    return written(writer)


def javascript_under_an_escaped_name() -> bytes:
    """``/Java#53cript`` is ``/JavaScript`` to a PDF reader, not to a byte search."""
    return written_by_hand(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            4: b"<< /S /Java#53cript /J#53 (app.alert\\(1\\)) >>",
        }
    )


def written_by_hand(objects: dict[int, bytes]) -> bytes:
    """A PDF 1.4 with a classic cross-reference table, objects numbered 1..n."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number in sorted(objects):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def in_a_compressed_object_stream(objects: dict[int, bytes]) -> bytes:
    """A PDF 1.5 whose objects all sit in one Flate-compressed object stream, indexed by a
    cross-reference stream: no object's text appears in the file as written."""
    numbers = sorted(objects)
    body, positions = b"", []
    for number in numbers:
        positions.append(len(body))
        body += objects[number] + b"\n"
    index = b" ".join(f"{n} {p}".encode() for n, p in zip(numbers, positions, strict=True)) + b"\n"
    packed = zlib.compress(index + body)
    stream_number, xref_number = len(numbers) + 1, len(numbers) + 2
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = len(out)
    out += (
        (
            f"{stream_number} 0 obj\n<< /Type /ObjStm /N {len(numbers)} /First {len(index)} "
            f"/Filter /FlateDecode /Length {len(packed)} >>\nstream\n"
        ).encode()
        + packed
        + b"\nendstream\nendobj\n"
    )
    xref_offset = len(out)
    entries = (
        [(0, 0, 65535)]
        + [(2, stream_number, position) for position in range(len(numbers))]
        + [(1, stream_offset, 0), (1, xref_offset, 0)]
    )
    table = b"".join(struct.pack(">BIH", *entry) for entry in entries)
    out += (
        (
            f"{xref_number} 0 obj\n<< /Type /XRef /Size {xref_number + 1} /W [1 4 2] "
            f"/Root 1 0 R /Length {len(table)} >>\nstream\n"
        ).encode()
        + table
        + f"\nendstream\nendobj\nstartxref\n{xref_offset}\n%%EOF\n".encode()
    )
    return bytes(out)


SCANNED_PAGE = {
    1: b"<< /Type /Catalog /Pages 2 0 R >>",
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
}


def compressed_javascript() -> bytes:
    return in_a_compressed_object_stream(
        {
            **SCANNED_PAGE,
            1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            4: b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
        }
    )


def image_xobject_of(width: int, height: int) -> bytes:
    """A page showing one image whose header claims these dimensions (the data is tiny)."""
    return written_by_hand(
        {
            **SCANNED_PAGE,
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im0 4 0 R >> >> >>",
            4: f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            "/ColorSpace /DeviceGray /BitsPerComponent 1 /Length 0 >>\nstream\n\nendstream".encode(),
        }
    )


def encrypted(user_password: str) -> bytes:
    writer = one_page()
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    return written(writer)


def upload(case, user, content: bytes, name: str):
    return actions.evidence_add(
        case=case,
        uploaded_by=user,
        upload=ContentFile(content, name=name),
        material=Material.FULFILMENT_PROOF,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (opens_with_javascript, "pdf_javascript", "The PDF contains JavaScript"),
        (document_javascript, "pdf_javascript", "The PDF contains JavaScript"),
        (compressed_javascript, "pdf_javascript", "The PDF contains JavaScript"),
        (javascript_under_an_escaped_name, "pdf_javascript", "The PDF contains JavaScript"),
        (
            page_launches_a_program,
            "pdf_action",
            "starts a program, opens another file or sends data (Launch)",
        ),
        (
            link_to_a_network_file,
            "pdf_action",
            "starts a program, opens another file or sends data (GoToR)",
        ),
        (
            opens_a_web_page,
            "pdf_automatic_action",
            "runs an action by itself when it is opened or viewed (URI)",
        ),
        (carries_an_attachment, "pdf_embedded_file", "The PDF has files embedded in it"),
        (xfa_form, "pdf_xfa", "The PDF is an XFA form"),
        (
            lambda: image_xobject_of(30_000, 30_000),
            "image_too_large",
            "The PDF holds an image of 30000 × 30000 pixels; an image may have at most "
            "100 million pixels.",
        ),
        (
            lambda: b"%PDF-1.7\n" + bytes(range(256)) * 40,
            "pdf_unreadable",
            "The file is not a readable PDF (it may be damaged or incomplete).",
        ),
        (
            lambda: encrypted(user_password="secret"),
            "pdf_encrypted",
            "The PDF is protected by a password. Upload a copy without one.",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_a_pdf_with_active_content_or_that_cannot_be_read_is_refused_and_leaves_nothing(
    case, applicant, evidence_store, make, code, words
):
    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, make(), "receipt.pdf")

    assert refused.value.code == code
    assert words in refused.value.message
    assert not Evidence.objects.exists()
    assert stored_files(evidence_store) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make",
    [
        lambda: in_a_compressed_object_stream(SCANNED_PAGE),
        lambda: written_by_hand(SCANNED_PAGE),
        lambda: image_xobject_of(4_960, 7_016),  # A4 at 600 dpi
        lambda: encrypted(user_password=""),  # "protected": opens without a password
        lambda: scanner_pdf(),
        lambda: with_page_links(),
    ],
    ids=["object-stream", "classic", "a4-600dpi", "owner-password", "scanner", "links"],
)
def test_what_a_scanner_or_an_office_program_writes_is_still_accepted(case, applicant, make):
    item = upload(case, applicant, make(), "scan.pdf")

    assert item.content_type == "application/pdf"


def scanner_pdf() -> bytes:
    """What a scanner writes: one image per page (Pillow writes PDFs the same way), and an
    ``/OpenAction`` that opens the first page fitted to the window."""
    buffer = io.BytesIO()
    pages = [Image.new("L", (1240, 1754), 255), Image.new("L", (1240, 1754), 200)]
    pages[0].save(buffer, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    writer = PdfWriter(clone_from=io.BytesIO(buffer.getvalue()))
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [writer.pages[0].indirect_reference, NameObject("/Fit")]
    )
    return written(writer)


def with_page_links() -> bytes:
    """A web link and a link to another page, clicked by the reader, are not active content."""
    writer = one_page()
    writer.add_blank_page(width=595, height=842)
    writer.add_uri(0, "https://www.gsxt.gov.cn/", [50, 50, 200, 70])
    writer.add_annotation(
        0,
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (50, 80, 200, 100)]),
                NameObject("/A"): action(
                    "/GoTo", D=ArrayObject([writer.pages[1].indirect_reference, NameObject("/Fit")])
                ),
            }
        ),
    )
    return written(writer)


def png_header_of(width: int, height: int) -> bytes:
    """A PNG whose header claims these dimensions, with one tiny IDAT: a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg_header_of(width: int, height: int) -> bytes:
    content = bytearray(image_bytes("JPEG", size=(8, 8)))
    frame = content.index(b"\xff\xc0")
    struct.pack_into(">HH", content, frame + 5, height, width)
    return bytes(content)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            png_header_of(30_000, 30_000),  # the tester's file
            "The image has more than 100 million pixels, the most an image may have.",
        ),
        (
            png_header_of(12_000, 9_000),
            "The image is 12000 × 9000 pixels; an image may have at most 100 million pixels.",
        ),
        (
            jpeg_header_of(15_000, 10_000),
            "The image is 15000 × 10000 pixels; an image may have at most 100 million pixels.",
        ),
    ],
    ids=["png-30000", "png-12000x9000", "jpeg-15000x10000"],
)
def test_an_image_over_the_pixel_limit_is_refused_from_its_header_alone(
    case, applicant, evidence_store, content, words
):
    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, content, "photo.png")

    assert refused.value.code == "image_too_large"
    assert refused.value.message.startswith(words)
    assert not Evidence.objects.exists()
    assert stored_files(evidence_store) == []


@pytest.mark.django_db
def test_the_pixel_limit_is_a_setting_and_a_photo_under_it_is_accepted(case, applicant, settings):
    settings.REDRESS_UPLOAD_MAX_IMAGE_PIXELS = 50_000_000

    accepted = upload(case, applicant, png_header_of(8_160, 6_120), "phone.png")  # 49.9 MP
    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, jpeg_header_of(8_200, 6_150), "phone.jpg")  # 50.4 MP

    assert accepted.content_type == "image/png"
    assert refused.value.message.startswith(
        "The image is 8200 × 6150 pixels; an image may have at most 50 million pixels."
    )


@pytest.mark.django_db
def test_a_truncated_png_is_refused_as_unreadable(case, applicant):
    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, png_header_of(100, 100)[:20], "photo.png")

    assert refused.value.code == "image_unreadable"


# --- the other ways in: the proof of representation, the portal, the API ------------------------


@pytest.mark.django_db
def test_the_proof_of_representation_is_checked_like_evidence(company, record_for_link):
    person = factories.UserFactory(username="li-ming")

    with pytest.raises(UploadRejected) as refused:
        representation_request(
            user=person,
            code=company.code,
            kind="legal",
            upload=SimpleUploadedFile("authorisation.pdf", opens_with_javascript()),
        )

    assert refused.value.code == "pdf_javascript"
    assert not RepresentationRequest.objects.exists()


@pytest.fixture
def record_for_link(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.mark.django_db
def test_the_portal_shows_the_refusal_in_chinese(client, case, applicant):
    client.force_login(applicant)
    client.post(reverse("portal:language"), {"language": "zh-hans", "next": "/portal/"})

    response = client.post(
        reverse("portal:evidence_upload", args=[case.pk]),
        {
            "material": Material.OTHER,
            "record": "",
            "files": [SimpleUploadedFile("receipt.pdf", opens_with_javascript())],
        },
        follow=True,
    )

    page = response.content.decode()
    assert "该 PDF 含有 JavaScript" in page
    assert "The PDF contains JavaScript" not in page
    assert not Evidence.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_the_upload_with_the_code_and_the_field(case, applicant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(applicant)}")

    response = client.post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {
            "material": Material.FULFILMENT_PROOF,
            "file": SimpleUploadedFile("big.png", png_header_of(30_000, 30_000)),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"
    assert response.json()["field"] == "file"
    assert not Evidence.objects.exists()


@pytest.mark.django_db
# Django's image field opens the seal to validate it; Pillow warns past its own limit.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_agency_seal_over_the_pixel_limit_is_refused_in_the_admin(admin_client, agency):
    response = admin_client.post(
        reverse("admin:cases_agency_change", args=[agency.pk]),
        {
            "code": agency.code,
            "name": agency.name,
            "region_code": agency.region_code,
            "is_active": "on",
            "seal": SimpleUploadedFile("seal.png", png_header_of(12_000, 9_000)),
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert "The image is 12000 × 9000 pixels" in response.content.decode()
    agency.refresh_from_db()
    assert not agency.seal


@pytest.mark.django_db
def test_a_pdf_of_more_objects_than_the_limit_is_refused_before_all_are_read(
    case, applicant, monkeypatch
):
    """A 20 MB file of tiny objects would hold the request for a minute; the walk stops."""
    monkeypatch.setattr(uploads, "PDF_MAX_OBJECTS", 3, raising=False)
    four_objects = written_by_hand(
        {**SCANNED_PAGE, 2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>", 4: SCANNED_PAGE[3]}
    )

    with pytest.raises(UploadRejected) as refused:
        upload(case, applicant, four_objects, "report.pdf")

    assert refused.value.code == "pdf_too_complex"
    assert refused.value.message.startswith("The PDF is made of more than 3 objects")
    assert upload(case, applicant, written_by_hand(SCANNED_PAGE), "scan.pdf").pk
