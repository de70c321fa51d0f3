"""Bulk import of an agency's records from a spreadsheet (CSV or XLSX).

The format is described for the operator in ``docs/import-format.md``. Three layers,
each usable on its own:

``parse_rows(path)``
    The file's data rows as ``(row number, {column: raw value})``, numbered as a
    spreadsheet shows them (the header is row 1), read as a stream within
    ``ImportLimits`` (rows, columns, bytes). Problems with the file as a whole
    (unreadable, not a workbook, past a limit, wrong header) raise
    ``ImportFileInvalid``. Touches no database.
``clean_row(...)`` and ``validate(rows, agency=...)``
    Every row checked, every error collected as a ``RowError``: ``clean_row`` checks the
    cells of one row and is pure; ``validate`` adds the checks that need the database
    (list types, rule sets, records already imported, duplicates within the file) with
    a fixed number of queries however long the file is.
``import_records(path, agency=..., partial=..., dry_run=...)``
    Writes the good rows in one transaction and returns an ``ImportReport``.

Re-importing a file changes nothing: a record is keyed on (agency, decision number,
subject), and a row whose key is already imported either matches that record
(``unchanged``) or is an error, because a record is corrected through an objection,
never by overwriting it from a spreadsheet.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from openpyxl.utils import get_column_letter

from cases import classification
from cases.errors import InvalidIdentifier, InvalidInput, RuleViolation
from cases.identifiers import subject_code_identify
from cases.models import (
    REVOCATION_DECISION_LIST,
    Agency,
    ListType,
    Measure,
    PenaltyType,
    Platform,
    Procedure,
    Publication,
    Record,
    RuleSet,
    Severity,
    Subject,
)
from cases.publications import default_measures, default_platforms
from cases.rules import rule_set_in_force

COLUMNS = (
    "list_type",
    "subject_code",
    "subject_name",
    "decision_no",
    "legal_basis",
    "severity",
    "listed_on",
    "penalty_type",
)
"""The header a file must have: these names, in any order, in any case."""

OPTIONAL_COLUMNS = ("penalty_types", "fine_amount", "procedure", "term_ends_on", "decided_on")
"""Columns a file may add (what classification and the periods need, Order 36 Arts. 7–12);
a file without them imports as before."""

# Columns compared with a record already imported; the others identify it (agency,
# decision_no, subject_code) or belong to the subject (subject_name).
COMPARED_COLUMNS = ("list_type", "legal_basis", "severity", "listed_on", "penalty_type")

PLACEMENT_COLUMNS = ("platforms", "measures")
"""Columns a file may add saying where a new record is published and shared, and which
punishment measures it carries (codes separated by ``;``); empty: the agency's defaults
for the list type and the catalogue's default measures (decision 0024). Not compared
with a record already imported: the admin action gives those their publications."""
COMPARED_OPTIONAL_COLUMNS = OPTIONAL_COLUMNS  # compared only when the file has them

LOOKUP_CHUNK = 500
"""Codes per ``IN (...)`` query when looking up what is already in the database."""

EXTRA_VALUES = "_extra_values"
"""Key under which ``parse_rows`` passes values found to the right of the last column."""

_MAX_LENGTH = {
    "subject_name": Subject._meta.get_field("name").max_length,
    "decision_no": Record._meta.get_field("decision_no").max_length,
    "legal_basis": Record._meta.get_field("legal_basis").max_length,
}
_SEVERITIES = frozenset(Severity.values)
_PROCEDURES = frozenset(Procedure.values)
_PENALTY_TYPES = frozenset(PenaltyType.values)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ImportFileInvalid(InvalidInput):
    """The file as a whole cannot be imported: unreadable, or its header is wrong."""

    code = "import_file_invalid"


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell, for the person who fixes the spreadsheet.

    ``row`` is the row number a spreadsheet shows (the header is row 1); ``column`` is
    a column name from ``COLUMNS``, or None when the problem is the row as a whole.
    """

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column is None:
            return gettext("row %(row)s: %(message)s") % {"row": self.row, "message": self.message}
        return gettext("row %(row)s, column %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass(frozen=True)
class RowValues:
    """One row whose cells are each valid, as the values a record is made of."""

    row: int
    list_type: str
    subject_code: str
    subject_kind: str
    subject_name: str
    decision_no: str
    legal_basis: str
    severity: str
    listed_on: datetime.date
    penalty_type: str
    # The optional columns: None when the file does not have the column (or the cell is
    # empty); penalty_types then defaults to [penalty_type].
    penalty_types: tuple[str, ...] | None = None
    fine_amount: Decimal | None = None
    procedure: str | None = None
    term_ends_on: datetime.date | None = None
    decided_on: datetime.date | None = None
    # Where the record is published and which measures it carries (PLACEMENT_COLUMNS):
    # None where the cell is empty (the defaults apply).
    platforms: tuple[str, ...] | None = None
    measures: tuple[str, ...] | None = None
    restorable_from: datetime.date | None = None
    expires_on: datetime.date | None = None

    @property
    def all_penalty_types(self) -> list[str]:
        return list(self.penalty_types or (self.penalty_type,))

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the record within an agency: (decision number, subject code)."""
        return (self.decision_no, self.subject_code)


@dataclass
class Validation:
    """The outcome of ``validate``: good rows split into new and already imported."""

    list_types: dict[str, ListType]
    new: list[RowValues] = field(default_factory=list)
    unchanged: list[RowValues] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do), and every row error."""

    created: int = 0
    unchanged: int = 0
    subjects_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    partial: bool = False
    dry_run: bool = False

    @property
    def rows_with_errors(self) -> int:
        return len({error.row for error in self.errors})

    @property
    def rejected(self) -> bool:
        """True when errors stopped the whole file (no ``--partial``): nothing was imported."""
        return bool(self.errors) and not self.partial

    @property
    def summary(self) -> str:
        """The closing line of the command's output."""
        if self.rejected:
            return ngettext(
                "%(count)s row has errors; nothing was imported (use --partial to import "
                "the good rows)",
                "%(count)s rows have errors; nothing was imported (use --partial to import "
                "the good rows)",
                self.rows_with_errors,
            ) % {"count": self.rows_with_errors}
        records = ngettext("%(count)s record", "%(count)s records", self.created + self.unchanged)
        subjects = ngettext(
            "%(count)s new subject", "%(count)s new subjects", self.subjects_created
        ) % {"count": self.subjects_created}
        counts = gettext("%(records)s (%(new)s new, %(unchanged)s unchanged); %(subjects)s.") % {
            "records": records % {"count": self.created + self.unchanged},
            "new": self.created,
            "unchanged": self.unchanged,
            "subjects": subjects,
        }
        skipped = ngettext("%(count)s row", "%(count)s rows", self.rows_with_errors) % {
            "count": self.rows_with_errors
        }
        if self.dry_run:
            text = gettext("Dry run: would import %(counts)s") % {"counts": counts}
            if self.errors:
                text += " " + gettext("Would skip %(rows)s with errors.") % {"rows": skipped}
            return text + " " + gettext("Nothing was written.")
        text = gettext("Imported %(counts)s") % {"counts": counts}
        if self.errors:
            text += " " + gettext("Skipped %(rows)s with errors.") % {"rows": skipped}
        return text


# --- reading the file ---------------------------------------------------------------


@dataclass(frozen=True)
class ImportLimits:
    """How much of a file one import reads; past a limit the whole file is refused.

    The settings (README, "Configuration") are ``REDRESS_IMPORT_MAX_ROWS``,
    ``REDRESS_IMPORT_MAX_COLUMNS`` and ``REDRESS_IMPORT_MAX_BYTES``. They keep a hostile
    or broken file from taking the machine's memory or an hour of its time: the file is
    read as a stream, a row at a time, and refused as soon as it goes past one of them.
    """

    max_rows: int
    """Record rows (rows 2 to ``max_rows + 1``); a row element below that refuses the file."""
    max_columns: int
    """Columns read (A to this one); a value further right refuses the file."""
    max_bytes: int
    """A CSV's size; an XLSX file's size, and its parts' total size once unpacked."""

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            max_rows=settings.REDRESS_IMPORT_MAX_ROWS,
            max_columns=settings.REDRESS_IMPORT_MAX_COLUMNS,
            max_bytes=settings.REDRESS_IMPORT_MAX_BYTES,
        )


