"""Scheme A of SCHEMES.md, 贷款类客户经理 EVA 绩效 (`--rules loan-eva`): coefficients against the
peer average, money rounded once, and the annual settlement against the months already paid,
hand-computed, through the library and through monthly and FY runs of the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main

LABELS = ["员工编号", "姓名", "岗位", "日均存款余额(万元)", "日均贷款余额(万元)", "日均存贷比基数",
          "存量资产EVA(万元)", "增量资产EVA(万元)", "综合EVA(万元)", "综合回报率基数",
          "中间业务考核绩效(元)", "管理绩效(元)", "备注"]  # fmt: skip
# One branch, three managers: dl_ratio 1.2 / 0.8 / 1.0 (peer average 1.0), return_rate
# 0.02 / 0.01 / 0 (peer average 0.01).
PEOPLE = [
    ["P1", "甲", "贷款类客户经理", 120, 100, 1.1, 10, 5, 2, 0.015, 500.5, 1000],
    ["P2", "乙", "贷款类客户经理", 80, 100, 0.9, 20, 0, 1, 0.01, None, 800],
    ["P3", "丙", "贷款类客户经理", 100, 100, 1.0, -2, 3, 0, -0.01, 100.25, None],
]
COLUMNS = ["dl_ratio", "dl_peer_avg", "dl_coef", "return_rate", "return_peer_avg",
           "return_coef", "asset_pay", "mid_pay", "business_pay", "mgmt_pay", "total_pay",
           "rank_branch", "rank_bank", "paid_months", "settlement"]  # fmt: skip
EXPECTED = {
    # above the average: 1 + 10 x ((1.2 - 1.1) + (1.2 - 1.0)) = 4; 1 + 10 x (0.005 + 0.01) = 1.15
    # asset pay (10 x 5% + 5 x 10%) x 10000 x 4 x 1.15 = 46000.00
    "P1": ["1.2", "1", "4", "0.02", "0.01", "1.15", "46000.00", "500.50", "46500.50",
           "1000.00", "47500.50", "1", "1", "", ""],
    # below the average: max(0, 1 + 10 x (0.8 - 0.9)) = 0 (floored); at the average: 1
    "P2": ["0.8", "1", "0", "0.01", "0.01", "1", "0.00", "0.00", "0.00", "800.00", "800.00",
           "3", "3", "", ""],
    # equal to the average: 1 + 10 x 0 = 1; below: 1 + 10 x (0 + 0.01) = 1.1
    # asset pay (-2 x 5% + 3 x 10%) x 10000 x 1 x 1.1 = 2200.00
    "P3": ["1", "1", "1", "0", "0.01", "1.1", "2200.00", "100.25", "2300.25", "0.00",
           "2300.25", "2", "2", "", ""],
}  # fmt: skip


def _frame(people: list[list]) -> pd.DataFrame:
    return pd.DataFrame(people, columns=LABELS[:-1])


def test_coefficients_and_pay_through_the_library() -> None:
    scored = kpi_excel.score(
        _frame(PEOPLE), "2026M07", "loan-eva", branch_code="B1", branch_name="一支行"
    )
    got = scored.results.set_index("emp_id")
    for emp, expected in EXPECTED.items():
        assert [got.at[emp, c] for c in COLUMNS] == expected, emp


def test_zero_loans_refuse_the_row_and_stay_out_of_the_peer_average() -> None:
    people = [*PEOPLE, ["P4", "丁", "贷款类客户经理", 500, 0, 1, 1, 1, 0, 0, None, None]]
    scored = kpi_excel.score(
        _frame(people), "2026M07", "loan-eva", branch_code="B1", branch_name="一支行"
    )
    got = scored.results.set_index("emp_id")
    assert got.at["P4", "status"] == "rejected"
    assert "「日均贷款余额」为0,无法计算日均存贷比" in got.at["P4", "errors"]
    assert got.at["P1", "dl_peer_avg"] == "1"  # P4 takes no part


def _workbook(template: Path, path: Path, period: str, people: list[list]) -> Path:
    wb = openpyxl.load_workbook(template)
    info = wb["基本信息"]
    info["B1"], info["B2"], info["B3"] = "B1", "一支行", period
    ws = wb["考核数据"]
    assert [c.value for c in ws[1]] == LABELS
    for i, row in enumerate(people, start=2):
        for j, v in enumerate(row, start=1):
            ws.cell(i, j, v)
    wb.save(path)
    return path


def _run(runner, inbox: Path, out: Path, period: str) -> dict[str, dict]:
    got = runner.invoke(
        main, ["run", period, "--rules", "loan-eva", "--inbox", str(inbox), "--output", str(out)]
    )
    assert got.exit_code == 0, got.output
    code = period.replace("-", "M") if "-" in period else period
    with (out / "loan-eva" / code / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {r["emp_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Eleven months run (all but March), a template, and the ledger's output folder."""
    root = tmp_path_factory.mktemp("eva")
    runner = CliRunner()
    template = root / "模板.xlsx"
    assert (
        runner.invoke(
            main, ["template", "2026M01", "--rules", "loan-eva", "-o", str(template)]
        ).exit_code
        == 0
    )
    out = root / "out"
    for m in range(1, 13):
        if m == 3:
            continue
        inbox = root / f"m{m:02d}"
        inbox.mkdir()
        people = PEOPLE if m != 5 else PEOPLE[:2]  # in May P3 has no row: it counts 0
        _workbook(template, inbox / "b.xlsx", f"2026年{m}月", people)
        _run(runner, inbox, out, f"2026-{m:02d}")
    return root, template, out


