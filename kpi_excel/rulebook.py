"""Load and check the rulebook (templates/rulebook.yaml): every rule constant lives there.

Errors name the file and the dotted key, e.g. `rulebook.yaml: items[0].by_role.senior.target`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import RulebookError

OPS = ("<", "<=", ">", ">=", "==")
ACTIONS = ("dismiss", "demote")


def default_rulebook_path() -> Path:
    """The rulebook shipped in the package."""
    return Path(str(resources.files("kpi_excel.templates").joinpath("rulebook.yaml")))


@dataclass(frozen=True)
class Role:
    key: str
    labels: list[str]
    group: str
    article: str


@dataclass(frozen=True)
class Derived:
    key: str
    label: str
    kind: str  # difference | ratio | growth
    a: str
    b: str
    when_zero: Decimal | str | None  # a value, "reject", or None (difference)
    reject_roles: list[str]
    article: str
    roles: list[str] | None = None  # None: every role


@dataclass(frozen=True)
class Rule:
    """How one item is scored for one role."""

    kind: str  # linear | bands | pro_rata
    input: str
    input_label: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    article: str
    by_role: dict[str, Rule]


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    article: str
    groups: list[str]
    action: str
    annual: bool
    kind: str  # condition | consecutive_months | repeat
    condition: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rulebook:
    path: Path
    sha256: str
    name: str
    decimals: int
    roles: dict[str, Role]
    groups: dict[str, str]
    months: dict[str, list[int]]
    derived: list[Derived]
    items: list[Item]
    income_share: Decimal
    income_input: str
    grades: dict[str, list[tuple[str, Decimal | None, bool]]]
    flags: list[Flag]
    outcomes: dict[str, str]
    dismiss_level: str
    demote_level: dict[str, str]
    raw: dict[str, Any]
    text: str = ""
    input_decimals: dict[str, int] = field(default_factory=dict)
    grades_article: str = ""
    income_article: str = ""

    @property
    def total_decimals(self) -> int:
        """Decimals that hold the total exactly: the items' and the typed points'."""
        return max([self.decimals, *self.input_decimals.values()])

    def role_of_label(self) -> dict[str, str]:
        """岗位 label -> role key."""
        return {label: r.key for r in self.roles.values() for label in r.labels}

    def flag(self, code: str) -> Flag:
        return next(f for f in self.flags if f.code == code)


class _Reader:
    """Typed access to nested YAML that names the file and key on every failure."""

    def __init__(self, path: Path) -> None:
        self.name = path.name

    def fail(self, key: str, why: str) -> RulebookError:
        return RulebookError(f"规则文件 {self.name} 的键 {key} {why}")

    def get(
        self, node: Any, key: str, where: str, kind: type | tuple[type, ...], default: Any = ...
    ):
        if not isinstance(node, dict):
            raise self.fail(where, "应为映射(键: 值)")
        full = f"{where}.{key}" if where else key
        if key not in node:
            if default is not ...:
                return default
            raise self.fail(full, "缺失")
        value = node[key]
        if kind is Decimal:
            return self.number(value, full)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise self.fail(full, f"类型不正确(实际为「{value!r}」)")
        return value

    def number(self, value: Any, key: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(key, f"应为数字(实际为「{value!r}」)")
        try:
            # str() of a YAML float is its shortest repr, so 0.1 stays exactly 0.1.
            return Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"应为数字(实际为「{value!r}」)") from None


def load_rulebook(path: Path | str | None = None) -> Rulebook:
    """Read and check a rulebook; raise RulebookError naming the file and key."""
    path = Path(path) if path is not None else default_rulebook_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(f"无法读取规则文件 {path}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RulebookError(f"规则文件 {path.name} 不是有效的 YAML: {exc}") from None
    r = _Reader(path)
    if not isinstance(raw, dict):
        raise r.fail("(根)", "应为映射")

    rounding = r.get(raw, "rounding", "", dict)
    decimals = r.get(rounding, "decimals", "rounding", int)
    if r.get(rounding, "mode", "rounding", str) != "half_away_from_zero":
        raise r.fail("rounding.mode", "只支持 half_away_from_zero")

    groups = {
        g: r.get(v, "label", f"groups.{g}", str) for g, v in r.get(raw, "groups", "", dict).items()
    }
    roles: dict[str, Role] = {}
    for key, node in r.get(raw, "roles", "", dict).items():
        where = f"roles.{key}"
        labels = r.get(node, "labels", where, list)
        group = r.get(node, "group", where, str)
        if group not in groups:
            raise r.fail(f"{where}.group", f"引用了未定义的组「{group}」")
        roles[key] = Role(key, [str(x) for x in labels], group, r.get(node, "article", where, str))

    periods = r.get(raw, "periods", "", dict)
    months = {
        k: [
            int(m)
            for m in r.get(r.get(periods, "months", "periods", dict), k, "periods.months", list)
        ]
        for k in ("Q1", "Q2", "Q3", "Q4", "FY")
    }

    derived = []
    for key, node in r.get(raw, "derived", "", dict).items():
        where = f"derived.{key}"
        kind = r.get(node, "kind", where, str)
        if kind not in ("difference", "ratio", "growth"):
            raise r.fail(f"{where}.kind", f"未知类型「{kind}」")
        when_zero: Decimal | str | None = None
        if kind != "difference":
            wz = r.get(node, "when_zero", where, (int, float, str))
            when_zero = "reject" if wz == "reject" else r.number(wz, f"{where}.when_zero")
        derived.append(
            Derived(
                key,
                r.get(node, "label", where, str),
                kind,
                r.get(node, "a", where, str),
                r.get(node, "b", where, str),
                when_zero,
                list(r.get(node, "reject_roles", where, list, default=[])),
                r.get(node, "article", where, str),
                r.get(node, "roles", where, list, default=None),
            )
        )

    derived = _dependency_order(r, derived)
    items = []
    for i, node in enumerate(r.get(raw, "items", "", list)):
        where = f"items[{i}]"
        by_role = {}
        for role, rule in r.get(node, "by_role", where, dict).items():
            rw = f"{where}.by_role.{role}"
            if role not in roles:
                raise r.fail(rw, "引用了未定义的岗位")
            by_role[role] = _rule(r, rule, rw)
        items.append(
            Item(
                r.get(node, "key", where, str),
                r.get(node, "label", where, str),
                r.get(node, "article", where, str),
                by_role,
            )
        )

    inc = r.get(raw, "income_deduction", "", dict)
    grades_node = r.get(raw, "grades", "", dict)
    grades = {}
    for g in groups:
        rows = []
        for j, row in enumerate(r.get(grades_node, g, "grades", list)):
            gw = f"grades.{g}[{j}]"
            edge = r.get(row, "min", gw, Decimal, default=None)
            rows.append(
                (
                    r.get(row, "grade", gw, str),
                    edge,
                    r.get(row, "inclusive", gw, bool, default=True),
                )
            )
        if rows[-1][1] is not None:
            raise r.fail(f"grades.{g}", "最后一档应无下限(min),以覆盖其余得分")
        grades[g] = rows

    flags = [
        _flag(r, node, f"flags[{i}]", groups)
        for i, node in enumerate(r.get(raw, "flags", "", list))
    ]
    outcomes_node = r.get(raw, "outcomes", "", dict)
    outcomes = {
        k: r.get(outcomes_node, k, "outcomes", str)
        for k in ("dismiss", "demote", "warning", "none")
    }
    rec = r.get(raw, "recommended_level", "", dict)
    demote_level = r.get(rec, "demote", "recommended_level", dict)
    for role in roles:
        r.get(demote_level, role, "recommended_level.demote", str)

    return Rulebook(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        name=r.get(raw, "name", "", str),
        decimals=decimals,
        roles=roles,
        groups=groups,
        months=months,
        derived=derived,
        items=items,
        income_share=r.get(inc, "share", "income_deduction", Decimal),
        income_input=r.get(inc, "input", "income_deduction", str),
        grades=grades,
        flags=flags,
        outcomes=outcomes,
        dismiss_level=r.get(rec, "dismiss", "recommended_level", str),
        demote_level={k: str(v) for k, v in demote_level.items()},
        raw=raw,
        text=data.decode("utf-8"),
        grades_article=r.get(grades_node, "article", "grades", str),
        income_article=r.get(inc, "article", "income_deduction", str),
        input_decimals={
            str(k): int(v) for k, v in r.get(raw, "input_decimals", "", dict, default={}).items()
        },
    )


def _dependency_order(r: _Reader, derived: list[Derived]) -> list[Derived]:
    """Derived figures ordered so that each one's inputs are computed before it."""
    pending = {d.key: d for d in derived}
    ordered: list[Derived] = []
    while pending:
        ready = [d for d in pending.values() if d.a not in pending and d.b not in pending]
        if not ready:
            raise r.fail("derived", f"存在循环引用: {', '.join(pending)}")
        for d in ready:
            ordered.append(pending.pop(d.key))
    return ordered