CSV_MAX_LINE_CHARS = 65_536
"""Longest line of a CSV file. A record is a few hundred characters (the longest
allowed values add up to about 1,000); a longer line is not a table of records, and
reading it whole would let one line take the memory."""

XLSX_MAX_PARTS = 10_000
"""Most parts (ZIP entries) in a workbook. Excel writes a few dozen; the limit is checked
from the ZIP's end record before ``zipfile`` reads its whole directory into memory
(about 1 KB per entry)."""

XLSX_MAX_ROW_BYTES = 1_048_576
"""Most sheet XML one row may take. openpyxl gathers a row's cells in a list before it
hands the row over, so a row of millions of empty cells would take the memory before any
column check could see it; a real row is a few kilobytes."""

XLSX_MAX_TREE_PART_BYTES = 16 * 1_048_576
"""Largest part openpyxl parses whole into a tree (content types, relationships, the
workbook part, styles): a tree takes some twenty times its XML in memory, and these
parts take kilobytes. The sheet and the shared strings are streamed instead."""

_READ_CHUNK = 1 << 20


def parse_rows(
    path: str | Path, *, limits: ImportLimits | None = None
) -> Iterator[tuple[int, dict[str, object]]]:
    """The data rows of a CSV or XLSX file, as ``(row number, {column: raw value})``.

    Row numbers are what a spreadsheet shows: the header is row 1. Blank rows are
    skipped. Values are as read: text from a CSV; text, numbers, dates or None from
    an XLSX. Values to the right of the last column, if any, are under
    ``EXTRA_VALUES``. ``limits`` defaults to the settings' (``ImportLimits``).

    The file is streamed: it is opened and its header checked before this returns,
    the rows are read as they are asked for. ``ImportFileInvalid`` says what is wrong
    with the file as a whole, whether found before this returns (unreadable, not a
    workbook, too large, wrong header) or while the rows are read (a row past
    ``max_rows``, a value right of ``max_columns``, damaged data further on).
    """
    limits = limits or ImportLimits.from_settings()
    table = _read_table(Path(path), limits)
    first = next(table, None)
    if first is None:
        raise ImportFileInvalid(
            gettext("The file is empty; its first row must be the header: %(columns)s.")
            % {"columns": ", ".join(COLUMNS)}
        )
    number, header = first
    if number != 1:
        raise ImportFileInvalid(
            gettext("Row 1 is empty; it must be the header: %(columns)s.")
            % {"columns": ", ".join(COLUMNS)}
        )
    columns = _header_columns(header)
    return _data_rows(table, columns)


def _read_table(path: Path, limits: ImportLimits) -> Iterator[tuple[int, list[object]]]:
    """The file's rows as ``(row number, cells)``, row 1 first; rows may be skipped."""
    if not path.is_file():
        raise ImportFileInvalid(gettext("There is no such file."))
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ImportFileInvalid(
            gettext(
                "Only .csv and .xlsx files can be imported, not '%(suffix)s' (save an old "
                ".xls workbook as .xlsx)."
            )
            % {"suffix": path.suffix or path.name}
        )
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImportFileInvalid(
            gettext(
                "The file is %(size)s; one import reads at most %(limit)s "
                "(REDRESS_IMPORT_MAX_BYTES). Split the records into several files."
            )
            % {"size": _megabytes(size), "limit": _megabytes(limits.max_bytes)}
        )
    if suffix == ".csv":
        return _csv_table(path, limits)
    return _xlsx_table(path, limits)


