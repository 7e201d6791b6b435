"""The person rows of 考核结果 and 计分说明 for many branch workbooks at once.

A branch workbook's 考核结果 and 计分说明 hold one row per person; the cells of a row depend only
on that person and on the row's position in the branch. So a chunk of branches is rendered in
one pass here (a list comprehension per column over every person of the chunk), with style
placeholders (`fastsheet.style_token`) where each workbook's style numbers go; each workbook
then takes its slice of finished rows (`FastSheet.put_rows`). The cells are those that
`branch_sheets.write_results` and `write_explain` write cell by cell on a plain worksheet, and
tests compare the two.
"""

from __future__ import annotations

import numpy as np
from xlsxwriter.utility import xl_col_to_name

from ..rulebook import Rulebook
from .branch_sheets import (
    EXPLAIN_FILL,
    HEAD_ROW,
    OUTCOME_FILLS,
    REFUSED_FILL,
    SHEET_EXPLAIN,
    SHEET_RESULTS,
    WRAP_WIDTH,
    explain_layout,
    explain_texts,
    results_layout,
)
from .fastsheet import render_cells, style_token
from .rows import SheetRows, result_columns


class _Styles:
    """Placeholders for the formats of the rendered cells: (kind, fill, extra) -> token."""

    def __init__(self) -> None:
        self.specs: dict[str, tuple[str, str | None, tuple]] = {}
        self._tokens: dict[tuple, str] = {}

    def attr(self, kind: str, fill: str | None, extra: tuple = ()) -> str:
        key = (kind, fill, extra)
        if key not in self._tokens:
            self._tokens[key] = token = style_token(len(self._tokens))
            self.specs[token] = key
        return f' s="{self._tokens[key]}"'


def prerender(rows: SheetRows, bounds: dict[str, tuple[int, int]], rules: Rulebook) -> None:
    """Fill `rows.xml` (per sheet: each person's row of cells, and its height) and
    `rows.styles` (per sheet) for every branch in `bounds` (file -> (start, stop) in `rows`)."""
    n = len(rows)
    if not n:
        return
    position = np.zeros(n, dtype=np.int64)  # each person's place in the branch's sheet
    for start, stop in bounds.values() or [(0, n)]:
        position[start:stop] = np.arange(stop - start)
    excel_rows = (position + HEAD_ROW + 2).tolist()  # 1-based rows under the header
    styles = _Styles()  # one per sheet: a workbook replaces only its own sheet's placeholders
    rows.xml[SHEET_RESULTS] = _results(rows, excel_rows, styles, rules)
    rows.styles[SHEET_RESULTS] = styles.specs
    if rows.explain is not None:
        stripe = (position % 2).astype(bool).tolist()
        styles = _Styles()
        rows.xml[SHEET_EXPLAIN] = _explain(rows, excel_rows, stripe, styles, rules)
        rows.styles[SHEET_EXPLAIN] = styles.specs


def _refs(col: int, excel_rows: list[int]) -> list[str]:
    letter = xl_col_to_name(col)
    return [f'<c r="{letter}{r}"' for r in excel_rows]


def _results(
    rows: SheetRows, excel_rows: list[int], styles: _Styles, rules: Rulebook
) -> tuple[list[str], list[float | None]]:
    fills = {rules.outcomes[k]: c for k, c in OUTCOME_FILLS.items()} if rules.flags else {}
    row_fills = [
        REFUSED_FILL if refused else fills.get(outcome)
        for refused, outcome in zip(rows.refused, rows.outcome, strict=True)
    ]
    columns: list[list[str]] = []
    spec = result_columns(rules)
    for c, (key, _, kind, width) in enumerate(spec):
        values = rows.cells[key]
        extra = (("text_wrap", True),) if width >= WRAP_WIDTH else ()
        blank = [v == "" or v != v for v in values]  # '' or NaN
        attrs = [
            "" if is_blank and fill is None else styles.attr(kind, fill, extra)
            for is_blank, fill in zip(blank, row_fills, strict=True)
        ]
        columns.append(render_cells(kind, _refs(c, excel_rows), attrs, values))
    rows.widths[SHEET_RESULTS], heights = results_layout(spec, rows)
    return list(map("".join, zip(*columns, strict=True))), heights


def _explain(
    rows: SheetRows, excel_rows: list[int], stripe: list[bool], styles: _Styles, rules: Rulebook
) -> tuple[list[str], list[float | None]]:
    wrap = (("text_wrap", True),)
    attrs = [styles.attr("text", EXPLAIN_FILL if odd else None, wrap) for odd in stripe]
    texts = explain_texts(rows)
    who = len(texts) - len(rows.explain or [])
    columns = [
        render_cells(
            "text",
            _refs(c, excel_rows),
            attrs if c < who else [a if t else "" for a, t in zip(attrs, column, strict=True)],
            column,
        )
        for c, column in enumerate(texts)
    ]
    measured, heights = explain_layout(rules, texts)
    rows.widths[SHEET_EXPLAIN] = [w for _, w in measured]
    return list(map("".join, zip(*columns, strict=True))), heights