def _rule(r: _Reader, node: Any, where: str) -> Rule:
    kind = r.get(node, "kind", where, str)
    params: dict[str, Any] = {}
    if kind == "linear":
        for k in ("divisor", "scale", "target", "base", "points", "step", "min", "max"):
            params[k] = r.get(node, k, where, Decimal)
        if params["step"] == 0 or params["divisor"] == 0:
            raise r.fail(f"{where}.step", "不能为0")
        params["unit"] = r.get(node, "unit", where, str, default="")
    elif kind == "bands":
        bands = []
        for j, b in enumerate(r.get(node, "bands", where, list)):
            bw = f"{where}.bands[{j}]"
            bands.append(
                (
                    r.get(b, "max", bw, Decimal),
                    r.get(b, "inclusive", bw, bool, default=True),
                    r.get(b, "points", bw, Decimal),
                )
            )
        params["bands"] = bands
        params["else"] = r.get(node, "else", where, Decimal)
    elif kind == "pro_rata":
        params["points"] = r.get(node, "points", where, Decimal)
        params["target"] = r.get(node, "target", where, Decimal)
        params["scale_by_period"] = r.get(node, "scale_by_period", where, bool, default=False)
    else:
        raise r.fail(f"{where}.kind", f"未知计分方式「{kind}」")
    return Rule(
        kind, r.get(node, "input", where, str), r.get(node, "input_label", where, str), params
    )


