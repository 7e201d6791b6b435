"""Every flag with the person's own figures, and a warning (`?`) in words wherever people read it.

Hand-computed cases through the CLI (run, explain, history; the branch workbook, the summary,
report.html) and through the library (kpi_excel.score with a History).
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main
from kpi_excel.explain import explain_person
from kpi_excel.flags import History, MonthFigure
from kpi_excel.history import flags_in_words
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import write_branch_workbook

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")

DEPOSIT3M = "存款日均连续低于基数(A14-2-DEPOSIT3M):连续3个月存款日均低于基数存款日均的90%(第十四条第(二)款第1项)"
SCORE_WARNING = (
    "行长综合得分未达标(A14-1-SCORE):综合得分90分(含)以下(第十四条第(一)款第1项),"
    "本人综合得分90.00分;年度考核时将降级(本期仅预警)"
)


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _run(root: Path, period: str, rows: list[dict]) -> None:
    inbox = root / "in" / period
    inbox.mkdir(parents=True)
    write_branch_workbook(
        inbox / "b.xlsx", branch_code="B001", branch_name="一支行", period=period, rows=rows
    )
    got = _cli("run", period, "--inbox", str(inbox), "--output", str(root / "out"))
    assert got.exit_code == 0, got.output


def _flag_lines(output: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("预警与处理")]


@pytest.fixture(scope="module")
def two_quarters(tmp_path_factory) -> Path:
    """2026Q2 then 2026Q3 of one branch:
    M-DEP, base 1000 (90% = 900): 5月 812.40 and 6月 899 in Q2, 7月 850 in Q3 -> three months
    in a row below 900, two of them from 2026Q2's run;
    M-NEWBASE: Q2 base 1000 (900), Q3 base 900 (810): 5月 850, 6月 880, 7月 800 -> each month
    below its own period's threshold;
    H-WARN: a head with 行为规范扣分 10 -> total 90, A14-1-SCORE a warning in both quarters."""
    root = tmp_path_factory.mktemp("flags")
    low = {"deposit_base": "1000"}
    q2 = [
        person(GOOD_SENIOR, emp_id="M-DEP", deposit_m4="950", deposit_m5="812.40",
               deposit_m6="899", **low),
        person(GOOD_SENIOR, emp_id="M-NEWBASE", deposit_m5="850", deposit_m6="880", **low),
        person(GOOD_HEAD, emp_id="H-WARN", conduct_deduction="10"),
    ]  # fmt: skip
    q3 = [
        person(GOOD_SENIOR, emp_id="M-DEP", deposit_m7="850", deposit_m8="950", **low),
        person(GOOD_SENIOR, emp_id="M-NEWBASE", deposit_base="900", deposit_avg="1170",
               deposit_m7="800", deposit_m8="950"),
        person(GOOD_HEAD, emp_id="H-WARN", conduct_deduction="10"),
    ]  # fmt: skip
    _run(root, "2026Q2", q2)
    _run(root, "2026Q3", q3)
    return root / "out"


def test_deposit_months_explained_with_amounts_bases_and_the_earlier_period(two_quarters):
    got = _cli("explain", "2026Q3", "M-DEP", "--output", str(two_quarters))
    assert got.exit_code == 0, got.output
    assert _flag_lines(got.output) == [
        DEPOSIT3M + ",本人存款日均(万元):5月 812.40 < 900.00, 6月 899.00 < 900.00, "
        "7月 850.00 < 900.00(900.00为基数存款日均1000.00的90%;5月、6月取自2026Q2);降级"
    ]


def test_each_months_threshold_from_its_own_periods_base(two_quarters):
    got = _cli("explain", "2026Q3", "M-NEWBASE", "--output", str(two_quarters))
    assert _flag_lines(got.output) == [
        DEPOSIT3M + ",本人存款日均(万元):5月 850.00 < 900.00, 6月 880.00 < 900.00, "
        "7月 800.00 < 810.00(900.00为2026Q2基数存款日均1000.00的90%;"
        "810.00为2026Q3基数存款日均900.00的90%;5月、6月取自2026Q2);降级"
    ]


def test_branch_workbook_summary_and_report_show_the_same_flag_lines(two_quarters):
    q3 = two_quarters / "2026Q3"
    (branch,) = (q3 / "branches").glob("*.xlsx")
    ws = openpyxl.load_workbook(branch)["考核结果"]
    header = [c.value for c in ws[3]]
    flags = {
        r[0]: r[header.index("预警与处理(依据条款)")]
        for r in ws.iter_rows(min_row=4, values_only=True)
    }
    assert flags["H-WARN"] == SCORE_WARNING
    assert flags["M-DEP"].startswith(DEPOSIT3M + ",本人存款日均(万元):5月 812.40 < 900.00")
    explained = openpyxl.load_workbook(branch)["计分说明"]
    cells = {
        r[0]: "\n".join(str(v) for v in r[3:] if v)
        for r in explained.iter_rows(min_row=4, values_only=True)
    }
    assert SCORE_WARNING in cells["H-WARN"].splitlines()

    summary = openpyxl.load_workbook(q3 / "summary.xlsx")["预警与处理"]
    rows = list(summary.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if r and r[0] == "机构号")
    table = [dict(zip(rows[head], r, strict=True)) for r in rows[head + 1 :] if r[0]]
    dep = next(r for r in table if r["员工编号"] == "M-DEP")
    assert (dep["情形"], dep["标志代码"], dep["处理"], dep["类别"]) == (
        "存款日均连续低于基数", "A14-2-DEPOSIT3M", "降级", "处理")  # fmt: skip
    assert dep["本人数据"] == (
        "存款日均(万元):5月 812.40 < 900.00, 6月 899.00 < 900.00, 7月 850.00 < 900.00"
        "(900.00为基数存款日均1000.00的90%;5月、6月取自2026Q2)"
    )
    warn = next(r for r in table if r["员工编号"] == "H-WARN")
    assert (warn["类别"], warn["处理"], warn["本人数据"]) == (
        "预警", "年度考核时将降级(本期仅预警)", "综合得分90.00分")  # fmt: skip

    page = (q3 / "report.html").read_text(encoding="utf-8")
    assert '<td>行长综合得分未达标</td><td class="mono">A14-1-SCORE</td>' in page
    assert "<td>年度考核时将降级(本期仅预警)</td>" in page
    assert "A14-1-SCORE?" not in page

    with (q3 / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        results = {r["emp_id"]: r for r in csv.DictReader(fh)}
    assert results["H-WARN"]["flags"] == "A14-1-SCORE?"  # the machine contract keeps its codes
    assert results["M-DEP"]["flags"] == "A14-2-DEPOSIT3M"


def test_warning_in_words_in_explain_and_history(two_quarters):
    got = _cli("explain", "2026Q3", "H-WARN", "--output", str(two_quarters))
    assert _flag_lines(got.output) == [SCORE_WARNING]
    got = _cli("history", "H-WARN", "--output", str(two_quarters))
    assert got.exit_code == 0, got.output
    words = "行长综合得分未达标(A14-1-SCORE):年度考核时将降级(本期仅预警)"
    # the last column is the run's finish time (local time; tests/test_cli_chinese.py checks it)
    assert [line.rsplit("\t", 1)[0] for line in got.output.splitlines()[2:]] == [
        f"2026Q2\tB001\t已计分\t90.00\t基本合格\t预警\t{words}",
        f"2026Q3\tB001\t已计分\t90.00\t基本合格\t预警\t{words}",
    ]
    assert "?" not in got.output
    got = _cli("history", "M-DEP", "--output", str(two_quarters))
    assert (
        got.output.splitlines()[-1]
        .rsplit("\t", 1)[0]
        .endswith("\t降级\t存款日均连续低于基数(A14-2-DEPOSIT3M):降级")
    )


def test_history_of_several_flags_and_of_the_annual_run(tmp_path):
    # 行为规范扣分15: total 85 -> A14-1-SCORE (a warning in a quarter, decided in FY) and
    # A14-3-CONDUCT (dismissal in any period)
    rows = [person(GOOD_HEAD, emp_id="H-TWO", conduct_deduction="15")]
    _run(tmp_path, "2026Q3", rows)
    _run(tmp_path, "2026FY", rows)
    got = _cli("history", "H-TWO", "--output", str(tmp_path / "out"))
    score, conduct = "行长综合得分未达标(A14-1-SCORE)", "行为规范扣分过多(A14-3-CONDUCT)"
    assert [line.rsplit("\t", 1)[0] for line in got.output.splitlines()[2:]] == [
        f"2026FY\tB001\t已计分\t85.00\t基本合格\t解聘\t{score}:降级;{conduct}:解聘",
        f"2026Q3\tB001\t已计分\t85.00\t基本合格\t解聘\t{score}:年度考核时将降级(本期仅预警);{conduct}:解聘",
    ]
    got = _cli("explain", "2026FY", "H-TWO", "--output", str(tmp_path / "out"))
    assert _flag_lines(got.output) == [
        score + ":综合得分90分(含)以下(第十四条第(一)款第1项),本人综合得分85.00分;降级",
        conduct + ":行为规范扣分15分(含)以上(第十四条第(三)款),本人行为规范扣分15分;解聘",
    ]


def test_repeat_flag_names_this_year_and_the_previous_year(tmp_path):
    demoted = [person(GOOD_HEAD, emp_id="H-REP", conduct_deduction="10")]  # total 90
    _run(tmp_path, "2025FY", demoted)
    _run(tmp_path, "2026FY", demoted)
    got = _cli("explain", "2026FY", "H-REP", "--output", str(tmp_path / "out"))
    repeat = next(line for line in _flag_lines(got.output) if "(A14-1-REPEAT)" in line)
    assert repeat.endswith(
        ",本人本年度因行长综合得分未达标(A14-1-SCORE)被认定降级,上年度(2025FY)亦然;解聘"
    )


def test_flag_codes_without_a_rulebook_keep_their_code_and_say_the_warning():
    rules = load_rulebook()
    assert flags_in_words("A14-2-SCORE85?", rules) == (
        "客户经理综合得分未达标(A14-2-SCORE85):年度考核时将降级(本期仅预警)"
    )
    assert flags_in_words("X-OLD?;Y-OLD", None) == "X-OLD(本期仅预警);Y-OLD"
    assert flags_in_words("", rules) == ""


# ---- the library --------------------------------------------------------------------------


def _frame(**changes: str) -> pd.DataFrame:
    return pd.DataFrame([person(GOOD_SENIOR, deposit_base="1000", **changes)])


def test_library_months_across_the_year_and_a_figure_never_shown_as_its_threshold():
    """2027Q1 with 2026年11月 and 12月 from 2026Q4's run (the ledger's History); January at
    899.995, just below 900: shown with its own decimals, never as 900.00."""
    before = [
        MonthFigure("2026年10月", 950.0, 900.0, False, "2026Q4", 1000.0),
        MonthFigure("2026年11月", 850.0, 900.0, True, "2026Q4", 1000.0),
        MonthFigure("2026年12月", 800.0, 900.0, True, "2026Q4", 1000.0),
    ]
    history = History(months_before={"E001": before})
    people = kpi_excel.score(
        _frame(deposit_m1="899.995", deposit_m2="950"), "2027Q1", history=history,
        branch_code="B001", branch_name="一支行",
    ).people  # fmt: skip
    assert people.iloc[0]["flags"] == "A14-2-DEPOSIT3M"
    lines = [
        s for k, s in explain_person(people.iloc[0], load_rulebook(), "2027Q1") if k == "预警与处理"
    ]
    assert lines == [
        DEPOSIT3M + ",本人存款日均(万元):2026年11月 850.00 < 900.00, 2026年12月 800.00 < 900.00, "
        "1月 899.995 < 900.00(900.00为基数存款日均1000.00的90%;2026年11月、2026年12月取自2026Q4)"
        ";降级"
    ]


def test_library_threshold_share_comes_from_the_rulebook(tmp_path):
    text = default_rulebook_path().read_text(encoding="utf-8")
    text = text.replace("    ratio: 0.9\n", "    ratio: 0.8\n")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    rules = load_rulebook(path)
    people = kpi_excel.score(
        _frame(deposit_m7="799.5", deposit_m8="700", deposit_m9="0"), "2026Q3", rules,
        branch_code="B001", branch_name="一支行",
    ).people  # fmt: skip
    lines = [s for k, s in explain_person(people.iloc[0], rules, "2026Q3") if k == "预警与处理"]
    assert lines == [
        "存款日均连续低于基数(A14-2-DEPOSIT3M):连续3个月存款日均低于基数存款日均的80%"
        "(第十四条第(二)款第1项),本人存款日均(万元):7月 799.50 < 800.00, 8月 700.00 < 800.00, "
        "9月 0.00 < 800.00(800.00为基数存款日均1000.00的80%);降级"
    ]


def test_months_from_an_older_ledger_without_the_base_still_explained():
    rules = load_rulebook()
    people = kpi_excel.score(
        _frame(deposit_m7="850", deposit_m8="850", deposit_m9="850"), "2026Q3",
        branch_code="B001", branch_name="一支行",
    ).people  # fmt: skip
    row = people.iloc[0].to_dict()
    old = [
        {"label": m.label, "amount": m.amount, "threshold": m.threshold, "below": m.below,
         "source": m.source}
        for m in row["flag_months:A14-2-DEPOSIT3M"]
    ]  # fmt: skip
    row["flag_months:A14-2-DEPOSIT3M"] = old  # as a ledger written before `base` was kept
    lines = [s for k, s in explain_person(row, rules, "2026Q3") if k == "预警与处理"]
    assert lines == [
        DEPOSIT3M + ",本人存款日均(万元):7月 850.00 < 900.00, 8月 850.00 < 900.00, "
        "9月 850.00 < 900.00(900.00为基数存款日均的90%);降级"
    ]
