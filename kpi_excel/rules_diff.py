"""What changed between two rulebooks, in Chinese: `kpi-excel rules diff A B` and `compare`.

The two rulebooks' raw structures (the YAML as parsed, anchors and merge keys resolved) are
walked side by side. Mappings are matched by key, `items` by their `key`, `flags` by their
`code` and each group's grade rows by their grade name (so inserting a grade or reordering
flags is one change, not a cascade); other lists of mappings (bands, `any`/`all` parts of a
condition) by position; a list of plain values (labels, months, required fields) is one value.
Every difference is one `RuleChange`, named by the Chinese meaning the rulebook gives it
(field labels, role labels, item, grade and flag names, flag codes), with the old and the new
value as a reader reads them (85分, 99%, 是) and the article of the rule it belongs to.
Nothing here knows a particular rulebook: every name comes from the two rulebooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import yaml

from . import describe as D
from .rulebook import Rulebook

Path_ = tuple[Any, ...]
_MISSING = object()  # a key or entry one rulebook has and the other has not
NONE_TEXT = "(无)"

# Lists of mappings matched by one of their keys rather than by position.
KEYED_LISTS = {("items",): "key", ("flags",): "code"}
GRADE_KEY = "grade"  # grades.<group> rows are matched by their grade name

# What a rulebook key means, in the words of the rules (section-specific meanings below).
ATTRS = {
    "label": "名称", "article": "依据条款", "labels": "岗位名称", "group": "所属组",
    "required_fields": "须填写的字段", "type": "类型", "required": "必填", "default": "空白时的取值",
    "at_most": "不得超过的字段", "decimals": "小数位数", "min": "最小值", "max": "最大值",
    "monthly": "按月填写", "signed": "可为负数", "note": "说明", "value": "取值",
    "kind": "计算方式", "a": "计算对象", "b": "比较基数", "when_zero": "分母为0时的取值",
    "reject_roles": "分母为0时不予计分的岗位", "roles": "适用岗位", "formula": "公式",
    "show": "显示方式", "figure": "汇总的指标", "input": "计分指标", "input_label": "指标名称",
    "divisor": "除数", "scale": "换算倍数", "unit": "单位", "target": "目标值",
    "base": "达到目标的得分", "points": "每步加减分", "step": "每步幅度", "else": "超过各档时的得分",
    "scale_by_period": "目标按考核期月数折算", "share": "扣减比例", "deduction": "扣减字段",
    "grade": "等级名称", "inclusive": "含下限", "groups": "适用人员", "action": "处理",
    "annual": "仅在年度考核时认定", "condition": "条件", "months": "连续月数", "field": "比较的指标",
    "of": "引用", "ratio": "比例", "op": "比较方式", "times": "目标的倍数", "mode": "舍入方式",
    "id": "方案编号", "name": "方案名称", "rulebook_version": "规则文件格式版本",
    "results": "results.csv 的结果列", "sheet": "考核结果表的列", "dismiss": "解聘",
    "demote": "降级", "warning": "预警", "none": "正常",
}  # fmt: skip
ITEM_ATTRS = {"min": "最低分", "max": "最高分"}
PRO_RATA_ATTRS = {"points": "满分"}
BAND_ATTRS = {"max": "上限", "inclusive": "含上限", "points": "得分"}
GRADE_ATTRS = {"min": "下限(分)", "inclusive": "含下限"}
OPS = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于", "==": "等于"}
SECTIONS = {
    "rounding": "得分舍入", "periods": "考核期", "income_deduction": "扣减收入",
    "total": "综合得分", "outcomes": "考核结论", "recommended_level": "建议职级",
    "grades": "等级", "fields": "字段", "derived": "派生指标", "items": "计分项目",
    "flags": "预警与处理", "roles": "岗位", "groups": "人员组", "parameters": "参数",
}  # fmt: skip
OUTCOME_KEYS = {"dismiss": "解聘", "demote": "降级", "warning": "预警", "none": "正常"}

# Categories of a change, as `rules diff` and the compare workbook show them.
PARAMETER, THRESHOLD, EDGE, BAND, GRADE, FLAG = "参数", "阈值", "等级界限", "分档", "等级", "预警"
FIELD, ROLE, PERIOD, ACTION, OTHER = "字段", "岗位", "考核期", "处理", "其他"
SECTION_KINDS = {
    "rounding": PARAMETER, "parameters": PARAMETER, "derived": PARAMETER, "items": PARAMETER,
    "income_deduction": PARAMETER, "total": PARAMETER, "grades": GRADE, "flags": FLAG,
    "fields": FIELD, "roles": ROLE, "groups": ROLE, "periods": PERIOD, "outcomes": ACTION,
    "recommended_level": ACTION,
}  # fmt: skip
DIFF_COLUMNS = {"kind": "类别", "what": "项目", "old": "原值", "new": "新值", "article": "依据条款"}


@dataclass(frozen=True)
class RuleChange:
    """One difference between two rulebooks."""

    path: Path_  # where in the rulebook: ("grades", "managers", "合格", "min")
    kind: str  # 参数 | 阈值 | 等级界限 | 分档 | 等级 | 预警 | 字段 | 岗位 | 考核期 | 处理 | 其他
    what: str  # the changed key in words: 客户经理「合格」的下限(分)
    attr: str  # the key alone in words: 下限(分)
    old: str  # the old value in words; NONE_TEXT when the key is new
    new: str  # the new value in words; NONE_TEXT when the key was removed
    article: str  # the article of the rule it belongs to (the new rulebook's, else the old's)

    @property
    def short(self) -> str:
        """The change in a few words: 下限(分)由85分改为88分, 新增等级(称职:80分(含)以上)."""
        return self.phrase(self.attr)

    @property
    def sentence(self) -> str:
        """The change naming what it changes: 客户经理「合格」的下限(分)由85分改为88分."""
        return self.phrase(self.what)

    def phrase(self, name: str) -> str:
        if self.old == NONE_TEXT:
            return f"新增{name}({self.new})"
        if self.new == NONE_TEXT:
            return f"删除{name}(原为{self.old})"
        return f"{name}由{self.old}改为{self.new}"


def diff_rules(a: Rulebook, b: Rulebook, *, merge_roles: bool = True) -> list[RuleChange]:
    """Every difference from rulebook `a` to rulebook `b`, in the order of `b`'s sections.

    With `merge_roles`, roles sharing an item's changed rule (the rulebook repeats a rule per
    role) give one change naming them all; without, one change per role (`path` names it)."""
    raw: list[tuple[Path_, Any, Any]] = []
    _walk(a.raw, b.raw, (), raw)
    namer = _Namer(a, b)
    changes = [namer.change(path, old, new) for path, old, new in raw]
    return _merge_roles(changes, namer) if merge_roles else changes


def diff_frame(changes: Iterable[RuleChange]) -> pd.DataFrame:
    """The changes as a table: 类别, 项目, 原值, 新值, 依据条款 (columns named by the keys of
    DIFF_COLUMNS)."""
    rows = [{k: getattr(c, k) for k in DIFF_COLUMNS} for c in changes]
    return pd.DataFrame(rows, columns=list(DIFF_COLUMNS))


# --- the walk -------------------------------------------------------------------------------


def _same(x: Any, y: Any) -> bool:
    """Equal as rules: numbers by value (85 and 85.0), a yes/no never equal to a number."""
    if isinstance(x, bool) or isinstance(y, bool):
        return type(x) is type(y) and x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return Decimal(str(x)) == Decimal(str(y))
    return bool(x == y)


def _plain_list(v: Any) -> bool:
    return isinstance(v, list) and not any(isinstance(x, dict | list) for x in v)


def _walk(a: Any, b: Any, path: Path_, out: list[tuple[Path_, Any, Any]]) -> None:
    if _opened(path):  # a section one rulebook lacks: each of its entries is a change
        if a is _MISSING and isinstance(b, dict | list):
            a = type(b)()
        elif b is _MISSING and isinstance(a, dict | list):
            b = type(a)()
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            _walk(a.get(k, _MISSING), b.get(k, _MISSING), (*path, k), out)
        return
    key = _list_key(path)
    if key and isinstance(a, list) and isinstance(b, list):
        old = {_entry_key(e, key, i): e for i, e in enumerate(a)}
        new = {_entry_key(e, key, i): e for i, e in enumerate(b)}
        for k in [*old, *(k for k in new if k not in old)]:
            _walk(old.get(k, _MISSING), new.get(k, _MISSING), (*path, k), out)
        return
    if isinstance(a, list) and isinstance(b, list) and not (_plain_list(a) and _plain_list(b)):
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else _MISSING
            y = b[i] if i < len(b) else _MISSING
            _walk(x, y, (*path, i), out)
        return
    if a is _MISSING and b is _MISSING:
        return
    if a is _MISSING or b is _MISSING or not _same(a, b):
        out.append((path, a, b))


def _opened(path: Path_) -> bool:
    """Whether a node one rulebook lacks is listed entry by entry rather than as one value:
    a whole section, and a group's grades."""
    return len(path) == 1 or (len(path) == 2 and path[0] == "grades")