def _megabytes(size: int) -> str:
    if size < 1_048_576:
        return f"{size / 1024:,.1f} KB"
    return f"{size / 1_048_576:,.1f} MB"


def _beyond_last_column(number: int, column: int, limits: ImportLimits) -> ImportFileInvalid:
    last = get_column_letter(limits.max_columns)
    return ImportFileInvalid(
        gettext(
            "row %(row)s, column %(column)s: holds a value, but an import reads only columns "
            "A to %(last)s (REDRESS_IMPORT_MAX_COLUMNS). The records take the first "
            "%(count)s columns; delete everything to the right of them."
        )
        % {
            "row": number,
            "column": get_column_letter(column),
            "last": last,
            "count": len(COLUMNS),
        }
    )


def _beyond_last_row(number: int, limits: ImportLimits) -> ImportFileInvalid:
    return ImportFileInvalid(
        gettext(
            "row %(row)s: the sheet goes on past row %(last)s, and one import takes at most "
            "%(max)s records (REDRESS_IMPORT_MAX_ROWS). Split the records into several "
            "files, or delete the rows below them (a blank row that carries formatting "
            "counts as a row)."
        )
        % {"row": number, "last": f"{limits.max_rows + 1:,}", "max": f"{limits.max_rows:,}"}
    )


# CSV


def _csv_table(path: Path, limits: ImportLimits) -> Iterator[tuple[int, list[object]]]:
    encoding = _csv_encoding(path)
    return _csv_rows(path, encoding, limits)


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030, decided over the whole file, in chunks."""
    # WPS and Excel on a Chinese system save "CSV" in the ANSI code page, GBK, of which
    # GB18030 is the superset.
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for chunk in _file_chunks(path):
                if b"\x00" in chunk:
                    # No text CSV holds a NUL byte (PostgreSQL could not store one
                    # either): this is UTF-16 "Unicode text" or a binary file.
                    raise ImportFileInvalid(
                        gettext(
                            "The file contains NUL bytes, so it is not a CSV text file (it "
                            "may be UTF-16 'Unicode text' or a workbook renamed .csv); save "
                            "it as 'CSV UTF-8'."
                        )
                    )
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileInvalid(
        gettext("The file is neither UTF-8 nor GB18030 text; save it as 'CSV UTF-8'.")
    )


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            yield chunk


def _csv_rows(path: Path, encoding: str, limits: ImportLimits) -> Iterator[tuple[int, list]]:
    with path.open(encoding=encoding, newline="") as handle:
        try:
            for number, cells in enumerate(csv.reader(_csv_lines(handle)), start=1):
                if number == 1 and cells:
                    cells[0] = cells[0].removeprefix("\ufeff")  # GB18030 encodes a BOM too
                if number > limits.max_rows + 1 and any(cell.strip() for cell in cells):
                    raise _beyond_last_row(number, limits)
                if len(cells) > limits.max_columns:
                    far = [i for i, cell in enumerate(cells) if cell.strip()]
                    if far and far[-1] >= limits.max_columns:
                        raise _beyond_last_column(number, far[-1] + 1, limits)
                    del cells[limits.max_columns :]
                yield number, cells
        except csv.Error as exc:
            raise ImportFileInvalid(
                gettext("The file is not readable as CSV: %(error)s.") % {"error": exc}
            ) from None


def _csv_lines(handle: io.TextIOBase) -> Iterator[str]:
    number = 0
    while line := handle.readline(CSV_MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > CSV_MAX_LINE_CHARS:
            raise ImportFileInvalid(
                gettext(
                    "Line %(line)s of the file is longer than %(max)s characters, which no "
                    "row of records is; this is not a CSV table of records."
                )
                % {"line": number, "max": f"{CSV_MAX_LINE_CHARS:,}"}
            )
        yield line


# XLSX


class _RowTooLarge(Exception):
    """Raised from inside the XML parser's read: one row of the sheet is too large."""


class _MeteredSource(io.RawIOBase):
    """The sheet's XML as the parser reads it, counting the bytes since the last row.

    ``openpyxl`` collects a whole row before handing it over; reading is the only
    place a huge row can be stopped before it is in memory.
    """

    def __init__(self, source):
        self.source = source
        self.since_row = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.since_row += len(data)
        if self.since_row > XLSX_MAX_ROW_BYTES:
            raise _RowTooLarge
        return data


