"""Row checks: every row of every accepted workbook at once, as vectorised masks.

Each field of the contract (schema.py) is checked by its kind; a failed check becomes a problem
row naming the file, sheet and cell (problems.py). Cells that calamine read as '' but that hold a
formula without a cached value or an error value (`WorkbookData.marks`, from read.py) are refused,
never taken as blank or 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import problems as P
from .numbers import fmt_number, parse_numbers, show
from .read import WorkbookData
from .rulebook import Rulebook
from .schema import DATA_SHEET, FIELDS, NO, NUMERIC_KINDS, YES, label_key

MAX_TEXT = 32767  # Excel's limit for one cell


class _Collector:
    """Builds problem rows for the cells where a vectorised check failed."""

    def __init__(self, frame: pd.DataFrame, books: list[WorkbookData]) -> None:
        self.frame = frame
        self.letters = {wb.file: wb.letters for wb in books}
        self.rows: list[dict[str, Any]] = []
        self.refused = pd.Series(False, index=frame.index)

    def cell(self, i: Any, key: str) -> str:
        file = self.frame.at[i, "_file"]
        row = self.frame.at[i, "_row"]
        letter = self.letters[file].get(key)
        return f"{letter}{row}" if letter else f"第{row}行"

    def add(
        self,
        kind: P.ProblemType,
        mask: pd.Series,
        key: str,
        label: str,
        raw: pd.Series | None = None,
        extra: Any = "",
    ) -> None:
        mask = mask.fillna(False).astype(bool)
        label = label.split("(")[0]  # messages name the column without its unit
        for i in mask.index[mask]:
            value = raw.at[i] if raw is not None else None
            ext = extra.at[i] if isinstance(extra, pd.Series) else extra
            p = P.problem(kind, self.frame.at[i, "_file"], self.cell(i, key), label, value, ext)
            p["row"] = i
            self.rows.append(p)
        if kind.level == "refuse_row":
            self.refused |= mask


def check_rows(
    frame: pd.DataFrame, books: list[WorkbookData], rules: Rulebook
) -> tuple[pd.DataFrame, list]:
    formula, error = _marked(frame, books)
    if error:
        frame = frame.copy()
        for key, text in error.items():  # the error text is the value the clerk sees
            frame[key] = frame[key].mask(text.notna(), text)
    c = _Collector(frame, books)
    out = frame[["_file", "_order", "_row", "branch_code", "branch_name"]].copy()
    for key in ("emp_id", "name", "remarks"):
        out[key] = frame[key].map(_text)
    role_raw = frame["role"].map(_text)
    role_of = {label_key(k): v for k, v in rules.role_of_label().items()}
    out["role"] = role_raw.map(lambda t: role_of.get(label_key(t)) if t else None)
    canonical = {label_key(lbl): lbl for r in rules.roles.values() for lbl in r.labels}
    out["role_label"] = role_raw.map(lambda t: canonical.get(label_key(t), t) if t else t)
    group_of = {k: r.group for k, r in rules.roles.items()}
    out["group"] = out["role"].map(group_of)

    for f in FIELDS:
        raw = frame[f.key]
        if f.kind == "text" or f.kind == "role":
            shown = out[f.key if f.kind == "text" else "role_label"].fillna("").astype(str)
            blank = shown == ""
            too_long = shown.str.len() > MAX_TEXT
            c.add(P.TEXT_TOO_LONG, too_long, f.key, f.label, None, MAX_TEXT)
        elif f.kind in NUMERIC_KINDS:
            value, blank, invalid, from_text = parse_numbers(raw)
            if f.key in formula:  # never the default of a blank cell
                blank = blank & ~formula[f.key]
            c.add(P.NUMBER_INVALID, invalid, f.key, f.label, raw)
            c.add(P.NUMBER_NEGATIVE, value < 0, f.key, f.label, raw)
            if f.kind == "count":
                c.add(
                    P.COUNT_NOT_WHOLE,
                    (value >= 0) & (value != np.floor(value)),
                    f.key,
                    f.label,
                    raw,
                )
            c.add(P.TEXT_NUMBER, from_text, f.key, f.label, raw, value.map(fmt_number))
            if f.default is not None:
                value = value.where(~blank, float(f.default))  # type: ignore[arg-type]
            out[f.key] = value
        else:  # yesno
            text = raw.map(lambda v: show(v).upper())
            yes = text.isin(YES) | raw.map(lambda v: v is True)
            no = text.isin(NO) | raw.map(lambda v: v is False)
            blank = text == ""
            c.add(P.YESNO_INVALID, ~(yes | no | blank), f.key, f.label, raw)
            out[f.key] = yes
        if f.key in formula:  # calamine read '' for it: neither blank nor a value
            blank = blank & ~formula[f.key]
            c.add(P.FORMULA_NO_VALUE, formula[f.key], f.key, f.label)
        if f.kind == "text" and f.key in error:
            c.add(P.CELL_ERROR, error[f.key].notna(), f.key, f.label, frame[f.key])
        if f.required == "all":
            need = pd.Series(True, index=frame.index)
        elif f.required in rules.groups:
            need = out["group"] == f.required
        else:
            need = pd.Series(False, index=frame.index)
        c.add(P.REQUIRED_BLANK, need & blank, f.key, f.label)

    roles_text = "、".join(lbl for r in rules.roles.values() for lbl in r.labels)
    c.add(
        P.ROLE_UNKNOWN,
        out["role"].isna() & (out["role_label"].fillna("") != ""),
        "role",
        "岗位",
        role_raw,
        roles_text,
    )
    c.add(
        P.NPL_GT_LOAN,
        out["npl_balance"] > out["loan_balance"],
        "npl_balance",
        "不良贷款余额",
        frame["npl_balance"],
        frame["loan_balance"].map(show),
    )
    for d in rules.derived:
        if d.when_zero == "reject" and d.b in out:
            mask = out["role"].isin(d.reject_roles) & (out[d.b] == 0)
            c.add(P.DENOMINATOR_ZERO, mask, d.b, _label(d.b), None, d.label)
    _check_duplicate_ids(out, c, error.get("emp_id"))

    refused = c.refused
    errors = pd.Series("", index=frame.index, dtype=object)
    if c.rows:
        table = pd.DataFrame(c.rows)
        bad = table[table["level"] == "refuse_row"]
        if len(bad):
            errors.loc[bad["row"].unique()] = bad.groupby("row", sort=False)["message"].agg(
                "; ".join
            )
    out["refused"] = refused
    out["errors"] = errors
    return out, c.rows


def _marked(
    frame: pd.DataFrame, books: list[WorkbookData]
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """Per contract key: a mask of formula cells without a value, and the error text of error
    cells (None elsewhere). Both read as '' from calamine; `read.py` found them in the XML."""
    marks = {
        (wb.file, row, key): mark
        for wb in books
        for (sheet, row, key), mark in (getattr(wb, "marks", None) or {}).items()
        if sheet == DATA_SHEET and key in frame
    }
    formula: dict[str, pd.Series] = {}
    error: dict[str, pd.Series] = {}
    if not marks:
        return formula, error
    at = {
        (f, int(r)): i for i, f, r in zip(frame.index, frame["_file"], frame["_row"], strict=True)
    }
    for (file, row, key), (kind, text) in marks.items():
        i = at.get((file, row))
        if i is None:
            continue
        if kind == "formula":
            formula.setdefault(key, pd.Series(False, index=frame.index)).at[i] = True
        else:
            error.setdefault(key, pd.Series(None, index=frame.index, dtype=object)).at[i] = text
    return formula, error


def _check_duplicate_ids(out: pd.DataFrame, c: _Collector, error: pd.Series | None) -> None:
    ids = out["emp_id"].fillna("")
    if error is not None:
        ids = ids.where(error.isna(), "")  # an error value is not an id
    dup = (ids != "") & ids.duplicated(keep=False)
    if not dup.any():
        return
    where = pd.Series(
        [f"{out.at[i, '_file']} {DATA_SHEET}!{c.cell(i, 'emp_id')}" for i in out.index],
        index=out.index,
    )
    others = pd.Series("", index=out.index, dtype=object)
    for _, idx in ids[dup].groupby(ids[dup]).groups.items():
        for i in idx:
            others.at[i] = "、".join(where.at[j] for j in idx if j != i)
    c.add(P.EMP_DUPLICATE, dup, "emp_id", "员工编号", out["emp_id"], others)


def _label(key: str) -> str:
    from .schema import FIELD_BY_KEY

    f = FIELD_BY_KEY.get(key)
    return f.label.split("(")[0] if f else key


def _text(v: Any) -> str | None:
    """Text of an identity cell: numbers without '.0', stripped; None if blank."""
    text = show(v)
    return text if text.strip(" \u3000") else None
