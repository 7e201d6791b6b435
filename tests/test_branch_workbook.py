"""The branch head's workbook (考核结果, 计分说明, 原始数据) and the explanations behind it."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from kpi_excel.explain import explain_person
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run
from kpi_excel.read import read_workbook
from kpi_excel.rulebook import load_rulebook
from kpi_excel.write import fastsheet
from kpi_excel.write.branch import write_branch
from kpi_excel.write.branch_sheets import _raw_cell, _raw_column
from kpi_excel.write.prerender import prerender
from kpi_excel.write.rows import prepare
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, Inbox, person
from tests.support.cells import cells

# openpyxl drops the x14 data-bar extension it cannot read; the test only reads the file
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")

PERIOD = parse_period("2026Q3", load_rulebook().calendar)
FILE = "第一支行.xlsx"
HYPERLINK = '=HYPERLINK("http://x","y")'

# Row 2: a head whose deposit and income items are capped.
CAPPED_HEAD = person(GOOD_HEAD, deposit_avg="1500", mid_income="140")
# Row 6: a junior capped on deposits, floored on collection, pro rata on accounts.
JUNIOR = person(
    GOOD_SENIOR, emp_id="J001", name="钱七", role="初级客户经理", deposit_base="0",
    deposit_avg="150", npl_balance="20", collected_amount="980", new_accounts="1",
    conduct_deduction="2",
)  # fmt: skip
ROWS = [
    CAPPED_HEAD,
    GOOD_SENIOR,  # row 3
    person(GOOD_SENIOR, emp_id="E002", name="王五", deposit_avg="约100"),  # row 4: refused (E4)
    person(GOOD_SENIOR, emp_id="E003", name="赵六", loan_balance="1,000"),  # row 5: note (F5)
    JUNIOR,
]


@pytest.fixture(scope="module")
def rules():
    return load_rulebook()


@pytest.fixture(scope="module")
def scored(tmp_path_factory, rules):
    """The run's people and problems for one small inbox, and the workbook as read."""
    box = Inbox(tmp_path_factory.mktemp("branch"))
    path = box.add(FILE, ROWS)
    result = run(PERIOD, box.dir, box.out, rules, jobs=1)
    book = read_workbook(path, FILE, rules.contract)
    return result, book


@pytest.fixture(scope="module")
def workbook(scored, rules, tmp_path_factory) -> Path:
    result, book = scored
    people = result.people.copy()
    people.loc[people["emp_id"] == "E003", "name"] = HYPERLINK
    out = tmp_path_factory.mktemp("out") / "B001_第一支行.xlsx"
    title = "第一支行(B001) 2026Q3 客户经理考核结果"
    written = write_branch(out, people, title, rules, PERIOD, book, result.problems)
    assert written == out
    return out


def _rows(ws) -> list[tuple]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def _person(people: pd.DataFrame, emp_id: str) -> pd.Series:
    return people[people["emp_id"] == emp_id].iloc[0]


# ---- explain_person --------------------------------------------------------------------------


def test_explain_head_with_capped_items(scored, rules) -> None:
    head = _person(scored[0].people, "H001")
    lines = dict(explain_person(head, rules, PERIOD))
    assert lines["存款"] == (
        "新增存款日均增幅50.00%,目标30%,每±1个百分点±2分:40+40.00=80.00分,"
        "超过上限60分,封顶60.00分(第十三条(扣分标准1))"
    )
    assert lines["中间业务收入"] == (
        "中间业务收入增幅40.00%,目标20%,每±2个百分点±1分:10+10.00=20.00分,"
        "超过上限15分,封顶15.00分(第十三条(扣分标准3))"
    )
    assert lines["不良率"] == "不良率0.00%,为0档:30.00分(第十三条(扣分标准4))"
    assert lines["收贷收息率"] == (
        "收贷收息率99.50%,目标99.5%,每±0.1个百分点±2分:20+0.00=20.00分(第十三条(扣分标准2))"
    )
    assert lines["业务得分"] == "存款60.00+不良率30.00+收贷收息率20.00+中间业务收入15.00=125.00分"
    assert lines["综合得分"] == "业务得分125.00-行为规范扣分0分=125.00分"
    assert lines["考核等级"] == "综合得分125.00分,行长110分(含)以上:优秀(第十四条)"
    assert lines["考核结论"] == "正常,建议职级:支行行长"
    assert "预警与处理" not in lines


