"""All outputs of one run, written into a staging folder (publish.py swaps it into place)."""

from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..explain import explain_frame
from ..numbers import show
from ..report import write_report
from ..rulebook import Rulebook
from ..validate import Validated
from .atomic import write_atomic
from .branch import branch_file_name, write_branch
from .branch_sheets import explain_cells
from .export import TEXT_COLUMNS, results_table, write_csv
from .summary import write_summary

INPUT_KEYS = [
    "deposit_base", "deposit_avg", *[f"deposit_m{m}" for m in range(1, 13)], "loan_balance",
    "npl_balance", "due_amount", "collected_amount", "mid_income_base", "mid_income",
    "new_accounts", "conduct_deduction", "major_violation", "incident_loss", "major_accident",
]  # fmt: skip


_SHARED: dict[str, Any] = {}  # what forked writer processes inherit (see _write_branches)
PARALLEL_MIN_BRANCHES = 8
BRANCHES_PER_CHUNK = 50  # explanations are built per chunk: large enough to vectorise well


def _init_shared(shared: dict[str, Any]) -> None:
    _SHARED.update(shared)


def _branch_job(i: int) -> list[Path]:
    """Write one chunk of branch workbooks, explaining the chunk's people in one vectorised pass."""
    chunk = _SHARED["jobs"][i]
    rules, period = _SHARED["rules"], _SHARED["period"]
    frames = [job[1] for job in chunk if len(job[1])]
    explained = (
        explain_cells(explain_frame(pd.concat(frames), rules, period), rules) if frames else None
    )
    out = []
    for path, mine, title, book, problems in chunk:
        lines = explained.loc[mine.index] if explained is not None and len(mine) else None
        out.append(write_branch(path, mine, title, rules, period, book, problems, lines))
    return out


def _branch_jobs(staging: Path, result: Any, v: Validated) -> list[tuple]:
    people, problems = result.people, result.problems
    by_file = dict(tuple(people.groupby("_file", sort=False))) if len(people) else {}
    probs = dict(tuple(problems.groupby("file", sort=False))) if len(problems) else {}
    jobs = []
    for wb in v.accepted:
        code, name = show(wb.info["branch_code"][0]), show(wb.info["branch_name"][0])
        title = f"{name}({code}) {result.period.code} 客户经理考核结果"
        mine = by_file.get(wb.file, people.iloc[0:0])
        jobs.append(
            (
                staging / "branches" / branch_file_name(code, name),
                mine,
                title,
                wb,
                probs.get(wb.file),
            )
        )
    return jobs


def _write_branches(
    jobs: list[tuple], result: Any, rules: Rulebook, workers: int, main_work
) -> list[Path]:
    """Write the branch workbooks in worker processes while `main_work()` runs here."""
    shared = {"jobs": jobs, "rules": rules, "period": result.period}
    if workers <= 1 or sum(len(c) for c in jobs) < PARALLEL_MIN_BRANCHES:
        _init_shared(shared)
        try:
            main_work()
            return [p for i in range(len(jobs)) for p in _branch_job(i)]
        finally:
            _SHARED.clear()
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    if ctx.get_start_method() == "fork":
        _init_shared(shared)  # inherited by the forked workers: nothing is pickled
        pool = ProcessPoolExecutor(workers, mp_context=ctx)
    else:  # spawn (Windows): each worker receives the jobs once
        pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_shared, initargs=(shared,)
        )
    try:
        with pool:
            futures = pool.map(_branch_job, range(len(jobs)))
            main_work()
            return [p for chunk in futures for p in chunk]
    finally:
        _SHARED.clear()


def write_outputs(
    staging: Path, result: Any, v: Validated, rules: Rulebook, workers: int = 1
) -> list[Path]:
    """results.csv, rejected.csv, branch workbooks, summary, report and manifest into `staging`."""
    people = result.people
    written: list[Path] = []
    table = results_table(people, result.period.code, rules.decimals)
    result.table = table

    def main_work() -> None:
        written.append(write_csv(staging / "results.csv", table, TEXT_COLUMNS))
        rejected = pd.DataFrame(v.refused_files, columns=["file", "reason"])
        written.append(write_csv(staging / "rejected.csv", rejected, ["file", "reason"]))
        written.append(write_summary(staging / "summary.xlsx", result, rules))

    (staging / "branches").mkdir(parents=True, exist_ok=True)
    jobs = _branch_jobs(staging, result, v)
    size = max(1, min(BRANCHES_PER_CHUNK, -(-len(jobs) // max(1, workers * 2))))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    written += _write_branches(chunks, result, rules, workers, main_work)
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
        "tool_version": __version__,
        "rulebook": {"path": str(rules.path), "sha256": rules.sha256},
        "inputs": [
            {k: i.get(k, "") for k in ("name", "size", "sha256", "status")} for i in result.inputs
        ],
        "counts": {
            "files": result.files_total,
            "files_refused": len(result.files_refused),
            "files_skipped": len(result.files_skipped),
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


def ledger_rows(result: Any) -> list[dict]:
    """One ledger row per person: identity, the export row, typed inputs, decided flags."""
    people = result.people
    table = result.table
    rows = []
    decided_cols = [c for c in people.columns if c.startswith("flag:")]
    for out, rec in zip(table.to_dict("records"), people.to_dict("records"), strict=True):
        flags = out["flags"].split(";") if out["flags"] else []
        decided = ";".join(sorted(f for f in flags if not f.endswith("?")))
        extra = {
            c: _plain(rec.get(c))
            for c in ("role_label", "group", "total_units", "history_note", "flags_text")
        }
        rows.append(
            {
                "emp_id": out["emp_id"],
                "branch_code": out["branch_code"],
                "name": out["name"],
                "role": out["role"],
                "status": out["status"],
                "total": out["total"],
                "grade": out["grade"],
                "flags": out["flags"],
                "decided": decided,
                "outcome": out["outcome"],
                "inputs": {k: _plain(rec.get(k)) for k in INPUT_KEYS},
                "results": {
                    **out,
                    **extra,
                    **{c: bool(rec.get(c)) for c in decided_cols if rec.get(c) is True},
                },
            }
        )
    return rows
