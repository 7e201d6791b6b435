"""`results.csv` and `rejected.csv` exactly per CONTRACT.md (UTF-8 with BOM)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..numbers import fmt_exact, fmt_fixed, fmt_number
from .atomic import write_atomic
from .safe import csv_texts

RESULT_COLUMNS = [
    "period", "branch_code", "branch_name", "emp_id", "name", "role", "status", "errors",
    "new_deposit", "deposit_growth", "npl_ratio", "collection_rate", "mid_income_growth",
    "new_accounts", "score_deposit", "score_npl", "score_collection", "score_income",
    "score_accounts", "business_score", "conduct_deduction", "total", "grade", "rank_branch",
    "rank_bank", "flags", "outcome", "recommended_level", "income_deduction",
]  # fmt: skip
TEXT_COLUMNS = ["branch_code", "branch_name", "emp_id", "name", "role", "errors"]
RATIO_COLUMNS = ["deposit_growth", "npl_ratio", "collection_rate", "mid_income_growth"]
AMOUNT_COLUMNS = ["new_deposit", "income_deduction"]  # computed: the exact value's double
INPUT_COLUMNS = ["new_accounts", "conduct_deduction"]  # as typed: the decimal Excel shows
SCORE_COLUMNS = [
    "score_deposit",
    "score_npl",
    "score_collection",
    "score_income",
    "score_accounts",
    "business_score",
]


def results_table(
    people: pd.DataFrame, period_code: str, decimals: int, total_decimals: int
) -> pd.DataFrame:
    """The export's rows as text, one per person (refused ones with their reasons). Every
    figure is the scorer's: exact decimals shown as they are (scores with `decimals` places,
    the total with `total_decimals`), ratios as the nearest double of the exact value."""
    scored = ~people["refused"]
    out = pd.DataFrame(index=people.index)
    out["period"] = period_code
    for col in ("branch_code", "branch_name", "emp_id", "name"):
        out[col] = people[col].fillna("")
    out["role"] = people["role"].where(people["role"].notna(), people["role_label"]).fillna("")
    out["status"] = scored.map({True: "scored", False: "rejected"})
    out["errors"] = people["errors"].fillna("")
    for col in RATIO_COLUMNS + AMOUNT_COLUMNS:
        out[col] = _only(people, col, scored, fmt_exact)
    for col in INPUT_COLUMNS:
        out[col] = _only(people, col, scored, fmt_number)
    for col in SCORE_COLUMNS:
        out[col] = _only(people, col, scored, lambda v: fmt_fixed(v, decimals))
    out["total"] = _only(people, "total", scored, lambda v: fmt_fixed(v, total_decimals))
    for col in ("grade", "flags", "outcome", "recommended_level"):
        out[col] = people[col].where(scored, "").fillna("") if col in people else ""
    for col in ("rank_branch", "rank_bank"):
        out[col] = (
            people[col].astype("string").where(scored, "").fillna("") if col in people else ""
        )
    return out[RESULT_COLUMNS]


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
    columns = [
        csv_texts(rows[col].tolist()) if col in text_columns else rows[col].tolist()
        for col in rows.columns
    ]

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(list(rows.columns))
            w.writerows(zip(*columns, strict=True))

    return write_atomic(path, write)
