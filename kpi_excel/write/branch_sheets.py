"""The three sheets of a branch workbook: 考核结果, 计分说明 and 原始数据.

Every text that comes from a branch (names, remarks, raw cells, problem messages) is written with
`write_string` and passed through `cell_text`; nothing a branch typed becomes a formula or a link.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string

from ..explain import REFUSED_LABEL, explain_frame
from ..numbers import show
from ..periods import Period
from ..read import WorkbookData
from ..rulebook import Rulebook
from ..schema import DATA_SHEET, FIELD_BY_KEY
from .safe import cell_text

SHEET_RESULTS = "考核结果"
SHEET_EXPLAIN = "计分说明"
SHEET_RAW = "原始数据"
RAW_ROW_LABEL = "Excel行号"

# (column key in the people table, Chinese header, kind, width)
RESULT_COLUMNS = [
    ("emp_id", "员工编号", "text", 9),
    ("name", "姓名", "text", 6.5),
    ("role_label", "岗位", "text", 11),
    ("status_label", "状态", "text", 5.5),
    ("deposit_growth", "新增存款日均增幅", "pct", 7),
    ("npl_ratio", "不良率", "pct", 7),
    ("collection_rate", "收贷收息率", "pct", 7.5),
    ("score_deposit", "存款得分", "score", 6.5),
    ("score_npl", "不良率得分", "score", 6.5),
    ("score_collection", "收贷收息率得分", "score", 6.5),
    ("score_income", "中间业务收入得分", "score", 6.5),
    ("score_accounts", "新开对公基本账户得分", "score", 6.5),
    ("business_score", "业务得分", "score", 6.5),
    ("conduct_deduction", "行为规范扣分", "score", 6.5),
    ("total", "综合得分", "score", 9),
    ("grade", "考核等级", "text", 7),
    ("rank_branch", "支行内排名", "int", 5),
    ("rank_bank", "全行排名", "int", 5),
    ("outcome", "考核结论", "text", 6),
    ("recommended_level", "建议职级", "text", 11),
    ("flags_text", "预警与处理(依据条款)", "text", 28),
    ("errors", "未计分原因", "text", 24),
]
# Row fills by outcome key (rulebook `outcomes`); none for 正常.
OUTCOME_FILLS = {"warning": "#FFEB84", "demote": "#F8B26A", "dismiss": "#FF7C80"}
REFUSED_FILL = "#D9D9D9"
# 原始数据: cells with a problem (Excel's own "bad" and "neutral" styles).
LEVEL_STYLE = {"refuse_row": ("#FFC7CE", "#9C0006"), "note": ("#FFEB9C", "#9C5700")}
HEADER_FILL = "#DDEBF7"
WRAP_WIDTH = 20  # columns at least this wide wrap their text
LINE_HEIGHT = 14  # points per line of 11-point text
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


def write_value(ws, row: int, col: int, value, kind: str, fmt=None) -> None:
    """One cell: text always as a string cell, numbers as numbers, blanks left blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        ws.write_blank(row, col, None, fmt)
    elif kind == "text":
        ws.write_string(row, col, cell_text(value), fmt)
    else:
        ws.write_number(row, col, float(value), fmt)


