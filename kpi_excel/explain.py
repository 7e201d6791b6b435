"""How each person's score came about, in words and numbers: a rendering of the results layer.

`explain_frame` builds every sentence for every person of a run at once (one column per line,
built column-wise over object arrays of str, each distinct number formatted once), e.g. for 存款:
`新增存款日均增幅31.25%,目标30%,每±1个百分点±2分:40+2.50=42.50分(第十三条(扣分标准1))`.
Every figure comes from the scorer's columns (score.py, flags.py) and every rule phrase from
the rulebook (describe.py): nothing here computes a score, a band, a grade or a flag, so a
sentence cannot contradict the figure beside it. `explain_person` gives the same sentences for
one stored results row, for `kpi-excel explain`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from . import describe as D
from .exact import Q
from .flags import MonthFigure, flag_warns, raised_flags
from .formula import Formula
from .formula_ast import Aggregate
from .numbers import fmt_number
from .periods import Period, parse_period, previous_period
from .rulebook import Flag, Item, Rule, Rulebook
from .score import (
    BAND,
    CAPPED,
    DELTA,
    GRADE_ROW,
    REACHED,
    SHOWN,
    SHOWN_PLACES,
    UNCLIPPED,
    formula_env,
    period_target,
)

REFUSED_LABEL = "未计分"
LINE_LABELS = {
    "business": "业务得分",
    "conduct": "行为规范扣分",
    "total": "综合得分",
    "grade": "考核等级",
    "income": "扣减收入",
    "flags": "预警与处理",
    "outcome": "考核结论",
    "history": "历史数据",
    "adjustment": "申诉调整",
}
_TEXT_KEYS = {
    "emp_id", "name", "role", "role_label", "group", "flags", "outcome", "recommended_level",
    "errors", "status", "history_note", "grade", "branch_code", "branch_name", "flags_text",
    "decided", "adjustment_note",
}  # fmt: skip


def _strs(items: Iterable[str]) -> np.ndarray:
    """A 1-d object array of Python str (never a fixed-width numpy string array)."""
    return np.fromiter(items, dtype=object)


def _each(fn: Callable[[Any], str], values: np.ndarray) -> np.ndarray:
    """fn of every value, called once per distinct value."""
    if not len(values):
        return np.zeros(0, dtype=object)
    distinct, where = np.unique(values, return_inverse=True)
    return _strs(map(fn, distinct.tolist()))[where]


def _places_texts(q: Q, places: np.ndarray) -> np.ndarray:
    """Each value rounded half away from zero to its own number of places, as text."""
    out = np.full(len(q), "", dtype=object)
    for decimals in np.unique(places).tolist():
        at = np.flatnonzero((places == decimals) & ~q.na)
        if not len(at):
            continue
        spec = 10**decimals

        def show(u: int, decimals: int = decimals, spec: int = spec) -> str:
            sign = "-" if u < 0 else ""
            whole, part = divmod(abs(u), spec)
            return f"{sign}{whole}.{part:0{decimals}d}" if decimals else f"{sign}{whole}"

        out[at] = _each(show, q.take(at).round_units(decimals))
    return out


def fixed_texts(
    values: Any, decimals: int | np.ndarray, scale: int = 1, edges: Collection[Any] = ()
) -> np.ndarray:
    """Figures shown with `decimals` places (one number, or one per value), rounded half away
    from zero from the decimal each double stands for (×`scale`, e.g. 100 for a percentage);
    '' where blank. With `edges` (thresholds, band edges: unscaled), a figure that those places
    would show as an edge it is not equal to gets more places, up to 8 more, so that
    收贷收息率98.996% is never shown as 99.00% beside "低于99%"."""
    values = np.asarray(values, dtype=float)
    if scale == 1 and np.ndim(decimals) == 0 and not edges:
        # Scores and totals are already decimals of these places: the double of such a
        # decimal formats as itself. Only the other values need the exact path.
        step = 10.0 ** int(decimals)
        with np.errstate(invalid="ignore", over="ignore"):
            exact = (np.abs(values) < 1e12) & (np.rint(values * step) / step == values)
        if exact.all():
            out = _each(lambda v: format(v + 0.0, f".{int(decimals)}f"), values)
            return np.where(np.isnan(values), "", out).astype(object)
    q = Q.from_floats(values)
    if scale != 1:
        q = q * scale
    places = np.broadcast_to(np.asarray(decimals), len(q)).copy()
    approx = np.asarray(values, dtype=float) * scale
    for edge in edges:
        # Only a value within a unit of the shown places of the edge can be shown as it: the
        # exact check runs on those rows alone (a generous float margin picks them).
        near = np.flatnonzero(np.abs(approx - float(edge) * scale) <= 2.0 * 10.0**-places)
        if not len(near):
            continue
        sub, at = q.take(near), places[near]
        e = Q.full(len(near), Fraction(edge) * scale)
        for _ in range(8):
            clash = _clash(sub, e, at)
            if not clash.any():
                break
            at[clash] += 1
        places[near] = at
    return _places_texts(q, places)


def _clash(q: Q, edge: Q, places: np.ndarray) -> np.ndarray:
    """Where a value is not the edge but would be shown as it with `places` decimals."""
    out = np.zeros(len(q), dtype=bool)
    for decimals in np.unique(places).tolist():
        at = places == decimals
        shown = Q.from_units(q.round_units(decimals), decimals, q.na)
        out |= at & shown.cmp("==", edge) & ~q.cmp("==", edge)
    return out


class _Frame:
    """Vectorised formatting helpers over some rows of one people frame (positions `rows`, all
    when None). Text comes back as object arrays of str, so `+` and np.where work row by row."""

    def __init__(
        self, df: pd.DataFrame, rules: Rulebook, period: Period, rows: np.ndarray | None = None
    ) -> None:
        self.df, self.rules, self.period, self.dec = df, rules, period, rules.decimals
        self.rows, self.n = rows, len(df) if rows is None else len(rows)

    def subset(self, mask: np.ndarray) -> _Frame:
        """The rows of this frame where `mask` holds."""
        rows = np.flatnonzero(mask) if self.rows is None else self.rows[mask]
        return _Frame(self.df, self.rules, self.period, rows)

    def _take(self, values: np.ndarray) -> np.ndarray:
        return values if self.rows is None else values[self.rows]

    def num(self, key: str) -> np.ndarray:
        if key not in self.df:
            return np.full(self.n, np.nan)
        return self._take(pd.to_numeric(self.df[key], errors="coerce").to_numpy(dtype=float))

    def text(self, key: str) -> np.ndarray:
        """A text column, blanks as ''; all '' when the frame has no such column."""
        if key not in self.df:
            return np.full(self.n, "", dtype=object)
        return self._take(self.df[key].fillna("").astype(str).to_numpy(dtype=object))

    def objects(self, key: str) -> np.ndarray:
        if key not in self.df:
            return np.full(self.n, None, dtype=object)
        return self._take(self.df[key].to_numpy(dtype=object))

    def fixed(self, v: Any, scale: int = 1, edges: Iterable[Any] = ()) -> np.ndarray:
        return fixed_texts(v, self.dec, scale, edges)

    def number(self, v: Any) -> np.ndarray:
        return _each(fmt_number, np.asarray(v, dtype=float))

    def value(self, key: str, is_bool: bool, edges: Iterable[Any] = ()) -> np.ndarray:
        """A figure as a branch head reads it: 31.25%, 1300万元, 是, 80.00分; never shown as
        one of `edges` (the thresholds it was compared with) that it is not."""
        if is_bool:
            yes = ("true", "1", "是")
            values = self.objects(key)
            return _strs("是" if str(x).strip().lower() in yes else "否" for x in values)
        x = self.num(key)
        if D.is_score(key, self.rules):
            return self.fixed(x, edges=edges) + "分"
        if D.is_ratio(key, self.rules):
            return self.fixed(x, 100, edges) + "%"
        return self.number(x) + D.unit(key, self.rules)


def _linear(f: _Frame, item: Item, rule: Rule, score: np.ndarray) -> np.ndarray:
    p = rule.params
    u = p["unit"]
    key = item.key
    unclipped = f.num(UNCLIPPED.format(key=key))
    delta = f.num(DELTA.format(key=key))
    signs = np.where(delta < 0, "-", "+").astype(object)
    per = "个百分点" if u == "%" else u
    places = np.nan_to_num(f.num(SHOWN_PLACES.format(key=key)), nan=f.dec).astype(int)
    shown = fixed_texts(f.num(SHOWN.format(key=key)), places) + u
    if p["divisor"] != 1:  # the figure the percentage is computed from
        shown = shown + "(" + D.label(rule.input, f.rules) + f.value(rule.input, False) + ")"
    how = (
        f",目标{D.const(p['target'])}{u},"
        f"每±{D.const(p['step'])}{per}±{D.const(p['points'])}分:{D.const(p['base'])}"
    )
    base_places = max(f.dec, -Decimal(p["base"]).normalize().as_tuple().exponent)
    text = rule.input_label + shown + how + signs + fixed_texts(np.abs(delta), base_places) + "="
    text = text + f.fixed(unclipped) + "分"
    capped = f.num(CAPPED.format(key=key))
    over, under = capped == 1, capped == -1
    text[over] = text[over] + f",超过上限{D.const(p['max'])}分,封顶" + f.fixed(score[over]) + "分"
    text[under] = (
        text[under] + f",低于下限{D.const(p['min'])}分,保底" + f.fixed(score[under]) + "分"
    )
    return text


def _bands(f: _Frame, item: Item, rule: Rule, score: np.ndarray) -> np.ndarray:
    band = np.nan_to_num(f.num(BAND.format(key=item.key)), nan=-1).astype(int)
    where = _each(lambda b: D.band_text(rule, f.rules, int(b)), band)
    x = f.num(rule.input)
    edges = [e for e, _, _ in rule.params["bands"]]
    ratio = D.is_ratio(rule.input, f.rules)
    shown = f.fixed(x, 100, edges) + "%" if ratio else f.number(x)
    return rule.input_label + shown + "," + where + "档:" + f.fixed(score) + "分"


def _pro_rata(f: _Frame, item: Item, rule: Rule, score: np.ndarray) -> np.ndarray:
    p = rule.params
    u = D.unit(rule.input, f.rules)
    target = D.fraction(period_target(rule, f.period, f.rules))
    months = len(f.rules.months[f.period.kind])
    if p["scale_by_period"] and months != 12:
        whole = f"(全年{D.const(p['target'])}{u}×{months}/12)"
        goal = f"本期目标{target}{u}{whole},"
    else:
        goal = f"目标{target}{u},"
    value = f.number(f.num(rule.input))
    reached = f.num(REACHED.format(key=item.key)) == 1
    head = rule.input_label + value + u + "," + goal
    full = head + "已完成目标,得满分" + f.fixed(score) + "分"
    part = head + f"按完成比例:{D.const(p['points'])}×" + value + f"/{target}="
    return np.where(reached, full, part + f.fixed(score) + "分")


def _labels(rules: Rulebook) -> dict[str, str]:
    """Every name a formula may use -> the Chinese name a sentence shows."""
    out = {f.key: f.name for f in rules.contract.fields}
    out |= {k: p.label for k, p in rules.parameters.items()}
    out |= {d.key: d.label for d in rules.derived} | {i.key: i.label for i in rules.items}
    return out | {"business_score": "业务得分"} | D.GROUP_LABELS


def formula_texts(
    f: _Frame, formula: Formula, stored: np.ndarray, places: int, unit: str, percent: bool = False
) -> np.ndarray:
    """A formula with the person's values, ending in the scorer's figure (`stored`), e.g.
    `max(0, 10 − 0.5×档案缺漏项数3) = 8.50分`. A formula that averages or sums over other
    people is shown in words with the figure only: one person's row cannot recompute it."""
    rules = f.rules
    shown = (fixed_texts(stored, places, 100 if percent else 1) + ("%" if percent else "")) + unit
    if any(isinstance(n, Aggregate) for n in formula.ast.walk()):
        return f"{formula.describe(_labels(rules))} = " + shown
    env, members, keys = formula_env(formula, f.df, rules)
    ratios = {d.key for d in rules.derived if d.is_ratio}
    text = formula.explain(env, members, keys, labels=_labels(rules), ratios=ratios, rows=f.rows)
    return _strs(map(_with_result, text.tolist(), shown.tolist()))


