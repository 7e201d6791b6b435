"""The bank-wide workbook for HR: `summary.xlsx`.

Sheets: 全行汇总 (one row per branch, a bank total and two native charts), 全行排名,
预警与处理 (one row per raised flag) and one sheet per branch (each person's total, grade, ranks,
outcome, recommended level and flags or reason for not being scored; the item scores are in the
branch's own workbook). Every name, label and count comes from the people table and the
rulebook; text from a branch is always a string cell.

Speed (100 branches, 3,000 people, 100,000 cells): the people table is sorted once and every
column is turned into a list of ready cell values once (text made cell-safe for the whole column
at a time); the sheets write slices of them, through `fastsheet.FastSheet` when it writes exactly
what XlsxWriter would (`fast_cells_match`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import DuplicateWorksheetName

from ..describe import flag_text
from ..exact import Q
from ..explain import raised_flag_rows
from ..flags import raised_flags
from ..periods import Period
from ..rulebook import Rulebook
from .atomic import write_atomic
from .fastsheet import (
    add_sheet,
    cell_numbers,
    cell_texts,
    close_workbook,
    free_written,
    no_cyclic_gc,
    texts,
    write_column,
)
from .rows import figure_column
from .safe import cell_text, file_component, safe_sheet_name, workbook_options, write_text
from .textfit import fit_widths, number_texts, row_height, wrap_rows

SHEET_TOTALS = "全行汇总"
SHEET_RANKING = "全行排名"
SHEET_FLAGS = "预警与处理"
SHEET_ADJUSTMENTS = "申诉调整"
BANK_TOTAL_LABEL = "全行合计"
NOT_SCORED = "未计分"  # 考核结论 of a person who was not scored
NOT_SCORED_REASON = "未计分原因:"  # 预警与处理 of that person starts with this
OUTCOME_ORDER = ("none", "warning", "demote", "dismiss")

HEADER_ROW = 1  # row 0 holds the sheet title, row 1 the column headers
FIRST_DATA_ROW = 2


# ---------------------------------------------------------------------------------------------
# Column values


# ---------------------------------------------------------------------------------------------
# Tallies (shared with the HTML run report)


@dataclass
class BranchTally:
    code: str
    name: str
    people: int
    scored: int
    refused: int
    average: float | None  # average total of the scored people, rounded like the scores
    average_text: str  # the same with exactly `rules.decimals` places, '' if nobody was scored
    grades: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)


def grade_names(rules: Rulebook) -> list[str]:
    """Every grade of every group, best first, each once."""
    names: list[str] = []
    for rows in rules.grades.values():
        for grade, _, _ in rows:
            if grade not in names:
                names.append(grade)
    return names


def outcome_names(rules: Rulebook) -> list[str]:
    """正常, 预警, 降级, 解聘 (as the rulebook names them), mildest first; none for a scheme
    without flags."""
    return [rules.outcomes[k] for k in OUTCOME_ORDER] if rules.flags else []


def _average(units: int, count: int, rules: Rulebook) -> Decimal | None:
    """Exact mean of the totals (given as their sum in units of 10**-total_decimals), rounded
    half away from zero to the rulebook's decimals, as scores are."""
    if not count:
        return None
    mean = Q.from_units(np.array([units], dtype=object), rules.total_decimals) / count
    return Decimal(int(mean.round_units(rules.decimals)[0])).scaleb(-rules.decimals)


def _make_tally(
    code: str, name: str, counts: dict[str, int], grades: list[int], outcomes: list[int], rules
) -> BranchTally:
    average = _average(counts["units"], counts["counted"], rules)
    return BranchTally(
        code=code,
        name=name,
        people=counts["people"],
        scored=counts["scored"],
        refused=counts["people"] - counts["scored"],
        average=float(average) if average is not None else None,
        average_text=str(average) if average is not None else "",
        grades=dict(zip(grade_names(rules), grades, strict=True)),
        outcomes=dict(zip(outcome_names(rules), outcomes, strict=True)),
    )


def _count_labels(at: np.ndarray, labels: np.ndarray, wanted: list[str], groups: int) -> np.ndarray:
    """How many times each wanted label occurs in each group (`at`: group of each label)."""
    index = {label: i for i, label in enumerate(wanted)}
    col = np.fromiter((index.get(x, -1) for x in labels), dtype=np.int64, count=len(labels))
    known = col >= 0
    out = np.zeros((groups, len(wanted)), dtype=np.int64)
    np.add.at(out, (at[known], col[known]), 1)
    return out


