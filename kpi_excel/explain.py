"""How each person's score came about, in words and numbers, generated from the rulebook.

`explain_frame` builds every sentence for every person of a run at once (vectorised string
operations, one column per line), e.g. for 存款:
`新增存款日均增幅31.25%,目标30%,每±1个百分点±2分:40+2.50=42.50分(第十三条(扣分标准1))`.
`explain_person` gives the same sentences for one row (of the people table or of a stored
results row) as (label, sentence) pairs, for `kpi-excel explain`. Shown numbers are rounded
with the scoring helper (half away from zero), never with Python's round().
"""

from __future__ import annotations

from collections.abc import Mapping
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


class _Frame:
    """Vectorised formatting helpers over one people frame."""

    def __init__(self, df: pd.DataFrame, rules: Rulebook, period: Period) -> None:
        self.df, self.rules, self.period, self.dec = df, rules, period, rules.decimals
        self.index = df.index

    def num(self, key: str) -> np.ndarray:
        if key not in self.df:
            return np.full(len(self.df), np.nan)
        return pd.to_numeric(self.df[key], errors="coerce").to_numpy(dtype=float)

    def fixed(self, v: Any) -> pd.Series:
        r = round_half_away(v, self.dec)
        r = np.where(r == 0, 0.0, r)  # no "-0.00"
        return pd.Series(r, index=self.index).map(f"{{:.{self.dec}f}}".format)

    def pct(self, v: Any) -> pd.Series:
        return self.fixed(np.asarray(v, dtype=float) * 100) + "%"

    def number(self, v: Any) -> pd.Series:
        return pd.Series(np.asarray(v, dtype=float), index=self.index).map(fmt_number)

    def value(self, key: str, is_bool: bool) -> pd.Series:
        """A figure as a branch head reads it: 31.25%, 1300万元, 是, 80.00分."""
        if is_bool:
            v = self.df[key].map(lambda x: str(x).strip().lower() in ("true", "1", "是"))
            return v.map({True: "是", False: "否"})
        x = self.num(key)
        if key == "total" or key == "business_score" or key.startswith("score_"):
            return self.fixed(x) + "分"
        if _is_ratio(key, self.rules):
            return self.pct(x)
        return self.number(x) + _unit(key, self.rules)


