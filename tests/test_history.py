"""History: the ledger, rules across periods, reruns that lose nothing, the lock, the manifest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.errors import RunLocked
from kpi_excel.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, LedgerError
from kpi_excel.lock import OutputLock
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run
from kpi_excel.rulebook import load_rulebook
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import write_branch_workbook

Q3 = parse_period("2026Q3", load_rulebook().calendar)


def _inbox(root: Path, period: str, rows: list[dict], name: str = "b.xlsx") -> Path:
    d = root / "in" / period
    d.mkdir(parents=True, exist_ok=True)
    write_branch_workbook(
        d / name, branch_code="B001", branch_name="一支行", period=period, rows=rows
    )
    return d


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _results(out: Path, period: str) -> dict[str, dict]:
    import csv

    with (out / period / "results.csv").open(encoding="utf-8-sig") as fh:
        return {r["emp_id"]: r for r in csv.DictReader(fh)}


def test_deposit_three_months_across_the_quarter_boundary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    low = {"deposit_base": "1000"}  # 90% of base = 900
    q2 = [
        person(
            GOOD_SENIOR, emp_id="M-MJJ", deposit_m4="950", deposit_m5="899", deposit_m6="899", **low
        ),
        person(
            GOOD_SENIOR, emp_id="M-JJ", deposit_m4="950", deposit_m5="950", deposit_m6="899", **low
        ),
    ]
    q3 = [
        person(
            GOOD_SENIOR, emp_id="M-MJJ", deposit_m7="899", deposit_m8="950", deposit_m9="950", **low
        ),
        person(
            GOOD_SENIOR, emp_id="M-JJ", deposit_m7="899", deposit_m8="950", deposit_m9="950", **low
        ),
    ]
    _cli("run", "2026Q2", "--inbox", str(_inbox(tmp_path, "2026Q2", q2)), "--output", str(out))
    _cli("run", "2026Q3", "--inbox", str(_inbox(tmp_path, "2026Q3", q3)), "--output", str(out))
    got = _results(out, "2026Q3")
    assert got["M-MJJ"]["flags"] == "A14-2-DEPOSIT3M" and got["M-MJJ"]["outcome"] == "降级"
    assert got["M-JJ"]["flags"] == "" and got["M-JJ"]["outcome"] == "正常"
    res = _cli("history", "M-MJJ", "--output", str(out))
    assert res.exit_code == 0
    assert (
        "2026Q2\tB001\t已计分\t100.00" in res.output
        and "2026Q3\tB001\t已计分\t100.00" in res.output
    )


def test_missing_earlier_period_is_said_not_guessed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = [person(GOOD_SENIOR, deposit_m7="899", deposit_m8="899", deposit_m9="950")]
    result = run(Q3, _inbox(tmp_path, "2026Q3", rows), out, load_rulebook())
    r = result.people.set_index("emp_id").loc["E001"]
    assert r["flags"] == "" and r["history_note"] == "无2026Q2数据,跨期连续月份未判断"


def test_head_demoted_two_years_running_is_dismissed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    demoted = {"conduct_deduction": "10"}  # total 90 -> A14-1-SCORE decides in FY
    y2025 = [
        person(GOOD_HEAD, emp_id="H-BOTH", **demoted),
        person(GOOD_HEAD, emp_id="H-2025", **demoted),
        person(GOOD_HEAD, emp_id="H-2026"),
    ]
    y2026 = [
        person(GOOD_HEAD, emp_id="H-BOTH", **demoted),
        person(GOOD_HEAD, emp_id="H-2025"),
        person(GOOD_HEAD, emp_id="H-2026", **demoted),
    ]
    _cli("run", "2025FY", "--inbox", str(_inbox(tmp_path, "2025FY", y2025)), "--output", str(out))
    _cli("run", "2026FY", "--inbox", str(_inbox(tmp_path, "2026FY", y2026)), "--output", str(out))
    got = _results(out, "2026FY")
    assert (got["H-BOTH"]["flags"], got["H-BOTH"]["outcome"], got["H-BOTH"]["recommended_level"]) == (
        "A14-1-REPEAT;A14-1-SCORE", "解聘", "解除劳动合同")  # fmt: skip
    assert (got["H-2026"]["flags"], got["H-2026"]["outcome"]) == ("A14-1-SCORE", "降级")
    assert (got["H-2025"]["flags"], got["H-2025"]["outcome"]) == ("", "正常")


def test_rerun_with_a_corrected_workbook_keeps_the_earlier_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inbox = _inbox(tmp_path, "2026Q3", [person(GOOD_SENIOR, deposit_avg="约1300")])
    assert _cli("run", "2026Q3", "--inbox", str(inbox), "--output", str(out)).exit_code == 1
    first = json.loads((out / "2026Q3" / "manifest.json").read_text(encoding="utf-8"))["run_id"]
    _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])  # the branch resubmits
    assert _cli("run", "2026Q3", "--inbox", str(inbox), "--output", str(out)).exit_code == 0
    assert _results(out, "2026Q3")["E001"]["total"] == "100.00"
    kept = out / "2026Q3" / "previous" / first / "results.csv"
    assert (
        _results(out / "2026Q3" / "previous", first)["E001"]["status"] == "rejected"
        and kept.exists()
    )
    with Ledger(out / "ledger.sqlite") as ledger:
        assert [r.people_scored for r in ledger.runs()] == [0, 1]
        assert ledger.current_run("2026Q3").people_scored == 1
    res = _cli("runs", "--output", str(out))
    assert res.output.count("\t2026Q3\t") == 2 and res.output.strip().endswith("是")


def test_interrupted_run_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inbox = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])
    run(Q3, inbox, out, load_rulebook())
    before = {p: p.read_bytes() for p in (out / "2026Q3").rglob("*") if p.is_file()}
    _inbox(tmp_path, "2026Q3", [person(GOOD_SENIOR, deposit_avg="1400")])

    def crash() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(Q3, inbox, out, load_rulebook(), after_write=crash)
    after = {p: p.read_bytes() for p in (out / "2026Q3").rglob("*") if p.is_file()}
    assert after == before
    with Ledger(out / "ledger.sqlite") as ledger:
        assert len(ledger.runs()) == 1
    assert not [p for p in out.iterdir() if "staging" in p.name]


def test_second_run_on_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inbox = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])
    with OutputLock(out):
        with pytest.raises(RunLocked):
            run(Q3, inbox, out, load_rulebook())
        res = _cli("run", "2026Q3", "--inbox", str(inbox), "--output", str(out))
        assert res.exit_code == 1 and "正在被另一个 kpi-excel 运行使用" in res.output
    assert run(Q3, inbox, out, load_rulebook()).scored == 1  # free again


def test_manifest_and_reproducible_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inbox = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR, GOOD_HEAD])
    run(Q3, inbox, out, load_rulebook())
    first = (out / "2026Q3" / "results.csv").read_bytes()
    run(Q3, inbox, out, load_rulebook())
    assert (out / "2026Q3" / "results.csv").read_bytes() == first
    m = json.loads((out / "2026Q3" / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    assert m["inputs"] == [
        {"name": "b.xlsx", "size": (inbox / "b.xlsx").stat().st_size,
         "sha256": hashlib.sha256((inbox / "b.xlsx").read_bytes()).hexdigest(), "status": "scored"}
    ]  # fmt: skip
    assert m["rulebook"]["sha256"] == load_rulebook().sha256 and m["counts"]["people_scored"] == 2
    assert m["tool_version"] and m["run_id"].startswith("2026Q3-")


def test_ledger_schema_and_migrations(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        assert ledger.version == SCHEMA_VERSION == max(MIGRATIONS)
    tables = {
        r[0]
        for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"meta", "runs", "run_inputs", "people"} <= tables
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(LedgerError):
        Ledger(path)


def test_a_version_1_ledger_keeps_its_runs_as_the_main_schemes(tmp_path: Path) -> None:
    from kpi_excel.ledger import MIGRATIONS

    path = tmp_path / "l.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1] + "INSERT INTO meta VALUES ('schema_version', '1');")
    db.execute(
        "INSERT INTO runs (run_id, period, started_at, finished_at, tool_version, rulebook_path,"
        " rulebook_sha256, rulebook_text, files_total, files_refused, people_scored,"
        " people_refused) VALUES ('r1', '2026Q2', 't', 't', '0.1', 'p', 's', 'x', 1, 0, 3, 0)"
    )
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.version == SCHEMA_VERSION
        run_ = ledger.current_run("2026Q2")
        assert run_ is not None and (run_.run_id, run_.scheme) == ("r1", "main")
        assert ledger.current_run("2026Q2", "loan-eva") is None


def test_unknown_ids_and_periods_get_a_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(Q3, _inbox(tmp_path, "2026Q3", [GOOD_SENIOR]), out, load_rulebook())
    res = _cli("history", "NOPE", "--output", str(out))
    assert res.exit_code == 1 and "没有员工编号「NOPE」" in res.output
    res = _cli("explain", "2026Q1", "E001", "--output", str(out))
    assert res.exit_code == 1 and "没有考核期 2026Q1" in res.output
    res = _cli("runs", "--output", str(tmp_path / "empty"))
    assert res.exit_code == 1 and "找不到台账" in res.output


def test_ledger_option_puts_the_ledger_anywhere(tmp_path: Path) -> None:
    out, ledger = tmp_path / "out", tmp_path / "elsewhere" / "l.sqlite"
    inbox = _inbox(tmp_path, "2026Q3", [GOOD_SENIOR])
    res = _cli(
        "run", "2026Q3", "--inbox", str(inbox), "--output", str(out), "--ledger", str(ledger)
    )
    assert res.exit_code == 0 and ledger.exists() and not (out / "ledger.sqlite").exists()
    res = _cli("history", "E001", "--ledger", str(ledger))
    assert "2026Q3\tB001\t已计分\t100.00" in res.output


def test_explain_a_run_of_an_earlier_version_says_what_it_decided(tmp_path: Path) -> None:
    """A run stored by an earlier kpi-excel: its rulebook is in an older format and it kept no
    item details; explain says so and shows the stored result instead of failing."""
    out = tmp_path / "out"
    run(Q3, _inbox(tmp_path, "2026Q3", [GOOD_SENIOR]), out, load_rulebook())
    db = sqlite3.connect(out / "ledger.sqlite")
    db.execute("UPDATE runs SET rulebook_text = 'rulebook_version: 1\\nname: old\\n'")
    db.commit()
    db.close()
    res = _cli("explain", "2026Q3", "E001", "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "较早版本" in res.output and "综合得分: 100.00" in res.output


def _old_ledger(path: Path, version: int, runs: list[tuple[dict, list[dict]]]) -> None:
    """A ledger as kpi-excel kept it at schema `version` (1 or 4): people's inputs and
    results as JSON text, one row per person per run."""
    db = sqlite3.connect(path)
    db.executescript(
        "".join(MIGRATIONS[v] for v in range(1, version + 1))
        + f"INSERT INTO meta VALUES ('schema_version', '{version}');"
    )
    for record, people in runs:
        columns = [c for c in record if version > 1 or c != "scheme"]
        rid = db.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [record[c] for c in columns],
        ).lastrowid
        db.execute("INSERT INTO run_inputs VALUES (?, 'b.xlsx', 10, 'ab', 'scored', '')", (rid,))
        for p in people:
            db.execute(
                "INSERT INTO people VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (rid, record["period"], *(p[k] for k in _PERSON[:-2]),
                 json.dumps(p["inputs"], ensure_ascii=False),
                 json.dumps(p["results"], ensure_ascii=False)),
            )  # fmt: skip
        if version >= 3:
            db.execute(
                "INSERT INTO adjustments (run, period, emp_id, kind, field, label, before, after,"
                " reason, approver, approved_on, source, status) VALUES"
                " (?, ?, 'E001', 'override', 'outcome', '考核结论', '解聘', '正常', 'r', '王',"
                " '2026-10-15', 'a.xlsx', 'applied')",
                (rid, record["period"]),
            )
    db.commit()
    db.close()


_PERSON = ("emp_id", "branch_code", "name", "role", "status", "total", "grade", "flags",
           "decided", "outcome", "inputs", "results")  # fmt: skip


def _stored_runs(tmp_path: Path) -> list[tuple[dict, list[dict]]]:
    """Two real runs (2026Q2, 2026Q3) as their rows: what an older ledger would hold."""
    out = tmp_path / "real"
    q2 = parse_period("2026Q2", load_rulebook().calendar)
    run(q2, _inbox(tmp_path, "2026Q2", [GOOD_SENIOR, GOOD_HEAD]), out, load_rulebook())
    run(Q3, _inbox(tmp_path, "2026Q3", [person(GOOD_SENIOR, deposit_avg="1400")]), out,
        load_rulebook())  # fmt: skip
    got = []
    with Ledger(out / "ledger.sqlite") as ledger:
        for r in ledger.runs():
            record = {
                "run_id": r.run_id, "period": r.period, "started_at": r.started_at,
                "finished_at": r.finished_at, "tool_version": "0.9", "rulebook_path": "r.yaml",
                "rulebook_sha256": r.rulebook_sha256, "rulebook_text": ledger.rulebook_text(r.id),
                "files_total": r.files_total, "files_refused": r.files_refused,
                "people_scored": r.people_scored, "people_refused": r.people_refused,
                "scheme": r.scheme,
            }  # fmt: skip
            got.append((record, list(ledger.run_people(r.id))))
    return got


@pytest.mark.parametrize("version", [1, 4])
def test_an_older_ledger_keeps_every_run_and_person_when_compacted(
    tmp_path: Path, version: int
) -> None:
    stored = _stored_runs(tmp_path)
    path = tmp_path / "old.sqlite"
    _old_ledger(path, version, stored)
    with Ledger(path) as ledger:
        assert ledger.version == SCHEMA_VERSION
        runs = ledger.runs()
        assert [r.run_id for r in runs] == [rec["run_id"] for rec, _ in stored]
        for r, (record, people) in zip(runs, stored, strict=True):
            assert list(ledger.run_people(r.id)) == people  # every field, as it was
            assert ledger.rulebook_text(r.id) == record["rulebook_text"]
            assert (r.scheme, r.people_scored) == ("main", record["people_scored"])
        assert [h["period"] for h in ledger.history("E001")] == ["2026Q2", "2026Q3"]
        assert ledger.history("E001")[1]["total"] == stored[1][1][0]["total"]
        if version == 4:
            assert [a["emp_id"] for a in ledger.adjustments_of(runs[1].id)] == ["E001"]
    tables = {
        r[0]
        for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert "people_v4" not in tables and {"chunks", "run_chunks", "people"} <= tables
    assert sqlite3.connect(path).execute("PRAGMA freelist_count").fetchone() == (0,)  # vacuumed
    res = _cli("history", "E001", "--ledger", str(path))
    assert res.exit_code == 0 and "2026Q2\tB001\t已计分" in res.output
    res = _cli("explain", "2026Q3", "E001", "--ledger", str(path))
    assert res.exit_code == 0 and "综合得分" in res.output, res.output
