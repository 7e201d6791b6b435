"""Fast, checked cell writing for the large sheets (summary, branch workbooks).

`FastSheet` is an XlsxWriter worksheet (XlsxWriter's documented `worksheet_class` hook) that
stores a column of formatted cells in one pass and serialises formatted string, number and
blank cells with one f-string each, instead of XlsxWriter's per-call checks and general
escaping path: most of the cost of 100,000 cells. It overrides XlsxWriter's private
`_write_cell`, so `fast_cells_match` checks once per process that the installed XlsxWriter
writes the very same XML both ways; if anything differs, plain worksheets are used.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import math
import re
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell_fast
from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellStringTuple, Worksheet

from .safe import _CONTROL_RE, EXCEL_MAX_TEXT, cell_text, workbook_options


def text_of(value: Any) -> str:
    """A cell of the people table as display text; blanks (None, NaN, NA) become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def texts(column: pd.Series) -> pd.Series:
    """`text_of` of a whole column at once."""
    return column.astype(object).where(column.notna(), "").astype(str)


def cell_texts(column: pd.Series) -> list[str]:
    """`cell_text` of a whole column ('' for blanks): only values that need it are rewritten."""
    values = texts(column).tolist()
    # One scan of the whole column (LF is no control character of the rule): almost always clean.
    if _CONTROL_RE.search("\n".join(values)) or max(map(len, values), default=0) > EXCEL_MAX_TEXT:
        return [cell_text(v) for v in values]
    return values


def cell_numbers(column: pd.Series) -> list[float]:
    """A whole column as floats (NaN for blanks and non-numbers)."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


class FastSheet(Worksheet):
    """A worksheet that stores a column of formatted cells in one pass (`put_column`) and
    serialises formatted string, number and blank cells with one f-string each, instead of
    XlsxWriter's per-call checks and general attribute-escaping path (most of the cost of
    100,000 cells). The result is the same byte for byte: `fast_cells_match` checks that against
    the installed XlsxWriter once per process, and plain Worksheet calls are used if it differs.
    """

    def put_column(self, row: int, col: int, kind: str, values: list, fmt: Format) -> bool:
        """What `_write_column` does, or False (nothing written) where XlsxWriter's own checks
        could matter: out-of-range cells, very long strings, infinite numbers."""
        if self.constant_memory or fmt is None or not values:
            return False
        last = row + len(values) - 1
        if row < 0 or col < 0 or last >= self.xls_rowmax or col >= self.xls_colmax:
            return False
        table = self.table
        if kind == "text":
            if max(map(len, values)) > self.xls_strmax // 2:  # may need UTF-16 truncation
                return False
            index = self.str_table._get_shared_string_index
            cells = [CellStringTuple(index(v), fmt) if v else CellBlankTuple(fmt) for v in values]
        else:
            if any(math.isinf(v) for v in values):  # written as error formulas
                return False
            cells = [CellNumberTuple(v, fmt) if v == v else CellBlankTuple(fmt) for v in values]
        self._check_dimensions(row, col)
        self._check_dimensions(last, col)
        for r, cell in enumerate(cells, row):
            table[r][col] = cell
        return True

    def _write_cell(self, row: int, col: int, cell) -> None:
        fmt = cell.format
        if fmt is None or self.constant_memory:
            return super()._write_cell(row, col, cell)
        kind = cell.__class__.__name__
        if kind == "String":  # `cell.string` is the index into the shared strings
            where, xf = xl_rowcol_to_cell_fast(row, col), fmt._get_xf_index()
            self.fh.write(f'<c r="{where}" s="{xf}" t="s"><v>{cell.string}</v></c>')
        elif kind == "Number":
            where, xf = xl_rowcol_to_cell_fast(row, col), fmt._get_xf_index()
            self.fh.write(f'<c r="{where}" s="{xf}"><v>{cell.number:.16G}</v></c>')
        elif kind == "Blank":
            where, xf = xl_rowcol_to_cell_fast(row, col), fmt._get_xf_index()
            self.fh.write(f'<c r="{where}" s="{xf}"/>')
        else:
            super()._write_cell(row, col, cell)


_CHECK_TEXT = ["甲<&\"'", "", "  空格 ", "乙\n丙", "甲<&\"'"]
_CHECK_NUMBERS = [58.57, math.nan, 1e21, -0.1, 7.0, 1 / 3]


@functools.cache
def fast_cells_match() -> bool:
    """Whether `FastSheet` writes the same sheet data as the installed XlsxWriter: the same
    cells go into a plain and a fast sheet of a scratch workbook, whose XML is then compared."""
    try:
        buffer = io.BytesIO()
        wb = xlsxwriter.Workbook(buffer, workbook_options())
        fmt = wb.add_format({"border": 1, "num_format": "0.00"})
        plain = wb.add_worksheet()
        for column in (0, 2):
            write_column(plain, 1, column, "text", _CHECK_TEXT, fmt)
            write_column(plain, 1, column + 1, "score", _CHECK_NUMBERS, fmt)
        plain.write_number(8, 1, math.inf, fmt)
        plain.write_string(8, 2, "无格式")
        fast = wb.add_worksheet(worksheet_class=FastSheet)
        for column in (0, 2):
            assert fast.put_column(1, column, "text", _CHECK_TEXT, fmt)
            assert fast.put_column(1, column + 1, "score", _CHECK_NUMBERS, fmt)
        fast.write_number(8, 1, math.inf, fmt)
        fast.write_string(8, 2, "无格式")
        wb.close()
        with zipfile.ZipFile(buffer) as z:
            xml = [z.read(f"xl/worksheets/sheet{i}.xml").decode("utf-8") for i in (1, 2)]
        parts = [re.findall(r"<dimension [^>]*>|<sheetData>.*</sheetData>", x) for x in xml]
        return len(parts[0]) == 2 and parts[0] == parts[1]
    except Exception:  # noqa: BLE001 - whatever changed inside XlsxWriter: use it as it is
        return False


def write_column(ws, row: int, col: int, kind: str, values: list, fmt) -> None:
    """Cells downwards from (row, col): text as string cells, numbers as numbers; '' and NaN
    as formatted blanks (so the borders stay unbroken)."""
    if isinstance(ws, FastSheet) and ws.put_column(row, col, kind, values, fmt):
        return
    blank = ws.write_blank
    if kind == "text":
        put = ws.write_string
        for r, v in enumerate(values, row):
            if v:
                put(r, col, v, fmt)
            else:
                blank(r, col, None, fmt)
    else:
        put = ws.write_number
        for r, v in enumerate(values, row):
            if v == v:  # not NaN
                put(r, col, v, fmt)
            else:
                blank(r, col, None, fmt)


@contextlib.contextmanager
def no_cyclic_gc():
    """Pause Python's cyclic garbage collector. The 100,000 cell objects made here would trigger
    repeated full collections over everything the run holds in memory (in a whole run, more time
    than writing the cells); reference counting still frees memory as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def add_sheet(wb: xlsxwriter.Workbook, name: str):
    return wb.add_worksheet(name, worksheet_class=FastSheet if fast_cells_match() else None)
