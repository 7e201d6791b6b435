"""All outputs of one run, written into a staging folder (publish.py swaps it into place)."""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..numbers import show
from ..read import PackedWorkbook
from ..report import write_report
from ..rulebook import Rulebook
from ..timefmt import utc_now
from ..validate import Validated
from .atomic import write_atomic
from .branch import branch_file_name, write_branch
from .export import results_table, write_csv, write_results
from .fastsheet import fast_cells_match, free_written, no_cyclic_gc
from .prerender import prerender
from .rows import prepare
from .summary import write_summaries


def input_keys(rules: Rulebook) -> list[str]:
    """The inputs the ledger keeps of each person: the rulebook's numeric and 是/否 fields."""
    return [f.key for f in rules.contract.fields if f.numeric or f.kind == "yesno"]


_SHARED: dict[str, Any] = {}  # what forked writer processes inherit (see _write_branches)
PARALLEL_MIN_BRANCHES = 8
# Branch rows are prepared per chunk (rows.prepare and prerender: a few hundred vectorised
# operations, whatever the number of people), so chunks are not small; several per worker keep
# the workers evenly busy to the end.
BRANCHES_PER_CHUNK = 250
CHUNKS_PER_WORKER = 6


def _init_shared(shared: dict[str, Any]) -> None:
    _SHARED.update(shared)


def _branch_job(i: int) -> list[Path]:
    """Write one chunk of branch workbooks; their people are prepared together (rows.py)."""
    chunk = _SHARED["jobs"][i]
    rules, period, people = _SHARED["rules"], _SHARED["period"], _SHARED["people"]
    mine = people.iloc[_SHARED["rows"][i]]
    rows, bounds = prepare(mine, rules, period)
    if fast_cells_match():
        prerender(rows, bounds, rules)
    out = []
    with no_cyclic_gc():  # many small objects per workbook: collections would cost more
        for path, file, title, book, problems in chunk:
            part = rows.part(*bounds.get(file, (0, 0)))
            if isinstance(book, PackedWorkbook):
                book = book.unpack()
            out.append(write_branch(path, part, title, rules, period, book, problems))
            free_written()
    return out


def _chunk_rows(chunks: list[list[tuple]], people: pd.DataFrame) -> list[np.ndarray]:
    """Each chunk's people: their positions in the scored table, in its order (found in one
    pass over the table, not one per chunk: a national bank has hundreds of chunks)."""
    at = people.groupby("_file", sort=False).indices if len(people) else {}
    none = np.zeros(0, dtype=np.intp)
    return [
        np.sort(np.concatenate([none, *(at.get(job[1], none) for job in chunk)]))
        for chunk in chunks
    ]


def _branch_jobs(staging: Path, result: Any, v: Validated) -> list[tuple]:
    probs: dict[str, list[dict]] = {}  # each file's problems, as records
    for p in result.problems.to_dict("records") if len(result.problems) else []:
        probs.setdefault(p["file"], []).append(p)
    jobs = []
    for wb in v.accepted:
        code, name = show(wb.info["branch_code"][0]), show(wb.info["branch_name"][0])
        title = f"{name}({code}) {result.period.code} 客户经理考核结果"
        path = staging / "branches" / branch_file_name(code, name)
        jobs.append((path, wb.file, title, wb, probs.get(wb.file)))
    return jobs


def _write_branches(
    jobs: list[tuple], result: Any, rules: Rulebook, workers: int, main_work
) -> list[Path]:
    """Write the branch workbooks in worker processes while `main_work()` runs here."""
    people = result.people
    shared = {"jobs": jobs, "rules": rules, "period": result.period, "people": people}
    shared["rows"] = _chunk_rows(jobs, people)
    if workers <= 1 or sum(len(c) for c in jobs) < PARALLEL_MIN_BRANCHES:
        _init_shared(shared)
        try:
            main_work()
            return [p for i in range(len(jobs)) for p in _branch_job(i)]
        finally:
            _SHARED.clear()
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    froze = False
    try:
        if ctx.get_start_method() == "fork":
            _init_shared(shared)  # inherited by the forked workers: nothing is pickled
            # The workers' collections leave the inherited objects alone: a collection writes
            # to every object it visits, which would copy the whole table into each worker.
            froze = gc.get_freeze_count() == 0  # not when the caller froze objects itself
            if froze:
                gc.freeze()
            pool = ProcessPoolExecutor(workers, mp_context=ctx)
        else:  # spawn (Windows): each worker receives the jobs once
            pool = ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_init_shared, initargs=(shared,)
            )
        with pool:
            futures = pool.map(_branch_job, range(len(jobs)))
            main_work()
            return [p for chunk in futures for p in chunk]
    finally:
        if froze:
            gc.unfreeze()
        _SHARED.clear()


