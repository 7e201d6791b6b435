"""An auditor's report: report.html says which run it is, when it ran, with which tool version,
rulebook and ledger, and the command that started it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from markupsafe import escape

from kpi_excel import __version__
from kpi_excel.cli import main
from kpi_excel.ledger import Ledger
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run
from kpi_excel.report import VIA_LIBRARY
from kpi_excel.rulebook import load_rulebook
from kpi_excel.timefmt import local_time
from tests.conftest import GOOD_SENIOR
from tests.support.workbooks import write_branch_workbook


def _inbox(root: Path, name: str = "inbox") -> Path:
    inbox = root / name
    inbox.mkdir()
    write_branch_workbook(
        inbox / "b.xlsx", branch_code="B001", branch_name="第一支行", period="2026Q3",
        rows=[GOOD_SENIOR],
    )  # fmt: skip
    return inbox


def _row(page: str, label: str) -> str:
    """The value cell of the run table's row `label`."""
    head = f"<tr><th>{label}</th><td"
    start = page.index(head) + len(head)
    start = page.index(">", start) + 1
    return page[start : page.index("</td>", start)]


def test_report_names_the_run_its_times_version_rulebook_ledger_and_command(tmp_path) -> None:
    inbox, out = _inbox(tmp_path, "收件 <b>&"), tmp_path / "out"
    args = ["run", "2026Q3", "--inbox", str(inbox), "--output", str(out)]
    res = CliRunner().invoke(main, args, prog_name="kpi-excel")
    assert res.exit_code == 0, res.output
    page = (out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    manifest = json.loads((out / "2026Q3" / "manifest.json").read_text(encoding="utf-8"))
    rules = load_rulebook()
    with Ledger(out / "ledger.sqlite") as ledger:
        kept = ledger.runs()[0]
    assert _row(page, "运行编号") == manifest["run_id"] == kept.run_id
    assert (
        _row(page, "开始时间") == local_time(manifest["started_at"]) == local_time(kept.started_at)
    )
    assert _row(page, "结束时间") == local_time(manifest["finished_at"])
    assert manifest["finished_at"] == kept.finished_at >= kept.started_at
    assert _row(page, "kpi-excel 版本") == __version__ == manifest["tool_version"]
    assert _row(page, "考核方案") == f"{escape(rules.name)}(方案编号 main)"
    assert _row(page, "规则文件 SHA-256") == rules.sha256 == manifest["rulebook"]["sha256"]
    assert _row(page, "台账") == str(escape(os.path.abspath(out / "ledger.sqlite")))
    # the command as typed, the inbox's name escaped (text is never markup)
    typed = f"kpi-excel run 2026Q3 --inbox '{inbox}' --output {out}"
    assert _row(page, "命令行") == str(escape(typed))
    assert "<b>&" not in page


def test_report_of_a_library_run_says_there_was_no_command_line(tmp_path) -> None:
    rules = load_rulebook()
    result = run(parse_period("2026Q3", rules.calendar), _inbox(tmp_path), tmp_path / "o", rules)
    page = (result.out_dir / "report.html").read_text(encoding="utf-8")
    assert _row(page, "命令行") == VIA_LIBRARY and "Python" in VIA_LIBRARY
    assert _row(page, "运行编号") == result.run_id
    assert _row(page, "台账") == os.path.abspath(tmp_path / "o" / "ledger.sqlite")
