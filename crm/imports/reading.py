"""Read an uploaded CSV or XLSX file into a header row and rows of text, whatever its encoding.

The kind of file is decided by its content, never by its name: an XLSX file is a zip archive
holding `[Content_Types].xml` and `xl/workbook.xml`; anything else must be text that decodes
(UTF-8 with or without a byte-order mark, UTF-16 with one, else Windows-1252/Latin-1, which is
what Excel writes on a German or Western European Windows) and holds no NUL bytes. Delimiters
are sniffed among comma, semicolon and tab.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DATA_ROWS = 50_000
MAX_COLUMNS = 200
#: Uncompressed size an XLSX file may unpack to (a zip bomb stops here).
MAX_XLSX_UNPACKED_BYTES = 200 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t"

CSV = "csv"
XLSX = "xlsx"


class ImportFileRejected(Exception):
    """The file cannot be imported; `message` is translatable and safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Table:
    """The file's header row and its data rows: (row number as a spreadsheet shows it, cells)."""

    kind: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str | None = None
    delimiter: str | None = None


def read_table(content: bytes, *, max_rows: int = MAX_DATA_ROWS,
               preview: int | None = None) -> Table:
    """The table in `content`, or ImportFileRejected saying in plain words what is wrong.

    With `preview`, only the header and that many data rows are read (no row limit applies).
    """
    if not content:
        raise ImportFileRejected(_l("The file is empty."))
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileRejected(_l("The file is larger than %(size)d MB.",
                                    size=MAX_FILE_BYTES // (1024 * 1024)))
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content, max_rows, preview)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileRejected(_l("This is an old Excel file (.xls). Save it as .xlsx or CSV "
                                    "and upload it again."))
    return _read_csv(content, max_rows, preview)


# CSV ------------------------------------------------------------------------------------------


def decode_text(content: bytes) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-8 (BOM or not), UTF-16 with BOM, else cp1252."""
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ImportFileRejected(_l("The file says it is UTF-16 text but does not "
                                        "decode as such.")) from None
    if b"\x00" in content:  # no text encoding we accept has NUL bytes: a binary file
        raise ImportFileRejected(_l("This is neither a CSV nor an XLSX file, whatever its name "
                                    "says. Save the list as CSV or XLSX and upload that."))
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined: plain Latin-1
        return content.decode("latin-1"), "latin-1"


def _read_csv(content: bytes, max_rows: int, preview: int | None) -> Table:
    text, encoding = decode_text(content)
    if _looks_binary(text):
        raise ImportFileRejected(_l("This is neither a CSV nor an XLSX file, whatever its name "
                                    "says. Save the list as CSV or XLSX and upload that."))
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        records = list(_numbered(reader, max_rows, preview))
    except csv.Error as error:
        raise ImportFileRejected(_l("The CSV file cannot be read near line %(line)d: %(error)s",
                                    line=reader.line_num, error=str(error))) from None
    return _table(CSV, records, encoding=encoding, delimiter=delimiter)


def _looks_binary(text: str) -> bool:
    sample = text[:_SNIFF_BYTES]
    controls = sum(1 for char in sample if ord(char) < 32 and char not in "\t\r\n\f\v")
    return controls > max(8, len(sample) // 100)


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the sniffer's choice, else the one the header line has most of."""
    sample = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample.strip() else ""
        counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


# XLSX -----------------------------------------------------------------------------------------


def _read_xlsx(content: bytes, max_rows: int, preview: int | None) -> Table:
    from openpyxl import load_workbook

    not_xlsx = _l("This is neither a CSV nor an XLSX file, whatever its name says. Save the "
                  "list as CSV or XLSX and upload that.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise ImportFileRejected(not_xlsx) from None
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise ImportFileRejected(not_xlsx)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ImportFileRejected(_l("The spreadsheet unpacks to more than %(size)d MB.",
                                    size=MAX_XLSX_UNPACKED_BYTES // (1024 * 1024)))
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file: all mean "cannot read"
        raise ImportFileRejected(_l("The spreadsheet is damaged and cannot be read.")) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileRejected(_l("The spreadsheet has no sheet."))
        rows = ([_cell_text(value) for value in row]
                for row in sheet.iter_rows(values_only=True))
        records = list(_numbered(rows, max_rows, preview))
    except ImportFileRejected:
        raise
    except Exception:
        raise ImportFileRejected(_l("The spreadsheet is damaged and cannot be read.")) from None
    finally:
        workbook.close()
    return _table(XLSX, records)


def _cell_text(value) -> str:
    """A cell as text: whole numbers without '.0', dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


# Both -----------------------------------------------------------------------------------------


def _numbered(rows, max_rows: int, preview: int | None) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with their spreadsheet row number; the first is the header.

    Stops with ImportFileRejected as soon as there are more than `max_rows` data rows, or
    quietly after `preview` data rows.
    """
    data_rows = -1  # the header is not a data row
    for number, cells in enumerate(rows, start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        data_rows += 1
        if preview is not None and data_rows > preview:
            return
        if data_rows > max_rows:
            raise ImportFileRejected(_l("The file has more than %(max)s rows. Split it into "
                                        "files of at most %(max)s rows.",
                                        max=f"{max_rows:,}"))
        yield number, cells


def _table(kind: str, records: list[tuple[int, list[str]]], **details) -> Table:
    if not records:
        raise ImportFileRejected(_l("The file is empty."))
    _number, header_cells = records[0]
    header_cells = _trim_trailing(header_cells)
    if len(header_cells) > MAX_COLUMNS:
        raise ImportFileRejected(_l("The file has more than %(max)d columns.", max=MAX_COLUMNS))
    headers = unique_headers(header_cells)
    rows = [(number, _fit(cells, len(headers))) for number, cells in records[1:]]
    if not rows:
        raise ImportFileRejected(_l("The file has a header row but no data rows."))
    return Table(kind, headers, rows, **details)


def _trim_trailing(cells: list[str]) -> list[str]:
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def _fit(cells: list[str], width: int) -> list[str]:
    return cells[:width] + [""] * (width - len(cells))


def unique_headers(cells: list[str]) -> list[str]:
    """Header names made unique ('E-Mail', 'E-Mail (2)'); a blank one is named by its column."""
    headers: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells, start=1):
        base = " ".join(cell.split())[:120] or f"#{index}"
        name, copy = base, 1
        while name.casefold() in seen:
            copy += 1
            name = f"{base} ({copy})"
        seen.add(name.casefold())
        headers.append(name)
    return headers
