"""Workbooks -> DataFrames, keeping the file, sheet and Excel cell of each value.

Reading uses python-calamine (Rust; several times faster than openpyxl). Values are kept as the
workbook holds them (number, text, bool, date); `validate.py` decides what they mean. What
calamine cannot see comes from the container scan (`guard.py`, `sheetxml.py`): a formula with no
cached value and an error cell (both read as '') become `marks`, hidden rows and columns holding
data become notes, and a header merged across columns with data under it is refused.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine as pc
from openpyxl.utils import get_column_letter

from . import problems as P
from .errors import WorkbookRefused
from .guard import CORRUPT, ENCRYPTED, check_container
from .schema import DATA_SHEET, INFO_FIELDS, INFO_SHEET, LABEL_TO_KEY, REQUIRED_COLUMNS, label_key
from .sheetxml import SheetScan, parse_ref

HEADER_SEARCH_ROWS = 10  # a header not in row 1 is looked for in the first rows
READER_VERSION = 2  # changes whenever WorkbookData changes: part of any cache key of parsed books

Mark = tuple[str, str]  # (kind, text): ("formula", "") or ("error", "#DIV/0!")


@dataclass
class WorkbookData:
    """What one workbook holds, before validation."""

    file: str
    size: int
    sha256: str
    info: dict[str, tuple[Any, str]]  # key -> (value, cell like 基本信息!B2)
    frame: pd.DataFrame  # one row per non-blank data row; columns: contract keys + _row
    letters: dict[str, str]  # contract key -> Excel column letter
    extras: pd.DataFrame  # columns that are not in the contract, same index as frame
    notes: list[dict[str, Any]] = field(default_factory=list)
    raw_header_row: int = 1
    # (sheet, Excel row, contract or 基本信息 key) -> Mark, for cells calamine read as ''
    marks: dict[tuple[str, int, str], Mark] = field(default_factory=dict)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n"))


def _sheet_name(book: pc.CalamineWorkbook, wanted: str) -> str | None:
    names = {label_key(n): n for n in book.sheet_names}
    return names.get(label_key(wanted))


def _rows(book: pc.CalamineWorkbook, name: str | None) -> list[list[Any]] | None:
    # safe only after check_container: the scan bounds the grid calamine builds from A1
    return None if name is None else book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _refused(display: str, why: str) -> WorkbookRefused:
    return WorkbookRefused(
        P.FILE_UNREADABLE.code, P.FILE_UNREADABLE.message(file=display, extra=why)
    )


def read_workbook(path: Path, display: str, limits: dict[str, int] | None = None) -> WorkbookData:
    """Read one branch workbook; raise WorkbookRefused with a Chinese reason if it cannot be used."""
    data = path.read_bytes()
    container = check_container(data, display, limits)
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        info_name, data_name = _sheet_name(book, INFO_SHEET), _sheet_name(book, DATA_SHEET)
        info_rows, data_rows = _rows(book, info_name), _rows(book, data_name)
    except pc.PasswordError:
        raise _refused(display, ENCRYPTED) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # calamine raises many kinds for a broken file (a Rust panic is a
        raise _refused(display, CORRUPT) from None  # BaseException); all mean the same here
    for rows, sheet in ((info_rows, INFO_SHEET), (data_rows, DATA_SHEET)):
        if rows is None:
            raise WorkbookRefused(
                P.SHEET_MISSING.code, P.SHEET_MISSING.message(file=display, value=sheet)
            )
    assert info_rows is not None and data_rows is not None
    info, info_marks = _read_info(info_rows, container.sheets.get(info_name or ""))
    wb = _read_data(data_rows, display, container.sheets.get(data_name or ""))
    wb.info = info
    wb.marks.update(info_marks)
    wb.size = len(data)
    wb.sha256 = hashlib.sha256(data).hexdigest()
    return wb


def _read_info(
    rows: list[list[Any]], scan: SheetScan | None
) -> tuple[dict[str, tuple[Any, str]], dict[tuple[str, int, str], Mark]]:
    info: dict[str, tuple[Any, str]] = {}
    marks: dict[tuple[str, int, str], Mark] = {}
    for i, row in enumerate(rows):
        if not row:
            continue
        key = INFO_FIELDS.get(label_key(row[0]))
        if key and key not in info:
            value = row[1] if len(row) > 1 else None
            info[key] = (value, f"{INFO_SHEET}!B{i + 1}")
            mark = _mark(scan, i + 1, 2)
            if mark:
                marks[(INFO_SHEET, i + 1, key)] = mark
    return info, marks


def _mark(scan: SheetScan | None, row: int, col: int) -> Mark | None:
    if scan is None:
        return None
    if (row, col) in scan.errors:
        return ("error", scan.errors[(row, col)])
    if (row, col) in scan.formulas:
        return ("formula", "")
    return None


def _find_header(rows: list[list[Any]]) -> int:
    """Index of the header row: row 1, or the first early row that holds the 员工编号 label."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = {LABEL_TO_KEY.get(label_key(v)) for v in row if not _blank(v)}
        if "emp_id" in keys and len(keys) >= 3:
            return i
    return 0


