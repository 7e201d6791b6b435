"""summary.xlsx (HR workbook) and report.html (run report) on the 2026Q3 sample inbox."""

from __future__ import annotations

import dataclasses
import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from markupsafe import escape
from xlsxwriter.exceptions import DuplicateWorksheetName, InvalidWorksheetName

from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run
from kpi_excel.report import write_report
from kpi_excel.rulebook import load_rulebook
from kpi_excel.write import fastsheet, summary
from kpi_excel.write.summary import safe_sheet_name, write_summary
from tests.support.cells import cells

Q3 = parse_period("2026Q3", load_rulebook().calendar)
SAMPLES = Path(__file__).resolve().parents[1] / "sample_workbooks" / "2026Q3"
BRANCHES = [f"B00{i}" for i in range(1, 9)]
BAD_XLS = "旧格式&<b>.xls"  # refused by its suffix; its name must come out escaped


@pytest.fixture(scope="module")
def rules():
    return load_rulebook()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, rules):
    """The sample inbox plus one refused file, run once for the module."""
    tmp = tmp_path_factory.mktemp("summary_report")
    inbox = tmp / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / BAD_XLS).write_bytes(b"not a workbook")
    result = run(Q3, inbox, tmp / "out", rules, jobs=1)
    summary = write_summary(result.out_dir / "summary.xlsx", result, rules)
    inputs = [{"name": "城东支行.xlsx", "size": 12345, "sha256": "ab" * 32}]
    report = write_report(result.out_dir / "report.html", result, rules, inputs)
    return result, summary, report


@pytest.fixture(scope="module")
def book(runs):
    return openpyxl.load_workbook(runs[1])


@pytest.fixture(scope="module")
def page(runs):
    return runs[2].read_text(encoding="utf-8")


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(min_row=3, values_only=True))  # row 1 title, row 2 headers


def _headers(ws) -> list[str]:
    return [c.value for c in ws[2]]


def test_sheets(book):
    names = book.sheetnames
    assert names[:3] == ["全行汇总", "全行排名", "预警与处理"]
    branch_sheets = names[3:]
    assert len(branch_sheets) == len(BRANCHES)
    for code, sheet in zip(BRANCHES, branch_sheets, strict=True):
        assert sheet.startswith(code + " ")
    assert "B004 城南支行" in names


def test_totals_row_matches_people(runs, book, rules):
    result = runs[0]
    ws = book["全行汇总"]
    headers = _headers(ws)
    row = dict(zip(headers, next(r for r in _rows(ws) if r[0] == "B002"), strict=True))
    people = result.people[result.people["branch_code"] == "B002"]
    scored = people[~people["refused"]]
    assert row["机构名称"] == "城东支行"
    assert row["人数"] == len(people) == 12
    assert row["已计分"] == len(scored) == 10
    assert row["未计分"] == 2
    assert row["平均综合得分"] == pytest.approx(round(scored["total"].mean(), 2), abs=0.005)
    for grades in rules.grades.values():
        for grade, _, _ in grades:
            assert row[grade] == int((scored["grade"] == grade).sum()), grade
    for outcome in rules.outcomes.values():
        assert row[outcome] == int((scored["outcome"] == outcome).sum()), outcome
    bank = dict(zip(headers, _rows(ws)[len(BRANCHES)], strict=True))
    assert bank["机构名称"] == "全行合计"
    assert bank["人数"] == len(result.people)
    assert bank["已计分"] == result.scored


def test_average_is_rounded_half_away(book):
    # 城北支行: eight totals summing to 849.64, mean 106.205 -> 106.21 (not 106.20)
    row = next(r for r in _rows(book["全行汇总"]) if r[0] == "B005")
    assert row[5] == 106.21


def test_native_charts(runs):
    with zipfile.ZipFile(runs[1]) as z:
        names = z.namelist()
        assert "xl/charts/chart1.xml" in names and "xl/charts/chart2.xml" in names
        assert "全行考核等级分布" in z.read("xl/charts/chart1.xml").decode("utf-8")


def test_ranking_sorted_by_group_then_rank(runs, book):
    rows = _rows(book["全行排名"])
    assert len(rows) == runs[0].scored
    groups = [r[1] for r in rows]
    assert groups == sorted(groups, key=["行长", "客户经理"].index)
    managers = [r[0] for r in rows if r[1] == "客户经理"]
    assert managers == sorted(managers)
    assert rows[0][1:6] == ("行长", "B006", "高新区支行", "E10320", "曹英")


