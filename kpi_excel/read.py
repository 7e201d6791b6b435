"""Workbooks -> DataFrames, keeping the file, sheet and Excel cell of each value.

Reading uses python-calamine (Rust; several times faster than openpyxl). Values are kept as the
workbook holds them (number, text, bool, date); `validate.py` decides what they mean.
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
from .guard import check_container
from .schema import DATA_SHEET, INFO_FIELDS, INFO_SHEET, LABEL_TO_KEY, REQUIRED_COLUMNS, label_key

HEADER_SEARCH_ROWS = 10  # a header not in row 1 is looked for in the first rows


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


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n"))


def _sheet_rows(book: pc.CalamineWorkbook, wanted: str) -> list[list[Any]] | None:
    names = {label_key(n): n for n in book.sheet_names}
    name = names.get(label_key(wanted))
    if name is None:
        return None
    return book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def read_workbook(path: Path, display: str, limits: dict[str, int] | None = None) -> WorkbookData:
    """Read one branch workbook; raise WorkbookRefused with a Chinese reason if it cannot be used."""
    data = path.read_bytes()
    check_container(data, display, limits)
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        info_rows = _sheet_rows(book, INFO_SHEET)
        data_rows = _sheet_rows(book, DATA_SHEET)
    except pc.PasswordError:
        raise WorkbookRefused(
            P.FILE_UNREADABLE.code,
            P.FILE_UNREADABLE.message(file=display, extra="文件已加密,请取消密码后提交"),
        ) from None
    except Exception:  # calamine raises many kinds for a broken file; all mean the same here
        raise WorkbookRefused(
            P.FILE_UNREADABLE.code,
            P.FILE_UNREADABLE.message(file=display, extra="文件不完整或已损坏,请重新保存后提交"),
        ) from None
    for rows, sheet in ((info_rows, INFO_SHEET), (data_rows, DATA_SHEET)):
        if rows is None:
            raise WorkbookRefused(
                P.SHEET_MISSING.code, P.SHEET_MISSING.message(file=display, value=sheet)
            )
    assert info_rows is not None and data_rows is not None
    info = _read_info(info_rows)
    wb = _read_data(data_rows, display)
    wb.info = info
    wb.size = len(data)
    wb.sha256 = hashlib.sha256(data).hexdigest()
    return wb


def _read_info(rows: list[list[Any]]) -> dict[str, tuple[Any, str]]:
    info: dict[str, tuple[Any, str]] = {}
    for i, row in enumerate(rows):
        if not row:
            continue
        key = INFO_FIELDS.get(label_key(row[0]))
        if key and key not in info:
            value = row[1] if len(row) > 1 else None
            info[key] = (value, f"{INFO_SHEET}!B{i + 1}")
    return info


def _find_header(rows: list[list[Any]]) -> int:
    """Index of the header row: row 1, or the first early row that holds the 员工编号 label."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = {LABEL_TO_KEY.get(label_key(v)) for v in row if not _blank(v)}
        if "emp_id" in keys and len(keys) >= 3:
            return i
    return 0


def _read_data(rows: list[list[Any]], display: str) -> WorkbookData:
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
    return WorkbookData(display, 0, "", {}, frame, letters, extras_frame, notes, h + 1)


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