def test_explain_junior_capped_floored_and_pro_rata(scored, rules) -> None:
    junior = _person(scored[0].people, "J001")
    lines = explain_person(junior, rules, PERIOD)
    text = dict(lines)
    assert text["存款"] == (
        "新增存款日均完成率(目标100万元)150.00%(新增存款日均150万元),目标100%,"
        "每±1个百分点±2分:40+100.00=140.00分,超过上限60分,封顶60.00分(第十三条(扣分标准1))"
    )
    assert text["不良率"] == "不良率2.00%,超过1%、不超过5%档:10.00分(第十三条(扣分标准4))"
    assert text["收贷收息率"] == (
        "收贷收息率98.00%,目标99.5%,每±0.1个百分点±2分:20-30.00=-10.00分,"
        "低于下限0分,保底0.00分(第十三条(扣分标准2))"
    )
    assert text["新开对公基本账户"] == (
        "新开对公基本账户1个,本期目标1.25个(全年5个×3/12),按完成比例:10×1/1.25=8.00分"
        "(第十三条(无加分规定,按完成比例计分))"
    )
    assert text["业务得分"] == "存款60.00+不良率10.00+收贷收息率0.00+新开对公基本账户8.00=78.00分"
    assert text["行为规范扣分"] == "行为规范扣分2分(第十四条第(三)款)"
    assert text["综合得分"] == "业务得分78.00-行为规范扣分2分=76.00分"
    assert text["考核等级"] == ("综合得分76.00分,客户经理超过70分、85分(含)以下:基本合格(第十四条)")
    assert [s for item, s in lines if item == "预警与处理"] == [
        "收贷收息率未达标(A14-2-COLLECTION):收贷收息率低于99%(第十四条第(二)款第2项),"
        "本人收贷收息率98.00%;降级",
        "客户经理综合得分未达标(A14-2-SCORE85):综合得分85分(含)以下(第十四条第(二)款第3项),"
        "本人综合得分76.00分;年度考核时将降级(本期仅预警)",
    ]
    assert text["考核结论"] == "降级,建议职级:业务代办员"
    # the scores explained are the scores given
    assert (junior["score_deposit"], junior["score_collection"], junior["total"]) == (60, 0, 76)


def test_explain_from_the_ledger_renders_what_the_run_decided(scored, rules) -> None:
    result, _ = scored
    from click.testing import CliRunner

    from kpi_excel.cli import main

    for emp in ("H001", "E001", "J001"):
        from_people = explain_person(_person(result.people, emp), rules, PERIOD)
        got = CliRunner().invoke(
            main, ["explain", "2026Q3", emp, "--output", str(result.out_dir.parent)]
        )
        assert got.exit_code == 0, got.output
        lines = got.output.splitlines()[1:]
        assert lines == [f"{label}: {sentence}" for label, sentence in from_people]
    refused = _person(result.people, "E002")
    assert explain_person(refused, rules, PERIOD) == [
        ("未计分", "第一支行.xlsx 考核数据!E4「本期存款日均」应为数字,实际为「约100」")
    ]


# ---- the workbook ----------------------------------------------------------------------------


