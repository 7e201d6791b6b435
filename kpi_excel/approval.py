"""Approval and reopening of a period: once the auditors approve a period's current run, nobody
may rerun it until it is reopened, with a reason (issue 13; policy Article 14: the assessment is
reviewed by 稽核监控办).

`approve` stamps the run's workbooks and report (write/stamp.py: 已审核 with who and when),
then records the approval in the ledger with the sha256 of every output as stamped; `reopen`
records a reopening. Both are events in the ledger (`period_events`); `Ledger.current_run`
reads them: an approved run stays the period's current run. A run of an approved period is
refused before anything is touched (`refuse_if_approved`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from .errors import NotFound, OutputError, PeriodApproved, UsageError
from .ledger import APPROVE, DEFAULT_SCHEME, REOPEN, Ledger, PeriodEvent, exists, location
from .lock import OutputLock
from .periods import Period, parse_period
from .rulebook import Rulebook, load_rulebook
from .timefmt import local_time, utc_now
from .write.publish import PREVIOUS, previous_run_id
from .write.stamp import Stamp, StampError, stamp_report, stamp_workbook

LEFT_OUT_PREFIXES = ("compare_",)  # written later by `kpi-excel compare`, not the run's outputs
REPORT = "report.html"


def approve(
    period: str | Period,
    by: str,
    *,
    note: str = "",
    rules: Rulebook | str | Path | None = None,
    output: str | Path = "output",
    ledger: str | Path | None = None,
    year: int | None = None,
) -> PeriodEvent:
    """Approve the period's current run of the scheme of `rules` (default: the main policy):
    stamp its workbooks and report, record who, when (UTC), the run and the sha256 of each
    output (`output/<period>/…`, compare_* left out) in the ledger. Returns the approval.

    Raises UsageError (no name; already approved: PeriodApproved), NotFound (no ledger, no
    completed run), OutputError (the outputs are not that run's, or cannot be replaced)."""
    by, note = _required(by, "审核人", "--by"), (note or "").strip()
    rules, p, out_dir, ledger_path = _where(period, rules, output, ledger, year)
    with _ledger(ledger_path) as book, OutputLock(Path(output)):
        book.lock_period(p.code, rules.id)  # a shared ledger: not while the period runs
        recover_approval(out_dir, book, p.code, rules.id)
        refuse_if_approved_in(book, p.code, rules.id, doing="审核")
        run = book.current_run(p.code, rules.id)
        if run is None:
            raise NotFound(
                f"台账中没有{_scheme(rules.id)}考核期 {p.code} 的运行记录,无法审核;"
                f"请先运行 kpi-excel run {p.code}{_rules_arg(rules.id)}"
            )
        found = previous_run_id(out_dir)
        if found != run.run_id:
            raise OutputError(
                f"输出文件夹 {out_dir} 中不是考核期 {p.code} 当前运行 {run.run_id} 的输出"
                f"(manifest.json 记载的运行为 {found or '无'}),无法审核;请检查 --output"
            )
        at = utc_now()
        stamp = Stamp(by, local_time(at), run.run_id, note)
        files = output_files(out_dir)
        swap = _StampSwap(out_dir, files, stamp)
        try:
            hashes = swap.prepare()
            book.begin()
            event = book.add_event(APPROVE, run, by, at, note, hashes)
            swap.apply()
            book.commit()
        except BaseException:
            book.rollback()
            swap.undo()
            raise
        swap.finish()
        return next(e for e in book.events(p.code, rules.id) if e.id == event)


def reopen(
    period: str | Period,
    by: str,
    reason: str,
    *,
    rules: Rulebook | str | Path | None = None,
    output: str | Path = "output",
    ledger: str | Path | None = None,
    year: int | None = None,
) -> PeriodEvent:
    """Reopen an approved period (who, why, when): a rerun is allowed again. The approved
    run's outputs keep their stamp until a rerun replaces them. Raises UsageError (no name or
    reason; the period is not approved), NotFound (no ledger)."""
    by = _required(by, "重开人", "--by")
    reason = _required(reason, "重开原因", "--reason")
    rules, p, _out_dir, ledger_path = _where(period, rules, output, ledger, year)
    with _ledger(ledger_path) as book, OutputLock(Path(output)):
        book.lock_period(p.code, rules.id)  # a shared ledger: not while the period runs
        approval = book.approval(p.code, rules.id)
        if approval is None:
            raise UsageError(
                f"{_scheme(rules.id)}考核期 {p.code} 未审核(或已重开),无需重开;"
                "可直接运行 kpi-excel run"
            )
        run = book.current_run(p.code, rules.id)
        assert run is not None and run.id == approval.run
        event = book.add_event(REOPEN, run, by, utc_now(), reason)
        return next(e for e in book.events(p.code, rules.id) if e.id == event)


def refuse_if_approved(ledger_path: Path | str, period: str, scheme: str) -> None:
    """Raise PeriodApproved when the scheme's period is approved. Reads the ledger without
    writing a byte (no migration, no lock): called before a run touches anything."""
    if not exists(ledger_path):
        return
    book = Ledger.read_only(ledger_path)
    if book is None:
        return  # unreadable here: the run itself says why
    with book:
        refuse_if_approved_in(book, period, scheme)


def refuse_if_approved_in(book: Ledger, period: str, scheme: str, doing: str = "运行") -> None:
    approval = book.approval(period, scheme)
    if approval is None:
        return
    when = f"考核期 {period}{_scheme_note(scheme)} 已于 {local_time(approval.at)} 由 {approval.by} 审核"
    if doing == "审核":
        raise PeriodApproved(f"{when}(运行 {approval.run_id}),不能重复审核", approval)
    raise PeriodApproved(
        f"{when}(运行 {approval.run_id}),审核后不能重新运行;现有结果与台账均未改动。"
        f"如确需重新计算,请先运行 kpi-excel reopen {period}{_rules_arg(scheme)} "
        "--by 姓名 --reason 重开原因",
        approval,
    )


def output_files(out_dir: Path) -> list[Path]:
    """The run's outputs in its period folder (relative): earlier runs' (previous/), hidden
    and temporary files, and compare_* left out."""
    out = []
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir)
        if not path.is_file() or path.is_symlink() or rel.parts[0] == PREVIOUS:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        if len(rel.parts) == 1 and rel.name.startswith(LEFT_OUT_PREFIXES):
            continue
        out.append(rel)
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


