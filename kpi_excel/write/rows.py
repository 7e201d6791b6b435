"""The people of branch workbooks in sheet order, every column a list ready for cells.

A bank has thousands of branches of about thirty people each. Sorting, text conversion and the
sentences of 计分说明 cost a few pandas operations each, whatever the number of rows, so they
are done once for many branches (`prepare`) and each branch workbook takes a slice of plain
Python lists (`SheetRows.part`): no pandas work per workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import describe as D
from ..explain import explain_frame
from ..periods import Period
from ..rulebook import Rulebook
from ..scored_on import figure_roles, input_entry, scored_on, scored_on_values, unused_by_role
from .fastsheet import cell_numbers, cell_texts

# The 考核结果 sheet: identity columns, the rulebook's `sheet` figures, then why not scored.
_IDENTITY = [
    ("emp_id", "员工编号", "text", 9),
    ("name", "姓名", "text", 6.5),
    ("role_label", "岗位", "text", 11),
    ("status_label", "状态", "text", 5.5),
]
_OUTCOMES = {  # key -> (header, kind, width)
    "grade": ("考核等级", "text", 7),
    "rank_branch": ("支行内排名", "int", 5),
    "rank_bank": ("全行排名", "int", 5),
    "outcome": ("考核结论", "text", 6),
    "recommended_level": ("建议职级", "text", 11),
    "flags_text": ("预警与处理(依据条款)", "text", 32),
}


def result_columns(rules: Rulebook) -> list[tuple[str, str, str, float]]:
    """(column key in the people table, Chinese header, kind, width) of the 考核结果 sheet:
    the figures the rulebook's `sheet` lists, their headers from their labels; an entry
    `<item>:input` gives a column per figure the item is scored on (scored_on.py)."""
    out = list(_IDENTITY)
    inputs = {input_entry(i): i for i in rules.items}
    for key in rules.sheet:
        if key in inputs:
            for c in scored_on(inputs[key]):
                ratio = c.percent or (c.rule.kind != "linear" and D.is_ratio(c.rule.input, rules))
                field = rules.contract.by_key.get(c.rule.input)
                kind = "pct" if ratio else "int" if field is not None and field.whole else "number"
                out.append((c.key, c.label, kind, 7.5))
            continue
        out.append((key, *figure_column(key, rules)))
    return [*out, ("errors", "未计分原因", "text", 24)]


def figure_column(key: str, rules: Rulebook) -> tuple[str, str, float]:
    """(Chinese header, kind, width) of a figure a rulebook's `sheet` or `summary` names by key:
    an outcome column, a derived figure, an item's score, the total, an input field."""
    derived = {d.key: d for d in rules.derived}
    items = {i.key: i for i in rules.items}
    if key in _OUTCOMES:
        header, kind, width = _OUTCOMES[key]
    elif key in derived:
        d = derived[key]
        kind = "pct" if d.is_ratio else "score" if d.show in ("money", "points") else "number"
        header, width = d.label, 7.5 if len(d.label) > 4 else 7
    elif key in items:
        header, kind, width = items[key].label + "得分", "score", 6.5
    elif key == "total":
        header, kind, width = rules.total.label, "score", 9
    elif key == "business_score":
        header, kind, width = "业务得分", "score", 6.5
    elif key == "income_deduction":
        unit = D.unit(rules.income_input, rules)
        header, kind, width = "扣减收入" + (f"({unit})" if unit else ""), "number", 7
    else:  # an input field
        f = rules.contract.by_key[key]
        money = f.show == "money" or bool(f.decimals)
        kind = "score" if money else "int" if f.whole else "number"
        header, width = f.name, 6.5
    return header, kind, width


# 计分说明: one row per person; a column per item, then the sums and the outcome lines.
EXPLAIN_SUMS = ["business", "conduct", "total", "grade"]
EXPLAIN_OUTCOME = ["flags", "income", "outcome", "history", "adjustment"]


def explain_columns(rules: Rulebook) -> list[tuple[str, list[str], float]]:
    """(header, explain_frame columns joined in the cell, width) of the 计分说明 sheet."""
    computed = [d.key for d in rules.derived if d.formula is not None or d.kind == "period_sum"]
    return [
        *[(item.label, [item.key], 26) for item in rules.items],
        ("得分合计与等级" if rules.grades else "得分合计", [*computed, *EXPLAIN_SUMS], 32),
        ("预警、处理与结论" if rules.flags else "结论", EXPLAIN_OUTCOME, 32),
    ]


def explain_cells(lines: pd.DataFrame, rules: Rulebook) -> pd.DataFrame:
    """explain_frame's lines joined into the 计分说明 cells (one column per sheet column)."""
    out = pd.DataFrame(index=lines.index)
    blank = pd.Series("", index=lines.index)
    for header, keys, _ in explain_columns(rules):
        text = lines[keys[0]].astype(str) if keys[0] in lines else blank
        for key in keys[1:]:
            nxt = lines[key].astype(str) if key in lines else blank
            text = text + np.where((text != "") & (nxt != ""), "\n", "") + nxt
        out[header] = text
    return out


