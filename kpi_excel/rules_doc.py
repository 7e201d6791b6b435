"""`kpi-excel rules show`: a rulebook as a printable Chinese 规则说明 (xlsx) for the committee
that approves the scheme.

Sheets: 概要 (the scheme, its file and fingerprint, periods, roles and groups, how the total is
made), 输入字段 (every column of 考核数据), 计分规则 (each derived figure and item, per role, in
words), 等级, 预警与处理, 数值核对 (the plausibility checks, when the rulebook has any) and 参数. Every sentence that states a rule comes from describe.py, so
this document says what the scorer does; a rule written as a formula is shown by its
`Formula.describe`. Each sheet prints on A4 landscape, one page wide, its title and header on
every page, wrapped text in rows tall enough to show it. Written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from . import __version__
from . import describe as D
from .rulebook import Rulebook
from .schema import Field
from .write.atomic import write_atomic
from .write.branch_sheets import HEADER_FILL, print_ready
from .write.safe import SafeSheet, cut_utf16, workbook_options, xml_text
from .write.textfit import row_height

TITLE_ROWS = 2  # the title, then a note; the header row follows
KIND_WORDS = {
    "text": "文本",
    "role": "岗位",
    "amount": "金额",
    "count": "个数(整数)",
    "number": "数值",
    "yesno": "是/否",
}

Column = tuple[str, float]  # header, width in Excel units
Row = Sequence[str]


def default_name(rules: Rulebook) -> str:
    return f"规则说明_{rules.id}.xlsx"


def write_rules_doc(path: Path, rules: Rulebook) -> Path:
    """Write the 规则说明 of `rules` to `path` (atomically); return where it was written."""
    return write_atomic(Path(path), lambda tmp: _write(tmp, rules))


def _write(path: Path, rules: Rulebook) -> None:
    wb = xlsxwriter.Workbook(str(path), workbook_options())
    try:
        wb.set_properties({"title": xml_text(f"{rules.name} 规则说明"), "subject": rules.id})
        book = _Book(wb, rules)
        sheets = [
            ("概要", [("项目", 22), ("内容", 84), ("依据条款", 30)], _summary(rules)),
            ("输入字段", _FIELD_COLUMNS, _field_rows(rules)),
            ("计分规则", _RULE_COLUMNS, _scoring(rules)),
            (
                "等级",
                [("组", 14), ("等级", 14), ("综合得分", 50), ("依据条款", 40)],
                _grades(rules),
            ),
            ("预警与处理", _FLAG_COLUMNS, _flags(rules)),
            ("数值核对", _CHECK_COLUMNS, _checks(rules)),
            ("参数", [("参数", 34), ("取值", 66), ("依据条款", 32)], _parameters(rules)),
        ]
        for name, columns, rows in sheets:
            if rows or name != "数值核对":
                book.sheet(name, columns, rows)
    finally:
        wb.close()


class _Book:
    def __init__(self, wb: Any, rules: Rulebook) -> None:
        self.wb = wb
        self.rules = rules
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.note = wb.add_format({"font_color": "#595959"})
        base = {"border": 1, "border_color": "#BFBFBF", "valign": "top", "text_wrap": True}
        self.cell = wb.add_format(base)
        self.header = wb.add_format(
            {**base, "bold": True, "bg_color": HEADER_FILL, "align": "center", "valign": "vcenter"}
        )

    def sheet(self, name: str, columns: list[Column], rows: list[Row]) -> None:
        rules = self.rules
        ws = self.wb.add_worksheet(name, worksheet_class=SafeSheet)
        ws.write_string(0, 0, f"{rules.name} 规则说明:{name}", self.title)
        ws.write_string(
            1,
            0,
            f"方案 {rules.id},规则文件 {rules.path.name}(SHA-256 {rules.sha256[:16]}…),"
            f"kpi-excel {__version__} 生成",
            self.note,
        )
        head = TITLE_ROWS
        for c, (label, width) in enumerate(columns):
            ws.set_column(c, c, width)
            ws.write_string(head, c, label, self.header)
        ws.set_row(head, row_height([(label, w) for label, w in columns]))
        for r, row in enumerate(rows, start=head + 1):
            for c, text in enumerate(row):
                ws.write_string(r, c, text, self.cell)
            height = row_height([(text, columns[c][1]) for c, text in enumerate(row)])
            if height:
                ws.set_row(r, height)
        print_ready(ws, head, (head + 1, 0))
        ws.set_header("&C" + cut_utf16(f"{rules.name} 规则说明".replace("&", "&&"), 200))


# --- 概要 ---------------------------------------------------------------------------------


def _article(rules: Rulebook, *path: str) -> str:
    node: Any = rules.raw
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return node.get("article", "") if isinstance(node, dict) else ""


def _months(months: Sequence[int]) -> str:
    """1—3月, or 7月, or 1月、3月 for months that do not run on."""
    ms = list(months)
    if len(ms) > 1 and ms == list(range(ms[0], ms[0] + len(ms))):
        return f"{ms[0]}—{ms[-1]}月"
    return "、".join(f"{m}月" for m in ms)


def _summary(rules: Rulebook) -> list[Row]:
    cal = rules.calendar
    periods = ";".join(
        f"{k}:{_months(m)}" + ("(年度考核期)" if k == cal.annual else "")
        for k, m in rules.months.items()
    )
    rows: list[Row] = [
        ("方案名称", rules.name, ""),
        ("方案编号", f"{rules.id}(命令行以 --rules {rules.id} 选用)", ""),
        ("规则文件", rules.path.name, ""),
        ("文件指纹", f"SHA-256 {rules.sha256}", ""),
        ("考核期", periods, _article(rules, "periods")),
        ("计分精度", D.rounding_text(rules), _article(rules, "rounding")),
        ("综合得分", D.total_text(rules), rules.grades_article),
        ("收入扣减", D.income_text(rules), rules.income_article),
        (
            "说明",
            "本文件由 kpi-excel 根据规则文件逐条生成,计分以规则文件为准;规则文件修改后请重新生成",
            "",
        ),
    ]
    for g, label in rules.groups.items():
        roles = [r.key for r in rules.roles.values() if r.group == g]
        needed = [rules.contract.by_key[k].label for k in rules.required_by_group.get(g, [])]
        text = f"岗位:{D.roles_text(rules, roles)}"
        if needed:
            text += f";须另填:{'、'.join(needed)}"
        rows.append((f"组:{label}", text, _article(rules, "groups", g)))
    for role in rules.roles.values():
        rows.append(
            (
                f"岗位:{role.labels[0]}",
                f"{'、'.join(role.labels)},属于「{rules.groups[role.group]}」组",
                role.article,
            )
        )
    return rows


# --- 输入字段 -------------------------------------------------------------------------------

_FIELD_COLUMNS: list[Column] = [
    ("序号", 6),
    ("表头", 26),
    ("键", 18),
    ("类型", 10),
    ("取值范围", 18),
    ("小数位", 9),
    ("填写要求", 20),
    ("空白时", 12),
    ("说明", 26),
]


def _field_rows(rules: Rulebook) -> list[Row]:
    """The contract's fields, a monthly field once (its first month stands for all twelve)."""
    fields = [f for f in rules.contract.fields if f.month is None or f.month == 1]
    return [_field_row(n, f, rules) for n, f in enumerate(fields, start=1)]