KEPT_RE = re.compile(r"^\.(?P<name>.+)\.\d+\.approve$")  # an original _StampSwap moved aside


def recover_approval(out_dir: Path, book: Ledger, period: str, scheme: str) -> list[str]:
    """Put right what an approve killed between swapping the stamped files in and finishing
    left in the period folder (call it holding the output lock): an original moved aside
    (`.<name>.<pid>.approve`) goes back in place when no approval in the ledger recorded the
    hash of the file now there (the ledger never committed that approval), else it is removed.
    Returns what was done, one line each."""
    if not out_dir.is_dir():
        return []
    recorded = {
        (name, digest)
        for e in book.events(period, scheme)
        if e.kind == APPROVE
        for name, digest in e.outputs.items()
    }
    done = []
    for kept in sorted(out_dir.rglob(".*.approve")):
        m = KEPT_RE.match(kept.name)
        if m is None or not kept.is_file() or kept.is_symlink():
            continue
        target = kept.with_name(m["name"])
        rel = target.relative_to(out_dir).as_posix()
        if target.is_file() and (rel, sha256_of(target)) in recorded:
            kept.unlink()
            done.append(f"removed {kept.name} (its approval was committed)")
        else:
            os.replace(kept, target)
            done.append(f"restored {rel} (its approval was never committed)")
    return done


class _StampSwap:
    """Stamped copies written beside the outputs, then moved into place; undone on failure."""

    def __init__(self, out_dir: Path, files: list[Path], stamp: Stamp) -> None:
        self.out_dir, self.files, self.stamp = out_dir, files, stamp
        self.tmp: dict[Path, Path] = {}  # target -> stamped copy
        self.kept: dict[Path, Path] = {}  # target -> the unstamped original, once replaced

    def prepare(self) -> dict[str, str]:
        hashes = {}
        for rel in self.files:
            target = self.out_dir / rel
            stamper = stamp_workbook if rel.suffix == ".xlsx" else None
            if rel.as_posix() == REPORT:
                stamper = stamp_report
            if stamper is not None:
                tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
                self.tmp[target] = tmp
                try:
                    stamper(target, tmp, self.stamp)
                except StampError as exc:
                    raise OutputError(f"{target}:{exc}") from None
                except (OSError, ValueError) as exc:  # zipfile.BadZipFile is a ValueError
                    raise OutputError(f"无法读取输出文件 {target},未审核:{exc}") from None
            hashes[rel.as_posix()] = sha256_of(self.tmp.get(target, target))
        return hashes

    def apply(self) -> None:
        for target, tmp in self.tmp.items():
            kept = target.with_name(f".{target.name}.{os.getpid()}.approve")
            try:
                os.replace(target, kept)
                self.kept[target] = kept
                os.replace(tmp, target)
            except OSError as exc:
                raise OutputError(
                    f"无法替换输出文件 {target}(可能正被 Excel 等程序打开),未审核,"
                    f"请关闭后再试:{exc}"
                ) from None

    def undo(self) -> None:
        for target, kept in self.kept.items():
            with contextlib.suppress(OSError):
                os.replace(kept, target)
        self.finish()

    def finish(self) -> None:
        for path in [*self.tmp.values(), *self.kept.values()]:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def _required(value: str | None, label: str, option: str) -> str:
    text = (value or "").strip()
    if not text:
        raise UsageError(f"请用 {option} 写明{label}")
    return text


def _where(
    period: str | Period,
    rules: Rulebook | str | Path | None,
    output: str | Path,
    ledger: str | Path | None,
    year: int | None,
) -> tuple[Rulebook, Period, Path, Path | str]:
    from .pipeline import scheme_root

    book = rules if isinstance(rules, Rulebook) else load_rulebook(rules)
    code = period.code if isinstance(period, Period) else period
    p = parse_period(code, book.calendar, default_year=year)
    out = Path(output)
    return (
        book,
        p,
        scheme_root(out, book) / p.code,
        location(ledger, out),
    )


def _ledger(path: Path | str) -> Ledger:
    if not exists(path):
        raise NotFound(f"找不到台账 {path},请先运行 kpi-excel run,或用 --ledger 指定台账文件")
    return Ledger(path)


def _scheme(scheme: str) -> str:
    return "" if scheme == DEFAULT_SCHEME else f"方案 {scheme} 的"


def _scheme_note(scheme: str) -> str:
    return "" if scheme == DEFAULT_SCHEME else f"(方案 {scheme})"


def _rules_arg(scheme: str) -> str:
    """How the clerk names the scheme to `reopen`: a shipped scheme by its id, a bank's own
    rulebook by its file (its id is not a --rules value)."""
    from .rulebook import shipped_rulebooks

    if scheme == DEFAULT_SCHEME:
        return ""
    return f" --rules {scheme}" if scheme in shipped_rulebooks() else " --rules <该方案的规则文件>"