def tallies(people: pd.DataFrame, rules: Rulebook) -> tuple[list[BranchTally], BranchTally]:
    """One tally per branch (by 机构号), and the bank's (averages are of people, not of branches).
    A branch's 机构名称 is the first one given in its rows."""
    grades, outcomes = grade_names(rules), outcome_names(rules)
    if not len(people):
        zero = {"people": 0, "scored": 0, "counted": 0, "units": 0}
        return [], _make_tally(
            "", BANK_TOTAL_LABEL, zero, [0] * len(grades), [0] * len(outcomes), rules
        )
    codes = texts(people["branch_code"]).to_numpy(dtype=object)
    branches, at = np.unique(codes, return_inverse=True)  # by 机构号
    n = len(branches)
    scored = ~people["refused"].astype(bool).to_numpy()
    total_units = (
        pd.to_numeric(people["total_units"], errors="coerce") if "total_units" in people else None
    )
    if total_units is None:
        total_units = pd.Series(np.nan, index=people.index)
    counted = scored & total_units.notna().to_numpy()
    units = np.zeros(n, dtype=np.int64)  # exact sums of the totals, in 10**-total_decimals
    np.add.at(units, at[counted], total_units.to_numpy(dtype=float)[counted].astype(np.int64))
    counts = {
        "people": np.bincount(at, minlength=n),
        "scored": np.bincount(at[scored], minlength=n),
        "counted": np.bincount(at[counted], minlength=n),
        "units": units,
    }
    mine = at[scored]
    by_grade = _count_labels(mine, texts(people["grade"]).to_numpy(dtype=object)[scored], grades, n)
    by_outcome = _count_labels(
        mine, texts(people["outcome"]).to_numpy(dtype=object)[scored], outcomes, n
    )
    names: dict[str, str] = {}
    for code, name in zip(codes, texts(people["branch_name"]).tolist(), strict=True):
        if name and code not in names:
            names[code] = name
    per_branch = [
        _make_tally(
            str(code),
            names.get(code, ""),
            {k: int(v[i]) for k, v in counts.items()},
            by_grade[i].tolist(),
            by_outcome[i].tolist(),
            rules,
        )
        for i, code in enumerate(branches)
    ]
    bank = _make_tally(
        "",
        BANK_TOTAL_LABEL,
        {k: int(v.sum()) for k, v in counts.items()},
        by_grade.sum(axis=0).tolist(),
        by_outcome.sum(axis=0).tolist(),
        rules,
    )
    return per_branch, bank


FLAG_PERSON_KEYS = ["branch_code", "branch_name", "emp_id", "name", "role_label", "total", "outcome"]  # fmt: skip
FLAG_KEYS = [
    "flag_label", "flag_code", "flag_condition", "flag_figures", "flag_article", "flag_kind",
    "flag_action",
]  # fmt: skip


def flag_frame(people: pd.DataFrame, rules: Rulebook, period: Period) -> pd.DataFrame:
    """One row per raised flag of every scored person, by 机构号 (people order within a branch,
    flags in code order): the person's FLAG_PERSON_KEYS and the flag's FLAG_KEYS (its name and
    code, what raises it, the person's own figures, article, kind and what it means)."""
    if not len(people) or not raised_flags(rules, people):
        return pd.DataFrame(columns=FLAG_PERSON_KEYS + FLAG_KEYS)
    order = texts(people["branch_code"]).reset_index(drop=True).sort_values(kind="stable").index
    place = np.empty(len(people), dtype=np.int64)  # each person's place in 机构号 order
    place[order.to_numpy()] = np.arange(len(people))
    scored = ~people["refused"].astype(bool).to_numpy()
    at: list[np.ndarray] = []
    described: list[pd.DataFrame] = []
    for raised in raised_flag_rows(people, rules, period):  # not a reordered copy of `people`
        flag, keep = raised.flag, scored[raised.at]
        if not keep.any():
            continue
        at.append(place[raised.at[keep]])
        kind = rules.outcomes["warning"] if raised.warns else "处理"
        fixed = (flag.label, flag.code, flag_text(flag, rules))
        described.append(
            pd.DataFrame(
                {
                    **dict(zip(FLAG_KEYS[:3], fixed, strict=True)),
                    "flag_figures": raised.figures[keep],
                    "flag_article": flag.article,
                    "flag_kind": kind,
                    "flag_action": raised.consequence(rules),
                },
                columns=FLAG_KEYS,
                dtype=object,
            )
        )
    if not at:
        return pd.DataFrame(columns=FLAG_PERSON_KEYS + FLAG_KEYS)
    table = pd.concat(described, ignore_index=True)
    table.insert(0, "_pos", np.concatenate(at))
    table = table.sort_values("_pos", kind="stable").reset_index(drop=True)
    rows = people[FLAG_PERSON_KEYS].iloc[order[table["_pos"].to_numpy()]].reset_index(drop=True)
    return pd.concat([rows, table.drop(columns="_pos")], axis=1)


# ---------------------------------------------------------------------------------------------
# Writing


def score_format(decimals: int) -> str:
    """Excel number format showing `decimals` places (0.00 for the shipped rulebook)."""
    return "0." + "0" * decimals if decimals > 0 else "0"


