"""The `kpi-excel run` command: exit codes, periods, summary, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.errors import UsageError
from kpi_excel.periods import Period, parse_period
from kpi_excel.rulebook import load_rulebook
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person

CALENDAR = load_rulebook().calendar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026Q3", Period(2026, "Q3", False)),
        ("2026-Q3", Period(2026, "Q3", False)),
        ("2026fy", Period(2026, "FY", True)),
        ("２０２６Ｑ１", Period(2026, "Q1", False)),
    ],
)
def test_periods_parse(text, expected) -> None:
    assert parse_period(text, CALENDAR) == expected


def test_bare_quarter_takes_the_given_year() -> None:
    assert parse_period("Q3", CALENDAR, default_year=2025) == Period(2025, "Q3", False)


def test_bad_period_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_period("2026Q5", CALENDAR)


def test_exit_0_when_everyone_is_scored(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR, GOOD_HEAD])
    res = inbox.run()
    assert res.exit_code == 0, res.output
    assert "人员: 计分 2 人, 未计分 0 人" in res.output
    assert "工作簿: 共 1 个, 已计分 1 个, 拒收 0 个" in res.output


def test_exit_1_when_anything_is_refused(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR, person(GOOD_HEAD, deposit_avg="x")])
    res = inbox.run()
    assert res.exit_code == 1
    assert "未计分 1 人" in res.output


def test_exit_2_for_bad_period_missing_inbox_and_bad_rulebook(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["run", "2026Q9", "--output", str(tmp_path)])
    assert res.exit_code == 2 and "考核期「2026Q9」格式不正确" in res.output
    res = runner.invoke(
        main, ["run", "2026Q3", "--inbox", str(tmp_path / "nope"), "--output", str(tmp_path)]
    )
    assert res.exit_code == 2 and "收件夹不存在" in res.output
    bad = tmp_path / "r.yaml"
    bad.write_text("rounding: {decimals: two}\n", encoding="utf-8")
    res = runner.invoke(main, ["run", "2026Q3", "--inbox", str(tmp_path), "--rules", str(bad)])
    assert (
        res.exit_code == 2 and "r.yaml 的键 rounding.decimals 应为整数(实际为「two」)" in res.output
    )
    assert "Traceback" not in res.output


def test_default_inbox_is_inbox_slash_period(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    from tests.support.workbooks import write_branch_workbook

    (tmp_path / "inbox" / "2026Q3").mkdir(parents=True)
    write_branch_workbook(
        tmp_path / "inbox" / "2026Q3" / "b.xlsx",
        branch_code="B1",
        branch_name="一",
        period="2026Q3",
        rows=[GOOD_SENIOR],
    )
    res = CliRunner().invoke(main, ["run", "2026Q3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "output" / "2026Q3" / "results.csv").exists()
    assert (tmp_path / "output" / "2026Q3" / "branches" / "B1_一.xlsx").exists()


def test_unexpected_error_is_one_line_and_logged(inbox, monkeypatch) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR])

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("kpi_excel.pipeline.evaluate", boom)
    res = inbox.run()
    assert res.exit_code == 1
    assert "Traceback" not in res.output and "发生意外错误" in res.output
    assert "kaboom" in (inbox.out / "kpi-excel.log").read_text(encoding="utf-8")


def test_python_m_kpi_excel_runs_the_cli_only_as_the_main_module() -> None:
    """A worker process started fresh (spawn, Windows) imports the parent's `python -m
    kpi_excel` main module as `__mp_main__`: that must not start the CLI again in the worker."""
    import runpy

    runpy.run_module("kpi_excel.__main__", run_name="__mp_main__")  # returns: no CLI, no exit
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("kpi_excel.__main__", run_name="__main__")
    assert exit_info.value.code in (0, 2)  # click: usage shown for no arguments