def _list_key(path: Path_) -> str | None:
    if len(path) == 2 and path[0] == "grades" and path[1] != "article":
        return GRADE_KEY
    return KEYED_LISTS.get(path)


def _entry_key(entry: Any, key: str, i: int) -> Any:
    return entry.get(key, i) if isinstance(entry, dict) else i


# --- naming ---------------------------------------------------------------------------------


def _number(v: Any) -> Decimal | None:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def plain_value(v: Any) -> str:
    """A rulebook value as written: 85, 0.99, 是/否, a list joined with 、."""
    if v is _MISSING or v is None:
        return NONE_TEXT
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, int | float):
        return D.const(Decimal(str(v)))
    if isinstance(v, list) and _plain_list(v):
        return "、".join(plain_value(x) for x in v) or NONE_TEXT
    if isinstance(v, dict | list):
        text = yaml.safe_dump(v, allow_unicode=True, default_flow_style=True, sort_keys=False)
        return " ".join(text.split())
    return str(v)


class _Namer:
    """Names a raw difference by what the two rulebooks call it."""

    def __init__(self, a: Rulebook, b: Rulebook) -> None:
        self.a, self.b = a, b

    # each lookup prefers the new rulebook and falls back on the old one
    def node(self, path: Path_) -> Any:
        for rules in (self.b, self.a):
            found = _find(rules.raw, path)
            if found is not _MISSING:
                return found
        return _MISSING

    def rules_with(self, key: str) -> Rulebook:
        """The rulebook that knows the figure `key` (the new one if both do)."""
        for rules in (self.b, self.a):
            if D.label(key, rules) != key:
                return rules
        return self.b

    def figure(self, key: Any) -> str:
        return D.label(str(key), self.rules_with(str(key)))

    def role(self, role: Any) -> str:
        labels = self.node(("roles", role, "labels"))
        return "、".join(labels) if isinstance(labels, list) else str(role)

    def group(self, group: Any) -> str:
        label = self.node(("groups", group, "label"))
        return label if isinstance(label, str) else str(group)

    def field(self, key: Any) -> str:
        label = self.node(("fields", key, "label"))
        return label.replace("{m}", "各") if isinstance(label, str) else str(key)

    def article(self, path: Path_) -> str:
        """The article of the innermost node along `path` that states one."""
        found = ""
        for n in range(len(path) + 1):
            node = self.node(path[:n])
            if isinstance(node, dict) and isinstance(node.get("article"), str):
                found = node["article"]
        return found

    def amount(self, key: Any, v: Any) -> str:
        """A threshold of a figure as a reader reads it (99%, 85分); a plain value else."""
        number = _number(v)
        if number is None or isinstance(v, str) or key is None:
            return plain_value(v)
        return D.amount(str(key), number, self.rules_with(str(key)))

    def change(self, path: Path_, old: Any, new: Any) -> RuleChange:
        kind, what, attr, show = self.describe(path, old, new)
        return RuleChange(
            path, kind, what, attr, show(old), show(new), self.article(path)
        )  # fmt: skip

    def describe(self, path: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        """(category, what, attr, value formatter) of a difference at `path`."""
        section, rest = path[0], path[1:]
        method = getattr(self, f"_{section}", None)
        if method is not None and rest:
            return method(rest, old, new)
        attr = ATTRS.get(section, SECTIONS.get(section, str(section)))
        return SECTION_KINDS.get(section, OTHER), attr, attr, self._whole(path)

    def _whole(self, path: Path_) -> Any:
        """The formatter of a node added or removed whole (a flag, a grade row …) or a value."""

        def show(v: Any) -> str:
            if v is _MISSING:
                return NONE_TEXT
            if path[0] == "flags" and len(path) == 2 and isinstance(v, dict):
                return f"{v.get('label', '')}({self._action(v.get('action'))})"
            if path[0] == "grades" and len(path) == 3 and isinstance(v, dict):
                bound = "全部其余得分" if "min" not in v else self._edge(v)
                return f"{v.get('grade', '')}:{bound}"
            return plain_value(v)

        return show

    @staticmethod
    def _edge(row: dict) -> str:
        edge = D.const(Decimal(str(row["min"])))
        return f"{edge}分(含)以上" if row.get("inclusive", True) else f"超过{edge}分"

    # one method per section: rest is the path within the section
    def _fields(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        name = f"字段「{self.field(rest[0])}」"
        if len(rest) == 1:
            return FIELD, name, "字段", self._whole(("fields", *rest))
        attr = ATTRS.get(rest[1], str(rest[1]))
        return FIELD, f"{name}的{attr}", attr, plain_value

    def _roles(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        name = f"岗位「{self.role(rest[0])}」"
        if len(rest) == 1:
            return ROLE, name, "岗位", self._whole(("roles", *rest))
        attr = ATTRS.get(rest[1], str(rest[1]))
        show = (
            (lambda v: self.group(v) if v is not _MISSING else NONE_TEXT)
            if rest[1] == "group"
            else plain_value
        )
        return ROLE, f"{name}的{attr}", attr, show

    def _groups(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        name = f"人员组「{self.group(rest[0])}」"
        if len(rest) == 1:
            return ROLE, name, "人员组", self._whole(("groups", *rest))
        attr = ATTRS.get(rest[1], str(rest[1]))
        if rest[1] == "required_fields":
            return ROLE, f"{name}的{attr}", attr, self._fields_list
        return ROLE, f"{name}的{attr}", attr, plain_value

    def _fields_list(self, v: Any) -> str:
        if not isinstance(v, list):
            return plain_value(v)
        return "、".join(self.field(k) for k in v) or NONE_TEXT

    def _periods(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        if rest[0] == "months" and len(rest) > 1:
            attr = "包含的月份"
            return PERIOD, f"考核期 {rest[1]} {attr}", attr, plain_value
        attr = ATTRS.get(rest[-1], str(rest[-1]))
        return PERIOD, f"考核期的{attr}", attr, plain_value

    def _rounding(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        attr = {"decimals": "各项得分保留的小数位数"}.get(rest[0], ATTRS.get(rest[0], str(rest[0])))
        return PARAMETER, f"得分舍入的{attr}", attr, plain_value

    def _parameters(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        label = self.node(("parameters", rest[0], "label"))
        name = f"参数「{label if isinstance(label, str) else rest[0]}」"
        if len(rest) == 1:
            return PARAMETER, name, "参数", self._whole(("parameters", *rest))
        attr = ATTRS.get(rest[1], str(rest[1]))
        return PARAMETER, f"{name}的{attr}", attr, plain_value

    def _derived(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        label = self.node(("derived", rest[0], "label"))
        name = f"派生指标「{label if isinstance(label, str) else rest[0]}」"
        if len(rest) == 1:
            return PARAMETER, name, "派生指标", self._whole(("derived", *rest))
        attr = ATTRS.get(rest[1], str(rest[1]))
        if rest[1] in ("a", "b", "figure"):
            return PARAMETER, f"{name}的{attr}", attr, self._figure_value
        if rest[1] in ("reject_roles", "roles"):
            return PARAMETER, f"{name}的{attr}", attr, self._roles_list
        if rest[1] == "when_zero":
            return PARAMETER, f"{name}的{attr}", attr, lambda v: self.amount(rest[0], v)
        return PARAMETER, f"{name}的{attr}", attr, plain_value

    def _figure_value(self, v: Any) -> str:
        return self.figure(v) if isinstance(v, str) else plain_value(v)

    def _roles_list(self, v: Any) -> str:
        if not isinstance(v, list):
            return plain_value(v)
        return "、".join(self.role(r) for r in v) or NONE_TEXT

    def _items(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        label = self.node(("items", rest[0], "label"))
        name = f"计分项目「{label if isinstance(label, str) else rest[0]}」"
        if len(rest) == 1:
            return PARAMETER, name, "计分项目", self._whole(("items", *rest))
        if rest[1] != "by_role" or len(rest) == 2:
            attr = ATTRS.get(rest[1], str(rest[1]))
            return PARAMETER, f"{name}的{attr}", attr, plain_value
        name += f"({self.role(rest[2])})"
        if len(rest) == 3:
            return PARAMETER, name, "计分规则", lambda v: NONE_TEXT if v is _MISSING else "有"
        rule = self.node(("items", *rest[:3]))
        kind = rule.get("kind") if isinstance(rule, dict) else None
        param = rest[3]
        if param == "bands" and len(rest) > 4:
            band = f"第{rest[4] + 1}档"
            if len(rest) == 5:
                return BAND, f"{name}{band}", band, self._band(rule)
            attr = f"{band}的{BAND_ATTRS.get(rest[5], ATTRS.get(rest[5], str(rest[5])))}"
            if rest[5] == "max":
                return BAND, f"{name}{attr}", attr, self._band_edge(rule)
            return BAND, f"{name}{attr}", attr, plain_value
        if param == "bands":
            return BAND, f"{name}的分档", "分档", plain_value
        if param == "else":
            return BAND, f"{name}的{ATTRS['else']}", ATTRS["else"], plain_value
        extra = ITEM_ATTRS if kind == "linear" else PRO_RATA_ATTRS if kind == "pro_rata" else {}
        attr = extra.get(param, ATTRS.get(param, str(param)))
        return (
            PARAMETER,
            f"{name}的{attr}",
            attr,
            self._figure_value if param == "input" else plain_value,
        )

    def _band_edge(self, rule: Any) -> Any:
        key = rule.get("input") if isinstance(rule, dict) else None

        def show(v: Any) -> str:
            number = _number(v)
            if number is None or key is None:
                return plain_value(v)
            ratio = D.is_ratio(str(key), self.rules_with(str(key)))
            return f"{D.const(number * 100)}%" if ratio else D.const(number)

        return show

    def _band(self, rule: Any) -> Any:
        edge = self._band_edge(rule)

        def show(v: Any) -> str:
            if not isinstance(v, dict):
                return plain_value(v)
            bound = "(含)" if v.get("inclusive", True) else "(不含)"
            return f"不超过{edge(v.get('max'))}{bound}得{plain_value(v.get('points'))}分"

        return show

    def _income_deduction(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        attr = ATTRS.get(rest[0], str(rest[0]))
        show = self._figure_value if rest[0] == "input" else plain_value
        return PARAMETER, f"扣减收入的{attr}", attr, show

    def _total(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        attr = ATTRS.get(rest[0], str(rest[0]))
        show = self._figure_value if rest[0] == "deduction" else plain_value
        label = self.node(("total", "label"))
        return PARAMETER, f"{label if isinstance(label, str) else '综合得分'}的{attr}", attr, show

    def _grades(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        if rest[0] == "article":
            return GRADE, "等级的依据条款", ATTRS["article"], plain_value
        group = self.group(rest[0])
        if len(rest) == 1:
            return GRADE, f"{group}的等级", "等级", plain_value
        if len(rest) == 2:
            return GRADE, f"{group}的等级「{rest[1]}」", "等级", self._whole(("grades", *rest))
        attr = GRADE_ATTRS.get(rest[2], ATTRS.get(rest[2], str(rest[2])))
        what = f"{group}「{rest[1]}」的{attr}"
        if rest[2] == "min":
            return EDGE, what, attr, lambda v: NONE_TEXT if v is _MISSING else f"{plain_value(v)}分"
        return EDGE if rest[2] == "inclusive" else GRADE, what, attr, plain_value

    def _flags(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        code = rest[0]
        label = self.node(("flags", code, "label"))
        name = f"{code}「{label}」" if isinstance(label, str) else str(code)
        if len(rest) == 1:
            return FLAG, f"预警 {name}", "预警", self._whole(("flags", code))
        part = rest[1]
        if part == "condition":
            return self._condition(name, rest[2:], ("flags", code, "condition"))
        attr = ATTRS.get(part, str(part))
        what = f"{name}的{attr}"
        if part in ("ratio", "months"):
            return THRESHOLD, what, attr, plain_value
        if part == "op":
            return THRESHOLD, what, attr, lambda v: OPS.get(v, plain_value(v))
        if part == "action":
            return FLAG, what, attr, self._action
        if part == "groups":
            return (
                FLAG,
                what,
                attr,
                lambda v: "、".join(map(self.group, v)) if isinstance(v, list) else plain_value(v),
            )
        if part in ("of", "field"):
            return (
                FLAG,
                what,
                attr,
                lambda v: plain_value(v) if isinstance(v, list) else self._figure_value(v),
            )
        return FLAG, what, attr, plain_value

    def _action(self, v: Any) -> str:
        if not isinstance(v, str):
            return plain_value(v)
        for rules in (self.b, self.a):
            if rules.outcomes.get(v):
                return rules.outcomes[v]
        return OUTCOME_KEYS.get(v, v)

    def _condition(self, name: str, rest: Path_, at: Path_) -> tuple[str, str, str, Any]:
        """A part of a flag's condition: any/all parts by position, then field, op, value."""
        while rest and rest[0] in ("any", "all") and len(rest) > 1:
            at, rest = (*at, rest[0], rest[1]), rest[2:]
        node = self.node(at)
        field = node.get("field") if isinstance(node, dict) else None
        part = f"{self.figure(field)}的" if field is not None and len(at) > 3 else ""
        if not rest:
            return THRESHOLD, f"{name}的{part}条件", f"{part}条件", plain_value
        attr = part + {"value": "阈值"}.get(rest[0], ATTRS.get(rest[0], str(rest[0])))
        what = f"{name}的{attr}"
        if rest[0] == "value":
            times = isinstance(node, dict) and "times" in node
            return (
                THRESHOLD,
                what,
                attr,
                (plain_value if times else lambda v: self.amount(field, v)),
            )
        if rest[0] == "op":
            return THRESHOLD, what, attr, lambda v: OPS.get(v, plain_value(v))
        if rest[0] == "field":
            return THRESHOLD, what, attr, self._figure_value
        return THRESHOLD, what, attr, plain_value

    def _outcomes(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        if rest[0] == "article":
            return ACTION, "考核结论的依据条款", ATTRS["article"], plain_value
        what = f"考核结论「{OUTCOME_KEYS.get(rest[0], rest[0])}」的名称"
        return ACTION, what, "名称", plain_value

    def _recommended_level(self, rest: Path_, old: Any, new: Any) -> tuple[str, str, str, Any]:
        if rest[0] == "article":
            return ACTION, "建议职级的依据条款", ATTRS["article"], plain_value
        if rest[0] == "dismiss":
            return ACTION, "解聘时的建议职级", "建议职级", plain_value
        if len(rest) > 1:
            return ACTION, f"{self.role(rest[1])}降级时的建议职级", "建议职级", plain_value
        return ACTION, "降级时的建议职级", "建议职级", plain_value


def _find(raw: Any, path: Path_) -> Any:
    """The node at `path` in a raw rulebook (keyed lists by their key), or _MISSING."""
    node = raw
    for n, k in enumerate(path):
        key = _list_key(path[:n])
        if key and isinstance(node, list):
            node = next((e for e in node if isinstance(e, dict) and e.get(key) == k), _MISSING)
        elif isinstance(node, dict):
            node = node.get(k, _MISSING)
        elif isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node):
            node = node[k]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _merge_roles(changes: list[RuleChange], namer: _Namer) -> list[RuleChange]:
    """Changes of one item's rule that are the same for several roles, as one change."""
    out: list[RuleChange] = []
    merged: dict[tuple, int] = {}
    roles: dict[int, list[Any]] = {}
    for c in changes:
        p = c.path
        if not (p[0] == "items" and len(p) > 3 and p[2] == "by_role"):
            out.append(c)
            continue
        key = (p[1], p[4:], c.old, c.new)
        if key in merged:
            roles[merged[key]].append(p[3])
            continue
        merged[key] = len(out)
        roles[len(out)] = [p[3]]
        out.append(c)
    for i, rs in roles.items():
        if len(rs) > 1:
            c = out[i]
            one = f"({namer.role(rs[0])})"
            every = f"({'、'.join(namer.role(r) for r in rs)})"
            out[i] = replace(
                c, what=c.what.replace(one, every, 1), path=(*c.path[:3], tuple(rs), *c.path[4:])
            )
    return out
