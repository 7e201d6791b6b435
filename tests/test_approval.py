"""Approval and lock: an approved period refuses a rerun and keeps every byte, a reopening (with
a reason) allows it, runs and history list both, the outputs say 已审核 with who and when, and
the rules across periods read the approved run."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main
from kpi_excel.comparison import LedgerAsOf
from kpi_excel.errors import PeriodApproved
from kpi_excel.ledger import Ledger
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run
from kpi_excel.rulebook import load_rulebook
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import write_branch_workbook
from tests.test_outputs_open import excel_unescape

HOSTILE_NOTE = '=HYPERLINK("http://x","点")<script>alert(1)</script>&_x0041_'


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _inbox(root: Path, period: str, rows: list[dict]) -> Path:
    d = root / "in" / period
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    write_branch_workbook(
        d / "b.xlsx", branch_code="B001", branch_name="一支行", period=period, rows=rows
    )
    return d


def _run(root: Path, period: str, rows: list[dict]):
    out = root / "out"
    return _cli("run", period, "--inbox", str(_inbox(root, period, rows)), "--output", str(out))


def _results(out: Path, period: str) -> dict[str, dict]:
    with (out / period / "results.csv").open(encoding="utf-8-sig") as fh:
        return {r["emp_id"]: r for r in csv.DictReader(fh)}


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under root, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def approved(tmp_path: Path) -> Path:
    """2026Q3 run once (张三 scores 100.00) and approved by 王审计."""
    assert _run(tmp_path, "2026Q3", [GOOD_SENIOR, GOOD_HEAD]).exit_code == 0
    out = tmp_path / "out"
    res = _cli("approve", "2026Q3", "--by", "王审计", "--note", HOSTILE_NOTE, "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "考核期 2026Q3 已审核:审核人 王审计" in res.output
    return out


def test_an_approved_period_refuses_a_rerun_and_leaves_every_byte_as_it_was(
    approved: Path, tmp_path: Path
) -> None:
    before = tree(approved)  # outputs, ledger, lock file, cache, log
    assert ".kpi-excel.lock" in before and "ledger.sqlite" in before
    changed = [person(GOOD_SENIOR, conduct_deduction="10"), GOOD_HEAD]
    res = _run(tmp_path, "2026Q3", changed)
    assert res.exit_code == 2
    assert "考核期 2026Q3 已于" in res.output and "由 王审计 审核" in res.output
    assert "kpi-excel reopen 2026Q3 --by 姓名 --reason 重开原因" in res.output
    assert "Traceback" not in res.output
    assert tree(approved) == before
    # the library refuses as the CLI does, and an empty inbox is refused for the approval too
    rules = load_rulebook()
    with pytest.raises(PeriodApproved, match="王审计"):
        run(parse_period("2026Q3", rules.calendar), tmp_path / "in" / "2026Q3", approved, rules)
    (tmp_path / "in" / "2026Q3" / "b.xlsx").unlink()
    assert _run(tmp_path, "2026Q3", []).exit_code == 2  # _inbox writes a workbook of nobody
    assert tree(approved) == before


def test_reopen_allows_the_rerun_and_runs_and_history_list_both_events(
    approved: Path, tmp_path: Path
) -> None:
    out = approved
    res = _cli("reopen", "2026Q3", "--by", "李主任", "--output", str(out))
    assert res.exit_code == 2 and "--reason" in res.output  # the reason is required
    res = _cli("reopen", "2026Q3", "--by", "李主任", "--reason", "  ", "--output", str(out))
    assert res.exit_code == 2 and "请用 --reason 写明重开原因" in res.output
    res = _cli(
        "reopen", "2026Q3", "--by", "李主任", "--reason", "支行更正扣分", "--output", str(out)
    )
    assert res.exit_code == 0, res.output
    res = _cli("reopen", "2026Q3", "--by", "李主任", "--reason", "再次", "--output", str(out))
    assert res.exit_code == 2 and "未审核(或已重开)" in res.output
    res = _run(tmp_path, "2026Q3", [person(GOOD_SENIOR, conduct_deduction="10"), GOOD_HEAD])
    assert res.exit_code == 0, res.output
    assert _results(out, "2026Q3")["E001"]["total"] == "90.00"
    report = (out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "已审核" not in report  # the new run is not approved

    with Ledger(out / "ledger.sqlite") as ledger:
        first, second = ledger.runs()
        events = ledger.events("2026Q3")
    assert [(e.kind, e.by, e.run_id) for e in events] == [
        ("approve", "王审计", first.run_id),
        ("reopen", "李主任", first.run_id),
    ]
    assert events[1].note == "支行更正扣分"
    lines = _cli("runs", "--output", str(out)).output.splitlines()
    assert lines[0].split("\t")[-1] == "审核"
    assert lines[1].startswith(first.run_id) and "\t已重开(李主任 " in lines[1]
    assert lines[2].startswith(second.run_id) and lines[2].endswith("\t是\t")
    assert "审核与重开记录:" in lines
    approve_line = next(x for x in lines if "\t审核\t王审计\t" in x)
    reopen_line = next(x for x in lines if "\t重开\t李主任\t" in x)
    assert approve_line.endswith(f"\t{first.run_id}\t{HOSTILE_NOTE}")
    assert reopen_line.endswith(f"\t{first.run_id}\t支行更正扣分")
    history = _cli("history", "E001", "--output", str(out)).output
    assert "\t完成时间\t审核" in history and "\t已重开(李主任 " in history
    assert "\t审核\t王审计\t" in history and "\t重开\t李主任\t" in history
    # approve again: the new run is approved now
    assert _cli("approve", "2026Q3", "--by", "王审计", "--output", str(out)).exit_code == 0
    with Ledger(out / "ledger.sqlite") as ledger:
        assert ledger.approval("2026Q3").run_id == second.run_id


def test_approving_twice_is_refused_and_changes_nothing(approved: Path) -> None:
    before = tree(approved)
    res = _cli("approve", "2026Q3", "--by", "赵六", "--output", str(approved))
    assert res.exit_code == 2
    assert "已于" in res.output and "由 王审计 审核" in res.output and "不能重复审核" in res.output
    assert {k: v for k, v in tree(approved).items() if k != ".kpi-excel.lock"} == {
        k: v for k, v in before.items() if k != ".kpi-excel.lock"
    }


def test_approving_a_period_without_a_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _cli("approve", "2026Q3", "--by", "王审计", "--output", str(out))
    assert res.exit_code == 1 and "找不到台账" in res.output
    assert not out.exists()  # nothing made, not even the lock file
    assert _run(tmp_path, "2026Q3", [GOOD_SENIOR]).exit_code == 0
    res = _cli("approve", "2026Q2", "--by", "王审计", "--output", str(out))
    assert res.exit_code == 1
    assert "台账中没有考核期 2026Q2 的运行记录,无法审核;请先运行 kpi-excel run 2026Q2" in res.output
    res = _cli("approve", "2026Q3", "--by", " ", "--output", str(out))
    assert res.exit_code == 2 and "请用 --by 写明审核人" in res.output


def test_the_approved_outputs_say_who_approved_them_and_when_and_their_hashes_are_kept(
    approved: Path,
) -> None:
    period = approved / "2026Q3"
    with Ledger(approved / "ledger.sqlite") as ledger:
        approval = ledger.approval("2026Q3")
    assert approval is not None and approval.by == "王审计" and approval.at.endswith("+00:00")
    assert approval.note == HOSTILE_NOTE
    names = sorted(approval.outputs)
    assert names == [
        "branches/B001_一支行.xlsx", "manifest.json", "rejected.csv", "report.html",
        "results.csv", "summary.xlsx",
    ]  # fmt: skip
    for name, sha in approval.outputs.items():
        assert hashlib.sha256((period / name).read_bytes()).hexdigest() == sha, name
    shown = _cli("runs", "--output", str(approved)).output
    when = next(x for x in shown.splitlines() if "\t审核\t王审计\t" in x).split("\t")[0]
    for book in ("branches/B001_一支行.xlsx", "summary.xlsx"):
        wb = openpyxl.load_workbook(period / book)
        title = wb.worksheets[0]["A1"].value
        assert title.endswith(f"〔已审核:王审计,{when}〕"), title
        assert wb.sheetnames[-1] == "审核记录"
        record = {r[0].value: r[1] for r in wb["审核记录"].iter_rows()}
        assert record["审核状态"].value == "已审核" and record["审核人"].value == "王审计"
        assert record["审核时间"].value == when and record["运行编号"].value == approval.run_id
        # text, shown as Excel reads an inline string (openpyxl leaves its `_xHHHH_` escapes)
        assert record["备注"].data_type == "s"
        assert excel_unescape(record["备注"].value) == HOSTILE_NOTE
    wb = openpyxl.load_workbook(period / "branches/B001_一支行.xlsx")
    assert wb.sheetnames[:3] == ["考核结果", "计分说明", "原始数据"]
    assert {wb["考核结果"]["A4"].value, wb["考核结果"]["A5"].value} == {"E001", "H001"}
    report = (period / "report.html").read_text(encoding="utf-8")
    assert f"已审核:王审计,{when}(运行 {approval.run_id})" in report
    assert "<script>alert(1)" not in report and "&lt;script&gt;alert(1)" in report
    # a compare written later is not an output of the run
    (period / "compare_x.xlsx").write_bytes(b"later")
    from kpi_excel.approval import output_files

    assert "compare_x.xlsx" not in [p.as_posix() for p in output_files(period)]


def test_rules_across_periods_read_the_approved_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = {"deposit_base": "1000"}  # 90% of the base = 900
    low_june = [person(GOOD_SENIOR, deposit_m4="950", deposit_m5="899", deposit_m6="899", **base)]
    fine_june = [person(GOOD_SENIOR, deposit_m4="950", deposit_m5="950", deposit_m6="950", **base)]
    q3 = [person(GOOD_SENIOR, deposit_m7="899", deposit_m8="950", deposit_m9="950", **base)]
    assert _run(tmp_path, "2026Q2", low_june).exit_code == 0
    assert _cli("approve", "2026Q2", "--by", "王审计", "--output", str(out)).exit_code == 0
    assert _run(tmp_path, "2026Q2", fine_june).exit_code == 2  # refused: Q2 stays as approved
    assert _run(tmp_path, "2026Q3", q3).exit_code == 0
    assert _results(out, "2026Q3")["E001"]["flags"] == "A14-2-DEPOSIT3M"  # May, June, July

    # Reopened and rerun, Q2's current run is the new one; Q3 rerun reads it.
    reason = ("--reason", "六月存款更正")
    assert _cli("reopen", "2026Q2", "--by", "李主任", *reason, "--output", str(out)).exit_code == 0
    assert _run(tmp_path, "2026Q2", fine_june).exit_code == 0
    assert _run(tmp_path, "2026Q3", q3).exit_code == 0
    assert _results(out, "2026Q3")["E001"]["flags"] == ""

    # The rule itself: an approved run is the period's current run even when a later completed
    # run exists (one recorded by other means), and the ledger as of a run sees the approval
    # in force then. The same function answers history and compare.
    with Ledger(out / "ledger.sqlite") as ledger:
        q2_first, q2_second = (r for r in ledger.runs() if r.period == "2026Q2")
        q3_last = [r for r in ledger.runs() if r.period == "2026Q3"][-1]
        assert ledger.current_run("2026Q2").id == q2_second.id
        ledger.add_event("approve", q2_first, "王审计", "2026-12-01T00:00:00+00:00")
        assert ledger.current_run("2026Q2").id == q2_first.id
        assert ledger.history("E001")[0]["run_id"] == q2_first.run_id
        view = LedgerAsOf(ledger, q3_last)
        assert view.current_run("2026Q2").id == q2_second.id  # approved after q3_last was run


def test_the_library_approves_and_reopens(tmp_path: Path) -> None:
    assert _run(tmp_path, "2026Q3", [GOOD_SENIOR]).exit_code == 0
    out = tmp_path / "out"
    event = kpi_excel.approve("2026Q3", "王审计", note="季度审核", output=out)
    assert (event.kind, event.by, event.note, event.period) == (
        "approve",
        "王审计",
        "季度审核",
        "2026Q3",
    )
    with pytest.raises(kpi_excel.PeriodApproved):
        kpi_excel.approve("2026Q3", "王审计", output=out)
    event = kpi_excel.reopen("2026Q3", "李主任", "数据更正", output=out)
    assert (event.kind, event.by, event.note) == ("reopen", "李主任", "数据更正")


def test_an_approve_killed_before_its_commit_is_undone_by_the_next_run(tmp_path: Path) -> None:
    """A killed approve leaves stamped files and the originals moved aside, with no approval in
    the ledger: the next run puts the originals back before filing them under previous/."""
    out = tmp_path / "out"
    assert _run(tmp_path, "2026Q3", [person(GOOD_SENIOR)]).exit_code == 0
    period_dir = out / "2026Q3"
    first = (out / "2026Q3" / "manifest.json").read_text(encoding="utf-8")
    original = (period_dir / "summary.xlsx").read_bytes()
    (period_dir / ".summary.xlsx.4242.approve").write_bytes(original)
    (period_dir / "summary.xlsx").write_bytes(b"stamped, never committed")
    assert _run(tmp_path, "2026Q3", [person(GOOD_SENIOR)]).exit_code == 0
    run_id = next(line for line in first.splitlines() if '"run_id"' in line).split('"')[3]
    assert (period_dir / "previous" / run_id / "summary.xlsx").read_bytes() == original
    assert not list(out.rglob("*.approve"))


def test_an_approve_killed_after_its_commit_keeps_the_stamped_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(tmp_path, "2026Q3", [person(GOOD_SENIOR)]).exit_code == 0
    period_dir = out / "2026Q3"
    assert _cli("approve", "2026Q3", "--by", "王审计", "--output", str(out)).exit_code == 0
    stamped = (period_dir / "summary.xlsx").read_bytes()
    (period_dir / ".summary.xlsx.4242.approve").write_bytes(b"the unstamped original")
    args = ["reopen", "2026Q3", "--by", "王审计", "--reason", "改正", "--output", str(out)]
    assert _cli(*args).exit_code == 0
    assert _run(tmp_path, "2026Q3", [person(GOOD_SENIOR)]).exit_code == 0
    (filed,) = (period_dir / "previous").iterdir()
    assert (filed / "summary.xlsx").read_bytes() == stamped
    assert not list(out.rglob("*.approve"))
