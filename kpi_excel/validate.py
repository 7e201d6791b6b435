"""All problems of a run collected into one table, never raising at the first.

Workbook checks decide which files are used at all; row checks run as vectorised masks over every
row of every accepted workbook at once. The outcome is a typed people table (one row per person,
`refused` and `errors` filled in) and a problem table (file, sheet, cell, column, check, value,
level, message) that the reports flatten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import problems as P
from .errors import UsageError
from .numbers import show
from .periods import Calendar, Period, parse_period
from .read import NO_INFO, PackedWorkbook, WorkbookData
from .rowchecks import check_rows
from .rulebook import Rulebook
from .schema import BRANCH_CODE_RE, INFO_SHEET, Contract


@dataclass
class Validated:
    people: pd.DataFrame
    problems: pd.DataFrame
    accepted: list[WorkbookData] | list[PackedWorkbook]  # packed once the rows are checked
    refused_files: list[tuple[str, str]]  # (file, reason)


def check_workbook(wb: WorkbookData, period: Period, calendar: Calendar) -> list[dict[str, Any]]:
    """Problems that refuse a whole workbook: 基本信息 incomplete or for another period."""
    out = []
    marks = getattr(wb, "marks", None) or {}  # books cached by an older reader have none
    for key, label in (
        ("branch_code", "机构号"),
        ("branch_name", "机构名称"),
        ("period", "考核期"),
    ):
        value, where, row = wb.info.get(key, NO_INFO)
        kind, text = marks.get((INFO_SHEET, row, key), ("", ""))
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
    code, cell, _ = wb.info["branch_code"]
    code_text = show(code)
    if not BRANCH_CODE_RE.match(code_text):
        out.append(
            P.problem(P.BRANCH_CODE_INVALID, wb.file, cell, "机构号", code, sheet=INFO_SHEET)
        )
    value, cell, _ = wb.info["period"]
    try:
        got = parse_period(show(value), calendar, default_year=period.year)
    except UsageError:
        out.append(P.problem(P.PERIOD_INVALID, wb.file, cell, "考核期", value, sheet=INFO_SHEET))
    else:
        if got != period:
            out.append(
                P.problem(
                    P.PERIOD_MISMATCH,
                    wb.file,
                    cell,
                    "考核期",
                    value,
                    period.code,
                    sheet=INFO_SHEET,
                )
            )
    return out


def validate(
    books: list[WorkbookData],
    refused: list[tuple[str, str]],
    period: Period,
    rules: Rulebook,
    duplicates: list[tuple[str, str]] | None = None,
) -> Validated:
    """Check every workbook, then every row of the accepted ones, in one pass.

    `duplicates`: (copy, original) of inputs left out as byte-identical copies; each is noted."""
    problems: list[dict[str, Any]] = [
        P.problem(P.FILE_DUPLICATE, copy, "", "", None, original, sheet="")
        for copy, original in duplicates or []
    ]
    refused_files = list(refused)
    candidates = []
    for wb in books:
        probs = check_workbook(wb, period, rules.calendar)
        problems.extend(wb.notes)
        if probs:
            problems.extend(probs)
            refused_files.append((wb.file, "; ".join(p["message"] for p in probs)))
        else:
            candidates.append(wb)
    accepted = _drop_duplicate_branches(candidates, problems, refused_files)
    frame = _concat(accepted, rules.contract)
    people, row_problems = check_rows(frame, accepted, rules)
    problems.extend(row_problems)
    table = pd.DataFrame(problems, columns=P.PROBLEM_COLUMNS)
    return Validated(people, table, accepted, refused_files)


def _drop_duplicate_branches(
    books: list[WorkbookData], problems: list, refused_files: list
) -> list[WorkbookData]:
    codes = [show(wb.info["branch_code"][0]) for wb in books]
    same: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        same.setdefault(code, []).append(i)
    keep = []
    for i, wb in enumerate(books):
        group = same[codes[i]]
        if len(group) == 1:
            keep.append(wb)
            continue
        others = ", ".join(books[j].file for j in group if j != i)
        p = P.problem(
            P.BRANCH_DUPLICATE,
            wb.file,
            wb.info["branch_code"].cell,
            "机构号",
            codes[i],
            others,
            sheet="基本信息",
        )
        problems.append(p)
        refused_files.append((wb.file, p["message"]))
    return keep


def _concat(books: list[WorkbookData], contract: Contract) -> pd.DataFrame:
    """Every accepted row in one frame, with its file, order and branch (one concat, no copies
    of the books' frames; the per-book columns are repeated in bulk)."""
    columns = [*contract.keys, "_row", "_file", "_order", "branch_code", "branch_name"]
    if not books:
        return pd.DataFrame(columns=columns)
    frame = pd.concat([wb.frame for wb in books], ignore_index=True, sort=False)
    lengths = [len(wb.frame) for wb in books]

    def repeat(values: list[str]) -> pd.Series:
        return pd.Series(np.repeat(np.array(values, dtype=object), lengths), dtype="str")

    extra = {
        "_file": repeat([wb.file for wb in books]),
        "_order": pd.Series(np.repeat(np.arange(len(books), dtype=np.int64), lengths)),
        "branch_code": repeat([show(wb.info["branch_code"][0]) for wb in books]),
        "branch_name": repeat([show(wb.info["branch_name"][0]) for wb in books]),
    }
    missing = [key for key in columns if key not in frame and key not in extra]
    for key in missing:
        extra[key] = pd.Series(None, index=frame.index, dtype=object)
    frame = frame.drop(columns=[k for k in extra if k in frame])
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
