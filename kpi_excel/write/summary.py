"""The bank-wide workbook for HR: `summary.xlsx`.

Sheets: 全行汇总 (one row per branch, a bank total and two native charts), 全行排名,
预警与处理 (one row per raised flag) and one sheet per branch. Every name, label and count
comes from the people table and the rulebook; text from a branch is always a string cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from ..rulebook import Rulebook
from .atomic import write_atomic
from .branch import workbook_options, write_value
from .safe import cell_text

SHEET_TOTALS = "全行汇总"
SHEET_RANKING = "全行排名"
SHEET_FLAGS = "预警与处理"
BANK_TOTAL_LABEL = "全行合计"
SHEET_NAME_MAX = 31
_SHEET_BAD_RE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
OUTCOME_ORDER = ("none", "warning", "demote", "dismiss")
ACTION_WARNING_SUFFIX = "?"  # a flag code ending in ? was raised as a warning (CONTRACT.md)

HEADER_ROW = 1  # row 0 holds the sheet title, row 1 the column headers
FIRST_DATA_ROW = 2


# ---------------------------------------------------------------------------------------------
# Tallies (shared with the HTML run report)


@dataclass
class BranchTally:
    code: str
    name: str
    people: int
    scored: int
    refused: int
    average: float | None  # average total of the scored people
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
    """正常, 预警, 降级, 解聘 (as the rulebook names them), mildest first."""
    return [rules.outcomes[k] for k in OUTCOME_ORDER]


def text_of(value: Any) -> str:
    """A cell of the people table as display text; blanks (None, NaN, NA) become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def _tally(code: str, name: str, people: pd.DataFrame, rules: Rulebook) -> BranchTally:
    if not len(people):
        return BranchTally(code, name, 0, 0, 0, None, {g: 0 for g in grade_names(rules)},
                           {o: 0 for o in outcome_names(rules)})  # fmt: skip
    scored = people[~people["refused"].astype(bool)]
    totals = pd.to_numeric(scored["total"], errors="coerce").dropna()
    grades = scored["grade"].map(text_of).value_counts()
    outcomes = scored["outcome"].map(text_of).value_counts()
    return BranchTally(
        code=code,
        name=name,
        people=len(people),
        scored=len(scored),
        refused=len(people) - len(scored),
        average=float(totals.mean()) if len(totals) else None,
        grades={g: int(grades.get(g, 0)) for g in grade_names(rules)},
        outcomes={o: int(outcomes.get(o, 0)) for o in outcome_names(rules)},
    )


