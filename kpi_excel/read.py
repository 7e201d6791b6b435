"""Workbooks -> DataFrames, keeping the file, sheet and Excel cell of each value.

Reading uses python-calamine (Rust; several times faster than openpyxl). Values are kept as the
workbook holds them (number, text, bool, date); `validate.py` decides what they mean. What
calamine cannot see comes from the container scan (`guard.py`, `sheetxml.py`): a formula with no
cached value and an error cell (both read as '') become `marks`, hidden rows and columns holding
data become notes, a header merged across columns with data under it is refused, and the data
cells shown as a percentage, a date or a time (which calamine reads as plain numbers or dates)
become `formats`, for the row checks to judge by each column's type.
"""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import zlib
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import python_calamine as pc
from openpyxl.utils import get_column_letter

from . import problems as P
from .errors import WorkbookRefused
from .guard import ENCRYPTED, Container, check_container
from .schema import DATA_SHEET, INFO_FIELDS, INFO_SHEET, Contract
from .schema import label_key as _label_key
from .sheetxml import SheetScan, parse_ref

HEADER_SEARCH_ROWS = 10  # a header not in row 1 is looked for in the first rows
READER_VERSION = 7  # changes whenever WorkbookData or PackedWorkbook changes: in the cache key

Mark = tuple[str, str]  # (kind, text): ("formula", "") or ("error", "#DIV/0!")
# Every workbook repeats the same labels: each is normalised once (typed: 1, 1.0 and True differ)
label_key = functools.lru_cache(maxsize=4096, typed=True)(_label_key)


class InfoCell(NamedTuple):
    """One value of 基本信息 and where it is (its cell on that sheet, e.g. B2, and its row)."""

    value: Any
    cell: str
    row: int


NO_INFO = InfoCell(None, "", 0)


@dataclass
class WorkbookData:
    """What one workbook holds, before validation."""

    file: str
    size: int
    sha256: str
    info: dict[str, InfoCell]  # 基本信息 key -> value and cell
    frame: pd.DataFrame  # one row per non-blank data row; columns: contract keys + _row
    letters: dict[str, str]  # contract key -> Excel column letter
    extras: pd.DataFrame  # columns that are not in the contract, same index as frame
    notes: list[dict[str, Any]] = field(default_factory=list)
    raw_header_row: int = 1
    # (sheet, Excel row, contract or 基本信息 key) -> Mark, for cells calamine read as ''
    marks: dict[tuple[str, int, str], Mark] = field(default_factory=dict)
    # (Excel row, contract key) -> (kind, format code) of the 考核数据 cells holding a number
    # shown as a percentage, a date or a time (numfmt.py)
    formats: dict[tuple[int, str], tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PackedWorkbook:
    """A workbook as the run holds it from reading to writing: what the workbook checks need
    at hand (its file, 基本信息 and the marks of 基本信息's cells, its reading notes and column
    letters), the rest (its rows) pickled and compressed, opened for the row checks and again
    when its branch workbook is written (原始数据). A parsed workbook takes some 35 KB of Python
    objects, packed about 3 KB: a national bank's books, held through the run, would otherwise
    be its largest table. Packed in the reading worker, so the run never holds them all open."""

    file: str
    info: dict[str, InfoCell]
    marks: dict[tuple[str, int, str], Mark]  # of 基本信息's cells only
    notes: list[dict[str, Any]]
    letters: dict[str, str]
    blob: bytes

    def unpack(self) -> WorkbookData:
        book: WorkbookData = pickle.loads(zlib.decompress(self.blob))
        book.file = self.file
        return book


def pack(book: WorkbookData) -> PackedWorkbook:
    blob = zlib.compress(pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL), 1)
    marks = {k: m for k, m in book.marks.items() if k[0] == INFO_SHEET}
    return PackedWorkbook(book.file, book.info, marks, book.notes, book.letters, blob)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n"))


def _blank_row(row: list[Any]) -> bool:
    """all(_blank(v) for v in row), without a call per value."""
    for v in row:
        if v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n")):
            continue
        return False
    return True


def _sheet_name(book: pc.CalamineWorkbook, wanted: str) -> str | None:
    names = {label_key(n): n for n in book.sheet_names}
    return names.get(label_key(wanted))


def _rows(book: pc.CalamineWorkbook, name: str | None) -> list[list[Any]] | None:
    # safe only after check_container: the scan bounds the grid calamine builds from A1
    return None if name is None else book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _refused(
    display: str, why: str, kind: P.ProblemType = P.FILE_UNREADABLE, detail: str = ""
) -> WorkbookRefused:
    return WorkbookRefused(kind.code, kind.message(file=display, extra=why), detail)


_WANTED = frozenset(label_key(s) for s in (INFO_SHEET, DATA_SHEET))
UNPARSABLE = (
    "工作簿中有本工具的读取组件无法解析的内容(可能由非 Excel 软件生成或已损坏),"
    "请在 Excel/WPS 中打开并另存为 .xlsx 后提交"
)


