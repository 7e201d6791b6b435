"""The three sheets of a branch workbook: 考核结果, 计分说明 and 原始数据.

Every text that comes from a branch (names, remarks, raw cells, problem messages) is written with
`write_string` and passed through `cell_text`; nothing a branch typed becomes a formula or a link.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string

from ..explain import REFUSED_LABEL
from ..numbers import show
from ..read import WorkbookData
from ..rulebook import Rulebook
from ..schema import DATA_SHEET, Contract
from .fastsheet import FastSheet, write_column
from .rows import SheetRows, explain_columns, result_columns
from .safe import cell_text, cell_texts_ready, write_text
from .textfit import (
    fit_width,
    fit_widths,
    line_counts,
    number_texts,
    row_height,
    row_heights,
    wrap_rows,
)

SHEET_RESULTS = "考核结果"
SHEET_EXPLAIN = "计分说明"
SHEET_RAW = "原始数据"
RAW_ROW_LABEL = "Excel行号"

# Row fills by outcome key (rulebook `outcomes`); none for 正常.
OUTCOME_FILLS = {"warning": "#FFEB84", "demote": "#F8B26A", "dismiss": "#FF7C80"}
REFUSED_FILL = "#D9D9D9"
# 原始数据: cells with a problem (Excel's own "bad" and "neutral" styles).
LEVEL_STYLE = {"refuse_row": ("#FFC7CE", "#9C0006"), "note": ("#FFEB9C", "#9C5700")}
HEADER_FILL = "#DDEBF7"
EXPLAIN_FILL = "#F2F2F2"  # 计分说明: every other person shaded
EXPLAIN_WHO = ("emp_id", "name", "role_label")  # 计分说明's first columns
HEAD_ROW = 2  # title, note, then the header row
WRAP_WIDTH = 20  # columns at least this wide wrap their text
FIT_MAX = 18  # a column that does not wrap is widened to its longest text, up to this
WIDEN_MAX = 100  # a wrapped column is widened up to this for a text too long for one row
TITLE_HEIGHT = 21  # the 14-point title row
RAW_MIN, RAW_MAX = 10, 30  # 原始数据: columns fitted to their cells, wider text wrapped
COMMENT_UNITS = 70  # a cell comment three times the default width, in 8-point text
_CELL_RE = re.compile(r"^([A-Z]{1,3})([0-9]+)$")


class Formats:
    """Cell formats made once per workbook and shared by key."""

    def __init__(self, wb: Any, decimals: int) -> None:
        self.wb = wb
        self.numbers = {
            "pct": "0.00%",
            "score": "0." + "0" * decimals if decimals > 0 else "0",
            "int": "0",
        }
        self._cache: dict[tuple, Any] = {}
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"font_color": "#595959"})

    def get(self, kind: str = "text", fill: str | None = None, **extra: Any) -> Any:
        key = (kind, fill, tuple(sorted(extra.items())))
        if key not in self._cache:
            props: dict[str, Any] = {"border": 1, "border_color": "#BFBFBF", "valign": "top"}
            if kind in self.numbers:
                props["num_format"] = self.numbers[kind]
            if fill:
                props["bg_color"] = fill
            props.update(extra)
            self._cache[key] = self.wb.add_format(props)
        return self._cache[key]

    def header(self) -> Any:
        return self.get("text", HEADER_FILL, bold=True, text_wrap=True, align="center")


@functools.lru_cache(maxsize=256)
def header_height(cells: tuple[tuple[str, float], ...]) -> float | None:
    """`row_height` of a header row: the same few in every branch's workbook."""
    return row_height(cells)