def branch_groups(people: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(机构号, 机构名称, that branch's people) for every branch, by 机构号."""
    if not len(people):
        return []
    codes = people["branch_code"].map(text_of)
    out = []
    for code in sorted(codes.unique()):
        mine = people[codes == code]
        names = [n for n in mine["branch_name"].map(text_of) if n]
        out.append((code, names[0] if names else "", mine))
    return out


def tallies(people: pd.DataFrame, rules: Rulebook) -> tuple[list[BranchTally], BranchTally]:
    """One tally per branch, and the bank's (averages are of people, not of branches)."""
    per_branch = [_tally(code, name, mine, rules) for code, name, mine in branch_groups(people)]
    return per_branch, _tally("", BANK_TOTAL_LABEL, people, rules)


def flag_rows(people: pd.DataFrame, rules: Rulebook) -> list[dict[str, Any]]:
    """One row per raised flag of every scored person, in people order."""
    known = {f.code: f for f in rules.flags}
    actions = {"dismiss": rules.outcomes["dismiss"], "demote": rules.outcomes["demote"]}
    rows: list[dict[str, Any]] = []
    if not len(people):
        return rows
    scored = people[~people["refused"].astype(bool)]
    scored = scored.sort_values("branch_code", key=lambda s: s.map(text_of), kind="stable")
    for rec in scored.to_dict("records"):
        for raw in filter(None, (c.strip() for c in text_of(rec.get("flags")).split(";"))):
            warning = raw.endswith(ACTION_WARNING_SUFFIX)
            code = raw.rstrip(ACTION_WARNING_SUFFIX)
            flag = known.get(code)
            action = actions.get(flag.action, flag.action) if flag else ""
            if warning:
                action = (
                    f"{rules.outcomes['warning']}:年度将{action}"
                    if action
                    else rules.outcomes["warning"]
                )
            rows.append(
                {
                    **rec,
                    "flag_code": code,
                    "flag_label": flag.label if flag else code,
                    "flag_article": flag.article if flag else "",
                    "flag_action": action,
                    "flag_kind": rules.outcomes["warning"] if warning else "处理",
                }
            )
    return rows


# ---------------------------------------------------------------------------------------------
# Sheet names


def safe_sheet_name(wanted: str, taken: set[str]) -> str:
    """An Excel sheet name: no []:*?/\\, not starting/ending with ', ≤31 chars, unique.

    `taken` holds the casefolded names already used (Excel compares them case-insensitively);
    the returned name is added to it.
    """
    base = _SHEET_BAD_RE.sub("_", wanted).strip().strip("'").strip() or "机构"
    if base.casefold() == "history":  # reserved by Excel
        base = "_history"
    name = base[:SHEET_NAME_MAX]
    n = 1
    while name.casefold() in taken:
        n += 1
        suffix = f"~{n}"
        name = base[: SHEET_NAME_MAX - len(suffix)].rstrip("'") + suffix
    taken.add(name.casefold())
    return name


# ---------------------------------------------------------------------------------------------
# Writing


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.head = wb.add_format(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "text_wrap": True,
                "valign": "vcenter",
            }
        )
        self.text = wb.add_format({"border": 1})
        self.score = wb.add_format({"border": 1, "num_format": "0.00"})
        self.int = wb.add_format({"border": 1, "num_format": "0"})
        self.total_text = wb.add_format({"border": 1, "bold": True, "bg_color": "#F2F2F2"})
        self.total_score = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": "0.00"}
        )
        self.total_int = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": "0"}
        )

    def of(self, kind: str, total: bool = False):
        if total:
            return {"text": self.total_text, "score": self.total_score}.get(kind, self.total_int)
        return {"text": self.text, "score": self.score}.get(kind, self.int)


# (header, kind, width)
Column = tuple[str, str, float]


def _table(
    ws, f: _Formats, title: str, columns: list[Column], rows: list[list[Any]], *, filter_=True
) -> None:
    """Title, headers and rows; frozen header, widths, A4 landscape fit to width."""
    ws.write_string(0, 0, cell_text(title), f.title)
    for c, (label, _, width) in enumerate(columns):
        ws.write_string(HEADER_ROW, c, label, f.head)
        ws.set_column(c, c, width)
    for r, values in enumerate(rows, start=FIRST_DATA_ROW):
        for c, ((_, kind, _), value) in enumerate(zip(columns, values, strict=True)):
            write_value(ws, r, c, value, "text" if kind == "text" else "number", f.of(kind))
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    if filter_ and rows:
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + len(rows), len(columns) - 1)
    _page(ws)


def _page(ws) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEADER_ROW)
    ws.hide_gridlines(0)


def _totals_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    ws = wb.add_worksheet(sheet)
    per_branch, bank = tallies(result.people, rules)
    grades, outcomes = grade_names(rules), outcome_names(rules)
    columns: list[Column] = [
        ("机构号", "text", 10),
        ("机构名称", "text", 16),
        ("人数", "int", 7),
        ("已计分", "int", 7),
        ("未计分", "int", 7),
        ("平均综合得分", "score", 12),
        *[(g, "int", 8) for g in grades],
        *[(o, "int", 7) for o in outcomes],
    ]

    def values(t: BranchTally) -> list[Any]:
        return [
            t.code, t.name, t.people, t.scored, t.refused, t.average,
            *[t.grades[g] for g in grades], *[t.outcomes[o] for o in outcomes],
        ]  # fmt: skip

    _table(
        ws,
        f,
        f"{result.period.code} 全行考核汇总",
        columns,
        [values(t) for t in per_branch],
        filter_=False,
    )
    total_row = FIRST_DATA_ROW + len(per_branch)
    for c, ((_, kind, _), value) in enumerate(zip(columns, values(bank), strict=True)):
        write_value(
            ws, total_row, c, value, "text" if kind == "text" else "number", f.of(kind, total=True)
        )
    ws.freeze_panes(FIRST_DATA_ROW, 2)
    _charts(wb, ws, sheet, per_branch, total_row, len(grades), chart_row=total_row + 2)


