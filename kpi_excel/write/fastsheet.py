"""Fast, checked cell writing for the large sheets (summary, branch workbooks).

`FastSheet` is an XlsxWriter worksheet (XlsxWriter's documented `worksheet_class` hook) that
takes whole columns of cells (`put_column`) or whole rows already rendered for many workbooks at
once (`put_rows`), and writes them when the sheet is assembled, as the very XML that XlsxWriter
itself writes in its `constant_memory` mode, instead of one Python call and one cell object per
cell (most of the cost of a bank's million cells). It overrides XlsxWriter's private
`_write_rows`, so `fast_cells_match` checks once per process that the installed XlsxWriter
writes the same XML for the same cells; if anything differs, plain worksheets are used and the
run's log says why. Its text is escaped as XlsxWriter escapes it, after `safe.cell_text` (the
one escaping path of every output, see safe.py).
`close_workbook` deflates a workbook's parts at level 1 (see there).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import logging
import math
import os
import re
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.workbook
from defusedxml import ElementTree
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from .safe import (
    EXCEL_ESCAPE_RE,
    EXCEL_ESCAPED_RE,
    EXCEL_MAX_TEXT,
    SafeSheet,
    cell_text,
    cell_texts_ready,
    workbook_options,
    write_text,
)

log = logging.getLogger(__name__)


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
    return values if cell_texts_ready(values) else [cell_text(v) for v in values]


def cell_numbers(column: pd.Series) -> list[float]:
    """A whole column as floats (NaN for blanks and non-numbers)."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