def print_ready(ws, header_last_row: int, freeze: tuple[int, int]) -> None:
    """A4 landscape, one page wide, title and header rows on every page."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, header_last_row)
    ws.freeze_panes(*freeze)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页,共 &N 页")


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def write_results(ws, fm: Formats, rows: SheetRows, title: str, rules: Rulebook) -> None:
    fills = {rules.outcomes[k]: c for k, c in OUTCOME_FILLS.items()} if rules.flags else {}
    n, refused = len(rows), sum(rows.refused)
    write_text(ws, 0, 0, cell_text(title), fm.title)
    ws.set_row(0, TITLE_HEIGHT)
    ws.write_string(1, 0, f"已计分 {n - refused} 人,未计分 {refused} 人。颜色:", fm.note)
    legend = [(rules.outcomes[k], c) for k, c in OUTCOME_FILLS.items() if rules.flags]
    legend.append(("未计分", REFUSED_FILL))
    for j, (label, colour) in enumerate(legend):
        ws.write_string(1, 4 + j, label, fm.get("text", colour, align="center"))
    head = HEAD_ROW
    columns = result_columns(rules)
    heights = None
    widths = rows.widths.get(SHEET_RESULTS)  # those the rendered rows were measured at
    if widths is None:
        widths, heights = results_layout(columns, rows)
    widths = _fitted(columns, rows, widths, rules.decimals)
    for c, (_, label, _, _) in enumerate(columns):
        ws.write_string(head, c, label, fm.header())
        ws.set_column(c, c, widths[c])
    ws.set_row(head, header_height(tuple(zip([c[1] for c in columns], widths, strict=True))))
    row_fills = [
        REFUSED_FILL if refused else fills.get(outcome)
        for refused, outcome in zip(rows.refused, rows.outcome, strict=True)
    ]
    if _put_rendered(ws, fm, rows, SHEET_RESULTS, head + 1, len(columns) - 1, row_fills):
        _results_end(ws, head, n, columns)
        return
    table = {  # the format of each column for each row fill in use, made once
        fill: [fm.get(kind, fill, text_wrap=True) if width >= WRAP_WIDTH else fm.get(kind, fill)
               for _, _, kind, width in columns]
        for fill in dict.fromkeys([None, *row_fills])
    }  # fmt: skip
    for c, (key, _, kind, _) in enumerate(columns):
        values = rows.cells[key]
        blank = [v == "" or v != v for v in values]  # '' or NaN
        formats = [  # a blank cell is written only where the row has a fill
            None if is_blank and fill is None else table[fill][c]
            for is_blank, fill in zip(blank, row_fills, strict=True)
        ]
        if n:
            write_column(ws, head + 1, c, kind, values, formats)
    if heights is None:
        heights = row_heights(wrapped_results(columns, rows, widths), n)
    _set_heights(ws, head + 1, heights)
    _results_end(ws, head, n, columns)


def _wraps(kind: str, width: float) -> bool:
    return kind == "text" and width >= WRAP_WIDTH


def results_layout(columns: list, rows: SheetRows) -> tuple[list[float], list[float | None]]:
    """The widths of 考核结果's columns that its rows' heights are measured at (a wrapped
    column widened if its longest text would not fit in the tallest row), and the heights."""
    wrapped = [c for c, (_, _, kind, width) in enumerate(columns) if _wraps(kind, width)]
    widths = [float(col[3]) for col in columns]
    wider, heights = wrap_rows(
        [(rows.cells[columns[c][0]], widths[c]) for c in wrapped], len(rows), WIDEN_MAX
    )
    for c, width in zip(wrapped, wider, strict=True):
        widths[c] = width
    return widths, heights


def wrapped_results(
    columns: list, rows: SheetRows, widths: list[float]
) -> list[tuple[list[str], float]]:
    """The wrapped text columns of 考核结果 (each row's text, the column's width)."""
    return [
        (rows.cells[key], width)
        for (key, _, kind, base), width in zip(columns, widths, strict=True)
        if _wraps(kind, base)
    ]


def _fitted(columns: list, rows: SheetRows, widths: list[float], decimals: int) -> list[float]:
    """The widths of 考核结果's columns: a column that does not wrap is widened to show its
    longest text or number on one line (up to FIT_MAX), so that no name, role or grade is cut
    and no number shows as ###."""
    places = {"pct": 2, "score": decimals, "int": 0}  # as Formats.numbers
    fitted = [
        (
            rows.cells[key]
            if kind == "text"
            else number_texts(rows.cells[key], places.get(kind), kind == "pct"),
            width,
            max(width, FIT_MAX),
        )
        for (key, _, kind, base), width in zip(columns, widths, strict=True)
        if not _wraps(kind, base)
    ]
    out = iter(fit_widths(fitted))
    return [
        width if _wraps(kind, base) else next(out)
        for (_, _, kind, base), width in zip(columns, widths, strict=True)
    ]


def _results_end(ws, head: int, n: int, columns: list) -> None:
    """Data bars on 综合得分, the filter, print setup."""
    last = head + n
    total = next((i for i, col in enumerate(columns) if col[0] == "total"), None)
    if n and total is not None:
        ws.conditional_format(
            head + 1,
            total,
            last,
            total,
            {
                "type": "data_bar",
                "bar_color": "#5B9BD5",
                "bar_solid": True,
                "min_type": "num",
                "min_value": 0,
                "max_type": "max",
            },
        )
    if n:
        ws.autofilter(head, 0, last, len(columns) - 1)
    print_ready(ws, head, (head + 1, 2))