def _charts(
    wb, ws, sheet: str, per_branch: list[BranchTally], total_row: int, n_grades: int, chart_row: int
) -> None:
    """Native charts: bank grade distribution, and average total per branch."""
    first_grade_col = 6
    grades = wb.add_chart({"type": "column"})
    grades.add_series(
        {
            "name": "人数",
            "categories": [
                sheet,
                HEADER_ROW,
                first_grade_col,
                HEADER_ROW,
                first_grade_col + n_grades - 1,
            ],
            "values": [
                sheet,
                total_row,
                first_grade_col,
                total_row,
                first_grade_col + n_grades - 1,
            ],
            "data_labels": {"value": True},
            "fill": {"color": "#4472C4"},
        }
    )
    grades.set_title({"name": "全行考核等级分布"})
    grades.set_legend({"none": True})
    grades.set_y_axis({"name": "人数", "major_gridlines": {"visible": True}})
    ws.insert_chart(chart_row, 0, grades, {"x_scale": 1.2, "y_scale": 1.1})

    if not per_branch:
        return
    avg = wb.add_chart({"type": "bar"})
    last = FIRST_DATA_ROW + len(per_branch) - 1
    avg.add_series(
        {
            "name": "平均综合得分",
            "categories": [sheet, FIRST_DATA_ROW, 1, last, 1],
            "values": [sheet, FIRST_DATA_ROW, 5, last, 5],
            "data_labels": {"value": True, "num_format": "0.00"},
            "fill": {"color": "#70AD47"},
        }
    )
    avg.set_title({"name": "各机构平均综合得分"})
    avg.set_legend({"none": True})
    avg.set_y_axis({"reverse": True})  # the bar chart's category axis: first branch on top
    avg.set_x_axis({"num_format": "0"})
    height = max(288, 40 + 24 * len(per_branch))
    ws.insert_chart(chart_row, 8, avg, {"x_scale": 1.2, "y_scale": height / 288})


def _group_label(rules: Rulebook, group: Any) -> str:
    return rules.groups.get(text_of(group), text_of(group))


def _by_rank(people: pd.DataFrame, rules: Rulebook, rank: str) -> pd.DataFrame:
    """Groups in rulebook order (行长 first), then by rank, then by 员工编号."""
    order = {g: i for i, g in enumerate(rules.groups)}
    key = people["group"].map(lambda g: order.get(text_of(g), len(order)))
    return (
        people.assign(_g=key).sort_values(["_g", rank, "emp_id"], kind="stable").drop(columns="_g")
    )


def _ranking_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    ws = wb.add_worksheet(sheet)
    people = result.people
    scored = (
        _by_rank(people[~people["refused"].astype(bool)], rules, "rank_bank")
        if len(people)
        else people
    )
    columns: list[Column] = [
        ("全行排名", "int", 9), ("组别", "text", 10), ("机构号", "text", 10), ("机构名称", "text", 16),
        ("员工编号", "text", 12), ("姓名", "text", 10), ("岗位", "text", 14), ("综合得分", "score", 10),
        ("考核等级", "text", 10), ("考核结论", "text", 10),
    ]  # fmt: skip
    rows = [
        [
            rec["rank_bank"],
            _group_label(rules, rec["group"]),
            rec["branch_code"],
            rec["branch_name"],
            rec["emp_id"],
            rec["name"],
            rec["role_label"],
            rec["total"],
            rec["grade"],
            rec["outcome"],
        ]  # fmt: skip
        for rec in scored.to_dict("records")
    ]
    _table(ws, f, f"{result.period.code} 全行排名(按组别)", columns, rows)
    ws.freeze_panes(FIRST_DATA_ROW, 1)


