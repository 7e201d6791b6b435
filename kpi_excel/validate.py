"""All problems of a run collected into one table, never raising at the first.

Workbook checks decide which files are used at all (from what each packed workbook keeps at
hand); row checks run as vectorised masks over the rows of many workbooks at once, opened a part
at a time (`ROWS_PER_PART`) so that a national bank's cells as read are never all in memory,
then over the typed rows of the whole run for what compares workbooks (a 员工编号 used twice)
or reads the whole run (plausibility). The outcome is a typed people table (one row per person,
`refused` and `errors` filled in) and a problem table (file, sheet, cell, column, check, value,
level, message) that the reports flatten.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import problems as P
from .errors import UsageError
from .numbers import show
from .periods import Calendar, Period, parse_period
from .read import NO_INFO, PackedWorkbook, WorkbookData
from .rowchecks import Part, check_part, finish
from .rulebook import Rulebook
from .schema import BRANCH_CODE_RE, INFO_SHEET, Contract

# The row checks open this many rows' workbooks at a time: their cells as read (a Python object
# each) are the largest transient table of a run; 20,000 rows keep it to some 30 MB while the
# vectorised checks still run over long columns.
ROWS_PER_PART = 20_000


@dataclass
class Validated:
    people: pd.DataFrame
    problems: pd.DataFrame
    accepted: list[PackedWorkbook] | list[WorkbookData]  # packed in a run; api.score: as read
    refused_files: list[tuple[str, str]]  # (file, reason)


def check_workbook(
    wb: WorkbookData | PackedWorkbook, period: Period, calendar: Calendar
) -> list[dict[str, Any]]:
    """Problems that refuse a whole workbook: 基本信息 incomplete or for another period."""
    out = []
    marks = wb.marks
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
    books: list[PackedWorkbook],
    refused: list[tuple[str, str]],
    period: Period,
    rules: Rulebook,
    duplicates: list[tuple[str, str]] | None = None,
    rows_per_part: int | None = None,
) -> Validated:
    """Check every workbook, then every row of the accepted ones.

    `duplicates`: (copy, original) of inputs left out as byte-identical copies; each is noted.
    The outcome does not depend on `rows_per_part` (default ROWS_PER_PART)."""
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
    parts: list[Part] = []
    start = 0
    for first, opened in _opened(accepted, rows_per_part or ROWS_PER_PART):
        frame = _concat(opened, rules.contract, first, start)
        parts.append(check_part(frame, opened, rules))
        start += len(frame)
        del frame, opened
    people, row_problems = finish(parts, {wb.file: wb.letters for wb in accepted}, rules)
    problems.extend(row_problems)
    table = pd.DataFrame(problems, columns=P.PROBLEM_COLUMNS)
    return Validated(people, table, accepted, refused_files)


def _opened(books: list[PackedWorkbook], rows: int) -> Iterator[tuple[int, list[WorkbookData]]]:
    """The books unpacked, a part of at least `rows` rows at a time (or what is left), each with
    the position of its first book; one empty part when there is no book."""
    opened: list[WorkbookData] = []
    first = count = 0
    for i, packed in enumerate(books):
        book = packed.unpack()
        opened.append(book)
        count += len(book.frame)
        if count >= rows:
            yield first, opened
            opened, first, count = [], i + 1, 0
    if opened or not books:
        yield first, opened


def _drop_duplicate_branches(
    books: list[PackedWorkbook], problems: list, refused_files: list
) -> list[PackedWorkbook]:
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


def _concat(books: list[WorkbookData], contract: Contract, first: int, start: int) -> pd.DataFrame:
    """The rows of `books` in one frame, with their file, order (`first`: the first book's) and
    branch, indexed from `start` (one concat, no copies of the books' frames; the per-book
    columns are repeated in bulk)."""
    columns = [*contract.keys, "_row", "_file", "_order", "branch_code", "branch_name"]
    if not books:
        return pd.DataFrame(columns=columns)
    frame = pd.concat([wb.frame for wb in books], ignore_index=True, sort=False)
    frame.index = pd.RangeIndex(start, start + len(frame))
    lengths = [len(wb.frame) for wb in books]
    index = frame.index

    def repeat(values: list[str]) -> pd.Series:
        return pd.Series(np.repeat(np.array(values, dtype=object), lengths), index, dtype="str")

    extra = {
        "_file": repeat([wb.file for wb in books]),
        "_order": pd.Series(
            np.repeat(np.arange(first, first + len(books), dtype=np.int64), lengths), index=index
        ),
        "branch_code": repeat([show(wb.info["branch_code"][0]) for wb in books]),
        "branch_name": repeat([show(wb.info["branch_name"][0]) for wb in books]),
    }
    missing = [key for key in columns if key not in frame and key not in extra]
    for key in missing:
        extra[key] = pd.Series(None, index=frame.index, dtype=object)
    frame = frame.drop(columns=[k for k in extra if k in frame])
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