def _with_result(text: str, shown: str) -> str:
    """An explanation ending in the scorer's figure: `… = 3.00分`, or `…,所以得0.00分`."""
    last = text.rsplit(",", 1)[-1]
    if last.startswith("所以得"):
        return text[: len(text) - len(last)] + "所以得" + shown
    return text.rsplit(" = ", 1)[0] + " = " + shown


def _formula(f: _Frame, item: Item, rule: Rule, score: np.ndarray) -> np.ndarray:
    return formula_texts(f, rule.params["formula"], score, f.dec, "分")


_KINDS = {"linear": _linear, "bands": _bands, "pro_rata": _pro_rata, "formula": _formula}


def _item(f: _Frame, item: Item, roles: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The item's sentence and where it counts in the business score (`roles`: each role's rows)."""
    text = np.full(f.n, "", dtype=object)
    counted = np.zeros(f.n, dtype=bool)
    for role_key, rule in item.by_role.items():
        mask = roles[role_key]
        if not mask.any():
            continue
        sub = f.subset(mask)
        score = sub.num(item.key)
        blank = np.isnan(score)
        sentence = _KINDS[rule.kind](sub, item, rule, score) + f"({item.article})"
        what = rule.input_label or item.label
        text[mask] = np.where(blank, f"{what}无法计算,本项不计分({item.article})", sentence)
        counted[mask] = ~blank
    return text, counted


def _grade(f: _Frame, total_text: np.ndarray) -> np.ndarray:
    """The grade sentence of every row: the total, the range of the grade row reached."""
    rules = f.rules
    group = f.text("group")
    row = np.nan_to_num(f.num(GRADE_ROW), nan=-1).astype(int)
    known = (row >= 0) & np.isin(group, list(rules.grades))
    out = np.full(f.n, "", dtype=object)
    at = np.flatnonzero(known)
    keys = [f"{g}\x00{r}" for g, r in zip(group[at].tolist(), row[at].tolist(), strict=True)]

    def sentence(k: str) -> str:
        g, r = k.split("\x00")
        name = rules.grades[g][int(r)][0]
        return f"{rules.groups[g]}{D.grade_text(rules, g, int(r))}:{name}({rules.grades_article})"

    if len(at):
        out[at] = (
            "综合得分" + total_text[at] + "分," + _each(sentence, np.array(keys, dtype=object))
        )
    return out


_SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "="}
AMOUNT_PLACES = 2  # a month's amount and threshold are shown with at least these decimals


def _at_least(value: float | None, places: int = AMOUNT_PLACES) -> str:
    """A figure with at least `places` decimals and all of its own (812.40, 899.995): never
    shown as a threshold it is not equal to."""
    if value is None or value != value:
        return "空白"
    whole, _, part = fmt_number(value).partition(".")
    return f"{whole}.{part.ljust(places, '0')}" if places else fmt_number(value)


def _month_text(
    months: tuple[MonthFigure, ...], flag: Flag, rules: Rulebook, period: Period
) -> str:
    """The months that raised a consecutive-months flag, each with its amount and the share of
    its base it was compared with, then how each threshold was made and where earlier months
    came from: `存款日均(万元):5月 812.40 < 900.00, 6月 …(900.00为基数存款日均1000.00的90%;
    5月、6月取自2026Q2)`."""
    p = flag.params
    year = f"{period.year}年"

    def name(m: MonthFigure) -> str:  # 7月 in the period's year, 2025年12月 before it
        return m.label[len(year) :] if m.label.startswith(year) else m.label

    symbol = _SYMBOL[p["op"]]
    shown = ", ".join(
        f"{name(m)} {_at_least(m.amount)} {symbol} {_at_least(m.threshold)}" for m in months
    )
    share, of = f"{D.const(p['ratio'] * 100)}%", D.label(p["of"], rules)
    made = list(dict.fromkeys((m.threshold, m.base, m.source) for m in months))
    several = len({(t, b) for t, b, _ in made}) > 1
    notes = list(
        dict.fromkeys(
            f"{_at_least(t)}为{source if several else ''}{of}"
            f"{'' if b is None else _at_least(b)}的{share}"
            for t, b, source in made
        )
    )
    earlier = dict.fromkeys(m.source for m in months if m.source and m.source != period.code)
    for source in earlier:
        names = "、".join(name(m) for m in months if m.source == source)
        notes.append(f"{names}取自{source}")
    unit = D.unit(p["of"], rules)
    what = D.monthly_name(p["field"], rules) + (f"({unit})" if unit else "")
    return f"{what}:{shown}(" + ";".join(notes) + ")"


def _raised_mask(values: np.ndarray) -> np.ndarray:
    """Where a flag column holds True (blank, NaN and None: not raised)."""
    return pd.Series(values, dtype=object).fillna(False).to_numpy(dtype=bool)


def _repeat_text(f: _Frame, flag: Flag) -> np.ndarray:
    """A repeat flag's own figures: the flags it repeats that this year's run decided, and the
    previous year's run that decided one of them too."""
    rules = f.rules
    repeated = [rules.flag(c) for c in flag.params["of"] if any(x.code == c for x in rules.flags)]
    names = np.full(f.n, "", dtype=object)
    for other in repeated:
        hit = _raised_mask(f.objects(f"flag:{other.code}"))
        name = D.flag_name(other)
        names[hit] = np.where(names[hit] == "", name, names[hit] + "、" + name)
    word = rules.outcomes[repeated[0].action] if repeated else ""
    before = previous_period(f.period, rules.calendar).code
    return _strs(f"本年度因{n}被认定{word},上年度({before})亦然" for n in names.tolist())