def _linear(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> pd.Series:
    p = rule.params
    unit = p["unit"]
    scaled = x / float(p["divisor"]) * float(p["scale"])
    raw = float(p["base"]) + float(p["points"]) * (scaled - float(p["target"])) / float(p["step"])
    unclipped = round_half_away(raw, f.dec)
    delta = (to_units(unclipped, f.dec) - int(to_units(float(p["base"]), f.dec))) / 10**f.dec
    sign = pd.Series(np.where(delta < 0, "-", "+"), index=f.index)
    per = "个百分点" if unit == "%" else unit
    shown = f.fixed(scaled) + unit
    if float(p["divisor"]) != 1:  # the figure the percentage is computed from
        shown = shown + "(" + _label(rule.input, f.rules) + f.value(rule.input, False) + ")"
    text = (
        rule.input_label + shown + f",目标{_const(p['target'])}{unit},"
        f"每±{_const(p['step'])}{per}±{_const(p['points'])}分:{_const(p['base'])}"
        + sign + f.fixed(np.abs(delta)) + "=" + f.fixed(unclipped) + "分"
    )  # fmt: skip
    over = pd.Series(raw > float(p["max"]), index=f.index)
    under = pd.Series(raw < float(p["min"]), index=f.index) & ~over
    text = text.where(~over, text + f",超过上限{_const(p['max'])}分,封顶" + f.fixed(score) + "分")
    return text.where(~under, text + f",低于下限{_const(p['min'])}分,保底" + f.fixed(score) + "分")


def _bands(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> pd.Series:
    p = rule.params
    ratio = _is_ratio(rule.input, f.rules)

    def edge(e: Decimal) -> str:
        return f"{_const(e * 100)}%" if ratio else _const(e)

    where = pd.Series("", index=f.index, dtype=object)
    done = np.zeros(len(x), dtype=bool)
    lower = ""
    for max_, inclusive, _ in p["bands"]:
        hit = compare(x, "<=" if inclusive else "<", float(max_)) & ~done
        upper = f"{'不超过' if inclusive else '低于'}{edge(max_)}"
        where.loc[hit] = "为0" if (max_ == 0 and inclusive and not lower) else lower + upper
        done |= hit
        lower = f"{'超过' if inclusive else '达到'}{edge(max_)}、"
    where.loc[~done] = lower.rstrip("、")
    shown = f.pct(x) if ratio else f.number(x)
    return rule.input_label + shown + "," + where + "档:" + f.fixed(score) + "分"


def _pro_rata(f: _Frame, rule: Rule, x: np.ndarray, score: np.ndarray) -> pd.Series:
    p = rule.params
    unit = _unit(rule.input, f.rules)
    target = float(p["target"])
    text = rule.input_label + f.number(x) + f"{unit},"
    if p["scale_by_period"] and not f.period.is_annual:
        n = len(f.rules.months[f.period.kind])
        target *= period_fraction(f.period, f.rules)
        text = text + f"本期目标{fmt_number(target)}{unit}(全年{_const(p['target'])}{unit}×{n}/12),"
    else:
        text = text + f"目标{fmt_number(target)}{unit},"
    full = text + "已完成目标,得满分" + f.fixed(score) + "分"
    part = text + f"按完成比例:{_const(p['points'])}×" + f.number(x) + f"/{fmt_number(target)}="
    part = part + f.fixed(score) + "分"
    return full.where(pd.Series(x >= target, index=f.index), part)


def _item(f: _Frame, item: Item, role: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The item's sentence, its shown score, and where it counts in the business score."""
    text = pd.Series("", index=f.index, dtype=object)
    shown = np.full(len(f.index), np.nan)
    counted = np.zeros(len(f.index), dtype=bool)
    for role_key, rule in item.by_role.items():
        mask = (role == role_key).to_numpy()
        if not mask.any():
            continue
        f_all, f = f, _Frame(f.df[mask], f.rules, f.period)
        given = f.num(item.key)
        x = f.num(rule.input)
        computed = round_half_away(
            item_raw(rule, pd.Series(x), period_fraction(f.period, f.rules)), f.dec
        )
        score = np.where(np.isnan(given), computed, round_half_away(given, f.dec))
        kinds = {"linear": _linear, "bands": _bands, "pro_rata": _pro_rata}
        sentence = kinds[rule.kind](f, rule, x, score) + f"({item.article})"
        blank = np.isnan(x)
        sentence.loc[blank] = f"{rule.input_label}无法计算,本项不计分({item.article})"
        text.loc[mask] = sentence.to_numpy()
        shown[mask] = score
        counted[mask] = ~blank
        f = f_all
    return text, shown, counted


def _grade(f: _Frame, total: np.ndarray) -> pd.Series:
    rules = f.rules
    units = to_units(round_half_away(total, TOTAL_DECIMALS), TOTAL_DECIMALS)
    group = (
        f.df["group"]
        if "group" in f.df
        else f.df["role"].map({k: r.group for k, r in rules.roles.items()})
    )
    out = pd.Series("", index=f.index, dtype=object)
    head = "综合得分" + f.fixed(total) + "分,"
    article = rules.raw["grades"]["article"]
    for g, rows in rules.grades.items():
        left = (group == g).to_numpy()
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
            out.loc[hit] = (head + f"{rules.groups[g]}{where}:{name}({article})")[hit]
            left = left & ~hit
    return out


def _flags(f: _Frame) -> pd.Series:
    rules = f.rules
    flags = (
        f.df["flags"].fillna("").astype(str) if "flags" in f.df else pd.Series("", index=f.index)
    )
    padded = ";" + flags.str.replace(" ", "", regex=False) + ";"
    out = pd.Series("", index=f.index, dtype=object)
    for flag in sorted(rules.flags, key=lambda fl: fl.code):
        decided = padded.str.contains(f";{flag.code};", regex=False)
        warned = padded.str.contains(f";{flag.code}?;", regex=False)
        if not (decided | warned).any():
            continue
        keys = [(k, b) for k, b in dict.fromkeys(_fields(flag.condition or {})) if k in f.df]
        text = pd.Series(f"{flag.label}({flag.article})", index=f.index, dtype=object)
        if keys:
            facts = ["、".join(k[0] for k in keys)]  # placeholder for the join below
            parts = [_label(k, rules) + ("为" if b else "") + f.value(k, b) for k, b in keys]
            facts = parts[0]
            for part in parts[1:]:
                facts = facts + "、" + part
            text = text + ",本人" + facts
        action = rules.outcomes[flag.action]
        text = text.where(
            ~warned, text + f":{rules.outcomes['warning']},如年度考核仍如此将{action}"
        )
        text = text.where(~decided, text + f":{action}")
        hit = decided | warned
        out.loc[hit] = out[hit] + np.where(out[hit] == "", "", "\n") + text[hit]
    return out


def explain_frame(df: pd.DataFrame, rules: Rulebook, period: Period) -> pd.DataFrame:
    """One column per line (item keys, then business, conduct, total, grade, income, flags,
    outcome, history) of sentences for every row; '' where a line does not apply."""
    f = _Frame(df, rules, period)
    role = df["role"].astype(object)
    out = pd.DataFrame(index=df.index)
    business_text = pd.Series("", index=df.index, dtype=object)
    units = np.zeros(len(df), dtype=np.int64)
    for item in rules.items:
        text, shown, counted = _item(f, item, role)
        out[item.key] = text
        part = item.label + f.fixed(shown)
        business_text = business_text.where(
            ~counted, business_text + np.where(business_text == "", "", "+") + part
        )
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
    out["business"] = business_text + "=" + f.fixed(business) + "分"
    out["conduct"] = "行为规范扣分" + conduct_text + (f"({article})" if article else "")
    out["total"] = (
        "业务得分"
        + f.fixed(business)
        + "-行为规范扣分"
        + conduct_text
        + "="
        + f.fixed(total)
        + "分"
    )
    out["grade"] = _grade(f, total)
    loss = f.num(rules.income_input)
    share = rules.income_share
    unit = _unit(rules.income_input, rules)
    income = (
        _label(rules.income_input, rules) + f.number(loss) + f"{unit}×{_const(share * 100)}%="
        + f.number(loss * float(share)) + f"{unit},从收入中扣减({rules.raw['income_deduction']['article']})"
    )  # fmt: skip
    out["income"] = income.where(pd.Series(np.nan_to_num(loss) > 0, index=df.index), "")
    out["flags"] = _flags(f)
    outcome = (
        df["outcome"].fillna("").astype(str) if "outcome" in df else pd.Series("", index=df.index)
    )
    level = df["recommended_level"].fillna("").astype(str) if "recommended_level" in df else ""
    out["outcome"] = outcome.where(
        outcome == "", outcome + np.where(level == "", "", ",建议职级:" + level)
    )
    out["history"] = df["history_note"].fillna("").astype(str) if "history_note" in df else ""
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
        period = parse_period(period)
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