def test_a_year_with_a_month_never_run_is_not_settled(year) -> None:
    root, template, out = year
    inbox = root / "fy1"
    inbox.mkdir()
    _workbook(template, inbox / "b.xlsx", "2026FY", PEOPLE)
    got = _run(CliRunner(), inbox, out, "2026FY")
    assert (got["P1"]["paid_months"], got["P1"]["settlement"]) == ("", "")
    res = CliRunner().invoke(
        main, ["explain", "2026FY", "P1", "--rules", "loan-eva", "--output", str(out)]
    )
    assert "缺少2026M03的考核结果,未清算" in res.output


def test_twelve_months_and_the_fy_run_give_the_settlement(year) -> None:
    root, template, out = year
    march = root / "m03"
    march.mkdir()
    _workbook(template, march / "b.xlsx", "2026-03", PEOPLE)
    _run(CliRunner(), march, out, "2026-03")
    inbox = root / "fy2"
    inbox.mkdir()
    # May's peer averages had only P1 and P2: P1's return coefficient was
    # 1 + 10 x (0.005 + 0.005) = 1.1 and May's pay 45500.50, so the months paid P1
    # 11 x 47500.50 + 45500.50 = 568006.00. The FY workbook gives the year's pay 99.50 more.
    fy = [list(p) for p in PEOPLE]
    fy[0][11] = 568006 + 99.5 - 46500.5  # 管理绩效 of the year, so that the total is the rest
    _workbook(template, inbox / "b.xlsx", "2026FY", fy)
    got = _run(CliRunner(), inbox, out, "2026FY")
    assert got["P1"]["total_pay"] == "568105.50"
    assert got["P1"]["paid_months"] == "568006.00"
    assert got["P1"]["settlement"] == "99.50"  # still to pay
    # P3 had no row in May: 11 months of 2300.25 paid
    assert got["P3"]["paid_months"] == "25302.75"
    assert got["P3"]["settlement"] == "-23002.50"  # paid more than the year's pay: recovered


def test_the_schemes_template_states_its_own_rules(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    res = CliRunner().invoke(main, ["template", "2026M07", "--rules", "loan-eva", "-o", str(path)])
    assert res.exit_code == 0, res.output
    guide = "\n".join(
        str(r[0]) for r in openpyxl.load_workbook(path)["说明"].iter_rows(values_only=True) if r[0]
    )
    assert "日均存贷比 = 日均存款余额/日均贷款余额" in guide
    assert "同类客户经理平均日均存贷比 = 日均存贷比的同机构号平均值" in guide
    assert "×存量资产EVA计提比例" in guide and "按总绩效排名" in guide
    assert "第十四条" not in guide and "行为规范扣分" not in guide