def _field_row(n: int, f: Field, rules: Rulebook) -> Row:
    label, key = f.label, f.key
    if f.month is not None:
        stem = key[: -len(str(f.month))]
        label = rules.raw["fields"][stem]["label"].replace("{m}", "1—12") + "(每月一列)"
        key = f"{stem}1 … {stem}12"
    kind = KIND_WORDS.get(f.kind, f.kind)
    if f.ratio:
        kind = "比率(可用百分比格式)"
    if f.kind == "role":
        span = "、".join(lab for r in rules.roles.values() for lab in r.labels)
    elif f.kind == "yesno":
        span = "是、否"
    elif f.numeric:
        low, high = f.minimum, f.maximum
        if low is not None and high is not None:
            span = f"{D.const(low)} 至 {D.const(high)}"
        elif low is not None:
            span = f"{D.const(low)}(含)以上"
        elif high is not None:
            span = f"{D.const(high)}(含)以下"
        else:
            span = "任意数值,可为负"
        if f.at_most:
            span += f",不超过「{rules.contract.by_key[f.at_most].name}」"
    else:
        span = "—"
    if f.whole:
        places = "整数"
    elif f.numeric:
        places = f"最多{f.decimals}位" if f.decimals is not None else "不限"
    else:
        places = "—"
    groups = [rules.groups[g] for g in rules.required_groups(f.key)]
    if f.required:
        need = "所有人员必填"
    elif groups:
        need = f"{'、'.join(groups)}必填"
    else:
        need = "选填"
    if f.default is not None:
        blank = "按「否」计" if f.kind == "yesno" else f"按{D.const(f.default)}计"  # type: ignore[arg-type]
    elif f.required:
        blank = "不得为空"
    else:
        blank = "留空"
    return (str(n), label, key, kind, span, places, need, blank, f.note)