def test_sheets_and_results(workbook, scored) -> None:
    people = scored[0].people
    wb = openpyxl.load_workbook(workbook)
    assert wb.sheetnames == ["考核结果", "计分说明", "原始数据"]
    ws = wb["考核结果"]
    assert ws["A1"].value == "第一支行(B001) 2026Q3 客户经理考核结果"
    header = [c.value for c in ws[3]]
    col = {label: i for i, label in enumerate(header)}
    body = {r[0]: r for r in _rows(ws)[3:] if r[0]}
    assert set(body) == set(people["emp_id"])
    for rec in people.to_dict("records"):
        row = body[rec["emp_id"]]
        if rec["refused"]:
            assert row[col["状态"]] == "未计分" and row[col["综合得分"]] is None
            assert row[col["未计分原因"]] == rec["errors"]
        else:
            assert row[col["状态"]] == "已计分"
            assert row[col["综合得分"]] == pytest.approx(rec["total"], abs=1e-9)
            assert row[col["考核等级"]] == rec["grade"]
            assert row[col["全行排名"]] == rec["rank_bank"]
    assert "「本期存款日均」应为数字,实际为「约100」" in body["E002"][col["未计分原因"]]
    assert body["H001"][col["综合得分"]] == 125
    assert body["J001"][col["预警与处理(依据条款)"]].count("\n") == 1  # two flags, two lines
    assert body["J001"][col["新增存款日均增幅"]] is None  # junior: growth not used


def test_outcome_colours_and_data_bar(workbook) -> None:
    ws = openpyxl.load_workbook(workbook)["考核结果"]
    fills = {r[0].value: r[0].fill.fgColor.rgb for r in ws.iter_rows(min_row=4) if r[0].value}
    assert fills["J001"].endswith("F8B26A")  # 降级: orange
    assert fills["E002"].endswith("D9D9D9")  # 未计分: grey
    assert fills["H001"] in (None, "00000000")  # 正常: none
    kinds = [r.type for cf in ws.conditional_formatting for r in cf.rules]
    ranges = [str(cf.sqref) for cf in ws.conditional_formatting]
    assert kinds == ["dataBar"] and ranges == ["R4:R8"]


def test_explain_sheet_has_every_item(workbook, scored, rules) -> None:
    ws = openpyxl.load_workbook(workbook)["计分说明"]
    header = [c.value for c in ws[3]]
    assert header == ["员工编号", "姓名", "岗位", "存款", "不良率", "收贷收息率", "中间业务收入",
                      "新开对公基本账户", "得分合计与等级", "预警、处理与结论"]  # fmt: skip
    rows = {r[0]: r for r in _rows(ws)[3:] if r[0]}
    assert rows["E001"][3] == (
        "新增存款日均增幅30.00%,目标30%,每±1个百分点±2分:40+0.00=40.00分(第十三条(扣分标准1))"
    )
    for rec in scored[0].people.to_dict("records"):
        if rec["refused"]:
            continue
        lines = explain_person(rec, rules, PERIOD)
        cells = "\n".join(v for v in rows[rec["emp_id"]][3:] if v)
        assert [t for _, t in lines] == cells.split("\n")  # every line, in order
    assert rows["E002"][3].startswith("未计分:第一支行.xlsx 考核数据!E4")


def test_raw_sheet_marks_problem_cells(workbook) -> None:
    ws = openpyxl.load_workbook(workbook)["原始数据"]
    header = [c.value for c in ws[3]]
    assert header[0] == "Excel行号"
    assert header[5] == "本期存款日均(万元)\n(E列)"
    excel_rows = [ws.cell(row=r, column=1).value for r in range(4, 9)]
    assert excel_rows == [2, 3, 4, 5, 6]
    refused = ws.cell(row=6, column=6)  # Excel row 4, column E
    assert refused.value == "约100"
    assert refused.fill.fgColor.rgb.endswith("FFC7CE")
    assert (
        refused.comment.text == "第一支行.xlsx 考核数据!E4「本期存款日均」应为数字,实际为「约100」"
    )
    noted = ws.cell(row=7, column=7)  # Excel row 5, column F: "1,000" typed as text
    assert noted.value == "1,000" and noted.data_type == "s"
    assert noted.fill.fgColor.rgb.endswith("FFEB9C")
    assert "以文本形式填写「1,000」,已按数字 1000 读取" in noted.comment.text
    clean = ws.cell(row=4, column=6)
    assert clean.value == 1500 and clean.comment is None
    listed = [c.value for c in ws["A"] if isinstance(c.value, str)]
    assert refused.comment.text in listed  # comments do not print; the list below does