def _xlsx_table(path: Path, limits: ImportLimits) -> Iterator[tuple[int, list[object]]]:
    """The first worksheet's rows, read with openpyxl's own readers, one step at a time.

    ``load_workbook(read_only=True)`` would size every sheet on opening it, which for a
    sheet without a ``<dimension>`` element means parsing the whole sheet (and keeping
    an element per row) before the first row is read: 16 s and 525 MB for a 45 KB file
    of empty rows. The steps below are ``ExcelReader.read``'s, less the sheets.
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    _xlsx_package_check(path, limits)
    try:
        reader = ExcelReader(str(path), read_only=True, data_only=True)
    except _XLSX_DAMAGE as exc:
        raise _not_a_workbook(exc) from None
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheet_path = next(
            (
                rel.target
                for _sheet, rel in reader.parser.find_sheets()
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type
            ),
            None,
        )
    except _XLSX_DAMAGE as exc:
        reader.archive.close()
        raise _not_a_workbook(exc) from None
    if sheet_path is None:
        reader.archive.close()
        raise ImportFileInvalid(gettext("The file is not a valid XLSX workbook: it has no sheet."))
    return _xlsx_rows(reader, sheet_path, limits)


def _xlsx_package_check(path: Path, limits: ImportLimits) -> None:
    """Refuse what is no workbook, or unpacks to more than ``max_bytes``, before reading it.

    ``zipfile`` never returns more than an entry's declared size (a longer stream fails
    its CRC check), so the declared sizes bound what reading can unpack: a ZIP bomb is
    refused here on its directory alone.
    """
    with path.open("rb") as handle:
        parts = _zip_entry_count(handle)
    if parts is None:
        raise ImportFileInvalid(
            gettext(
                "The file is not a valid XLSX workbook: it is not a ZIP archive, which every "
                ".xlsx file is (an old .xls workbook or a CSV renamed .xlsx? Save it as "
                ".xlsx)."
            )
        )
    if parts > XLSX_MAX_PARTS:
        raise ImportFileInvalid(
            gettext(
                "The file is not a valid XLSX workbook: it has %(parts)s parts, where a "
                "workbook has a few dozen (at most %(max)s are read)."
            )
            % {"parts": f"{parts:,}", "max": f"{XLSX_MAX_PARTS:,}"}
        )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_a_workbook(exc) from None
    for entry in entries:
        if _parsed_whole(entry.filename) and entry.file_size > XLSX_MAX_TREE_PART_BYTES:
            raise ImportFileInvalid(
                gettext(
                    "The file is not a valid XLSX workbook: its part %(part)s unpacks to "
                    "%(size)s, where it takes a few kilobytes (at most %(max)s is read)."
                )
                % {
                    "part": entry.filename,
                    "size": _megabytes(entry.file_size),
                    "max": _megabytes(XLSX_MAX_TREE_PART_BYTES),
                }
            )
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.max_bytes:
        largest = max(entries, key=lambda entry: entry.file_size)
        raise ImportFileInvalid(
            gettext(
                "The workbook unpacks to %(size)s (%(part)s alone to %(part_size)s from "
                "%(packed)s); one import reads at most %(limit)s (REDRESS_IMPORT_MAX_BYTES). "
                "Split the records into several files."
            )
            % {
                "size": _megabytes(unpacked),
                "part": largest.filename,
                "part_size": _megabytes(largest.file_size),
                "packed": _megabytes(largest.compress_size),
                "limit": _megabytes(limits.max_bytes),
            }
        )


def _parsed_whole(name: str) -> bool:
    return (
        name == "[Content_Types].xml"
        or name.endswith((".rels", "/workbook.xml"))
        or name == "xl/styles.xml"
    )


def _zip_entry_count(handle) -> int | None:
    """The number of entries a ZIP's end record declares; None if there is no end record.

    Read from the last 64 KB (the end record and its comment) without ``zipfile``, which
    builds an object for every entry of the directory before anything can be counted.
    An entry count of 0xFFFF defers to a ZIP64 record: only archives far bigger than a
    workbook need one, so it counts as too many.
    """
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    entries = struct.unpack_from("<H", tail, at + 10)[0]
    return XLSX_MAX_PARTS + 1 if entries == 0xFFFF else entries


def _xlsx_rows(reader, sheet_path: str, limits: ImportLimits) -> Iterator[tuple[int, list[object]]]:
    """The first sheet's rows as the sheet numbers them, each cut to ``max_columns``.

    openpyxl's ``iter_rows`` pads every row to its last cell: one value in column XFD
    makes a row of 16,384 cells, and with ``max_col`` it silently drops what lies
    beyond. Its sheet parser gives the cells a row really has, so a value past
    ``max_columns`` is refused at its first row, not found after the whole sheet was
    read. (This is the parser ``ReadOnlyWorksheet`` uses, called the same way; the
    import tests read real workbooks through it.) ``reader`` is an ``ExcelReader``
    that has read the workbook part, the shared strings and the styles.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    workbook = reader.wb
    try:
        with reader.archive.open(sheet_path) as raw:
            source = _MeteredSource(raw)
            parser = WorkSheetParser(
                source,
                reader.shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            for number, cells in parser.parse():
                source.since_row = 0
                if number > limits.max_rows + 1:
                    raise _beyond_last_row(number, limits)
                values: list[object] = []
                for cell in cells:
                    value, column = cell["value"], cell["column"]
                    if _is_blank(value):
                        continue
                    if column > limits.max_columns:
                        raise _beyond_last_column(number, column, limits)
                    if column > len(values):
                        values.extend([None] * (column - len(values)))
                    values[column - 1] = value
                yield number, values
    except _RowTooLarge:
        raise ImportFileInvalid(
            gettext(
                "The file is not a valid XLSX workbook: a row of its first sheet takes more "
                "than %(max)s, where a row of records takes a few kilobytes."
            )
            % {"max": _megabytes(XLSX_MAX_ROW_BYTES)}
        ) from None
    except _XLSX_DAMAGE as exc:
        raise _not_a_workbook(exc) from None
    finally:
        reader.archive.close()


# What a damaged or hostile workbook raises from zipfile, zlib, the XML parser (expat's
# ParseError is a SyntaxError; defusedxml's refusals are ValueErrors) and openpyxl.
_XLSX_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OSError,
)


def _not_a_workbook(exc: BaseException) -> ImportFileInvalid:
    return ImportFileInvalid(
        gettext("The file is not a valid XLSX workbook: %(damage)s.") % {"damage": _damage(exc)}
    )


def _damage(exc: BaseException) -> str:
    """What is wrong, in words for the person who has the file."""
    while exc.__cause__ is not None:  # openpyxl wraps what went wrong in a ValueError
        exc = exc.__cause__
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from openpyxl.utils.exceptions import InvalidFileException

    if isinstance(exc, EntitiesForbidden):
        return gettext(
            "its XML declares entities, which no workbook does (it is how 'billion laughs' "
            "and external-entity attacks are built)"
        )
    if isinstance(exc, ExternalReferenceForbidden | DTDForbidden):
        return gettext("its XML refers to an outside document, which no workbook does")
    if isinstance(exc, SyntaxError):  # expat's ParseError
        return gettext("its XML is malformed (%(error)s)") % {"error": exc}
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return gettext("its compressed data is damaged (%(error)s)") % {"error": exc}
    if isinstance(exc, KeyError):
        return gettext("a part it needs is missing (%(part)s)") % {
            "part": exc.args[0] if exc.args else exc
        }
    if isinstance(exc, InvalidFileException):
        return gettext("it cannot be read (%(error)s)") % {"error": exc}
    return gettext("it cannot be read (%(error)s)") % {"error": f"{exc.__class__.__name__}: {exc}"}


