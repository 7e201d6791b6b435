"""How one person's score came about, in words and numbers, generated from the rulebook.

`explain_person` returns (item label, sentence) pairs, e.g.
("存款", "新增存款日均增幅31.25%,目标30%,每±1个百分点±2分:40+2.50=42.50分(第十三条(扣分标准1))").
It takes a row of the people table (pipeline) or of results.csv (strings, `status`, `flags`), so
the branch workbook and `kpi-excel explain` say the same. Shown numbers are rounded with the
scoring helper (half away from zero), never with Python's round().
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .numbers import compare, fmt_number, round_half_away, to_units
from .periods import Period, parse_period
from .rulebook import Flag, Item, Rule, Rulebook
from .schema import FIELD_BY_KEY
from .score import item_raw, period_fraction

SCORE_LABELS = {"total": "综合得分", "business_score": "业务得分"}
REFUSED_LABEL = "未计分"


def explain_person(
    row: Mapping[str, Any] | pd.Series, rules: Rulebook, period: Period | str
) -> list[tuple[str, str]]:
    """(item label, sentence) for every item, the sums, the grade and each raised flag."""
    if isinstance(period, str):
        period = parse_period(period)
    if _refused(row):
        return [(REFUSED_LABEL, _text(row.get("errors")) or "该行未通过校验,未计分")]
    x = _Explainer(row, rules, period)
    lines = [line for item in rules.items if (line := x.item(item))]
    lines += x.sums()
    lines += x.flags()
    note = _text(row.get("history_note"))
    if note:
        lines.append(("历史数据", note))
    return lines


def _refused(row: Mapping[str, Any]) -> bool:
    refused = row.get("refused")
    if isinstance(refused, str):
        return refused.strip().lower() in ("true", "1")
    if refused is not None and not pd.isna(refused):
        return bool(refused)
    return _text(row.get("status")) == "rejected"


def _text(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


def _num(v: Any) -> float:
    """A figure from the people table or results.csv ('' and blanks are NaN)."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        v = v.strip()
        if v.lower() in ("true", "false"):
            return 1.0 if v.lower() == "true" else 0.0
        return float(v) if v else np.nan
    if v is None or v is pd.NA:
        return np.nan
    return float(v)


def _round(v: float, decimals: int) -> float:
    """The scoring rounding (half away from zero) of one value."""
    return float(round_half_away([v], decimals)[0])


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


