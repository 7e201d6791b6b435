"""The bank-wide workbook for HR: `summary.xlsx`.

Sheets: 全行汇总 (one row per branch, a bank total and two native charts), 全行排名,
预警与处理 (one row per raised flag) and one sheet per branch. Every name, label and count
comes from the people table and the rulebook; text from a branch is always a string cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from ..numbers import fmt_fixed, to_units
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
    """正常, 预警, 降级, 解聘 (as the rulebook names them), mildest first."""
    return [rules.outcomes[k] for k in OUTCOME_ORDER]


def text_of(value: Any) -> str:
    """A cell of the people table as display text; blanks (None, NaN, NA) become ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def _average(totals: pd.Series, decimals: int) -> float | None:
    """Exact mean of already-rounded totals, rounded half away from zero (RULES.md §4)."""
    if not len(totals):
        return None
    units = Decimal(int(to_units(totals.to_numpy(), decimals).sum()))
    mean = units / len(totals) / (Decimal(10) ** decimals)
    return float(mean.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _tally(code: str, name: str, people: pd.DataFrame, rules: Rulebook) -> BranchTally:
    if not len(people):
        people = pd.DataFrame(columns=["refused", "total", "grade", "outcome"])
    scored = people[~people["refused"].astype(bool)]
    totals = pd.to_numeric(scored["total"], errors="coerce").dropna()
    grades = scored["grade"].map(text_of).value_counts()
    outcomes = scored["outcome"].map(text_of).value_counts()
    average = _average(totals, rules.decimals)
    return BranchTally(
        code=code,
        name=name,
        people=len(people),
        scored=len(scored),
        refused=len(people) - len(scored),
        average=average,
        average_text=fmt_fixed(average, rules.decimals) if average is not None else "",
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
    """One row per raised flag of every scored person, by 机构号 (people order within a branch)."""
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
    name = base[:SHEET_NAME_MAX].rstrip("'")
    n = 1
    while name.casefold() in taken:
        n += 1
        suffix = f"~{n}"
        name = base[: SHEET_NAME_MAX - len(suffix)].rstrip("'") + suffix
    taken.add(name.casefold())
    return name


# ---------------------------------------------------------------------------------------------
# Writing


def score_format(decimals: int) -> str:
    """Excel number format showing `decimals` places (0.00 for the shipped rulebook)."""
    return "0." + "0" * decimals if decimals > 0 else "0"


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook, decimals: int) -> None:
        self.num = score_format(decimals)
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
        self.score = wb.add_format({"border": 1, "num_format": self.num})
        self.int = wb.add_format({"border": 1, "num_format": "0"})
        self.total_text = wb.add_format({"border": 1, "bold": True, "bg_color": "#F2F2F2"})
        self.total_score = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": self.num}
        )
        self.total_int = wb.add_format(
            {"border": 1, "bold": True, "bg_color": "#F2F2F2", "num_format": "0"}
        )

    def of(self, kind: str, total: bool = False):
        if total:
            return {"text": self.total_text, "score": self.total_score}.get(kind, self.total_int)
        return {"text": self.text, "score": self.score}.get(kind, self.int)


# (header, key in the record, kind: text | score | int, column width)
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
    ("综合得分", "total", "score", 10), ("标志代码", "flag_code", "text", 18),
    ("情形", "flag_label", "text", 30), ("依据", "flag_article", "text", 26),
    ("类别", "flag_kind", "text", 8), ("处理", "flag_action", "text", 20), ("考核结论", "outcome", "text", 10),
]  # fmt: skip


def _branch_columns(rules: Rulebook) -> list[Column]:
    return [
        ("员工编号", "emp_id", "text", 12), ("姓名", "name", "text", 10), ("岗位", "role_label", "text", 14),
        ("状态", "status_label", "text", 8),
        *[(f"{i.label}得分", i.key, "score", 10) for i in rules.items],
        ("业务得分", "business_score", "score", 10), ("行为规范扣分", "conduct_deduction", "score", 10),
        ("综合得分", "total", "score", 10), ("考核等级", "grade", "text", 10),
        ("支行内排名", "rank_branch", "int", 9), ("考核结论", "outcome", "text", 10),
        ("建议职级", "recommended_level", "text", 14), ("预警与处理", "flags_text", "text", 40),
        ("未计分原因", "errors", "text", 40),
    ]  # fmt: skip


def _write_row(ws, f: _Formats, row: int, columns: list[Column], rec: dict, total=False) -> None:
    for c, (_, key, kind, _) in enumerate(columns):
        value = rec.get(key)
        write_value(ws, row, c, value, "text" if kind == "text" else "number", f.of(kind, total))


def _table(
    ws, f: _Formats, title: str, columns: list[Column], records: list[dict], filter_=True
) -> None:
    """Title, headers and rows; frozen header, widths, A4 landscape fit to width."""
    ws.write_string(0, 0, cell_text(title), f.title)
    for c, (label, _, _, width) in enumerate(columns):
        ws.write_string(HEADER_ROW, c, label, f.head)
        ws.set_column(c, c, width)
    for r, rec in enumerate(records, start=FIRST_DATA_ROW):
        _write_row(ws, f, r, columns, rec)
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    if filter_ and records:
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + len(records), len(columns) - 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    ws.repeat_rows(HEADER_ROW)