def sheet_is_read(sheet: str) -> bool:
    """The sheets kpi-excel reads (found as `_sheet_name` finds them); no other is scanned."""
    return label_key(sheet) in _WANTED


def _read_sheets(
    container: Container, display: str
) -> tuple[list[str], str | None, str | None, list[list[Any]] | None, list[list[Any]] | None]:
    """Sheet names, the names of 基本信息 and 考核数据, and their rows, as calamine reads them
    from the container's bytes; when calamine cannot read those, from the package rebuilt in
    the standard layout. Refused with calamine's own words kept in `detail` for the log."""
    data, errors = container.data, []
    while data is not None:
        try:
            book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
            names = list(book.sheet_names)
            info_name, data_name = _sheet_name(book, INFO_SHEET), _sheet_name(book, DATA_SHEET)
            listed = sum(map(sheet_is_read, container.sheet_names))
            if (info_name is None or data_name is None) and sum(map(sheet_is_read, names)) < listed:
                raise LookupError("calamine lists fewer of the sheets read than the workbook")
            return names, info_name, data_name, _rows(book, info_name), _rows(book, data_name)
        except pc.PasswordError:
            raise _refused(display, ENCRYPTED, P.FILE_ENCRYPTED) from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # calamine raises many kinds for a file it cannot read (a
            errors.append(f"{type(exc).__name__}: {exc}")  # Rust panic is a BaseException)
        try:
            data = container.fallback()
            container.normalised = True
        except Exception as exc:  # noqa: BLE001 - the rebuild failed: refused below
            errors.append(f"rebuild: {type(exc).__name__}: {exc}")
            data = None
    raise _refused(display, UNPARSABLE, P.FILE_UNSUPPORTED, "python-calamine: " + "; ".join(errors))


def _missing_sheets(display: str, names: list[str], missing: list[str]) -> WorkbookRefused:
    have = "、".join(f"「{n}」" for n in names) if names else "没有任何工作表"
    value = "、".join(f"「{m}」" for m in missing)
    return WorkbookRefused(
        P.SHEET_MISSING.code, P.SHEET_MISSING.message(file=display, value=value, extra=have)
    )


def read_workbook(
    path: Path,
    display: str,
    contract: Contract,
    limits: dict[str, int] | None = None,
    data: bytes | None = None,
    sha256: str | None = None,
) -> WorkbookData:
    """Read one branch workbook, its 考核数据 columns found by the labels of `contract` (the
    rulebook's fields); raise WorkbookRefused with a Chinese reason if it cannot be used.

    A caller that has already read (and hashed) the file passes `data` (and `sha256`).
    """
    if data is None:
        data = path.read_bytes()
    container = check_container(data, display, limits, sheet_is_read)
    names, info_name, data_name, info_rows, data_rows = _read_sheets(container, display)
    missing = [s for s, n in ((INFO_SHEET, info_name), (DATA_SHEET, data_name)) if n is None]
    if missing:  # the sheets as the workbook lists them (macro sheets too), else as calamine does
        raise _missing_sheets(display, container.sheet_names or names, missing)
    assert info_rows is not None and data_rows is not None
    info, info_marks = _read_info(info_rows, container.sheets.get(info_name or ""))
    wb = _read_data(data_rows, display, contract, container.sheets.get(data_name or ""))
    wb.info = info
    wb.marks.update(info_marks)
    wb.size = len(data)
    wb.sha256 = sha256 or hashlib.sha256(data).hexdigest()
    return wb


def _read_info(
    rows: list[list[Any]], scan: SheetScan | None
) -> tuple[dict[str, InfoCell], dict[tuple[str, int, str], Mark]]:
    info: dict[str, InfoCell] = {}
    marks: dict[tuple[str, int, str], Mark] = {}
    for i, row in enumerate(rows):
        if not row:
            continue
        key = INFO_FIELDS.get(label_key(row[0]))
        if key and key not in info:
            value = row[1] if len(row) > 1 else None
            info[key] = InfoCell(value, f"B{i + 1}", i + 1)
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


