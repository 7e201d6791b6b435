"""What if the rules change: `kpi-excel compare` and `kpi_excel.compare` re-score a period's
stored inputs under another rulebook and list exactly who changes, before and after, and why.

The changed people below are computed by hand. Under the main rulebook a senior manager with
deposit growth g (deposit_base 1000), no NPL, collection rate r and 10 new accounts scores
  deposit 40 + 2·(100g − 30), npl 30, collection 20 + 2·(100r − 99.5)/0.1, accounts 10.
The other rulebook raises the managers' 合格 edge from "over 85" to "over 88" and the
A14-2-COLLECTION threshold from "below 99%" to "below 99.5%":
  E-EDGE  g 23.25%, r 99.5%: 26.50+30+20+10 = 86.50, 合格 → 基本合格
  E-88    g 24%,    r 99.5%: 28+30+20+10   = 88.00, 合格 → 基本合格 (88 is not over 88)
  E-8801  g 24.005%,r 99.5%: 88.01, 合格 stays 合格
  E-SAME  g 30%,    r 99.5%: 100.00 良好, no flag either way
  E-RATE  g 30%,    r 99.2%: 40+30+14+10 = 94.00 合格; newly A14-2-COLLECTION, 正常 → 降级
  E-990   g 30%,    r 99.0%: 40+30+10+10 = 90.00 合格; newly A14-2-COLLECTION, 正常 → 降级
  H001    a branch head with r 99.2%: heads are not in A14-2-COLLECTION's group; no change
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main
from kpi_excel.comparison import IncompatibleRules
from kpi_excel.errors import NotFound
from kpi_excel.ledger import Ledger
from kpi_excel.rulebook import default_rulebook_path
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, Inbox, person

SENIOR = {**GOOD_SENIOR, "deposit_base": "1000", "collected_amount": "995"}
EDGE_NAME = "<r>=1+1</r>"  # a name shaped like rich-string XML, holding a formula
B001 = [
    person(SENIOR, emp_id="E-SAME", name="同一"),
    person(SENIOR, emp_id="E-EDGE", name=EDGE_NAME, deposit_avg="1232.5"),
    person(SENIOR, emp_id="E-88", name="八八", deposit_avg="1240"),
    person(GOOD_HEAD, emp_id="H001", collected_amount="992"),
]
B002 = [
    person(SENIOR, emp_id="E-8801", name="八八零一", deposit_avg="1240.05"),
    person(SENIOR, emp_id="E-RATE", name="收息", collected_amount="992"),
    person(SENIOR, emp_id="E-990", name="九九", collected_amount="990"),
    person(SENIOR, emp_id="E-BAD", name="缺基数", deposit_base=""),  # refused by the run
]
CHANGED = ["E-EDGE", "E-88", "E-RATE", "E-990"]


def other_rulebook(path: Path) -> Path:
    """A copy of the main rulebook with a changed grade edge and a changed flag threshold."""
    text = default_rulebook_path().read_text(encoding="utf-8")
    edits = [
        (
            "- {grade: 合格, min: 85, inclusive: false}",
            "- {grade: 合格, min: 88, inclusive: false}",
        ),
        (
            'condition: {field: collection_rate, op: "<", value: 0.99}',
            'condition: {field: collection_rate, op: "<", value: 0.995}',
        ),
    ]
    for old, new in edits:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def scored(inbox: Inbox) -> Inbox:
    inbox.add("b1.xlsx", B001, code="B001", name="第一支行")
    inbox.add("b2.xlsx", B002, code="B002", name="第二支行")
    result = inbox.run()
    assert result.exit_code == 1, result.output  # E-BAD is refused
    got = inbox.results()
    assert (got["E-EDGE"]["total"], got["E-EDGE"]["grade"]) == ("86.50", "合格")
    assert (got["E-RATE"]["total"], got["E-RATE"]["flags"]) == ("94.00", "")
    return inbox


def test_compare_lists_exactly_the_people_computed_by_hand(scored: Inbox, tmp_path: Path) -> None:
    c = kpi_excel.compare(
        "2026Q3", other_rulebook(tmp_path / "new.yaml"), ledger=scored.out / "ledger.sqlite"
    )
    assert c.compared == 7 and c.not_scored == 1 and c.mismatched == []
    people = c.people.set_index("emp_id")
    assert sorted(people.index) == sorted(CHANGED)
    columns = ["total_before", "total_after", "grade_before", "grade_after", "grade_move",
               "outcome_before", "outcome_after", "outcome_move", "flags_before", "flags_after"]  # fmt: skip
    rows = {e: tuple(people.loc[e, columns]) for e in CHANGED}
    assert rows == {
        "E-EDGE": ("86.50", "86.50", "合格", "基本合格", "下降", "正常", "正常", "", "", ""),
        "E-88": ("88.00", "88.00", "合格", "基本合格", "下降", "正常", "正常", "", "", ""),
        "E-RATE": ("94.00", "94.00", "合格", "合格", "", "正常", "降级", "加重", "", "A14-2-COLLECTION"),
        "E-990": ("90.00", "90.00", "合格", "合格", "", "正常", "降级", "加重", "", "A14-2-COLLECTION"),
    }  # fmt: skip
    assert people.loc["E-EDGE", "name"] == EDGE_NAME
    assert (
        people.loc["E-EDGE", "branch_code"] == "B001"
        and people.loc["E-RATE", "branch_code"] == "B002"
    )
    assert (
        people.loc["E-EDGE", "changed"] == "等级"
        and people.loc["E-RATE", "changed"] == "考核结论、预警"
    )


def test_compare_says_why_in_words(scored: Inbox, tmp_path: Path) -> None:
    c = kpi_excel.compare(
        "2026Q3", other_rulebook(tmp_path / "new.yaml"), ledger=scored.out / "ledger.sqlite"
    )
    reason = dict(zip(c.people["emp_id"], c.people["reason"], strict=True))
    assert reason["E-EDGE"] == (
        "考核等级合格→基本合格:按新规则综合得分86.50分,客户经理超过70分、88分(含)以下:基本合格"
        "(第十四条)(规则调整:客户经理「合格」的下限(分)由85分改为88分)"
    )
    assert reason["E-RATE"] == (
        "新增「收贷收息率未达标」:收贷收息率低于99.5%(第十四条第(二)款第2项),本人收贷收息率99.20%"
        "(规则调整:阈值由99%改为99.5%)\n考核结论正常→降级"
    )
    assert "本人收贷收息率99.00%" in reason["E-990"]


def test_compare_tallies_per_branch_and_bank(scored: Inbox, tmp_path: Path) -> None:
    c = kpi_excel.compare(
        "2026Q3", other_rulebook(tmp_path / "new.yaml"), ledger=scored.out / "ledger.sqlite"
    )
    t = c.tallies.set_index("branch_name")
    keys = ["compared", "changed", "total_up", "total_down", "grade_up", "grade_down", "flag_new",
            "flag_cleared", "outcome_worse", "outcome_better", "not_scored"]  # fmt: skip
    assert list(t.index) == ["第一支行", "第二支行", "全行合计"]
    assert list(t.loc["第一支行", keys]) == [4, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0]
    assert list(t.loc["第二支行", keys]) == [3, 2, 0, 0, 0, 0, 2, 0, 2, 0, 0]
    assert c.bank == dict(zip(keys, [7, 4, 0, 0, 0, 2, 2, 0, 2, 0, 0], strict=True))


def test_compare_command_writes_workbook_and_page(scored: Inbox, tmp_path: Path) -> None:
    rules = other_rulebook(tmp_path / "rules_2027.yaml")
    before = {p.name: p.read_bytes() for p in (scored.out / "2026Q3").glob("*.*")}
    result = CliRunner().invoke(
        main, ["compare", "2026Q3", "--rules", str(rules), "-o", str(scored.out)]
    )
    assert result.exit_code == 0, result.output
    assert "比较 7 人,有变化 4 人" in result.output and "等级下降 2 人" in result.output
    folder = scored.out / "2026Q3"
    book, page = folder / "compare_rules_2027.xlsx", folder / "compare_rules_2027.html"
    assert book.is_file() and page.is_file()
    assert {p.name: p.read_bytes() for p in folder.glob("*.*") if p.name in before} == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["变化汇总", "人员变化", "规则变化"]
    ws = wb["人员变化"]
    header = [c.value for c in ws[2]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=3)]
    assert sorted(r["员工编号"] for r in rows) == sorted(CHANGED)
    edge = next(r for r in rows if r["员工编号"] == "E-EDGE")
    assert (edge["原综合得分"], edge["新综合得分"], edge["原等级"], edge["新等级"]) == (
        86.5,
        86.5,
        "合格",
        "基本合格",
    )
    name_cell = next(r for r in ws.iter_rows(min_row=3) if r[2].value == "E-EDGE")[3]
    assert name_cell.value == EDGE_NAME and name_cell.data_type == "s"  # text, never a formula
    rules_rows = [[c.value for c in r] for r in wb["规则变化"].iter_rows(min_row=3)]
    assert rules_rows == [
        ["等级界限", "客户经理「合格」的下限(分)", "85分", "88分", "第十四条"],
        [
            "阈值",
            "A14-2-COLLECTION「收贷收息率未达标」的阈值",
            "99%",
            "99.5%",
            "第十四条第(二)款第2项",
        ],
    ]
    summary = wb["变化汇总"]
    bank = next(r for r in summary.iter_rows(values_only=True) if r[1] == "全行合计")
    assert list(bank[2:]) == [7, 4, 0, 0, 0, 2, 2, 0, 2, 0, 0]
    with zipfile.ZipFile(book) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())  # a native chart
    html = page.read_text(encoding="utf-8")
    assert "&lt;r&gt;=1+1&lt;/r&gt;" in html and "<r>=1+1</r>" not in html
    assert "客户经理「合格」的下限(分)" in html and "<svg" in html


def test_compare_uses_the_history_the_run_had(tmp_path: Path) -> None:
    """Q3's A14-2-DEPOSIT3M counted months of the Q2 run current when Q3 was run; a later rerun
    of Q2 does not change what the compare of Q3 says (the same rulebook: nobody changes)."""
    out = tmp_path / "out"
    low = person(SENIOR, emp_id="M1", deposit_m5="800", deposit_m6="800")
    good = person(SENIOR, emp_id="M1", deposit_m5="1300", deposit_m6="1300")
    q3 = person(SENIOR, emp_id="M1", deposit_m7="800", deposit_m8="1300", deposit_m9="1300")
    for n, (period, rows) in enumerate((("2026Q2", [low]), ("2026Q3", [q3]), ("2026Q2", [good]))):
        (tmp_path / str(n)).mkdir()
        box = Inbox(tmp_path / str(n))
        box.add("b.xlsx", rows, period=period)
        args = ["run", period, "--inbox", str(box.dir), "--output", str(out)]
        assert CliRunner().invoke(main, args).exit_code == 0
    ledger = out / "ledger.sqlite"
    c = kpi_excel.compare("2026Q3", "main", ledger=ledger)
    assert c.people.empty and c.mismatched == []
    assert c.after is not None and c.after.results["flags"].tolist() == ["A14-2-DEPOSIT3M"]
    copy = tmp_path / "ratio.yaml"  # 80% of the base instead of 90%: 800 is not below 800
    text = default_rulebook_path().read_text(encoding="utf-8")
    copy.write_text(text.replace("    ratio: 0.9\n", "    ratio: 0.8\n"), encoding="utf-8")
    c = kpi_excel.compare("2026Q3", copy, ledger=ledger)
    row = c.people.set_index("emp_id").loc["M1"]
    assert (row["flags_before"], row["flags_after"]) == ("A14-2-DEPOSIT3M", "")
    assert (row["outcome_before"], row["outcome_after"], row["outcome_move"]) == (
        "降级",
        "正常",
        "减轻",
    )
    assert row["reason"].startswith("不再触发「存款日均连续低于基数」:新规则为连续3个月")


def test_compare_refuses_a_rulebook_of_another_scheme(scored: Inbox) -> None:
    with pytest.raises(IncompatibleRules, match="输入字段不同"):
        kpi_excel.compare("2026Q3", "loan-eva", ledger=scored.out / "ledger.sqlite")
    result = CliRunner().invoke(
        main, ["compare", "2026Q3", "--rules", "loan-eva", "-o", str(scored.out)]
    )
    assert result.exit_code == 2
    assert "不是同一方案的规则,不能比较" in result.output and "Traceback" not in result.output
    assert "缺少字段:基数存款日均(万元)、各月存款日均(万元)" in result.output
    assert not list((scored.out / "2026Q3").glob("compare_*"))


def test_compare_without_a_run_of_the_period_says_so(scored: Inbox, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        kpi_excel.compare("2026Q2", "main", ledger=scored.out / "ledger.sqlite")
    result = CliRunner().invoke(
        main, ["compare", "2026Q2", "--rules", "main", "-o", str(scored.out)]
    )
    assert result.exit_code == 1
    assert "台账中没有考核期 2026Q2 的运行记录,无法比较" in result.output
    result = CliRunner().invoke(
        main, ["compare", "2026Q3", "--rules", "main", "-o", str(tmp_path / "none")]
    )
    assert result.exit_code == 1 and "找不到台账" in result.output


def test_compare_under_the_same_rules_changes_nobody(scored: Inbox) -> None:
    with Ledger(scored.out / "ledger.sqlite") as ledger:
        c = kpi_excel.compare("Q3", "main", ledger=ledger, year=2026)
    assert c.people.empty and c.rules == [] and c.mismatched == []
    assert c.bank["compared"] == 7 and c.bank["changed"] == 0


def test_compare_a_formula_scheme_with_a_changed_parameter(tmp_path: Path) -> None:
    """loan-eva, 2026M07, the stock EVA rate 5% → 6% (hand-computed, see test_scheme_loan_eva):
    P1 (10×6% + 5×10%)×10000×4×1.15 = 50600.00 asset pay, total 47500.50 → 52100.50;
    P2's coefficient is 0: unchanged; P3 (−2×6% + 3×10%)×10000×1×1.1 = 1980.00, 2300.25 → 2080.25."""
    from kpi_excel.rulebook import rulebook_path
    from tests.test_scheme_loan_eva import PEOPLE, _run, _workbook

    runner = CliRunner()
    template, inbox, out = tmp_path / "模板.xlsx", tmp_path / "in", tmp_path / "out"
    args = ["template", "2026M07", "--rules", "loan-eva", "-o", str(template)]
    assert runner.invoke(main, args).exit_code == 0
    inbox.mkdir()
    _workbook(template, inbox / "b.xlsx", "2026年7月", PEOPLE)
    _run(runner, inbox, out, "2026-07")
    text = rulebook_path("loan-eva").read_text(encoding="utf-8")
    old = "stock_rate: {value: 0.05,"
    assert text.count(old) == 1
    rules = tmp_path / "eva_2027.yaml"
    rules.write_text(text.replace(old, "stock_rate: {value: 0.06,"), encoding="utf-8")
    args = ["compare", "2026M07", "--rules", str(rules), "-o", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "loan-eva" / "2026M07" / "compare_eva_2027.xlsx").is_file()
    c = kpi_excel.compare("2026M07", rules, ledger=out / "ledger.sqlite")
    got = c.people.set_index("emp_id")[["total_before", "total_after", "total_change", "reason"]]
    assert got.to_dict("index") == {
        "P1": {"total_before": "47500.50", "total_after": "52100.50", "total_change": "+4600.00",
               "reason": "总绩效47500.50→52100.50(规则调整:参数「存量资产EVA计提比例」的取值由0.05改为0.06)"},
        "P3": {"total_before": "2300.25", "total_after": "2080.25", "total_change": "-220.00",
               "reason": "总绩效2300.25→2080.25(规则调整:参数「存量资产EVA计提比例」的取值由0.05改为0.06)"},
    }  # fmt: skip
    assert (c.bank["total_up"], c.bank["total_down"], c.bank["changed"]) == (1, 1, 2)


