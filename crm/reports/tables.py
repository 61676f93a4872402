"""A report section as a table, and the one writer that makes it a CSV or an XLSX file.

CSV is UTF-8 with a byte-order mark (German Excel then reads umlauts right); in both formats
text a spreadsheet would run as a formula stays text, as in the startups export.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from crm.exports.services import defused

#: Media types; Flask adds "; charset=utf-8" to a text type.
MEDIA_TYPES = {"csv": "text/csv",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's name (cut to Excel's 31 characters)
    headers: list[str]
    rows: list[list[Any]]


def table_file(table: Table, file_format: str) -> tuple[bytes, str]:
    """The table as a file in "csv" or "xlsx", and its media type."""
    if file_format == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow([defused(header) for header in table.headers])
        writer.writerows([csv_value(value) for value in row] for row in table.rows)
        return text.getvalue().encode("utf-8-sig"), MEDIA_TYPES["csv"]
    return workbook_bytes([table]), MEDIA_TYPES["xlsx"]


def workbook_bytes(tables: list[Table]) -> bytes:
    """An XLSX workbook with one sheet per table: a header row, then the rows, dates as dates."""
    workbook = Workbook(write_only=True)
    for table in tables:
        sheet = workbook.create_sheet(table.title[:31])
        sheet.append(table.headers)
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    binary = io.BytesIO()
    workbook.save(binary)
    return binary.getvalue()


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return defused(value)


def _xlsx_cell(sheet, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, never a formula
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    return cell
