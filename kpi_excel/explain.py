"""How each person's score came about, in words and numbers, generated from the rulebook.

`explain_frame` builds every sentence for every person of a run at once (one column per line,
built column-wise over object arrays of str, each distinct number formatted once), e.g. for 存款:
`新增存款日均增幅31.25%,目标30%,每±1个百分点±2分:40+2.50=42.50分(第十三条(扣分标准1))`.
`explain_person` gives the same sentences for one row (of the people table or of a stored
results row) as (label, sentence) pairs, for `kpi-excel explain`. Shown numbers are rounded
with the scoring helper (half away from zero), never with Python's round().
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .numbers import compare, fmt_number, round_half_away, to_units
from .periods import Period, parse_period
from .rulebook import Item, Rule, Rulebook
from .schema import FIELD_BY_KEY
from .score import TOTAL_DECIMALS, item_raw, period_fraction

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
}
_TEXT_KEYS = {
    "emp_id", "name", "role", "role_label", "group", "flags", "outcome", "recommended_level",
    "errors", "status", "history_note", "grade", "branch_code", "branch_name", "flags_text",
}  # fmt: skip


def _const(d: Decimal | float | int) -> str:
    """A rulebook constant as written: 30, 99.5, 0.1 (no trailing zeros)."""
    text = format(Decimal(str(d)).normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def _unit(key: str, rules: Rulebook) -> str:
    """The unit in a contract label's brackets (万元, 个); a difference keeps its inputs' unit."""
    f = FIELD_BY_KEY.get(key)
    if f is not None:
        return f.label[f.label.index("(") + 1 : -1] if f.label.endswith(")") else ""
    d = next((d for d in rules.derived if d.key == key), None)
    return _unit(d.a, rules) if d is not None and d.kind == "difference" else ""


def _is_ratio(key: str, rules: Rulebook) -> bool:
    return any(d.key == key and d.kind in ("ratio", "growth") for d in rules.derived)


def _label(key: str, rules: Rulebook) -> str:
    if key == "total":
        return "综合得分"
    d = next((d for d in rules.derived if d.key == key), None)
    if d is not None:
        return d.label
    f = FIELD_BY_KEY.get(key)
    return f.label.split("(")[0] if f else key


def _fields(cond: dict[str, Any]) -> list[tuple[str, bool]]:
    """(field, compared with a yes/no value) of a flag condition, in order."""
    if "all" in cond or "any" in cond:
        return [k for c in cond.get("all", cond.get("any", [])) for k in _fields(c)]
    return [(cond["field"], isinstance(cond["value"], bool))] if "field" in cond else []


def _strs(items: Iterable[str]) -> np.ndarray:
    """A 1-d object array of Python str (never a fixed-width numpy string array)."""
    return np.fromiter(items, dtype=object)


def _each(fn: Callable[[float], str], values: np.ndarray) -> np.ndarray:
    """fn of every value, called once per distinct value (NaNs are one value; 0.0 and -0.0 are
    one too, and every formatter here shows them alike)."""
    distinct, where = np.unique(values, return_inverse=True)
    return _strs(map(fn, distinct.tolist()))[where]


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

    def fixed(self, v: Any) -> np.ndarray:
        r = round_half_away(v, self.dec)
        r = np.where(r == 0, 0.0, r)  # no "-0.00"
        spec = f".{self.dec}f"
        return _each(lambda x: format(x, spec), r)

    def pct(self, v: Any) -> np.ndarray:
        return self.fixed(np.asarray(v, dtype=float) * 100) + "%"

    def number(self, v: Any) -> np.ndarray:
        return _each(fmt_number, np.asarray(v, dtype=float))

    def value(self, key: str, is_bool: bool) -> np.ndarray:
        """A figure as a branch head reads it: 31.25%, 1300万元, 是, 80.00分."""
        if is_bool:
            yes = ("true", "1", "是")
            values = self._take(self.df[key].to_numpy(dtype=object))
            return _strs("是" if str(x).strip().lower() in yes else "否" for x in values)
        x = self.num(key)
        if key == "total" or key == "business_score" or key.startswith("score_"):
            return self.fixed(x) + "分"
        if _is_ratio(key, self.rules):
            return self.pct(x)
        return self.number(x) + _unit(key, self.rules)


def _linear(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> np.ndarray:
    p = rule.params
    unit = p["unit"]
    scaled = x / float(p["divisor"]) * float(p["scale"])
    raw = float(p["base"]) + float(p["points"]) * (scaled - float(p["target"])) / float(p["step"])
    unclipped = round_half_away(raw, f.dec)
    delta = (to_units(unclipped, f.dec) - int(to_units(float(p["base"]), f.dec))) / 10**f.dec
    signs = ["-" if d < 0 else "+" for d in delta.tolist()]
    per = "个百分点" if unit == "%" else unit
    shown = f.fixed(scaled) + unit
    if float(p["divisor"]) != 1:  # the figure the percentage is computed from
        shown = shown + "(" + _label(rule.input, f.rules) + f.value(rule.input, False) + ")"
    how = (
        f",目标{_const(p['target'])}{unit},"
        f"每±{_const(p['step'])}{per}±{_const(p['points'])}分:{_const(p['base'])}"
    )
    text = _strs(
        f"{rule.input_label}{s}{how}{sign}{d}={u}分"
        for s, sign, d, u in zip(
            shown, signs, f.fixed(np.abs(delta)), f.fixed(unclipped), strict=True
        )
    )
    over = raw > float(p["max"])
    capped = over | (raw < float(p["min"]))
    cap = np.where(
        over[capped], f",超过上限{_const(p['max'])}分,封顶", f",低于下限{_const(p['min'])}分,保底"
    )
    text[capped] = text[capped] + cap + f.fixed(score[capped]) + "分"
    return text


def _bands(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> np.ndarray:
    p = rule.params
    ratio = _is_ratio(rule.input, f.rules)

    def edge(e: Decimal) -> str:
        return f"{_const(e * 100)}%" if ratio else _const(e)

    where = np.full(f.n, "", dtype=object)
    done = np.zeros(len(x), dtype=bool)
    lower = ""
    for max_, inclusive, _ in p["bands"]:
        hit = compare(x, "<=" if inclusive else "<", float(max_)) & ~done
        upper = f"{'不超过' if inclusive else '低于'}{edge(max_)}"
        where[hit] = "为0" if (max_ == 0 and inclusive and not lower) else lower + upper
        done |= hit
        lower = f"{'超过' if inclusive else '达到'}{edge(max_)}、"
    where[~done] = lower.rstrip("、")
    shown = f.pct(x) if ratio else f.number(x)
    return _strs(
        f"{rule.input_label}{s},{w}档:{sc}分"
        for s, w, sc in zip(shown, where, f.fixed(score), strict=True)
    )


def _pro_rata(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> np.ndarray:
    p = rule.params
    unit = _unit(rule.input, f.rules)
    target = float(p["target"])
    if p["scale_by_period"] and not f.period.is_annual:
        n = len(f.rules.months[f.period.kind])
        target *= period_fraction(f.period, f.rules)
        goal = f"本期目标{fmt_number(target)}{unit}(全年{_const(p['target'])}{unit}×{n}/12),"
    else:
        goal = f"目标{fmt_number(target)}{unit},"
    points, of = _const(p["points"]), fmt_number(target)
    return _strs(
        f"{rule.input_label}{v}{unit},{goal}已完成目标,得满分{s}分"
        if reached
        else f"{rule.input_label}{v}{unit},{goal}按完成比例:{points}×{v}/{of}={s}分"
        for v, s, reached in zip(f.number(x), f.fixed(score), (x >= target).tolist(), strict=True)
    )


def _item(
    f: _Frame, item: Item, roles: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The item's sentence, its shown score, and where it counts in the business score
    (`roles`: each role's rows)."""
    text = np.full(f.n, "", dtype=object)
    shown = np.full(f.n, np.nan)
    counted = np.zeros(f.n, dtype=bool)
    kinds = {"linear": _linear, "bands": _bands, "pro_rata": _pro_rata}
    for role_key, rule in item.by_role.items():
        mask = roles[role_key]
        if not mask.any():
            continue
        sub = f.subset(mask)
        given = sub.num(item.key)
        x = sub.num(rule.input)
        computed = round_half_away(
            item_raw(rule, pd.Series(x), period_fraction(f.period, f.rules)), f.dec
        )
        score = np.where(np.isnan(given), computed, round_half_away(given, f.dec))
        sentence = kinds[rule.kind](sub, rule, x, score) + f"({item.article})"
        blank = np.isnan(x)
        text[mask] = np.where(
            blank, f"{rule.input_label}无法计算,本项不计分({item.article})", sentence
        )
        shown[mask] = score
        counted[mask] = ~blank
    return text, shown, counted