@dataclass
class RaisedFlag:
    """The people of a frame who raised one flag: their positions, each one's own figures (''
    where the flag has none to show) and whether the flag is only a warning this period."""

    flag: Flag
    at: np.ndarray
    figures: np.ndarray
    warns: bool

    def consequence(self, rules: Rulebook) -> str:
        return D.flag_consequence(self.flag, rules, self.warns)


def _raised(f: _Frame) -> list[RaisedFlag]:
    rules = f.rules
    out = []
    for flag in raised_flags(rules, f.df):
        hit = _raised_mask(f.objects(f"flag:{flag.code}"))
        if not hit.any():
            continue
        at, sub = np.flatnonzero(hit), f.subset(hit)
        figures = np.full(len(at), "", dtype=object)
        keys = [(k, b) for k, b in dict.fromkeys(_fields(flag.condition or {})) if k in f.df]
        if keys:
            edges = _edges(flag.condition or {})
            parts = [
                D.label(k, rules) + ("为" if b else "") + sub.value(k, b, edges.get(k, ()))
                for k, b in keys
            ]
            figures = _strs(map("、".join, zip(*parts, strict=True)))
        elif flag.kind == "consecutive_months":
            months = sub.objects(f"flag_months:{flag.code}")
            figures = _strs(
                _month_text(tuple(m), flag, rules, f.period) if m else "" for m in months
            )
        elif flag.kind == "repeat":
            figures = _repeat_text(sub, flag)
        out.append(RaisedFlag(flag, at, figures, flag_warns(flag, f.period)))
    return out


