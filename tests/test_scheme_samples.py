"""The sample workbooks shipped for each scheme (scripts/make_scheme_samples.py) run as a clerk
runs them, each with its one deliberately bad row refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main

SAMPLES = Path(__file__).parent.parent / "sample_workbooks"


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [
        ("loan-eva", "「日均贷款余额」为0,无法计算日均存贷比"),
        ("mgmt-monthly", "「日常工作评分」不能大于 25,实际为「25.5」"),
    ],
)
def test_a_schemes_sample_runs(tmp_path: Path, scheme: str, reason: str) -> None:
    inbox = SAMPLES / scheme / "2026M07"
    res = CliRunner().invoke(
        main,
        ["run", "2026M07", "--rules", scheme, "--inbox", str(inbox), "--output", str(tmp_path)],
    )
    assert res.exit_code == 1, res.output  # the bad row
    with (tmp_path / scheme / "2026M07" / "results.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and sum(r["status"] == "scored" for r in rows) == 14
    (bad,) = [r for r in rows if r["status"] == "rejected"]
    assert bad["emp_id"] == "B002-01" and reason in bad["errors"]


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (
            "loan-eva",
            ["日均存贷比系数", "综合回报率系数", "资产EVA绩效", "业务绩效", "管理绩效", "清算额"],
        ),
        (
            "mgmt-monthly",
            ["调查评估质量得分", "档案完整性得分", "客户走访得分", "授信风险和逾期控制得分"],
        ),
    ],
)
def test_summary_branch_sheets_show_the_schemes_figures(
    tmp_path: Path, scheme: str, headers: list[str]
) -> None:
    """The rulebook's `summary` names the figures of the summary's per-branch sheets; each
    cell is the person's figure as results.csv has it."""
    import openpyxl

    from kpi_excel.rulebook import load_rulebook

    inbox = SAMPLES / scheme / "2026M07"
    args = ["run", "2026M07", "--rules", scheme, "--inbox", str(inbox), "--output", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 1
    out = tmp_path / scheme / "2026M07"
    with (out / "results.csv").open(encoding="utf-8-sig") as fh:
        by_emp = {r["emp_id"]: r for r in csv.DictReader(fh)}
    keys = load_rulebook(scheme).summary
    ws = openpyxl.load_workbook(out / "summary.xlsx")["B003 城西支行"]
    header = [c.value for c in ws[2]]
    assert header[:3] == ["员工编号", "姓名", "岗位"] and header[3 : 3 + len(headers)] == headers
    checked = 0
    for row in ws.iter_rows(min_row=3, values_only=True):
        person = by_emp[row[0]]
        for key, value in zip(keys, row[3 : 3 + len(keys)], strict=True):
            if key in person and person[key] != "":
                # a cell holds what Excel keeps of a double: 15 significant digits
                assert f"{float(person[key]):.15g}" == f"{value:.15g}", (row[0], key)
                checked += 1
    assert checked >= 6
