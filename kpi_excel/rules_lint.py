"""`kpi-excel rules check`: what a rulebook that loads can still get wrong, in Chinese.

`load_rulebook` refuses a rulebook whose shape or references are wrong (unknown names, cycles,
bands whose edges do not rise …). `check_rules` looks at what such a rulebook means, with the
ranges of rules_ranges.py (exact intervals, per role), and reports one line per problem in the
loader's style (`规则文件 rules.yaml 的键 grades.heads[0] …`). Each kind of problem:

- an input field that nothing reads (no derived figure, item, flag, required list, `at_most`,
  income deduction or other section names it; text and 岗位 fields are exempt);
- a derived figure that nothing reads;
- a division whose denominator can be 0 with no rule for 0 for someone who uses it: a ratio
  with `when_zero: reject` used by a role not in `reject_roles` (the figure is then blank, the
  item scores 0 and the row is not refused), or a formula dividing by a figure that can be 0
  outside a guard (IF on that figure, COALESCE, AND/OR);
- bands: band edges rise (the loader checks that), so a table has no overlap and no hole of
  its own; what can be wrong is how it meets the input's possible values: a band lying wholly
  outside them is never used (e.g. a first band ending below the smallest value, or a ratio's
  edge written as 5 for 5%, which swallows every later band), and `else` is never used when the
  last band already holds the largest possible value;
- an item that always scores the same, whatever its input;
- an item rule whose input is always blank for its role (a figure limited to other roles);
- a role that no item scores (its business score is always 0);
- a grade row that no possible total reaches (the totals' range from the items' and the
  deduction's ranges);
- a flag condition that can never hold, or that holds for everyone, for the people of its
  groups; a repeat flag none of whose flags applies to its groups;
- a plausibility check with a parameter it never uses, a condition that does not read the field
  it marks, or a comparison of an input field with a constant (or parameter) that no value the
  field may take satisfies (the note could never be given).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

from . import describe as D
from .errors import RulebookError
from .formula_ast import Call, Compare, Logic, Name, Node, Num
from .formula_explain import describe
from .rulebook import PLACEHOLDER_RE, Plausibility, Rule, Rulebook, load_rulebook
from .rulebook_schema import Problems
from .rules_ranges import Ranges, Span

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_file(name_or_path: str | None) -> tuple[Rulebook | None, list[str]]:
    """Load a rulebook and check it: (the rulebook or None, one line per problem)."""
    try:
        rules = load_rulebook(name_or_path)
    except RulebookError as exc:
        return None, exc.lines
    return rules, check_rules(rules)


def check_rules(rules: Rulebook) -> list[str]:
    """One Chinese line per semantic problem of a loaded rulebook, sorted by key path."""
    problems = Problems(rules.path.name)
    lint = _Lint(rules, problems)
    for check in (
        lint.unused_fields,
        lint.unused_derived,
        lint.zero_denominators,
        lint.formula_divisions,
        lint.items,
        lint.roles_without_items,
        lint.grades,
        lint.flags,
        lint.plausibility,
    ):
        check()
    return problems.lines()


# --- words --------------------------------------------------------------------------------


def value_text(key: str, v: Fraction, rules: Rulebook) -> str:
    """A possible value of a figure as a person reads it: 135分, 100%, 10/3万元."""
    d = v.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:
        return D.amount(key, Decimal(v.numerator) / Decimal(v.denominator), rules)
    if D.is_ratio(key, rules):
        return f"{D.fraction(v * 100)}%"
    return f"{D.fraction(v)}{D.unit(key, rules)}"


def range_text(key: str, s: Span, rules: Rulebook) -> str:
    """The possible values of a figure: 不高于135分, 在0%至100%之间, 始终为空."""
    if s.never:
        return "始终为空"
    if s.lo is not None and s.hi is not None:
        if s.lo == s.hi:
            return f"恒为{value_text(key, s.lo, rules)}"
        return f"在{value_text(key, s.lo, rules)}至{value_text(key, s.hi, rules)}之间"
    if s.lo is not None:
        return f"不低于{value_text(key, s.lo, rules)}"
    if s.hi is not None:
        return f"不高于{value_text(key, s.hi, rules)}"
    return "可为任意值"


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _names(node: Any) -> set[str]:
    """Every identifier written in a string value of a part of the raw rulebook."""
    return {name for text in _strings(node) for name in _IDENT_RE.findall(text)}


# --- the checks ---------------------------------------------------------------------------


class _Lint:
    def __init__(self, rules: Rulebook, problems: Problems) -> None:
        self.rules = rules
        self.p = problems
        self.r = Ranges(rules)

    # who reads what

    def _formula_refs(self, skip: object = None) -> set[str]:
        refs: set[str] = set()
        for element, _ in self._elements():
            formula = D.formula_of(element)
            if formula is not None and element is not skip:
                refs.update(formula.refs)
        return refs

    def _elements(self) -> list[tuple[object, tuple]]:
        """Every derived figure and item rule, with its key path."""
        return [
            *((d, ("derived", d.key)) for d in self.rules.derived),
            *(
                (rule, ("items", i, "by_role", role))
                for i, item in enumerate(self.rules.items)
                for role, rule in item.by_role.items()
            ),
        ]

    def unused_fields(self) -> None:
        raw = self.rules.raw
        # a plausibility check only notes: a field it alone reads does not affect the results
        named = _names({k: v for k, v in raw.items() if k not in ("fields", "plausibility")})
        named |= {f.at_most for f in self.rules.contract.fields if f.at_most}
        if self.rules.total.deduction:
            named.add(self.rules.total.deduction)
        if self.rules.total.formula is not None:
            named |= set(self.rules.total.formula.refs)
        for key in self._formula_refs():
            f = self.rules.contract.by_key.get(key)
            named.add(key[: -len(str(f.month))] if f is not None and f.month else key)
        for key, node in raw["fields"].items():
            if node.get("type") not in ("text", "role") and key not in named:
                self.p.add(
                    ("fields", key),
                    "未被任何计分规则、标志或必填要求使用(该列填写与否都不影响结果)",
                )

    def unused_derived(self) -> None:
        raw = self.rules.raw
        for d in self.rules.derived:
            others = {k: v for k, v in raw.items() if k != "derived"}
            others["derived"] = {k: v for k, v in raw["derived"].items() if k != d.key}
            if d.key not in _names(others) | self._formula_refs(skip=d):
                self.p.add(("derived", d.key), "未被任何计分项目、标志或其他派生指标使用")

    def users(self, key: str, seen: frozenset[str] = frozenset()) -> dict[str, list[str]]:
        """role -> what reads figure `key` for the people of that role (items, flags, and
        through derived figures), in words."""
        rules = self.rules
        out: dict[str, list[str]] = {}
        for item in rules.items:
            for role, rule in item.by_role.items():
                if rule.input == key:
                    out.setdefault(role, []).append(f"计分项目「{item.label}」")
        for flag in rules.flags:
            if key in _flag_fields(flag):
                for role in rules.roles.values():
                    if role.group in flag.groups:
                        out.setdefault(role.key, []).append(f"标志 {flag.code}")
        for d in rules.derived:
            if key in (d.a, d.b) and d.key not in seen:
                for role, what in self.users(d.key, seen | {key}).items():
                    if d.roles is None or role in d.roles:
                        out.setdefault(role, []).extend(what)
        return out

    def zero_denominators(self) -> None:
        rules = self.rules
        for d in rules.derived:
            if d.kind not in ("ratio", "growth") or d.when_zero != "reject":
                continue
            exposed = {
                role: what
                for role, what in self.users(d.key).items()
                if role not in d.reject_roles
                and (d.roles is None or role in d.roles)
                and self.r.span(d.b, role).holds(Fraction(0))
            }
            if not exposed:
                continue
            roles = list(exposed)
            uses = "、".join(dict.fromkeys(w for r in roles for w in exposed[r]))
            self.p.add(
                ("derived", d.key, "when_zero"),
                f"为 reject,但 reject_roles 不含{D.roles_text(rules, roles)}:"
                f"{D.label(d.b, rules)}为0时本指标为空,其{uses}没有为0时的规定"
                "(项目按0分计、标志不认定,人员照常计分)",
            )

    def formula_divisions(self) -> None:
        for element, path in self._elements():
            formula = D.formula_of(element)
            if formula is None:
                continue
            parents = _parents(formula.ast)
            refused = (
                getattr(element, "zero_fields", ())
                if getattr(element, "when_zero", None) == "reject"
                else ()
            )
            for divisor in formula.divisors:
                if not isinstance(divisor, Name) or not self._can_be_zero(divisor.key):
                    continue
                if divisor.key in refused:  # a 0 there refuses the row (when_zero: reject)
                    continue
                if _guarded(divisor, parents, divisor.key):
                    continue
                name = D.label(divisor.key, self.rules)
                self.p.add(
                    (formula.where,) if formula.where else path,
                    f"除以「{name}」,而它可以为0,公式没有规定为0时的结果"
                    f"(可写成 IF({name} = 0, …, …) 或 COALESCE(…, …))",
                )

    def _can_be_zero(self, key: str) -> bool:
        known = key in self.rules.contract.by_key or any(d.key == key for d in self.rules.derived)
        return known and any(self.r.span(key, role).holds(Fraction(0)) for role in self.rules.roles)

    def _input_span(self, rule: Rule, roles: list[str]) -> Span:
        spans = [self.r.span(rule.input, role) for role in roles]
        out = spans[0]
        for s in spans[1:]:
            out = out.join(s)
        return out

    def items(self) -> None:
        rules = self.rules
        for i, item in enumerate(rules.items):
            for role, rule in item.by_role.items():
                if self.r.span(rule.input, role).never:
                    self.p.add(
                        ("items", i, "by_role", role, "input"),
                        f"「{D.label(rule.input, rules)}」对{D.roles_text(rules, [role])}始终为空,"
                        "该项目永远没有得分(按0分计)",
                    )
            for rule, roles in D.merged_rules(item.by_role):
                x = self._input_span(rule, roles)
                if x.never:
                    continue
                where = ("items", i, "by_role", roles[0])
                if rule.kind == "bands":
                    self._bands(rule, x, where)
                raw = self.r.raw_score(rule, x)
                if not raw.never and raw.lo is not None and raw.lo == raw.hi:
                    self.p.add(
                        where,
                        f"无论「{D.label(rule.input, rules)}」为多少,"
                        f"得分恒为{value_text(item.key, raw.lo, rules)}",
                    )

    def _bands(self, rule: Rule, x: Span, where: tuple) -> None:
        rules = self.rules
        count = len(rule.params["bands"])
        why = f"「{D.label(rule.input, rules)}」的取值{range_text(rule.input, x, rules)}"
        for j in [*range(count), -1]:
            if self.r.band_reached(rule, x, j):
                continue
            at = (*where, "else") if j < 0 else (*where, "bands", j)
            band = D.band_text(rule, rules, j)
            self.p.add(at, f"永远用不到({band}得{D.const(D.band_points(rule, j))}分):{why}")

    def roles_without_items(self) -> None:
        if not self.rules.items:  # a scheme paid by figures alone has no business score
            return
        for role in self.rules.roles:
            if not any(role in item.by_role for item in self.rules.items):
                self.p.add(
                    ("roles", role), "没有任何计分项目(items 的 by_role 中没有该岗位),业务得分恒为0"
                )

    def _group_span(self, key: str, groups: list[str]) -> Span:
        roles = [r.key for r in self.rules.roles.values() if r.group in groups]
        out = self.r.span(key, roles[0])
        for role in roles[1:]:
            out = out.join(self.r.span(key, role))
        return out

    def grades(self) -> None:
        rules = self.rules
        for g, rows in rules.grades.items():
            total = self._group_span("total", [g])
            if total.never:
                continue
            why = f"{rules.groups[g]}的综合得分{range_text('total', total, rules)}"
            for j, (grade, edge, inclusive) in enumerate(rows):
                above = (
                    total.hi is not None
                    and edge is not None
                    and (total.hi < edge or (total.hi == edge and not inclusive))
                )
                below = False
                if j > 0 and total.lo is not None:
                    _, upper, upper_inclusive = rows[j - 1]
                    below = upper is not None and (
                        total.lo > upper or (total.lo == upper and upper_inclusive)
                    )
                if above or below:
                    self.p.add(
                        ("grades", g, j),
                        f"「{grade}」({D.grade_text(rules, g, j)})永远达不到:{why}",
                    )

    def flags(self) -> None:
        rules = self.rules
        for i, flag in enumerate(rules.flags):
            who = D.groups_text(rules, flag.groups)
            if flag.kind == "condition" and flag.condition:
                possible, certain, why = self._condition(flag.condition, flag.groups)
                words = D.condition(flag.condition, rules)
                if not possible:
                    self.p.add(("flags", i, "condition"), f"「{words}」永远不会成立:{why}")
                elif certain:
                    self.p.add(("flags", i, "condition"), f"「{words}」对{who}的每个人都成立:{why}")
            elif flag.kind == "repeat":
                others = [rules.flag(c) for c in flag.params["of"]]
                if not any(set(o.groups) & set(flag.groups) for o in others):
                    self.p.add(
                        ("flags", i, "of"),
                        f"中的标志都不适用于{who}(本标志适用的组),本标志永远不会认定",
                    )

    def plausibility(self) -> None:
        rules = self.rules
        for i, check in enumerate(rules.plausibility):
            where = ("plausibility", i)
            if check.when is None:
                continue
            refs = set(check.when.refs)
            used = refs | set(PLACEHOLDER_RE.findall(check.message))
            for name in check.parameters:
                if name not in used:
                    self.p.add((*where, "parameters", name), "未被条件(when)或提示(message)使用")
            if check.field not in refs:
                self.p.add(
                    (*where, "field"),
                    f"「{D.label(check.field, rules)}」不在条件(when)中,提示会标在与条件无关的单元格上",
                )
            for part in _conjuncts(check.when.ast):
                why = self._never(part, check)
                if why:
                    labels = D.formula_labels(rules) | {
                        k: D.const(v) for k, v in check.parameters.items()
                    }
                    self.p.add(
                        (*where, "when"),
                        f"中的「{describe(part, labels)}」永远不会成立,该提示永远不会出现:{why}",
                    )

    def _never(self, node: Node, check: Plausibility) -> str:
        """Why a comparison of an input field with a constant can hold for nobody, or ''."""
        if not isinstance(node, Compare) or node.op not in _FLIPPED:
            return ""
        left, op, right = node.left, node.op, node.right
        if not isinstance(left, Name) or left.key not in self.rules.contract.by_key:
            left, op, right = right, _FLIPPED[op], left
        if not isinstance(left, Name) or left.key not in self.rules.contract.by_key:
            return ""
        if isinstance(right, Num):
            value = right.value
        elif isinstance(right, Name) and right.key in check.parameters:
            value = check.parameters[right.key]
        elif isinstance(right, Name) and right.key in self.rules.parameters:
            value = self.rules.parameters[right.key].value
        else:
            return ""
        key = left.key
        span = self.r.span(key, next(iter(self.rules.roles)))
        for role in self.rules.roles:
            span = span.join(self.r.span(key, role))
        if _may(span, "==" if op == "=" else op, Fraction(value)):
            return ""
        return f"{D.label(key, self.rules)}{range_text(key, span, self.rules)}"

    def _condition(self, cond: dict[str, Any], groups: list[str]) -> tuple[bool, bool, str]:
        """(can hold for someone of `groups`, holds for everyone of them, why in words)."""
        if "all" in cond or "any" in cond:
            parts = [self._condition(c, groups) for c in cond.get("all", cond.get("any", []))]
            join = all if "all" in cond else any
            possible = join(p for p, _, _ in parts)
            certain = join(c for _, c, _ in parts)
            # why it cannot hold (the parts that cannot), or why it always does
            why = [w for p, c, w in parts if (c if possible else not p)]
            return possible, certain, ";".join(dict.fromkeys(w for w in why if w))
        key, op, value = cond["field"], cond["op"], cond["value"]
        if isinstance(value, bool):
            return True, False, ""
        roles = [r.key for r in self.rules.roles.values() if r.group in groups]
        spans = [self.r.span(key, role) for role in roles]
        v = Fraction(value)
        possible = any(_may(s, op, v) for s in spans)
        certain = all(_must(s, op, v) for s in spans)
        hull = self._group_span(key, groups)
        why = f"{D.groups_text(self.rules, groups)}的{D.label(key, self.rules)}"
        return possible, certain, why + range_text(key, hull, self.rules)


# A comparison written the other way round: 0 < x is x > 0 (<> is never judged).
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


def _conjuncts(node: Node) -> list[Node]:
    """The parts of an AND chain (a condition holds only where each of them does)."""
    if isinstance(node, Logic) and node.op == "AND":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def _may(s: Span, op: str, v: Fraction) -> bool:
    """Some value of `s` satisfies `x op v`."""
    if s.never:
        return False
    lo_ok = {"<": s.lo is None or s.lo < v, "<=": s.lo is None or s.lo <= v}
    hi_ok = {">": s.hi is None or s.hi > v, ">=": s.hi is None or s.hi >= v}
    if op in lo_ok:
        return lo_ok[op]
    if op in hi_ok:
        return hi_ok[op]
    return s.holds(v)  # ==


def _must(s: Span, op: str, v: Fraction) -> bool:
    """Every person has a value, and every value of `s` satisfies `x op v`."""
    if s.never or s.blank:
        return False
    checks = {
        "<": s.hi is not None and s.hi < v,
        "<=": s.hi is not None and s.hi <= v,
        ">": s.lo is not None and s.lo > v,
        ">=": s.lo is not None and s.lo >= v,
        "==": s.lo == s.hi == v,
    }
    return checks[op]


def _flag_fields(flag: Any) -> set[str]:
    """The figures a flag reads."""
    if flag.kind == "consecutive_months":
        p = flag.params
        return {p["of"], *(f"{p['field']}{m}" for m in range(1, 13))}
    out: set[str] = set()
    stack = [flag.condition] if flag.condition else []
    while stack:
        c = stack.pop()
        if "field" in c:
            out.add(c["field"])
        stack.extend(c.get("all", []) + c.get("any", []))
    return out


def _parents(root: Node) -> dict[int, Node]:
    out: dict[int, Node] = {}
    for node in root.walk():
        for child in node.children():
            out[id(child)] = node
    return out


def _mentions(node: Node, key: str) -> bool:
    return any(isinstance(n, Name) and n.key == key for n in node.walk())


def _guarded(divisor: Node, parents: dict[int, Node], key: str) -> bool:
    """Whether a division by `divisor` sits where a zero `key` is dealt with: inside COALESCE,
    in a branch of an IF whose condition reads `key`, or on the right of AND/OR whose left
    side reads it."""
    child, node = divisor, parents.get(id(divisor))
    while node is not None:
        if isinstance(node, Call) and node.func == "COALESCE":
            return True
        if isinstance(node, Call) and node.func == "IF" and child is not node.args[0]:
            if _mentions(node.args[0], key):
                return True
        if isinstance(node, Logic) and child is node.right and _mentions(node.left, key):
            return True
        child, node = node, parents.get(id(node))
    return False
