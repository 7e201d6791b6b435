"""The rulebook in words: every phrase that states a rule, generated from its parameters.

The explanation, the template's 说明, the branch workbook and the summary all state rules
("行为规范扣分15分(含)以上", "不良率超过1%、不超过5%档", "客户经理超过85分、低于100分"). They
take these phrases from here, so an edited rulebook changes every text that mentions it. Words
follow the drafting convention of RULES.md §5: "以上/以下" include the number, "超过/低于"
exclude it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .formula import Formula
from .rulebook import PLACEHOLDER_RE, Derived, Flag, Plausibility, Rule, Rulebook

SCORE_KEYS = ("total", "business_score")
SCORE_LABELS = {"total": "综合得分", "business_score": "业务得分"}


def const(value: Decimal | float | int) -> str:
    """A rulebook constant as written: 30, 99.5, 0.1 (no trailing zeros, no exponent)."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def fraction(value: Fraction) -> str:
    """An exact fraction as a decimal when it has a finite one (2.5), else as n/d (10/3)."""
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    return const(Decimal(value.numerator) / Decimal(value.denominator))


def is_ratio(key: str, rules: Rulebook) -> bool:
    return any(d.key == key and d.kind in ("ratio", "growth") for d in rules.derived)


def is_score(key: str, rules: Rulebook) -> bool:
    return key in SCORE_KEYS or any(i.key == key for i in rules.items)


def unit(key: str, rules: Rulebook) -> str:
    """The unit of a figure: a contract label's brackets (万元, 个), 分 for points, '' for
    ratios; a difference keeps its inputs' unit."""
    if is_score(key, rules) or key == "conduct_deduction":
        return "分"
    f = rules.contract.by_key.get(key)
    if f is not None:
        return f.unit
    d = next((d for d in rules.derived if d.key == key), None)
    return unit(d.a, rules) if d is not None and d.kind == "difference" else ""


def label(key: str, rules: Rulebook) -> str:
    """The Chinese name of a figure, without its unit."""
    if key in SCORE_LABELS:
        return SCORE_LABELS[key]
    d = next((d for d in rules.derived if d.key == key), None)
    if d is not None:
        return d.label
    item = next((i for i in rules.items if i.key == key), None)
    if item is not None:
        return item.label + "得分"
    f = rules.contract.by_key.get(key)
    return f.name if f else key


def amount(key: str, value: Decimal, rules: Rulebook) -> str:
    """A rulebook value of a figure as a person reads it: 27%, 15分, 100万元."""
    if is_ratio(key, rules):
        return f"{const(value * 100)}%"
    return f"{const(value)}{unit(key, rules)}"


_BOUND = {
    "<=": "{v}(含)以下",
    "<": "低于{v}",
    ">": "超过{v}",
    ">=": "{v}(含)以上",
    "==": "等于{v}",
}


def comparison(key: str, op: str, value: Any, rules: Rulebook, of: Any = None) -> str:
    """One compared figure in words: 行为规范扣分15分(含)以上; a value given as a share of a
    target says so: 新增存款日均增幅27%(含)以下(目标30%的90%)."""
    name = label(key, rules)
    if isinstance(value, bool):
        return (
            f"{name}为{'是' if value else '否'}"
            if op == "=="
            else f"{name}不为{'是' if value else '否'}"
        )
    text = name + _BOUND[op].format(v=amount(key, value, rules))
    if of is not None:
        base, times = of
        text += f"(目标{amount(key, base, rules)}的{const(times * 100)}%)"
    return text


def condition(cond: dict[str, Any], rules: Rulebook) -> str:
    """A flag condition in words; all = 且, any = 或."""
    if "all" in cond:
        return "且".join(condition(c, rules) for c in cond["all"])
    if "any" in cond:
        return "或".join(condition(c, rules) for c in cond["any"])
    return comparison(cond["field"], cond["op"], cond["value"], rules, cond.get("of"))


_MONTH_BOUND = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于", "==": "等于"}


def monthly_name(prefix: str, rules: Rulebook) -> str:
    """The name of a monthly field without its month and unit: 存款日均 for deposit_m
    (label `{m}月存款日均(万元)`)."""
    node = rules.raw.get("fields", {}).get(prefix)
    if not isinstance(node, dict) or "label" not in node:
        return prefix
    return re.sub(r"\{m\}月?", "", str(node["label"])).split("(")[0]


def flag_name(flag: Flag) -> str:
    """A flag as a person reads it: its Chinese name with its code beside it,
    存款日均连续低于基数(A14-2-DEPOSIT3M)."""
    return f"{flag.label}({flag.code})"


def flag_consequence(flag: Flag, rules: Rulebook, warns: bool) -> str:
    """What a raised flag means: its action (降级), or, raised only as a warning this period
    (`?` in results.csv), 年度考核时将降级(本期仅预警)."""
    action = rules.outcomes[flag.action]
    if warns:
        return f"年度考核时将{action}(本期仅{rules.outcomes['warning']})"
    return action


