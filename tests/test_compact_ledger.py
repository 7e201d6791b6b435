"""The compact ledger: a few hundred bytes per person per run, and next to nothing for a rerun
of unchanged inputs (people kept in content-addressed chunks, inputs once per content)."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

import pytest

from kpi_excel.ledger import Ledger
from kpi_excel.pipeline import run
from kpi_excel.rulebook import load_rulebook

BENCH = Path(__file__).resolve().parents[1] / "bench" / "generate.py"
BRANCHES, PEOPLE = 20, 30


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(rules, inbox: Path, out: Path) -> int:
    from kpi_excel.periods import parse_period

    result = run(parse_period("2026Q3", rules.calendar), inbox, out, rules)
    assert result.scored + result.refused_people == BRANCHES * PEOPLE
    return (out / "ledger.sqlite").stat().st_size


def test_a_run_takes_at_most_300_bytes_per_person_and_a_rerun_next_to_nothing(
    tmp_path: Path, bench
) -> None:
    rules = load_rulebook()
    first, second = tmp_path / "in0", tmp_path / "in1"
    bench.generate(first, BRANCHES, PEOPLE, seed=0)
    bench.generate(second, BRANCHES, PEOPLE, seed=1)  # the same people, other figures
    out = tmp_path / "out"
    empty = _run(rules, first, out)  # the first run pays for the schema's pages too
    changed = _run(rules, second, out)
    per_person = (changed - empty) / (BRANCHES * PEOPLE)
    assert 0 < per_person <= 300, per_person
    again = _run(rules, second, out)  # unchanged inputs
    assert again - changed <= 0.10 * (changed - empty), (again - changed, changed - empty)
    with Ledger(out / "ledger.sqlite") as ledger:
        runs = ledger.runs()
        assert len(runs) == 3
        # the rerun stored no person twice: its chunks are the second run's
        chunks = [
            [r[0] for r in ledger.db.execute(
                "SELECT chunk FROM run_chunks WHERE run=? ORDER BY seq", (run_.id,)
            ).fetchall()]
            for run_ in runs
        ]  # fmt: skip
        assert chunks[1] == chunks[2] and not set(chunks[0]) & set(chunks[1])
        assert ledger.people_of(runs[1].id) == ledger.people_of(runs[2].id)
        # numbers are kept as numbers: the total is a REAL column
        db = sqlite3.connect(out / "ledger.sqlite")
        kinds = {r[0] for r in db.execute("SELECT typeof(total) FROM people WHERE status='scored'")}
        assert kinds == {"real"}


def test_inputs_are_stored_once_per_distinct_content(tmp_path: Path, bench) -> None:
    """A rerun after one branch resubmitted: the other workbooks' people's inputs are the
    blobs the first run stored, only the resubmitted one's are new."""
    from kpi_excel.periods import parse_period

    rules = load_rulebook()
    period = parse_period("2026Q3", rules.calendar)
    inbox, out = tmp_path / "in", tmp_path / "out"
    bench.generate(inbox, 8, 10, seed=3)
    run(period, inbox, out, rules)
    bench.write_branch(inbox / "B0002.xlsx", 2, 10, 4)  # other figures for branch 2
    run(period, inbox, out, rules)
    with Ledger(out / "ledger.sqlite") as ledger:
        a, b = ledger.runs()
        rows = ledger.db.execute(
            """SELECT rc.run, c.inputs FROM run_chunks rc JOIN chunks c ON c.id = rc.chunk
               ORDER BY rc.run, rc.seq"""
        ).fetchall()
        inputs_a = {i for r, i in rows if r == a.id}
        inputs_b = {i for r, i in rows if r == b.id}
        assert inputs_a & inputs_b  # the unchanged workbooks' inputs are not stored again
        assert inputs_b - inputs_a  # the edited one's are
        pa, pb = ledger.people_of(a.id), ledger.people_of(b.id)
        assert sorted(pa) == sorted(pb) and len(pa) == 80
        changed = [e for e in pa if pa[e]["inputs"] != pb[e]["inputs"]]
        assert changed and all(e.startswith("E0002") for e in changed)


def test_records_are_kept_as_columns_whatever_keys_each_record_has() -> None:
    """The keys every record starts with are taken apart at once; keys some records lack are
    listed as absent, and a record whose keys come in another order keeps its order."""
    from kpi_excel import ledger_codec as codec

    records = [
        {"emp": "E1", "total": 88.5, "flag:B": True},
        {"emp": "E2", "total": None},
        {"emp": "E3", "total": 70.0, "flag:A": True, "flag:B": True},
        {"emp": "E4", "total": 61.25, "flag:B": True, "flag:A": True},
    ]
    keys, columns, absent = codec.columns_of(records)
    assert keys == ["emp", "total", "flag:B", "flag:A"]
    assert columns == [
        ["E1", "E2", "E3", "E4"],
        [88.5, None, 70.0, 61.25],
        [True, None, True, True],
        [None, None, True, True],
    ]
    assert absent == {"2": [1], "3": [0, 1], "order": {"2": [0, 1, 3, 2]}}
    back = codec.records_of(len(records), keys, columns, absent)
    assert back == records and [list(r) for r in back] == [list(r) for r in records]
    same = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert codec.columns_of(same) == (["a", "b"], [[1, 2], ["x", "y"]], {})
    assert codec.columns_of([]) == ([], [], {})
    assert codec.columns_of([{}, {}]) == ([], [], {})


def test_ledger_values_are_what_json_gives_back() -> None:
    """A column's values as the ledger stores them: what json.loads(json.dumps(v)) gives, with
    NaN and NA as None for the scorer's columns (`plain`) and NaN kept for the export's."""
    import json
    import math

    import numpy as np
    import pandas as pd

    from kpi_excel.write.outputs import _values

    floats = pd.Series([1.5, np.nan, np.inf, -0.0])
    assert _values(floats, plain=True)[:3] == [1.5, None, math.inf]
    kept = _values(floats, plain=False)
    assert kept[0] == 1.5 and math.isnan(kept[1]) and kept[2] == math.inf
    assert math.copysign(1, kept[3]) == -1
    ranks = pd.Series([3, None], dtype="Int64")
    assert _values(ranks, plain=True) == [3, None]
    mixed = pd.Series([np.int64(7), (1, 2), "是", np.float64(2.25), None, np.nan], dtype=object)
    got = _values(mixed, plain=True)
    assert got == [7, [1, 2], "是", 2.25, None, None]
    assert [type(v) for v in got[:4]] == [int, list, str, float]
    assert got == json.loads(json.dumps([7, [1, 2], "是", 2.25, None, None]))
    assert _values(pd.Series([True, False]), plain=True) == [True, False]
    assert _values(None, 2, plain=True) == [None, None]