# --- 计分规则 -------------------------------------------------------------------------------

_RULE_COLUMNS: list[Column] = [
    ("序号", 6),
    ("类别", 10),
    ("名称", 16),
    ("适用岗位", 24),
    ("计算方法", 62),
    ("依据条款", 30),
]


def _scoring(rules: Rulebook) -> list[Row]:
    rows: list[tuple[str, str, str, str, str]] = []
    order = list(rules.raw.get("derived", {}))  # as the rulebook lists them
    for d in sorted(rules.derived, key=lambda d: order.index(d.key) if d.key in order else 0):
        who = "全部岗位" if d.roles is None else D.roles_text(rules, d.roles)
        rows.append(("派生指标", d.label, who, D.derived_text(d, rules), d.article))
    for item in rules.items:
        for rule, roles in D.merged_rules(item.by_role):
            text = D.rule_text(rule, rules, None)
            rows.append(("计分项目", item.label, D.roles_text(rules, roles), text, item.article))
    rounding = _article(rules, "rounding")
    rows.append(("汇总", "得分", "全部岗位", D.rounding_text(rules), rounding))
    rows.append(("汇总", "综合得分", "全部岗位", D.total_text(rules), rules.grades_article))
    return [(str(n), *row) for n, row in enumerate(rows, start=1)]


# --- 等级, 预警与处理, 参数 -----------------------------------------------------------------------


def _grades(rules: Rulebook) -> list[Row]:
    return [
        (rules.groups[g], grade, f"综合得分{D.grade_text(rules, g, j)}", rules.grades_article)
        for g, table in rules.grades.items()
        for j, (grade, _, _) in enumerate(table)
    ]


_FLAG_COLUMNS: list[Column] = [
    ("代码", 17),
    ("名称", 18),
    ("认定条件", 40),
    ("适用组", 10),
    ("处理", 7),
    ("认定时点", 22),
    ("依据条款", 26),
]


def _flags(rules: Rulebook) -> list[Row]:
    return [
        (
            flag.code,
            flag.label,
            D.flag_text(flag, rules),
            D.groups_text(rules, flag.groups),
            rules.outcomes[flag.action],
            D.flag_when(flag, rules),
            flag.article,
        )
        for flag in rules.flags
    ]


_CHECK_COLUMNS: list[Column] = [
    ("序号", 6),
    ("名称", 18),
    ("标记的列", 16),
    ("条件", 44),
    ("提示(接在单元格的值之后)", 50),
]


def _checks(rules: Rulebook) -> list[Row]:
    """The plausibility checks: values only noted (yellow), never refused, scores unchanged."""
    return [
        (
            str(n),
            check.label,
            D.label(check.field, rules),
            D.plausibility_when(check, rules),
            D.plausibility_message(check, rules) + ",请核实(仅提示,不影响计分)",
        )
        for n, check in enumerate(rules.plausibility, start=1)
    ]


def _parameters(rules: Rulebook) -> list[Row]:
    o = rules.outcomes
    outcomes = _article(rules, "outcomes")
    levels = _article(rules, "recommended_level")
    rows: list[Row] = [
        ("各项得分小数位", f"{rules.decimals}位(四舍五入)", _article(rules, "rounding")),
        (
            "收入扣减比例",
            f"{D.const(rules.income_share * 100)}%(按「{D.label(rules.income_input, rules)}」)",
            rules.income_article,
        ),
        ("考核结论:认定解聘", o["dismiss"], outcomes),
        ("考核结论:认定降级", o["demote"], outcomes),
        ("考核结论:仅有预警", o["warning"], outcomes),
        ("考核结论:无", o["none"], outcomes),
        ("建议职级:解聘", rules.dismiss_level, levels),
    ]
    for role, level in rules.demote_level.items():
        rows.append((f"建议职级:{D.roles_text(rules, [role])}降级", level, levels))
    return rows
