"""run(): discover -> read -> validate -> score -> flag -> write -> report, in that order."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import appeal
from .approval import recover_approval, refuse_if_approved, refuse_if_approved_in
from .collect import Progress, collect
from .discover import Inbox, discover
from .errors import EmptyInbox, NothingScored, OutputError, UsageError
from .explain import flags_text
from .flags import History, apply_flags
from .history import build_history
from .ledger import DEFAULT_SCHEME, Ledger, RunRecord, location
from .lock import OutputLock
from .memory import one_object_per_value, release_large_blocks
from .numbers import show
from .organisation import parents_of
from .periods import Period
from .rulebook import Rulebook
from .score import Figures, derive, score
from .timefmt import utc_now
from .validate import Validated, validate
from .write.outputs import write_outputs
from .write.publish import Swap, publish, recover, staging_dir
from .write.summary import outcome_names

log = logging.getLogger("kpi_excel")


@dataclass(frozen=True)
class MissingBranch:
    """A branch the period's current run scored people of, and the new run scores nobody of."""

    code: str
    name: str
    scored_before: int  # people scored in the run replaced
    reason: str  # what became of the branch in this run (Chinese)


@dataclass
class RunResult:
    period: Period
    out_dir: Path
    run_id: str = ""
    files_read: int = 0
    files_total: int = 0
    files_refused: list[tuple[str, str]] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    files_duplicate: list[tuple[str, str]] = field(default_factory=list)  # (copy, original)
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    ledger_rows: Iterable[dict] = field(default_factory=list)  # per person, made as read
    inputs: list[dict] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    moved_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (wanted, written)
    started_at: str = ""  # UTC, ISO 8601 (timefmt.local_time shows it)
    finished_at: str = ""  # when the outputs were written (UTC)
    command_line: str | None = None  # as typed; None when run through the library
    ledger_path: Path | str | None = None
    previous_dir: Path | None = None  # where the replaced outputs were filed (previous/<run-id>)
    outcome_order: list[str] = field(default_factory=list)  # the rulebook's, mildest first
    replaces: str = ""  # run id of the period's current run before this one ("" if none)
    missing_branches: list[MissingBranch] = field(default_factory=list)
    adjustments: appeal.Adjustments = field(default_factory=appeal.Adjustments)  # 申诉调整
    parents: dict[str, str] = field(default_factory=dict)  # 机构号 -> 上级机构 ('' none)
    branch_sheets: int | None = None  # most branch sheets in summary.xlsx (None: the rulebook's)

    @property
    def scored(self) -> int:
        return int((~self.people["refused"]).sum()) if len(self.people) else 0

    @property
    def refused_people(self) -> int:
        return int(self.people["refused"].sum()) if len(self.people) else 0

    @property
    def files_accepted(self) -> int:
        """Files scored: neither refused nor a copy of another."""
        return self.files_total - len(self.files_refused) - len(self.files_duplicate)

    @property
    def clean(self) -> bool:
        return (
            not self.files_refused
            and self.refused_people == 0
            and not self.adjustments.reasons()  # a refused adjustment needs a look too
        )

    def outcome_counts(self) -> dict[str, int]:
        if not len(self.people):
            return {}
        scored = self.people[~self.people["refused"]]
        return {str(k): int(v) for k, v in scored["outcome"].value_counts().items()}


def score_people(
    people: pd.DataFrame,
    rules: Rulebook,
    period: Period,
    history: History | None = None,
    copy: bool = True,
) -> pd.DataFrame:
    """Derived figures, items, totals, grades, ranks, flags and outcomes of people who passed
    validation (a frame like the row checks give: identity, `role`, `group`, `role_label`,
    and the contract's inputs as numbers), exactly, in one vectorised pass. `copy=False`: the
    columns are added to `people` itself (a frame of the caller's own, made for this call)."""
    ok = people.copy() if copy else people
    fig = Figures(ok)
    ok = derive(ok, rules, fig, history.period_sums if history else None)
    ok = score(ok, rules, period, fig)
    fig.forget_read()  # the inputs' exact values: the flags read the few they need again
    return apply_flags(ok, rules, period, fig, history)


