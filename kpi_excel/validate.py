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
from .numbers import fmt_number, parse_numbers, show
from .periods import Period, parse_period
from .read import WorkbookData
from .rulebook import Rulebook
from .schema import (
    BRANCH_CODE_RE,
    DATA_SHEET,
    FIELDS,
    NO,
    NUMERIC_KINDS,
    YES,
    label_key,
)

MAX_TEXT = 32767  # Excel's limit for one cell


@dataclass
class Validated:
    people: pd.DataFrame
    problems: pd.DataFrame
    accepted: list[WorkbookData]
    refused_files: list[tuple[str, str]]  # (file, reason)


def _problem(
    kind: P.ProblemType,
    file: str,
    cell: str,
    column: str,
    value: Any,
    extra: Any = "",
    sheet: str = DATA_SHEET,
) -> dict[str, Any]:
    where = f"{sheet}!{cell}" if cell else sheet
    return {
        "file": file,
        "sheet": sheet,
        "cell": cell,
        "row": None,
        "column": column,
        "check": kind.code,
        "value": "" if value is None else show(value),
        "level": kind.level,
        "message": kind.message(
            file=file,
            where=where,
            label=column,
            value=show(value) if value is not None else "",
            extra=extra,
        ),
    }


def check_workbook(wb: WorkbookData, period: Period) -> list[dict[str, Any]]:
    """Problems that refuse a whole workbook: 基本信息 incomplete or for another period."""
    out = []
    for key, label in (
        ("branch_code", "机构号"),
        ("branch_name", "机构名称"),
        ("period", "考核期"),
    ):
        value, cell = wb.info.get(key, (None, ""))
        if value is None or (isinstance(value, str) and not value.strip()):
            where = cell.split("!")[1] if cell else ""
            out.append(_problem(P.INFO_MISSING, wb.file, where, label, None, sheet="基本信息"))
    if out:
        return out
    code, cell = wb.info["branch_code"]
    code_text = show(code)
    if not BRANCH_CODE_RE.match(code_text):
        out.append(
            _problem(
                P.BRANCH_CODE_INVALID, wb.file, cell.split("!")[1], "机构号", code, sheet="基本信息"
            )
        )
    value, cell = wb.info["period"]
    try:
        got = parse_period(show(value), default_year=period.year)
    except UsageError:
        out.append(
            _problem(
                P.PERIOD_INVALID, wb.file, cell.split("!")[1], "考核期", value, sheet="基本信息"
            )
        )
    else:
        if got != period:
            out.append(
                _problem(
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
    people, row_problems = _check_rows(frame, accepted, rules)
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
        p = _problem(
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
            p = _problem(kind, self.frame.at[i, "_file"], self.cell(i, key), label, value, ext)
            p["row"] = i
            self.rows.append(p)
        if kind.level == "refuse_row":
            self.refused |= mask


def _check_rows(
    frame: pd.DataFrame, books: list[WorkbookData], rules: Rulebook
) -> tuple[pd.DataFrame, list]:
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
    _check_duplicate_ids(out, c)

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


def _check_duplicate_ids(out: pd.DataFrame, c: _Collector) -> None:
    ids = out["emp_id"].fillna("")
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
