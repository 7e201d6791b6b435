"""What each person was scored on, for the 考核结果 sheet: per role, from the rulebook.

Roles of one scheme may be scored on different figures for the same item (the main policy
scores 行长, 高级 and 中级客户经理's 存款 on 新增存款日均增幅, 初级客户经理's on
新增存款日均完成率 against a target). A sheet that shows one role's figure beside another
role's score misleads, so:

- a `sheet` entry `<item>:input` is the figure the item is scored on: one column per different
  figure among the item's rules (headed by the rule's `input_label`), each person's cell the
  figure his role's rule used, as the scorer used it (a linear rule's input as the explanation
  shows it, `<item>:shown`; a band or pro-rata rule's input figure itself), blank for a role
  scored on another figure or not on that item;
- a figure listed by its key is blank for a role whose scoring does not read it while another
  role's does (`figure_roles`): 新增存款日均增幅 says nothing of a junior's score.

Nothing is computed here that the scorer did not: the cells are the scorer's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .formula import Formula
from .rulebook import SHEET_INPUT, Flag, Item, Rule, Rulebook
from .score import SHOWN

INPUT_KINDS = ("linear", "bands", "pro_rata")  # rules scored on one input figure


def input_entry(item: Item) -> str:
    """The `sheet` entry naming what an item is scored on."""
    return item.key + SHEET_INPUT


@dataclass(frozen=True)
class ScoredOn:
    """One column of what an item is scored on: the rule (of the first role using it) that
    names the figure, and the roles whose rule uses that figure."""

    key: str  # the column's key among the sheet's cells: <item>:input:<n>
    item: Item
    rule: Rule
    roles: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.rule.input_label or self.item.label

    @property
    def percent(self) -> bool:
        """Shown as a percentage: a linear rule scaled to %, or a ratio figure."""
        return self.rule.kind == "linear" and self.rule.params.get("unit") == "%"


def scored_on(item: Item) -> list[ScoredOn]:
    """The columns of `<item>:input`: one per different figure among the item's rules, in the
    order of the roles that first use each."""
    found: dict[str, tuple[Rule, list[str]]] = {}
    for role, rule in item.by_role.items():
        label = rule.input_label or item.label
        found.setdefault(label, (rule, []))[1].append(role)
    return [
        ScoredOn(f"{input_entry(item)}:{n}", item, rule, tuple(roles))
        for n, (rule, roles) in enumerate(found.values())
    ]


def scored_on_values(people: pd.DataFrame, column: ScoredOn) -> np.ndarray:
    """The column's figure for every person: as the scorer used it for the roles of the
    column, NaN for the others (and where the figure is blank). A percentage is given as a
    ratio (31.25% as 0.3125), for a cell formatted as one."""
    n = len(people)
    out = np.full(n, np.nan)
    if not n:
        return out
    role = people["role"].to_numpy(dtype=object)
    mine = np.isin(role, list(column.roles))
    if column.rule.kind == "linear":
        key = SHOWN.format(key=column.item.key)
    else:
        key = column.rule.input
    if key not in people:
        return out
    values = pd.to_numeric(people[key], errors="coerce").to_numpy(dtype=float)[mine]
    if column.percent:  # the decimal shown, as a ratio: 87.6 -> 0.876 (not 0.8759999999999999)
        values = np.array([float(f"{v!r}e-2") if v == v else v for v in values.tolist()], float)
    out[mine] = values
    return out


def _reads(formula: Formula | None) -> set[str]:
    return set(formula.refs) if formula is not None else set()


def _rule_reads(rule: Rule) -> set[str]:
    if rule.kind in INPUT_KINDS:
        return {rule.input}
    return set().union(*(_reads(v) for v in rule.params.values() if isinstance(v, Formula)))


def _flag_reads(flag: Flag) -> set[str]:
    def fields(cond: dict) -> set[str]:
        if "all" in cond or "any" in cond:
            return set().union(*(fields(c) for c in cond.get("all", cond.get("any", []))))
        return {cond["field"]} if "field" in cond else set()

    if flag.kind == "consecutive_months":
        p = flag.params
        return {p["of"], *(f"{p['field']}{m}" for m in range(1, 13))}
    return fields(flag.condition or {})


def figure_roles(rules: Rulebook) -> dict[str, set[str]]:
    """figure key -> the roles whose scoring reads it: their item rules, the total, the
    income deduction, the flags of their group, and through derived figures what those read."""
    everyone = set(rules.roles)
    direct: dict[str, set[str]] = {}

    def add(keys: set[str], roles: set[str]) -> None:
        for key in keys:
            direct.setdefault(key, set()).update(roles)

    for item in rules.items:
        for role, rule in item.by_role.items():
            add(_rule_reads(rule), {role})
            add({item.key}, {role})
    total = rules.total
    add(_reads(total.formula) | ({total.deduction} if total.deduction else set()), everyone)
    if rules.income_input:
        add({rules.income_input}, everyone)
    for flag in rules.flags:
        add(_flag_reads(flag), {r for r, role in rules.roles.items() if role.group in flag.groups})
    # derived figures, the last computed first: what reads one reads its inputs
    for d in reversed(rules.derived):
        roles = direct.get(d.key, set())
        if d.roles is not None:
            roles = roles & set(d.roles)
        add({k for k in d.refs if k}, roles)
    return direct


def unused_by_role(people: pd.DataFrame, key: str, roles: dict[str, set[str]]) -> np.ndarray:
    """Where a figure says nothing of the person's score: his role's scoring does not read it
    while another role's does (all False for a figure no role's scoring reads, e.g. an
    informative one)."""
    readers = roles.get(key)
    if not readers or not len(people):
        return np.zeros(len(people), dtype=bool)
    return ~np.isin(people["role"].to_numpy(dtype=object), list(readers))