def raised_flag_rows(people: pd.DataFrame, rules: Rulebook, period: Period) -> list[RaisedFlag]:
    """Every flag raised in `people` (code order) with who raised it and their own figures, as
    the explanations, the branch workbook and the summary show them."""
    return _raised(_Frame(people, rules, period))


def _flag_lines(f: _Frame) -> np.ndarray:
    """Every raised flag's sentence, one line each in code order, for every row: its name and
    code, what raises it (article), the person's own figures, what it means this period:
    `客户经理综合得分未达标(A14-2-SCORE85):综合得分85分(含)以下(第十四条第(二)款第3项),
    本人综合得分76.00分;年度考核时将降级(本期仅预警)`."""
    rules = f.rules
    lines: dict[int, list[str]] = {}  # of the rows with a flag: most of a bank's have none
    for r in _raised(f):
        flag = r.flag
        head = f"{D.flag_name(flag)}:{D.flag_text(flag, rules)}({flag.article})"
        own = np.where(r.figures == "", "", ",本人" + r.figures)
        text = head + own + ";" + r.consequence(rules)
        for i, line in zip(r.at.tolist(), text.tolist(), strict=True):
            lines.setdefault(i, []).append(line)
    out = np.full(f.n, "", dtype=object)
    for i, found in lines.items():
        out[i] = "\n".join(found)
    return out