def _header_columns(header: list[object]) -> list[str]:
    names = [_text(cell).lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    known = set(COLUMNS) | set(OPTIONAL_COLUMNS) | set(PLACEMENT_COLUMNS)
    missing = [column for column in COLUMNS if column not in names]
    unknown = [
        name or gettext("(no name, column %(position)s)") % {"position": position}
        for position, name in enumerate(names, start=1)
        if name not in known
    ]
    repeated = sorted({name for name in names if name in known and names.count(name) > 1})
    problems = []
    if missing:
        problems.append(gettext("missing column(s): %(names)s") % {"names": ", ".join(missing)})
    if unknown:
        problems.append(gettext("unknown column(s): %(names)s") % {"names": ", ".join(unknown)})
    if repeated:
        problems.append(gettext("repeated column(s): %(names)s") % {"names": ", ".join(repeated)})
    if problems:
        raise ImportFileInvalid(
            gettext(
                "The header row has %(problems)s. It must name exactly these columns, in any "
                "order: %(columns)s; and may add: %(optional)s."
            )
            % {
                "problems": "; ".join(problems),
                "columns": ", ".join(COLUMNS),
                "optional": ", ".join((*OPTIONAL_COLUMNS, *PLACEMENT_COLUMNS)),
            }
        )
    return names


def _data_rows(
    table: Iterator[tuple[int, list[object]]], columns: list[str]
) -> Iterator[tuple[int, dict[str, object]]]:
    width = len(columns)
    for number, cells in table:
        if all(_is_blank(cell) for cell in cells):
            continue
        raw: dict[str, object] = dict.fromkeys(columns, "")
        raw.update(zip(columns, cells, strict=False))
        extra = [cell for cell in cells[width:] if not _is_blank(cell)]
        if extra:
            raw[EXTRA_VALUES] = extra
        yield number, raw


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str:
    """A cell as trimmed text; whole numbers from a spreadsheet lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


# --- checking one row ---------------------------------------------------------------


class _CellInvalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def clean_row(
    number: int,
    raw: dict[str, object],
    *,
    list_types: Collection[str],
    today: datetime.date,
    platforms: Collection[str] = (),
) -> tuple[RowValues | None, list[RowError]]:
    """Check each cell of one row; return its values, or None and every error found.

    ``list_types`` are the list type codes that exist; ``today`` bounds ``listed_on``;
    ``platforms`` are the codes of the active platforms (the ``platforms`` column).
    Choice columns (list_type, severity, penalty_type) accept any letter case.
    """
    cleaners: dict[str, Callable[[object], object]] = {
        "list_type": lambda value: _choice(value, list_types),
        "subject_code": _subject_code,
        "subject_name": lambda value: _required_text(value, "subject_name"),
        "decision_no": lambda value: _required_text(value, "decision_no"),
        "legal_basis": lambda value: _optional_text(value, "legal_basis"),
        "severity": lambda value: "" if _is_blank(value) else _choice(value, _SEVERITIES),
        "listed_on": lambda value: _listed_on(value, today=today),
        "penalty_type": lambda value: _choice(value, _PENALTY_TYPES),
    }
    optional: dict[str, Callable[[object], object]] = {
        "penalty_types": _penalty_types,
        "fine_amount": _fine_amount,
        "procedure": lambda value: _choice(value, _PROCEDURES),
        "term_ends_on": lambda value: _date(value, column="term_ends_on"),
        "decided_on": lambda value: _date(value, column="decided_on", today=today),
        "platforms": lambda value: _codes(value, platforms, what=gettext("platform")),
        "measures": lambda value: _codes(value, None, what=gettext("measure")),
    }
    cleaners.update(
        (column, cleaner)
        for column, cleaner in optional.items()
        if column in raw and not _is_blank(raw[column])
    )
    errors = []
    extra = raw.get(EXTRA_VALUES)
    if extra:
        errors.append(
            RowError(
                number,
                None,
                gettext(
                    "has %(count)s value(s) to the right of the last column (%(values)s); a "
                    "value with a comma must be in double quotes"
                )
                % {
                    "count": len(extra),
                    "values": ", ".join(repr(_text(value)) for value in extra),
                },
            )
        )
    values: dict[str, object] = {}
    for column, cleaner in cleaners.items():
        try:
            values[column] = cleaner(raw.get(column))
        except _CellInvalid as exc:
            errors.append(RowError(number, column, exc.message))
    if not errors:
        errors.extend(_row_consistency(number, values))
    if errors:
        return None, errors
    code, kind = values.pop("subject_code")
    return RowValues(row=number, subject_code=code, subject_kind=kind, **values), []


def _row_consistency(number: int, values: dict[str, object]) -> list[RowError]:
    errors = []
    types = values.get("penalty_types")
    if types and values["penalty_type"] not in types:
        errors.append(
            RowError(
                number,
                "penalty_types",
                gettext(
                    "does not include penalty_type '%(type)s'; list every penalty of the "
                    "decision, the main one among them"
                )
                % {"type": values["penalty_type"]},
            )
        )
    decided_on = values.get("decided_on")
    if decided_on and decided_on > values["listed_on"]:
        errors.append(
            RowError(
                number,
                "decided_on",
                gettext(
                    "%(decided)s is after listed_on (%(listed)s); a record is listed on or "
                    "after its decision"
                )
                % {
                    "decided": f"{decided_on:%Y-%m-%d}",
                    "listed": f"{values['listed_on']:%Y-%m-%d}",
                },
            )
        )
    if values.get("fine_amount") is not None and "fine" not in (types or [values["penalty_type"]]):
        errors.append(
            RowError(
                number, "fine_amount", gettext("is given, but no penalty of the row is a fine")
            )
        )
    return errors


def _codes(value: object, known: Collection[str] | None, *, what: str) -> tuple[str, ...]:
    """Codes separated by ``;``, each once; with ``known``, each must be one of them."""
    codes = []
    for part in _text(value).split(";"):
        code = part.strip()
        if code and code not in codes:
            codes.append(code)
    if not codes:
        raise _CellInvalid(
            gettext("names no %(what)s code; give codes separated by ';' or leave it empty")
            % {"what": what}
        )
    if known is not None:
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise _CellInvalid(
                gettext("unknown %(what)s code(s): %(codes)s; known: %(known)s")
                % {
                    "what": what,
                    "codes": ", ".join(repr(c) for c in unknown),
                    "known": ", ".join(sorted(known)) or gettext("none"),
                }
            )
    return tuple(codes)


def _penalty_types(value: object) -> tuple[str, ...]:
    """``fine; confiscation``: penalty types separated by ``;`` (or ``；``)."""
    parts = [part.strip().lower() for part in _text(value).replace("；", ";").split(";")]
    parts = [part for part in parts if part]
    unknown = [part for part in parts if part not in _PENALTY_TYPES]
    if unknown:
        raise _CellInvalid(
            gettext("%(values)s is not one of: %(allowed)s (separate several with ;)")
            % {
                "values": ", ".join(repr(u) for u in unknown),
                "allowed": ", ".join(sorted(_PENALTY_TYPES)),
            }
        )
    return tuple(dict.fromkeys(parts))


def _fine_amount(value: object) -> Decimal:
    text = _text(value).replace(",", "").replace("，", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _CellInvalid(
            gettext("'%(value)s' is not an amount in yuan, e.g. 20000.00") % {"value": _text(value)}
        ) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise _CellInvalid(
            gettext("'%(value)s' is not an amount in yuan with at most 2 decimals")
            % {"value": _text(value)}
        )
    if amount >= Decimal("1e12"):
        raise _CellInvalid(gettext("'%(value)s' is larger than any fine") % {"value": _text(value)})
    return amount.quantize(Decimal("0.01"))


def _date(value: object, *, column: str, today: datetime.date | None = None) -> datetime.date:
    if isinstance(value, datetime.datetime):
        day = value.date()
    elif isinstance(value, datetime.date):
        day = value
    else:
        text = _text(value)
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(text)
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise _CellInvalid(_not_a_date(text)) from None
    if today is not None and day > today:
        raise _CellInvalid(_in_the_future(day, today))
    return day


def _not_a_date(text: str) -> str:
    return gettext("'%(value)s' is not a date in the form YYYY-MM-DD") % {"value": text}


def _in_the_future(day: datetime.date, today: datetime.date) -> str:
    return gettext("%(day)s is in the future (today is %(today)s)") % {
        "day": f"{day:%Y-%m-%d}",
        "today": f"{today:%Y-%m-%d}",
    }


def _required_text(value: object, column: str) -> str:
    text = _text(value)
    if not text:
        raise _CellInvalid(gettext("is empty; every row needs one"))
    return _within_length(text, column)


def _optional_text(value: object, column: str) -> str:
    return _within_length(_text(value), column)


def _within_length(text: str, column: str) -> str:
    limit = _MAX_LENGTH[column]
    if len(text) > limit:
        raise _CellInvalid(
            gettext("has %(count)s characters; at most %(limit)s are allowed")
            % {"count": len(text), "limit": limit}
        )
    return text


def _choice(value: object, allowed: Collection[str]) -> str:
    text = _text(value).lower()
    if not text:
        raise _CellInvalid(
            gettext("is empty; use one of: %(allowed)s") % {"allowed": ", ".join(sorted(allowed))}
        )
    if text not in allowed:
        raise _CellInvalid(
            gettext("'%(value)s' is not one of: %(allowed)s")
            % {"value": _text(value), "allowed": ", ".join(sorted(allowed))}
        )
    return text


def _subject_code(value: object) -> tuple[str, str]:
    """(normalised code, subject kind); the identifier checks' own message on failure."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _CellInvalid(
            gettext(
                "is stored as a number, which a spreadsheet keeps to 15 digits only; format "
                "the column as text and enter the code again"
            )
        )
    try:
        return subject_code_identify(_text(value))
    except InvalidIdentifier as exc:
        raise _CellInvalid(exc.message) from None


