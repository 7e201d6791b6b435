"""The scored workbook of one branch, for its head: `branches/<机构号>_<机构名称>.xlsx`.

Sheets: 考核结果 (one row per person, coloured by outcome), 计分说明 (each score in words and
numbers, from `explain.py`) and 原始数据 (what the branch submitted, problem cells marked with the
reason). Every sheet prints on A4 landscape, one page wide. The sheets are written by
`branch_sheets.py`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import xlsxwriter

from ..periods import Period
from ..read import WorkbookData
from ..rulebook import Rulebook, load_rulebook
from .atomic import write_atomic
from .branch_sheets import (
    SHEET_EXPLAIN,
    SHEET_RAW,
    SHEET_RESULTS,
    Formats,
    write_explain,
    write_raw,
    write_results,
)
from .fastsheet import add_sheet, close_workbook
from .rows import SheetRows, prepare
from .safe import file_component, workbook_options, xml_text

__all__ = [
    "SHEET_EXPLAIN",
    "SHEET_RAW",
    "SHEET_RESULTS",
    "branch_file_name",
    "workbook_options",
    "write_branch",
]


def branch_file_name(code: str, name: str) -> str:
    return f"{file_component(code)}_{file_component(name)}.xlsx"


def write_branch(
    path: Path,
    people: pd.DataFrame | SheetRows,
    title: str,
    rules: Rulebook | None = None,
    period: Period | None = None,
    book: WorkbookData | None = None,
    problems: pd.DataFrame | list[dict] | None = None,
    explanations: pd.DataFrame | None = None,
) -> Path:
    """Write one branch's workbook atomically; return where it ended up (see write_atomic).

    `people` are this branch's rows of the run's people table (scored and refused), or those
    rows already prepared (`rows.prepare`, as a run does for many branches at once); `book` the
    workbook as read (for 原始数据; the sheet is left out without it) and `problems` the run's
    problem table or its records (filtered here by `book.file`). 计分说明 needs `period` (or prepared rows
    with their explanations); `rules` defaults to the shipped rulebook.
    """
    rules = rules if rules is not None else load_rulebook()
    if isinstance(people, pd.DataFrame):
        rows, _ = prepare(people, rules, period, explanations)
    else:
        rows = people

    def write(tmp: Path) -> None:
        buffer = io.BytesIO()  # the zip assembled in memory and written in one go: a small file
        wb = xlsxwriter.Workbook(buffer, workbook_options())
        wb.set_properties({"title": xml_text(title, 255)})
        fm = Formats(wb, rules.decimals)
        write_results(add_sheet(wb, SHEET_RESULTS), fm, rows, title, rules)
        if rows.explain is not None:
            write_explain(add_sheet(wb, SHEET_EXPLAIN), fm, rows, title, rules)
        if book is not None:
            write_raw(add_sheet(wb, SHEET_RAW), fm, book, problems, rules.contract)
        close_workbook(wb)
        tmp.write_bytes(buffer.getbuffer())

    return write_atomic(path, write)