class FastSheet(SafeSheet):
    """A worksheet that takes whole columns of cells (`put_column`) and renders them in bulk.

    XlsxWriter spends about 7 µs on each cell (the write call's checks, a cell object, the shared
    strings table, the XML writer); a branch workbook has 1,600 cells and a bank has thousands of
    branches. Columns given to `put_column` are kept as lists and rendered when the sheet is
    assembled, one list comprehension per column, as the very XML XlsxWriter itself writes in its
    `constant_memory` mode (inline strings, no row spans). `fast_cells_match` checks once per
    process, against the installed XlsxWriter, that the two are the same; if not, `add_sheet`
    gives plain worksheets (`SafeSheet`). Cells written through the usual `write_*` calls
    (titles, headers) are rendered by XlsxWriter itself and merged into the same rows.
    """

    def __init__(self) -> None:
        super().__init__()
        self._columns: list[tuple[int, int, str, list, Any]] = []
        self._rows: list[tuple[int, list[str], dict[str, Any]]] = []

    def put_rows(self, row: int, rows: list[str], last_col: int, styles: dict[str, Any]) -> None:
        """Rows downwards from `row`, each given as its cells' XML from `render_cells`, the
        leftmost cells of the row, up to column `last_col`. Their style attributes may hold
        placeholders: each key of `styles` is replaced by the style index of its format.

        This lets the same cells of many workbooks be rendered at once (see write/prerender.py).
        """
        if not rows:
            return
        if not all(key.startswith("\x01") and key.endswith("\x02") for key in styles):
            raise ValueError("put_rows: placeholders come from style_token")
        self._check_dimensions(row, 0)
        self._check_dimensions(row + len(rows) - 1, last_col)
        self._rows.append((row, rows, styles))

    def put_column(self, row: int, col: int, kind: str, values: list, fmt: Any) -> bool:
        """Cells downwards from (row, col), or False (nothing stored) where XlsxWriter's own checks
        could matter: out-of-range cells, very long strings, infinite numbers.

        `kind` is "text" (strings, '' blank), "mixed" (str, bool, int, float or None per cell) or
        any number kind (floats, NaN blank); `fmt` is one format or one per cell. Blank cells with
        a format are written (so borders and fills stay unbroken), without one they are skipped.
        """
        formats = fmt if isinstance(fmt, list) else None
        if self.constant_memory or not values or (formats is None and fmt is None):
            return False
        if formats is not None and len(formats) != len(values):
            raise ValueError("put_column: one format per value")
        last = row + len(values) - 1
        if row < 0 or col < 0 or last >= self.xls_rowmax or col >= self.xls_colmax:
            return False
        if kind == "text":
            if max(map(len, values)) > self.xls_strmax // 2:  # may need UTF-16 truncation
                return False
        elif kind == "mixed":
            if not all(map(_plain_cell, values)):
                return False
        elif any(map(math.isinf, values)):  # XlsxWriter writes those as error formulas
            return False
        self._check_dimensions(row, col)
        self._check_dimensions(last, col)
        self._columns.append((row, col, kind, values, fmt))
        return True

    def _write_rows(self) -> None:
        if not self._columns and not self._rows:
            return super()._write_rows()
        first, last = self.dim_rowmin, self.dim_rowmax
        self._number_styles()
        table = self._rendered_table()
        for start in range(first, last + 1, ROWS_PER_BLOCK):  # the XML of a block at a time
            self._write_block(start, min(start + ROWS_PER_BLOCK, last + 1), table)
        self._columns, self._rows = [], []  # written: free them before the next sheet

    def _number_styles(self) -> None:
        """Give the formats their style numbers in the order of first use that writing the
        whole sheet at once gives (XlsxWriter numbers a format when first asked): pre-rendered
        rows, then columns (each column's formats in order), then the usual cells."""
        for _, _, styles in self._rows:
            for fmt in styles.values():
                fmt._get_xf_index()
        for _, _, _, _, fmt in self._columns:
            for f in fmt if isinstance(fmt, list) else [fmt]:
                if f:
                    f._get_xf_index()

    def _rendered_table(self) -> dict[int, dict[int, str]]:
        """The cells of the usual write calls (titles, headers), as XlsxWriter renders them."""
        out: dict[int, dict[int, str]] = {}
        fh = self.fh
        for row, cols in list(self.table.items()):
            for col, cell in cols.items():
                self.fh = io.StringIO()
                try:
                    super()._write_cell(row, col, cell)
                    out.setdefault(row, {})[col] = self.fh.getvalue()
                finally:
                    self.fh = fh
        return out

    def _write_block(self, first: int, stop: int, table: dict[int, dict[int, str]]) -> None:
        """The rows first..stop-1: each cell rendered independently of the others, so a sheet
        written block by block is the same XML as written at once, without holding the whole
        sheet's cells as text (a bank's ranking sheet: hundreds of MB)."""
        n = stop - first
        grid: dict[int, list[str]] = {-1: [""] * n}  # every row of the block, even if empty
        for row, rows, styles in self._rows:  # leftmost cells: sorted before column 0
            a, b = max(row, first), min(row + len(rows), stop)
            if a >= b:
                continue
            text = "\x00".join(rows[a - row : b - row])
            for key, fmt in styles.items():
                text = text.replace(key, str(fmt._get_xf_index()))
            cells = grid.setdefault(-1, [""] * n)
            cells[a - first : b - first] = text.split("\x00")
        for row, col, kind, values, fmt in self._columns:
            a, b = max(row, first), min(row + len(values), stop)
            if a >= b:
                continue
            part = fmt[a - row : b - row] if isinstance(fmt, list) else fmt
            cells = grid.setdefault(col, [""] * n)
            cells[a - first : b - first] = _render(a, col, kind, values[a - row : b - row], part)
        for row in range(first, stop):
            for col, xml in table.get(row, {}).items():
                grid.setdefault(col, [""] * n)[row - first] = xml
        fh = self.fh
        rows_xml = map("".join, zip(*(grid.pop(c) for c in sorted(grid)), strict=True))
        for row, xml in enumerate(rows_xml, first):
            info = self.row_info.get(row)
            if xml and info is None:  # what _write_row writes for a row without attributes
                fh.write(f'<row r="{row + 1}">{xml}</row>')
            elif xml:
                self._write_row(row, None, info)
                fh.write(xml)
                fh.write("</row>")
            elif info is not None or row in self.comments:
                self._write_empty_row(row, None, info)


ROWS_PER_BLOCK = 5000  # rows of a FastSheet rendered as XML at once


def style_token(n: int) -> str:
    """A placeholder for a style index in pre-rendered cells (`FastSheet.put_rows`). Control
    characters never reach rendered text (they are escaped as _xHHHH_), so it cannot clash."""
    return f"\x01{n}\x02"


def _plain_cell(v: Any) -> bool:
    """A value the mixed renderer writes as XlsxWriter would (no infinities, no other types)."""
    if isinstance(v, str):
        return len(v) <= EXCEL_MAX_TEXT // 2
    return v is None or isinstance(v, bool | int) or (isinstance(v, float) and not math.isinf(v))