def _flags_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    ws = wb.add_worksheet(sheet)
    columns: list[Column] = [
        ("机构号", "text", 10), ("机构名称", "text", 16), ("员工编号", "text", 12), ("姓名", "text", 10),
        ("岗位", "text", 14), ("综合得分", "score", 10), ("标志代码", "text", 18), ("情形", "text", 30),
        ("依据", "text", 26), ("类别", "text", 8), ("处理", "text", 20), ("考核结论", "text", 10),
    ]  # fmt: skip
    rows = [
        [
            r["branch_code"],
            r["branch_name"],
            r["emp_id"],
            r["name"],
            r["role_label"],
            r["total"],
            r["flag_code"],
            r["flag_label"],
            r["flag_article"],
            r["flag_kind"],
            r["flag_action"],
            r["outcome"],
        ]  # fmt: skip
        for r in flag_rows(result.people, rules)
    ]
    _table(ws, f, f"{result.period.code} 第十四条预警与处理", columns, rows)
    if not rows:
        ws.write_string(FIRST_DATA_ROW, 0, "本期无人触发第十四条情形")


def _branch_sheet(
    wb, f: _Formats, result, rules: Rulebook, sheet: str, code: str, name: str, mine
) -> None:
    ws = wb.add_worksheet(sheet)
    items = [(i.key, f"{i.label}得分") for i in rules.items]
    columns: list[Column] = [
        ("员工编号", "text", 12), ("姓名", "text", 10), ("岗位", "text", 14), ("状态", "text", 8),
        *[(label, "score", 10) for _, label in items],
        ("业务得分", "score", 10), ("行为规范扣分", "score", 10), ("综合得分", "score", 10),
        ("考核等级", "text", 10), ("支行内排名", "int", 9), ("考核结论", "text", 10),
        ("建议职级", "text", 14), ("预警与处理", "text", 40), ("未计分原因", "text", 40),
    ]  # fmt: skip
    refused = mine["refused"].astype(bool)
    ordered = pd.concat([_by_rank(mine[~refused], rules, "rank_branch"), mine[refused]])
    rows = []
    for rec in ordered.to_dict("records"):
        rows.append(
            [
                rec["emp_id"],
                rec["name"],
                rec["role_label"],
                rec["status_label"],
                *[rec.get(key) for key, _ in items],
                rec["business_score"],
                rec["conduct_deduction"] if not rec["refused"] else None,
                rec["total"],
                rec["grade"],
                rec["rank_branch"],
                rec["outcome"],
                rec["recommended_level"],
                rec["flags_text"],
                rec["errors"],
            ]  # fmt: skip
        )
    _table(ws, f, f"{name}({code}) {result.period.code} 考核结果", columns, rows)
    ws.freeze_panes(FIRST_DATA_ROW, 2)


def write_summary(path: Path, result, rules: Rulebook) -> Path:
    """Write the HR workbook to `path` (atomically); return where it ended up."""

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), workbook_options())
        f = _Formats(wb)
        taken = {s.casefold() for s in (SHEET_TOTALS, SHEET_RANKING, SHEET_FLAGS)}
        _totals_sheet(wb, f, result, rules, SHEET_TOTALS)
        _ranking_sheet(wb, f, result, rules, SHEET_RANKING)
        _flags_sheet(wb, f, result, rules, SHEET_FLAGS)
        for code, name, mine in branch_groups(result.people):
            sheet = safe_sheet_name(f"{code} {name}", taken)
            _branch_sheet(wb, f, result, rules, sheet, code, name, mine)
        wb.close()

    return write_atomic(path, write)