def flag_text(flag: Flag, rules: Rulebook) -> str:
    """What raises the flag, in words, from its parameters."""
    if flag.kind == "condition":
        return condition(flag.condition or {}, rules)
    p = flag.params
    if flag.kind == "consecutive_months":
        what = monthly_name(p["field"], rules)
        bound = _MONTH_BOUND[p["op"]]
        return (
            f"连续{p['months']}个月{what}{bound}{label(p['of'], rules)}的{const(p['ratio'] * 100)}%"
        )
    names = "、".join(rules.flag(c).label for c in p["of"] if any(f.code == c for f in rules.flags))
    return f"{flag.label}(本年度与上年度均因{names}被认定降级)"


def band_text(rule: Rule, rules: Rulebook, band: int) -> str:
    """The band `band` of a bands rule in words (-1: above every band)."""
    bands = rule.params["bands"]
    ratio = is_ratio(rule.input, rules)

    def edge(e: Decimal) -> str:
        return f"{const(e * 100)}%" if ratio else const(e)

    def lower(i: int) -> str:
        e, inclusive, _ = bands[i]
        return f"{'超过' if inclusive else '达到'}{edge(e)}"

    if band < 0:
        return lower(len(bands) - 1)
    e, inclusive, _ = bands[band]
    if band == 0 and e == 0 and inclusive:
        return "为0"
    upper = f"{'不超过' if inclusive else '低于'}{edge(e)}"
    return f"{lower(band - 1)}、{upper}" if band > 0 else upper


def band_points(rule: Rule, band: int) -> Decimal:
    bands = rule.params["bands"]
    return rule.params["else"] if band < 0 else bands[band][2]


def grade_text(rules: Rulebook, group: str, row: int) -> str:
    """The total range of grade row `row` of a group: 超过85分、低于100分."""
    rows = rules.grades[group]
    name, e, inclusive = rows[row]
    parts = []
    if e is not None:
        parts.append(f"{const(e)}分(含)以上" if inclusive else f"超过{const(e)}分")
    if row > 0:
        _, above, above_inclusive = rows[row - 1]
        parts.append(f"低于{const(above)}分" if above_inclusive else f"{const(above)}分(含)以下")
    return "、".join(parts) or "全部"


def rule_text(rule: Rule, rules: Rulebook, months: int | None) -> str:
    """One scoring rule as a sentence, for the template's 说明 (`months`: of the period; None
    for a text that holds for every period, as the 规则说明 states it)."""
    p = rule.params
    if rule.kind not in ("linear", "bands", "pro_rata"):
        return formula_text(rule, rules) or rule.input_label
    if rule.kind == "linear":
        u = p["unit"]
        return (
            f"{rule.input_label}达到{const(p['target'])}{u}得{const(p['base'])}分,"
            f"每高于或低于目标{const(p['step'])}{u}加或减{const(p['points'])}分(按比例计算),"
            f"最高{const(p['max'])}分、最低{const(p['min'])}分"
        )
    if rule.kind == "bands":
        parts = [
            f"{band_text(rule, rules, i)}得{const(band_points(rule, i))}分"
            for i in range(-1, len(p["bands"]))
        ]
        return rule.input_label + ";".join(parts[1:] + parts[:1])
    u = unit(rule.input, rules)
    text = f"{rule.input_label}按完成比例计分,满分{const(p['points'])}分,超额不加分;"
    if not p["scale_by_period"]:
        return text + f"目标{const(p['target'])}{u}"
    if months is None:
        counts = sorted({len(m) for m in rules.months.values()})
        each = "、".join(f"{n}个月{fraction(Fraction(p['target']) * n / 12)}{u}" for n in counts)
        return text + f"全年目标{const(p['target'])}{u},按考核期的月数折算({each})"
    scaled = fraction(Fraction(p["target"]) * months / 12)
    return text + f"全年目标{const(p['target'])}{u},本期({months}个月)目标{scaled}{u}"


def roles_text(rules: Rulebook, roles: list[str]) -> str:
    """Roles as their 岗位 labels: 支行行长、营业部总经理、高级客户经理."""
    return "、".join(label for r in roles for label in rules.roles[r].labels)


def groups_text(rules: Rulebook, groups: list[str]) -> str:
    return "、".join(rules.groups[g] for g in groups)


def formula_of(element: object) -> Formula | None:
    """The compiled formula a rulebook element (derived figure, item rule …) carries, if any,
    whatever its attribute is called."""
    values = list(vars(element).values()) if hasattr(element, "__dict__") else []
    params = getattr(element, "params", None)
    if isinstance(params, dict):
        values += list(params.values())
    return next((v for v in values if isinstance(v, Formula)), None)


