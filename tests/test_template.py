"""The standard template (kpi_excel/template.py): layout, validations, roster, and a full run."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from kpi_excel.errors import UsageError
from kpi_excel.periods import Period
from kpi_excel.pipeline import run
from kpi_excel.rulebook import load_rulebook
from kpi_excel.template import (
    TEMPLATE_VERSION,
    build_template,
    build_templates_from_roster,
    read_roster,
)

Q3 = Period(2026, "Q3", False)
FY = Period(2026, "FY", True)

HEADERS_Q3 = [
    "员工编号",
    "姓名",
    "岗位",
    "基数存款日均(万元)",
    "本期存款日均(万元)",
    "7月存款日均(万元)",
    "8月存款日均(万元)",
    "9月存款日均(万元)",
    "贷款余额(万元)",
    "不良贷款余额(万元)",
    "应收贷款本息(万元)",
    "实收贷款本息(万元)",
    "上年同期中间业务收入(万元)",
    "本期中间业务收入(万元)",
    "新开对公基本账户(个)",
    "行为规范扣分",
    "重大违规违纪",
    "案件事故损失及罚款(万元)",
    "重大安全责任事故",
    "备注",
]


@pytest.fixture(scope="module")
def rules():
    return load_rulebook()


def _validations(ws) -> dict[str, object]:
    """First cell of each validation range (like 'C2') -> the validation."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            out[rng.coord.split(":")[0]] = dv
    return out


def _column_format(ws, col: int) -> str:
    """Number format of a column's <col> entry (openpyxl keys a span of columns by its first)."""
    for dim in ws.column_dimensions.values():
        if dim.min <= col <= dim.max:
            return dim.number_format
    return "General"


def _header(ws) -> list[str]:
    return [c.value for c in ws[1]]


def test_sheets_header_and_info_q3(tmp_path: Path, rules) -> None:
    path = build_template(tmp_path / "t.xlsx", Q3, rules)
    assert path == tmp_path / "t.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["说明", "基本信息", "考核数据"]
    ws = wb["考核数据"]
    assert _header(ws) == HEADERS_Q3
    assert ws.freeze_panes == "A2"
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == "$1:$1"
    assert "&P" in ws.oddFooter.center.text
    info = {row[0]: row[1] for row in wb["基本信息"].iter_rows(values_only=True)}
    assert info["考核期"] == "2026Q3"
    assert info["模板版本"] == TEMPLATE_VERSION == "2026.1"
    assert info["机构号"] is None
    assert list(info)[:6] == ["机构号", "机构名称", "考核期", "填报人", "联系电话", "模板版本"]
    assert "B1" in _validations(wb["基本信息"])
    assert wb["基本信息"]["B3"].data_type == "s"


def test_fy_has_twelve_month_columns(tmp_path: Path, rules) -> None:
    ws = openpyxl.load_workbook(build_template(tmp_path / "fy.xlsx", FY, rules))["考核数据"]
    header = _header(ws)
    months = [h for h in header if h.endswith("月存款日均(万元)")]
    assert months == [f"{m}月存款日均(万元)" for m in range(1, 13)]
    assert len(header) == len(HEADERS_Q3) - 3 + 12
    assert header.index("1月存款日均(万元)") == 5


def test_data_validations(tmp_path: Path, rules) -> None:
    ws = openpyxl.load_workbook(build_template(tmp_path / "t.xlsx", Q3, rules))["考核数据"]
    dv = _validations(ws)
    role = dv["C2"]
    assert role.type == "list"
    assert "支行行长" in role.formula1 and "初级客户经理" in role.formula1
    assert role.prompt and role.error and role.errorTitle and role.promptTitle
    assert str(role.sqref) == "C2:C1001"
    for col in "DEFGHIJKLMNR":  # amounts
        assert dv[f"{col}2"].type == "decimal", col
        assert dv[f"{col}2"].operator == "greaterThanOrEqual"
        assert dv[f"{col}2"].formula1 == "0"
    assert dv["O2"].type == "whole"  # 新开对公基本账户
    assert dv["P2"].type == "decimal"  # 行为规范扣分
    assert dv["Q2"].type == "list" and dv["Q2"].formula1 == '"是,否"'
    assert dv["S2"].type == "list"
    # 员工编号 and 姓名 columns are text ('@'), so 00123 keeps its zeros.
    assert [_column_format(ws, c) for c in (1, 2, 3, 4)] == ["@", "@", "General", "General"]


