"""Organisation grouping: 上级机构 in 基本信息 or an organisation table (--org), the grouped
全行汇总 with parent subtotals, per-parent summary workbooks above the branch-sheet cap."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import GOOD_HEAD, GOOD_SENIOR, Inbox, person

# 7 branches under 3 parents (B005 under 华北分行 only by the organisation table), one
# person of B002 refused (negative deposit), people differing in deposits.
BRANCHES = {
    "B001": ("一支行", "华东分行"),
    "B002": ("二支行", "华东分行"),
    "B003": ("三支行", "华东分行"),
    "B004": ("四支行", "华南分行"),
    "B005": ("五支行", ""),
    "B006": ("六支行", "华北分行"),
    "B007": ("七支行", "华北分行"),
}
ORG = {"B005": "华北分行"}


def _fill(inbox: Inbox) -> None:
    for n, (code, (name, parent)) in enumerate(BRANCHES.items(), start=1):
        rows = [
            person(GOOD_HEAD, emp_id=f"H{n}", deposit_avg=str(1100 + 50 * n)),
            person(GOOD_SENIOR, emp_id=f"S{n}", deposit_avg=str(1000 + 60 * n)),
        ]
        if code == "B002":
            rows.append(person(GOOD_SENIOR, emp_id="X2", deposit_avg="-1"))
        extra = {"上级机构": parent} if parent else None
        inbox.add(f"{code}.xlsx", rows, code=code, name=name, extra_info=extra)


def _org_file(tmp: Path) -> Path:
    path = tmp / "org.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["机构号", "上级机构"])
        w.writerows(ORG.items())
    return path


def _mean(totals: list[str]) -> Decimal:
    mean = sum(Decimal(t) for t in totals) / len(totals)
    return mean.quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def grouped(inbox: Inbox, tmp_path: Path) -> Inbox:
    _fill(inbox)
    res = inbox.run("--org", str(_org_file(tmp_path)))
    assert res.exit_code == 1, res.output  # one person not scored
    return inbox


def test_summary_groups_branches_by_parent_with_subtotals(grouped: Inbox) -> None:
    results = grouped.results()
    ws = openpyxl.load_workbook(grouped.out / "2026Q3" / "summary.xlsx")["全行汇总"]
    assert [c.value for c in ws[2]][:7] == [
        "上级机构", "机构号", "机构名称", "人数", "已计分", "未计分", "平均综合得分",
    ]  # fmt: skip
    rows = [r[:7] for r in ws.iter_rows(min_row=3, values_only=True)][:11]
    shown = [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
    assert shown == [  # parents by name, each subtotal first, then its branches by 机构号
        ("华东分行", None, "小计", 7, 6, 1),
        ("华东分行", "B001", "一支行", 2, 2, 0),
        ("华东分行", "B002", "二支行", 3, 2, 1),
        ("华东分行", "B003", "三支行", 2, 2, 0),
        ("华北分行", None, "小计", 6, 6, 0),
        ("华北分行", "B005", "五支行", 2, 2, 0),  # from the organisation table
        ("华北分行", "B006", "六支行", 2, 2, 0),
        ("华北分行", "B007", "七支行", 2, 2, 0),
        ("华南分行", None, "小计", 2, 2, 0),
        ("华南分行", "B004", "四支行", 2, 2, 0),
        (None, None, "全行合计", 15, 14, 1),
    ]
    scored = {e: r for e, r in results.items() if r["status"] == "scored"}
    for row, codes in ((0, "B001 B002 B003"), (4, "B005 B006 B007"), (8, "B004")):
        totals = [r["total"] for r in scored.values() if r["branch_code"] in codes.split()]
        assert Decimal(str(rows[row][6])) == _mean(totals)  # the mean of its people's totals
    assert Decimal(str(rows[10][6])) == _mean([r["total"] for r in scored.values()])
    assert ws.cell(3, 1).font.b and not ws.cell(4, 1).font.b  # subtotal rows stand out
    book = openpyxl.load_workbook(grouped.out / "2026Q3" / "summary.xlsx")
    assert len(book.sheetnames) == 3 + 7  # under the cap: every branch's sheet is here
    assert not (grouped.out / "2026Q3" / "summaries").exists()
    with (grouped.out / "2026Q3" / "branches.csv").open(encoding="utf-8-sig") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [(r["上级机构"], r["机构号"], r["人数"]) for r in csv_rows[:2]] == [
        ("华东分行", "", "7"),
        ("华东分行", "B001", "2"),
    ]
    assert csv_rows[-1]["机构名称"] == "全行合计" and len(csv_rows) == 11


def test_above_the_cap_each_parent_has_its_own_summary_workbook(inbox: Inbox) -> None:
    _fill(inbox)
    res = inbox.run("--branch-sheets", "2")
    assert res.exit_code == 1, res.output
    period = inbox.out / "2026Q3"
    book = openpyxl.load_workbook(period / "summary.xlsx")
    assert book.sheetnames == ["全行汇总", "全行排名", "预警与处理"]  # no branch sheets
    books = sorted(p.relative_to(period).as_posix() for p in (period / "summaries").iterdir())
    # 华东分行 has 3 branches: two workbooks of at most 2 sheets; B005 names no parent here
    assert books == [
        "summaries/华东分行_1.xlsx", "summaries/华东分行_2.xlsx", "summaries/华北分行.xlsx",
        "summaries/华南分行.xlsx", "summaries/未指定上级机构.xlsx",
    ]  # fmt: skip
    sheets = {b: openpyxl.load_workbook(period / b).sheetnames[2:] for b in books}
    assert sheets["summaries/华东分行_1.xlsx"] == ["B001 一支行", "B002 二支行"]
    assert sheets["summaries/华东分行_2.xlsx"] == ["B003 三支行"]
    assert sheets["summaries/华北分行.xlsx"] == ["B006 六支行", "B007 七支行"]
    assert sheets["summaries/未指定上级机构.xlsx"] == ["B005 五支行"]
    east = openpyxl.load_workbook(period / "summaries/华东分行_1.xlsx")
    assert east.sheetnames[:2] == ["全行排名", "预警与处理"]  # of its own people
    ws = east["B002 二支行"]
    assert [r[0] for r in ws.iter_rows(min_row=3, values_only=True)] == ["H2", "S2", "X2"]
    ranked = {r[4]: r[0] for r in east["全行排名"].iter_rows(min_row=3, values_only=True)}
    results = inbox.results()
    assert ranked == {e: int(results[e]["rank_bank"]) for e in ("H1", "S1", "H2", "S2")}
    note = book["全行排名"]["A3"].value  # the bank summary points to them
    assert note.startswith("机构超过本工作簿所含明细的上限,本表按上级机构分列在 summaries/ 下的5个")
    ws = book["全行汇总"]
    header = [c.value for c in ws[2]]
    at = header.index("明细所在工作簿")
    pointers = {r[1] or r[0]: r[at] for r in ws.iter_rows(min_row=3, values_only=True)}
    assert pointers["B003"] == "summaries/华东分行_2.xlsx"  # each branch points to its book
    assert pointers["华东分行"] == "summaries/华东分行_1.xlsx、summaries/华东分行_2.xlsx"


def test_the_cap_comes_from_the_rulebook(inbox: Inbox, tmp_path: Path) -> None:
    from kpi_excel.rulebook import load_rulebook

    text = load_rulebook().path.read_text(encoding="utf-8")
    rulebook = tmp_path / "rules.yaml"
    rulebook.write_text(text.replace("branch_sheets: 300", "branch_sheets: 2"), encoding="utf-8")
    _fill(inbox)
    assert inbox.run("--rules", str(rulebook)).exit_code == 1
    assert (inbox.out / "2026Q3" / "summaries" / "华北分行.xlsx").is_file()


def test_without_parents_the_summary_is_as_before(inbox: Inbox) -> None:
    inbox.add("a.xlsx", [person(GOOD_HEAD)], code="B001", name="一支行")
    assert inbox.run().exit_code == 0
    period = inbox.out / "2026Q3"
    ws = openpyxl.load_workbook(period / "summary.xlsx")["全行汇总"]
    assert [c.value for c in ws[2]][:2] == ["机构号", "机构名称"]
    assert not (period / "branches.csv").exists() and not (period / "summaries").exists()


def test_a_bad_organisation_table_is_refused_in_chinese(inbox: Inbox, tmp_path: Path) -> None:
    _fill(inbox)
    org = tmp_path / "org.csv"
    org.write_text("机构号,上级机构\nB001,华东分行\nB001,华南分行\n", encoding="utf-8")
    res = inbox.run("--org", str(org))
    assert res.exit_code == 2
    assert (
        "机构对照表 org.csv 第3行:机构号「B001」的上级机构「华南分行」与前面所写的「华东分行」不同"
        in res.output
    )
    org.write_text("机构号,分行\nB001,华东分行\n", encoding="utf-8")
    assert "机构对照表 org.csv 缺少列「上级机构」" in inbox.run("--org", str(org)).output


def test_report_cuts_long_lists_and_points_to_the_csv(inbox: Inbox, tmp_path: Path) -> None:
    from kpi_excel.rulebook import load_rulebook

    text = load_rulebook().path.read_text(encoding="utf-8")
    rulebook = tmp_path / "rules.yaml"
    rulebook.write_text(text.replace("list_rows: 200", "list_rows: 2"), encoding="utf-8")
    for n in range(1, 4):  # three branches, each with one person not scored
        rows = [person(GOOD_HEAD, emp_id=f"H{n}"), person(GOOD_SENIOR, emp_id=f"X{n}", name="")]
        inbox.add(f"b{n}.xlsx", rows, code=f"B00{n}", name=f"{n}支行")
    assert inbox.run("--rules", str(rulebook)).exit_code == 1
    period = inbox.out / "2026Q3"
    page = (period / "report.html").read_text(encoding="utf-8")
    assert "此处仅列出前 2 条,共 3 条;完整清单见 branches.csv 和 summary.xlsx 的全行汇总。" in page
    assert "此处仅列出前 2 条,共 3 条;完整清单见 results.csv(status 为 rejected 的行" in page
    assert (
        page.count("<td>3支行</td>") == 0 and page.count("<td>2支行</td>") == 2
    )  # branches, refused
    assert "各机构平均综合得分" not in page  # no bar per branch for a cut list
    with (period / "branches.csv").open(encoding="utf-8-sig") as fh:
        assert [r["机构号"] for r in csv.DictReader(fh)] == ["B001", "B002", "B003", ""]
