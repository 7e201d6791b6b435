"""`kpi-excel rules list | show | check`: the shipped schemes, a 规则说明 a committee can read,
and a linter that refuses a rulebook that loads but cannot mean what its author meant."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from kpi_excel import describe as D
from kpi_excel import formula
from kpi_excel.cli import main
from kpi_excel.rulebook import Derived, default_rulebook_path, load_rulebook, shipped_rulebooks
from kpi_excel.rules_doc import write_rules_doc
from kpi_excel.rules_lint import check_rules

SHEETS = ["概要", "输入字段", "计分规则", "等级", "预警与处理", "数值核对", "参数"]
PREFIX = "规则文件 rules.yaml 的键 "


def _rules_file(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """The shipped rulebook with text edits, as rules.yaml."""
    text = default_rulebook_path().read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _rows(ws) -> list[tuple]:
    return [tuple(v or "" for v in row) for row in ws.iter_rows(min_row=4, values_only=True)]


# --- rules list ---------------------------------------------------------------------------


def test_rules_list_shows_each_shipped_scheme_with_its_name_and_file() -> None:
    res = CliRunner().invoke(main, ["rules", "list"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "方案编号\t名称\t规则文件"
    shipped = shipped_rulebooks()
    assert len(lines) == 1 + len(shipped)
    assert f"main\t银行客户经理考核管理办法(默认规则)\t{shipped['main']}" in lines
    for scheme, path in shipped.items():
        assert f"{scheme}\t{load_rulebook(path).name}\t{path}" in lines


# --- rules show ---------------------------------------------------------------------------


def test_rules_show_writes_the_rule_book_sheet_by_sheet(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["rules", "show", "main"])
    assert res.exit_code == 0, res.output
    assert res.output == "已生成 规则说明_main.xlsx\n"
    wb = openpyxl.load_workbook(tmp_path / "规则说明_main.xlsx")
    assert wb.sheetnames == SHEETS
    rules = load_rulebook()

    summary = {r[0]: r[1:] for r in _rows(wb["概要"])}
    assert summary["方案编号"][0] == "main(命令行以 --rules main 选用)"
    assert summary["文件指纹"][0] == f"SHA-256 {rules.sha256}"
    assert summary["考核期"] == (
        "Q1:1—3月;Q2:4—6月;Q3:7—9月;Q4:10—12月;FY:1—12月(年度考核期)",
        "第十三条",
    )
    assert summary["综合得分"][0] == "业务得分 = 各项得分之和;综合得分 = 业务得分 − 行为规范扣分"
    assert summary["组:行长"] == (
        "岗位:支行行长、营业部总经理;须另填:上年同期中间业务收入(万元)、本期中间业务收入(万元)",
        "第十四条第(一)款",
    )

    fields = {r[2]: r for r in _rows(wb["输入字段"])}
    assert len(fields) == 18  # the twelve monthly deposit columns are one row
    assert fields["deposit_base"][1:] == (
        "基数存款日均(万元)", "deposit_base", "金额", "0(含)以上", "不限", "所有人员必填", "不得为空", "",
    )  # fmt: skip
    assert fields["npl_balance"][4] == "0(含)以上,不超过「贷款余额」"
    assert fields["deposit_m1 … deposit_m12"][1] == "1—12月存款日均(万元)(每月一列)"
    assert fields["mid_income"][6] == "行长必填"
    assert fields["new_accounts"][3:8] == (
        "个数(整数)",
        "0(含)以上",
        "整数",
        "客户经理必填",
        "留空",
    )
    assert fields["conduct_deduction"][5:8] == ("最多2位", "选填", "按0计")
    assert fields["major_violation"][3:8] == ("是/否", "是、否", "—", "选填", "按「否」计")

    scoring = _rows(wb["计分规则"])
    assert scoring[0][1:] == (
        "派生指标", "新增存款日均", "全部岗位", "新增存款日均 = 本期存款日均 − 基数存款日均", "第十三条",
    )  # fmt: skip
    assert (
        "派生指标", "不良率", "全部岗位", "不良率 = 不良贷款余额 ÷ 贷款余额;贷款余额为0时按0%计",
        "第十三条(无贷款即无不良)",
    ) in [r[1:] for r in scoring]  # fmt: skip
    assert (
        "计分项目",
        "不良率",
        "支行行长、营业部总经理、高级客户经理、中级客户经理、初级客户经理",
        "不良率为0得30分;超过0%、不超过1%得20分;超过1%、不超过5%得10分;超过5%得0分",
        "第十三条(扣分标准4)",
    ) in [r[1:] for r in scoring]
    accounts = [r for r in scoring if r[2] == "新开对公基本账户" and r[3] == "中级客户经理"]
    assert accounts[0][4] == (
        "新开对公基本账户按完成比例计分,满分10分,超额不加分;"
        "全年目标7个,按考核期的月数折算(3个月1.75个、12个月7个)"
    )

    grades = _rows(wb["等级"])
    assert ("客户经理", "合格", "综合得分超过85分、低于100分", "第十四条") in grades
    assert ("行长", "基本合格", "综合得分90分(含)以下", "第十四条") in grades

    flags = {r[0]: r for r in _rows(wb["预警与处理"])}
    assert list(flags) == [f.code for f in rules.flags]
    assert flags["A14-3-CONDUCT"] == (
        "A14-3-CONDUCT", "行为规范扣分过多", "行为规范扣分15分(含)以上", "行长、客户经理", "解聘",
        "任一考核期均认定", "第十四条第(三)款",
    )  # fmt: skip
    assert flags["A14-2-SCORE85"][2] == "综合得分85分(含)以下"
    assert flags["A14-2-SCORE85"][5] == "年度考核(FY)时认定,其他考核期仅作预警"
    assert flags["A14-2-DEPOSIT3M"][2] == "连续3个月存款日均低于基数存款日均的90%"

    checks = _rows(wb["数值核对"])
    assert checks[0] == (
        "1",
        "不良贷款余额过小",
        "不良贷款余额",
        "(不良贷款余额 > 0 且 不良贷款余额 < 1) 且 贷款余额 > 10000",
        "不足1万元,而「贷款余额」为{贷款余额}万元(超过10000万元),可能按百分比或其他单位填写,"
        "请核实(仅提示,不影响计分)",
    )
    assert checks[1][1:4] == (
        "本期存款日均远高于基数",
        "本期存款日均",
        "基数存款日均 > 0 且 本期存款日均 ≥ 100×基数存款日均",
    )

    params = {r[0]: r[1:] for r in _rows(wb["参数"])}
    assert params["收入扣减比例"] == ("100%(按「案件事故损失及罚款」)", "第十三条(管理指标)")
    assert params["建议职级:高级客户经理降级"][0] == "中级客户经理"


def test_the_rule_book_prints_on_a4_landscape_one_page_wide(tmp_path: Path) -> None:
    path = write_rules_doc(tmp_path / "doc.xlsx", load_rulebook())
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
        assert ws.print_title_rows == "$1:$3"
        assert ws.cell(3, 1).font.b  # the header row
    # a cell of several lines gets a row tall enough for them
    ws = wb["计分规则"]
    tall = [r for r in range(4, ws.max_row + 1) if len(str(ws.cell(r, 5).value)) > 60]
    assert tall and all(ws.row_dimensions[r].height >= 28 for r in tall)


def test_rules_show_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "说明.xlsx"
    target.write_bytes(b"mine")
    runner = CliRunner()
    res = runner.invoke(main, ["rules", "show", "main", "-o", str(target)])
    assert res.exit_code == 2
    assert res.stderr == (
        f"错误: 文件 {target} 已存在,未覆盖;如需覆盖请加 --force,或用 -o 指定另一个文件名\n"
    )
    assert target.read_bytes() == b"mine"
    res = runner.invoke(main, ["rules", "show", "main", "-o", str(target), "--force"])
    assert res.exit_code == 0 and openpyxl.load_workbook(target).sheetnames == SHEETS


def test_rules_show_of_a_rulebook_that_does_not_load_says_why(tmp_path: Path) -> None:
    path = _rules_file(tmp_path, ("    a: deposit_avg\n", "    a: deposit_avgg\n"))
    res = CliRunner().invoke(main, ["rules", "show", str(path), "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and not (tmp_path / "x.xlsx").exists()
    assert "derived.new_deposit.a 引用了未定义的字段「deposit_avgg」" in res.stderr


# --- rules check --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(shipped_rulebooks()))
def test_rules_check_passes_every_shipped_scheme(scheme: str) -> None:
    rules = load_rulebook(scheme)
    assert check_rules(rules) == []
    res = CliRunner().invoke(main, ["rules", "check", scheme])
    assert res.exit_code == 0, res.output
    assert res.output == f"规则文件 {rules.path.name} 检查通过(方案 {rules.id}:{rules.name})\n"


TRAINEE = (
    "  junior:\n    labels: [初级客户经理]\n    group: managers\n    article: 第三条、第十三条\n",
    "  junior:\n    labels: [初级客户经理]\n    group: managers\n    article: 第三条、第十三条\n"
    "  trainee:\n    labels: [见习客户经理]\n    group: managers\n    article: 第三条\n",
)
BROKEN = {
    "unknown name (load)": (
        [("    a: deposit_avg\n", "    a: deposit_avgg\n")],
        ["derived.new_deposit.a 引用了未定义的字段「deposit_avgg」(是否应为 deposit_avg?)"],
    ),
    "cycle (load)": (
        [("    a: deposit_avg\n", "    a: deposit_growth\n")],
        ["derived 存在循环引用:new_deposit、deposit_growth"],
    ),
    "unused field": (
        [("  remarks: {label: 备注, type: text}", "  spare: {label: 备用指标, type: number}\n  remarks: {label: 备注, type: text}")],
        ["fields.spare 未被任何计分规则、标志或必填要求使用(该列填写与否都不影响结果)"],
    ),
    "unused derived figure": (
        [("derived:\n", "derived:\n  loan_gap:\n    label: 贷款缺口\n    kind: difference\n    a: loan_balance\n    b: npl_balance\n    article: 第十三条\n")],
        ["derived.loan_gap 未被任何计分项目、标志或其他派生指标使用"],
    ),
    "a zero denominator without a rule for a role using it": (
        [("    reject_roles: [branch_head, senior, mid]\n", "    reject_roles: [branch_head, senior]\n")],
        ["derived.deposit_growth.when_zero 为 reject,但 reject_roles 不含中级客户经理:基数存款日均为0时本指标为空,"
         "其计分项目「存款」没有为0时的规定(项目按0分计、标志不认定,人员照常计分)"],
    ),
    "a band edge written in percent swallows the rest": (
        [("          - {max: 0.05, inclusive: true, points: 10}", "          - {max: 5, inclusive: true, points: 10}")],
        ["items[1].by_role.branch_head.else 永远用不到(超过500%得0分):「不良率」的取值在0%至100%之间"],
    ),
    "a first band below the smallest value": (
        [("          - {max: 0, inclusive: true, points: 30}", "          - {max: 0, inclusive: false, points: 30}")],
        ["items[1].by_role.branch_head.bands[0] 永远用不到(低于0%得30分):「不良率」的取值在0%至100%之间"],
    ),
    "an item that always scores the same": (
        [("        points: 1\n        step: 2", "        points: 0\n        step: 2")],
        ["items[3].by_role.branch_head 无论「中间业务收入增幅」为多少,得分恒为10分"],
    ),
    "an item input always blank for its role": (
        [("      branch_head:\n        kind: linear\n        input: mid_income_growth", "      senior:\n        kind: linear\n        input: mid_income_growth")],
        ["items[3].by_role.senior.input 「中间业务收入增幅」对高级客户经理始终为空,该项目永远没有得分(按0分计)"],
    ),
    "a role no item scores": (
        [TRAINEE, ("    junior: 业务代办员", "    junior: 业务代办员\n    trainee: 业务代办员")],
        ["roles.trainee 没有任何计分项目(items 的 by_role 中没有该岗位),业务得分恒为0"],
    ),
    "a grade above the highest total": (
        [("    - {grade: 优秀, min: 110, inclusive: true}\n    - {grade: 良好, min: 100, inclusive: true}\n    - {grade: 合格, min: 85",
          "    - {grade: 优秀, min: 140, inclusive: true}\n    - {grade: 良好, min: 100, inclusive: true}\n    - {grade: 合格, min: 85")],
        ["grades.managers[0] 「优秀」(140分(含)以上)永远达不到:客户经理的综合得分不高于130分"],
    ),
    "a grade below the lowest total, and a flag that can never be raised": (
        [("  conduct_deduction: {label: 行为规范扣分, type: number, default: 0, decimals: 2}",
          "  conduct_deduction: {label: 行为规范扣分, type: number, default: 0, decimals: 2, max: 10}"),
         ("    - {grade: 合格, min: 90, inclusive: false}", "    - {grade: 合格, min: -10, inclusive: true}")],
        ["flags[11].condition 「行为规范扣分15分(含)以上」永远不会成立:行长、客户经理的行为规范扣分在0分至10分之间",
         "grades.heads[3] 「基本合格」(低于-10分)永远达不到:行长的综合得分在-10分至135分之间"],
    ),
    "a flag above the highest total": (
        [('condition: {field: total, op: "<=", value: 90}', 'condition: {field: total, op: ">", value: 135}')],
        ["flags[0].condition 「综合得分超过135分」永远不会成立:行长的综合得分不高于135分"],
    ),
    "a flag threshold written in percent": (
        [('condition: {field: npl_ratio, op: ">", value: 0.10}', 'condition: {field: npl_ratio, op: ">", value: 10}')],
        ["flags[1].condition 「不良率超过1000%」永远不会成立:行长的不良率在0%至100%之间"],
    ),
    "a flag raised for everyone": (
        [('condition: {field: conduct_deduction, op: ">=", value: 15}', 'condition: {field: conduct_deduction, op: ">=", value: 0}')],
        ["flags[11].condition 「行为规范扣分0分(含)以上」对行长、客户经理的每个人都成立:行长、客户经理的行为规范扣分不低于0分"],
    ),
    "a repeat flag whose flags are of another group": (
        [("    groups: [heads]\n    kind: repeat", "    groups: [managers]\n    kind: repeat")],
        ["flags[3].of 中的标志都不适用于客户经理(本标志适用的组),本标志永远不会认定"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN))
def test_rules_check_refuses_a_broken_rulebook(tmp_path: Path, case: str) -> None:
    edits, expected = BROKEN[case]
    path = _rules_file(tmp_path, *edits)
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.splitlines() == [f"错误: {PREFIX}{line}" for line in expected]


def test_rules_check_reports_every_problem_at_once_in_key_order(tmp_path: Path) -> None:
    path = _rules_file(tmp_path, *BROKEN["a flag raised for everyone"][0],
                       *BROKEN["unused field"][0], *BROKEN["a grade above the highest total"][0])  # fmt: skip
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 2
    keys = [line.split(" 的键 ")[1].split(" ")[0] for line in res.stderr.splitlines()]
    assert keys == ["fields.spare", "flags[11].condition", "grades.managers[0]"]


def test_rules_check_of_an_unknown_scheme(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["rules", "check", "mian"])
    assert res.exit_code == 2
    assert res.stderr.startswith("错误: 找不到规则文件或方案「mian」")


# --- formulas (rulebook elements compiled from `kind: formula`) --------------------------


def _with_formula(text: str):
    """The shipped rulebook with one more derived figure computed by a formula."""
    rules = load_rulebook()
    names = {k: k for k in rules.contract.keys}
    compiled = formula.compile(text, names, where="derived.dl_ratio.formula")
    figure = Derived("dl_ratio", "存贷比", "formula", "", "", None, [], "第一条")
    object.__setattr__(figure, "formula", compiled)  # as the loader's formula figures carry it
    return replace(rules, derived=[*rules.derived, figure]), figure


def test_a_formula_dividing_by_a_figure_that_can_be_0_needs_a_rule_for_0() -> None:
    rules, figure = _with_formula("deposit_avg / loan_balance")
    assert (
        "规则文件 rulebook.yaml 的键 derived.dl_ratio.formula 除以「贷款余额」,而它可以为0,"
        "公式没有规定为0时的结果(可写成 IF(贷款余额 = 0, …, …) 或 COALESCE(…, …))"
    ) in check_rules(rules)
    assert D.derived_text(figure, rules) == "存贷比 = 本期存款日均/贷款余额"
    for guarded in (
        "IF(loan_balance = 0, 0, deposit_avg / loan_balance)",
        "COALESCE(deposit_avg / loan_balance, 0)",
        "IF(loan_balance > 0 AND deposit_avg / loan_balance >= 50%, 1, 0)",
        "deposit_avg / 2",
    ):
        rules, _ = _with_formula(guarded)
        assert not [line for line in check_rules(rules) if "除以" in line], guarded
    # a guard on another figure does not count
    rules, _ = _with_formula("IF(deposit_avg = 0, 0, deposit_avg / loan_balance)")
    assert [line for line in check_rules(rules) if "除以「贷款余额」" in line]


def test_the_rule_book_writes_rulebook_text_as_text(tmp_path: Path) -> None:
    path = _rules_file(
        tmp_path,
        ("name: 银行客户经理考核管理办法(默认规则)", 'name: "A&B =SUM(A1) <r>x</r>"'),
        ("    labels: [高级客户经理]", '    labels: ["=1+1", "<r>高级</r>"]'),
    )
    rules = load_rulebook(path)
    wb = openpyxl.load_workbook(write_rules_doc(tmp_path / "doc.xlsx", rules))
    summary = {r[0]: r[1:] for r in _rows(wb["概要"])}
    assert summary["方案名称"][0] == "A&B =SUM(A1) <r>x</r>"
    assert summary["岗位:=1+1"][0] == "=1+1、<r>高级</r>,属于「客户经理」组"
    assert wb["概要"]["A1"].value == "A&B =SUM(A1) <r>x</r> 规则说明:概要"
    # a page header's literal & is written &&, else it starts a header code
    assert wb["概要"].oddHeader.center.text == "A&&B =SUM(A1) <r>x</r> 规则说明"