# The header cells of every table in the summary and the compare workbook.
HEADER_FORMAT = {
    "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"
}  # fmt: skip


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, decimals: int) -> None:
        self.decimals = decimals
        self.num = score_format(decimals)
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.head = wb.add_format(HEADER_FORMAT)
        top = {"border": 1, "valign": "top"}  # a row grown by wrapped text reads from the top
        self.text = wb.add_format(top)
        self.wrap = wb.add_format({**top, "text_wrap": True})
        self.score = wb.add_format({**top, "num_format": self.num})
        self.int = wb.add_format({**top, "num_format": "0"})
        self.pct = wb.add_format({**top, "num_format": "0.00%"})
        self.number = wb.add_format(top)  # General: the figure as it is
        self.total_text = wb.add_format({"border": 1, "bold": True, "bg_color": "#F2F2F2"})
        self.total_score = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": self.num}
        )
        self.total_int = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": "0"}
        )

    def of(self, kind: str, total: bool = False, wrap: bool = False):
        if total:
            return {"text": self.total_text, "score": self.total_score}.get(kind, self.total_int)
        if wrap:
            return self.wrap
        return {"text": self.text, "score": self.score, "pct": self.pct, "number": self.number}.get(
            kind, self.int
        )


# (header, key in the data, kind: text | score | int, column width)
Column = tuple[str, str, str, float]

RANKING_COLUMNS: list[Column] = [
    ("全行排名", "rank_bank", "int", 9), ("组别", "group_label", "text", 10),
    ("机构号", "branch_code", "text", 10), ("机构名称", "branch_name", "text", 16),
    ("员工编号", "emp_id", "text", 12), ("姓名", "name", "text", 10), ("岗位", "role_label", "text", 14),
    ("综合得分", "total", "score", 10), ("考核等级", "grade", "text", 10), ("考核结论", "outcome", "text", 10),
]  # fmt: skip
FLAG_COLUMNS: list[Column] = [
    ("机构号", "branch_code", "text", 10), ("机构名称", "branch_name", "text", 16),
    ("员工编号", "emp_id", "text", 12), ("姓名", "name", "text", 10), ("岗位", "role_label", "text", 14),
    ("综合得分", "total", "score", 10), ("情形", "flag_label", "text", 20),
    ("标志代码", "flag_code", "text", 18), ("认定条件", "flag_condition", "text", 30),
    ("本人数据", "flag_figures", "text", 40), ("依据", "flag_article", "text", 26),
    ("类别", "flag_kind", "text", 8), ("处理", "flag_action", "text", 24), ("考核结论", "outcome", "text", 10),
]  # fmt: skip
BRANCH_COLUMNS: list[Column] = [
    ("员工编号", "emp_id", "text", 12), ("姓名", "name", "text", 10), ("岗位", "role_label", "text", 14),
    ("综合得分", "total", "score", 10), ("考核等级", "grade", "text", 10),
    ("支行内排名", "rank_branch", "int", 9), ("全行排名", "rank_bank", "int", 9),
    ("考核结论", "conclusion", "text", 10), ("建议职级", "recommended_level", "text", 14),
    ("预警与处理", "remarks", "text", 64),
]  # fmt: skip


def scheme_columns(columns: list[Column], rules: Rulebook) -> list[Column]:
    """A table's columns for this scheme: the total under the scheme's own name, no grade
    column without grades, no outcome, level or flag columns without flags."""
    drop = set()
    if not rules.grades:
        drop.add("grade")
    if not rules.flags:
        drop |= {"outcome", "conclusion", "recommended_level"}
    return [
        (rules.total.label if key == "total" else header, key, kind, width)
        for header, key, kind, width in columns
        if key not in drop
    ]


def branch_columns(rules: Rulebook) -> list[Column]:
    """The per-branch sheets' columns: identity, the figures the rulebook's `summary` lists
    (header and kind as in 考核结果), then the total, grade, ranks and outcome."""
    columns = scheme_columns(BRANCH_COLUMNS, rules)
    at = next(i for i, c in enumerate(columns) if c[1] == "role_label") + 1
    figures: list[Column] = []
    for key in rules.summary:
        header, kind, width = figure_column(key, rules)
        figures.append((header, key, kind, max(width, 9)))
    return [*columns[:at], *figures, *columns[at:]]


def _values(frame: pd.DataFrame, columns: list[Column]) -> dict[str, list]:
    """Each column's cell values, ready to write: cell-safe text, or floats (NaN = blank)."""
    return {
        key: cell_texts(frame[key]) if kind == "text" else cell_numbers(frame[key])
        for _, key, kind, _ in columns
    }


@dataclass
class _Layout:
    """Column widths and row heights of a table: a text column as wide as its longest text (up
    to FIT_MAX), wrapped from WRAP_WIDTH on, each row as tall as its wrapped text needs."""

    widths: list[float]
    wrap: list[bool]
    heights: list[float | None]