def share_repeated_text(people: pd.DataFrame) -> pd.DataFrame:
    """The table with each text column's equal values made one object (in place): columns made
    by np.where and the like hold a separate copy of "已计分" or an outcome's name per person,
    some 80 bytes each. Values and dtypes stay exactly as they were."""
    for c in people.columns:
        column = people[c]
        if not (isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "python"):
            continue
        people[c] = pd.array(one_object_per_value(column.to_numpy(dtype=object)), column.dtype)
    return people


def evaluate(
    v: Validated, rules: Rulebook, period: Period, history: History | None = None
) -> pd.DataFrame:
    """Score and flag the accepted people; refused people keep their reasons. The table as
    validated is taken out of `v` (`v.people` is left empty): at a national bank's size it and
    the scored table are the run's largest, and need not be held at once."""
    people, v.people = v.people, v.people.iloc[:0]
    refused = people["refused"].to_numpy(dtype=bool)
    # take, not a boolean mask: `ok` gets the scorer's columns, and pandas 2 would warn of
    # setting values on a copy of a slice
    ok, rest = people.take(np.flatnonzero(~refused)), people.take(np.flatnonzero(refused))
    del people
    out = _with_refused(score_people(ok, rules, period, history, copy=False), rest)
    del ok
    if not out.index.is_monotonic_increasing:  # refused people among the others: their order
        out = out.sort_index()
    out["refused"] = out["refused"].astype(bool)
    out["status_label"] = one_object_per_value(np.where(out["refused"], "未计分", "已计分"))
    out["flags_text"] = flags_text(out, rules, period)
    notes = (history or History()).notes
    out["history_note"] = out["emp_id"].map(lambda e: notes.get(e, "")).where(~out["refused"], "")
    return out


def _with_refused(ok: pd.DataFrame, rest: pd.DataFrame) -> pd.DataFrame:
    """`pd.concat([ok, rest], sort=False)`: the scored people and the refused ones in one table.
    With nobody refused (a national bank's usual run) the same table is made without copying
    the scored one: only the columns whose type the concat changes (those the refused rows
    lack: integers become floats, booleans objects) are converted, in place."""
    if len(rest) or not len(ok):
        return pd.concat([ok, rest], sort=False)
    probe = pd.concat([ok.iloc[:1], rest], sort=False)  # the concat's column types
    if list(probe.columns) != list(ok.columns):
        return pd.concat([ok, rest], sort=False)
    for c, dtype in probe.dtypes.items():
        if ok[c].dtype != dtype:
            ok[c] = ok[c].astype(dtype)
    return ok