def _totals_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    ws = wb.add_worksheet(sheet)
    per_branch, bank = tallies(result.people, rules)
    grades, outcomes = grade_names(rules), outcome_names(rules)
    columns: list[Column] = [
        ("机构号", "code", "text", 10), ("机构名称", "name", "text", 16), ("人数", "people", "int", 7),
        ("已计分", "scored", "int", 7), ("未计分", "refused", "int", 7),
        ("平均综合得分", "average", "score", 12),
        *[(g, f"grade:{g}", "int", 8) for g in grades],
        *[(o, f"outcome:{o}", "int", 7) for o in outcomes],
    ]  # fmt: skip

    def record(t: BranchTally) -> dict[str, Any]:
        return {
            **vars(t),
            **{f"grade:{g}": n for g, n in t.grades.items()},
            **{f"outcome:{o}": n for o, n in t.outcomes.items()},
        }

    title = f"{result.period.code} 全行考核汇总"
    _table(ws, f, title, columns, [record(t) for t in per_branch], filter_=False)
    total_row = FIRST_DATA_ROW + len(per_branch)
    _write_row(ws, f, total_row, columns, record(bank), total=True)
    ws.freeze_panes(FIRST_DATA_ROW, 2)
    _charts(wb, ws, f.num, sheet, len(per_branch), total_row, len(grades))


def _charts(
    wb, ws, num_format: str, sheet: str, branches: int, total_row: int, grades: int
) -> None:
    """Native charts below the table: bank grade distribution, and average total per branch."""
    first = 6  # 机构号, 机构名称, 人数, 已计分, 未计分, 平均综合得分, then the grades
    at = total_row + 2
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
    dist.set_y_axis({"name": "人数"})
    ws.insert_chart(at, 0, dist, {"x_scale": 1.2, "y_scale": 1.1})
    if not branches:
        return
    avg = wb.add_chart({"type": "bar"})
    last = FIRST_DATA_ROW + branches - 1
    avg.add_series(
        {
            "name": "平均综合得分",
            "categories": [sheet, FIRST_DATA_ROW, 1, last, 1],
            "values": [sheet, FIRST_DATA_ROW, 5, last, 5],
            "data_labels": {"value": True, "num_format": num_format},
            "fill": {"color": "#70AD47"},
        }
    )
    avg.set_title({"name": "各机构平均综合得分"})
    avg.set_legend({"none": True})
    avg.set_y_axis({"reverse": True})  # a bar chart's category axis: first branch on top
    avg.set_x_axis({"num_format": "0"})
    height = max(288, 60 + 24 * branches)  # 288 px is XlsxWriter's default chart height
    ws.insert_chart(at, 8, avg, {"x_scale": 1.2, "y_scale": height / 288})


def _by_rank(people: pd.DataFrame, rules: Rulebook, rank: str) -> pd.DataFrame:
    """Groups in rulebook order (行长 first), then by rank, then by 员工编号."""
    order = {g: i for i, g in enumerate(rules.groups)}
    key = people["group"].map(lambda g: order.get(text_of(g), len(order)))
    ordered = people.assign(_g=key).sort_values(["_g", rank, "emp_id"], kind="stable")
    return ordered.drop(columns="_g")


def _scored(people: pd.DataFrame) -> pd.DataFrame:
    return people[~people["refused"].astype(bool)] if len(people) else people


def _ranking_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    scored = _scored(result.people)
    records = []
    if len(scored):
        label = scored["group"].map(lambda g: rules.groups.get(text_of(g), text_of(g)))
        records = _by_rank(scored.assign(group_label=label), rules, "rank_bank").to_dict("records")
    title = f"{result.period.code} 全行排名(按组别)"
    _table(wb.add_worksheet(sheet), f, title, RANKING_COLUMNS, records)


def _flags_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str) -> None:
    ws = wb.add_worksheet(sheet)
    records = flag_rows(result.people, rules)
    _table(ws, f, f"{result.period.code} 第十四条预警与处理", FLAG_COLUMNS, records)
    if not records:
        ws.write_string(FIRST_DATA_ROW, 0, "本期无人触发第十四条情形")


def _branch_sheet(wb, f: _Formats, result, rules: Rulebook, sheet: str, branch: tuple) -> None:
    code, name, mine = branch
    refused = mine["refused"].astype(bool)
    ordered = pd.concat([_by_rank(mine[~refused], rules, "rank_branch"), mine[refused]])
    title = f"{name}({code}) {result.period.code} 考核结果"
    ws = wb.add_worksheet(sheet)
    _table(ws, f, title, _branch_columns(rules), ordered.to_dict("records"))
    ws.freeze_panes(FIRST_DATA_ROW, 2)


def write_summary(path: Path, result, rules: Rulebook) -> Path:
    """Write the HR workbook to `path` (atomically); return where it ended up."""

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), workbook_options())
        f = _Formats(wb, rules.decimals)
        taken = {s.casefold() for s in (SHEET_TOTALS, SHEET_RANKING, SHEET_FLAGS)}
        _totals_sheet(wb, f, result, rules, SHEET_TOTALS)
        _ranking_sheet(wb, f, result, rules, SHEET_RANKING)
        _flags_sheet(wb, f, result, rules, SHEET_FLAGS)
        for branch in branch_groups(result.people):
            sheet = safe_sheet_name(f"{branch[0]} {branch[1]}", taken)
            _branch_sheet(wb, f, result, rules, sheet, branch)
        wb.close()

    return write_atomic(path, write)