def test_a_run_that_scored_nobody_compares_nobody(inbox: Inbox, tmp_path: Path) -> None:
    inbox.add("b.xlsx", [person(SENIOR, deposit_base="")])
    assert inbox.run().exit_code == 1
    c = kpi_excel.compare(
        "2026Q3", other_rulebook(tmp_path / "new.yaml"), ledger=inbox.out / "ledger.sqlite"
    )
    assert (c.compared, c.not_scored, len(c.people), len(c.rules)) == (0, 1, 0, 2)
    assert c.bank == dict.fromkeys(c.bank, 0)
    args = ["compare", "2026Q3", "--rules", str(tmp_path / "new.yaml"), "-o", str(inbox.out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "比较 0 人,有变化 0 人" in result.output
    ws = openpyxl.load_workbook(inbox.out / "2026Q3" / "compare_new.xlsx")["人员变化"]
    assert ws["A3"].value == "按新规则重算,没有人员的综合得分、等级、考核结论或预警发生变化"


def test_an_adjustment_hook_changes_the_inputs_before_both_scorings(
    scored: Inbox, tmp_path: Path
) -> None:
    """`adjust` gets the run's stored input frame before it is scored (the place for accepted
    appeals): E-EDGE's deposit corrected to 1300 scores 100.00 良好 under both rulebooks, so it
    no longer changes; the re-score then differs from what the run stored, and says so."""

    def adjust(stored):
        frame = stored.frame.copy()
        frame.loc[frame["emp_id"] == "E-EDGE", "deposit_avg"] = 1300.0
        return replace(stored, frame=frame)

    rules = other_rulebook(tmp_path / "new.yaml")
    c = kpi_excel.compare("2026Q3", rules, ledger=scored.out / "ledger.sqlite", adjust=adjust)
    assert sorted(c.people["emp_id"]) == sorted(e for e in CHANGED if e != "E-EDGE")
    assert c.mismatched == ["E-EDGE"]
