"""Every file a spreadsheet opens (CSV, XLSX) is written here, so that what people typed
into a form can never run as a formula on the coordinator's computer, nor break the file.

- Formula injection (the OWASP "CSV injection" rule): a text cell whose first character a
  spreadsheet evaluates (``= + - @``, tab, CR, LF, or their full-width forms, which Excel and
  LibreOffice accept too) is written with a leading single quote in a CSV, and in an XLSX as a
  plain string with the "quote prefix" style (what Excel itself stores when one types ``'=``),
  never as a formula. Numbers, dates and booleans are values, not text: they stay as they are
  (a negative number is a number).
- Control characters that XML forbids (NUL, U+0001–U+0008, U+000B, U+000C, U+000E–U+001F)
  are removed from every text cell: a single one in a stored name would otherwise make the
  whole XLSX fail, and they mean nothing in a CSV either.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell

# The first characters that make a spreadsheet read a cell as a formula (or a DDE command):
# ASCII, full-width (U+FF1D, U+FF0B, U+FF0D, U+FF20) and small (U+FE66, U+FE62, U+FE63, U+FE6B).
FORMULA_STARTS = frozenset("=+-@\t\r\n" + "\uff1d\uff0b\uff0d\uff20" + "\ufe66\ufe62\ufe63\ufe6b")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
NON_TEXT = (int, float, Decimal, date, datetime, time)  # bool is an int

Cells = Iterable[Sequence[object]]


def clean_text(value: str) -> str:
    """The text without the control characters a spreadsheet file cannot hold."""
    return XML_ILLEGAL.sub("", value)


def is_formula_like(text: str) -> bool:
    # Spaces before the sign do not protect: some applications trim them when they import.
    return bool(text) and (text[0] in FORMULA_STARTS or text.lstrip(" \u00a0")[:1] in FORMULA_STARTS)


def csv_cell(value: object) -> object:
    """What the csv module should write for this value."""
    if value is None:
        return ""
    if isinstance(value, NON_TEXT):
        return value
    text = clean_text(str(value))
    return "'" + text if is_formula_like(text) else text


def to_csv(header: Sequence[str] | None, rows: Cells, delimiter: str = ";") -> bytes:
    """A CSV for French spreadsheets: ``;`` separated, UTF-8 with a BOM (Excel then reads the
    accents right). A row may be empty (a blank line between two tables)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    for row in ([header] if header else []) + list(rows):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def _write_xlsx_cell(cell: "Cell", value: object) -> None:
    if value is None or isinstance(value, NON_TEXT):
        cell.value = value
        return
    text = clean_text(str(value))
    cell.value = text  # openpyxl would take a leading "=" for a formula: the type is forced below
    cell.data_type = "s"
    if is_formula_like(text):
        cell.quotePrefix = True


def to_xlsx(title: str, header: Sequence[str], rows: Cells) -> bytes:
    """One sheet, the header row frozen; text is always text, never a formula."""
    # Imported here: openpyxl holds ~13 MB of each worker, for the few exports of a day.
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell

    workbook = Workbook()
    sheet = workbook.worksheets[0]  # a new workbook's one sheet, the active one
    sheet.title = title
    for row_number, row in enumerate([header, *rows], start=1):
        for column_number, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column_number)
            assert isinstance(cell, Cell)  # a new sheet has no merged cells
            _write_xlsx_cell(cell, value)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