def _find_header(rows: list[list[Any]], label_to_key: dict[str, str]) -> int:
    """Index of the header row: row 1, or the first early row that holds the 员工编号 label."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = {label_to_key.get(label_key(v)) for v in row if not _blank(v)}
        if "emp_id" in keys and len(keys) >= 3:
            return i
    return 0


def _read_data(
    rows: list[list[Any]], display: str, contract: Contract, scan: SheetScan | None = None
) -> WorkbookData:
    label_to_key = contract.label_to_key
    h = _find_header(rows, label_to_key) if rows else 0
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
        key = label_to_key.get(label_key(label))
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
    for key in contract.required_columns:
        if key not in letters:
            raise WorkbookRefused(
                P.COLUMN_MISSING.code,
                P.COLUMN_MISSING.message(file=display, label=contract.by_key[key].label),
            )
    body = rows[h + 1 :]
    kept: list[list[Any]] = []  # values beyond the header have no label: they are not data
    excel_rows: list[int] = []
    for i, row in enumerate(body):
        if _blank_row(row):
            continue  # blank rows end nothing; they are skipped
        kept.append(row)
        excel_rows.append(h + 2 + i)
    frame = _frame(kept, keyed)
    # as frame["_row"] = ..., faster; int64 even without rows (an empty list would be float)
    frame.insert(len(frame.columns), "_row", np.asarray(excel_rows, dtype=np.int64))
    extras_frame = _frame(kept, extra_cols)
    marks: dict[tuple[str, int, str], Mark] = {}
    formats: dict[tuple[int, str], tuple[str, str]] = {}
    if scan is not None:
        # the columns holding data (blank rows hold none) matter only when some column is hidden
        filled = _filled([*keyed, *extra_cols], kept) if scan.hidden_cols else set()
        _check_merged_header(scan, h, header, body, display, label_to_key)
        notes.extend(_hidden_notes(scan, display, excel_rows, header, filled, h))
        marks = _data_marks(scan, excel_rows, keyed)
        formats = _data_formats(scan, excel_rows, keyed)
    wb = WorkbookData(display, 0, "", {}, frame, letters, extras_frame, notes, h + 1)
    wb.marks = marks
    wb.formats = formats
    return wb


def _frame(rows: list[list[Any]], columns: dict[int, str]) -> pd.DataFrame:
    """The given columns (index -> label) of the rows as an object frame (None where a row is
    shorter). calamine's rows are a dense grid, all as wide: then one 2-d array is sliced."""
    labels = list(columns.values())
    if not columns:  # as pd.DataFrame([[] for _ in rows], columns=[], dtype=object), faster
        return pd.DataFrame(np.empty((len(rows), 0), dtype=object), columns=_NO_COLUMNS, copy=False)
    if not rows:
        return pd.DataFrame([], columns=labels, dtype=object)
    picked = list(columns)
    width = len(rows[0])
    if width > max(picked) and all(len(row) == width for row in rows):
        cells = np.fromiter(chain.from_iterable(rows), dtype=object, count=len(rows) * width)
        grid = cells.reshape(len(rows), width)
        return pd.DataFrame(grid[:, picked], columns=_columns(*labels), dtype=object, copy=False)
    records = [[row[j] if j < len(row) else None for j in picked] for row in rows]
    return pd.DataFrame(records, columns=labels, dtype=object)


_NO_COLUMNS = pd.Index([], dtype=object)


@functools.lru_cache(maxsize=256)
def _columns(*labels: str) -> pd.Index:
    """The (immutable) column index of a frame: most workbooks share their column labels."""
    return pd.Index(list(labels))


def _data_marks(
    scan: SheetScan, excel_rows: list[int], keyed: dict[int, str]
) -> dict[tuple[str, int, str], Mark]:
    """The marks of the data cells: only the few cells the scan found are looked at, in the order
    of the rows, then of the columns."""
    if not scan.errors and not scan.formulas:
        return {}
    rows = set(excel_rows)
    order = {j + 1: n for n, j in enumerate(keyed)}  # Excel column -> position in `keyed`
    found = {
        (r, order[c]): (r, c) for r, c in [*scan.errors, *scan.formulas] if r in rows and c in order
    }
    marks: dict[tuple[str, int, str], Mark] = {}
    for _, (r, c) in sorted(found.items()):
        mark = _mark(scan, r, c)
        if mark:
            marks[(DATA_SHEET, r, keyed[c - 1])] = mark
    return marks


def _data_formats(
    scan: SheetScan, excel_rows: list[int], keyed: dict[int, str]
) -> dict[tuple[int, str], tuple[str, str]]:
    """The data cells of the contract's columns that the scan found in a percent, date or time
    style, by (Excel row, key)."""
    if not scan.styled:
        return {}
    rows = set(excel_rows)
    out: dict[tuple[int, str], tuple[str, str]] = {}
    for j, key in keyed.items():
        for first, last, style in scan.styled.get(j + 1, ()):
            fmt = scan.formats[style]
            for r in rows.intersection(range(first, last + 1)):
                out[(r, key)] = fmt
    return out


def _filled(columns: list[int], rows: list[list[Any]]) -> set[int]:
    """The columns with data in some row (`_has_data` of each): those of the first row at once."""
    if not rows:
        return set()
    first = rows[0]
    filled = {j for j in columns if j < len(first) and not _blank(first[j])}
    return filled | {j for j in columns if j not in filled and _has_data(rows, j)}


def _has_data(body: list[list[Any]], j: int) -> bool:
    return any(j < len(row) and not _blank(row[j]) for row in body)


def _check_merged_header(
    scan: SheetScan,
    h: int,
    header: list[Any],
    body: list[list[Any]],
    display: str,
    label_to_key: dict[str, str],
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
            and label_to_key.get(label_key(label))
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
    if not scan.hidden_rows and not scan.hidden_cols:
        return []
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