WRAP_WIDTH = 20  # text columns at least this wide wrap their text
FIT_MAX = 24  # a column that does not wrap is widened to its longest text, up to this
WIDEN_MAX = 100  # a wrapped column is widened up to this for a text too long for one row
TITLE_HEIGHT = 21  # the 14-point title row


def _layout(columns: list[Column], values: dict[str, list], decimals: int) -> _Layout:
    wrap = [kind == "text" and width >= WRAP_WIDTH for _, _, kind, width in columns]
    fitted = iter(
        fit_widths(
            [
                (
                    values[key]
                    if kind == "text"
                    else number_texts(
                        values[key],
                        {"score": decimals, "pct": 2, "number": None}.get(kind, 0),
                        percent=kind == "pct",
                    ),
                    width,
                    max(width, FIT_MAX),
                )
                for (_, key, kind, width), wraps in zip(columns, wrap, strict=True)
                if not wraps
            ]
        )
    )
    widths = [0.0 if wraps else next(fitted) for wraps in wrap]
    wrapped = [c for c, wraps in enumerate(wrap) if wraps]
    rows = len(values[columns[0][1]]) if columns else 0
    wider, heights = wrap_rows(
        [(values[columns[c][1]], columns[c][3]) for c in wrapped], rows, WIDEN_MAX
    )
    for c, width in zip(wrapped, wider, strict=True):
        widths[c] = width
    return _Layout(widths, wrap, heights)


@functools.lru_cache(maxsize=64)
def _header_height(cells: tuple[tuple[str, float], ...]) -> float | None:
    """The header row's height (the same few headers on every branch's sheet)."""
    return row_height(cells)


def _table(
    ws,
    f: _Formats,
    title: str,
    columns: list[Column],
    values: dict[str, list],
    rows: slice | None = None,
    filter_: bool = True,
    layout: _Layout | None = None,
    strong: list[bool] | None = None,
) -> int:
    """Title, headers and rows (`rows` of each list in `values`, default all); frozen header,
    widths and heights (`layout`, of all of `values`; made here if not given), A4 landscape fit
    to width. Returns the number of rows written."""
    layout = layout or _layout(columns, values, f.decimals)
    write_text(ws, 0, 0, cell_text(title), f.title)
    ws.set_row(0, TITLE_HEIGHT)
    n = 0
    for c, (label, key, kind, _) in enumerate(columns):
        ws.write_string(HEADER_ROW, c, label, f.head)
        ws.set_column(c, c, layout.widths[c])
        column = values[key] if rows is None else values[key][rows]
        fmt: Any = f.of(kind, wrap=layout.wrap[c])
        if strong is not None and any(strong):  # subtotal rows: as the total row
            fmt = [f.of(kind, total=True) if bold else fmt for bold in strong]
        write_column(ws, FIRST_DATA_ROW, c, kind, column, fmt)
        n = len(column)
    labels = tuple(zip([col[0] for col in columns], layout.widths, strict=True))
    ws.set_row(HEADER_ROW, _header_height(labels))
    heights = layout.heights if rows is None else layout.heights[rows]
    for i, height in enumerate(heights):
        if height is not None:
            ws.set_row(FIRST_DATA_ROW + i, height)
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    if filter_ and n:
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + n, len(columns) - 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    ws.repeat_rows(HEADER_ROW)
    return n


@dataclass
class SummaryRow:
    """A row of 全行汇总: a branch, or a parent's subtotal (`subtotal`), with its parent and the
    summary workbook holding its sheet ('' when summary.xlsx holds it)."""

    tally: BranchTally
    parent: str = ""
    subtotal: bool = False
    book: str = ""