def _grade(f: _Frame, total: np.ndarray, total_text: np.ndarray) -> np.ndarray:
    """The grade sentence of every row (f spans the whole frame; total_text: total as shown)."""
    rules = f.rules
    units = to_units(round_half_away(total, TOTAL_DECIMALS), TOTAL_DECIMALS)
    group = (
        f.df["group"]
        if "group" in f.df
        else f.df["role"].map({k: r.group for k, r in rules.roles.items()})
    )
    out = np.full(f.n, "", dtype=object)
    head = "综合得分" + total_text + "分,"
    article = rules.raw["grades"]["article"]
    for g, rows in rules.grades.items():
        left = (group == g).to_numpy(dtype=bool)
        upper = ""
        for name, edge, inclusive in rows:
            if edge is None:
                hit, where = left, upper or "全部"
            else:
                e = int(edge * 10**TOTAL_DECIMALS)
                hit = left & ((units >= e) if inclusive else (units > e))
                lower = f"{_const(edge)}分(含)以上" if inclusive else f"超过{_const(edge)}分"
                where = f"{lower}、{upper}" if upper else lower
                upper = f"低于{_const(edge)}分" if inclusive else f"{_const(edge)}分(含)以下"
            out[hit] = head[hit] + f"{rules.groups[g]}{where}:{name}({article})"
            left = left & ~hit
    return out


