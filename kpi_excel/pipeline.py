"""run(): discover -> read -> validate -> score -> flag -> write -> report, in that order."""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .discover import discover
from .errors import UsageError, WorkbookRefused
from .flags import History, apply_flags
from .periods import Period
from .read import WorkbookData, read_workbook
from .rulebook import Rulebook
from .score import derive, score
from .validate import Validated, validate
from .write.branch import branch_file_name, write_branch
from .write.export import TEXT_COLUMNS, results_table, write_csv

log = logging.getLogger("kpi_excel")
PARALLEL_MIN_FILES = 8  # below this, worker start-up costs more than it saves

Progress = Callable[[int, int], None]


@dataclass
class RunResult:
    period: Period
    out_dir: Path
    files_read: int = 0
    files_total: int = 0
    files_refused: list[tuple[str, str]] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    written: list[Path] = field(default_factory=list)
    moved_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (wanted, written)

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


def _read_one(args: tuple[Path, str, dict | None]) -> WorkbookData | tuple[str, str, str]:
    """Read one workbook; a refusal or an unexpected error comes back as (file, reason, traceback)."""
    path, display, limits = args
    try:
        return read_workbook(path, display, limits)
    except WorkbookRefused as exc:
        return (display, exc.message, "")
    except MemoryError:
        return (display, f"{display} 无法读取:文件过大,超出可用内存", traceback.format_exc())
    except Exception:  # one bad file must not stop the run; the traceback goes to the log
        return (
            display,
            f"{display} 读取时发生意外错误,已记录到日志,请联系管理员",
            traceback.format_exc(),
        )


def read_all(
    files: list[tuple[Path, str]], jobs: int, limits: dict | None, progress: Progress | None
):
    """Read every workbook, in worker processes when there are enough of them."""
    tasks = [(p, d, limits) for p, d in files]
    results: list[WorkbookData | tuple[str, str, str]] = []
    if jobs > 1 and len(tasks) >= PARALLEL_MIN_FILES:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, res in enumerate(pool.map(_read_one, tasks, chunksize=4), start=1):
                results.append(res)
                if progress:
                    progress(i, len(tasks))
    else:
        for i, task in enumerate(tasks, start=1):
            results.append(_read_one(task))
            if progress:
                progress(i, len(tasks))
    return results


def evaluate(
    v: Validated, rules: Rulebook, period: Period, history: History | None = None
) -> pd.DataFrame:
    """Score and flag the accepted people; refused people keep their reasons."""
    people = v.people
    ok = people[~people["refused"]].copy()
    ok = derive(ok, rules)
    ok = score(ok, rules, period)
    ok = apply_flags(ok, rules, period, history)
    out = pd.concat([ok, people[people["refused"]]], sort=False).sort_index()
    out["refused"] = out["refused"].astype(bool)
    out["status_label"] = np.where(out["refused"], "未计分", "已计分")
    out["flags_text"] = _flags_text(out, rules, period)
    return out


def _flags_text(people: pd.DataFrame, rules: Rulebook, period: Period) -> pd.Series:
    text = pd.Series("", index=people.index, dtype=object)
    actions = {"dismiss": rules.outcomes["dismiss"], "demote": rules.outcomes["demote"]}
    for flag in rules.flags:
        col = f"flag:{flag.code}"
        if col not in people:
            continue
        warning = flag.annual and not period.is_annual
        what = (
            f"{rules.outcomes['warning']}:年度将{actions[flag.action]}"
            if warning
            else actions[flag.action]
        )
        line = f"{flag.label}({flag.article},{what})"
        hit = people[col].fillna(False).astype(bool)
        text = text.where(~hit, text + np.where(text == "", "", ";") + line)
    return text


def run(
    period: Period,
    inbox: Path,
    output: Path,
    rules: Rulebook,
    jobs: int | None = None,
    limits: dict | None = None,
    progress: Progress | None = None,
    history: History | None = None,
) -> RunResult:
    """Score one period's inbox into `output/<period>/`."""
    if not inbox.is_dir():
        raise UsageError(f"收件夹不存在: {inbox}")
    out_dir = output / period.code
    result = RunResult(period, out_dir)
    found = discover(inbox)
    result.files_skipped = found.skipped
    jobs = jobs or os.cpu_count() or 1
    books: list[WorkbookData] = []
    refused = list(found.refused)
    for res in read_all(found.files, jobs, limits, progress):
        if isinstance(res, WorkbookData):
            books.append(res)
        else:
            refused.append(res[:2])
            if res[2]:
                log.error("unexpected error reading %s\n%s", res[0], res[2])
    result.files_read = len(found.files)
    result.files_total = len(found.files) + len(found.refused)
    v = validate(books, refused, period, rules)
    result.files_refused = v.refused_files
    result.people = evaluate(v, rules, period, history)
    result.problems = v.problems
    _write_outputs(result, v, rules)
    return result


def _write_outputs(result: RunResult, v: Validated, rules: Rulebook) -> None:
    out = result.out_dir
    people = result.people
    table = results_table(people, result.period.code, rules.decimals)
    targets = [
        (out / "results.csv", lambda p: write_csv(p, table, TEXT_COLUMNS)),
        (
            out / "rejected.csv",
            lambda p: write_csv(
                p, pd.DataFrame(v.refused_files, columns=["file", "reason"]), ["file", "reason"]
            ),
        ),
    ]
    for wb in v.accepted:
        mine = people[people["_file"] == wb.file]
        code, name = (
            mine["branch_code"].iloc[0] if len(mine) else "",
            mine["branch_name"].iloc[0] if len(mine) else "",
        )
        if not len(mine):
            from .numbers import show

            code, name = show(wb.info["branch_code"][0]), show(wb.info["branch_name"][0])
        path = out / "branches" / branch_file_name(code, name)
        title = f"{name}({code}) {result.period.code} 客户经理考核结果"
        targets.append((path, lambda p, m=mine, t=title: write_branch(p, m, t)))
    for wanted, write in targets:
        written = write(wanted)
        result.written.append(written)
        if written != wanted:
            result.moved_aside.append((wanted, written))