def _totals_sheet(
    wb,
    f: _Formats,
    period: str,
    rows: list[SummaryRow],
    bank: BranchTally,
    rules: Rulebook,
    grouped: bool,
    chart: bool,
) -> None:
    """全行汇总: one row per branch (grouped: each parent's subtotal row, then its branches),
    the bank total, and the charts (the average per branch only when `chart`)."""
    ws = add_sheet(wb, SHEET_TOTALS)
    grades, outcomes = grade_names(rules), outcome_names(rules)
    books = any(r.book for r in rows)
    columns: list[Column] = [
        *([("上级机构", "parent", "text", 14)] if grouped else []),
        ("机构号", "code", "text", 10), ("机构名称", "name", "text", 16), ("人数", "people", "int", 7),
        ("已计分", "scored", "int", 7), ("未计分", "refused", "int", 7),
        (f"平均{rules.total.label}", "average", "score", 12),
        *[(g, f"grade:{g}", "int", 8) for g in grades],
        *[(o, f"outcome:{o}", "int", 7) for o in outcomes],
        *([("明细所在工作簿", "book", "text", 18)] if books else []),
    ]  # fmt: skip

    def values(rows: list[SummaryRow]) -> dict[str, list]:
        out: dict[str, list] = {
            "parent": [cell_text(r.parent) for r in rows],
            "code": [cell_text(r.tally.code) for r in rows],
            "name": [cell_text(r.tally.name) for r in rows],
            "average": [math.nan if r.tally.average is None else r.tally.average for r in rows],
            "book": [cell_text(r.book) for r in rows],
        }
        for key in ("people", "scored", "refused"):
            out[key] = [float(getattr(r.tally, key)) for r in rows]
        for g in grades:
            out[f"grade:{g}"] = [float(r.tally.grades[g]) for r in rows]
        for o in outcomes:
            out[f"outcome:{o}"] = [float(r.tally.outcomes[o]) for r in rows]
        return out

    total = SummaryRow(bank)
    layout = _layout(columns, values([*rows, total]), rules.decimals)  # the total too
    title = f"{period} 全行考核汇总"
    strong = [r.subtotal for r in rows]
    _table(ws, f, title, columns, values(rows), filter_=False, layout=layout, strong=strong)
    total_row = FIRST_DATA_ROW + len(rows)
    last = values([total])
    for c, (_, key, kind, _) in enumerate(columns):
        write_column(ws, total_row, c, kind, last[key], f.of(kind, total=True))
    first = 6 + grouped  # the first grade column (after 机构号 … 平均综合得分)
    ws.freeze_panes(FIRST_DATA_ROW, 2 + grouped)
    counts = max(bank.grades.values(), default=0)
    branches = len(rows) if chart else 0
    _charts(wb, ws, f.num, SHEET_TOTALS, branches, total_row, first, len(grades), counts, rules)


CHART_WIDTH = 576  # px: XlsxWriter's default chart width (480) x 1.2
CHART_GAP = 24  # px between the two charts


def _charts(
    wb,
    ws,
    num_format: str,
    sheet: str,
    branches: int,
    total_row: int,
    first: int,
    grades: int,
    counts: int,
    rules: Rulebook,
) -> None:
    """Native charts below the table, side by side: bank grade distribution (a scheme with
    grades from column `first`; `counts` is its largest count), and average total per branch
    (none when `branches` is 0)."""
    at = total_row + 2
    if grades:
        _grade_chart(wb, ws, sheet, first, grades, total_row, at, counts)
    if not branches:
        return
    avg = wb.add_chart({"type": "bar"})
    last = FIRST_DATA_ROW + branches - 1
    average = f"平均{rules.total.label}"
    avg.add_series(
        {
            "name": average,
            "categories": [sheet, FIRST_DATA_ROW, 1, last, 1],
            "values": [sheet, FIRST_DATA_ROW, 5, last, 5],
            "data_labels": {"value": True, "num_format": num_format},
            "fill": {"color": "#70AD47"},
        }
    )
    avg.set_title({"name": f"各机构{average}"})
    avg.set_legend({"none": True})
    avg.set_y_axis({"reverse": True})  # a bar chart's category axis: first branch on top
    avg.set_x_axis({"num_format": "0"})
    height = max(288, 60 + 24 * branches)  # 288 px is XlsxWriter's default chart height
    # Right of the grade chart, by its width in pixels (the anchor cell follows from the
    # column widths), so that the two never overlap whatever the columns' widths.
    offset = CHART_WIDTH + CHART_GAP if grades else 0
    ws.insert_chart(
        at, 0, avg, {"x_scale": CHART_WIDTH / 480, "y_scale": height / 288, "x_offset": offset}
    )


