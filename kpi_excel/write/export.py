"""`results.csv` and `rejected.csv` exactly per CONTRACT.md (UTF-8 with BOM)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..numbers import fmt_exact, fmt_fixed, fmt_number
from ..rulebook import Rulebook
from .atomic import write_atomic
from .safe import csv_texts

FIXED_COLUMNS = ["period", "branch_code", "branch_name", "emp_id", "name", "role", "status", "errors"]  # fmt: skip
TEXT_COLUMNS = ["branch_code", "branch_name", "emp_id", "name", "role", "errors"]
_OUTCOME_TEXT = ("grade", "flags", "outcome", "recommended_level")


def result_columns(rules: Rulebook) -> list[str]:
    """results.csv's columns: the fixed ones (CONTRACT.md), then the rulebook's `results`."""
    return FIXED_COLUMNS + rules.results


def _formatter(key: str, rules: Rulebook):
    """How results.csv writes a column: scores with the rulebook's decimals, the total with
    its own, money with 2; typed inputs as Excel shows them; computed figures (ratios,
    amounts) as the shortest text of the exact value's double."""
    derived = next((d for d in rules.derived if d.key == key), None)
    if key in rules.contract.by_key:
        money = rules.contract.by_key[key].show == "money"
        return (lambda v: fmt_fixed(v, 2)) if money else fmt_number
    if key == "total":
        return lambda v: fmt_fixed(v, rules.total_decimals)
    if key == "business_score" or any(i.key == key for i in rules.items):
        return lambda v: fmt_fixed(v, rules.decimals)
    if derived is not None and derived.show == "money":
        return lambda v: fmt_fixed(v, 2)
    if derived is not None and derived.show == "points":
        return lambda v: fmt_fixed(v, rules.decimals)
    return fmt_exact


def results_table(people: pd.DataFrame, period_code: str, rules: Rulebook) -> pd.DataFrame:
    """The export's rows as text, one per person (refused ones with their reasons). Every
    figure is the scorer's, shown as `_formatter` says."""
    scored = ~people["refused"]
    out = pd.DataFrame(index=people.index)
    out["period"] = period_code
    for col in ("branch_code", "branch_name", "emp_id", "name"):
        out[col] = people[col].fillna("")
    out["role"] = people["role"].where(people["role"].notna(), people["role_label"]).fillna("")
    out["status"] = scored.map({True: "scored", False: "rejected"})
    out["errors"] = people["errors"].fillna("")
    for col in rules.results:
        if col in _OUTCOME_TEXT:
            out[col] = people[col].where(scored, "").fillna("") if col in people else ""
        elif col in ("rank_branch", "rank_bank"):
            out[col] = (
                people[col].astype("string").where(scored, "").fillna("") if col in people else ""
            )
        else:
            out[col] = _only(people, col, scored, _formatter(col, rules))
    return out[result_columns(rules)]


def _only(people: pd.DataFrame, col: str, scored: pd.Series, fmt) -> list[str]:
    """`fmt` of each scored person's figure; '' for blanks and for the people not scored."""
    if col not in people:
        return [""] * len(people)
    try:
        values = people[col].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):  # not a numeric column: value by value
        return people[col].where(scored).map(lambda v: fmt(v) if pd.notna(v) else "").tolist()
    values = np.where(scored.to_numpy(dtype=bool), values, np.nan)
    # each distinct value formatted once (NaNs are one value; 0.0 and -0.0 too, shown alike)
    distinct, where = np.unique(values, return_inverse=True)
    shown = np.array([fmt(v) if v == v else "" for v in distinct.tolist()], dtype=object)
    return shown[where].tolist()


def write_csv(path: Path, rows: pd.DataFrame, text_columns: list[str]) -> Path:
    """Write rows as UTF-8-with-BOM CSV, neutralising formula-like text from branches."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(list(rows.columns))
            w.writerows(_csv_rows(rows, text_columns))

    return write_atomic(path, write)


# results.csv is made this many people at a time: a national bank's rows at once, as text, are
# some 300 bytes a person held through the run (each slice's rows are the same made alone)
RESULTS_SLICE = 20_000


def write_results(path: Path, people: pd.DataFrame, period_code: str, rules: Rulebook) -> Path:
    """results.csv (CONTRACT.md): `results_table` of RESULTS_SLICE people at a time."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(result_columns(rules))
            for start in range(0, len(people), RESULTS_SLICE):
                part = people.iloc[start : start + RESULTS_SLICE]
                w.writerows(_csv_rows(results_table(part, period_code, rules), TEXT_COLUMNS))

    return write_atomic(path, write)


def _csv_rows(rows: pd.DataFrame, text_columns: list[str]) -> Iterator[tuple]:
    columns = [
        csv_texts(rows[col].tolist()) if col in text_columns else rows[col].tolist()
        for col in rows.columns
    ]
    return zip(*columns, strict=True)
