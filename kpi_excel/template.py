"""The standard branch template (.xlsx) per CONTRACT.md, and templates prefilled from an HR roster.

The 说明 sheet explains the rules in brief; every sentence about scoring is generated from the
rulebook, so a bank that edits its rulebook gets a template that says what it will be scored by.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter

from . import describe as D
from .errors import OutputExists, UsageError
from .periods import Period
from .rulebook import Rulebook
from .schema import BRANCH_CODE_RE, DATA_SHEET, INFO_SHEET, Field
from .write.atomic import write_atomic
from .write.safe import SafeSheet, cell_text, cut_utf16, file_component, write_text
from .write.textfit import SIMSUN, fit_width, row_height

TEMPLATE_VERSION = "2026.1"
GUIDE_SHEET = "说明"
DATA_ROWS = 1000  # rows 2..1001 carry data validation
ROSTER_COLUMNS = dict(
    机构号="branch_code", 机构名称="branch_name", 员工编号="emp_id", 姓名="name", 岗位="role"
)
PARENT_LABEL = "上级机构"  # optional column of the roster, optional row of 基本信息
_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
_TEXT_LIMITS = {"emp_id": 32, "name": 50, "remarks": 500}
GUIDE_WIDTH = 88  # 说明's column: A4 portrait between 0.5-inch margins holds 99 units
TITLE_HEIGHT = 22  # the 14-point title row


def template_fields(period: Period, rules: Rulebook) -> list[Field]:
    """The 考核数据 columns of a period's template: contract order, only this period's months."""
    months = set(rules.months[period.kind])
    return [f for f in rules.contract.fields if f.month is None or f.month in months]


def _roles_text(rules: Rulebook, roles: list[str]) -> str:
    return "、".join(label for r in roles for label in rules.roles[r].labels)


def guide_lines(period: Period, rules: Rulebook) -> list[tuple[str, str]]:
    """The 说明 sheet as (style, text) lines; style is title, head or text."""
    fields = template_fields(period, rules)
    everyone = "、".join(f.label for f in fields if f.required)
    keys_needed = {k for keys in rules.required_by_group.values() for k in keys}
    by_group = ";".join(
        _roles_text(rules, [r.key for r in rules.roles.values() if r.group == g])
        + "另须填写:"
        + "、".join(f.label for f in fields if f.key in keys)
        for g, keys in rules.required_by_group.items()
        if any(f.key in keys for f in fields)
    )
    monthly_fields = [f for f in fields if f.month is not None]
    monthly = [D.flag_text(f, rules) for f in rules.flags if f.kind == "consecutive_months"]
    units = list(dict.fromkeys(f.unit for f in fields if f.numeric and f.unit not in ("", "个")))
    unit = f"金额单位均为{units[0]}" if len(units) == 1 else "金额单位见表头括号"
    defaults = "、".join(
        f.name for f in fields if f.numeric and f.default is not None and f.month is None
    )
    optional = "、".join(
        f.name for f in fields if f.kind == "text" and not f.required and f.key not in keys_needed
    )
    fill = [
        f"先在「{INFO_SHEET}」表填写机构号、机构名称、填报人和联系电话;考核期已预填为 {period.code},请勿修改。",
        f"在「{DATA_SHEET}」表每行填写一名人员,第1行是表头;空白行会被忽略。",
        f"{unit};数字请直接填数字,不要带单位、百分号或文字说明。",
        "「是/否」列请从下拉列表选择「是」或「否」,空白按「否」处理。",
        "请勿修改工作表名称和表头文字,请勿删除列;可以在最右侧增加列,增加的列不参与计分。",
        f"岗位只能是:{_roles_text(rules, list(rules.roles))}。",
        f"所有人员必填:{everyone}。",
        *([f"{by_group}。"] if by_group else []),
        *(
            [
                f"本期按月填写的列为 {'、'.join(f.label for f in monthly_fields)}"
                + (f",用于「{monthly[0]}」检查,建议填写。" if monthly else ",可不填。")
            ]
            if monthly_fields
            else []
        ),
        *([f"{defaults}空白按0处理。"] if defaults else []),
        *([f"{optional}可不填。"] if optional else []),
    ]
    scoring = [
        f"{item.label}({item.article}),{_roles_text(rules, roles)}:{D.rule_text(rule, rules, len(rules.months[period.kind]))}。"
        for item in rules.items
        for rule, roles in D.merged_rules(item.by_role)
    ]
    formulas = [d for d in rules.derived if d.formula is not None or d.kind == "period_sum"]
    scoring += [f"{D.derived_text(d, rules)}({d.article})。" for d in formulas]
    if rules.items:
        scoring.append(f"{D.rounding_text(rules)};{D.total_text(rules)}。")
    else:
        scoring.append(f"按{rules.total.label}排名。")
    if rules.income_input:
        scoring.append(f"{D.income_text(rules)}。")
    for g, rows in rules.grades.items():
        edges = ";".join(
            f"{D.grade_text(rules, g, i)}为{grade}" for i, (grade, _, _) in enumerate(rows)
        )
        scoring.append(f"考核等级({rules.groups[g]}):综合得分{edges}({rules.grades_article})。")
    flags = []
    for flag in rules.flags:
        groups = "、".join(rules.groups[g] for g in flag.groups)
        when = "年度考核时认定,季度考核中仅作预警" if flag.annual else "任一考核期均认定"
        flags.append(
            f"{D.flag_text(flag, rules)}({flag.article},{groups}):"
            f"{rules.outcomes[flag.action]};{when}。[{flag.code}]"
        )
    lines = [("title", f"客户经理考核数据填报模板({period.code})  模板版本 {TEMPLATE_VERSION}")]
    sections = [("一、填报方法", fill), ("二、计分规则摘要(以本行规则文件为准)", scoring)]
    if flags:
        sections.append(("三、第十四条处理规定", flags))
    for head, body in sections:
        lines.append(("head", head))
        lines += [("text", f"{i}. {text}") for i, text in enumerate(body, start=1)]
    return lines


def _write_template(
    path: Path, period: Period, rules: Rulebook, branch: dict | None, people: list[dict] | None
) -> None:
    wb = xlsxwriter.Workbook(str(path), {**_OPTIONS})
    try:
        bold = {"bold": True, "font_name": "宋体"}
        f_title = wb.add_format({**bold, "font_size": 14})
        f_head = wb.add_format({**bold, "font_size": 11})
        f_wrap = wb.add_format({"text_wrap": True, "valign": "top", "font_name": "宋体"})
        f_text = wb.add_format({"num_format": "@", "font_name": "宋体"})
        boxed = {**bold, "bg_color": "#DDEBF7", "border": 1}
        f_label = wb.add_format(boxed)
        f_header = wb.add_format(
            {**boxed, "text_wrap": True, "align": "center", "valign": "vcenter"}
        )
        # 说明: one column of wrapped lines, as wide as an A4 page in portrait
        ws = wb.add_worksheet(GUIDE_SHEET, worksheet_class=SafeSheet)
        ws.set_column(0, 0, GUIDE_WIDTH, f_wrap)
        for r, (style, text) in enumerate(guide_lines(period, rules)):
            ws.write_string(r, 0, text, {"title": f_title, "head": f_head}.get(style, f_wrap))
            height = TITLE_HEIGHT if style == "title" else row_height([(text, GUIDE_WIDTH)], SIMSUN)
            if height is not None:
                ws.set_row(r, height)
        _portrait(ws)
        # 基本信息: the hints beside the cells, on the same page
        ws = wb.add_worksheet(INFO_SHEET, worksheet_class=SafeSheet)
        branch = branch or {}
        info = _info_rows(branch, period)
        ws.set_column(0, 0, 12)
        ws.set_column(1, 1, 28, f_text)
        ws.set_column(2, 2, fit_width([hint for _, _, hint in info], 20, 60, SIMSUN))
        _portrait(ws)
        for r, (label, value, hint) in enumerate(info):
            ws.write_string(r, 0, label, f_label)
            if value not in (None, ""):
                write_text(ws, r, 1, cell_text(value), f_text)
            ws.write_string(r, 2, hint)
        ws.data_validation(0, 1, 0, 1, {
            "validate": "length", "criteria": "between", "minimum": 1, "maximum": 32,
            "input_title": "机构号", "input_message": "填写本机构的机构号(1至32位字母、数字、-、_)",
            "error_title": "机构号不正确", "error_message": "机构号应为1至32个字符,只能包含字母、数字、-、_",
        })  # fmt: skip
        # 考核数据
        ws = wb.add_worksheet(DATA_SHEET, worksheet_class=SafeSheet)
        fields = template_fields(period, rules)
        people = people or []
        last = max(DATA_ROWS, len(people) + 200)
        ws.freeze_panes(1, 0)
        headers = []
        for c, f in enumerate(fields):
            width = 30 if f.key == "remarks" else 12 if f.kind in ("text", "role") else 14
            ws.set_column(c, c, width, f_text if f.kind == "text" else None)
            ws.write_string(0, c, f.label, f_header)
            ws.data_validation(1, c, last, c, _validation(f, rules))
            headers.append((f.label, width))
        ws.set_row(0, max(45, row_height(headers, SIMSUN) or 0))
        col = {f.key: c for c, f in enumerate(fields)}
        for r, person in enumerate(people, start=1):
            for key in ("emp_id", "name", "role"):
                if person.get(key) not in (None, ""):
                    write_text(ws, r, col[key], cell_text(person[key]), f_text)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        title = f"{branch.get('branch_name') or ''} {period.code} 客户经理考核数据".strip()
        ws.set_header("&C" + cut_utf16(title.replace("&", "&&"), 200))
        ws.set_footer("&C第 &P 页,共 &N 页")
        wb.get_worksheet_by_name(GUIDE_SHEET).activate()
    finally:
        wb.close()


def _info_rows(branch: dict, period: Period) -> list[tuple[str, Any, str]]:
    """基本信息: (label, prefilled value, hint) of each row."""
    return [
        ("机构号", branch.get("branch_code"), "必填;只能包含字母、数字、-、_"),
        ("机构名称", branch.get("branch_name"), "必填"),
        ("考核期", period.code, "已预填,请勿修改"),
        ("填报人", None, "选填"),
        ("联系电话", None, "选填"),
        ("模板版本", TEMPLATE_VERSION, "模板自动填写,请勿修改"),
        (PARENT_LABEL, branch.get("parent"), "选填;所属分行等上级机构的名称,汇总按它分组"),
    ]


def _portrait(ws: Any) -> None:
    """A4 portrait, one page wide, page numbers in the footer."""
    ws.set_portrait()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页,共 &N 页")


def _validation(f: Field, rules: Rulebook) -> dict[str, Any]:
    """The data validation of one 考核数据 column, with Chinese prompts."""
    name = f.label.split("(")[0][:30]
    if f.kind == "role":
        labels = [label for r in rules.roles.values() for label in r.labels]
        v: dict[str, Any] = {"validate": "list", "source": labels}
        msg, err = "从下拉列表选择岗位", "岗位只能是:" + "、".join(labels)
    elif f.kind == "yesno":
        v = {"validate": "list", "source": ["是", "否"]}
        msg, err = "从下拉列表选择「是」或「否」;空白按「否」处理", "只能填写「是」或「否」"
    elif f.kind == "text":
        v = {"validate": "length", "criteria": "<=", "value": _TEXT_LIMITS.get(f.key, 255)}
        msg = "填写文字" + ("(必填)" if f.required else "")
        err = f"不能超过{_TEXT_LIMITS.get(f.key, 255)}个字符"
    else:
        v, msg, err = _number_validation(f)
    v.update(
        input_title=name, input_message=msg, error_title=f"{name}填写有误"[:32], error_message=err
    )
    return v


def _number_validation(f: Field) -> tuple[dict[str, Any], str, str]:
    """A number column's validation, its prompt and its error text, from the field's type,
    range, decimals and default."""
    kind, what = ("integer", "整数") if f.whole else ("decimal", "数字")
    low, high = f.minimum, f.maximum

    def num(d: Any) -> int | float:
        return int(d) if d == int(d) else float(d)

    if low is not None and high is not None:
        v = {"criteria": "between", "minimum": num(low), "maximum": num(high)}
        bound = f"{D.const(low)}到{D.const(high)}之间"
    elif low is not None:
        v, bound = {"criteria": ">=", "value": num(low)}, f"不小于{D.const(low)}"
    elif high is not None:
        v, bound = {"criteria": "<=", "value": num(high)}, f"不大于{D.const(high)}"
    else:
        v, bound = {"criteria": "between", "minimum": -1e15, "maximum": 1e15}, "可为负数"
    hint = [f"单位:{f.unit}"] if f.unit and f.unit != "个" else []
    hint += [f"填{what}", bound]
    if f.decimals is not None and not f.whole:
        hint.append(f"最多{f.decimals}位小数")
    msg = ",".join(hint)
    if f.default is not None:
        msg += f";空白按{D.const(f.default)}计"
    return {"validate": kind, **v}, msg, f"请填写{bound}的{what}"


def build_template(
    path: Path,
    period: Period,
    rules: Rulebook,
    branch: dict | None = None,
    people: list[dict] | None = None,
) -> Path:
    """Write the standard template of `period` to `path` (atomically); return where it was written.

    `branch` ({'branch_code', 'branch_name', optionally 'parent'}) and `people` ([{'emp_id', 'name', 'role'}]) prefill it.
    """
    return write_atomic(Path(path), lambda tmp: _write_template(tmp, period, rules, branch, people))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(" \u3000\t\r\n")


def table_rows(path: Path, what: str = "花名册") -> list[list[Any]]:
    """The rows of a table a clerk gives (`what` names it in messages): the first sheet of an
    xlsx, or a CSV in UTF-8 or GBK."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # any openpyxl failure means the file cannot be used
            raise UsageError(f"{what} {path.name} 无法读取:{exc}") from None
        try:
            return [list(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {path} 无法读取:{exc.strerror or exc}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
        except UnicodeDecodeError:
            continue
    raise UsageError(f"{what} {path.name} 编码无法识别,请另存为 UTF-8 或 GBK 编码的 CSV")


def read_roster(path: Path) -> list[dict]:
    """Read an HR roster (CSV in UTF-8/GBK, or the first sheet of an xlsx).

    Returns one dict per non-blank row with keys branch_code, branch_name, emp_id, name, role
    and, when the roster has the optional column 上级机构, parent.
    """
    path = Path(path)
    rows = table_rows(path)
    header = [_cell(v) for v in rows[0]] if rows else []
    index: dict[str, int] = {}
    for label, key in ROSTER_COLUMNS.items():
        if label not in header:
            need = "、".join(ROSTER_COLUMNS)
            raise UsageError(f"花名册 {path.name} 缺少列「{label}」(需要:{need})")
        index[key] = header.index(label)
    if PARENT_LABEL in header:  # optional: the branch's parent, prefilled in 基本信息
        index["parent"] = header.index(PARENT_LABEL)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        rec = {key: _cell(row[j]) if j < len(row) else "" for key, j in index.items()}
        if not any(rec.values()):
            continue
        if not rec["emp_id"] or not rec["name"]:
            raise UsageError(f"花名册 {path.name} 第{n}行员工编号或姓名为空")
        if not BRANCH_CODE_RE.match(rec["branch_code"]):
            code = rec["branch_code"]
            raise UsageError(f"花名册 {path.name} 第{n}行机构号「{code}」应为字母、数字、-、_")
        out.append(rec)
    return out


def build_templates_from_roster(
    roster: Path, outdir: Path, period: Period, rules: Rulebook, overwrite: bool = True
) -> list[Path]:
    """One prefilled template per branch of the roster, named <机构号>_<机构名称>_<考核期>.xlsx.

    With `overwrite` False, raises OutputExists (writing nothing) if any of them exists."""
    rows = read_roster(roster)
    accepted = rules.role_of_label()
    seen: set[str] = set()
    branches: dict[str, list[dict]] = {}
    for rec in rows:
        if rec["role"] not in accepted:
            raise UsageError(
                f"花名册 {Path(roster).name} 中 {rec['name']}({rec['emp_id']})的岗位「{rec['role']}」"
                f"不是考核岗位,应为:{'、'.join(accepted)}"
            )
        if rec["emp_id"] in seen:
            raise UsageError(f"花名册 {Path(roster).name} 中员工编号「{rec['emp_id']}」重复")
        seen.add(rec["emp_id"])
        branches.setdefault(rec["branch_code"], []).append(rec)
    plan = []
    for code, people in branches.items():
        parent = next((p["parent"] for p in people if p.get("parent")), "")
        branch = {"branch_code": code, "branch_name": people[0]["branch_name"], "parent": parent}
        name = f"{file_component(code)}_{file_component(branch['branch_name'])}_{period.code}.xlsx"
        plan.append((Path(outdir) / name, branch, people))
    existing = [path for path, _b, _p in plan if path.exists()]
    if existing and not overwrite:
        raise OutputExists(f"模板文件已存在: {'、'.join(map(str, existing))}", existing)
    return [build_template(path, period, rules, branch, people) for path, branch, people in plan]
