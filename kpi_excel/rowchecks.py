"""Row checks: the rows of many workbooks at once, as vectorised masks.

Each field of the contract (schema.py) is checked by its kind; a failed check becomes a problem
row naming the file, sheet and cell (problems.py). Cells that calamine read as '' but that hold a
formula without a cached value or an error value (`WorkbookData.marks`, from read.py) are refused,
never taken as blank or 0. A number in a cell shown as a percentage (5% is 0.05) is refused in a
column that is not a ratio, and a cell shown as a date or a time in any number column
(`WorkbookData.formats`, and the dates calamine reads). The rulebook's `plausibility` checks
note (never refuse) the values that are numbers but hardly real.

Values are looked at column by column in bulk (`numbers.value_kinds`, `numbers.show_values`); a
lookup that depends on the text of a cell (岗位) is computed once per distinct value. Problem rows
and their messages are built only for the cells that failed.

A run checks its rows a part at a time (`check_part`, validate.py), then what compares rows of
different workbooks or reads the whole run (`finish`). Each problem has a rank (the check that
found it: field, then kind of check), so the parts' problems are put in the order of one pass
over every row, whatever the parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from . import numfmt
from . import problems as P
from .exact import Q
from .numbers import fmt_number, parse_numbers, show, show_values
from .read import WorkbookData
from .rulebook import PLACEHOLDER_RE, Plausibility, Rulebook
from .schema import DATA_SHEET, NO, NUMERIC_KINDS, YES, Field, label_key
from .score import Figures

MAX_TEXT = 32767  # Excel's limit for one cell
LARGEST = 10**15  # a number with more than 15 integer digits is not one Excel holds exactly

Extra = Any  # a scalar, a Series aligned with the frame, or a function of the failing positions
Letters = dict[str, dict[str, str]]  # file -> contract key -> its Excel column letter
# The checks of one field, in the order check_part runs them (a problem's rank within its stage)
_STEP = {
    kind.code: i
    for i, kind in enumerate(
        (
            P.DATE_FORMAT, P.PERCENT_FORMAT, P.NUMBER_INVALID, P.NUMBER_TOO_LARGE,
            P.NUMBER_NEGATIVE, P.NUMBER_BELOW_MIN, P.NUMBER_ABOVE_MAX, P.COUNT_NOT_WHOLE,
            P.TEXT_NUMBER, P.TOO_MANY_DECIMALS, P.TEXT_TOO_LONG, P.YESNO_INVALID,
            P.FORMULA_NO_VALUE, P.CELL_ERROR, P.REQUIRED_BLANK, P.ROLE_UNKNOWN, P.ABOVE_FIELD,
            P.DENOMINATOR_ZERO, P.EMP_DUPLICATE, P.IMPLAUSIBLE,
        )
    )
}  # fmt: skip


class _Collector:
    """Builds problem rows for the cells where a vectorised check failed."""

    def __init__(
        self, frame: pd.DataFrame, letters: Letters, refused: np.ndarray | None = None
    ) -> None:
        self.frame = frame
        self.index = frame.index.to_numpy()
        self.files = frame["_file"].to_numpy(dtype=object)
        self.excel_rows = frame["_row"].to_numpy(dtype=object)
        self.letters = letters
        self.rows: list[dict[str, Any]] = []
        self.ranks: list[tuple[int, ...]] = []  # of each row: (*stage, the check's step)
        self.stage: tuple[int, ...] = ()  # set as the checks go (see check_part)
        self.refused = np.zeros(len(frame), dtype=bool) if refused is None else refused.copy()

    def cell(self, pos: int, key: str) -> str:
        """Excel cell of the row at position `pos` in the column of `key`."""
        row = self.excel_rows[pos]
        letter = self.letters[self.files[pos]].get(key)
        return f"{letter}{row}" if letter else f"第{row}行"

    def add(
        self,
        kind: P.ProblemType,
        mask: Any,
        key: str,
        label: str,
        raw: pd.Series | np.ndarray | None = None,
        extra: Extra = "",
    ) -> None:
        m = _mask(mask)
        if kind.level == "refuse_row":
            self.refused |= m
        at = np.flatnonzero(m)
        if not len(at):
            return
        label = label.split("(")[0]  # messages name the column without its unit
        values = _take(raw, at) if raw is not None else [None] * len(at)
        if callable(extra):
            extras = extra(at)
        elif isinstance(extra, pd.Series | np.ndarray):
            extras = _take(extra, at)
        else:
            extras = [extra] * len(at)
        for pos, value, ext in zip(at.tolist(), values, extras, strict=True):
            p = P.problem(kind, self.files[pos], self.cell(pos, key), label, value, ext)
            p["row"] = self.index[pos]
            self.rows.append(p)
        self.ranks.extend([(*self.stage, _STEP[kind.code])] * len(at))


def _mask(mask: Any) -> np.ndarray:
    """A boolean array of a mask (NA counts as False)."""
    if isinstance(mask, pd.Series):
        if mask.dtype == bool:
            return mask.to_numpy()
        return mask.fillna(False).astype(bool).to_numpy()
    return np.asarray(mask, dtype=bool)


def _take(values: pd.Series | np.ndarray, at: np.ndarray) -> list[Any]:
    """The values at positions `at`, as `Series.at` would give them."""
    if isinstance(values, pd.Series):
        return [values.iat[i] for i in at.tolist()]
    return list(values[at])


def _per_value(values: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    """fn of every value, computed once per distinct value (object array)."""
    table = {v: fn(v) for v in dict.fromkeys(values.tolist())}
    return np.fromiter(map(table.__getitem__, values.tolist()), dtype=object, count=len(values))


def _texts(values: pd.Series) -> np.ndarray:
    """`_text` of every cell of an identity column: str, or None if blank."""
    shown = show_values(values)
    filled = np.fromiter(map(bool, map(str.strip, shown, repeat(" \u3000"))), bool, len(shown))
    out = np.full(len(shown), None, dtype=object)
    out[filled] = shown[filled]
    return out


def _series(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A column of str/None values (pandas infers the str dtype, as for text mapped per cell)."""
    return pd.Series(values, index=index)