def _edges(cond: dict[str, Any]) -> dict[str, list[Any]]:
    """The values each field of a flag condition is compared with."""
    if "all" in cond or "any" in cond:
        out: dict[str, list[Any]] = {}
        for c in cond.get("all", cond.get("any", [])):
            for k, v in _edges(c).items():
                out.setdefault(k, []).extend(v)
        return out
    value = cond.get("value")
    return {} if isinstance(value, bool) or value is None else {cond["field"]: [value]}


def _fields(cond: dict[str, Any]) -> list[tuple[str, bool]]:
    """(field, compared with a yes/no value) of a flag condition, in order."""
    if "all" in cond or "any" in cond:
        return [k for c in cond.get("all", cond.get("any", [])) for k in _fields(c)]
    return [(cond["field"], isinstance(cond["value"], bool))] if "field" in cond else []


# flags_text is made this many people at a time: the sentences' parts, for every flag raised
# in a national bank at once, took some 250 MB beside the sentences themselves
FLAG_LINES_SLICE = 50_000


def flags_text(people: pd.DataFrame, rules: Rulebook, period: Period) -> np.ndarray:
    """Each raised flag in plain Chinese with the person's own figures, its article and what it
    means this period, one per line (the 预警与处理 column of 考核结果 and the summary): the
    flag lines of the explanation. Each person's lines are their own: made a slice of people
    at a time, they are the same."""
    if len(people) <= FLAG_LINES_SLICE:
        return _flag_lines(_Frame(people, rules, period))
    return np.concatenate(
        [
            _flag_lines(_Frame(people.iloc[start : start + FLAG_LINES_SLICE], rules, period))
            for start in range(0, len(people), FLAG_LINES_SLICE)
        ]
    )