def count_axis(largest: int, name: str = "人数") -> dict[str, Any]:
    """A value axis for counts of people: whole-number ticks from 0, at most ten of them."""
    steps = (m * 10**e for e in range(20) for m in (1, 2, 5))  # 1, 2, 5, 10, 20, 50, ...
    unit = next(u for u in steps if largest <= 10 * u)
    top = (largest // unit + 1) * unit  # room above the tallest bar for its label
    return {"name": name, "min": 0, "max": top, "major_unit": unit, "num_format": "0"}


def _grade_chart(
    wb, ws, sheet: str, first: int, grades: int, total_row: int, at: int, counts: int
) -> None:
    dist = wb.add_chart({"type": "column"})
    dist.add_series(
        {
            "name": "人数",
            "categories": [sheet, HEADER_ROW, first, HEADER_ROW, first + grades - 1],
            "values": [sheet, total_row, first, total_row, first + grades - 1],
            "data_labels": {"value": True},
            "fill": {"color": "#4472C4"},
        }
    )
    dist.set_title({"name": "全行考核等级分布"})
    dist.set_legend({"none": True})
    dist.set_y_axis(count_axis(counts))
    ws.insert_chart(at, 0, dist, {"x_scale": CHART_WIDTH / 480, "y_scale": 1.1})


def _group_order(people: pd.DataFrame, rules: Rulebook) -> pd.Series:
    """Position of each person's group in the rulebook (行长 first); unknown groups last."""
    order = {g: i for i, g in enumerate(rules.groups)}
    return texts(people["group"]).map(order).fillna(len(order)).astype(np.int64)


def _sorted(people: pd.DataFrame, keys: dict[str, Any]) -> pd.DataFrame:
    """`people` sorted by `keys` (columns in order; blanks last), ties kept in people order."""
    frame = pd.DataFrame({k: np.asarray(v) for k, v in keys.items()})
    return people.iloc[frame.sort_values(list(keys), kind="stable").index]


def _ranking_values(people: pd.DataFrame, rules: Rulebook) -> dict[str, list]:
    """Scored people: groups in rulebook order, then by 全行排名, then by 员工编号."""
    scored = people[~people["refused"].astype(bool)]
    ordered = _sorted(
        scored,
        {
            "g": _group_order(scored, rules),
            "rank": scored["rank_bank"].to_numpy(dtype=float, na_value=np.nan),
            "emp": scored["emp_id"].astype(object).to_numpy(),
        },
    )
    labels = texts(ordered["group"]).map(lambda g: rules.groups.get(g, g))
    return _values(ordered.assign(group_label=labels), scheme_columns(RANKING_COLUMNS, rules))


def _branch_values(people: pd.DataFrame, rules: Rulebook) -> tuple[dict[str, list], dict]:
    """All people by 机构号; in a branch the scored ones by group (rulebook order), 支行内排名 and
    员工编号, then those not scored (people order). Also where each branch's rows start."""
    refused = people["refused"].astype(bool).to_numpy()
    codes = texts(people["branch_code"])
    shown = [key for _, key, _, _ in branch_columns(rules) if key in people]
    wanted = ["refused", "branch_code", "errors", "status_label", "outcome", "flags_text"]
    ordered = _sorted(
        people[list(dict.fromkeys([*shown, *wanted]))],
        {
            "code": codes.to_numpy(dtype=object),
            "refused": refused,
            "g": np.where(refused, 0, _group_order(people, rules)),
            "rank": np.where(
                refused, 0.0, people["rank_branch"].to_numpy(dtype=float, na_value=np.nan)
            ),
            "emp": np.where(refused, "", people["emp_id"].astype(object).to_numpy()),
        },
    )
    out = ordered["refused"].astype(bool)
    reasons = NOT_SCORED_REASON + texts(ordered["errors"])
    status = texts(ordered["status_label"]).replace("", NOT_SCORED)
    values = _values(
        ordered.assign(
            conclusion=texts(ordered["outcome"]).where(~out, status),
            remarks=texts(ordered["flags_text"]).where(~out, reasons),
        ),
        branch_columns(rules),
    )
    starts: dict[str, int] = {}
    for i, code in enumerate(texts(ordered["branch_code"]).tolist()):
        starts.setdefault(code, i)
    return values, starts


class _ManySheets(xlsxwriter.Workbook):
    """A workbook with a sheet per branch. XlsxWriter compares each new sheet's name with every
    sheet before it, which is quadratic in the number of branches (seconds at 2,000); here its
    own checks run on the name alone and uniqueness (ignoring case, as Excel does) on a set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._names: set[str] = set()

    def _check_sheetname(self, sheetname: Any, is_chartsheet: bool = False) -> Any:
        sheets, self.worksheets_objs = self.worksheets_objs, []
        try:
            name = super()._check_sheetname(sheetname, is_chartsheet)
        finally:
            self.worksheets_objs = sheets
        if name.lower() in self._names:
            raise DuplicateWorksheetName(
                f"Sheetname '{name}', with case ignored, is already in use."
            )
        self._names.add(name.lower())
        return name


def write_summary(path: Path, result, rules: Rulebook) -> Path:
    """Write the HR workbook to `path` (atomically); return where it ended up. Above the
    branch-sheet cap, the per-parent workbooks go to `summaries/` beside it (write_summaries)."""
    return write_summaries(path, result, rules)[0]


def write_summaries(path: Path, result, rules: Rulebook) -> list[Path]:
    """summary.xlsx at `path`; above the cap (`result.branch_sheets`, else the rulebook's
    `layout.branch_sheets`) also one workbook per parent in `summaries/` beside it, holding
    its branches' sheets (a parent of more branches than the cap: several, _1, _2 …); and
    branches.csv beside it when the branches are grouped or more than a report list shows.
    Returns the paths written, summary.xlsx first."""
    with no_cyclic_gc():
        return _write_summaries(Path(path), result, rules)


SUMMARIES_DIR = "summaries"
SUBTOTAL_LABEL = "小计"
UNGROUPED_BOOK = "机构明细"  # the summary workbooks' name when no branch names a parent


@dataclass
class _Plan:
    rows: list[SummaryRow]  # of 全行汇总, in order
    grouped: bool  # some branch names a parent
    books: dict[str, list[BranchTally]]  # summaries/<name>.xlsx -> its branches (split only)


def _plan(people: pd.DataFrame, per_branch: list[BranchTally], result, rules: Rulebook) -> _Plan:
    """The rows of 全行汇总 and where each branch's sheet goes."""
    from ..organisation import NO_PARENT

    parents: dict[str, str] = dict(getattr(result, "parents", None) or {})
    cap = getattr(result, "branch_sheets", None)
    cap = rules.branch_sheets if cap is None else cap
    grouped = any(parents.get(t.code) for t in per_branch)
    split = len(per_branch) > cap
    if not grouped:
        groups = {UNGROUPED_BOOK: per_branch}
        subtotals: dict[str, BranchTally] = {}
    else:
        groups = {}
        for t in per_branch:  # by 机构号 within a parent
            groups.setdefault(parents.get(t.code) or NO_PARENT, []).append(t)
        order = sorted(groups, key=lambda p: (p == NO_PARENT, p))  # parents by name
        groups = {p: groups[p] for p in order}
        subtotals = _parent_tallies(people, parents, rules)
    books: dict[str, list[BranchTally]] = {}
    where: dict[str, str] = {}  # 机构号 -> its summary workbook
    parent_books: dict[str, str] = {}  # parent -> its summary workbooks ("a.xlsx、b.xlsx")
    taken: set[str] = set()
    for parent, members in groups.items() if split else ():
        size = cap if cap > 0 else len(members)
        parts = [members[i : i + size] for i in range(0, len(members), size)]
        names = []
        for n, part in enumerate(parts, start=1):
            base = file_component(parent) + (f"_{n}" if len(parts) > 1 else "")
            name, k = base, 1
            while name.casefold() in taken:  # two parents alike once made safe as file names
                k += 1
                name = f"{base}({k})"
            taken.add(name.casefold())
            rel = f"{SUMMARIES_DIR}/{name}.xlsx"
            books[rel] = part
            names.append(rel)
            for t in part:
                where[t.code] = rel
        parent_books[parent] = "、".join(names)
    rows: list[SummaryRow] = []
    for parent, members in groups.items():
        if grouped:
            sub = subtotals[parent]
            sub = dataclasses.replace(sub, code="", name=SUBTOTAL_LABEL)
            rows.append(SummaryRow(sub, parent, True, parent_books.get(parent, "")))
        rows += [
            SummaryRow(t, parent if grouped else "", False, where.get(t.code, "")) for t in members
        ]
    return _Plan(rows, grouped, books)


def _parent_tallies(
    people: pd.DataFrame, parents: dict[str, str], rules: Rulebook
) -> dict[str, BranchTally]:
    """One tally per parent, over its branches' people (averages of people, as the bank's)."""
    from ..organisation import NO_PARENT

    codes = texts(people["branch_code"])
    parent = codes.map(lambda c: parents.get(c) or NO_PARENT)
    frame = pd.DataFrame(
        {
            "branch_code": parent,
            "branch_name": parent,
            **{k: people[k] for k in ("refused", "grade", "outcome") if k in people},
            **({"total_units": people["total_units"]} if "total_units" in people else {}),
        }
    )
    return {t.code: t for t in tallies(frame, rules)[0]}


def _write_summaries(path: Path, result, rules: Rulebook) -> list[Path]:
    people = result.people
    period = result.period.code
    per_branch, bank = tallies(people, rules)
    plan = _plan(people, per_branch, result, rules)
    columns = branch_columns(rules)

    def branch_sheets(
        wb, f: _Formats, branches: list[BranchTally], taken: set[str], mine: pd.DataFrame
    ) -> None:
        """A sheet per branch of `branches`, whose people are `mine`: their cells are made per
        workbook (a national bank's at once would be millions of objects), and laid out alike
        within it."""
        values, starts = _branch_values(mine, rules) if len(mine) else ({}, {})
        layout = _layout(columns, values or _empty(columns), rules.decimals)
        for t in branches:  # by 机构号; each branch's people are adjacent in `values`
            ws = add_sheet(wb, safe_sheet_name(f"{t.code} {t.name}", taken))
            title = f"{t.name}({t.code}) {period} 考核结果"
            rows = slice(starts[t.code], starts[t.code] + t.people)
            _table(ws, f, title, columns, values, rows, layout=layout)
            ws.freeze_panes(FIRST_DATA_ROW, 2)

    def write(tmp: Path) -> None:
        # Parts go through temporary files, not RAM: a bank's summary is a few hundred MB of XML.
        wb = _ManySheets(str(tmp), {**workbook_options(), "in_memory": False})
        f = _Formats(wb, rules.decimals)
        chart = not plan.grouped and not plan.books  # a bar per branch: for a small bank
        _totals_sheet(wb, f, period, plan.rows, bank, rules, plan.grouped, chart)

        taken = {SHEET_TOTALS.casefold()}
        if plan.books:  # one row per person: in the per-parent workbooks, not here
            _person_sheets(wb, f, people.iloc[:0], result, rules, taken, plan.books)
        else:
            _person_sheets(wb, f, people, result, rules, taken)
        if _adjustments_sheet(wb, f, period, result):
            taken.add(SHEET_ADJUSTMENTS.casefold())
        if not plan.books:
            branch_sheets(wb, f, per_branch, taken, people)
        close_workbook(wb)

    written = [write_atomic(path, write)]
    free_written()
    book_of = {t.code: rel for rel, branches in plan.books.items() for t in branches}
    where = texts(people["branch_code"]).map(book_of).reset_index(drop=True)
    rows = where.groupby(where, sort=False).indices  # each workbook's people, in one pass
    for rel, branches in plan.books.items():

        def write_book(tmp: Path, branches: list[BranchTally] = branches, rel: str = rel) -> None:
            wb = _ManySheets(str(tmp), {**workbook_options(), "in_memory": False})
            f = _Formats(wb, rules.decimals)
            mine = people.iloc[rows.get(rel, np.zeros(0, dtype=np.intp))]
            taken: set[str] = set()
            _person_sheets(wb, f, mine, result, rules, taken)
            branch_sheets(wb, f, branches, taken, mine)
            close_workbook(wb)

        target = path.parent / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(write_atomic(target, write_book))
        free_written()
    if plan.grouped or len(per_branch) > rules.list_rows:
        written.append(write_branches_csv(path.parent / BRANCHES_CSV, plan.rows, bank, rules))
    return written


def _person_sheets(
    wb,
    f: _Formats,
    people: pd.DataFrame,
    result,
    rules: Rulebook,
    taken: set[str],
    books: dict[str, list[BranchTally]] | None = None,
) -> None:
    """全行排名 and 预警与处理 (a scheme with flags) of `people`; with `books` (a bank above
    the cap, `people` then empty) each says where its rows are instead."""
    period = result.period.code
    where = (
        f"机构超过本工作簿所含明细的上限,本表按上级机构分列在 {SUMMARIES_DIR}/ 下的"
        f"{len(books)}个汇总工作簿中;完整名单见 results.csv"
        if books
        else ""
    )
    ranking = _ranking_values(people, rules) if len(people) else {}
    ws = add_sheet(wb, SHEET_RANKING)
    columns = scheme_columns(RANKING_COLUMNS, rules)
    _table(ws, f, f"{period} 全行排名(按组别)", columns, ranking or _empty(columns))
    if where:
        ws.write_string(FIRST_DATA_ROW, 0, where)
    taken.add(SHEET_RANKING.casefold())
    if not rules.flags:  # a scheme without flags has no 预警与处理 sheet
        return
    flags = flag_frame(people, rules, result.period)
    ws = add_sheet(wb, SHEET_FLAGS)
    title = f"{period} 第十四条预警与处理"
    columns = scheme_columns(FLAG_COLUMNS, rules)
    if not _table(ws, f, title, columns, _values(flags, columns)):
        ws.write_string(FIRST_DATA_ROW, 0, where or "本期无人触发第十四条情形")
    taken.add(SHEET_FLAGS.casefold())


BRANCHES_CSV = "branches.csv"


def write_branches_csv(
    path: Path, rows: list[SummaryRow], bank: BranchTally, rules: Rulebook
) -> Path:
    """branches.csv: the rows of 全行汇总 (parents' subtotals, branches, the bank), whole."""
    from .export import write_csv

    grades, outcomes = grade_names(rules), outcome_names(rules)
    records = []
    for r in [*rows, SummaryRow(bank)]:
        t = r.tally
        records.append(
            {
                "上级机构": r.parent, "机构号": t.code, "机构名称": t.name, "人数": t.people,
                "已计分": t.scored, "未计分": t.refused, f"平均{rules.total.label}": t.average_text,
                **{g: t.grades[g] for g in grades}, **{o: t.outcomes[o] for o in outcomes},
                "明细所在工作簿": r.book,
            }
        )  # fmt: skip
    frame = pd.DataFrame(records)
    return write_csv(path, frame, ["上级机构", "机构号", "机构名称", "明细所在工作簿"])


def _adjustments_sheet(wb, f: _Formats, period: str, result) -> bool:
    """申诉调整: every adjustment the run read (appeal.py), applied or not, with its reason,
    approver and date; none when the run read no adjustment."""
    from ..appeal import TABLE_HEADERS, table_rows

    adjustments = getattr(result, "adjustments", None)
    if adjustments is None or not (adjustments.items or adjustments.refused_files):
        return False
    rows = table_rows(adjustments, result.people)
    columns: list[Column] = [(h, k, "text", w) for k, (h, w) in TABLE_HEADERS.items()]
    values = {k: [cell_text(r[k]) for r in rows] for k in TABLE_HEADERS}
    _table(add_sheet(wb, SHEET_ADJUSTMENTS), f, f"{period} 申诉调整", columns, values)
    return True


def _empty(columns: list[Column]) -> dict[str, list]:
    return {key: [] for _, key, _, _ in columns}