@dataclass
class Part:
    """The row checks of some whole workbooks: their typed rows (`refused` and `errors` as their
    own checks left them), their problems in check order, and what the checks over every row
    of the run need of them (`finish`): each row's 员工编号 for the duplicate check ('' where
    there is none, or an error value) and the cells as read of the plausibility checks' fields.
    """

    people: pd.DataFrame
    problems: list[dict[str, Any]]
    ranks: list[tuple[int, ...]]  # of each problem: the check that found it (_Collector.add)
    ids: np.ndarray
    raw: dict[str, np.ndarray]


def check_rows(
    frame: pd.DataFrame, books: list[WorkbookData], rules: Rulebook
) -> tuple[pd.DataFrame, list]:
    """Every row check of `frame` (rows of `books`) at once: the typed rows and the problems."""
    return finish([check_part(frame, books, rules)], _letters(books), rules)


def _letters(books: list[WorkbookData]) -> Letters:
    return {wb.file: wb.letters for wb in books}


def finish(parts: list[Part], letters: Letters, rules: Rulebook) -> tuple[pd.DataFrame, list]:
    """The checks that compare rows of different workbooks (a 员工编号 used twice) or read the
    whole run (the plausibility checks, whose conditions may average over a role or group),
    over the parts' rows together. The problems come in the order of a single pass: the parts'
    own by their checks' ranks (stable: within a check, in the order of the rows), then the
    duplicates, then the plausibility notes."""
    people = concat_people([p.people for p in parts])
    c = _Collector(people, letters, people["refused"].to_numpy(dtype=bool))
    _check_duplicate_ids(_joined([p.ids for p in parts]), c)
    raw = {key: _joined([p.raw[key] for p in parts]) for key in parts[0].raw}
    for check in rules.plausibility:
        _note_implausible(check, people, raw, rules, c)
    if c.rows:
        errors = people["errors"].to_numpy(dtype=object).copy()
        for pos, texts in _refusals(c).items():
            errors[pos] = "; ".join([errors[pos], *texts] if errors[pos] else texts)
        people["refused"] = pd.Series(c.refused, index=people.index)
        people["errors"] = pd.Series(errors, index=people.index, dtype=object)
    own = [p for part in parts for p in part.problems]
    if len(parts) > 1:
        ranks = [r for part in parts for r in part.ranks]
        own = [own[i] for i in sorted(range(len(own)), key=ranks.__getitem__)]
    return people, own + c.rows


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _refusals(c: _Collector) -> dict[int, list[str]]:
    """The messages of the refusals among `c`'s problems, by position, in their order."""
    messages: dict[int, list[str]] = {}
    position = {label: pos for pos, label in enumerate(c.index.tolist())} if c.rows else {}
    for p in c.rows:
        if p["level"] == "refuse_row":
            messages.setdefault(position[p["row"]], []).append(p["message"])
    return messages