def _read_data(rows: list[list[Any]], display: str, scan: SheetScan | None = None) -> WorkbookData:
    h = _find_header(rows) if rows else 0
    header = rows[h] if rows else []
    notes: list[dict[str, Any]] = []
    if h:
        notes.append(_note(P.HEADER_MOVED, display, f"A{h + 1}", "", "", extra=h + 1))
    letters: dict[str, str] = {}
    keyed: dict[int, str] = {}
    extra_cols: dict[int, str] = {}
    for j, label in enumerate(header):
        if _blank(label):
            continue
        key = LABEL_TO_KEY.get(label_key(label))
        letter = get_column_letter(j + 1)
        if key is None:
            extra_cols[j] = str(label).strip()
            continue
        if key in letters:
            raise WorkbookRefused(
                P.HEADER_DUPLICATE.code,
                P.HEADER_DUPLICATE.message(
                    file=display,
                    where=f"{DATA_SHEET}!{letter}{h + 1}",
                    label=str(label).strip(),
                    extra=f"{letters[key]}{h + 1}",
                ),
            )
        letters[key] = letter
        keyed[j] = key
    for key in REQUIRED_COLUMNS:
        if key not in letters:
            from .schema import FIELD_BY_KEY

            raise WorkbookRefused(
                P.COLUMN_MISSING.code,
                P.COLUMN_MISSING.message(file=display, label=FIELD_BY_KEY[key].label),
            )
    body = rows[h + 1 :]
    width = len(header)
    records: list[list[Any]] = []
    excel_rows: list[int] = []
    extras: list[list[Any]] = []
    for i, row in enumerate(body):
        if all(_blank(v) for v in row):
            continue  # blank rows end nothing; they are skipped
        if len(row) > width and any(not _blank(v) for v in row[width:]):
            pass  # values beyond the header have no label; they are not data
        records.append([row[j] if j < len(row) else None for j in keyed])
        extras.append([row[j] if j < len(row) else None for j in extra_cols])
        excel_rows.append(h + 2 + i)
    frame = pd.DataFrame(records, columns=list(keyed.values()), dtype=object)
    frame["_row"] = excel_rows
    extras_frame = pd.DataFrame(extras, columns=list(extra_cols.values()), dtype=object)
    marks: dict[tuple[str, int, str], Mark] = {}
    if scan is not None:
        filled = {j for j in [*keyed, *extra_cols] if _has_data(body, j)}
        _check_merged_header(scan, h, header, body, display)
        notes.extend(_hidden_notes(scan, display, excel_rows, header, filled, h))
        for r in excel_rows:
            for j, key in keyed.items():
                mark = _mark(scan, r, j + 1)
                if mark:
                    marks[(DATA_SHEET, r, key)] = mark
    wb = WorkbookData(display, 0, "", {}, frame, letters, extras_frame, notes, h + 1)
    wb.marks = marks
    return wb


def _has_data(body: list[list[Any]], j: int) -> bool:
    return any(j < len(row) and not _blank(row[j]) for row in body)


def _check_merged_header(
    scan: SheetScan, h: int, header: list[Any], body: list[list[Any]], display: str
) -> None:
    """A header label merged across columns is fine unless the columns it covers hold data."""
    for ref in scan.merged:
        first, _, last = ref.partition(":")
        a, b = parse_ref(first), parse_ref(last or first)
        if not a or not b or not (a[0] <= h + 1 <= b[0]) or b[1] <= a[1]:
            continue
        j = a[1] - 1
        label = header[j] if j < len(header) else None
        covered = range(a[1], min(b[1], a[1] + 1000))  # 0-based columns right of j
        if (
            not _blank(label)
            and LABEL_TO_KEY.get(label_key(label))
            and any(_has_data(body, k) for k in covered)
        ):
            raise WorkbookRefused(
                P.HEADER_MERGED.code,
                P.HEADER_MERGED.message(
                    file=display, where=f"{DATA_SHEET}!{ref}", label=str(label).strip()
                ),
            )


def _hidden_notes(
    scan: SheetScan,
    display: str,
    excel_rows: list[int],
    header: list[Any],
    filled: set[int],
    h: int,
) -> list[dict[str, Any]]:
    notes = [
        _note(P.HIDDEN_DATA, display, f"A{r}", "", "", extra="行")
        for r in excel_rows
        if r in scan.hidden_rows
    ]
    for j in sorted(filled):
        if scan.col_hidden(j + 1):
            label = str(header[j]).strip()
            cell = f"{get_column_letter(j + 1)}{h + 1}"
            notes.append(_note(P.HIDDEN_DATA, display, cell, label, "", extra="列"))
    return notes


def _note(
    kind: P.ProblemType, file: str, cell: str, column: str, value: Any, extra: Any = ""
) -> dict[str, Any]:
    where = f"{DATA_SHEET}!{cell}"
    return {
        "file": file,
        "sheet": DATA_SHEET,
        "cell": cell,
        "row": None,
        "column": column,
        "check": kind.code,
        "value": value,
        "level": kind.level,
        "message": kind.message(file=file, where=where, label=column, value=value, extra=extra),
    }