def _listed_on(value: object, *, today: datetime.date) -> datetime.date:
    if isinstance(value, datetime.datetime):  # an XLSX date cell
        day = value.date()
    elif isinstance(value, datetime.date):
        day = value
    else:
        text = _text(value)
        if not text:
            raise _CellInvalid(gettext("is empty; give the date listed as YYYY-MM-DD"))
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(text)
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise _CellInvalid(_not_a_date(text)) from None
    if day > today:
        raise _CellInvalid(_in_the_future(day, today))
    return day


# --- checking the rows against the database -----------------------------------------


def validate(
    rows: Iterable[tuple[int, dict[str, object]]],
    *,
    agency: Agency,
    today: datetime.date | None = None,
) -> Validation:
    """Check every row; split the good ones into new and already imported.

    Besides each row's cells: a decision number and subject code seen on an earlier
    row of the file, no rule set in force for the row's list type and severity on its
    ``listed_on``, and a record already imported under the same key whose values
    differ are row errors too. Good rows carry the publication periods of the rule set
    in force. Lookups are batched: the query count does not grow with the rows.
    """
    today = today or timezone.localdate()
    # A revocation decision is a record the route writes (decision 0016), never imported.
    list_types = {
        list_type.code: list_type
        for list_type in ListType.objects.exclude(code=REVOCATION_DECISION_LIST)
    }
    result = Validation(list_types=list_types)
    platforms = set(Platform.objects.filter(is_active=True).values_list("code", flat=True))
    measures: dict[str, set[str]] = {}
    for list_code, code in Measure.objects.filter(is_active=True).values_list(
        "list_type__code", "code"
    ):
        measures.setdefault(list_code, set()).add(code)
    good: list[RowValues] = []
    first_seen: dict[tuple[str, str], int] = {}
    for number, raw in rows:
        values, errors = clean_row(
            number, raw, list_types=list_types, today=today, platforms=platforms
        )
        if values is not None and values.measures:
            known = measures.get(values.list_type, set())
            unknown = [code for code in values.measures if code not in known]
            if unknown:
                errors.append(
                    RowError(
                        number,
                        "measures",
                        gettext("unknown measure code(s) for %(list)s: %(codes)s; known: %(known)s")
                        % {
                            "list": values.list_type,
                            "codes": ", ".join(repr(c) for c in unknown),
                            "known": ", ".join(sorted(known)) or gettext("none"),
                        },
                    )
                )
                values = None
        key = _file_key(raw)
        if key is not None:
            earlier = first_seen.setdefault(key, number)
            if earlier != number:
                errors.append(
                    RowError(
                        number,
                        "decision_no",
                        gettext("duplicates row %(row)s (same decision_no and subject_code)")
                        % {"row": earlier},
                    )
                )
        if errors:
            result.errors.extend(errors)
            continue
        good.append(values)

    versions = _RuleSetLookup(agency, on=today)
    existing = _existing_records(agency, [values.key for values in good])
    for values in good:
        try:
            values = _with_periods(values, list_types[values.list_type], versions)
        except _RowInvalid as exc:
            result.errors.append(exc.error)
            continue
        restorable_from, expires_on = values.restorable_from, values.expires_on
        record = existing.get(values.key)
        if record is None:
            result.new.append(
                replace(values, restorable_from=restorable_from, expires_on=expires_on)
            )
            continue
        conflicts = [
            RowError(
                values.row,
                column,
                gettext(
                    "differs from the record already imported (%(value)s); records are "
                    "corrected through an objection, not by re-import"
                )
                % {"value": _shown(record[column])},
            )
            for column in (
                *COMPARED_COLUMNS,
                *(c for c in COMPARED_OPTIONAL_COLUMNS if getattr(values, c) is not None),
            )
            if _stored(record, column) != _compared(values, column)
        ]
        if conflicts:
            result.errors.extend(conflicts)
        else:
            result.unchanged.append(values)
    result.errors.sort(key=lambda error: error.row)
    return result