def print_ready(ws, header_last_row: int, freeze: tuple[int, int]) -> None:
    """A4 landscape, one page wide, title and header rows on every page."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, header_last_row)
    ws.freeze_panes(*freeze)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页,共 &N 页")


def _units(text: str) -> float:
    """Approximate width of text in Excel column units (a CJK character is about two).

    Counted from the UTF-8 length: a CJK character takes 3 bytes, an ASCII one 1.
    """
    wide = (len(text.encode("utf-8")) - len(text)) // 2
    return len(text) + 0.9 * wide


def row_height(cells: list[tuple[str, float]]) -> float | None:
    """A row height that shows every wrapped line of `cells` ((text, column width) pairs).

    XlsxWriter cannot autofit, and LibreOffice keeps the default height of a written row.
    """
    lines = 1
    for text, width in cells:
        per_line = max(width - 1, 1)
        lines = max(
            lines, sum(max(1, math.ceil(_units(seg) / per_line)) for seg in text.split("\n"))
        )
    return LINE_HEIGHT * lines + 2 if lines > 1 else None


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def ordered(people: pd.DataFrame, rules: Rulebook) -> pd.DataFrame:
    """Scored people by group (rulebook order) and rank, then the refused, in sheet order."""
    if not len(people):
        return people
    groups = {g: i for i, g in enumerate(rules.groups)}
    refused = people["refused"].to_numpy(dtype=bool)
    group = people["group"].map(groups).fillna(len(groups)).to_numpy(dtype=float)
    rank = pd.to_numeric(people.get("rank_branch", np.nan), errors="coerce")
    rank = np.nan_to_num(np.asarray(rank, dtype=float), nan=np.inf)
    row = pd.to_numeric(people["_row"], errors="coerce").to_numpy(dtype=float)
    order = np.lexsort((row, rank, group, refused))  # last key sorts first
    return people.iloc[order]


def write_results(ws, fm: Formats, people: pd.DataFrame, title: str, rules: Rulebook) -> None:
    fills = {rules.outcomes[k]: c for k, c in OUTCOME_FILLS.items()}
    rows = ordered(people, rules)
    refused = int(rows["refused"].astype(bool).sum()) if len(rows) else 0
    ws.write_string(0, 0, cell_text(title), fm.title)
    ws.write_string(1, 0, f"已计分 {len(rows) - refused} 人,未计分 {refused} 人。颜色:", fm.note)
    legend = [(rules.outcomes[k], c) for k, c in OUTCOME_FILLS.items()] + [("未计分", REFUSED_FILL)]
    for j, (label, colour) in enumerate(legend):
        ws.write_string(1, 4 + j, label, fm.get("text", colour, align="center"))
    head = 2
    for c, (_, label, _, width) in enumerate(RESULT_COLUMNS):
        ws.write_string(head, c, label, fm.header())
        ws.set_column(c, c, width)
    ws.set_row(head, row_height([(label, w) for _, label, _, w in RESULT_COLUMNS]))
    fill_of = [None, REFUSED_FILL, *fills.values()]
    table = {  # the format of each column for each row fill, made once
        fill: [fm.get(kind, fill, text_wrap=True) if width >= WRAP_WIDTH else fm.get(kind, fill)
               for _, _, kind, width in RESULT_COLUMNS]
        for fill in fill_of
    }  # fmt: skip
    columns = [
        rows[key].to_numpy(dtype=object) if key in rows else np.full(len(rows), None)
        for key, _, _, _ in RESULT_COLUMNS
    ]
    refused_rows = rows["refused"].to_numpy(dtype=bool) if len(rows) else []
    outcomes = rows["outcome"].to_numpy(dtype=object) if "outcome" in rows else [None] * len(rows)
    flags_col = next(i for i, c in enumerate(RESULT_COLUMNS) if c[0] == "flags_text")
    for n in range(len(rows)):
        r = head + 1 + n
        refused_row = bool(refused_rows[n])
        fill = REFUSED_FILL if refused_row else fills.get(str(outcomes[n] or ""))
        fmts = table[fill]
        wrapped = []
        for c, (_, _, kind, width) in enumerate(RESULT_COLUMNS):
            value = columns[c][n]
            if kind != "text" and refused_row:
                value = None
            elif c == flags_col and value:
                value = str(value).replace(";", "\n")  # one flag a line
            if _blank(value):
                if fill:
                    ws.write_blank(r, c, None, fmts[c])
                continue
            write_value(ws, r, c, value, kind, fmts[c])
            if width >= WRAP_WIDTH:
                wrapped.append((str(value), width))
        ws.set_row(r, row_height(wrapped))
    last = head + len(rows)
    if len(rows):
        total = next(i for i, col in enumerate(RESULT_COLUMNS) if col[0] == "total")
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
        ws.autofilter(head, 0, last, len(RESULT_COLUMNS) - 1)
    print_ready(ws, head, (head + 1, 2))


# 计分说明: one row per person; a column per item, then the sums and the outcome lines.
EXPLAIN_SUMS = ["business", "conduct", "total", "grade"]
EXPLAIN_OUTCOME = ["flags", "income", "outcome", "history"]


def explain_columns(rules: Rulebook) -> list[tuple[str, list[str], float]]:
    """(header, explain_frame columns joined in the cell, width) of the 计分说明 sheet."""
    return [
        *[(item.label, [item.key], 34) for item in rules.items],
        ("得分合计与等级", EXPLAIN_SUMS, 40),
        ("预警、处理与结论", EXPLAIN_OUTCOME, 40),
    ]


def write_explain(
    ws,
    fm: Formats,
    people: pd.DataFrame,
    title: str,
    rules: Rulebook,
    period: Period,
    explanations: pd.DataFrame | None = None,
) -> None:
    ws.write_string(0, 0, cell_text(f"{title} 计分说明"), fm.title)
    ws.write_string(
        1,
        0,
        f"依据《{rules.name}》;每项得分四舍五入保留{rules.decimals}位小数,"
        "业务得分为各项得分之和,综合得分 = 业务得分 − 行为规范扣分。",
        fm.note,
    )
    head = 2
    rows = ordered(people, rules)
    if explanations is None:
        explanations = explain_cells(explain_frame(rows, rules, period), rules)
    texts_by_column = explanations.reindex(rows.index).fillna("").to_numpy(dtype=object)
    columns = [
        ("员工编号", 10),
        ("姓名", 8),
        ("岗位", 12),
        *[(h, w) for h, _, w in explain_columns(rules)],
    ]
    for c, (label, width) in enumerate(columns):
        ws.write_string(head, c, label, fm.header())
        ws.set_column(c, c, width)
    plain, shaded = fm.get("text", None, text_wrap=True), fm.get("text", "#F2F2F2", text_wrap=True)
    who = rows[["emp_id", "name", "role_label"]].to_numpy(dtype=object)
    refused = rows["refused"].to_numpy(dtype=bool)
    errors = rows["errors"].fillna("").to_numpy(dtype=object)
    for n in range(len(rows)):
        r = head + 1 + n
        fmt = shaded if n % 2 else plain
        for c in range(3):
            write_value(ws, r, c, who[n][c], "text", fmt)
        texts = []
        if refused[n]:
            ws.write_string(
                r, 3, cell_text(f"{REFUSED_LABEL}:{errors[n] or '该行未通过校验'}"), fmt
            )
            texts.append((str(errors[n]), columns[3][1]))
        else:
            for c in range(3, len(columns)):
                text = texts_by_column[n][c - 3]
                if text:
                    ws.write_string(r, c, cell_text(text), fmt)
                    texts.append((text, columns[c][1]))
        ws.set_row(r, row_height(texts))
    print_ready(ws, head, (head + 1, 2))


def explain_cells(lines: pd.DataFrame, rules: Rulebook) -> pd.DataFrame:
    """explain_frame's lines joined into the 计分说明 cells (one column per sheet column)."""
    out = pd.DataFrame(index=lines.index)
    for header, keys, _ in explain_columns(rules):
        text = lines[keys[0]].astype(str)
        for key in keys[1:]:
            nxt = lines[key].astype(str)
            text = text + np.where((text != "") & (nxt != ""), "\n", "") + nxt
        out[header] = text
    return out