def concat_people(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts' typed rows as one table, as one pass over all the rows would have typed them:
    a column one part lacks (a number field's exact texts, made only where some cell needs
    them) is empty there, and a column whose parts pandas typed differently (a text column
    blank in all of one part's rows is not typed as text) is typed over all its values."""
    if len(parts) == 1:
        return parts[0]
    columns: list[str] = []
    for part in parts:  # a column a part adds goes where that part has it (after its field)
        for i, col in enumerate(part.columns):
            if col not in columns:
                columns.insert(columns.index(part.columns[i - 1]) + 1 if i else 0, col)
    index = parts[0].index.append([p.index for p in parts[1:]])
    data: dict[str, pd.Series] = {}
    for col in columns:
        dtypes = {part[col].dtype for part in parts if col in part}
        if len(dtypes) == 1:
            dtype = dtypes.pop()
            pieces = [
                part[col] if col in part else pd.Series(_nones(part), part.index, dtype)
                for part in parts
            ]
            data[col] = pd.concat(pieces)
        else:
            values = [part[col].to_numpy(dtype=object) if col in part else _nones(part)
                      for part in parts]  # fmt: skip
            data[col] = pd.Series(np.concatenate(values), index=index).infer_objects()
    return pd.DataFrame(data, index=index)


def _nones(part: pd.DataFrame) -> np.ndarray:
    return np.full(len(part), None, dtype=object)


def check_part(frame: pd.DataFrame, books: list[WorkbookData], rules: Rulebook) -> Part:
    """The checks of each row on its own, over the rows of some whole workbooks (`frame`)."""
    formula, error = _marked(frame, books)
    formats = _cell_formats(frame, books)
    if error:
        frame = frame.copy()
        for key, text in error.items():  # the error text is the value the clerk sees
            frame[key] = frame[key].mask(text.notna(), text)
    c = _Collector(frame, _letters(books))
    index = frame.index
    out = frame[["_file", "_order", "_row", "branch_code", "branch_name"]].copy()
    contract = rules.contract
    texts = {f.key: _texts(frame[f.key]) for f in contract.fields if f.kind == "text"}
    for key, values in texts.items():
        out[key] = _series(values, index)
    role_raw = _texts(frame["role"])
    role_of = {label_key(k): v for k, v in rules.role_of_label().items()}
    canonical = {label_key(lbl): lbl for r in rules.roles.values() for lbl in r.labels}
    role = _per_value(role_raw, lambda t: role_of.get(label_key(t)) if t else None)
    role_label = _per_value(role_raw, lambda t: canonical.get(label_key(t), t) if t else None)
    out["role"] = _series(role, index)
    out["role_label"] = _series(role_label, index)
    group_of = {k: r.group for k, r in rules.roles.items()}
    out["group"] = out["role"].map(group_of)
    texts["role"] = role_label

    # The exact values the checks after this loop compare (a few fields); the others' are
    # dropped once their own checks ran (each is a column of Python ints, ~9 MB a 180,000 rows)
    kept = {k for f in contract.fields if f.at_most is not None for k in (f.key, f.at_most)}
    kept |= {k for d in rules.derived if d.when_zero == "reject" for k in d.zero_fields}
    exact: dict[str, Q] = {}
    for i, f in enumerate(contract.fields):
        c.stage = (0, i)
        raw = frame[f.key]
        if f.kind == "text" or f.kind == "role":
            shown = texts[f.key]
            blank = np.fromiter(map(_is_none, shown), bool, len(shown))
            if not blank.all():
                lengths = np.fromiter(map(_len, shown), np.int64, len(shown))
                c.add(P.TEXT_TOO_LONG, lengths > MAX_TEXT, f.key, f.label, None, MAX_TEXT)
        elif f.kind in NUMERIC_KINDS:
            value, blank_s, invalid, from_text, long_text = parse_numbers(raw)
            blank = blank_s.to_numpy()
            if f.key in formula:  # never the default of a blank cell
                blank = blank & ~formula[f.key].to_numpy()
            num = value.to_numpy()
            odd = _formatted(c, raw, num, invalid.to_numpy(), formats.get(f.key), f)
            c.add(P.NUMBER_INVALID, invalid.to_numpy() & ~odd, f.key, f.label, raw)
            q = Q.from_floats(num)
            if f.key in kept:
                exact[f.key] = q
            if long_text is not None:
                at = np.flatnonzero(long_text.notna().to_numpy())
                q.put(at, Q.from_decimals(long_text.iloc[at].tolist()))
            huge = q.cmp(">=", LARGEST) | q.cmp("<=", -LARGEST)
            c.add(P.NUMBER_TOO_LARGE, huge, f.key, f.label, raw)
            if f.minimum == 0:
                c.add(P.NUMBER_NEGATIVE, q.cmp("<", 0), f.key, f.label, raw)
            elif f.minimum is not None:
                low = q.cmp("<", f.minimum)
                c.add(P.NUMBER_BELOW_MIN, low, f.key, f.label, raw, fmt_number(float(f.minimum)))
            if f.maximum is not None:
                high = q.cmp(">", f.maximum)
                c.add(P.NUMBER_ABOVE_MAX, high, f.key, f.label, raw, fmt_number(float(f.maximum)))
            if f.whole:
                whole = ~q.cmp("<", 0) & ~q.is_multiple_of(0)
                c.add(P.COUNT_NOT_WHOLE, _mask(whole) & ~odd, f.key, f.label, raw)
            c.add(
                P.TEXT_NUMBER,
                from_text,
                f.key,
                f.label,
                raw,
                lambda at, num=num: [fmt_number(v) for v in num[at].tolist()],
            )
            if f.decimals is not None:
                places = _mask(~q.is_multiple_of(f.decimals)) & ~odd
                c.add(P.TOO_MANY_DECIMALS, places, f.key, f.label, raw, f.decimals)
            if f.default is not None:
                value = value.where(~blank, float(f.default))  # type: ignore[arg-type]
            out[f.key] = value
            if long_text is not None:
                out[f"_exact:{f.key}"] = long_text
        else:  # yesno
            shown = show_values(raw)
            upper = list(map(str.upper, shown))
            values = raw.to_numpy(dtype=object).tolist()
            n = len(shown)
            yes = np.fromiter(map(YES.__contains__, upper), bool, n) | np.fromiter(
                map(_is_true, values), bool, n
            )
            no = np.fromiter(map(NO.__contains__, upper), bool, n) | np.fromiter(
                map(_is_false, values), bool, n
            )
            blank = shown == ""
            c.add(P.YESNO_INVALID, ~(yes | no | blank), f.key, f.label, raw)
            out[f.key] = pd.Series(yes, index=index)
        if f.key in formula:  # calamine read '' for it: neither blank nor a value
            blank = blank & ~formula[f.key].to_numpy()
            c.add(P.FORMULA_NO_VALUE, formula[f.key], f.key, f.label)
        if f.kind == "text" and f.key in error:
            c.add(P.CELL_ERROR, error[f.key].notna(), f.key, f.label, frame[f.key])
        if f.required:
            c.add(P.REQUIRED_BLANK, blank, f.key, f.label)
        elif groups := rules.required_groups(f.key):
            need = out["group"].isin(groups).to_numpy(dtype=bool)
            c.add(P.REQUIRED_BLANK, need & blank, f.key, f.label)

    roles_text = "、".join(lbl for r in rules.roles.values() for lbl in r.labels)
    unknown = np.fromiter(map(_is_none, role), bool, len(role)) & ~np.fromiter(
        map(_is_none, role_label), bool, len(role_label)
    )
    c.stage = (1,)
    c.add(P.ROLE_UNKNOWN, unknown, "role", "岗位", role_raw, roles_text)
    for i, f in enumerate(contract.fields):
        c.stage = (2, i)
        if f.at_most is not None:
            other = frame[f.at_most]
            label = contract.by_key[f.at_most].name
            c.add(
                P.ABOVE_FIELD,
                exact[f.key].cmp(">", exact[f.at_most]),
                f.key,
                f.label,
                frame[f.key],
                lambda at, other=other, label=label: [
                    f"「{label}」{show(v)}" for v in _take(other, at)
                ],
            )
    for i, d in enumerate(rules.derived):
        if d.when_zero != "reject":
            continue
        for j, key in enumerate(d.zero_fields):
            c.stage = (3, i, j)
            mask = out["role"].isin(d.reject_roles).to_numpy() & exact[key].is_zero()
            c.add(P.DENOMINATOR_ZERO, mask, key, contract.by_key[key].name, None, d.label)
    errors = np.full(len(frame), "", dtype=object)
    for pos, texts_ in _refusals(c).items():
        errors[pos] = "; ".join(texts_)
    out["refused"] = pd.Series(c.refused, index=index)
    out["errors"] = pd.Series(errors, index=index, dtype=object)
    ids = _id_keys(texts["emp_id"], error.get("emp_id"))
    # copies: a view would keep the whole block of cells as read (every column) alive
    raw = {p.field: frame[p.field].to_numpy(dtype=object, copy=True) for p in rules.plausibility}
    return Part(out, c.rows, c.ranks, ids, raw)


def _is_none(v: Any) -> bool:
    return v is None


def _len(v: Any) -> int:
    return 0 if v is None else len(v)


def _is_true(v: Any) -> bool:
    return v is True


def _is_false(v: Any) -> bool:
    return v is False


def _marked(
    frame: pd.DataFrame, books: list[WorkbookData]
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """Per contract key: a mask of formula cells without a value, and the error text of error
    cells (None elsewhere). Both read as '' from calamine; `read.py` found them in the XML."""
    marks = [
        (wb.file, row, key, kind, text)
        for wb in books
        for (sheet, row, key), (kind, text) in wb.marks.items()
        if sheet == DATA_SHEET and key in frame
    ]
    formula: dict[str, pd.Series] = {}
    error: dict[str, pd.Series] = {}
    if not marks:
        return formula, error
    table = pd.DataFrame(marks, columns=["_file", "_row", "key", "kind", "text"], dtype=object)
    table["_row"] = table["_row"].astype("int64")
    rows = pd.DataFrame(
        {
            "_file": frame["_file"].to_numpy(dtype=object),
            "_row": frame["_row"].to_numpy(dtype="int64"),
            "pos": np.arange(len(frame)),
        }
    ).drop_duplicates(["_file", "_row"], keep="last")  # as a dict keyed by (file, row) holds
    found = table.merge(rows, on=["_file", "_row"], how="inner", sort=False)
    for key, group in found.groupby("key", sort=False):
        kinds = group["kind"].to_numpy(dtype=object)
        pos = group["pos"].to_numpy()
        is_formula = kinds == "formula"
        if is_formula.any():
            mask = np.zeros(len(frame), dtype=bool)
            mask[pos[is_formula]] = True
            formula[str(key)] = pd.Series(mask, index=frame.index)
        if (~is_formula).any():
            text = np.full(len(frame), None, dtype=object)
            text[pos[~is_formula]] = group["text"].to_numpy(dtype=object)[~is_formula]
            error[str(key)] = pd.Series(text, index=frame.index, dtype=object)
    return formula, error


def _cell_formats(frame: pd.DataFrame, books: list[WorkbookData]) -> dict[str, np.ndarray]:
    """Per contract key: the (kind, format code) of each row's cell shown as a percentage, a
    date or a time (None elsewhere), from `WorkbookData.formats`."""
    found = {wb.file: wb.formats for wb in books if wb.formats}
    if not found or not len(frame):
        return {}
    files = frame["_file"].to_numpy(dtype=object)
    at = np.flatnonzero(np.isin(files, list(found)))
    rows = frame["_row"].to_numpy()[at]
    cells_at = zip(files[at].tolist(), map(int, rows.tolist()), strict=True)
    position = dict(zip(cells_at, at.tolist(), strict=True))
    out: dict[str, np.ndarray] = {}
    for file, cells in found.items():
        for (row, key), fmt in cells.items():
            i = position.get((file, row))
            if i is not None and key in frame:
                out.setdefault(key, np.full(len(frame), None, dtype=object))[i] = fmt
    return out


def _percent_hint(f: Field) -> str:
    """What a cell of `f` should hold instead of a percentage."""
    if f.kind == "amount":
        return f"金额应填{f.unit}" if f.unit else "金额应直接填写"
    if f.kind == "count":
        return "个数应填整数"
    return f"应按{f.unit}填写数值" if f.unit else "应直接填写数值"


def _formatted(
    c: _Collector,
    raw: pd.Series,
    num: np.ndarray,
    invalid: np.ndarray,
    fmt: np.ndarray | None,
    f: Field,
) -> np.ndarray:
    """Refuse the cells of a number column shown as a date or a time (calamine reads most of
    them as dates; a number in a date format it does not know stays a number), and those shown
    as a percentage unless the field is a ratio or the number is 0 (0% is 0 in any unit).
    Returns where a cell was refused so, for the checks whose message it replaces."""
    n = len(num)
    dated = np.zeros(n, dtype=bool)
    percent = np.zeros(n, dtype=bool)
    if not invalid.any() and fmt is None:
        return dated
    values = raw.to_numpy(dtype=object)
    shown = np.full(n, None, dtype=object)
    words = np.full(n, None, dtype=object)
    for i in np.flatnonzero(invalid).tolist():
        if numfmt.is_date_value(values[i]):
            kind = numfmt.TIME if numfmt.is_time_value(values[i]) else numfmt.DATE
            dated[i], shown[i], words[i] = True, numfmt.shown(values[i], kind, ""), kind
    if fmt is not None:
        filled = np.fromiter(map(_is_not_none, fmt.tolist()), bool, n) & ~np.isnan(num)
        for i in np.flatnonzero(filled).tolist():
            kind, code = fmt[i]
            if kind == numfmt.PERCENT and (f.ratio or num[i] == 0):
                continue
            shown[i] = numfmt.shown(values[i], kind, code)
            if kind == numfmt.PERCENT:
                percent[i] = True
            else:
                dated[i], words[i] = True, kind
    words[dated] = [numfmt.WORDS[w] for w in words[dated].tolist()]
    c.add(P.DATE_FORMAT, dated, f.key, f.label, shown, words)
    c.add(P.PERCENT_FORMAT, percent, f.key, f.label, shown, _percent_hint(f))
    return dated | percent


def _is_not_none(v: Any) -> bool:
    return v is not None


def _note_implausible(
    check: Plausibility,
    out: pd.DataFrame,
    raw: dict[str, np.ndarray],
    rules: Rulebook,
    c: _Collector,
) -> None:
    """Note the cells of `check.field` in the rows where the check's condition holds (a blank
    figure decides nothing), with its message; the values are read as the scorer reads them
    (a blank optional cell as its default)."""
    formula = check.when
    if formula is None or not len(out):
        return
    fig = Figures(out)
    env: dict[str, Any] = {}
    for key in formula.refs:
        spec = rules.contract.by_key.get(key)
        if key in check.parameters:
            env[key] = check.parameters[key]
        elif key in rules.parameters:
            env[key] = rules.parameters[key].value
        elif spec is not None and spec.kind == "yesno":
            env[key] = out[key].fillna(False).astype(bool).to_numpy()
        else:
            env[key] = fig[key]
    keys = {k: out[k].to_numpy(dtype=object) for k in formula.by_keys}
    hit = np.asarray(formula.evaluate(env, ~c.refused, keys).value, dtype=bool)
    if not hit.any():
        return
    spec = rules.contract.by_key[check.field]

    def message(i: int) -> str:
        return PLACEHOLDER_RE.sub(
            lambda m: _placeholder(m.group(1), i, check, out, rules), check.message
        )

    def messages(at: np.ndarray) -> list[str]:
        return [message(i) for i in at.tolist()]

    c.add(P.IMPLAUSIBLE, hit, spec.key, spec.label, raw[spec.key], messages)


def _placeholder(name: str, i: int, check: Plausibility, out: pd.DataFrame, rules: Rulebook) -> str:
    """A {name} of a plausibility message: a parameter's value or the row's value of a field."""
    if name in check.parameters:
        return _decimal_text(check.parameters[name])
    if name in rules.parameters:
        return _decimal_text(rules.parameters[name].value)
    spec = rules.contract.by_key[name]
    v = out[name].iat[i]
    if spec.kind == "yesno":
        return "是" if v else "否"
    exact = out[f"_exact:{name}"].iat[i] if f"_exact:{name}" in out else None
    if isinstance(exact, str):
        return exact
    return fmt_number(v) or "空"


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _id_keys(texts: np.ndarray, error: pd.Series | None) -> np.ndarray:
    """Each row's 员工编号 as the duplicate check compares it: '' for none or an error value."""
    ids = pd.Series(texts, dtype=object).fillna("")
    if error is not None:
        ids = ids.where(error.isna().to_numpy(), "")  # an error value is not an id
    return ids.to_numpy(dtype=object)


def _check_duplicate_ids(ids: np.ndarray, c: _Collector) -> None:
    keys = pd.Series(ids, dtype=object)
    dup = ((keys != "") & keys.duplicated(keep=False)).to_numpy()
    if not dup.any():
        return
    at = np.flatnonzero(dup)
    where = [f"{c.files[i]} {DATA_SHEET}!{c.cell(i, 'emp_id')}" for i in at.tolist()]
    others: dict[int, str] = {}
    groups = pd.Series(range(len(at))).groupby(ids[at], sort=False)
    for members in groups.indices.values():
        shown = [where[k] for k in members]
        for n, k in enumerate(members.tolist()):
            others[int(at[k])] = "、".join(shown[:n] + shown[n + 1 :])
    c.add(
        P.EMP_DUPLICATE,
        dup,
        "emp_id",
        "员工编号",
        ids,
        lambda pos: [others[i] for i in pos.tolist()],
    )


def _text(v: Any) -> str | None:
    """Text of an identity cell: numbers without '.0', stripped; None if blank."""
    text = show(v)
    return text if text.strip(" \u3000") else None