def _condition(r: _Reader, node: Any, where: str) -> dict[str, Any]:
    if isinstance(node, dict) and ("all" in node or "any" in node):
        mode = "all" if "all" in node else "any"
        parts = r.get(node, mode, where, list)
        return {mode: [_condition(r, p, f"{where}.{mode}[{i}]") for i, p in enumerate(parts)]}
    fld = r.get(node, "field", where, str)
    op = r.get(node, "op", where, str)
    if op not in OPS:
        raise r.fail(f"{where}.op", f"未知比较符「{op}」")
    value = r.get(node, "value", where, (bool, int, float, str))
    if isinstance(value, bool):
        return {"field": fld, "op": op, "value": value}
    number = r.number(value, f"{where}.value")
    if "times" in node:
        times = r.get(node, "times", where, Decimal)
        return {"field": fld, "op": op, "value": number * times, "of": (number, times)}
    return {"field": fld, "op": op, "value": number}


def _flag(r: _Reader, node: Any, where: str, groups: dict[str, str]) -> Flag:
    kind = r.get(node, "kind", where, str, default="condition")
    action = r.get(node, "action", where, str)
    if action not in ACTIONS:
        raise r.fail(f"{where}.action", f"应为 {' / '.join(ACTIONS)}")
    flag_groups = [str(g) for g in r.get(node, "groups", where, list)]
    for g in flag_groups:
        if g not in groups:
            raise r.fail(f"{where}.groups", f"引用了未定义的组「{g}」")
    condition = None
    params: dict[str, Any] = {}
    if kind == "condition":
        condition = _condition(r, r.get(node, "condition", where, dict), f"{where}.condition")
    elif kind == "consecutive_months":
        params = {
            "months": r.get(node, "months", where, int),
            "field": r.get(node, "field", where, str),
            "of": r.get(node, "of", where, str),
            "ratio": r.get(node, "ratio", where, Decimal),
            "op": r.get(node, "op", where, str),
        }
    elif kind == "repeat":
        params = {"of": [str(c) for c in r.get(node, "of", where, list)]}
    else:
        raise r.fail(f"{where}.kind", f"未知类型「{kind}」")
    return Flag(
        code=r.get(node, "code", where, str),
        label=r.get(node, "label", where, str),
        article=r.get(node, "article", where, str),
        groups=flag_groups,
        action=action,
        annual=r.get(node, "annual", where, bool),
        kind=kind,
        condition=condition,
        params=params,
    )