def _raw_columns(book: WorkbookData) -> list[tuple[pd.DataFrame, int, str, str]]:
    """(frame, column position, header label, source letter) in the order of the branch's sheet.

    Contract columns come in their sheet order; the columns outside the template follow.
    """
    keyed = sorted(book.letters.items(), key=lambda kv: column_index_from_string(kv[1]))
    cols = [
        (book.frame, book.frame.columns.get_loc(k), FIELD_BY_KEY[k].label, letter)
        for k, letter in keyed
        if k in book.frame.columns and k in FIELD_BY_KEY
    ]
    return cols + [(book.extras, j, str(name), "") for j, name in enumerate(book.extras.columns)]


def _header(label: str, letter: str) -> str:
    return cell_text(f"{label}\n({letter}列)" if letter else f"{label}\n(模板外的列)")


def _cell_problems(book: WorkbookData, problems: pd.DataFrame | None) -> pd.DataFrame:
    if problems is None or not len(problems):
        return pd.DataFrame(columns=["cell", "level", "message", "sheet"])
    return problems[problems["file"] == book.file]


def _raw_value(ws, r: int, c: int, v: Any, fmt: Any) -> None:
    """A cell as the branch submitted it: numbers as numbers, everything else as text."""
    if _blank(v):
        ws.write_blank(r, c, None, fmt)
    elif isinstance(v, bool | np.bool_):
        ws.write_boolean(r, c, bool(v), fmt)
    elif isinstance(v, int | float | np.number) and np.isfinite(float(v)):
        ws.write_number(r, c, float(v), fmt)
    else:
        ws.write_string(r, c, cell_text(v if isinstance(v, str) else show(v)), fmt)