def _put_rendered(
    ws, fm: Formats, rows: SheetRows, sheet: str, first: int, last_col: int, fills: list
) -> bool:
    """Put the person rows pre-rendered for `sheet` (write/prerender.py), if there are any and
    the sheet takes them; True when done."""
    if sheet not in rows.xml or not isinstance(ws, FastSheet):
        return False
    xml, heights = rows.xml[sheet]
    used = set(fills)
    styles = {
        token: fm.get(kind, fill, **dict(extra))
        for token, (kind, fill, extra) in rows.styles[sheet].items()
        if fill is None or fill in used
    }
    ws.put_rows(first, xml, last_col, styles)
    for i, height in enumerate(heights):
        if height is not None:
            ws.set_row(first + i, height)
    return True


def _set_heights(ws, first: int, heights: list[float | None]) -> None:
    for i, height in enumerate(heights):
        if height is not None:
            ws.set_row(first + i, height)


def explain_widths(rules: Rulebook) -> list[tuple[str, float]]:
    """(header, width) of the 计分说明 columns: who, then `explain_columns`; the role column as
    wide as the rulebook's longest role label."""
    roles = [label for role in rules.roles.values() for label in role.labels]
    return [
        ("员工编号", 10.0),
        ("姓名", 10.0),
        ("岗位", fit_width(roles, 12, FIT_MAX)),
        *[(h, float(w)) for h, _, w in explain_columns(rules)],
    ]


def explain_layout(
    rules: Rulebook, texts: list[list[str]]
) -> tuple[list[tuple[str, float]], list[float | None]]:
    """`explain_widths` with a column widened if its longest text (of `texts`, see
    explain_texts) would not fit in the tallest row, and the rows' heights."""
    columns = explain_widths(rules)
    rows = len(texts[0]) if texts else 0
    widths, heights = wrap_rows(
        [(column, w) for (_, w), column in zip(columns, texts, strict=True)], rows, WIDEN_MAX
    )
    return [(label, w) for (label, _), w in zip(columns, widths, strict=True)], heights


def explain_texts(rows: SheetRows) -> list[list[str]]:
    """The texts of 计分说明's columns, who first: a refused person has the reason in the first
    item's column and nothing else."""
    assert rows.explain is not None
    errors = rows.cells["errors"]
    out = [rows.cells[key] for key in EXPLAIN_WHO]
    for j, texts in enumerate(rows.explain):
        texts = list(texts)
        for i in (i for i in range(len(rows)) if rows.refused[i]):
            texts[i] = (
                cell_text(f"{REFUSED_LABEL}:{errors[i] or '该行未通过校验'}") if j == 0 else ""
            )
        out.append(texts)
    return out


def write_explain(ws, fm: Formats, rows: SheetRows, title: str, rules: Rulebook) -> None:
    """计分说明 from `rows.explain` (see rows.prepare)."""
    write_text(ws, 0, 0, cell_text(f"{title} 计分说明"), fm.title)
    ws.set_row(0, TITLE_HEIGHT)
    ws.write_string(
        1,
        0,
        f"依据《{rules.name}》;每项得分四舍五入保留{rules.decimals}位小数,"
        "业务得分为各项得分之和,综合得分 = 业务得分 − 行为规范扣分。",
        fm.note,
    )
    head = HEAD_ROW
    n = len(rows)
    texts = explain_texts(rows) if n and rows.explain is not None else None
    heights = None
    if SHEET_EXPLAIN in rows.widths:  # the widths the rendered rows were measured at
        measured = rows.widths[SHEET_EXPLAIN]
        columns = [(c[0], w) for c, w in zip(explain_widths(rules), measured, strict=True)]
    elif texts is not None:
        columns, heights = explain_layout(rules, texts)
    else:
        columns = explain_widths(rules)
    for c, (label, width) in enumerate(columns):
        ws.write_string(head, c, label, fm.header())
        ws.set_column(c, c, width)
    ws.set_row(head, header_height(tuple(columns)))
    print_ready(ws, head, (head + 1, 2))
    if texts is None:
        return
    last_col = len(columns) - 1
    if _put_rendered(ws, fm, rows, SHEET_EXPLAIN, head + 1, last_col, [None, EXPLAIN_FILL]):
        return
    plain, shaded = (
        fm.get("text", None, text_wrap=True),
        fm.get("text", EXPLAIN_FILL, text_wrap=True),
    )
    stripe = [shaded if i % 2 else plain for i in range(n)]
    for c, column in enumerate(texts):
        formats = (
            stripe
            if c < len(EXPLAIN_WHO)
            else [f if t else None for f, t in zip(stripe, column, strict=True)]
        )
        write_column(ws, head + 1, c, "text", column, formats)
    if heights is None:
        heights = row_heights(zip(texts, [w for _, w in columns], strict=True), n)
    _set_heights(ws, head + 1, heights)