def explain_frame(df: pd.DataFrame, rules: Rulebook, period: Period) -> pd.DataFrame:
    """One column per line (item keys, then business, conduct, total, grade, income, flags,
    outcome, history) of sentences for every row; '' where a line does not apply."""
    f = _Frame(df, rules, period)
    role = df["role"].astype(object)
    keys = dict.fromkeys(k for item in rules.items for k in item.by_role)
    roles = {k: (role == k).to_numpy() for k in keys}  # each role's rows
    out = pd.DataFrame(index=df.index)

    def column(values: Any, dtype: Any = "str") -> pd.Series:
        return pd.Series(values, index=df.index, dtype=dtype)

    parts = np.full((len(rules.items), f.n), "", dtype=object)  # each item's share of the sum
    for i, item in enumerate(rules.items):
        text, counted = _item(f, item, roles)
        out[item.key] = column(text, object)
        parts[i, counted] = item.label + f.fixed(f.num(item.key)[counted])
    for d in rules.derived:  # figures computed by a formula, period sums: each its own line
        if d.kind == "period_sum":
            value = f.num(d.key)
            places = 2 if d.show == "money" else f.dec
            unit = "元" if d.show == "money" else ""
            what = f"{period.year}年各{'月' if len(rules.calendar.sub_annual) == 12 else '期'}"
            text = what + D.label(d.a, rules) + "合计" + fixed_texts(value, places) + unit
            out[d.key] = column(np.where(np.isnan(value), "", text + f"({d.article})"), object)
        elif d.formula is not None:
            places = 2 if d.show == "money" else f.dec
            unit = "元" if d.show == "money" else "分" if d.show == "points" else ""
            text = formula_texts(f, d.formula, f.num(d.key), places, unit, d.is_ratio)
            out[d.key] = column(text + f"({d.article})", object)
    business_text = f.fixed(f.num("business_score"))
    sums = _strs("+".join(filter(None, p)) for p in parts.T.tolist())
    out["business"] = column(sums + "=" + business_text + "分")
    total_text = fixed_texts(f.num("total"), rules.total_decimals)
    total = rules.total
    if total.formula is not None:
        sentence = formula_texts(f, total.formula, f.num("total"), rules.total_decimals, "分")
        out["total"] = column(sentence)
    else:
        key = total.deduction or ""
        name = D.label(key, rules)
        deducted = f.number(np.nan_to_num(f.num(key))) + "分"
        article = next(
            (fl.article for fl in rules.flags if key in dict(_fields(fl.condition or {}))), ""
        )
        out["conduct"] = column(name + deducted + (f"({article})" if article else ""))
        out["total"] = column(
            "业务得分" + business_text + f"-{name}" + deducted + "=" + total_text + "分"
        )
    out["grade"] = column(_grade(f, total_text), object)
    loss = f.num(rules.income_input) if rules.income_input else np.full(f.n, np.nan)
    lost = np.nan_to_num(loss) > 0
    income = np.full(f.n, "", dtype=object)
    if lost.any():
        u = D.unit(rules.income_input, rules)
        deduction = f.number(f.num("income_deduction")[lost])
        income[lost] = (
            D.label(rules.income_input, rules) + f.number(loss[lost])
            + f"{u}×{D.const(rules.income_share * 100)}%=" + deduction
            + f"{u},从收入中扣减({rules.income_article})"
        )  # fmt: skip
    out["income"] = column(income)
    out["flags"] = column(_flag_lines(f), object)
    out["outcome"] = column(
        [
            f"{o},建议职级:{lv}" if o and lv else o
            for o, lv in zip(f.text("outcome"), f.text("recommended_level"), strict=True)
        ]
    )
    out["history"] = column(f.text("history_note"))
    out["adjustment"] = column(f.text("adjustment_note"))  # appeal.py: one adjustment a line
    return out