def write_outputs(
    staging: Path, result: Any, v: Validated, rules: Rulebook, workers: int = 1
) -> list[Path]:
    """results.csv, rejected.csv, branch workbooks, summary, report and manifest into `staging`;
    also `result.ledger_rows`, what the ledger stores of each person."""
    written: list[Path] = []

    def main_work() -> None:  # in this process, while the workers write the branch workbooks
        people, code = result.people, result.period.code
        written.append(write_results(staging / "results.csv", people, code, rules))
        rejected = pd.DataFrame(v.refused_files, columns=["file", "reason"])
        written.append(write_csv(staging / "rejected.csv", rejected, ["file", "reason"]))
        written.extend(write_summaries(staging / "summary.xlsx", result, rules))
        result.ledger_rows = ledger_rows(result, rules)

    (staging / "branches").mkdir(parents=True, exist_ok=True)
    fast_cells_match()  # checked (and any failure logged) once, here, before workers fork
    jobs = _branch_jobs(staging, result, v)
    size = max(1, min(BRANCHES_PER_CHUNK, -(-len(jobs) // max(1, workers * CHUNKS_PER_WORKER))))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    written += _write_branches(chunks, result, rules, workers, main_work)
    result.finished_at = utc_now()  # the outputs are written; the manifest and report say when
    written.append(write_manifest(staging / "manifest.json", result, rules))
    result.written = [result.out_dir / p.relative_to(staging) for p in written]
    written.append(write_report(staging / "report.html", result, rules, result.inputs))
    result.written = [result.out_dir / p.relative_to(staging) for p in written]
    return written


def write_manifest(path: Path, result: Any, rules: Rulebook) -> Path:
    """The audit manifest: run id, time, tool version, rulebook and inputs with their hashes."""
    manifest = {
        "run_id": result.run_id,
        "period": result.period.code,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "tool_version": __version__,
        "rulebook": {"path": str(rules.path), "sha256": rules.sha256},
        "inputs": [
            {k: i.get(k, "") for k in ("name", "size", "sha256", "status")} for i in result.inputs
        ],
        "counts": {
            "files": result.files_total,
            "files_refused": len(result.files_refused),
            "files_skipped": len(result.files_skipped),
            "files_duplicate": len(result.files_duplicate),
            "people_scored": result.scored,
            "people_refused": result.refused_people,
            "outcomes": result.outcome_counts(),
        },
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def ledger_rows(result: Any, rules: Rulebook) -> LedgerRows:
    """One ledger row per person: identity, the export row, typed inputs, decided flags.

    Built column by column: each person's `inputs` and `results` are dicts of the values JSON
    would give back (`_values`), which the ledger stores as columns. Made when iterated,
    LEDGER_SLICE people at a time (`LedgerRows`), export rows included, so that only one
    slice's rows are held at once however large the bank (a bank's rows all at once:
    gigabytes).
    """
    return LedgerRows(result.people, result.period.code, rules)


class LedgerRows:
    """The ledger rows of a run's people, made slice by slice each time they are iterated (the
    ledger reads them once, inside its transaction)."""

    def __init__(self, people: pd.DataFrame, period_code: str, rules: Rulebook) -> None:
        self.people, self.period_code, self.rules = people, period_code, rules
        self.inputs = input_keys(rules)

    def __len__(self) -> int:
        return len(self.people)

    def __iter__(self) -> Iterator[dict]:
        for start in range(0, len(self.people), LEDGER_SLICE):
            people = self.people.iloc[start : start + LEDGER_SLICE]
            table = results_table(people, self.period_code, self.rules)
            yield from _ledger_rows(people, table, self.inputs)


LEDGER_SLICE = 5000


def _ledger_rows(people: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> list[dict]:
    n = len(table)
    results = {c: _values(table[c], plain=False) for c in table.columns}
    for c in (
        "role_label", "group", "total_units", "history_note", "flags_text", "business_score",
        "adjustment_note",
    ):  # fmt: skip
        results[c] = _values(people[c] if c in people else None, n, plain=True)
    for c in detail_columns(people):
        column = people[c]
        if c.startswith("flag_months:"):
            column = column.map(lambda v: [asdict(m) for m in v] if isinstance(v, tuple) else None)
        results[c] = _values(column, n, plain=True)
    outcome = _records(list(results), list(results.values()), n)
    for c in (c for c in people.columns if c.startswith("flag:")):  # the flags decided, as True
        col = people[c]
        true = col.to_numpy() if col.dtype == bool else _true(col.tolist())
        for i in np.flatnonzero(true).tolist():
            outcome[i][c] = True
    inputs = _records(
        keys, [_values(people[k] if k in people else None, n, plain=True) for k in keys], n
    )
    blank = pd.Series([""] * n, index=table.index)
    flags = _box_all(table["flags"] if "flags" in table else blank)
    names = ("emp_id", "branch_code", "name", "role", "status", "total", "grade", "flags")
    columns = [
        flags if k == "flags" else _box_all(table[k] if k in table else blank) for k in names
    ]
    decided = people["decided"].fillna("").tolist() if "decided" in people else [""] * n
    columns += [decided, _box_all(table["outcome"] if "outcome" in table else blank)]
    columns += [inputs, outcome]
    return _records([*names, "decided", "outcome", "inputs", "results"], columns, n)


def _records(keys: list[str], columns: list[list[Any]], n: int) -> list[dict[str, Any]]:
    """One dict per row of `keys` and the row's values (in C: zip and dict)."""
    if not keys:
        return [{} for _ in range(n)]
    return list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))


def detail_columns(people: pd.DataFrame) -> list[str]:
    """The scorer's columns that explain a result (score.py, flags.py), kept in the ledger so
    that `kpi-excel explain` renders what the run decided."""
    return [c for c in people.columns if ":" in c and not c.startswith(("flag:", "_exact:"))] + (
        ["grade_row"] if "grade_row" in people else []
    )


def _true(values: list[Any]) -> np.ndarray:
    """Which values are True, as `DataFrame.to_dict` boxes them (numpy's True too)."""
    return np.fromiter(map(_is_true, values), bool, len(values))


def _is_true(v: Any) -> bool:
    return v is True or v is np.True_


def _box(v: Any) -> Any:
    """A value as `DataFrame.to_dict` gives it: numpy scalars as Python ones."""
    if isinstance(v, np.generic) and not isinstance(v, np.datetime64 | np.timedelta64):
        return v.item()
    return v


def _box_all(s: pd.Series) -> list[Any]:
    values = s.tolist()  # numpy dtypes give Python scalars; object columns keep their objects
    if s.dtype == object:
        values = [_box(v) for v in values]
    return values


def _values(s: pd.Series | None, n: int = 0, *, plain: bool) -> list[Any]:
    """A column's values as JSON gives them back (`json.loads(json.dumps(v))`: numpy scalars as
    Python ones, tuples as lists; `plain`: NaN and NA as None, as `_plain` makes them), which
    is what the ledger stores, as numbers and texts."""
    if s is None:
        return [None] * n
    if s.dtype == bool:
        return s.to_numpy().tolist()
    if s.dtype == np.float64:
        values = s.to_numpy().tolist()
        if plain and s.hasnans:
            return [None if v != v else v for v in values]
        return values
    values = s.tolist()
    if isinstance(s.dtype, pd.StringDtype) and not s.hasnans:
        return values
    return [_value(v, plain) for v in values]


def _value(v: Any, plain: bool) -> Any:
    t = type(v)
    if t is str or t is bool or t is int or v is None:
        return v
    if t is float:
        return None if plain and v != v else v
    return json.loads(json.dumps(_plain(v) if plain else _box(v), ensure_ascii=False))