def test_flags_sheet(book):
    ws = book["预警与处理"]
    rows = [dict(zip(_headers(ws), r, strict=True)) for r in _rows(ws)]
    violation = [r for r in rows if r["员工编号"] == "E10278"]
    assert [(r["姓名"], r["标志代码"], r["处理"]) for r in violation] == [
        ("董海燕", "A14-3-VIOLATION", "解聘")
    ]
    assert violation[0]["依据"] == "第十四条第(三)款"
    warned = {r["标志代码"]: r for r in rows if r["员工编号"] == "E10140"}
    assert set(warned) == {"A14-2-SCORE70", "A14-2-SCORE85"}
    assert warned["A14-2-SCORE70"]["类别"] == "预警"
    assert warned["A14-2-SCORE70"]["处理"] == "年度考核时将解聘(本期仅预警)"
    # the flag's name beside its code, what raises it, the person's own figure
    total = f"{warned['A14-2-SCORE70']['综合得分']:.2f}"
    assert (
        warned["A14-2-SCORE70"]["情形"],
        warned["A14-2-SCORE70"]["认定条件"],
        warned["A14-2-SCORE70"]["本人数据"],
    ) == ("客户经理综合得分过低", "综合得分70分(含)以下", f"综合得分{total}分")
    assert _headers(ws).index("标志代码") == _headers(ws).index("情形") + 1


def test_branch_sheet(book):
    ws = book["B002 城东支行"]
    headers = _headers(ws)
    assert headers == [
        "员工编号",
        "姓名",
        "岗位",
        "综合得分",
        "考核等级",
        "支行内排名",
        "全行排名",
        "考核结论",
        "建议职级",
        "预警与处理",
    ]  # the item scores are in the branch's own workbook
    rows = [dict(zip(headers, r, strict=True)) for r in _rows(ws)]
    assert len(rows) == 12
    assert rows[0]["姓名"] == "高浩然"  # the head first, then managers by rank
    assert rows[1]["姓名"] == "徐超" and rows[1]["支行内排名"] == 1
    managers = [r["支行内排名"] for r in rows[1:] if r["综合得分"] is not None]
    assert managers == sorted(managers)
    assert all(isinstance(r["全行排名"], int) for r in rows[:10])
    refused = [r for r in rows if r["考核结论"] == "未计分"]
    assert {r["员工编号"] for r in refused} == {"E10109", "E10119"}
    assert rows[-2:] == refused  # after everyone who was scored
    for r in refused:
        assert r["综合得分"] is None and r["全行排名"] is None
        assert r["预警与处理"].startswith("未计分原因:") and "城东支行.xlsx" in r["预警与处理"]
    assert ws.freeze_panes == "C3"
    assert ws.page_setup.orientation == "landscape"


def test_branch_sheet_flags(runs, book):
    people = runs[0].people
    person = people[people["emp_id"] == "E10140"].iloc[0]
    ws = book[next(s for s in book.sheetnames if s.startswith(person["branch_code"] + " "))]
    rows = [dict(zip(_headers(ws), r, strict=True)) for r in _rows(ws)]
    row = next(r for r in rows if r["员工编号"] == "E10140")
    assert row["预警与处理"] == person["flags_text"]
    assert row["全行排名"] == person["rank_bank"]
    assert row["综合得分"] == pytest.approx(person["total"])


def test_text_is_never_a_formula(tmp_path, runs, rules):
    result = runs[0]
    people = result.people.copy()
    people.loc[people.index[0], "name"] = '=HYPERLINK("http://x")'
    people.loc[people.index[1], "name"] = "坏\x01字符"
    people.loc[people.index[2], "name"] = "@SUM(A1)"
    path = write_summary(tmp_path / "s.xlsx", dataclasses.replace(result, people=people), rules)
    book = openpyxl.load_workbook(path)
    for sheet, column in (("B002 城东支行", "B"), ("全行排名", "F")):  # 姓名
        names = {c.value: c.data_type for c in book[sheet][column]}
        # U+0001 is kept, written as Excel's escape _x0001_ (which openpyxl does not decode)
        for name in ('=HYPERLINK("http://x")', "坏_x0001_字符", "@SUM(A1)"):
            assert names.get(name, "s") == "s", (sheet, name)
        assert not any("\x01" in str(v) for v in names)
    names = {c.value for c in book["B002 城东支行"]["B"]}
    assert {'=HYPERLINK("http://x")', "坏_x0001_字符", "@SUM(A1)"} <= names


def test_long_text_is_cut_to_excel_limit(tmp_path, runs, rules):
    result = runs[0]
    people = result.people.copy()
    refused = people.index[people["refused"] & (people["emp_id"] == "E10119")][0]
    people.loc[refused, "errors"] = "长" * 40000
    path = write_summary(tmp_path / "s.xlsx", dataclasses.replace(result, people=people), rules)
    ws = openpyxl.load_workbook(path)["B002 城东支行"]
    row = next(r for r in _rows(ws) if r[0] == "E10119")
    assert len(row[-1]) == 32767 and row[-1].startswith("未计分原因:长")


