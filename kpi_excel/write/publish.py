"""Swap a run's outputs into place so that a failed run changes nothing.

The run writes everything into a staging folder beside the period folder. Publishing moves the
period's current outputs aside and the staging folder into their place, with renames, so readers
see either the old set or the new set. The swap is done before the ledger commits and undone if
the commit fails (`Swap.undo`); once the ledger has committed, `Swap.finish` files the old
outputs under `previous/<run-id>/`. If the period folder cannot be moved (on Windows a file held
open in Excel locks it), the new files are copied in one by one, each atomically, after a copy of
the old set is kept; a file that stays locked is written beside it under a new name.

A run killed half-way leaves a staging folder, or the old outputs moved aside, or temporary
files; `recover` (called by the next run, under the output lock) puts all of that right.
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_atomic

PREVIOUS = "previous"
STAGING_RE = re.compile(r"^\.(?P<period>[^.]+)\.staging-(?P<run>.+)$")
ASIDE_RE = re.compile(r"^\.(?P<period>[^.]+)\.old-(?P<run>.+)$")
ATOMIC_TMP_RE = re.compile(r"^\..+\.\d+\.tmp(\.[^.]+)?$")  # write_atomic's temporary files
CACHE_TMP_SUFFIX = ".tmp"  # collect's cache entries being written


def staging_dir(output: Path, period: str, run_id: str) -> Path:
    return output / f".{period}.staging-{run_id}"


def aside_dir(period_dir: Path, run_id: str) -> Path:
    return period_dir.with_name(f".{period_dir.name}.old-{run_id}")


def previous_run_id(period_dir: Path) -> str | None:
    """The run id recorded in the period folder's manifest, if any."""
    try:
        return str(json.loads((period_dir / "manifest.json").read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _old_id(period_dir: Path) -> str:
    return previous_run_id(period_dir) or f"unknown-{int(period_dir.stat().st_mtime)}"


@dataclass
class Swap:
    """A publication between the swap and the ledger commit.

    The new outputs are in `period_dir`; the old ones are beside it in `aside` (renamed), or
    copied to `keep` (the in-place fallback). `undo()` puts the old outputs back exactly;
    `finish()` files them under `previous/`."""

    staging: Path
    period_dir: Path
    aside: Path | None = None
    old_id: str = ""
    keep: Path | None = None  # in-place fallback: the copy of the old set
    made_previous: bool = False  # in-place fallback: `previous/` was made for `keep`
    moved_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (wanted, written)
    filed: Path | None = None  # where finish() filed the old outputs

    @property
    def previous(self) -> Path | None:
        """Where the old outputs are kept once published (`previous/<run-id>/`), if any."""
        return self.filed or self.keep

    def undo(self) -> None:
        if self.keep is not None:
            _restore_in_place(self.period_dir, self.keep)
            if self.made_previous:
                self.keep.parent.rmdir()
            return
        os.replace(self.period_dir, self.staging)
        if self.aside is not None:
            os.replace(self.aside, self.period_dir)

    def finish(self) -> None:
        if self.keep is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
        elif self.aside is not None:
            self.filed = file_previous(self.aside, self.period_dir, self.old_id)


def publish(staging: Path, period_dir: Path, run_id: str) -> Swap:
    """Move `staging` to `period_dir`, keeping the old outputs beside it until `finish()`."""
    if not period_dir.exists():
        os.replace(staging, period_dir)
        return Swap(staging, period_dir)
    old_id = _old_id(period_dir)
    aside = aside_dir(period_dir, run_id)
    try:
        os.replace(period_dir, aside)
    except PermissionError:
        return _publish_in_place(staging, period_dir, old_id)
    try:
        os.replace(staging, period_dir)
    except BaseException:
        os.replace(aside, period_dir)  # put the old outputs back untouched
        raise
    return Swap(staging, period_dir, aside, old_id)


def file_previous(aside: Path, period_dir: Path, old_id: str) -> Path:
    """Move the old outputs `aside` to `period_dir/previous/<old_id>/`, their own `previous/`
    entries beside them; return where they went."""
    previous = period_dir / PREVIOUS
    previous.mkdir(exist_ok=True)
    if (aside / PREVIOUS).exists():
        for entry in sorted((aside / PREVIOUS).iterdir()):
            os.replace(entry, _free(previous / entry.name))
        (aside / PREVIOUS).rmdir()
    target = _free(previous / old_id)
    os.replace(aside, target)
    return target


def _free(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`… if taken (never overwrite an earlier run's outputs)."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _files(root: Path) -> list[Path]:
    """Every file under `root` (relative), `previous/` left out."""
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != PREVIOUS
    )


def _publish_in_place(staging: Path, period_dir: Path, old_id: str) -> Swap:
    """Fallback when the folder is locked: keep a copy of the old set, then replace file by file
    and remove the old files the new set does not have (a locked one stays)."""
    keep = _free(period_dir / PREVIOUS / old_id)
    swap = Swap(staging, period_dir, old_id=old_id, keep=keep)
    swap.made_previous = not keep.parent.exists()
    try:
        shutil.copytree(period_dir, keep, ignore=shutil.ignore_patterns(PREVIOUS))
    except BaseException:  # nothing replaced yet: drop the partial copy
        shutil.rmtree(keep, ignore_errors=True)
        if swap.made_previous:
            with contextlib.suppress(OSError):
                keep.parent.rmdir()
        raise
    try:
        new = _files(staging)
        for rel in new:
            src, target = staging / rel, period_dir / rel
            written = write_atomic(target, lambda tmp, s=src: shutil.copyfile(s, tmp))
            if written != target:
                swap.moved_aside.append((target, written))
        wanted = set(new) | {w.relative_to(period_dir) for _t, w in swap.moved_aside}
        for rel in _files(period_dir):
            if rel not in wanted:
                with contextlib.suppress(OSError):
                    (period_dir / rel).unlink()
    except BaseException:
        swap.undo()
        raise
    return swap


def _restore_in_place(period_dir: Path, keep: Path) -> None:
    """Make `period_dir` (outside `previous/`) hold exactly the files of `keep`, then drop `keep`."""
    old = set(_files(keep))
    for rel in _files(period_dir):
        if rel not in old:
            (period_dir / rel).unlink()
    made = (d for d in period_dir.rglob("*") if d.is_dir() and not d.is_symlink())
    for d in sorted(made, key=lambda d: len(d.parts), reverse=True):
        rel = d.relative_to(period_dir)
        if rel.parts[0] != PREVIOUS and not (keep / rel).is_dir() and not any(d.iterdir()):
            d.rmdir()
    for rel in sorted(old):
        src, target = keep / rel, period_dir / rel
        if target.exists() and filecmp.cmp(src, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
        shutil.copy2(src, tmp)
        os.replace(tmp, target)
    shutil.rmtree(keep)


def recover(output: Path, committed: Callable[[str], bool]) -> list[str]:
    """Put right what killed runs left in `output`; call it holding the output lock.

    - old outputs moved aside (`.<period>.old-<run>`): put back if the period folder is gone or
      holds the outputs of a run the ledger never committed, else filed under `previous/`;
    - staging folders (`.<period>.staging-<run>`): removed;
    - temporary files of atomic writes in the period folders, and of the parse cache: removed.
    `committed(run_id)` says whether the ledger holds that run. Returns what was done, one line
    each (for the log)."""
    done: list[str] = []
    if not output.is_dir():
        return done
    for entry in sorted(output.iterdir()):
        m = ASIDE_RE.match(entry.name)
        if not m or not entry.is_dir() or entry.is_symlink():
            continue
        period_dir = output / m["period"]
        if not period_dir.exists():
            os.replace(entry, period_dir)
            done.append(f"restored {period_dir.name} from {entry.name}")
        elif previous_run_id(period_dir) == m["run"] and not committed(m["run"]):
            discard = staging_dir(output, m["period"], m["run"])
            shutil.rmtree(discard, ignore_errors=True)
            os.replace(period_dir, discard)  # removed with the staging folders below
            os.replace(entry, period_dir)
            done.append(f"undid the uncommitted run {m['run']} in {period_dir.name}")
        else:
            file_previous(entry, period_dir, _old_id(entry))
            done.append(f"filed {entry.name} under {period_dir.name}/{PREVIOUS}")
    for entry in sorted(output.iterdir()):
        if STAGING_RE.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            done.append(f"removed {entry.name}")
    for entry in sorted(output.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        for tmp in sorted(entry.rglob(".*")):
            if ATOMIC_TMP_RE.match(tmp.name) and tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
                done.append(f"removed {tmp.relative_to(output)}")
    cache = output / ".cache"
    if cache.is_dir():
        for tmp in sorted(cache.glob(f"*{CACHE_TMP_SUFFIX}")):
            if tmp.is_file():
                tmp.unlink()
                done.append(f"removed {tmp.relative_to(output)}")
    return done
