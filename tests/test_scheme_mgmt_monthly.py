"""Scheme B of SCHEMES.md, 客户经理综合考核 (`--rules mgmt-monthly`): hand-computed cases through
the real path (template -> workbook -> `kpi-excel run` -> results.csv) and through the library."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main

HEADERS = [
    "员工编号", "姓名", "岗位", "授信报批笔数", "退回笔数", "材料虚假", "档案缺漏项数", "走访缺少次数",
    "走访记录缺少次数", "重大事项未报告", "重大信息加分", "逾期垫款笔数", "形态下降笔数", "日常工作评分",
    "当天未及时录入次数", "漏录次数", "报表调查未完成次数", "临时性工作次数", "备注",
]  # fmt: skip
# emp_id -> (inputs by label, expected results.csv figures), computed by hand from SCHEMES.md B
CASES = {
    # 3 returned of 5 submitted: 60% >= 50% -> m_survey 0
    "M1": ({"授信报批笔数": 5, "退回笔数": 3, "日常工作评分": 20},
           ["0.00", "10.00", "15.00", "5.00", "20.00", "0.00", "0.00", "50.00"]),
    # exactly 50% returned -> 0; one overdue: m_risk max(0, 5 - 30) = 0, overflow 30 - 5 = 25
    "M2": ({"授信报批笔数": 4, "退回笔数": 2, "日常工作评分": 25, "逾期垫款笔数": 1, "重大信息加分": 3.5},
           ["0.00", "10.00", "18.50", "0.00", "25.00", "25.00", "0.00", "28.50"]),
    # 20% returned -> 5 - 2x1 = 3; 3 missing docs -> 8.5; 2 missed visits -> 13;
    # adjust -2x1 + 5x2 = 8
    "M3": ({"授信报批笔数": 5, "退回笔数": 1, "档案缺漏项数": 3, "走访缺少次数": 2,
            "当天未及时录入次数": 1, "临时性工作次数": 2, "日常工作评分": 18.5},
           ["3.00", "8.50", "13.00", "5.00", "18.50", "0.00", "8.00", "56.00"]),
    # false material -> 0; a major matter unreported -> visit 0 plus the bonus; 25 missing
    # docs -> floored at 0; two downgrades: overflow 60 - 5 = 55; total not floored
    "M4": ({"授信报批笔数": 0, "材料虚假": "是", "重大事项未报告": "是", "重大信息加分": 30,
            "档案缺漏项数": 25, "形态下降笔数": 2, "漏录次数": 1, "日常工作评分": 0},
           ["0.00", "0.00", "30.00", "0.00", "0.00", "55.00", "-5.00", "-30.00"]),
}  # fmt: skip
COLUMNS = ["m_survey", "m_archive", "m_visit", "m_risk", "m_daily", "risk_overflow", "adjust", "total"]  # fmt: skip


def _workbook(template: Path, path: Path, rows: list[dict], period: str = "2026年7月") -> Path:
    wb = openpyxl.load_workbook(template)
    info = wb["基本信息"]
    info["B1"], info["B2"], info["B3"] = "B001", "城东支行", period
    ws = wb["考核数据"]
    assert [c.value for c in ws[1]] == HEADERS
    for i, row in enumerate(rows, start=2):
        for j, label in enumerate(HEADERS, start=1):
            ws.cell(i, j, row.get(label))
    wb.save(path)
    return path


def _rows() -> list[dict]:
    return [
        {"员工编号": emp, "姓名": f"员工{emp}", "岗位": "客户经理", **inputs}
        for emp, (inputs, _) in CASES.items()
    ]


@pytest.fixture
def scored(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    runner = CliRunner()
    template = tmp_path / "模板.xlsx"
    got = runner.invoke(
        main, ["template", "2026M07", "--rules", "mgmt-monthly", "-o", str(template)]
    )
    assert got.exit_code == 0, got.output
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = _rows() + [
        {"员工编号": "M5", "姓名": "员工M5", "岗位": "客户经理", "授信报批笔数": 2, "退回笔数": 3,
         "日常工作评分": 18.555},
        {"员工编号": "M6", "姓名": "员工M6", "岗位": "客户经理", "日常工作评分": 26},
        {"员工编号": "M7", "姓名": "员工M7", "岗位": "客户经理"},
    ]  # fmt: skip
    _workbook(template, inbox / "城东.xlsx", rows)
    out = tmp_path / "out"
    got = runner.invoke(
        main,
        ["run", "2026-07", "--rules", "mgmt-monthly", "--inbox", str(inbox), "--output", str(out)],
    )
    assert got.exit_code == 1, got.output  # M5, M6 and M7 are refused
    path = out / "mgmt-monthly" / "2026M07" / "results.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return out, {r["emp_id"]: r for r in csv.DictReader(fh)}


def test_hand_computed_cases_through_the_cli(scored) -> None:
    _, got = scored
    for emp, (_, expected) in CASES.items():
        assert [got[emp][c] for c in COLUMNS] == expected, emp
    ranks = {e: (got[e]["rank_branch"], got[e]["rank_bank"]) for e in CASES}
    assert ranks == {"M3": ("1", "1"), "M1": ("2", "2"), "M2": ("3", "3"), "M4": ("4", "4")}


def test_results_csv_has_the_schemes_columns(scored) -> None:
    _, got = scored
    assert list(got["M1"]) == [
        "period", "branch_code", "branch_name", "emp_id", "name", "role", "status", "errors",
        "m_survey", "m_archive", "m_visit", "m_risk", "m_daily", "risk_overflow", "adjust",
        "total", "rank_branch", "rank_bank",
    ]  # fmt: skip
    assert (got["M1"]["period"], got["M1"]["role"]) == ("2026M07", "manager")


def test_row_errors_of_the_scheme(scored) -> None:
    _, got = scored
    assert "「日常工作评分」最多保留2位小数,实际为「18.555」" in got["M5"]["errors"]
    assert "「退回笔数」3 大于「授信报批笔数」2" in got["M5"]["errors"]
    assert "「日常工作评分」不能大于 25,实际为「26」" in got["M6"]["errors"]
    assert "「日常工作评分」为必填项,不能为空" in got["M7"]["errors"]
    assert {got[e]["status"] for e in ("M5", "M6", "M7")} == {"rejected"}


def test_explanations_state_the_figures(scored) -> None:
    out, _ = scored
    res = CliRunner().invoke(
        main, ["explain", "2026M07", "M2", "--rules", "mgmt-monthly", "--output", str(out)]
    )
    assert res.exit_code == 0, res.output
    lines = dict(line.split(": ", 1) for line in res.output.splitlines()[1:])
    assert lines["调查评估质量"].startswith("因为授信报批笔数4 > 0,退回笔数2/授信报批笔数4 = 0.5")
    assert lines["调查评估质量"].endswith("所以得0.00分(第八条第1项)")
    assert lines["风险扣分超出部分"].startswith(
        "max(0, 每笔逾期或形态下降扣分30×(逾期垫款笔数1 + 形态下降笔数0) − 5) = 25.00分"
    )
    assert lines["综合考核得分"] == "业务得分53.5 − 风险扣分超出部分25 + 直接加扣分0 = 28.50分"


def test_the_main_policys_outputs_are_untouched_by_another_scheme(scored, tmp_path) -> None:
    out, _ = scored
    assert not (out / "2026M07").exists()  # a scheme's outputs live under its id
    assert (out / "mgmt-monthly" / "2026M07" / "summary.xlsx").exists()
    res = CliRunner().invoke(main, ["runs", "--output", str(out)])
    assert res.exit_code == 0 and "2026M07" in res.output


def test_the_library_scores_the_scheme_the_same() -> None:
    frame = pd.DataFrame(_rows())
    scored = kpi_excel.score(
        frame, "2026M07", "mgmt-monthly", branch_code="B001", branch_name="城东支行"
    )
    results = scored.results.set_index("emp_id")
    for emp, (_, expected) in CASES.items():
        assert [results.at[emp, c] for c in COLUMNS] == expected, emp


def test_a_blank_total_is_not_ranked(tmp_path: Path) -> None:
    """A formula total can be blank for a row (here: a division by a 0); that row gets no
    rank, and the others are ranked among themselves."""
    from kpi_excel.rulebook import shipped_rulebooks

    text = shipped_rulebooks()["mgmt-monthly"].read_text(encoding="utf-8")
    old = 'formula: "business_score - risk_overflow + adjust"'
    assert old in text
    path = tmp_path / "blank-total.yaml"
    path.write_text(text.replace(old, 'formula: "business_score * returned / submitted"'), "utf-8")
    frame = pd.DataFrame(_rows())  # M4 has 授信报批笔数 0
    scored = kpi_excel.score(
        frame, "2026M07", str(path), branch_code="B001", branch_name="城东支行"
    )
    got = scored.results.set_index("emp_id")
    assert (got.at["M4", "total"], got.at["M4", "rank_branch"]) == ("", "")
    assert [got.at[e, "rank_branch"] for e in ("M1", "M2", "M3")] == ["1", "2", "3"]
