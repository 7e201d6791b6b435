"""Load and check the rulebook (templates/rulebook.yaml): every rule constant lives there.

Loading is strict, in two steps, and reports every problem found, one Chinese line each naming
the file, the key path and what is wrong (`规则文件 rules.yaml 的键 items[0].by_role.senior.input
引用了未定义的字段「deposit_growht」(是否应为 deposit_growth?)`):

1. the shape, against the declared schema (rulebook_schema.py): unknown keys, missing keys,
   types, allowed values and ranges;
2. the references, here: roles and groups, input fields, derived figures, items, flag codes,
   operators and the calendar of periods all resolve, derived figures have no cycle, keys and
   codes are unique, grades cover every group and end with a catch-all row, the plausibility
   checks' conditions compile and their messages name only fields and parameters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import RulebookError
from .formula import BOOL, NUMBER, Formula, FormulaError
from .formula import compile as compile_formula
from .formula_ast import Name
from .periods import ALL_MONTHS, Calendar
from .rulebook_schema import Problems, check_schema, parse_yaml, suggest
from .schema import NUMERIC_KINDS, Contract, Field, label_key

# The columns a formula's peer aggregate may group by (AVG(x BY branch_code, role)).
GROUP_KEYS = {"branch_code": "branch_code", "机构号": "branch_code", "role": "role",
              "岗位": "role", "group": "group", "组别": "group"}  # fmt: skip
# What score.py computes besides the items, usable in a flag condition.
SCORE_OUTPUTS = ("business_score", "total")


def default_rulebook_path() -> Path:
    """The rulebook shipped in the package."""
    return Path(str(resources.files("kpi_excel.templates").joinpath("rulebook.yaml")))


def shipped_rulebooks() -> dict[str, Path]:
    """scheme id -> the rulebook shipped for it: the main policy, then `templates/schemes/`."""
    found = {"main": default_rulebook_path()}
    folder = resources.files("kpi_excel.templates").joinpath("schemes")
    if folder.is_dir():
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                found[entry.name[: -len(".yaml")]] = Path(str(entry))
    return found


def rulebook_path(name: str | Path | None) -> Path:
    """The rulebook a `--rules` value names: a file, else a shipped scheme's id (main,
    loan-eva …); None is the main policy."""
    if name is None:
        return default_rulebook_path()
    path = Path(name)
    if path.exists() or path.suffix.lower() in (".yaml", ".yml") or len(path.parts) > 1:
        return path
    shipped = shipped_rulebooks()
    if str(name) in shipped:
        return shipped[str(name)]
    known = "、".join(shipped)
    raise RulebookError(
        f"找不到规则文件或方案「{name}」{suggest(str(name), list(shipped))};随程序发布的方案有:{known}"
    )


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
    roles: list[str] | None = None  # None: every role; else the figure is blank for the others
    formula: Formula | None = None  # kind formula
    show: str = ""  # kind formula: ratio | money | number
    zero_fields: tuple[str, ...] = ()  # fields divided by: a 0 there refuses the row (reject)

    @property
    def refs(self) -> tuple[str, ...]:
        """The figures of this run it is computed from (a period sum reads earlier runs)."""
        if self.kind == "period_sum":
            return ()
        return self.formula.refs if self.formula is not None else (self.a, self.b)

    @property
    def is_ratio(self) -> bool:
        return self.kind in ("ratio", "growth") or self.show == "ratio"


@dataclass(frozen=True)
class Rule:
    """How one item is scored for one role."""

    kind: str  # linear | bands | pro_rata | formula (params["formula"]: a compiled Formula)
    input: str
    input_label: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Total:
    """综合得分: the business score less a field (`deduction`), or a formula; held exactly with
    `decimals` places."""

    label: str
    formula: Formula | None
    deduction: str | None
    decimals: int


@dataclass(frozen=True)
class Parameter:
    """A named constant a formula may use."""

    key: str
    value: Decimal
    label: str
    article: str


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
class Plausibility:
    """A value that is a number but hardly real (a unit slip, a percentage typed as 万元): the
    cell of `field` is noted, never refused, in the rows where `when` holds. `message` says
    why, `{name}` standing for a parameter's value or the row's value of a field."""

    label: str
    field: str
    when: Formula | None  # None only while the rulebook is refused
    parameters: dict[str, Decimal]  # the check's own thresholds
    message: str


# A rulebook without a `layout` section: a summary workbook holds at most this many branch
# sheets (more cannot be opened comfortably in Excel or WPS), a report list this many rows.
BRANCH_SHEETS = 300
LIST_ROWS = 200

# A {name} in a plausibility message
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Rulebook:
    path: Path
    sha256: str
    id: str  # the scheme: runs of different schemes are kept apart
    name: str
    decimals: int
    roles: dict[str, Role]
    groups: dict[str, str]  # group key -> label
    months: dict[str, list[int]]  # period kind -> calendar months (the calendar's table)
    derived: list[Derived]  # in dependency order
    items: list[Item]
    income_share: Decimal
    income_input: str
    grades: dict[str, list[tuple[str, Decimal | None, bool]]]  # group -> (grade, min, inclusive)
    flags: list[Flag]
    outcomes: dict[str, str]
    dismiss_level: str
    demote_level: dict[str, str]
    raw: dict[str, Any]
    text: str
    calendar: Calendar  # the periods: kinds, their months, the annual one
    # group -> input fields its people must fill in, beyond those every row must (schema.py)
    required_by_group: dict[str, list[str]]
    grades_article: str
    income_article: str
    contract: Contract  # the fields of sheet 考核数据
    parameters: dict[str, Parameter]
    total: Total
    results: list[str]  # the results.csv columns after period … errors, in order
    sheet: list[str] = field(default_factory=list)  # the figures of the 考核结果 sheet
    # the figures of the summary's per-branch sheets, after 岗位 (none: only the total, ranks…)
    summary: list[str] = field(default_factory=list)
    plausibility: list[Plausibility] = field(default_factory=list)  # values only noted
    # layout: the most branches whose sheets summary.xlsx holds itself (above it, one summary
    # workbook per parent), and the most rows a list of report.html shows (the rest: the CSVs)
    branch_sheets: int = BRANCH_SHEETS
    list_rows: int = LIST_ROWS

    @property
    def total_decimals(self) -> int:
        """Decimals that hold the total exactly: the items' and the total's own."""
        return max(self.decimals, self.total.decimals)

    def role_of_label(self) -> dict[str, str]:
        """岗位 label -> role key."""
        return {label: r.key for r in self.roles.values() for label in r.labels}

    def flag(self, code: str) -> Flag:
        return next(f for f in self.flags if f.code == code)

    def required_groups(self, field_key: str) -> list[str]:
        """The groups whose people must fill in an input field (beyond everyone's fields)."""
        return [g for g, keys in self.required_by_group.items() if field_key in keys]


# What results.csv may show besides the figures: the scorer's and the flags' outcomes.
RESULT_OUTPUTS = ("grade", "rank_branch", "rank_bank", "flags", "outcome", "recommended_level")


def result_keys(rules: Rulebook) -> list[str]:
    """Every key a rulebook's `results` may list."""
    return [
        *rules.contract.numeric,
        *(d.key for d in rules.derived),
        *(i.key for i in rules.items),
        *SCORE_OUTPUTS,
        *RESULT_OUTPUTS,
        *(["income_deduction"] if rules.income_input else []),
    ]


SHEET_INPUT = ":input"  # `sheet: [<item>:input]`: the figures the item is scored on


def _scored_on_one_figure(item: Item) -> bool:
    """Whether each of an item's rules scores one input figure (`sheet` may then list
    `<item>:input`, what the item is scored on per role: scored_on.py)."""
    return bool(item.by_role) and all(r.kind != "formula" for r in item.by_role.values())


def load_rulebook(path: Path | str | None = None) -> Rulebook:
    """Read and check a rulebook; raise RulebookError with one line per problem found."""
    path = rulebook_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(f"无法读取规则文件 {path}: {exc.strerror or exc}") from None
    raw, text = parse_yaml(data, path.name)
    problems = Problems(path.name)
    check_schema(raw, problems)
    problems.raise_if_any()
    rules = _Builder(raw, problems).build(path, hashlib.sha256(data).hexdigest(), text)
    problems.raise_if_any()
    return rules


def _number(value: Any) -> Decimal:
    # str() of a YAML float is its shortest repr, so 0.1 stays exactly 0.1.
    return Decimal(str(value))


class _Builder:
    """Turns a rulebook that fits the schema into a Rulebook, resolving every reference."""

    def __init__(self, raw: dict[str, Any], problems: Problems) -> None:
        self.raw = raw
        self.p = problems

    # --- references -------------------------------------------------------------------

    def known(self, path: tuple, name: str, kinds: str, choices: Iterable[str]) -> bool:
        """Whether `name` is one of `choices`; if not, a problem `引用了未定义的{kinds}「…」`."""
        choices = list(choices)
        if name in choices:
            return True
        self.p.add(path, f"引用了未定义的{kinds}「{name}」{suggest(name, choices)}")
        return False

    def figure(self, path: tuple, name: str, also: Iterable[str] = ()) -> bool:
        """`name` is a numeric input field or one of `also` (derived figures, …)."""
        also = list(also)
        spec = self.fields.by_key.get(name)
        if spec is not None and not spec.numeric:
            self.p.add(path, f"引用的字段「{name}」不是数值字段")
            return False
        return self.known(path, name, "字段", [*self.fields.numeric, *also])

    # --- sections ---------------------------------------------------------------------

    def build(self, path: Path, sha256: str, text: str) -> Rulebook:
        raw = self.raw
        self.fields = self._fields()
        self.parameters = {
            k: Parameter(k, _number(n["value"]), n["label"], n["article"])
            for k, n in raw.get("parameters", {}).items()
        }
        self.groups = {g: node["label"] for g, node in raw["groups"].items()}
        self.roles = self._roles()
        required = self._required_fields()
        calendar = self._calendar()
        derived = self._derived()
        self.derived_keys = [d.key for d in derived]
        items = self._items()
        inc = raw.get("income_deduction")
        if inc is not None:
            self.figure(("income_deduction", "input"), inc["input"])
        total = self._total(items)
        grades = self._grades()
        flags = self._flags(items)
        rec = raw.get("recommended_level", {"dismiss": "", "demote": {}})
        demote = rec["demote"]
        for role in demote:
            self.known(("recommended_level", "demote", role), role, "岗位", self.roles)
        if flags and "recommended_level" not in raw:
            self.p.add(("recommended_level",), "缺失(有第十四条类处理规定时须写明建议职级)")
        for role in self.roles if flags else ():
            if role not in demote:
                self.p.add(("recommended_level", "demote", role), "缺失")
        outcomes = raw.get("outcomes")
        if flags and outcomes is None:
            self.p.add(("outcomes",), "缺失(有处理规定时须写明各考核结论的名称)")
        outcomes = outcomes or dict.fromkeys(("dismiss", "demote", "warning", "none"), "")
        plausibility = self._plausibility()
        rules = Rulebook(
            path=path,
            sha256=sha256,
            id=raw["id"],
            name=raw["name"],
            decimals=int(raw["rounding"]["decimals"]),
            roles=self.roles,
            groups=self.groups,
            months={k: list(m) for k, m in calendar.months.items()},
            derived=derived,
            items=items,
            income_share=_number(inc["share"]) if inc else Decimal(0),
            income_input=inc["input"] if inc else "",
            grades=grades,
            flags=flags,
            outcomes={k: outcomes[k] for k in ("dismiss", "demote", "warning", "none")},
            dismiss_level=rec["dismiss"],
            demote_level={k: str(v) for k, v in demote.items()},
            raw=raw,
            text=text,
            calendar=calendar,
            required_by_group=required,
            grades_article=raw.get("grades", {}).get("article", ""),
            income_article=inc["article"] if inc else "",
            contract=self.fields,
            parameters=self.parameters,
            total=total,
            results=[],
            plausibility=plausibility,
            branch_sheets=int(raw.get("layout", {}).get("branch_sheets", BRANCH_SHEETS)),
            list_rows=int(raw.get("layout", {}).get("list_rows", LIST_ROWS)),
        )
        if not self.p.found:  # lists naming what an earlier problem broke: noise
            rules.results.extend(self._listed(rules, "results", result_keys(rules)))
            sheet = [*result_keys(rules), "flags_text"]
            sheet += [i.key + SHEET_INPUT for i in rules.items if _scored_on_one_figure(i)]
            rules.sheet.extend(self._listed(rules, "sheet", sheet))
            rules.summary.extend(self._listed(rules, "summary", result_keys(rules)))
        return rules

    def _total(self, items: list[Item]) -> Total:
        node = self.raw["total"]
        where = ("total",)
        if ("formula" in node) == ("deduction" in node):
            self.p.add(where, "应写 formula(公式)或 deduction(业务得分减去的字段)两者之一")
            return Total(node["label"], None, None, int(node.get("decimals", 0)))
        if "deduction" in node:
            key = node["deduction"]
            spec = self.fields.by_key.get(key)
            if self.figure((*where, "deduction"), key) and (spec is None or spec.decimals is None):
                self.p.add((*where, "deduction"), f"字段「{key}」须限定小数位数(decimals)")
            places = spec.decimals if spec is not None and spec.decimals is not None else 0
            return Total(node["label"], None, key, places)
        if "decimals" not in node:
            self.p.add((*where, "decimals"), "缺失(综合得分的小数位数)")
        names = self.names(self.raw["derived"], items)
        names.update({"business_score": "business_score", "业务得分": "business_score"})
        compiled = self.formula(node["formula"], (*where, "formula"), names)
        return Total(node["label"], compiled, None, int(node.get("decimals", 0)))

    def _listed(self, rules: Rulebook, section: str, known: list[str]) -> list[str]:
        """The keys a list section (`results`, `sheet`, `summary`) names, each one known."""
        out = []
        formula_items = {
            i.key + SHEET_INPUT: i for i in rules.items if not _scored_on_one_figure(i)
        }
        for j, key in enumerate(self.raw.get(section, [])):
            if section == "sheet" and key == "flags":
                self.p.add(
                    (section, j), "「flags」是供其他系统读取的标志代码,考核结果请用 flags_text"
                )
            elif section == "sheet" and key in formula_items:
                self.p.add(
                    (section, j),
                    f"计分项目「{formula_items[key].label}」按公式计分,没有单一的计分依据,"
                    "请列出公式所用的字段或派生指标",
                )
            elif self.known((section, j), key, "结果列", known):
                out.append(key)
        return out

    def _fields(self) -> Contract:
        out: list[Field] = []
        for key, node in self.raw["fields"].items():
            where = ("fields", key)
            kind = node["type"]
            numeric = kind in NUMERIC_KINDS
            for option in ("decimals", "min", "max"):
                if option in node and not numeric:
                    self.p.add((*where, option), "只能用于数值字段")
            default = node.get("default")
            if default is not None and isinstance(default, bool) != (kind == "yesno"):
                self.p.add(
                    (*where, "default"), "应为 true 或 false" if kind == "yesno" else "应为数字"
                )
            if node.get("required") and default is not None:
                self.p.add((*where, "default"), "必填字段不能有默认值")
            low = _number(node["min"]) if "min" in node else (Decimal(0) if numeric else None)
            if node.get("signed"):
                low = None
            high = _number(node["max"]) if "max" in node else None
            if low is not None and high is not None and low > high:
                self.p.add((*where, "min"), f"应不大于 max({node['max']})")
            if node.get("ratio") and kind != "number":
                self.p.add((*where, "ratio"), "只能用于 type 为 number 的字段(金额、个数不是比率)")
            if node.get("monthly") and "{m}" not in node["label"]:
                self.p.add((*where, "label"), "按月填写的字段,标签中应有 {m} 表示月份")
            spec = dict(
                kind=kind,
                required=bool(node.get("required", False)),
                default=_number(default) if numeric and default is not None else default,
                minimum=low,
                maximum=high,
                decimals=node.get("decimals"),
                at_most=node.get("at_most"),
                show=node.get("show", "number"),
                note=node.get("note", ""),
                ratio=bool(node.get("ratio", False)),
            )
            if node.get("monthly"):
                for m in ALL_MONTHS:
                    label = node["label"].replace("{m}", str(m))
                    out.append(Field(f"{key}{m}", label, month=m, **spec))
            else:
                out.append(Field(key, node["label"], **spec))
        seen: dict[str, str] = {}
        for f in out:
            other = seen.setdefault(label_key(f.label), f.key)
            if other != f.key:
                self.p.add(("fields", f.key, "label"), f"与字段「{other}」的标签相同")
        keys = [f.key for f in out]
        for f in out:
            if f.at_most is not None and self.known(
                ("fields", f.key, "at_most"), f.at_most, "字段", keys
            ):
                if not next(g for g in out if g.key == f.at_most).numeric or not f.numeric:
                    self.p.add(("fields", f.key, "at_most"), "只能用于两个数值字段之间")
        for key, kind in (("emp_id", "text"), ("name", "text"), ("role", "role")):
            if next((f.kind for f in out if f.key == key), None) != kind:
                self.p.add(
                    ("fields", key), f"缺失或类型不是 {kind}(每个方案都需要员工编号、姓名、岗位)"
                )
        return Contract(tuple(out))

    def _roles(self) -> dict[str, Role]:
        roles: dict[str, Role] = {}
        owner: dict[str, str] = {}
        for key, node in self.raw["roles"].items():
            self.known(("roles", key, "group"), node["group"], "组", self.groups)
            for j, label in enumerate(node["labels"]):
                other = owner.setdefault(label_key(label), key)
                if other != key:
                    self.p.add(
                        ("roles", key, "labels", j), f"「{label}」已是 roles.{other} 的岗位名称"
                    )
            roles[key] = Role(key, list(node["labels"]), node["group"], node["article"])
        used = {r.group for r in roles.values()}
        for g in self.groups:
            if g not in used:
                self.p.add(("groups", g), "没有任何岗位属于该组(roles 中无 group 为它的岗位)")
        return roles

    def _required_fields(self) -> dict[str, list[str]]:
        out = {}
        for g, node in self.raw["groups"].items():
            for j, key in enumerate(node["required_fields"]):
                self.known(("groups", g, "required_fields", j), key, "字段", self.fields.keys)
            out[g] = list(node["required_fields"])
        return out

    def _calendar(self) -> Calendar:
        where = ("periods", "months")
        months = {k: tuple(int(m) for m in v) for k, v in self.raw["periods"]["months"].items()}
        annual = [k for k, m in months.items() if sorted(m) == list(ALL_MONTHS)]
        if not annual:
            self.p.add(where, "中应有一个包含全部12个月的年度考核期(如 FY: [1, 2, …, 12])")
        for k in annual[1:]:
            self.p.add((*where, k), f"与 {annual[0]} 都包含全部12个月,只能有一个年度考核期")
        owner: dict[int, str] = {}
        for k, m in months.items():
            if k in annual:
                continue
            if list(m) != list(range(m[0], m[0] + len(m))):
                self.p.add((*where, k), "的月份应连续且从小到大排列")
            for j, month in enumerate(m):
                if owner.setdefault(month, k) != k:
                    self.p.add((*where, k, j), f"{month}月已属于 {owner[month]}")
        missing = [m for m in ALL_MONTHS if m not in owner]
        if owner and missing:
            shown = "、".join(f"{m}月" for m in missing)
            self.p.add(where, f"的非年度考核期应覆盖全年,缺少{shown}")
        return Calendar(months, annual[0] if annual else "")

    def _derived(self) -> list[Derived]:
        nodes = self.raw["derived"]
        out = []
        shadowed = False  # a figure named like a field: its references cannot be ordered
        names = self.names(nodes)
        for key, node in nodes.items():
            where = ("derived", key)
            if key in self.fields.by_key or key in self.parameters:
                self.p.add(where, "与输入字段或参数同名")
                shadowed = True
            when_zero = node.get("when_zero")
            rejects = list(node.get("reject_roles", []))
            for j, role in enumerate(rejects):
                self.known((*where, "reject_roles", j), role, "岗位", self.roles)
            if rejects and when_zero != "reject":
                self.p.add((*where, "reject_roles"), "只在 when_zero 为 reject 时使用")
            roles = node.get("roles")
            for j, role in enumerate(roles or []):
                self.known((*where, "roles", j), role, "岗位", self.roles)
            roles = None if roles is None else list(roles)
            if node["kind"] == "period_sum":
                out.append(
                    Derived(
                        key, node["label"], "period_sum", node["figure"], "", None, [],
                        node["article"], roles, None, node.get("show", "number"), (),
                    )
                )  # fmt: skip
                continue
            if node["kind"] == "formula":
                compiled = self.formula(node["formula"], (*where, "formula"), names)
                zero = tuple(
                    d.key
                    for d in (compiled.divisors if compiled else ())
                    if isinstance(d, Name) and d.key in self.fields.by_key
                )
                if when_zero == "reject" and not rejects:
                    rejects = list(self.roles)
                out.append(
                    Derived(
                        key, node["label"], "formula", "", "", when_zero, rejects,
                        node["article"], roles, compiled, node.get("show", "number"), zero,
                    )
                )  # fmt: skip
                continue
            for side in ("a", "b"):
                self.figure((*where, side), node[side], nodes)
            if when_zero is not None and when_zero != "reject":
                when_zero = _number(when_zero)
            zero = (node["b"],) if node["b"] in self.fields.by_key else ()
            out.append(
                Derived(
                    key, node["label"], node["kind"], node["a"], node["b"], when_zero, rejects,
                    node["article"], roles, None, "", zero,
                )
            )  # fmt: skip
        return out if shadowed else self._dependency_order(out)

    def names(self, derived: dict[str, Any], items: Iterable[Item] = ()) -> dict[str, str]:
        """Every spelling a formula may use for a name (key, label, label without unit) ->
        its key: numeric and 是/否 fields, parameters, derived figures, items given."""
        out: dict[str, str] = {}
        for f in self.fields.fields:
            if f.numeric or f.kind == "yesno":
                out.update({f.key: f.key, f.label: f.key, f.name: f.key})
        for k, prm in self.parameters.items():
            out.update({k: k, prm.label: k})
        for k, node in derived.items():
            out.update({k: k, node["label"]: k})
        for item in items:
            out.update({item.key: item.key, item.label: item.key})
        return out

    def formula(self, text: str, where: tuple, names: dict[str, str]) -> Formula | None:
        """`text` compiled (a number formula), or None with the problem added."""
        bools = {f.key for f in self.fields.fields if f.kind == "yesno"}
        try:
            return compile_formula(
                text, names, keys=GROUP_KEYS, where=".".join(map(str, where)), bools=bools,
                expect=NUMBER,
            )  # fmt: skip
        except FormulaError as exc:
            self.p.add(where, exc.detail)
            return None

    def _plausibility(self) -> list[Plausibility]:
        """The plausibility checks: each marks a numeric input field, and its condition reads
        input fields, the rulebook's parameters and its own (figures are computed after the
        checks, so none of them)."""
        out = []
        base = self.names({})
        bools = {f.key for f in self.fields.fields if f.kind == "yesno"}
        readable = {f.key for f in self.fields.fields if f.numeric or f.kind == "yesno"}
        for i, node in enumerate(self.raw.get("plausibility", [])):
            where = ("plausibility", i)
            self.figure((*where, "field"), node["field"])
            params = {}
            for key, value in node.get("parameters", {}).items():
                if key in base or key in self.raw["derived"]:
                    self.p.add((*where, "parameters", key), "与输入字段、参数或派生指标同名")
                params[key] = _number(value)
            names = {**base, **{k: k for k in params}}
            try:
                when = compile_formula(
                    node["when"], names, keys=GROUP_KEYS, where=f"plausibility[{i}].when",
                    bools=bools, expect=BOOL,
                )  # fmt: skip
            except FormulaError as exc:
                self.p.add((*where, "when"), exc.detail)
                when = None
            known = [*params, *self.parameters, *sorted(readable)]
            for name in PLACEHOLDER_RE.findall(node["message"]):
                if name not in known:
                    self.p.add(
                        (*where, "message"),
                        f"中的「{{{name}}}」不是本检查的参数、规则参数或数值字段{suggest(name, known)}",
                    )
            out.append(Plausibility(node["label"], node["field"], when, params, node["message"]))
        return out

    def _dependency_order(self, derived: list[Derived]) -> list[Derived]:
        """Derived figures ordered so that each one's inputs are computed before it."""
        pending = {d.key: d for d in derived}
        ordered: list[Derived] = []
        while pending:
            ready = [d for d in pending.values() if not any(r in pending for r in d.refs)]
            if not ready:
                self.p.add(("derived",), f"存在循环引用:{'、'.join(pending)}")
                return ordered + list(pending.values())
            for d in ready:
                ordered.append(pending.pop(d.key))
        return ordered

    def _items(self) -> list[Item]:
        items = []
        first: dict[str, int] = {}
        for i, node in enumerate(self.raw["items"]):
            key = node["key"]
            where = ("items", i)
            if first.setdefault(key, i) != i:
                self.p.add((*where, "key"), f"「{key}」与 items[{first[key]}].key 重复")
            for taken, what in (
                (self.fields.keys, "输入字段"), (self.derived_keys, "派生指标"), (SCORE_OUTPUTS, "得分结果")
            ):  # fmt: skip
                if key in taken:
                    self.p.add((*where, "key"), f"「{key}」与{what}同名")
            by_role = {}
            for role, rule in node["by_role"].items():
                rw = (*where, "by_role", role)
                self.known(rw, role, "岗位", self.roles)
                by_role[role] = self._rule(rule, rw, node["label"])
            items.append(Item(key, node["label"], node["article"], by_role))
        return items

    def _rule(self, node: dict[str, Any], where: tuple, label: str = "") -> Rule:
        kind = node["kind"]
        if kind == "formula":
            names = self.names(self.raw["derived"])
            compiled = self.formula(node["formula"], (*where, "formula"), names)
            return Rule("formula", "", label, {"formula": compiled})
        self.figure((*where, "input"), node["input"], self.derived_keys)
        params: dict[str, Any] = {}
        if kind == "linear":
            for k in ("divisor", "scale", "target", "base", "points", "step", "min", "max"):
                params[k] = _number(node[k])
            for k in ("divisor", "step"):
                if params[k] == 0:
                    self.p.add((*where, k), "不能为0")
            if params["min"] > params["max"]:
                self.p.add((*where, "min"), f"应不大于 max({node['max']})")
            params["unit"] = node.get("unit", "")
        elif kind == "bands":
            bands = [
                (_number(b["max"]), b.get("inclusive", True), _number(b["points"]))
                for b in node["bands"]
            ]
            for j in range(1, len(bands)):
                (before, shut, _), (edge, inclusive, _) = bands[j - 1], bands[j]
                if not (edge > before or (edge == before and not shut and inclusive)):
                    self.p.add((*where, "bands", j, "max"), f"应大于上一档的 max({before})")
            params["bands"] = bands
            params["else"] = _number(node["else"])
        else:  # pro_rata
            params["points"] = _number(node["points"])
            params["target"] = _number(node["target"])
            params["scale_by_period"] = node.get("scale_by_period", False)
        return Rule(kind, node["input"], node["input_label"], params)

    def _grades(self) -> dict[str, list[tuple[str, Decimal | None, bool]]]:
        if "grades" not in self.raw:
            return {}  # a scheme without grades
        node = self.raw["grades"]
        for g in node:
            if g != "article":
                self.known(("grades", g), g, "组", self.groups)
        grades = {}
        for g in self.groups:
            if g not in node:
                self.p.add(("grades", g), "缺失")
                continue
            rows = []
            for row in node[g]:
                edge = _number(row["min"]) if "min" in row else None
                rows.append((row["grade"], edge, row.get("inclusive", True)))
            last = len(rows) - 1
            for j, (_, edge, inclusive) in enumerate(rows):
                if edge is None and j < last:
                    self.p.add(("grades", g, j), "只有最后一档可以没有下限(min)")
                if j and edge is not None and rows[j - 1][1] is not None:
                    before, open_ = rows[j - 1][1], not rows[j - 1][2]
                    if not (edge < before or (edge == before and open_ and inclusive)):
                        self.p.add(("grades", g, j, "min"), f"应低于上一档的下限({before})")
            if rows[last][1] is not None:
                self.p.add(("grades", g, last), "最后一档应无下限(min),以覆盖其余得分")
            grades[g] = rows
        return grades

    def _flags(self, items: list[Item]) -> list[Flag]:
        nodes = self.raw.get("flags", [])
        codes = [n["code"] for n in nodes]
        self.scores = [*self.derived_keys, *(i.key for i in items), *SCORE_OUTPUTS]
        flags = []
        for i, node in enumerate(nodes):
            where = ("flags", i)
            code = node["code"]
            if codes.index(code) != i:
                self.p.add((*where, "code"), f"「{code}」与 flags[{codes.index(code)}].code 重复")
            for j, g in enumerate(node["groups"]):
                self.known((*where, "groups", j), g, "组", self.groups)
            kind = node.get("kind", "condition")
            condition = None
            params: dict[str, Any] = {}
            if kind == "condition":
                condition = self._condition(node["condition"], (*where, "condition"))
            elif kind == "consecutive_months":
                self._monthly((*where, "field"), node["field"])
                self.figure((*where, "of"), node["of"], self.derived_keys)
                params = {
                    "months": int(node["months"]),
                    "field": node["field"],
                    "of": node["of"],
                    "ratio": _number(node["ratio"]),
                    "op": node["op"],
                }
            else:  # repeat
                for j, other in enumerate(node["of"]):
                    at = (*where, "of", j)
                    if other == code:
                        self.p.add(at, "不能引用本标志")
                    elif self.known(at, other, "标志", codes) and codes.index(other) > i:
                        self.p.add(at, f"引用的标志「{other}」应排在本标志之前")
                params = {"of": list(node["of"])}
            flags.append(
                Flag(
                    code=code,
                    label=node["label"],
                    article=node["article"],
                    groups=list(node["groups"]),
                    action=node["action"],
                    annual=node["annual"],
                    kind=kind,
                    condition=condition,
                    params=params,
                )
            )
        return flags

    def _monthly(self, where: tuple, prefix: str) -> None:
        """`prefix` names a field filled in per calendar month (`deposit_m` -> deposit_m1..12)."""
        if all(f"{prefix}{m}" in self.fields.numeric for m in ALL_MONTHS):
            return
        prefixes = {k.rstrip("0123456789") for k in self.fields.numeric if k[-1].isdigit()}
        self.p.add(
            where,
            f"「{prefix}」不是按月填写的字段(应有 {prefix}1 至 {prefix}12){suggest(prefix, prefixes)}",
        )

    def _condition(self, node: dict[str, Any], where: tuple) -> dict[str, Any]:
        for mode in ("all", "any"):
            if mode in node:
                parts = node[mode]
                return {mode: [self._condition(c, (*where, mode, j)) for j, c in enumerate(parts)]}
        name, op, value = node["field"], node["op"], node["value"]
        at = (*where, "field")
        spec = self.fields.by_key.get(name)
        if spec is not None and spec.kind == "yesno":
            if not isinstance(value, bool):
                self.p.add((*where, "value"), f"应为 true 或 false(「{name}」是「是/否」字段)")
        elif spec is not None and spec.kind not in NUMERIC_KINDS:
            self.p.add(at, f"引用的字段「{name}」不是数值或「是/否」字段,不能比较")
        elif self.known(at, name, "字段", [*self.fields.keys, *self.scores]) and isinstance(
            value, bool
        ):
            self.p.add((*where, "value"), f"应为数字(「{name}」是数值)")
        if isinstance(value, bool):
            if op != "==":
                self.p.add((*where, "op"), "与 true 或 false 比较时只能用 ==")
            if "times" in node:
                self.p.add((*where, "times"), "只能用于数值比较")
            return {"field": name, "op": op, "value": value}
        number = _number(value)
        if "times" in node:
            times = _number(node["times"])
            return {"field": name, "op": op, "value": number * times, "of": (number, times)}
        return {"field": name, "op": op, "value": number}