def line_labels(rules: Rulebook) -> dict[str, str]:
    """Column of explain_frame -> its Chinese label."""
    labels = {**{i.key: i.label for i in rules.items}, **LINE_LABELS}
    labels |= {
        d.key: d.label for d in rules.derived if d.formula is not None or d.kind == "period_sum"
    }
    if rules.total.deduction:
        labels["conduct"] = D.label(rules.total.deduction, rules)
    return labels | {"total": rules.total.label}


def _refused(row: Mapping[str, Any]) -> bool:
    refused = row.get("refused")
    if isinstance(refused, str):
        return refused.strip().lower() in ("true", "1")
    if refused is not None and not pd.isna(refused):
        return bool(refused)
    return str(row.get("status") or "") == "rejected"


def explain_person(
    row: Mapping[str, Any] | pd.Series, rules: Rulebook, period: Period | str
) -> list[tuple[str, str]]:
    """(label, sentence) for every item, the sums, the grade, each raised flag and the outcome,
    from one results row (as the ledger stores it)."""
    if isinstance(period, str):
        period = parse_period(period, rules.calendar)
    row = dict(row)
    if _refused(row):
        errors = row.get("errors")
        return [
            (
                REFUSED_LABEL,
                str(errors) if errors and not pd.isna(errors) else "该行未通过校验,未计分",
            )
        ]
    record = {
        k: (v if k in _TEXT_KEYS or not isinstance(v, str) else _parse(v)) for k, v in row.items()
    }
    for k, v in record.items():
        if k.startswith("flag_months:") and v:
            record[k] = tuple(MonthFigure(**m) if isinstance(m, dict) else m for m in v)
    frame = explain_frame(pd.DataFrame([record]), rules, period)
    labels = line_labels(rules)
    lines = []
    for key in frame.columns:
        text = str(frame.at[0, key])
        for part in text.split("\n") if key in ("flags", "adjustment") else [text]:
            if part:
                lines.append((labels[key], part))
    return lines


def _parse(v: str) -> Any:
    text = v.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text) if text else np.nan
    except ValueError:
        return text
