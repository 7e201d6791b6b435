"""kpi-excel as a library: score a pandas DataFrame under a rulebook, without Excel.

    import kpi_excel
    scored = kpi_excel.score(frame, "2026Q3", branch_code="B001", branch_name="第一支行")
    scored.people, scored.problems, scored.results

A frame is read as the 考核数据 sheet of one workbook would be: one row per person, columns named
by a rulebook field's key (`deposit_base`) or its label (`基数存款日均(万元)`, matched as the
reader matches headers: full-width folded, spaces and the unit in brackets ignored), values as
cells hold them. The rows then go through the CLI's own row checks (`rowchecks.check_rows`) and
scorer (`pipeline.evaluate`), so a row is refused, and every message reads, as in a CLI run.

Where a problem is: `file` is `source` (default `<DataFrame>`), the sheet is 考核数据 and the
cell is the one the value would have if the frame were written to that sheet with its header in
row 1 (`frame.to_excel(..., index=False)`): the column letter by the column's position, the row
number the row's position + 2. What would refuse a whole workbook in a run (a required column
missing, two columns for one field, no or a malformed 机构号) raises `FrameRefused` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from . import periods
from . import problems as P
from .errors import FrameRefused
from .flags import History
from .numbers import show
from .periods import Period
from .pipeline import evaluate
from .read import WorkbookData
from .rowchecks import check_rows
from .rulebook import Rulebook, load_rulebook
from .schema import BRANCH_CODE_RE, DATA_SHEET, INFO_FIELDS, label_key
from .validate import Validated
from .write.export import results_table

SOURCE = "<DataFrame>"
BRANCH = {"branch_code": "机构号", "branch_name": "机构名称"}
MAX_CELLS_NAMED = 5  # cells named in one FrameRefused line


@dataclass(frozen=True)
class Scored:
    """What `score` gives back, each frame indexed like the rows of the input frame.

    - `people`: the scorer's full frame, one row per person: the inputs as numbers, every
      figure, item, total, grade, rank and flag (exact values as their nearest floats), and
      `refused` / `errors` for the rows refused.
    - `problems`: one row per problem found (file, sheet, cell, row, column, check, value,
      level, message); `row` is the input frame's index label; `level` is `refuse_row` or
      `note`.
    - `results`: the columns of results.csv as text, exactly as a run writes them (a run's
      file also puts `'` before a text that starts like a formula; these are the texts).
    """

    people: pd.DataFrame
    problems: pd.DataFrame
    results: pd.DataFrame


def _rules(rules: Rulebook | str | Path | None) -> Rulebook:
    return rules if isinstance(rules, Rulebook) else load_rulebook(rules)


def parse_period(text: str | Period, rules: Rulebook | str | Path | None = None) -> Period:
    """A period as a clerk writes it (`2026Q3`, `2026-Q3`, `2026FY`, `2026年7月` …) under the
    rulebook's calendar; raise UsageError (Chinese) if it is not one of the rulebook's."""
    calendar = _rules(rules).calendar
    return periods.parse_period(text.code if isinstance(text, Period) else text, calendar)


def score(
    frame: pd.DataFrame,
    period: str | Period,
    rules: Rulebook | str | Path | None = None,
    *,
    branch_code: str | None = None,
    branch_name: str | None = None,
    history: History | None = None,
    source: str = SOURCE,
) -> Scored:
    """Check and score the people of `frame` for `period` under `rules` (a Rulebook, a shipped
    scheme's id or a rulebook file; the main policy if None).

    Each row's branch is its `branch_code` / `branch_name` column (or 机构号 / 机构名称), where
    given and filled, else the keyword argument. `history`: what earlier periods say of these
    people (`flags.History`: the months just before this period for a flag over consecutive
    months, the previous FY's decisions for a repeat flag); None judges only this period, and
    the explanation says so. Rows with every cell blank are skipped, as in a workbook.
    Raises FrameRefused, UsageError (period) or RulebookError; a bad row never raises."""
    rules = _rules(rules)
    period = parse_period(period, rules)
    keyed, letters = _columns(frame, rules, source)
    cells = [_cells(frame.iloc[:, j]) for j in range(frame.shape[1])]
    kept = np.flatnonzero(~_blank_rows(cells, len(frame)))
    columns = {key: [cells[j][i] for i in kept.tolist()] for key, j in keyed.items()}
    table = pd.DataFrame({key: columns.get(key, [None] * len(kept)) for key in rules.contract.keys})
    table["_row"] = kept + 2
    table["_file"] = source
    table["_order"] = 0
    table["branch_code"], table["branch_name"] = _branches(
        columns, table["_row"].tolist(), letters, branch_code, branch_name, source
    )
    book = WorkbookData(source, 0, "", {}, table, letters, pd.DataFrame(index=table.index))
    people, rows = check_rows(table, [book], rules)
    found = pd.DataFrame(rows, columns=P.PROBLEM_COLUMNS)
    people = evaluate(Validated(people, found, [book], []), rules, period, history)
    results = results_table(people, period.code, rules)
    labels = frame.index[kept]
    people.index = results.index = labels
    found["row"] = [labels[i] for i in found["row"]]
    return Scored(people, found, results)


def _columns(
    frame: pd.DataFrame, rules: Rulebook, source: str
) -> tuple[dict[str, int], dict[str, str]]:
    """Field or branch key -> position of its column, and -> its column letter; refuse a
    frame missing a required field or holding two columns of one field."""
    contract = rules.contract
    by_label = {**contract.label_to_key, **{label_key(v): k for v, k in INFO_FIELDS.items()}}
    keyed: dict[str, int] = {}
    letters: dict[str, str] = {}
    lines = []
    for j, name in enumerate(frame.columns):
        key = name if name in contract.by_key or name in BRANCH else by_label.get(label_key(name))
        if key not in contract.by_key and key not in BRANCH:
            continue  # not a field: kept out, as a workbook's extra columns are
        letter = get_column_letter(j + 1)
        if key in keyed:
            where = f"{DATA_SHEET}!{letter}1"
            lines.append(
                P.HEADER_DUPLICATE.message(
                    file=source, where=where, label=str(name).strip(), extra=f"{letters[key]}1"
                )
            )
            continue
        keyed[key], letters[key] = j, letter
    for key in contract.required_columns:
        if key not in keyed:
            label = contract.by_key[key].label
            lines.append(f"{P.COLUMN_MISSING.message(file=source, label=label)}(或列名 {key})")
    if lines:
        raise FrameRefused(lines)
    return keyed, letters


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n"))


def _blank_rows(cells: list[list[Any]], n: int) -> np.ndarray:
    """Rows with no cell filled: skipped, as blank rows of a sheet are."""
    blank = np.ones(n, dtype=bool)
    for column in cells:
        blank &= np.fromiter(map(_blank, column), bool, n)
    return blank


def _cells(column: pd.Series) -> list[Any]:
    """A column's values as a cell holds them: Python numbers, text, bools and dates, None for a
    missing value (NaN, NA, NaT); a Decimal as the number a cell holds when a double shows it,
    else as its text (which is then read exactly, as a text number is)."""
    out = []
    for v in column.tolist():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            v = None
        elif isinstance(v, Decimal):
            v = float(v) if Decimal(f"{float(v):.14e}") == v else format(v, "f")
        out.append(v)
    return out


def _branches(
    columns: dict[str, list[Any]],
    rows: list[int],
    letters: dict[str, str],
    code: str | None,
    name: str | None,
    source: str,
) -> tuple[list[str], list[str]]:
    """Each row's branch code and name: its own cell if filled, else the argument; refuse rows
    with neither, malformed codes, and a code given with two names."""
    given = {"branch_code": show(code or ""), "branch_name": show(name or "")}
    out: dict[str, list[str]] = {}
    own: dict[str, list[bool]] = {}
    lines: list[str] = []
    for key, label in BRANCH.items():
        cells = columns.get(key, [None] * len(rows))
        own[key] = [not _blank(c) for c in cells]
        out[key] = [show(c) if not _blank(c) else given[key] for c in cells]
        missing = [r for r, v in zip(rows, out[key], strict=True) if not v]
        if missing:
            where = f"{_where(key, missing, letters)} " if key in columns else ""
            lines.append(
                f"{source} {where}未给出「{label}」:请提供列 {key}(或「{label}」)或参数 {key}="
            )
    bad: dict[tuple[str, bool], list[int]] = {}
    for text, filled, row in zip(out["branch_code"], own["branch_code"], rows, strict=True):
        if text and not BRANCH_CODE_RE.match(text):
            bad.setdefault((text, filled), []).append(row)
    for (text, filled), at in bad.items():
        where = _where("branch_code", at, letters) if filled else "参数 branch_code 的"
        lines.append(P.BRANCH_CODE_INVALID.message(file=source, where=where, value=text))
    pairs = pd.DataFrame(out).drop_duplicates()
    for text, group in pairs.groupby("branch_code", sort=False):
        if text and len(group) > 1:
            shown = "、".join(f"「{n}」" for n in group["branch_name"])
            lines.append(f"{source}「机构号」「{text}」对应多个机构名称:{shown}")
    if lines:
        raise FrameRefused(lines)
    return out["branch_code"], out["branch_name"]


def _where(key: str, rows: list[int], letters: dict[str, str]) -> str:
    """The cells (or rows) named in a FrameRefused line, at most MAX_CELLS_NAMED of them."""
    letter = letters.get(key, "")
    cells = [f"{DATA_SHEET}!{letter}{r}" if letter else f"第{r}行" for r in rows]
    more = f" 等 {len(rows)} 处" if len(rows) > MAX_CELLS_NAMED else ""
    return "、".join(cells[:MAX_CELLS_NAMED]) + more