@dataclass
class SheetRows:
    """People in sheet order: `cells` by result_columns key (cell-safe text, '' for blank, or
    floats with NaN for blank; a refused person's figures are blank), `explain` the 计分说明
    cells (one list per `explain_columns`, None without a period)."""

    cells: dict[str, list]
    refused: list[bool]
    outcome: list[str]
    explain: list[list[str]] | None
    # Rows already rendered (prerender.py): sheet -> (each person's cells XML, row height), and
    # the formats of their style placeholders: sheet -> token -> (kind, fill, extra).
    xml: dict[str, tuple[list[str], list[float | None]]] = field(default_factory=dict)
    styles: dict[str, dict[str, tuple[str, str | None, tuple]]] = field(default_factory=dict)
    # The column widths the rendered rows' heights were measured at: sheet -> widths.
    widths: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.refused)

    def part(self, start: int, stop: int) -> SheetRows:
        return SheetRows(
            {k: v[start:stop] for k, v in self.cells.items()},
            self.refused[start:stop],
            self.outcome[start:stop],
            None if self.explain is None else [c[start:stop] for c in self.explain],
            {k: (x[start:stop], h[start:stop]) for k, (x, h) in self.xml.items()},
            self.styles,
            self.widths,
        )


def _scored_on_columns(rows: pd.DataFrame, rules: Rulebook) -> dict[str, np.ndarray]:
    """The values of the `<item>:input` columns of 考核结果, by column key."""
    out = {}
    for item in rules.items:
        if input_entry(item) in rules.sheet:
            for c in scored_on(item):
                out[c.key] = scored_on_values(rows, c)
    return out


def sheet_order(people: pd.DataFrame, rules: Rulebook, by_file: bool = True) -> np.ndarray:
    """Positions of `people` in sheet order: by file (first seen first), then the scored by
    group (rulebook order) and rank, then the refused; ties in the order of the input rows."""
    if not len(people):
        return np.zeros(0, dtype=int)
    groups = {g: i for i, g in enumerate(rules.groups)}
    refused = people["refused"].to_numpy(dtype=bool)
    group = people["group"].map(groups).fillna(len(groups)).to_numpy(dtype=float)
    rank = pd.to_numeric(people.get("rank_branch", np.nan), errors="coerce")
    rank = np.nan_to_num(np.asarray(rank, dtype=float), nan=np.inf)
    row = pd.to_numeric(people["_row"], errors="coerce").to_numpy(dtype=float)
    if by_file and "_file" in people:
        file = pd.factorize(people["_file"], sort=False, use_na_sentinel=False)[0]
    else:
        file = np.zeros(len(people), dtype=int)
    return np.lexsort((row, rank, group, refused, file))  # the last key sorts first


def prepare(
    people: pd.DataFrame,
    rules: Rulebook,
    period: Period | None,
    explanations: pd.DataFrame | None = None,
) -> tuple[SheetRows, dict[str, tuple[int, int]]]:
    """The rows of every branch in `people`, and where each file's rows are (start, stop)."""
    rows = people.iloc[sheet_order(people, rules)]
    n = len(rows)
    refused = rows["refused"].to_numpy(dtype=bool) if n else np.zeros(0, dtype=bool)
    cells: dict[str, list] = {}
    scored = _scored_on_columns(rows, rules)
    readers = figure_roles(rules)
    for key, _, kind, _ in result_columns(rules):
        column = rows[key] if key in rows else pd.Series([None] * n, index=rows.index, dtype=object)
        if kind == "text":
            cells[key] = cell_texts(column)  # flags_text: one flag a line already
        else:
            numbers = scored[key] if key in scored else np.asarray(cell_numbers(column), float)
            numbers[refused] = np.nan  # a refused person has no figures
            numbers[unused_by_role(rows, key, readers)] = np.nan  # not what he is scored on
            cells[key] = numbers.tolist()
    explain = None
    if period is not None and n:
        if explanations is None:
            explanations = explain_cells(explain_frame(rows, rules, period), rules)
        texts = explanations.reindex(rows.index).fillna("")
        explain = [cell_texts(texts[header]) for header, _, _ in explain_columns(rules)]
    elif period is not None:
        explain = [[] for _ in explain_columns(rules)]
    outcome = cell_texts(rows["outcome"]) if "outcome" in rows else [""] * n
    bounds: dict[str, tuple[int, int]] = {}
    if n and "_file" in rows:  # sorted by file: each file's rows are one run
        codes, files = pd.factorize(rows["_file"], sort=False, use_na_sentinel=False)
        starts = np.flatnonzero(np.diff(codes, prepend=-1))
        stops = np.append(starts[1:], n)
        bounds = dict(zip(files, zip(starts.tolist(), stops.tolist(), strict=True), strict=True))
    return SheetRows(cells, refused.tolist(), outcome, explain), bounds