def _raw_columns(
    book: WorkbookData, contract: Contract
) -> list[tuple[pd.DataFrame, int, str, str]]:
    """(frame, column position, header label, source letter) in the order of the branch's sheet.

    Contract columns come in their sheet order; the columns outside the template follow.
    """
    keyed = sorted(book.letters.items(), key=lambda kv: column_index_from_string(kv[1]))
    cols = [
        (book.frame, book.frame.columns.get_loc(k), contract.by_key[k].label, letter)
        for k, letter in keyed
        if k in book.frame.columns and k in contract.by_key
    ]
    return cols + [(book.extras, j, str(name), "") for j, name in enumerate(book.extras.columns)]


def _header(label: str, letter: str) -> str:
    return cell_text(f"{label}\n({letter}列)" if letter else f"{label}\n(模板外的列)")


def _cell_problems(book: WorkbookData, problems: pd.DataFrame | list[dict] | None) -> list[dict]:
    """The problems of this file as records (`problems`: the run's table, or records)."""
    if problems is None or not len(problems):
        return []
    if isinstance(problems, list):
        return [p for p in problems if p.get("file") == book.file]
    return problems[problems["file"] == book.file].to_dict("records")


def _raw_column(values: list) -> tuple[str, list]:
    """(kind, cells) of one column as the branch submitted it, for `write_column`.

    Most columns hold only numbers (and empty cells, read as '') or only plain text: those are
    passed on whole; any other column goes cell by cell through `_raw_cell`.
    """
    kinds = set(map(type, values))
    if kinds <= {float, int, str}:
        if str not in kinds or not any(v for v in values if v.__class__ is str):
            numbers = [math.nan if v.__class__ is str else float(v) for v in values]
            if not any(map(math.isinf, numbers)):
                return "number", numbers
        elif kinds == {str}:
            if cell_texts_ready(values):
                return "text", values
    return "mixed", [_raw_cell(v) for v in values]


def _shown(kind: str, values: list) -> list[str]:
    """The texts Excel shows for cells of `_raw_column`, in General format (texts as they are;
    one per cell, '' for blanks): what the column's width and its rows' heights are fitted to."""
    if kind == "text":
        return values
    if kind == "number":
        return [f"{v:.10G}" if v == v else "" for v in values]
    out = []
    for v in values:
        if v is None or v == "" or (isinstance(v, float) and v != v):
            out.append("")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, bool):
            out.append("TRUE" if v else "FALSE")
        else:
            out.append(f"{v:.10G}")
    return out


def _raw_cell(v: Any) -> Any:
    """A cell as the branch submitted it: numbers as numbers, everything else as text."""
    if _blank(v):
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.number) and np.isfinite(float(v)):
        return float(v)
    return cell_text(v if isinstance(v, str) else show(v))


def _marks(
    book: WorkbookData, problems: pd.DataFrame | list[dict] | None, cols: list, head: int
) -> tuple[dict[tuple[int, int], list[tuple[str, str]]], list[str]]:
    """Problems of this file by (sheet row, sheet column); those on no shown cell go to a list."""
    if problems is None or not len(problems):
        return {}, []
    col_of = {letter: c for c, (_, _, _, letter) in enumerate(cols, start=1) if letter}
    row_of = {int(x): head + 1 + i for i, x in enumerate(book.frame["_row"])}
    row_of[book.raw_header_row] = head
    marks: dict[tuple[int, int], list[tuple[str, str]]] = {}
    loose: list[str] = []
    for p in _cell_problems(book, problems):
        cell = str(p.get("cell") or "")
        on_data = p.get("sheet", DATA_SHEET) == DATA_SHEET
        m = _CELL_RE.match(cell)
        line = re.match(r"^第([0-9]+)行$", cell)
        where = None
        if on_data and m and int(m.group(2)) in row_of and m.group(1) in col_of:
            where = (row_of[int(m.group(2))], col_of[m.group(1)])
        elif on_data and line and int(line.group(1)) in row_of:
            where = (row_of[int(line.group(1))], 0)
        message = str(p.get("message") or "")
        if where is None:
            loose.append(message)
        else:
            marks.setdefault(where, []).append((str(p.get("level")), message))
    return marks, loose