class _Explainer:
    def __init__(self, row: Mapping[str, Any], rules: Rulebook, period: Period) -> None:
        self.row = row
        self.rules = rules
        self.period = period
        self.dec = rules.decimals
        self.role = _text(row.get("role"))
        self.shown: list[tuple[str, float]] = []  # (item label, rounded score) for the sum
        self.given = np.nan  # the current item's score as the row gives it

    def fixed(self, v: float) -> str:
        """A value rounded as the scores are, with exactly `decimals` places."""
        r = _round(v, self.dec)
        text = f"{r:.{self.dec}f}"
        return text[1:] if text.startswith("-") and r == 0 else text

    def pct(self, ratio: float) -> str:
        return f"{self.fixed(ratio * 100)}%"

    def value(self, key: str) -> str:
        """A figure of the row as a branch head reads it: 31.25%, 1300万元, 是, 80.00分."""
        v = self.row.get(key)
        if key in SCORE_LABELS or key.startswith("score_"):
            return f"{self.fixed(_num(v))}分"
        if self._is_bool(key):
            return "是" if _num(v) else "否"
        if _is_ratio(key, self.rules):
            return self.pct(_num(v))
        return f"{fmt_number(_num(v))}{_unit(key, self.rules)}"

    def label(self, key: str) -> str:
        if key in SCORE_LABELS:
            return SCORE_LABELS[key]
        d = next((d for d in self.rules.derived if d.key == key), None)
        if d is not None:
            return d.label
        f = FIELD_BY_KEY.get(key)
        return f.label.split("(")[0] if f else key

    # ---- items -------------------------------------------------------------------------------

    def item(self, item: Item) -> tuple[str, str] | None:
        rule = item.by_role.get(self.role)
        if rule is None:
            return None
        x = _num(self.row.get(rule.input))
        self.given = _num(self.row.get(item.key))
        if np.isnan(x):
            return item.label, f"{rule.input_label}无法计算,本项不计分({item.article})"
        if rule.kind == "linear":
            body, score = self.linear(rule, x)
        elif rule.kind == "bands":
            body, score = self.bands(rule, x)
        else:
            body, score = self.pro_rata(rule, x)
        self.shown.append((item.label, score))
        return item.label, f"{body}({item.article})"

    def scored(self, rule: Rule, x: float) -> float:
        """The item's score as given in the row, else as scoring computes it."""
        if not np.isnan(self.given):
            return _round(self.given, self.dec)
        raw = item_raw(rule, pd.Series([x]), period_fraction(self.period, self.rules))
        return _round(float(raw[0]), self.dec)

    def linear(self, rule: Rule, x: float) -> tuple[str, float]:
        p = rule.params
        unit = p["unit"]
        scaled = x / float(p["divisor"]) * float(p["scale"])
        raw = float(p["base"]) + float(p["points"]) * (scaled - float(p["target"])) / float(
            p["step"]
        )
        unclipped = _round(raw, self.dec)
        score = self.scored(rule, x)
        base_units = int(to_units(float(p["base"]), self.dec))
        delta = (int(to_units(unclipped, self.dec)) - base_units) / 10**self.dec
        sign = "-" if delta < 0 else "+"
        per = "个百分点" if unit == "%" else unit
        shown = f"{self.fixed(scaled)}{unit}"
        if float(p["divisor"]) != 1:  # the figure the percentage is computed from
            shown += f"({self.label(rule.input)}{self.value(rule.input)})"
        text = (
            f"{rule.input_label}{shown},目标{_const(p['target'])}{unit},"
            f"每±{_const(p['step'])}{per}±{_const(p['points'])}分:"
            f"{_const(p['base'])}{sign}{self.fixed(abs(delta))}={self.fixed(unclipped)}分"
        )
        if raw > float(p["max"]):
            text += f",超过上限{_const(p['max'])}分,封顶{self.fixed(score)}分"
        elif raw < float(p["min"]):
            text += f",低于下限{_const(p['min'])}分,保底{self.fixed(score)}分"
        return text, score

    def bands(self, rule: Rule, x: float) -> tuple[str, float]:
        p = rule.params
        ratio = _is_ratio(rule.input, self.rules)

        def edge(e: Decimal) -> str:
            return f"{_const(e * 100)}%" if ratio else _const(e)

        shown = self.pct(x) if ratio else fmt_number(x)
        lower = ""
        for max_, inclusive, _ in p["bands"]:
            hit = bool(compare(x, "<=" if inclusive else "<", float(max_)))
            upper = f"{'不超过' if inclusive else '低于'}{edge(max_)}"
            if hit:
                where = "为0" if (max_ == 0 and inclusive and not lower) else lower + upper
                break
            lower = f"{'超过' if inclusive else '达到'}{edge(max_)}、"
        else:
            where = lower.rstrip("、")
        score = self.scored(rule, x)
        return f"{rule.input_label}{shown},{where}档:{self.fixed(score)}分", score

    def pro_rata(self, rule: Rule, x: float) -> tuple[str, float]:
        p = rule.params
        unit = _unit(rule.input, self.rules)
        target = float(p["target"])
        text = f"{rule.input_label}{fmt_number(x)}{unit},"
        if p["scale_by_period"] and not self.period.is_annual:
            n = len(self.rules.months[self.period.kind])
            target *= period_fraction(self.period, self.rules)
            text += f"本期目标{fmt_number(target)}{unit}(全年{_const(p['target'])}{unit}×{n}/12),"
        else:
            text += f"目标{fmt_number(target)}{unit},"
        score = self.scored(rule, x)
        if x >= target:
            return text + f"已完成目标,得满分{self.fixed(score)}分", score
        return (
            text + f"按完成比例:{_const(p['points'])}×{fmt_number(x)}/{fmt_number(target)}"
            f"={self.fixed(score)}分"
        ), score

    # ---- sums, grade, deductions ------------------------------------------------------------

    def sums(self) -> list[tuple[str, str]]:
        r = self.row
        business = "+".join(f"{lbl}{self.fixed(s)}" for lbl, s in self.shown)
        business_score = _num(r.get("business_score"))
        if np.isnan(business_score):
            units = sum(int(to_units(s, self.dec)) for _, s in self.shown)
            business_score = units / 10**self.dec
        conduct = _num(r.get("conduct_deduction"))
        conduct = 0.0 if np.isnan(conduct) else conduct
        total = _num(r.get("total"))
        if np.isnan(total):
            total = business_score - conduct
        conduct_text = f"{fmt_number(conduct)}分"
        article = self._field_article("conduct_deduction")
        lines = [
            ("业务得分", f"{business}={self.fixed(business_score)}分"),
            (
                "行为规范扣分",
                f"行为规范扣分{conduct_text}" + (f"({article})" if article else ""),
            ),
            (
                "综合得分",
                f"业务得分{self.fixed(business_score)}-行为规范扣分{conduct_text}"
                f"={self.fixed(total)}分",
            ),
        ]
        lines.append(("考核等级", self._grade(total)))
        loss = _num(r.get(self.rules.income_input))
        if not np.isnan(loss) and loss > 0:
            share = self.rules.income_share
            unit = _unit(self.rules.income_input, self.rules)
            lines.append(
                (
                    "扣减收入",
                    f"{self.label(self.rules.income_input)}{fmt_number(loss)}{unit}"
                    f"×{_const(share * 100)}%={fmt_number(loss * float(share))}{unit},"
                    f"从收入中扣减({self.rules.raw['income_deduction']['article']})",
                )
            )
        return lines

    def _field_article(self, key: str) -> str:
        """The article of the first flag whose condition reads `key` (行为规范扣分: 第十四条第(三)款)."""
        for flag in self.rules.flags:
            if key in _fields(flag.condition or {}):
                return flag.article
        return ""

    def _grade(self, total: float) -> str:
        group = _text(self.row.get("group")) or self.rules.roles[self.role].group
        rows = self.rules.grades[group]
        units = int(_round(total * 10**6, 0))
        upper = ""
        for name, edge, inclusive in rows:
            if edge is None:
                where = upper or "全部"
            else:
                e = int(edge * 10**6)
                if not (units >= e if inclusive else units > e):
                    upper = f"低于{_const(edge)}分" if inclusive else f"{_const(edge)}分(含)以下"
                    continue
                lower = f"{_const(edge)}分(含)以上" if inclusive else f"超过{_const(edge)}分"
                where = f"{lower}、{upper}" if upper else lower
            return (
                f"综合得分{self.fixed(total)}分,{self.rules.groups[group]}{where}:{name}"
                f"({self.rules.raw['grades']['article']})"
            )
        return f"综合得分{self.fixed(total)}分"  # pragma: no cover - the last grade has no edge

    # ---- flags ------------------------------------------------------------------------------

    def flags(self) -> list[tuple[str, str]]:
        rules = self.rules
        out = []
        for raw in filter(None, (c.strip() for c in _text(self.row.get("flags")).split(";"))):
            warning = raw.endswith("?")
            code = raw.rstrip("?")
            flag = next((f for f in rules.flags if f.code == code), None)
            if flag is None:
                out.append(("预警与处理", code))
                continue
            action = rules.outcomes[flag.action]
            facts = self._facts(flag)
            text = f"{flag.label}({flag.article})" + (f",本人{facts}" if facts else "")
            if warning:
                text += f":{rules.outcomes['warning']},如年度考核仍如此将{action}"
            else:
                text += f":{action}"
            out.append(("预警与处理", text))
        outcome = _text(self.row.get("outcome"))
        if outcome:
            level = _text(self.row.get("recommended_level"))
            out.append(("考核结论", outcome + (f",建议职级:{level}" if level else "")))
        return out

    def _facts(self, flag: Flag) -> str:
        keys = [k for k in dict.fromkeys(_fields(flag.condition or {})) if k in self.row]
        return "、".join(
            f"{self.label(k)}为{self.value(k)}"
            if self._is_bool(k)
            else f"{self.label(k)}{self.value(k)}"
            for k in keys
        )

    def _is_bool(self, key: str) -> bool:
        v = self.row.get(key)
        return isinstance(v, bool | np.bool_) or _text(v).lower() in ("true", "false")


def _fields(cond: dict[str, Any]) -> list[str]:
    if "all" in cond or "any" in cond:
        return [k for c in cond.get("all", cond.get("any", [])) for k in _fields(c)]
    return [cond["field"]] if "field" in cond else []