def test_guide_is_generated_from_rulebook(tmp_path: Path, rules) -> None:
    wb = openpyxl.load_workbook(build_template(tmp_path / "t.xlsx", Q3, rules))
    text = "\n".join(str(r[0]) for r in wb["说明"].iter_rows(values_only=True) if r[0])
    assert "万元" in text and TEMPLATE_VERSION in text
    assert "新增存款日均增幅达到30%得40分" in text
    assert "收贷收息率达到99.5%得20分" in text
    assert "本期(3个月)目标2.5个" in text
    assert "综合得分85分(含)以下(第十四条第(二)款第3项,客户经理):降级" in text
    assert "行为规范扣分15分(含)以上(第十四条第(三)款,行长、客户经理):解聘;任一考核期均认定" in text


def test_prefilled_branch_and_people(tmp_path: Path, rules) -> None:
    people = [{"emp_id": "00123", "name": "王芳", "role": "高级客户经理"}]
    branch = {"branch_code": "B001", "branch_name": "城东支行"}
    wb = openpyxl.load_workbook(build_template(tmp_path / "t.xlsx", Q3, rules, branch, people))
    info = {row[0]: row[1] for row in wb["基本信息"].iter_rows(values_only=True)}
    assert (info["机构号"], info["机构名称"]) == ("B001", "城东支行")
    ws = wb["考核数据"]
    assert [ws["A2"].value, ws["B2"].value, ws["C2"].value] == ["00123", "王芳", "高级客户经理"]
    assert ws["A2"].data_type == "s"
    assert ws["A3"].value is None