class _RowInvalid(Exception):
    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def _with_periods(values: RowValues, list_type: ListType, versions: _RuleSetLookup) -> RowValues:
    """The row with its tier (derived where the file leaves severity empty) and its periods
    under the version in force (docs/decisions/0020-rule-versions.md)."""
    natural = values.subject_kind == Subject.Kind.NATURAL
    severity = values.severity
    if not severity:
        try:
            limits = versions.for_row(list_type, "minor")
        except RuleViolation:
            limits = None
        found = classification.classify(
            list_type=list_type.code,
            penalty_types=values.all_penalty_types,
            fine_amount=values.fine_amount,
            natural_person=natural,
            procedure=values.procedure or Procedure.ORDINARY,
            minor_fine_limit_business=limits and limits.minor_fine_limit_business,
            minor_fine_limit_person=limits and limits.minor_fine_limit_person,
            market_regulation=bool(limits and limits.instrument == "samr107"),
        )
        if found.tier is None:
            raise _RowInvalid(
                RowError(
                    values.row,
                    "severity",
                    gettext(
                        "is empty, and the rules do not decide the tier from this row's "
                        "penalty_types, fine_amount and procedure; give minor, general or "
                        "serious"
                    ),
                )
            )
        severity = found.tier
    try:
        rule_set = versions.for_row(list_type, severity)
    except RuleViolation as exc:
        raise _RowInvalid(RowError(values.row, "severity", exc.message)) from None
    found = classification.periods(
        rule_set,
        start=values.decided_on or values.listed_on,
        penalty_types=values.all_penalty_types,
        natural_person=natural,
        term_ends_on=values.term_ends_on,
    )
    return replace(
        values,
        severity=severity,
        restorable_from=found.restorable_from,
        expires_on=found.expires_on,
    )


def _stored(record: dict, column: str) -> object:
    value = record[column]
    if column == "penalty_types":
        return tuple(value or ())
    return value


def _compared(values: RowValues, column: str) -> object:
    if column == "penalty_types":
        return tuple(values.all_penalty_types)
    return getattr(values, column)


def _file_key(raw: dict[str, object]) -> tuple[str, str] | None:
    """A row's (decision number, subject code) as typed, to find repeats even in bad rows."""
    decision_no, code = _text(raw.get("decision_no")), _text(raw.get("subject_code"))
    if not decision_no or not code:
        return None
    return (decision_no, code.upper())


def _shown(value: object) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value) if value != "" else gettext("empty")


def _existing_records(
    agency: Agency, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, object]]:
    """The agency's records with these (decision number, subject code) keys."""
    wanted = set(keys)
    decision_numbers = sorted({decision_no for decision_no, _ in wanted})
    found = {}
    for start in range(0, len(decision_numbers), LOOKUP_CHUNK):
        chunk = decision_numbers[start : start + LOOKUP_CHUNK]
        for record in Record.objects.filter(agency=agency, decision_no__in=chunk).values(
            "decision_no",
            "legal_basis",
            "severity",
            "listed_on",
            "penalty_type",
            *OPTIONAL_COLUMNS,
            subject_code=F("subject__code"),
            list_type_code=F("list_type__code"),
        ):
            key = (record["decision_no"], record["subject_code"])
            if key in wanted:
                found[key] = {**record, "list_type": record["list_type_code"]}
    return found


class _RuleSetLookup:
    """The version in force on the import day for each (list type, tier), asked once.

    A record's periods follow the version in force when they are computed, counted from
    its own decision date (docs/decisions/0020-rule-versions.md).
    """

    def __init__(self, agency: Agency, *, on: datetime.date):
        self.agency = agency
        self.on = on
        self.found: dict[tuple[int, str], RuleSet | RuleViolation] = {}

    def for_row(self, list_type: ListType, severity: str) -> RuleSet:
        key = (list_type.pk, severity)
        if key not in self.found:
            try:
                self.found[key] = rule_set_in_force(
                    list_type=list_type, severity=severity, on=self.on, agency=self.agency
                )
            except RuleViolation as exc:
                self.found[key] = exc
        rule_set = self.found[key]
        if isinstance(rule_set, RuleViolation):
            raise rule_set
        return rule_set