def run(
    period: Period,
    inbox: Path,
    output: Path,
    rules: Rulebook,
    jobs: int | None = None,
    limits: dict | None = None,
    progress: Progress | None = None,
    ledger_path: Path | str | None = None,
    after_write: Callable[[], None] | None = None,
    command_line: str | None = None,
    org: dict[str, str] | None = None,
    branch_sheets: int | None = None,
) -> RunResult:
    """Score one period's inbox into `output/<period>/` (`output/<scheme>/<period>/` for a
    scheme other than the main policy), recording the run in the ledger.

    Raises EmptyInbox (nothing written, not even the lock) when the inbox holds no submission,
    and NothingScored when nobody could be scored while the period's current run scored people:
    an inbox that cannot replace the current results leaves them as they are. Raises
    PeriodApproved (nothing written, the ledger not opened for writing) when the scheme's period
    is approved (approval.approve) and not reopened since. The ledger commit
    and the swap of the outputs succeed or fail together. `command_line`: the command as the user
    typed it, for the run report (the CLI gives it; None says the library was called).
    `org`: 机构号 -> 上级机构 (organisation.read_org), over what the workbooks say;
    `branch_sheets`: the most branch sheets summary.xlsx holds (default: the rulebook's).
    On Linux the first run fixes the process's malloc mmap threshold for good
    (`memory.release_large_blocks`), which only changes where large blocks come from."""
    if not inbox.is_dir():
        raise UsageError(f"收件夹不存在: {inbox}")
    release_large_blocks()
    ledger_path = location(ledger_path, output)  # a file, or a PostgreSQL URL
    refuse_if_approved(ledger_path, period.code, rules.id)  # before a byte is written
    found = discover(inbox, (limits or {}).get("max_file_bytes"))
    root = scheme_root(output, rules)
    out_dir = root / period.code
    if not found.files and not found.refused:
        raise EmptyInbox(_empty_message(inbox, found, out_dir))
    with OutputLock(output), Ledger(ledger_path) as ledger:
        ledger.lock_period(period.code, rules.id)  # a shared ledger: one run of a period at a time
        refuse_if_approved_in(ledger, period.code, rules.id)  # approved since the check above
        try:
            tidied = recover(root, ledger.has_run)
        except OSError as exc:
            raise OutputError(
                f"无法整理上次中断的运行在输出文件夹 {output} 中留下的文件:{exc}"
            ) from None
        tidied += recover_approval(out_dir, ledger, period.code, rules.id)
        for line in tidied:
            log.info("leftover of an earlier run: %s", line)
        result = RunResult(period, out_dir, started_at=utc_now(), command_line=command_line)
        result.ledger_path = ledger_path
        result.outcome_order = outcome_names(rules)
        result.run_id = f"{period.code}-{dt.datetime.now():%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
        workers = jobs or os.cpu_count() or 1
        got = collect(inbox, rules.contract, workers, limits, output / ".cache", progress, found)
        result.files_total, result.files_skipped = got.total, got.skipped
        result.files_read = len(got.books)
        result.files_duplicate = got.duplicates
        adjustments = appeal.read_adjustments(inbox / appeal.ADJUSTMENTS_DIR, rules, limits)
        books = appeal.apply_corrections(adjustments, got.books, rules)
        v = validate(books, got.refused, period, rules, got.duplicates)
        seen = [(wb.file, wb.info) for wb in books]
        del books
        got.books = []
        result.files_refused, result.problems = v.refused_files, v.problems
        result.parents, result.branch_sheets = parents_of(v.accepted, org), branch_sheets
        result.inputs = _input_status(got.inputs, v)
        current = ledger.current_run(period.code, rules.id)
        _refuse_if_nothing_scored(v, current, inbox, period)
        if current is not None:
            result.replaces = current.run_id
            before = ledger.scored_branches(current.id)
            result.missing_branches = missing_branches(before, v, seen)
        scored = v.people.loc[~v.people["refused"]].dropna(subset=["emp_id"])
        groups = dict(zip(scored["emp_id"], scored["group"], strict=True))
        history = build_history(ledger, rules, period, groups)
        del scored, groups
        result.people = share_repeated_text(
            appeal.apply_overrides(adjustments, evaluate(v, rules, period, history), rules)
        )
        del history, seen
        result.adjustments = adjustments
        if notes := appeal.cell_notes(adjustments):
            notes_frame = pd.DataFrame(notes, columns=result.problems.columns)
            result.problems = v.problems = pd.concat(
                [result.problems, notes_frame], ignore_index=True
            )
        staging = staging_dir(root, period.code, result.run_id)
        try:
            write_outputs(staging, result, v, rules, workers)
            if after_write:
                after_write()  # a test hook: fail between writing and publishing
            result.finished_at = result.finished_at or utc_now()  # write_outputs sets it
            ledger.begin()
            rid = ledger.add_run(_run_record(result, rules), result.inputs, result.ledger_rows)
            ledger.add_adjustments(rid, period.code, adjustments.ledger_rows())
            swap = publish(staging, out_dir, result.run_id)
            result.moved_aside = swap.moved_aside
            _commit(ledger, swap)
        except BaseException:
            ledger.rollback()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            swap.finish()
            result.previous_dir = swap.previous
        except OSError:  # committed and in place; the next run files the old outputs
            log.warning("could not file the earlier outputs\n%s", traceback.format_exc())
    return result


