"""A shared ledger on PostgreSQL: `--ledger postgresql://…` (or KPI_EXCEL_LEDGER) keeps the
ledger in a database, with the schema and migrations of the SQLite ledger; runs of different
periods may go on at once, a period already running is refused (an advisory lock). Runs
against a private server (tests/support/postgres.py), skipped only where none can start."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.ledger import SCHEMA_VERSION, Ledger
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support import postgres
from tests.support.workbooks import write_branch_workbook

psycopg = pytest.importorskip("psycopg")
_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = postgres.start()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"no PostgreSQL server could be started here: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh database of the private server."""
    name = f"ledger_{next(_names)}"
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.url(name)


def _inbox(root: Path, period: str, rows: list[dict]) -> Path:
    d = root / "in" / period
    d.mkdir(parents=True, exist_ok=True)
    write_branch_workbook(
        d / "b.xlsx", branch_code="B001", branch_name="一支行", period=period, rows=rows
    )
    return d


def _cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_two_periods_run_into_postgresql_and_runs_and_history_read_them_back(
    tmp_path: Path, pg_url: str
) -> None:
    out = tmp_path / "out"
    q2 = _inbox(tmp_path, "2026Q2", [GOOD_SENIOR, GOOD_HEAD])
    q3 = _inbox(tmp_path, "2026Q3", [person(GOOD_SENIOR, deposit_avg="1400")])
    res = _cli("run", "2026Q2", "--inbox", str(q2), "--output", str(out), "--ledger", pg_url)
    assert res.exit_code == 0, res.output
    # the environment variable names the ledger as well as --ledger does
    env = {"KPI_EXCEL_LEDGER": pg_url}
    res = _cli("run", "2026Q3", "--inbox", str(q3), "--output", str(out), env=env)
    assert res.exit_code == 0, res.output
    assert not (out / "ledger.sqlite").exists()  # outputs are files, the ledger is not
    assert (out / "2026Q3" / "results.csv").is_file()
    res = _cli("runs", "--ledger", pg_url)
    assert res.exit_code == 0, res.output
    assert res.output.count("\t2026Q2\t") == 1 and res.output.count("\t2026Q3\t") == 1
    res = _cli("history", "E001", env=env)
    assert res.exit_code == 0, res.output
    assert "2026Q2\tB001\t已计分\t100.00" in res.output
    assert "2026Q3\tB001\t已计分" in res.output
    res = _cli("explain", "2026Q3", "E001", "--ledger", pg_url)
    assert res.exit_code == 0 and "综合得分" in res.output, res.output
    with Ledger(pg_url) as ledger:
        assert ledger.version == SCHEMA_VERSION
        runs = ledger.runs()
        assert [r.period for r in runs] == ["2026Q2", "2026Q3"]
        assert sorted(ledger.people_of(runs[0].id)) == ["E001", "H001"]
        assert ledger.people_of(runs[1].id)["E001"]["inputs"]["deposit_avg"] == 1400.0
    page = (out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "postgresql://postgres@" in page and "ledger.sqlite" not in page


def test_a_period_running_is_refused_and_another_period_goes_on(
    tmp_path: Path, pg_url: str
) -> None:
    out_a, out_b = tmp_path / "clerk_a", tmp_path / "clerk_b"  # two clerks, two PCs' folders
    q2 = _inbox(tmp_path, "2026Q2", [GOOD_SENIOR])
    q3 = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])
    with Ledger(pg_url) as running:
        running.lock_period("2026Q3")  # clerk A's run of 2026Q3, still going
        res = _cli("run", "2026Q3", "--inbox", str(q3), "--output", str(out_b), "--ledger", pg_url)
        assert res.exit_code == 1
        assert "考核期 2026Q3 正在由另一个 kpi-excel 运行" in res.output
        assert "Traceback" not in res.output
        assert not (out_b / "2026Q3").exists()
        res = _cli("run", "2026Q2", "--inbox", str(q2), "--output", str(out_b), "--ledger", pg_url)
        assert res.exit_code == 0, res.output  # another period goes on meanwhile
    # clerk A's run has ended (its connection closed): the period runs
    res = _cli("run", "2026Q3", "--inbox", str(q3), "--output", str(out_a), "--ledger", pg_url)
    assert res.exit_code == 0, res.output
    with Ledger(pg_url) as ledger:
        assert [r.period for r in ledger.runs()] == ["2026Q2", "2026Q3"]


def test_an_unreachable_database_is_said_in_chinese_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://clerk:secret@/nowhere?host={tmp_path}&port=1"
    res = _cli("runs", "--ledger", url)
    assert res.exit_code == 1
    assert "无法打开台账 postgresql://clerk@" in res.output
    assert "secret" not in res.output and "Traceback" not in res.output


def test_approve_and_reopen_wait_for_no_run_of_the_period(tmp_path: Path, pg_url: str) -> None:
    """On a shared ledger, approving or reopening a period another clerk is running is refused
    (the run's advisory lock), and nothing is recorded."""
    out = tmp_path / "out"
    q3 = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])
    res = _cli("run", "2026Q3", "--inbox", str(q3), "--output", str(out), "--ledger", pg_url)
    assert res.exit_code == 0, res.output
    approve = ["approve", "2026Q3", "--by", "王审计", "--output", str(out), "--ledger", pg_url]
    with Ledger(pg_url) as running:
        running.lock_period("2026Q3")  # another clerk's run of 2026Q3, still going
        res = _cli(*approve)
        assert res.exit_code == 1 and "考核期 2026Q3 正在由另一个 kpi-excel 运行" in res.output
        assert running.events("2026Q3") == []
    assert _cli(*approve).exit_code == 0
    reopen = ["reopen", "2026Q3", "--by", "王审计", "--reason", "改正", "--output", str(out)]
    with Ledger(pg_url) as running:
        running.lock_period("2026Q3")
        res = _cli(*reopen, "--ledger", pg_url)
        assert res.exit_code == 1 and "正在由另一个 kpi-excel 运行" in res.output
        assert [e.kind for e in running.events("2026Q3")] == ["approve"]
    assert _cli(*reopen, "--ledger", pg_url).exit_code == 0