def test_print_setup(workbook) -> None:
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)  # 1: default
        assert ws.print_title_rows == "$1:$3"
        assert ws.freeze_panes in ("C4", "B4")


def test_branch_text_is_never_a_formula(workbook) -> None:
    wb = openpyxl.load_workbook(workbook)
    cell = next(c for c in wb["考核结果"]["B"] if c.value == HYPERLINK)
    assert cell.data_type == "s"
    with zipfile.ZipFile(workbook) as z:
        sheets = [n for n in z.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml$", n)]
        assert sheets
        found = 0
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml
            # the text only ever inside a string cell's <is><t>…</t></is>
            strings = "".join(re.findall(r"<is><t[^>]*>(.*?)</t></is>", xml, re.S))
            assert xml.count("HYPERLINK") == strings.count("HYPERLINK")
            found += strings.count("HYPERLINK")
        assert found


def test_without_the_book_there_is_no_raw_sheet(scored, rules, tmp_path) -> None:
    out = write_branch(tmp_path / "b.xlsx", scored[0].people, "t", rules, PERIOD)
    assert openpyxl.load_workbook(out).sheetnames == ["考核结果", "计分说明"]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_renders_the_workbook(workbook, tmp_path) -> None:
    profile = f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"  # no clash with others
    subprocess.run(
        [
            "soffice",
            profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(workbook),
        ],  # fmt: skip
        check=True,
        capture_output=True,
        timeout=120,
    )
    pdf = tmp_path / (workbook.stem + ".pdf")
    assert pdf.exists() and pdf.stat().st_size > 0


def test_rendered_rows_same_cells_as_plain_writes(scored, rules, tmp_path, monkeypatch) -> None:
    """Rows rendered for a chunk of branches at once (as a run writes them) give the same cells,
    styles and row heights as cell-by-cell writing, with XlsxWriter's own calls too."""
    result, book = scored
    people = result.people.copy()
    # escaped, spaces kept (the _xHHHH_ escapes are compared as XML by fast_cells_match: openpyxl
    # reads them back differently from shared and from inline strings)
    people.loc[people["emp_id"] == "J001", "name"] = " 钱<七>&"
    people.loc[people["emp_id"] == "E003", "name"] = HYPERLINK
    title = "第一支行(B001) 2026Q3 客户经理考核结果"
    rows, bounds = prepare(people, rules, PERIOD)
    prerender(rows, bounds, rules)
    assert set(rows.xml) == {"考核结果", "计分说明"}
    part = rows.part(*bounds[FILE])
    fast = write_branch(tmp_path / "fast.xlsx", part, title, rules, PERIOD, book, result.problems)
    by_column = write_branch(tmp_path / "columns.xlsx", people, title, rules, PERIOD, book,
                             result.problems)  # fmt: skip
    monkeypatch.setattr(fastsheet, "fast_cells_match", lambda: False)
    plain = write_branch(tmp_path / "plain.xlsx", people, title, rules, PERIOD, book,
                         result.problems)  # fmt: skip
    found = cells(fast)
    assert len(found) > 150
    assert " 钱<七>&" in {c[2] for c in found}
    assert found == cells(by_column) == cells(plain)


def test_raw_columns_whole_or_cell_by_cell() -> None:
    """Plain number and text columns are passed on whole; anything else cell by cell."""
    nan = float("nan")
    kind, cells = _raw_column([1.5, "", 3, 2.0])
    assert kind == "number" and cells[0] == 1.5 and cells[1] != cells[1] and cells[2:] == [3.0, 2.0]
    assert _raw_column(["甲", "乙"]) == ("text", ["甲", "乙"])
    assert _raw_column(["a\x01", "\uffff"]) == ("text", ["a\x01", "\uffff"])  # XlsxWriter escapes
    lone = "\udcff"  # a lone surrogate (a file name read with surrogateescape): cell_text
    for mixed in ([1.0, "约100"], [float("inf"), 1.0], [lone], [True, 1.0], [nan, None, "x"]):
        kind, cells = _raw_column(mixed)
        assert kind == "mixed" and cells == [_raw_cell(v) for v in mixed]
