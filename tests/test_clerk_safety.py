"""Nothing a clerk does loses results: an empty inbox, a rerun missing branches, a copy of a
workbook, a failed commit or swap, leftovers of a killed run, a closed pipe."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import _summary, main
from kpi_excel.errors import EmptyInbox, NothingScored
from kpi_excel.ledger import Ledger
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import MissingBranch, run
from kpi_excel.rulebook import load_rulebook
from kpi_excel.write import publish as publish_module
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person

ROOT = Path(__file__).resolve().parents[1]
Q3 = parse_period("2026Q3", load_rulebook().calendar)


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under root, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def current_state(out: Path) -> tuple[dict, bytes]:
    """The period folder and the ledger, byte for byte."""
    return tree(out / "2026Q3"), (out / "ledger.sqlite").read_bytes()


@pytest.fixture
def rules():
    return load_rulebook()


@pytest.fixture
def scored(inbox):
    """The inbox after a clean first run of 2026Q3: E001 (B001) and H002 (B002) scored."""
    inbox.add("一.xlsx", [GOOD_SENIOR], code="B001", name="一支行")
    inbox.add("二.xlsx", [person(GOOD_HEAD, emp_id="H002")], code="B002", name="二支行")
    assert inbox.run().exit_code == 0
    return inbox


def _empty(inbox) -> None:
    for f in inbox.dir.iterdir():
        f.unlink()


# -- an empty inbox ----------------------------------------------------------------------------


def test_empty_inbox_is_refused_and_leaves_everything_byte_identical(scored) -> None:
    before = tree(scored.out)  # outputs, previous runs, ledger, lock, log, cache
    _empty(scored)
    (scored.dir / "~$一.xlsx").write_bytes(b"lock")  # an Office lock file is no submission
    (scored.dir / "Thumbs.db").write_bytes(b"thumbs")
    res = scored.run()
    assert res.exit_code == 2
    assert res.output == (
        f"错误: 收件夹 {scored.dir} 中没有可读取的工作簿(.xlsx)"
        "(已跳过非提交文件:Thumbs.db、~$一.xlsx),未运行,现有结果未改动\n"
    )
    assert tree(scored.out) == before
    hist = cli("history", "E001", "--output", str(scored.out))
    assert hist.exit_code == 0 and "2026Q3\tB001\t已计分\t100.00" in hist.output
    assert cli("explain", "2026Q3", "H002", "--output", str(scored.out)).exit_code == 0


def test_empty_inbox_with_no_earlier_run_writes_nothing(inbox) -> None:
    res = inbox.run()
    assert res.exit_code == 2
    assert res.output == f"错误: 收件夹 {inbox.dir} 中没有可读取的工作簿(.xlsx),未运行\n"
    assert not inbox.out.exists()


def test_empty_inbox_is_a_library_exception(tmp_path: Path, rules) -> None:
    (tmp_path / "in").mkdir()
    with pytest.raises(EmptyInbox, match="没有可读取的工作簿"):
        run(Q3, tmp_path / "in", tmp_path / "out", rules)
    assert not (tmp_path / "out").exists()


def test_inbox_where_nobody_can_be_scored_does_not_replace_the_current_run(scored) -> None:
    before = current_state(scored.out)
    _empty(scored)
    (scored.dir / "坏.xlsx").write_bytes(b"this is not a workbook")
    (scored.dir / "旧.xls").write_bytes(b"old binary format")
    scored.add("三.xlsx", [person(GOOD_SENIOR, deposit_avg="约1300")], code="B003")
    res = scored.run()
    assert res.exit_code == 2
    lines = res.output.splitlines()
    assert lines[0] == (
        f"错误: 收件夹 {scored.dir} 中没有任何人员可以计分(拒收 2 个文件,未计分 1 人),未运行;"
        "考核期 2026Q3 的现有结果(运行 "
        + json.loads((scored.out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
        + ",计分 2 人)未改动"
    )
    assert lines[1] == "  旧.xls 无法读取:这是旧版 .xls 格式,请在 Excel/WPS 中另存为 .xlsx 后提交"
    assert lines[2].startswith("  坏.xlsx 无法读取:") and "文件不完整或已损坏" in lines[2]
    assert lines[3] == "  三.xlsx 考核数据!E2「本期存款日均」应为数字,实际为「约1300」"
    assert current_state(scored.out) == before
    assert [p.name for p in scored.out.iterdir() if p.name.startswith(".2026Q3")] == []


def test_a_first_run_where_nobody_is_scored_still_runs(inbox, rules) -> None:
    """Nothing to lose: the clerk gets rejected.csv and the report."""
    (inbox.dir / "坏.xlsx").write_bytes(b"this is not a workbook")
    res = inbox.run()
    assert res.exit_code == 1
    assert [r["file"] for r in inbox.rejected()] == ["坏.xlsx"]


def test_nothing_scored_is_a_library_exception_naming_the_reasons(scored, rules) -> None:
    _empty(scored)
    (scored.dir / "坏.xlsx").write_bytes(b"PK broken")
    with pytest.raises(NothingScored) as info:
        run(Q3, scored.dir, scored.out, rules)
    assert info.value.reasons[0].startswith("坏.xlsx 无法读取:")


# -- a rerun missing branches ------------------------------------------------------------------


def test_rerun_names_the_branches_it_no_longer_scores(inbox, rules, capsys) -> None:
    inbox.add("a.xlsx", [GOOD_SENIOR], code="B001", name="一支行")
    inbox.add("b.xlsx", [person(GOOD_SENIOR, emp_id="E002")], code="B002", name="二支行")
    inbox.add("c.xlsx", [person(GOOD_SENIOR, emp_id="E003")], code="B003", name="三支行")
    two = [person(GOOD_SENIOR, emp_id="E004"), person(GOOD_SENIOR, emp_id="E005")]
    inbox.add("d.xlsx", two, code="B004", name="四支行")
    first = run(Q3, inbox.dir, inbox.out, rules)
    assert first.missing_branches == [] and first.replaces == ""
    (inbox.dir / "b.xlsx").unlink()  # B002 not submitted this time
    inbox.add("c.xlsx", [person(GOOD_SENIOR, emp_id="E003")], code="B003", period="2026Q2")
    bad = [person(p, deposit_avg="约1300") for p in two]
    inbox.add("d.xlsx", bad, code="B004", name="四支行")  # every row refused
    second = run(Q3, inbox.dir, inbox.out, rules)  # the run goes on
    assert second.replaces == first.run_id
    assert second.missing_branches == [
        MissingBranch("B002", "二支行", 1, "本次收件夹中没有该机构的工作簿"),
        MissingBranch("B003", "三支行", 1, "该机构的工作簿 c.xlsx 本次被拒收"),
        MissingBranch("B004", "四支行", 2, "d.xlsx 中该机构的人员本次均未计分"),
    ]
    _summary(second, None)  # what `kpi-excel run` prints at the end
    assert (
        f"注意: 以下机构在上次的运行(运行 {first.run_id})中有计分人员,本次一人也没有计分;"
        "本次结果成为当前结果后,这些人员在 2026Q3 没有考核结果,上次的输出保存在 previous 文件夹中:\n"
        "  缺少机构 B002 二支行(上次计分 1 人):本次收件夹中没有该机构的工作簿\n"
        "  缺少机构 B003 三支行(上次计分 1 人):该机构的工作簿 c.xlsx 本次被拒收\n"
        "  缺少机构 B004 四支行(上次计分 2 人):d.xlsx 中该机构的人员本次均未计分\n"
    ) in capsys.readouterr().out
    assert list(inbox.results()) == ["E001", "E004", "E005"]
    page = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "与上次运行相比缺少的机构(3)" in page
    assert f"(运行 {first.run_id})" in page
    assert (
        '<tr><td>B003</td><td>三支行</td><td class="n">1</td>'
        "<td>该机构的工作簿 c.xlsx 本次被拒收</td></tr>"
    ) in page
    assert (inbox.out / "2026Q3" / "previous" / first.run_id / "branches").is_dir()
    again = run(Q3, inbox.dir, inbox.out, rules)  # against the second run: B001 scored in both
    assert again.missing_branches == [] and again.replaces != first.run_id
    assert "与上次运行相比缺少的机构" not in (inbox.out / "2026Q3" / "report.html").read_text(
        encoding="utf-8"
    )


def test_rerun_with_every_branch_names_none(scored) -> None:
    res = scored.run()
    assert res.exit_code == 0 and "缺少机构" not in res.output and "注意" not in res.output


# -- a byte-identical copy of a workbook -------------------------------------------------------


def test_identical_copy_is_scored_once_and_noted(inbox) -> None:
    inbox.add("x.xlsx", [GOOD_SENIOR, person(GOOD_HEAD, emp_id="H001")], code="B001")
    shutil.copyfile(inbox.dir / "x.xlsx", inbox.dir / "x - 副本.xlsx")  # sorts before x.xlsx
    inbox.add("y.xlsx", [person(GOOD_SENIOR, emp_id="E002")], code="B002", name="二支行")
    res = inbox.run()
    assert res.exit_code == 0, res.output  # no duplicate 员工编号, no duplicate 机构号
    assert "工作簿: 共 3 个, 已计分 2 个, 拒收 0 个, 相同副本 1 个\n" in res.output
    assert "  相同副本 x - 副本.xlsx 与 x.xlsx 内容完全相同,只计一次\n" in res.output
    got = inbox.results()
    assert sorted(got) == ["E001", "E002", "H001"]
    assert {r["status"] for r in got.values()} == {"scored"}
    assert inbox.rejected() == []
    branches = sorted(p.name for p in (inbox.out / "2026Q3" / "branches").iterdir())
    assert branches == ["B001_第一支行.xlsx", "B002_二支行.xlsx"]
    page = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "<li>x - 副本.xlsx 与 x.xlsx 内容完全相同,只计一次</li>" in page
    assert "<td>x - 副本.xlsx 与 x.xlsx 内容完全相同,只计一次</td>" in page  # among the notes
    manifest = json.loads((inbox.out / "2026Q3" / "manifest.json").read_text("utf-8"))
    status = {i["name"]: i["status"] for i in manifest["inputs"]}
    assert status == {"x - 副本.xlsx": "duplicate", "x.xlsx": "scored", "y.xlsx": "scored"}
    assert manifest["counts"]["files_duplicate"] == 1
    db = sqlite3.connect(inbox.out / "ledger.sqlite")
    rows = db.execute("SELECT name, status, reason FROM run_inputs ORDER BY name").fetchall()
    db.close()
    assert rows[0] == (
        "x - 副本.xlsx",
        "duplicate",
        "x - 副本.xlsx 与 x.xlsx 内容完全相同,只计一次",
    )


def test_identical_copies_of_a_refused_file_are_refused_once(inbox) -> None:
    for name in ("坏.xlsx", "坏 (1).xlsx", "坏 - 副本.xlsx"):
        (inbox.dir / name).write_bytes(b"this is not a workbook")
    (inbox.dir / "空.xlsx").write_bytes(b"")  # empty files are no copies of each other
    (inbox.dir / "空2.xlsx").write_bytes(b"")
    inbox.add("好.xlsx", [GOOD_SENIOR])
    res = inbox.run()
    assert res.exit_code == 1
    assert sorted(r["file"] for r in inbox.rejected()) == ["坏.xlsx", "空.xlsx", "空2.xlsx"]
    assert "  相同副本 坏 (1).xlsx 与 坏.xlsx 内容完全相同,只计一次\n" in res.output
    assert "  相同副本 坏 - 副本.xlsx 与 坏.xlsx 内容完全相同,只计一次\n" in res.output


def test_which_copy_counts_does_not_depend_on_the_order_found(tmp_path: Path, rules) -> None:
    from kpi_excel.collect import Collected, _drop_copies

    def collected(names: list[str]) -> Collected:
        recs = [{"name": n, "size": 5, "sha256": "ab", "status": "read"} for n in names]
        return Collected(inputs=recs)

    a = collected(["x - 副本.xlsx", "x.xlsx", "x (1).xlsx"])
    b = collected(["x (1).xlsx", "x.xlsx", "x - 副本.xlsx"])
    _drop_copies(a)
    _drop_copies(b)
    assert a.duplicates == b.duplicates == [("x (1).xlsx", "x.xlsx"), ("x - 副本.xlsx", "x.xlsx")]


# -- the ledger commit and the output swap together --------------------------------------------


def _rerun_inbox(inbox) -> None:
    inbox.add("一.xlsx", [person(GOOD_SENIOR, deposit_avg="1400")], code="B001", name="一支行")


def test_failed_commit_undoes_the_swap(scored, rules, monkeypatch) -> None:
    before = current_state(scored.out)
    _rerun_inbox(scored)

    def fail(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Ledger, "commit", fail)
    with pytest.raises(sqlite3.OperationalError):
        run(Q3, scored.dir, scored.out, rules)
    assert current_state(scored.out) == before
    assert [p.name for p in scored.out.iterdir() if p.name.startswith(".2026Q3")] == []
    monkeypatch.undo()
    after = run(Q3, scored.dir, scored.out, rules)  # and the next run goes through
    manifest = json.loads((scored.out / "2026Q3" / "manifest.json").read_text("utf-8"))
    assert manifest["run_id"] == after.run_id and after.replaces


def _lock_period_folder(monkeypatch, period_dir: Path) -> None:
    """The period folder cannot be renamed (Windows: a file in it is open in Excel)."""
    real = os.replace

    def locked(src, dst) -> None:
        if Path(src) == period_dir:
            raise PermissionError(13, "locked", str(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", locked)


def test_failed_commit_undoes_an_in_place_publish(scored, rules, monkeypatch) -> None:
    """The period folder is locked (Windows: a file open in Excel): files are replaced one by
    one, and put back one by one when the commit fails."""
    before = current_state(scored.out)
    _rerun_inbox(scored)
    (scored.dir / "二.xlsx").unlink()  # the new set lacks a branch workbook the old one has

    def fail(self) -> None:
        raise sqlite3.OperationalError("database is locked")

    _lock_period_folder(monkeypatch, scored.out / "2026Q3")
    monkeypatch.setattr(Ledger, "commit", fail)
    with pytest.raises(sqlite3.OperationalError):
        run(Q3, scored.dir, scored.out, rules)
    monkeypatch.undo()
    got = current_state(scored.out)
    assert sorted(got[0]) == sorted(before[0])
    assert [k for k in got[0] if got[0][k] != before[0][k]] == []
    assert got[1] == before[1]
    assert [p.name for p in scored.out.iterdir() if p.name.startswith(".2026Q3")] == []


def test_in_place_publish_replaces_the_set_and_keeps_the_old_one(scored, rules, monkeypatch):
    first = json.loads((scored.out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
    old = tree(scored.out / "2026Q3")
    (scored.dir / "二.xlsx").unlink()
    _lock_period_folder(monkeypatch, scored.out / "2026Q3")
    result = run(Q3, scored.dir, scored.out, rules)
    monkeypatch.undo()
    now = tree(scored.out / "2026Q3")
    assert [k for k in now if k.startswith("branches/") and k.count("/") == 1] == [
        "branches/B001_一支行.xlsx"
    ]  # the branch workbook of B002 is gone from the current set...
    kept = {k.split(f"previous/{first}/", 1)[1]: v for k, v in now.items() if f"{first}/" in k}
    assert kept == old  # ...and kept, with the rest of the old set
    assert json.loads(now["manifest.json"])["run_id"] == result.run_id
    assert not (scored.out / f".2026Q3.staging-{result.run_id}").exists()


def test_failed_swap_rolls_back_the_ledger(scored, rules, monkeypatch) -> None:
    before = current_state(scored.out)
    _rerun_inbox(scored)
    real = os.replace

    def full(src, dst) -> None:
        if ".staging-" in Path(src).name:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        run(Q3, scored.dir, scored.out, rules)
    monkeypatch.undo()
    assert current_state(scored.out) == before
    assert [p.name for p in scored.out.iterdir() if p.name.startswith(".2026Q3")] == []
    with Ledger(scored.out / "ledger.sqlite") as ledger:
        assert len(ledger.runs()) == 1


# -- leftovers of a killed run -----------------------------------------------------------------


def test_next_run_removes_leftover_staging_and_temporary_files(scored, rules) -> None:
    out = scored.out
    dead = out / ".2026Q3.staging-2026Q3-20260101T000000-dead"
    (dead / "branches").mkdir(parents=True)
    (dead / "results.csv").write_text("half", encoding="utf-8")
    other = out / ".2026Q2.staging-2026Q2-20260101T000000-beef"  # another period's: same lock
    other.mkdir()
    (out / "2026Q3" / ".results.4242.tmp.csv").write_text("half", encoding="utf-8")
    (out / "2026Q3" / "branches" / ".一支行(B001).4242.tmp.xlsx").write_bytes(b"half")
    (out / ".cache").mkdir(exist_ok=True)
    (out / ".cache" / "abc-0.1.0-r1.tmp").write_bytes(b"half")
    keep = out / "2026Q3" / "branches" / "notes.txt"  # not ours to remove
    keep.write_text("a clerk's note", encoding="utf-8")
    result = run(Q3, scored.dir, out, rules)
    assert not dead.exists() and not other.exists()
    names = [p.name for p in out.rglob("*")]
    assert not [n for n in names if ".tmp" in n or ".staging-" in n or ".old-" in n]
    assert (out / "2026Q3" / "previous").is_dir() and result.replaces
    assert (out / "2026Q3" / "previous" / result.replaces / "branches" / "notes.txt").exists()


def test_run_killed_between_the_two_renames_is_put_right(scored, rules) -> None:
    """The period folder was moved aside and the new one never moved in: the old comes back."""
    out = scored.out
    first = json.loads((out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
    old = tree(out / "2026Q3")
    os.replace(out / "2026Q3", out / ".2026Q3.old-2026Q3-20260101T000000-dead")
    (out / ".2026Q3.staging-2026Q3-20260101T000000-dead").mkdir()
    result = run(Q3, scored.dir, out, rules)
    assert result.replaces == first
    assert tree(out / "2026Q3" / "previous" / first) == old
    assert [p.name for p in out.iterdir() if p.name.startswith(".2026Q3")] == []


def test_run_killed_before_the_commit_is_undone_by_the_next(scored, rules, monkeypatch) -> None:
    """The swap happened, the commit did not, and the swap could not be undone (a crash): the
    outputs of a run the ledger does not know must not become the period's results."""
    out = scored.out
    first = json.loads((out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
    old = tree(out / "2026Q3")
    _rerun_inbox(scored)

    def crash(self) -> None:
        raise KeyboardInterrupt

    def cannot(self) -> None:
        raise OSError("killed")

    monkeypatch.setattr(Ledger, "commit", crash)
    monkeypatch.setattr(publish_module.Swap, "undo", cannot)
    with pytest.raises(KeyboardInterrupt):
        run(Q3, scored.dir, out, rules)
    monkeypatch.undo()
    ghost = json.loads((out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
    assert ghost != first and [p.name for p in out.iterdir() if ".old-" in p.name]
    result = run(Q3, scored.dir, out, rules)
    assert result.replaces == first
    assert tree(out / "2026Q3" / "previous" / first) == old
    assert not (out / "2026Q3" / "previous" / ghost).exists()
    with Ledger(out / "ledger.sqlite") as ledger:
        assert [r.run_id for r in ledger.runs()] == [first, result.run_id]


def test_run_killed_after_the_commit_has_its_old_outputs_filed(scored, rules, monkeypatch):
    out = scored.out
    first = json.loads((out / "2026Q3" / "manifest.json").read_text("utf-8"))["run_id"]
    old = tree(out / "2026Q3")

    def cannot(self) -> None:
        raise OSError("killed")

    monkeypatch.setattr(publish_module.Swap, "finish", cannot)
    second = run(Q3, scored.dir, out, rules)  # committed: the run stands
    monkeypatch.undo()
    assert (out / f".2026Q3.old-{second.run_id}").is_dir()
    third = run(Q3, scored.dir, out, rules)
    assert third.replaces == second.run_id
    assert tree(out / "2026Q3" / "previous" / first) == old
    assert (out / "2026Q3" / "previous" / second.run_id / "manifest.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".2026Q3")] == []


# -- a closed pipe -----------------------------------------------------------------------------


def _command(scored, *args: str) -> list[str]:
    return [sys.executable, "-m", "kpi_excel", *args, "--output", str(scored.out)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}


COMMANDS = [("explain", "2026Q3", "E001"), ("history", "E001"), ("runs",)]


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_output_into_head_ends_quietly(scored, args) -> None:
    writer = subprocess.Popen(
        _command(scored, *args),
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-1"], stdin=writer.stdout, capture_output=True, timeout=120)
    writer.stdout.close()
    err = writer.stderr.read()
    writer.stderr.close()
    code = writer.wait(timeout=120)
    assert err == b"" and code in (0, 141)
    first = head.stdout.decode("utf-8")
    assert first.count("\n") == 1
    assert first.startswith(
        {"explain": "2026Q3 ", "history": "员工 E001 张三", "runs": "运行编号"}[args[0]]
    )


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_output_into_a_closed_pipe_ends_quietly(scored, args) -> None:
    """The reader is gone before the first line: every write meets a broken pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            _command(scored, *args), cwd=ROOT, env=_env(), stdout=write_end,
            stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.stderr == b""
    assert done.returncode == 141


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_is_read_and_shown(inbox) -> None:
    path = inbox.add("b.xlsx", [GOOD_SENIOR])
    os.rename(bytes(path), bytes(path.parent) + b"/\xff\xfe\xe6\x94\xaf.xlsx")
    result = inbox.run()
    assert result.exit_code == 0, result.output
    assert inbox.results()["E001"]["status"] == "scored"
    report = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "\ufffd\ufffd" in report
