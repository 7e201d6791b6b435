"""The compare workbook `compare_<name>.xlsx`: who a rulebook change would move, and why.

Sheets: 变化汇总 (what was compared, the per-branch and bank tallies of the changes, a native
column chart of the bank's), 人员变化 (every person whose total, grade, outcome or flags change,
before and after, with the reason in words) and 规则变化 (what changed between the rulebooks).
Text from a branch (names, reasons quoting them) is always written as a string cell
(write/safe.py); the file is written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from ..comparison import BANK_LABEL, COUNT_KEYS, PEOPLE_COLUMNS, TALLY_COLUMNS, Comparison
from ..rules_diff import DIFF_COLUMNS, diff_frame
from .atomic import write_atomic
from .branch_sheets import row_height
from .fastsheet import add_sheet, cell_texts, close_workbook, write_column
from .safe import cell_text, file_component, workbook_options, write_text
from .summary import HEADER_FORMAT, score_format

SHEET_SUMMARY, SHEET_PEOPLE, SHEET_RULES = "变化汇总", "人员变化", "规则变化"
NO_PEOPLE = "按新规则重算,没有人员的综合得分、等级、考核结论或预警发生变化"
NO_RULES = "两个规则文件的规则相同"
# The bank's counts the chart shows (每项人数), in the order of the tally columns.
CHART_KEYS = [k for k in COUNT_KEYS if k not in ("compared", "changed")]
SCORE_KEYS = ("total_before", "total_after", "total_change")
MAX_ROW_HEIGHT = 409  # points: Excel's largest row height
WIDTHS = {
    "branch_code": 9, "branch_name": 14, "emp_id": 11, "name": 8, "role_label": 12,
    "reason": 90, "flags_before": 22, "flags_after": 22, "changed": 16,
    "kind": 9, "what": 48, "old": 24, "new": 24, "article": 26,
}  # fmt: skip


def compare_name(source: str | Path) -> str:
    """The `<name>` of compare_<name>.xlsx: the other rulebook's file name without its suffix
    (or a shipped scheme's id), safe as a file name."""
    text = str(source)
    path = Path(text)
    stem = path.stem if path.suffix.lower() in (".yaml", ".yml") else path.name or text
    return file_component(stem)


def info_rows(c: Comparison) -> list[tuple[str, str]]:
    """What was compared, as (label, value) lines (the workbook's and the page's head)."""
    rows = [
        ("考核期", c.period.code),
        ("比较的运行", f"{c.run.run_id}(完成于 {c.run.finished_at})"),
        ("原规则", f"{c.base.name}(方案 {c.base.id},SHA-256 {c.base.sha256[:12]})"),
        (
            "新规则",
            f"{c.other.name}(方案 {c.other.id},文件 {c.other.path.name},"
            f"SHA-256 {c.other.sha256[:12]})",
        ),
        ("比较人数", f"{c.compared} 人(该运行已计分的全部人员,按台账中保存的数据重算)"),
        ("有变化", f"{len(c.people)} 人"),
        ("规则变化", f"{len(c.rules)} 项"),
    ]
    if c.not_scored:
        rows.append(("未参与比较", f"{c.not_scored} 人(该运行中未计分)"))
    if c.mismatched:
        shown = "、".join(c.mismatched[:10]) + (" 等" if len(c.mismatched) > 10 else "")
        rows.append(
            (
                "注意",
                f"{len(c.mismatched)} 人按原规则重算的结果与该运行的记录不一致({shown}),"
                "可能因程序版本不同;比较以按原规则重算的结果为“原”",
            )
        )
    return rows


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, decimals: int) -> None:
        number = score_format(decimals)
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.label = wb.add_format({"bold": True})
        self.head = wb.add_format(HEADER_FORMAT)
        self.text = wb.add_format({"border": 1, "valign": "top"})
        self.wrap = wb.add_format({"border": 1, "text_wrap": True, "valign": "top"})
        self.int = wb.add_format({"border": 1, "num_format": "0", "valign": "top"})
        self.score = wb.add_format({"border": 1, "num_format": number, "valign": "top"})
        self.signed = wb.add_format(
            {"border": 1, "num_format": f"+{number};-{number};{number}", "valign": "top"}
        )
        self.total_text = wb.add_format({"border": 1, "bold": True, "bg_color": "#F2F2F2"})
        self.total_int = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": "0"}
        )


def _header(ws: Any, f: _Formats, row: int, labels: list[str], widths: list[float]) -> None:
    for col, (label, width) in enumerate(zip(labels, widths, strict=True)):
        ws.write_string(row, col, label, f.head)
        ws.set_column(col, col, width)
    ws.set_row(row, row_height(list(zip(labels, widths, strict=True))))


def _heights(ws: Any, first: int, frame: pd.DataFrame, widths: dict[str, float]) -> None:
    """Rows tall enough for their wrapped text (XlsxWriter cannot autofit)."""
    columns = [(frame[k].astype(str).tolist(), w) for k, w in widths.items()]
    for i, texts in enumerate(zip(*(c for c, _ in columns), strict=True)):
        height = row_height(list(zip(texts, (w for _, w in columns), strict=True)))
        if height is not None:
            ws.set_row(first + i, min(height, MAX_ROW_HEIGHT))