# Text that the plain path below must handle: XML's special characters, what XlsxWriter escapes
# as _xHHHH_ (control characters, U+FFFE, U+FFFF), surrogates (see `cell_text`), Excel's own
# _xHHHH_ escapes; and leading or trailing whitespace, tested as XlsxWriter tests it.
_ESCAPED_CHAR_RE = re.compile("[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL_RE = re.compile(f"{_ESCAPED_CHAR_RE.pattern}|{EXCEL_ESCAPE_RE.pattern}")
_PRESERVE_RE = re.compile(r"^\s|\s$")  # XlsxWriter's _preserve_whitespace


def _any_special(values: list[str]) -> bool:
    """Whether any text of a column needs more than copying into the XML (see `_text_xml`):
    one scan of them all for characters to escape, then each value's ends for whitespace."""
    texts = [v for v in values if v]
    joined = "\n".join(texts)
    return bool(
        _ESCAPED_CHAR_RE.search(joined)
        or ("_x" in joined and EXCEL_ESCAPE_RE.search(joined))
        or any(t[0].isspace() or t[-1].isspace() for t in texts)
    )


def _text_xml(text: str) -> tuple[str, str]:
    """(attribute of <t>, escaped text) of `cell_text(text)` exactly as XlsxWriter's inline
    strings have them; and where XlsxWriter would copy "<r>…</r>" into the XML, escaped."""
    if not _SPECIAL_RE.search(text) and not _PRESERVE_RE.search(text):
        return "", text
    text = excel_escape(cell_text(text))
    preserve = ' xml:space="preserve"' if _PRESERVE_RE.search(text) else ""
    return preserve, text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excel_escape(text: str) -> str:
    """Excel's escapes in text, as XlsxWriter (3.2 on) writes them in cells: `_xHHHH_` look-alikes
    get their underscore escaped (`_x005F_x0041_`), then control characters (not tab or LF),
    U+FFFE and U+FFFF become `_xHHHH_`."""
    if "_x" in text:
        text = EXCEL_ESCAPE_RE.sub(r"_x005F\g<0>", text)
    return EXCEL_ESCAPED_RE.sub(_escape_char, text)


def _escape_char(match: re.Match) -> str:
    return f"_x{ord(match.group()):04X}_"


def _render(row: int, col: int, kind: str, values: list, fmt: Any) -> list[str]:
    """The <c> elements of one column ('' where no cell is written)."""
    n = len(values)
    refs = _refs(col, row, n) if n <= _REFS_CACHED else _refs.__wrapped__(col, row, n)
    if isinstance(fmt, list):
        index = {id(f): f' s="{f._get_xf_index()}"' for f in {id(f): f for f in fmt}.values() if f}
        index[id(None)] = ""
        styles = [index[id(f)] for f in fmt]
    else:
        styles = [f' s="{fmt._get_xf_index()}"'] * len(values)
    return render_cells(kind, refs, styles, values)


def render_cells(kind: str, refs: Sequence[str], styles: Sequence[str], values: list) -> list[str]:
    """The <c> elements of cells ('' where no cell is written: a blank without a style).

    `refs` are the cells' openings (`<c r="B3"`), `styles` their style attributes (` s="5"` or
    ''); `kind` and `values` as for `FastSheet.put_column`.
    """
    if kind == "text":
        if _any_special(values):
            return [
                (_string(ref, s, v) if v else f"{ref}{s}/>" if s else "")
                for ref, s, v in zip(refs, styles, values, strict=True)
            ]
        return [  # the usual case: no value needs escaping (checked for the column at once)
            (f'{ref}{s} t="inlineStr"><is><t>{v}</t></is></c>' if v else f"{ref}{s}/>" if s else "")
            for ref, s, v in zip(refs, styles, values, strict=True)
        ]
    if kind == "mixed":
        return list(map(_mixed, refs, styles, values))
    return [
        f"{ref}{s}><v>{v:.16G}</v></c>" if v == v else f"{ref}{s}/>" if s else ""
        for ref, s, v in zip(refs, styles, values, strict=True)
    ]


_REFS_CACHED = 500  # columns of up to this many cells: the usual branch sheet, cached


@functools.lru_cache(maxsize=4096)
def _refs(col: int, row: int, n: int) -> tuple[str, ...]:
    """The opening `<c r="B3"` of `n` cells down from (row, col): the same few column shapes
    come back in every branch workbook."""
    letter = xl_col_to_name(col)
    return tuple(f'<c r="{letter}{r}"' for r in range(row + 1, row + 1 + n))


def _string(ref: str, s: str, text: str) -> str:
    preserve, text = _text_xml(text)
    return f'{ref}{s} t="inlineStr"><is><t{preserve}>{text}</t></is></c>'


def _mixed(ref: str, s: str, v: Any) -> str:
    if v is None or v == "" or (isinstance(v, float) and v != v):
        return f"{ref}{s}/>" if s else ""
    if isinstance(v, str):
        return _string(ref, s, v)
    if isinstance(v, bool):
        return f'{ref}{s} t="b"><v>{int(v)}</v></c>'
    return f"{ref}{s}><v>{v:.16G}</v></c>"


# Cells of the check: among them whatever XlsxWriter escapes (control characters, CR, U+FFFE,
# U+FFFF, _xHHHH_ look-alikes), what it leaves (tab, LF, DEL, C1, quotes, direction marks, astral
# characters), what `cell_text` replaces (a lone surrogate) and whitespace at either end.
_CHECK_TEXT = [
    "甲<&\"'", "", "  空格 ", "乙\n丙", "_x0041_", "甲<&\"'", "\x00\x07\x1f\r\t", "\ufffe名\uffff",
    "_x005F_x0000_\x01_xABCD", "名\u200f\u202e😀", " \x0b", "a>b]]>", "\x7f\x85\ud800", "\t",
]  # fmt: skip
_CHECK_NUMBERS = [58.57, math.nan, 1e21, -0.1, 7.0, 1 / 3]
_CHECK_MIXED = [None, "文本", 3, 2.5, True, False, "\uffff ", "_x0000_"]


@functools.cache
def fast_cells_match() -> bool:
    """Whether `FastSheet` writes the same sheet data as the installed XlsxWriter; if not, the
    log (the run's kpi-excel.log) says why, once per process."""
    why = fast_cells_differ()
    if why is not None:
        log.warning("fast sheet writer off, plain XlsxWriter worksheets are used: %s", why)
    return why is None


def fast_cells_differ() -> str | None:
    """Why `FastSheet` cannot be used with the installed XlsxWriter, or None if it can.

    The same cells go into a `constant_memory` workbook through XlsxWriter's own calls, row by
    row, and into a `FastSheet` by columns; both sheets must be well-formed XML and their
    <dimension> and <sheetData> the same.
    """
    version = getattr(xlsxwriter, "__version__", "?")
    try:
        plain, fast = (_check_sheet(fast) for fast in (False, True))
    except Exception as exc:  # noqa: BLE001 - whatever changed inside XlsxWriter: use it as it is
        return f"the check with XlsxWriter {version} failed: {exc!r}"
    for name, (xml, parts) in (("XlsxWriter's", plain), ("the fast", fast)):
        try:
            ElementTree.fromstring(xml.encode("utf-8"))
        except ElementTree.ParseError as exc:
            return f"{name} sheet XML (XlsxWriter {version}) is not well-formed: {exc}"
        if len(parts) != 2:
            return f"{name} sheet XML (XlsxWriter {version}) has no <dimension> or <sheetData>"
    a, b = "".join(plain[1]), "".join(fast[1])
    if a == b:
        return None
    at = len(os.path.commonprefix([a, b]))
    return (
        f"its XML differs from XlsxWriter {version}'s at character {at}: "
        f"{a[max(0, at - 40) : at + 40]!r} (XlsxWriter) != {b[max(0, at - 40) : at + 40]!r}"
    )


def _check_sheet(fast: bool) -> tuple[str, list[str]]:
    """(the sheet's XML, its <dimension> and <sheetData>) written by FastSheet or XlsxWriter."""
    buffer = io.BytesIO()
    options = {**workbook_options(), "constant_memory": not fast, "in_memory": fast}
    wb = xlsxwriter.Workbook(buffer, options)
    fmts = [wb.add_format({"border": 1, "num_format": "0.00"}), wb.add_format({"bold": True})]
    for f in fmts:  # the same style numbers in both workbooks, whatever the order of use
        f._get_xf_index()

    def per_row(values: list) -> list:
        return [fmts[i % 2] for i in range(len(values))]

    columns = [
        ("text", _CHECK_TEXT, fmts[0]),
        ("score", _CHECK_NUMBERS, per_row(_CHECK_NUMBERS)),
        ("mixed", _CHECK_MIXED, fmts[1]),
        ("text", _CHECK_TEXT, per_row(_CHECK_TEXT)),
    ]
    if fast:
        ws = wb.add_worksheet(worksheet_class=FastSheet)
        ws.set_row(2, 30)
        for c, (kind, values, fmt) in enumerate(columns):
            if not ws.put_column(1, c, kind, values, fmt):
                raise ValueError(f"put_column declined check column {c}")
    else:
        ws = wb.add_worksheet()
        ws.set_row(2, 30)
        for i in range(max(len(values) for _, values, _ in columns)):
            for c, (kind, values, fmt) in enumerate(columns):
                if i < len(values):
                    fmt = fmt[i] if isinstance(fmt, list) else fmt
                    _write_plain(ws, 1 + i, c, kind, values[i], fmt)
    wb.close()
    with zipfile.ZipFile(buffer) as z:
        text = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    return text, re.findall(r"<dimension [^>]*>|<sheetData>.*</sheetData>", text, re.S)


def _write_plain(ws: Worksheet, row: int, col: int, kind: str, v: Any, fmt: Any) -> None:
    """One cell through XlsxWriter's own calls, as `put_column` means it."""
    if v is None or v == "" or (isinstance(v, float) and v != v):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(v, str):
        write_text(ws, row, col, v, fmt)
    elif isinstance(v, bool):
        ws.write_boolean(row, col, v, fmt)
    else:
        ws.write_number(row, col, v, fmt)


def write_column(ws, row: int, col: int, kind: str, values: list, fmt) -> None:
    """Cells downwards from (row, col) as `FastSheet.put_column` takes them; through
    XlsxWriter's own calls on a plain worksheet or where `put_column` declines."""
    if isinstance(ws, FastSheet) and ws.put_column(row, col, kind, values, fmt):
        return
    formats = fmt if isinstance(fmt, list) else None
    for i, v in enumerate(values):
        f = formats[i] if formats is not None else fmt
        if f is None and (v is None or v == "" or (isinstance(v, float) and v != v)):
            continue
        _write_plain(ws, row + i, col, kind, v, f)


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


def free_written() -> None:
    """Free the workbooks written since the last call. An XlsxWriter workbook's objects point
    at each other, so reference counting cannot free them and, under `no_cyclic_gc`, a few
    hundred workbooks written in a row would all stay in memory (megabytes each). Only the
    youngest generation is scanned: what was made since the last collection, not the run's
    tables."""
    gc.collect(0)


class _QuickZipInfo(zipfile.ZipInfo):
    """A zip member deflated at level 1 rather than zlib's default 6."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compresslevel = ZIP_LEVEL


class _QuickZipFile(zipfile.ZipFile):
    """A zip file whose members from files on disk are deflated at level 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compresslevel = ZIP_LEVEL


ZIP_LEVEL = 1  # deflate level of the parts of the workbooks a run writes


def close_workbook(wb: xlsxwriter.Workbook) -> None:
    """`wb.close()`, deflating its parts at level 1 instead of 6.

    The parts of an xlsx are repetitive XML: level 1 makes files about 15 % larger and deflates
    them three to four times faster, which is a tenth of a whole run. XlsxWriter has no option
    for it; it makes the `ZipFile` and (with `in_memory`) each part's `ZipInfo` itself, so its
    module's two names are swapped for this process for the length of the call.
    """
    module = xlsxwriter.workbook
    if module.ZipInfo is not zipfile.ZipInfo or module.ZipFile is not zipfile.ZipFile:
        wb.close()
        return
    module.ZipInfo, module.ZipFile = _QuickZipInfo, _QuickZipFile
    try:
        wb.close()
    finally:
        module.ZipInfo, module.ZipFile = zipfile.ZipInfo, zipfile.ZipFile


def add_sheet(wb: xlsxwriter.Workbook, name: str):
    """A worksheet of ours: a `FastSheet` if it writes what XlsxWriter would, else a
    `SafeSheet` (XlsxWriter's own cell writing, text through safe.py all the same)."""
    return wb.add_worksheet(name, worksheet_class=FastSheet if fast_cells_match() else SafeSheet)
