"""All problems of a run collected into one table, never raising at the first.

Workbook checks decide which files are used at all; row checks run as vectorised masks over every
row of every accepted workbook at once. The outcome is a typed people table (one row per person,
`refused` and `errors` filled in) and a problem table (file, sheet, cell, column, check, value,
level, message) that the reports flatten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import problems as P
from .errors import UsageError
from .numbers import show
from .periods import Period, parse_period
from .read import WorkbookData
from .rowchecks import check_rows
from .rulebook import Rulebook
from .schema import BRANCH_CODE_RE, FIELDS, INFO_SHEET


@dataclass
class Validated:
    people: pd.DataFrame
    problems: pd.DataFrame
    accepted: list[WorkbookData]
    refused_files: list[tuple[str, str]]  # (file, reason)


def check_workbook(wb: WorkbookData, period: Period) -> list[dict[str, Any]]:
    """Problems that refuse a whole workbook: 基本信息 incomplete or for another period."""
    out = []
    marks = getattr(wb, "marks", None) or {}  # books cached by an older reader have none
    for key, label in (
        ("branch_code", "机构号"),
        ("branch_name", "机构名称"),
        ("period", "考核期"),
    ):
        value, cell = wb.info.get(key, (None, ""))
        where = cell.split("!")[1] if cell else ""
        kind, text = marks.get((INFO_SHEET, _row_of(where), key), ("", ""))
        if kind == "formula":
            out.append(
                P.problem(P.INFO_FORMULA_NO_VALUE, wb.file, where, label, None, sheet=INFO_SHEET)
            )
        elif kind == "error":
            out.append(P.problem(P.INFO_CELL_ERROR, wb.file, where, label, text, sheet=INFO_SHEET))
        elif value is None or (isinstance(value, str) and not value.strip()):
            out.append(P.problem(P.INFO_MISSING, wb.file, where, label, None, sheet=INFO_SHEET))
    if out:
        return out
    code, cell = wb.info["branch_code"]
    code_text = show(code)
    if not BRANCH_CODE_RE.match(code_text):
        out.append(
            P.problem(
                P.BRANCH_CODE_INVALID, wb.file, cell.split("!")[1], "机构号", code, sheet="基本信息"
            )
        )
    value, cell = wb.info["period"]
    try:
        got = parse_period(show(value), default_year=period.year)
    except UsageError:
        out.append(
            P.problem(
                P.PERIOD_INVALID, wb.file, cell.split("!")[1], "考核期", value, sheet="基本信息"
            )
        )
    else:
        if got != period:
            out.append(
                P.problem(
                    P.PERIOD_MISMATCH,
                    wb.file,
                    cell.split("!")[1],
                    "考核期",
                    value,
                    period.code,
                    sheet="基本信息",
                )
            )
    return out


def _row_of(cell: str) -> int:
    digits = "".join(ch for ch in cell if ch.isdigit())
    return int(digits) if digits else 0


def validate(
    books: list[WorkbookData], refused: list[tuple[str, str]], period: Period, rules: Rulebook
) -> Validated:
    """Check every workbook, then every row of the accepted ones, in one pass."""
    problems: list[dict[str, Any]] = []
    refused_files = list(refused)
    candidates = []
    for wb in books:
        probs = check_workbook(wb, period)
        problems.extend(wb.notes)
        if probs:
            problems.extend(probs)
            refused_files.append((wb.file, "; ".join(p["message"] for p in probs)))
        else:
            candidates.append(wb)
    accepted = _drop_duplicate_branches(candidates, problems, refused_files)
    frame = _concat(accepted)
    people, row_problems = check_rows(frame, accepted, rules)
    problems.extend(row_problems)
    table = pd.DataFrame(problems, columns=P.PROBLEM_COLUMNS)
    return Validated(people, table, accepted, refused_files)


def _drop_duplicate_branches(
    books: list[WorkbookData], problems: list, refused_files: list
) -> list[WorkbookData]:
    codes = pd.Series([show(wb.info["branch_code"][0]) for wb in books], dtype=object)
    dup = codes.duplicated(keep=False)
    keep = []
    for i, wb in enumerate(books):
        if not dup.iloc[i]:
            keep.append(wb)
            continue
        others = ", ".join(
            b.file for j, b in enumerate(books) if j != i and codes.iloc[j] == codes.iloc[i]
        )
        p = P.problem(
            P.BRANCH_DUPLICATE,
            wb.file,
            wb.info["branch_code"][1].split("!")[1],
            "机构号",
            codes.iloc[i],
            others,
            sheet="基本信息",
        )
        problems.append(p)
        refused_files.append((wb.file, p["message"]))
    return keep


def _concat(books: list[WorkbookData]) -> pd.DataFrame:
    parts = []
    for order, wb in enumerate(books):
        f = wb.frame.copy()
        f["_file"] = wb.file
        f["_order"] = order
        f["branch_code"] = show(wb.info["branch_code"][0])
        f["branch_name"] = show(wb.info["branch_name"][0])
        parts.append(f)
    columns = [fl.key for fl in FIELDS] + ["_row", "_file", "_order", "branch_code", "branch_name"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True, sort=False)
    for key in columns:
        if key not in frame:
            frame[key] = None
    return frame