def formula_labels(rules: Rulebook) -> dict[str, str]:
    """key -> Chinese name of every figure a formula may read."""
    keys = [*rules.contract.keys, *(d.key for d in rules.derived), *(i.key for i in rules.items)]
    out = {k: label(k, rules) for k in [*keys, *SCORE_KEYS]}
    out |= {k: p.label for k, p in rules.parameters.items()}
    return out | GROUP_LABELS


# The columns a peer aggregate may group by, as a sentence names them.
GROUP_LABELS = {"branch_code": "机构号", "role": "岗位", "group": "组别"}


def formula_text(element: object, rules: Rulebook) -> str:
    """A rulebook element's formula in words (`max(0, 10 − 0.5×档案缺漏项数)`), '' if none."""
    formula = formula_of(element)
    return formula.describe(formula_labels(rules)) if formula is not None else ""


def derived_text(d: Derived, rules: Rulebook) -> str:
    """How a derived figure is computed, with what a zero denominator means and for whom:
    不良率 = 不良贷款余额 ÷ 贷款余额;贷款余额为0时按0%计."""
    a, b = label(d.a, rules), label(d.b, rules)
    if d.kind == "difference":
        text = f"{d.label} = {a} − {b}"
    elif d.kind == "ratio":
        text = f"{d.label} = {a} ÷ {b}"
    elif d.kind == "growth":
        text = f"{d.label} = ({a} − {b}) ÷ {b}"
    elif d.kind == "period_sum":
        return f"{d.label} = 本年度各期{label(d.a, rules)}合计(仅在年度考核时计算,缺少任一期的结果则不计算)"
    else:
        return f"{d.label} = {formula_text(d, rules)}"
    if d.kind != "difference" and d.when_zero == "reject":
        others = [r for r in (d.roles or rules.roles) if r not in d.reject_roles]
        text += f";{b}为0时无法计算"
        if d.reject_roles:
            text += f",{roles_text(rules, d.reject_roles)}不予计分"
        if others:
            text += f",{roles_text(rules, others)}本指标为空"
    elif d.kind != "difference" and d.when_zero is not None:
        text += f";{b}为0时按{amount(d.key, Decimal(d.when_zero), rules)}计"
    if d.roles is not None:
        text += f";仅对{roles_text(rules, d.roles)}计算"
    return text


def rounding_text(rules: Rulebook) -> str:
    return f"每项得分四舍五入保留{rules.decimals}位小数"


def total_text(rules: Rulebook) -> str:
    """How the business score and the total are made from the items (score.py)."""
    total = rules.total
    if total.formula is not None:
        labels = {d.key: d.label for d in rules.derived} | {i.key: i.label for i in rules.items}
        labels |= {f.key: f.name for f in rules.contract.fields} | {"business_score": "业务得分"}
        labels |= {k: p.label for k, p in rules.parameters.items()}
        return f"业务得分 = 各项得分之和;{total.label} = {total.formula.describe(labels)}"
    return (
        f"业务得分 = 各项得分之和;{total.label} = 业务得分 − {label(total.deduction or '', rules)}"
    )


def income_text(rules: Rulebook) -> str:
    return f"{label(rules.income_input, rules)}按{const(rules.income_share * 100)}%扣减收入"


def flag_when(flag: Flag, rules: Rulebook) -> str:
    """When a flag decides: an annual flag only in the annual period, a warning elsewhere."""
    if flag.annual:
        return f"年度考核({rules.calendar.annual})时认定,其他考核期仅作{rules.outcomes['warning']}"
    return "任一考核期均认定"


def merged_rules(by_role: dict[str, Rule]) -> list[tuple[Rule, list[str]]]:
    """Roles that share one rule, together (the rulebook repeats a rule per role via anchors)."""
    merged: list[tuple[Rule, list[str]]] = []
    for role, rule in by_role.items():
        same = next((m for m in merged if m[0] == rule), None)
        if same:
            same[1].append(role)
        else:
            merged.append((rule, [role]))
    return merged


def plausibility_when(check: Plausibility, rules: Rulebook) -> str:
    """A plausibility check's condition in words, its parameters as their values:
    `不良贷款余额 > 0 且 不良贷款余额 < 1 且 贷款余额 > 10000`."""
    if check.when is None:
        return ""
    labels = formula_labels(rules) | {k: const(v) for k, v in check.parameters.items()}
    return check.when.describe(labels)


def plausibility_message(check: Plausibility, rules: Rulebook) -> str:
    """A plausibility check's message as a template: parameters as their values, fields as
    {their name} (the row's value in a note)."""

    def name(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in check.parameters:
            return const(check.parameters[key])
        if key in rules.parameters:
            return const(rules.parameters[key].value)
        return "{" + label(key, rules) + "}"

    return PLACEHOLDER_RE.sub(name, check.message)