def scheme_root(output: Path, rules: Rulebook) -> Path:
    """Where a scheme's period folders are: the output folder itself for the main policy (as
    before schemes existed), `output/<scheme id>/` for any other, so that schemes never
    overwrite each other's outputs."""
    return output if rules.id == DEFAULT_SCHEME else output / rules.id


def _commit(ledger: Ledger, swap: Swap) -> None:
    """Commit the ledger; if that fails, undo the swap (the old outputs back exactly)."""
    try:
        ledger.commit()
    except BaseException:
        if ledger.in_transaction:  # not committed (an interrupt may come just after COMMIT)
            try:
                swap.undo()
            except OSError:  # the next run's recover() puts the old outputs back
                log.error("could not undo the swap of outputs\n%s", traceback.format_exc())
        raise


def _empty_message(inbox: Path, found: Inbox, out_dir: Path) -> str:
    skipped = f"(已跳过非提交文件:{'、'.join(found.skipped)})" if found.skipped else ""
    kept = ",现有结果未改动" if out_dir.exists() else ""
    return f"收件夹 {inbox} 中没有可读取的工作簿(.xlsx){skipped},未运行{kept}"


def _refuse_if_nothing_scored(
    v: Validated, current: RunRecord | None, inbox: Path, period: Period
) -> None:
    """Nobody scored while the current run scored people: the inbox would lose them all."""
    people = v.people
    if current is None or current.people_scored == 0 or (~people["refused"]).any():
        return
    reasons = [reason for _file, reason in v.refused_files]
    errors = people.loc[people["refused"], "errors"].astype(str).tolist() if len(people) else []
    reasons += errors[:MAX_REASONS_SHOWN]
    if len(errors) > MAX_REASONS_SHOWN:
        reasons.append(f"……另有 {len(errors) - MAX_REASONS_SHOWN} 人未计分")
    raise NothingScored(
        f"收件夹 {inbox} 中没有任何人员可以计分(拒收 {len(v.refused_files)} 个文件,"
        f"未计分 {len(errors)} 人),未运行;考核期 {period.code} 的现有结果"
        f"(运行 {current.run_id},计分 {current.people_scored} 人)未改动",
        reasons,
    )


MAX_REASONS_SHOWN = 20  # refused people listed when a whole inbox is refused


def missing_branches(
    before: dict[str, tuple[str, int]], v: Validated, books: list[tuple[str, dict]]
) -> list[MissingBranch]:
    """The branches the current run scored someone of and this run scores nobody of, each with
    what became of it in this run (`books`: file and 基本信息 of every workbook read)."""
    people = v.people
    now = set(people.loc[~people["refused"], "branch_code"].astype(str)) if len(people) else set()
    accepted = {show(wb.info["branch_code"][0]): wb.file for wb in v.accepted}
    read: dict[str, list[str]] = {}
    for file, info in books:
        code = info.get("branch_code", (None, ""))[0]
        if code is not None and file not in accepted.values():
            read.setdefault(show(code), []).append(file)
    out = []
    for code, (name, scored) in before.items():
        if code in now:
            continue
        if code in accepted:
            why = f"{accepted[code]} 中该机构的人员本次均未计分"
        elif code in read:
            why = f"该机构的工作簿 {'、'.join(read[code])} 本次被拒收"
        else:
            why = "本次收件夹中没有该机构的工作簿"
        out.append(MissingBranch(code, name, scored, why))
    return out


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
        "scheme": rules.id,
        "files_total": result.files_total,
        "files_refused": len(result.files_refused),
        "people_scored": result.scored,
        "people_refused": result.refused_people,
    }
