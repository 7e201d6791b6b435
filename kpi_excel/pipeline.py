"""run(): discover -> read -> validate -> score -> flag -> write -> report, in that order."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .collect import Progress, collect
from .errors import UsageError
from .explain import flags_text
from .flags import History, apply_flags
from .history import build_history
from .ledger import Ledger
from .lock import OutputLock
from .periods import Period
from .rulebook import Rulebook
from .score import Figures, derive, score
from .validate import Validated, validate
from .write.outputs import write_outputs
from .write.publish import publish


@dataclass
class RunResult:
    period: Period
    out_dir: Path
    run_id: str = ""
    files_read: int = 0
    files_total: int = 0
    files_refused: list[tuple[str, str]] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # results.csv rows, as text
    ledger_rows: list[dict] = field(default_factory=list)  # one per person, for the ledger
    inputs: list[dict] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    moved_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (wanted, written)
    started_at: str = ""
    finished_at: str = ""

    @property
    def scored(self) -> int:
        return int((~self.people["refused"]).sum()) if len(self.people) else 0

    @property
    def refused_people(self) -> int:
        return int(self.people["refused"].sum()) if len(self.people) else 0

    @property
    def clean(self) -> bool:
        return not self.files_refused and self.refused_people == 0

    def outcome_counts(self) -> dict[str, int]:
        if not len(self.people):
            return {}
        scored = self.people[~self.people["refused"]]
        return {str(k): int(v) for k, v in scored["outcome"].value_counts().items()}


def score_people(
    people: pd.DataFrame, rules: Rulebook, period: Period, history: History | None = None
) -> pd.DataFrame:
    """Derived figures, items, totals, grades, ranks, flags and outcomes of people who passed
    validation (a frame like the row checks give: identity, `role`, `group`, `role_label`,
    and the contract's inputs as numbers), exactly, in one vectorised pass."""
    ok = people.copy()
    fig = Figures(ok)
    ok = derive(ok, rules, fig)
    ok = score(ok, rules, period, fig)
    return apply_flags(ok, rules, period, fig, history)


def evaluate(
    v: Validated, rules: Rulebook, period: Period, history: History | None = None
) -> pd.DataFrame:
    """Score and flag the accepted people; refused people keep their reasons."""
    people = v.people
    ok = score_people(people[~people["refused"]], rules, period, history)
    out = pd.concat([ok, people[people["refused"]]], sort=False).sort_index()
    out["refused"] = out["refused"].astype(bool)
    out["status_label"] = np.where(out["refused"], "未计分", "已计分")
    out["flags_text"] = flags_text(out, rules, period)
    notes = (history or History()).notes
    out["history_note"] = out["emp_id"].map(lambda e: notes.get(e, "")).where(~out["refused"], "")
    return out


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def run(
    period: Period,
    inbox: Path,
    output: Path,
    rules: Rulebook,
    jobs: int | None = None,
    limits: dict | None = None,
    progress: Progress | None = None,
    ledger_path: Path | None = None,
    after_write: Callable[[], None] | None = None,
) -> RunResult:
    """Score one period's inbox into `output/<period>/`, recording the run in the ledger."""
    if not inbox.is_dir():
        raise UsageError(f"收件夹不存在: {inbox}")
    out_dir = output / period.code
    with OutputLock(output):
        result = RunResult(period, out_dir, started_at=_now())
        result.run_id = f"{period.code}-{dt.datetime.now():%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
        workers = jobs or os.cpu_count() or 1
        got = collect(inbox, workers, limits, output / ".cache", progress)
        result.files_total, result.files_skipped = got.total, got.skipped
        result.files_read = len(got.books)
        v = validate(got.books, got.refused, period, rules)
        result.files_refused, result.problems = v.refused_files, v.problems
        result.inputs = _input_status(got.inputs, v)
        with Ledger(ledger_path or output / "ledger.sqlite") as ledger:
            scored_ids = v.people.loc[~v.people["refused"], "emp_id"].dropna().tolist()
            history = build_history(ledger, rules, period, scored_ids)
            result.people = evaluate(v, rules, period, history)
            staging = output / f".{period.code}.staging-{result.run_id}"
            try:
                write_outputs(staging, result, v, rules, workers)
                if after_write:
                    after_write()  # a test hook: fail between writing and publishing
                result.finished_at = _now()
                ledger.begin()
                ledger.add_run(_run_record(result, rules), result.inputs, result.ledger_rows)
                result.moved_aside = publish(staging, out_dir, result.run_id)
                ledger.commit()
            except BaseException:
                ledger.rollback()
                shutil.rmtree(staging, ignore_errors=True)
                raise
    return result


def _input_status(inputs: list[dict], v: Validated) -> list[dict]:
    reasons = dict(v.refused_files)
    for rec in inputs:
        if rec["name"] in reasons:
            rec.update(status="refused", reason=reasons[rec["name"]])
        elif rec["status"] == "read":
            rec["status"] = "scored"
    return inputs


def _run_record(result: RunResult, rules: Rulebook) -> dict:
    from . import __version__

    return {
        "run_id": result.run_id,
        "period": result.period.code,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "tool_version": __version__,
        "rulebook_path": str(rules.path),
        "rulebook_sha256": rules.sha256,
        "rulebook_text": rules.text,
        "files_total": result.files_total,
        "files_refused": len(result.files_refused),
        "people_scored": result.scored,
        "people_refused": result.refused_people,
    }