def _marks(
    book: WorkbookData, problems: pd.DataFrame | None, cols: list, head: int
) -> tuple[dict[tuple[int, int], list[tuple[str, str]]], list[str]]:
    """Problems of this file by (sheet row, sheet column); those on no shown cell go to a list."""
    col_of = {letter: c for c, (_, _, _, letter) in enumerate(cols, start=1) if letter}
    row_of = {int(x): head + 1 + i for i, x in enumerate(book.frame["_row"])}
    row_of[book.raw_header_row] = head
    marks: dict[tuple[int, int], list[tuple[str, str]]] = {}
    loose: list[str] = []
    for p in _cell_problems(book, problems).to_dict("records"):
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


def write_raw(ws, fm: Formats, book: WorkbookData, problems: pd.DataFrame | None) -> None:
    cols = _raw_columns(book)
    head = 2
    marks, loose = _marks(book, problems, cols, head)

    def style(at: tuple[int, int], base: Any) -> Any:
        found = marks.get(at)
        if not found:
            return base
        level = "refuse_row" if any(lv != "note" for lv, _ in found) else "note"
        fill, font = LEVEL_STYLE[level]
        if base is fm.header():
            return fm.get("text", fill, font_color=font, bold=True, text_wrap=True, align="center")
        return fm.get("text", fill, font_color=font)

    ws.write_string(0, 0, cell_text(f"{book.file} 「{DATA_SHEET}」表原样内容"), fm.title)
    ws.write_string(
        1,
        0,
        "红色:该行因此未计分;黄色:已照常读取,请核对。鼠标指向带批注(红色角标)的单元格可查看原因。",
        fm.note,
    )
    ws.write_string(head, 0, RAW_ROW_LABEL, style((head, 0), fm.header()))
    ws.set_column(0, 0, 8)
    for c, (_, _, label, letter) in enumerate(cols, start=1):
        ws.write_string(head, c, _header(label, letter), style((head, c), fm.header()))
        ws.set_column(c, c, max(10, min(24, len(label) + 2)))
    ws.set_row(head, 45)
    values = [frame.iloc[:, j].to_numpy(dtype=object) for frame, j, _, _ in cols]
    int_fmt, plain = fm.get("int"), fm.get()
    for i, excel_row in enumerate(book.frame["_row"].tolist()):
        r = head + 1 + i
        ws.write_number(r, 0, int(excel_row), style((r, 0), int_fmt) if marks else int_fmt)
        for c, column in enumerate(values, start=1):
            _raw_value(ws, r, c, column[i], style((r, c), plain) if marks else plain)
    for (r, c), found in marks.items():
        text = "\n".join(msg for _, msg in found)
        ws.write_comment(r, c, cell_text(text), {"x_scale": 3, "y_scale": 1 + len(found)})
    # 批注 do not print: the list below the table says the same on paper
    listed = [msg for at in sorted(marks) for _, msg in marks[at]] + loose
    if listed:
        r = head + len(book.frame) + 2
        ws.write_string(r, 0, f"本文件的问题与提示(共 {len(listed)} 条):", fm.note)
        for j, msg in enumerate(listed, start=1):
            ws.write_string(r + j, 0, cell_text(msg), fm.note)
    print_ready(ws, head, (head + 1, 1))