def _flags(f: _Frame) -> np.ndarray:
    """Every raised flag's sentence, one line each in code order, for every row."""
    rules = f.rules
    padded = [f";{s.replace(' ', '')};" for s in f.text("flags")]
    lines: list[list[str]] = [[] for _ in range(f.n)]
    for flag in sorted(rules.flags, key=lambda fl: fl.code):
        decided_code, warned_code = f";{flag.code};", f";{flag.code}?;"
        decided = np.array([decided_code in s for s in padded], dtype=bool)
        warned = np.array([warned_code in s for s in padded], dtype=bool)
        hit = decided | warned
        if not hit.any():
            continue
        at, sub = np.flatnonzero(hit), f.subset(hit)
        keys = [(k, b) for k, b in dict.fromkeys(_fields(flag.condition or {})) if k in f.df]
        text = np.full(len(at), f"{flag.label}({flag.article})", dtype=object)
        if keys:
            parts = [_label(k, rules) + ("为" if b else "") + sub.value(k, b) for k, b in keys]
            text = text + ",本人" + _strs(map("、".join, zip(*parts, strict=True)))
        action = rules.outcomes[flag.action]
        warning = f":{rules.outcomes['warning']},如年度考核仍如此将{action}"
        text = np.where(warned[at], text + warning, text)
        text = np.where(decided[at], text + f":{action}", text)
        for i, line in zip(at.tolist(), text.tolist(), strict=True):
            lines[i].append(line)
    return _strs(map("\n".join, lines))


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
    units = np.zeros(f.n, dtype=np.int64)
    for i, item in enumerate(rules.items):
        text, shown, counted = _item(f, item, roles)
        out[item.key] = column(text, object)
        parts[i, counted] = item.label + f.fixed(shown[counted])
        units += np.where(counted, to_units(np.where(counted, shown, 0), f.dec), 0)
    business = f.num("business_score")
    business = np.where(np.isnan(business), units / 10**f.dec, business)
    conduct = np.nan_to_num(f.num("conduct_deduction"))
    total = f.num("total")
    total = np.where(np.isnan(total), business - conduct, total)
    conduct_text = f.number(conduct) + "分"
    article = next(
        (
            fl.article
            for fl in rules.flags
            if "conduct_deduction" in dict(_fields(fl.condition or {}))
        ),
        "",
    )
    business_text = f.fixed(business)
    sums = _strs("+".join(filter(None, p)) for p in parts.T.tolist())
    out["business"] = column(sums + "=" + business_text + "分")
    out["conduct"] = column("行为规范扣分" + conduct_text + (f"({article})" if article else ""))
    total_text = f.fixed(total)
    out["total"] = column(
        "业务得分" + business_text + "-行为规范扣分" + conduct_text + "=" + total_text + "分"
    )
    out["grade"] = column(_grade(f, total, total_text), object)
    loss = f.num(rules.income_input)
    lost = np.nan_to_num(loss) > 0
    loss = loss[lost]
    share = rules.income_share
    unit = _unit(rules.income_input, rules)
    income = np.full(f.n, "", dtype=object)
    income[lost] = (
        _label(rules.income_input, rules) + f.number(loss) + f"{unit}×{_const(share * 100)}%="
        + f.number(loss * float(share)) + f"{unit},从收入中扣减({rules.raw['income_deduction']['article']})"
    )  # fmt: skip
    out["income"] = column(income)
    out["flags"] = column(_flags(f), object)
    out["outcome"] = column(
        [
            f"{o},建议职级:{lv}" if o and lv else o
            for o, lv in zip(f.text("outcome"), f.text("recommended_level"), strict=True)
        ]
    )
    out["history"] = column(f.text("history_note"))
    return out


def line_labels(rules: Rulebook) -> dict[str, str]:
    """Column of explain_frame -> its Chinese label."""
    return {**{i.key: i.label for i in rules.items}, **LINE_LABELS}


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
    """(label, sentence) for every item, the sums, the grade, each raised flag and the outcome."""
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
    frame = explain_frame(pd.DataFrame([record]), rules, period)
    labels = line_labels(rules)
    lines = []
    for key in frame.columns:
        text = str(frame.at[0, key])
        for part in text.split("\n") if key == "flags" else [text]:
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