def _write_roster(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


ROSTER = [
    [" 机构号", "机构名称", "员工编号", "姓名", "岗位 "],
    ["B001", "城东支行", "1001", "张伟", "支行行长"],
    ["B001", "城东支行", "1002", "李娜", "高级客户经理"],
    ["", "", "", "", ""],
    ["B002", "城西/支行", "2001", "刘洋", "初级客户经理"],
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_read_roster_encodings(tmp_path: Path, encoding: str) -> None:
    rows = read_roster(_write_roster(tmp_path / "r.csv", ROSTER, encoding))
    assert [r["name"] for r in rows] == ["张伟", "李娜", "刘洋"]
    assert rows[0] == {
        "branch_code": "B001",
        "branch_name": "城东支行",
        "emp_id": "1001",
        "name": "张伟",
        "role": "支行行长",
    }


def test_read_roster_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    for row in [ROSTER[0], ["B009", "南门支行", 3001, "赵敏", "中级客户经理"]]:
        wb.active.append(row)
    wb.save(tmp_path / "r.xlsx")
    assert read_roster(tmp_path / "r.xlsx")[0]["emp_id"] == "3001"


def test_templates_from_roster(tmp_path: Path, rules) -> None:
    roster = _write_roster(tmp_path / "roster.csv", ROSTER)
    paths = build_templates_from_roster(roster, tmp_path / "out", Q3, rules)
    assert [p.name for p in paths] == ["B001_城东支行_2026Q3.xlsx", "B002_城西_支行_2026Q3.xlsx"]
    ws = openpyxl.load_workbook(paths[0])["考核数据"]
    assert [ws.cell(r, 2).value for r in (2, 3, 4)] == ["张伟", "李娜", None]
    assert [ws.cell(r, 1).value for r in (2, 3)] == ["1001", "1002"]
    info = {
        r[0]: r[1] for r in openpyxl.load_workbook(paths[1])["基本信息"].iter_rows(values_only=True)
    }
    assert (info["机构号"], info["机构名称"], info["考核期"]) == ("B002", "城西/支行", "2026Q3")


def test_roster_missing_column(tmp_path: Path, rules) -> None:
    roster = _write_roster(
        tmp_path / "roster.csv",
        [["机构号", "机构名称", "员工编号", "姓名"], ["B1", "X", "1", "甲"]],
    )
    with pytest.raises(UsageError, match="岗位") as exc:
        read_roster(roster)
    assert "roster.csv" in str(exc.value)
    with pytest.raises(UsageError, match="岗位"):
        build_templates_from_roster(roster, tmp_path / "out", Q3, rules)
    assert not (tmp_path / "out").exists()


def test_roster_unknown_role(tmp_path: Path, rules) -> None:
    roster = _write_roster(tmp_path / "r.csv", [ROSTER[0], ["B1", "X", "1", "甲", "业务代办员"]])
    with pytest.raises(UsageError, match="业务代办员"):
        build_templates_from_roster(roster, tmp_path / "out", Q3, rules)


def _fill(
    path: Path, target: Path, branch: tuple[str, str], people: list[dict[str, object]]
) -> None:
    """Fill a generated template by header label, as a clerk (or a script) would."""
    wb = openpyxl.load_workbook(path)
    info = wb["基本信息"]
    for row in info.iter_rows(min_col=1, max_col=2):
        if row[0].value == "机构号":
            row[1].value = branch[0]
        elif row[0].value == "机构名称":
            row[1].value = branch[1]
    ws = wb["考核数据"]
    col = {c.value: c.column for c in ws[1]}
    for r, person in enumerate(people, start=2):
        for label, value in person.items():
            ws.cell(r, col[label], value)
    wb.save(target)


def test_filled_template_is_scored(tmp_path: Path, rules) -> None:
    common = {"贷款余额(万元)": 1000, "不良贷款余额(万元)": 0, "应收贷款本息(万元)": 1000}
    people = [
        {
            # Hand-computed from RULES.md: growth 30% -> S1 40; NPL 0 -> 30; collection 99.5% -> 20;
            # accounts 10 of 10 x 0.25 -> 10. Total 100.00, 良好.
            "员工编号": "E001",
            "姓名": "李娜",
            "岗位": "高级客户经理",
            "基数存款日均(万元)": 1000,
            "本期存款日均(万元)": 1300,
            **common,
            "实收贷款本息(万元)": 995,
            "新开对公基本账户(个)": 10,
        },
        {
            "员工编号": "E002",
            "姓名": "张伟",
            "岗位": "支行行长",
            "基数存款日均(万元)": 5000,
            "本期存款日均(万元)": 6500,
            **common,
            "实收贷款本息(万元)": 1000,
            "上年同期中间业务收入(万元)": 100,
            "本期中间业务收入(万元)": 120,
        },
        {
            "员工编号": "E003",
            "姓名": "刘洋",
            "岗位": "初级客户经理",
            "基数存款日均(万元)": 0,
            "本期存款日均(万元)": 100,
            **common,
            "实收贷款本息(万元)": 1000,
            "新开对公基本账户(个)": 1,
            "重大违规违纪": "否",
        },
    ]
    template = build_template(tmp_path / "template.xlsx", Q3, rules)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _fill(template, inbox / "B001.xlsx", ("B001", "城东支行"), people)

    result = run(Q3, inbox, tmp_path / "output", load_rulebook(), jobs=1)

    assert result.files_refused == []
    assert result.scored == 3 and result.refused_people == 0
    with (tmp_path / "output" / "2026Q3" / "results.csv").open(encoding="utf-8-sig") as fh:
        rows = {r["emp_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"E001", "E002", "E003"}
    assert {r["status"] for r in rows.values()} == {"scored"}
    senior = rows["E001"]
    assert (senior["role"], senior["branch_code"], senior["period"]) == ("senior", "B001", "2026Q3")
    assert senior["total"] == "100.00"
    assert senior["grade"] == "良好"
    assert senior["outcome"] == "正常"
    # Head: growth 30% -> 40; NPL 0 -> 30; collection 100% -> 30 (capped); income +20% -> 10. 110.
    assert rows["E002"]["total"] == "110.00"
    assert rows["E002"]["grade"] == "优秀"


def test_template_command_writes_the_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kpi_excel.cli import main

    target = tmp_path / "模板.xlsx"
    res = CliRunner().invoke(main, ["template", "2026Q3", "-o", str(target)])
    assert res.exit_code == 0 and f"已生成 {target}" in res.output
    import openpyxl

    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["说明", "基本信息", "考核数据"]
    res = CliRunner().invoke(main, ["template", "2026Q3", "--roster", str(tmp_path / "none.csv")])
    assert res.exit_code == 2 and "找不到花名册文件" in res.output