def _print_setup(ws: Any, header_row: int) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row)


def _summary(wb: Any, f: _Formats, c: Comparison) -> None:
    ws = add_sheet(wb, SHEET_SUMMARY)
    write_text(ws, 0, 0, f"{c.period.code} 规则变化影响比较", f.title)
    info = info_rows(c)
    for r, (label, value) in enumerate(info, start=1):
        write_text(ws, r, 0, label, f.label)
        write_text(ws, r, 1, value)
    head = len(info) + 2
    keys = list(TALLY_COLUMNS)
    _header(ws, f, head, [TALLY_COLUMNS[k] for k in keys], [9, 16, *[9] * len(COUNT_KEYS)])
    per = c.tallies.iloc[:-1]
    first = head + 1
    for col, key in enumerate(keys):
        column = per[key]
        if key in COUNT_KEYS:
            write_column(ws, first, col, "int", column.astype(float).tolist(), f.int)
        else:
            write_column(ws, first, col, "text", cell_texts(column), f.text)
    bank = first + len(per)
    for col, key in enumerate(keys):
        value = c.tallies.iloc[-1][key]
        if key in COUNT_KEYS:
            ws.write_number(bank, col, float(value), f.total_int)
        else:
            write_text(ws, bank, col, BANK_LABEL if key == "branch_name" else "", f.total_text)
    ws.freeze_panes(first, 2)
    if len(per):
        ws.autofilter(head, 0, bank - 1, len(keys) - 1)
    _print_setup(ws, head)
    chart = wb.add_chart({"type": "column"})
    cols = [keys.index(k) for k in CHART_KEYS]
    chart.add_series(
        {
            "name": "人数",
            "categories": [SHEET_SUMMARY, head, cols[0], head, cols[-1]],
            "values": [SHEET_SUMMARY, bank, cols[0], bank, cols[-1]],
            "data_labels": {"value": True},
            "fill": {"color": "#4472C4"},
        }
    )
    chart.set_title({"name": "全行变化人数(按新规则重算)"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"num_format": "0", "min": 0})
    ws.insert_chart(head, len(keys) + 1, chart, {"x_scale": 1.3, "y_scale": 1.0})


def _number(text: Any) -> float | str:
    """A score's text as the number a cell holds ('' stays blank, other text stays text)."""
    text = "" if text is None else str(text)
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return cell_text(text)


def _people(wb: Any, f: _Formats, c: Comparison) -> None:
    ws = add_sheet(wb, SHEET_PEOPLE)
    keys = list(PEOPLE_COLUMNS)
    write_text(ws, 0, 0, f"{c.period.code} 按新规则重算后有变化的人员({len(c.people)} 人)", f.title)
    _header(ws, f, 1, [PEOPLE_COLUMNS[k] for k in keys], [WIDTHS.get(k, 10) for k in keys])
    if not len(c.people):
        write_text(ws, 2, 0, NO_PEOPLE)
        return
    for col, key in enumerate(keys):
        column = c.people[key]
        if key in SCORE_KEYS:
            fmt = f.signed if key == "total_change" else f.score
            write_column(ws, 2, col, "mixed", [_number(v) for v in column.tolist()], fmt)
        else:
            fmt = f.wrap if key in ("reason", "flags_before", "flags_after", "changed") else f.text
            write_column(ws, 2, col, "text", cell_texts(column), fmt)
    wrapped = ("reason", "flags_before", "flags_after", "changed")
    _heights(ws, 2, c.people, {k: WIDTHS[k] for k in wrapped})
    ws.freeze_panes(2, 4)
    ws.autofilter(1, 0, 1 + len(c.people), len(keys) - 1)
    _print_setup(ws, 1)


def _rules(wb: Any, f: _Formats, c: Comparison) -> None:
    ws = add_sheet(wb, SHEET_RULES)
    write_text(ws, 0, 0, f"规则变化:{c.base.name} → {c.other.name}", f.title)
    keys = list(DIFF_COLUMNS)
    _header(ws, f, 1, [DIFF_COLUMNS[k] for k in keys], [WIDTHS.get(k, 12) for k in keys])
    frame = diff_frame(c.rules)
    if not len(frame):
        write_text(ws, 2, 0, NO_RULES)
        return
    for col, key in enumerate(keys):
        write_column(ws, 2, col, "text", cell_texts(frame[key]), f.wrap)
    _heights(ws, 2, frame, {k: WIDTHS[k] for k in keys})
    ws.freeze_panes(2, 0)
    _print_setup(ws, 1)


def write_compare_book(path: Path, c: Comparison) -> Path:
    """Write the compare workbook to `path` (atomically); return where it ended up."""

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), workbook_options())
        f = _Formats(wb, c.other.total_decimals)
        _summary(wb, f, c)
        _people(wb, f, c)
        _rules(wb, f, c)
        close_workbook(wb)

    return write_atomic(path, write)


def people_frame(c: Comparison) -> pd.DataFrame:
    """The changed people with Chinese column headers (as the 人员变化 sheet shows them)."""
    return c.people.rename(columns=PEOPLE_COLUMNS)