# --- writing ------------------------------------------------------------------------


def import_records(
    path: str | Path,
    *,
    agency: Agency,
    partial: bool = False,
    dry_run: bool = False,
    today: datetime.date | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import the records in the file at ``path`` for ``agency``; report what happened.

    All or nothing: if any row has an error, nothing is imported and the report lists
    every error, unless ``partial``, which imports the good rows and reports the bad.
    Rows already imported with the same values are counted ``unchanged`` and left
    alone. Subjects are matched by code or created (an existing subject keeps its
    name). ``dry_run`` does everything and then rolls it back. ``today`` (default: the
    local date) is the latest ``listed_on`` accepted; ``limits`` default to the
    settings' (``ImportLimits``). Raises ``ImportFileInvalid`` when the file cannot be
    read, goes past a limit or its header is wrong; nothing is imported then.
    """
    rows = parse_rows(path, limits=limits)
    with transaction.atomic():
        checked = validate(rows, agency=agency, today=today)
        report = ImportReport(errors=checked.errors, partial=partial, dry_run=dry_run)
        if report.rejected:
            return report
        subjects, report.subjects_created = _subjects_for(checked.new)
        # Every field was checked by validate(); full_clean() per record would repeat it
        # with a query per row for the unique constraint.
        Record.objects.bulk_create(
            [
                Record(
                    list_type=checked.list_types[values.list_type],
                    subject=subjects[values.subject_code],
                    agency=agency,
                    decision_no=values.decision_no,
                    legal_basis=values.legal_basis,
                    severity=values.severity,
                    penalty_type=values.penalty_type,
                    penalty_types=values.all_penalty_types,
                    fine_amount=values.fine_amount,
                    procedure=values.procedure or Procedure.ORDINARY,
                    term_ends_on=values.term_ends_on,
                    decided_on=values.decided_on,
                    listed_on=values.listed_on,
                    restorable_from=values.restorable_from,
                    expires_on=values.expires_on,
                    status=Record.Status.ACTIVE,
                )
                for values in checked.new
            ],
            batch_size=LOOKUP_CHUNK,
        )
        _placements(agency, checked)
        report.created = len(checked.new)
        report.unchanged = len(checked.unchanged)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _placements(agency: Agency, checked: Validation) -> None:
    """The new records' publications and measures: what the row names, or the agency's
    defaults for the list type and the catalogue's default measures (decision 0024)."""
    if not checked.new:
        return
    rows = {values.key: values for values in checked.new}
    platforms = {p.code: p for p in Platform.objects.filter(is_active=True)}
    measures = {(m.list_type_id, m.code): m for m in Measure.objects.filter(is_active=True)}
    defaults = default_platforms(agency.pk)
    catalogue = default_measures()
    publications, links = [], []
    decision_numbers = sorted({decision_no for decision_no, _ in rows})
    for start in range(0, len(decision_numbers), LOOKUP_CHUNK):
        chunk = decision_numbers[start : start + LOOKUP_CHUNK]
        for record in Record.objects.filter(agency=agency, decision_no__in=chunk).select_related(
            "subject"
        ):
            values = rows.get((record.decision_no, record.subject.code))
            if values is None:
                continue
            chosen = (
                [platforms[code] for code in values.platforms]
                if values.platforms
                else defaults.get(record.list_type_id, [])
            )
            publications.extend(
                Publication(record=record, platform=platform, published_on=record.listed_on)
                for platform in chosen
            )
            carried = (
                [measures[(record.list_type_id, code)] for code in values.measures]
                if values.measures
                else catalogue.get(record.list_type_id, [])
            )
            links.extend(
                Record.measures.through(record_id=record.pk, measure_id=measure.pk)
                for measure in carried
            )
    Publication.objects.bulk_create(publications, batch_size=LOOKUP_CHUNK)
    Record.measures.through.objects.bulk_create(links, batch_size=LOOKUP_CHUNK)


def _subjects_for(rows: list[RowValues]) -> tuple[dict[str, Subject], int]:
    """The subject of each row's code, created where missing; and how many were created.

    The contract of ``cases.transitions.subject_get_or_create``, for a whole file at once
    (one call per new subject costs four queries: 10,000 new subjects took 11 s):
    codes were validated and normalised by ``clean_row``; an existing subject keeps
    its name, unless it has none yet (known only from a person's link request: it
    takes the name on its first row); a new one takes the name on its first row in
    the file; a subject that a concurrent import created between our read and our
    write is used as it is.
    """
    first_rows: dict[str, RowValues] = {}
    for values in rows:
        first_rows.setdefault(values.subject_code, values)
    subjects = _subjects_by_code(first_rows)
    nameless = [subject for subject in subjects.values() if not subject.name]
    for subject in nameless:
        subject.name = first_rows[subject.code].subject_name
    Subject.objects.bulk_update(nameless, ["name"], batch_size=LOOKUP_CHUNK)
    missing = [values for code, values in first_rows.items() if code not in subjects]
    Subject.objects.bulk_create(
        [
            Subject(code=values.subject_code, name=values.subject_name, kind=values.subject_kind)
            for values in missing
        ],
        batch_size=LOOKUP_CHUNK,
        ignore_conflicts=True,
    )
    subjects.update(_subjects_by_code([values.subject_code for values in missing]))
    return subjects, len(missing)


def _subjects_by_code(codes: Iterable[str]) -> dict[str, Subject]:
    codes = sorted(codes)
    found = {}
    for start in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[start : start + LOOKUP_CHUNK]
        found.update((subject.code, subject) for subject in Subject.objects.filter(code__in=chunk))
    return found