def test_fast_cells_same_workbook_as_xlsxwriter(tmp_path, runs, rules, monkeypatch):
    """The fast worksheet gives the same cells, values and styles as XlsxWriter's own calls."""
    assert fastsheet.fast_cells_match()
    fast = write_summary(tmp_path / "fast.xlsx", runs[0], rules)
    monkeypatch.setattr(fastsheet, "fast_cells_match", lambda: False)
    plain = write_summary(tmp_path / "plain.xlsx", runs[0], rules)
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(plain) as b:
        assert "xl/sharedStrings.xml" in b.namelist()
        assert {n for n in a.namelist() if n != "xl/sharedStrings.xml"} <= set(b.namelist())
    found = cells(fast)
    assert len(found) > 1000
    assert found == cells(plain)


def test_fast_cells_check_notices_a_difference(monkeypatch):
    def wrong(ref, s, text):
        return f'{ref}{s} t="inlineStr"><is><t>{text}</t></is></c>'  # no escaping

    monkeypatch.setattr(fastsheet, "_string", wrong)
    assert not fastsheet.fast_cells_match.__wrapped__()


def test_sheet_names_checked_against_a_set_as_xlsxwriter_would():
    wb = summary._ManySheets(io.BytesIO(), {"in_memory": True})
    wb.add_worksheet("B1 城东")
    with pytest.raises(DuplicateWorksheetName):
        wb.add_worksheet("b1 城东")  # Excel ignores case
    with pytest.raises(InvalidWorksheetName):
        wb.add_worksheet("a/b")  # XlsxWriter's own checks still run
    wb.add_worksheet("B2 城西")
    assert [ws.name for ws in wb.worksheets()] == ["B1 城东", "B2 城西"]
    wb.close()


def test_workbooks_deflated_quickly_and_xlsxwriter_left_as_it_was(tmp_path):
    for in_memory in (True, False):
        path = tmp_path / f"w{in_memory}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"in_memory": in_memory})
        wb.add_worksheet().write_string(0, 0, "甲" * 2000)
        fastsheet.close_workbook(wb)
        assert xlsxwriter.workbook.ZipInfo is zipfile.ZipInfo
        assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile
        assert openpyxl.load_workbook(path).active["A1"].value == "甲" * 2000
        with zipfile.ZipFile(path) as z:
            assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())


def test_safe_sheet_name():
    taken: set[str] = set()
    assert safe_sheet_name("B1 城东[支行]:*?/\\", taken) == "B1 城东_支行______"
    long = "B9 " + "很长的机构名称" * 10
    first = safe_sheet_name(long, taken)
    second = safe_sheet_name(long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second
    assert safe_sheet_name("'quoted'", taken) == "quoted"
    assert safe_sheet_name("QUOTED", taken) != "QUOTED"  # Excel ignores case


def test_report_lists_what_was_read(runs, page, rules):
    result = runs[0]
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page
    assert "2026Q3 考核运行报告" in page
    assert result.files_total == 9 and len(result.files_refused) == 1
    assert "<svg" in page
    assert rules.sha256 in page
    assert "ab" * 32 in page  # the inputs table
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert "<script" not in page and "<link" not in page


def test_report_reasons_escaped(runs, page):
    result = runs[0]
    for file, reason in result.files_refused:
        assert str(escape(file)) in page
        assert str(escape(reason)) in page
    assert "旧格式&amp;&lt;b&gt;.xls" in page
    refused = result.people[result.people["refused"]]
    assert len(refused) == 6
    for reason in refused["errors"]:
        for part in reason.split("; "):
            assert str(escape(part)) in page
    for name in refused["name"]:
        assert name in page


def test_report_notes_collapsible(runs, page):
    notes = runs[0].problems[runs[0].problems["level"] == "note"]
    assert len(notes) > 0
    assert f"展开全部 {len(notes)} 条提示" in page
    assert "<details>" in page
    assert str(escape(notes["message"].iloc[0])) in page


def test_report_escapes_script_file_name(tmp_path, runs, rules):
    result = runs[0]
    evil = "<script>alert(1)</script>.xlsx"
    fake = dataclasses.replace(
        result, files_refused=[*result.files_refused, (evil, f"{evil} 无法读取:不是有效的工作簿")]
    )
    out = write_report(tmp_path / "report.html", fake, rules).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.xlsx" in out
    assert "<script>alert" not in out
    assert "未记录输入文件的校验值" in out  # inputs=None


def test_empty_run(tmp_path, rules):
    """Nobody to score (the one file refused; an inbox with no file at all is not run)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "旧.xls").write_bytes(b"old")
    result = run(Q3, inbox, tmp_path / "out", rules, jobs=1)
    book = openpyxl.load_workbook(write_summary(tmp_path / "s.xlsx", result, rules))
    assert book.sheetnames == ["全行汇总", "全行排名", "预警与处理"]
    page = write_report(tmp_path / "r.html", result, rules).read_text(encoding="utf-8")
    assert "<svg" in page and rules.sha256 in page