def write_raw(
    ws,
    fm: Formats,
    book: WorkbookData,
    problems: pd.DataFrame | list[dict] | None,
    contract: Contract,
) -> None:
    cols = _raw_columns(book, contract)
    head = HEAD_ROW
    marks, loose = _marks(book, problems, cols, head)
    n = len(book.frame)
    sources: list[list] = [book.frame["_row"].tolist()] + [[] for _ in cols]
    if n:
        data = {id(book.frame): book.frame.to_numpy(dtype=object).T.tolist()}
        if len(book.extras.columns):
            data[id(book.extras)] = book.extras.to_numpy(dtype=object).T.tolist()
        sources[1:] = [data[id(f)][j] for f, j, _, _ in cols]
    cells = [_raw_column(column) for column in sources]
    shown = [_shown(kind, values) for kind, values in cells]
    widest = fit_widths([(texts, 0, math.inf) for texts in shown])
    wrap = [c > 0 and w > RAW_MAX for c, w in enumerate(widest)]
    widths = [8.0] + [min(max(w, RAW_MIN), RAW_MAX) for w in widest[1:]]
    wrapped = [c for c, wraps in enumerate(wrap) if wraps]
    wider, heights = wrap_rows([(shown[c], RAW_MAX) for c in wrapped], n, WIDEN_MAX)
    for c, width in zip(wrapped, wider, strict=True):
        widths[c] = width

    def style(at: tuple[int, int], base: Any) -> Any:
        found = marks.get(at)
        if not found:
            return base
        level = "refuse_row" if any(lv != "note" for lv, _ in found) else "note"
        fill, font = LEVEL_STYLE[level]
        if base is fm.header():
            return fm.get("text", fill, font_color=font, bold=True, text_wrap=True, align="center")
        if wrap[at[1]]:
            return fm.get("text", fill, font_color=font, text_wrap=True)
        return fm.get("text", fill, font_color=font)

    write_text(ws, 0, 0, cell_text(f"{book.file} 「{DATA_SHEET}」表原样内容"), fm.title)
    ws.set_row(0, TITLE_HEIGHT)
    ws.write_string(
        1,
        0,
        "红色:该行因此未计分;黄色:已照常读取,请核对。鼠标指向带批注(红色角标)的单元格可查看原因。",
        fm.note,
    )
    ws.write_string(head, 0, RAW_ROW_LABEL, style((head, 0), fm.header()))
    headers = [RAW_ROW_LABEL] + [_header(label, letter) for _, _, label, letter in cols]
    for c, label in enumerate(headers):
        if c:
            write_text(ws, head, c, label, style((head, c), fm.header()))
        ws.set_column(c, c, widths[c])
    ws.set_row(head, row_height(zip(headers, widths, strict=True)))
    int_fmt, plain, wrapped = fm.get("int"), fm.get(), fm.get(text_wrap=True)
    if n:
        for c, (kind, values) in enumerate(cells):
            base = int_fmt if c == 0 else wrapped if wrap[c] else plain
            formats: Any = base
            if any(col == c for _, col in marks):
                formats = [style((head + 1 + i, c), base) for i in range(n)]
            write_column(ws, head + 1, c, kind, values, formats)
        _set_heights(ws, head + 1, heights)
    for (r, c), found in marks.items():
        text = cell_text("\n".join(msg for _, msg in found))
        lines = line_counts([text], COMMENT_UNITS)[0]
        ws.write_comment(r, c, text, {"x_scale": 3, "y_scale": max(1.0, (lines + 1) / 5)})
    # 批注 do not print: the list below the table says the same on paper, each message across
    # the table's width
    listed = [msg for at in sorted(marks) for _, msg in marks[at]] + loose
    if listed:
        r = head + n + 2
        last, across = len(headers) - 1, sum(widths)
        note = fm.wb.add_format({"font_color": "#595959", "text_wrap": True, "valign": "top"})
        lines = [f"本文件的问题与提示(共 {len(listed)} 条):", *map(cell_text, listed)]
        for j, text in enumerate(lines):
            if last:
                ws.merge_range(r + j, 0, r + j, last, "", note)
            write_text(ws, r + j, 0, text, note)
            height = row_height([(text, across)])
            if height is not None:
                ws.set_row(r + j, height)
    print_ready(ws, head, (head + 1, 1))
