"""Swap a run's outputs into place so that a failed run changes nothing.

The run writes everything into a staging folder beside the period folder. Publishing moves the
period's current outputs into `previous/<run-id>/` and the staging folder into their place, with
renames, so readers see either the old set or the new set. If the period folder cannot be moved
(on Windows a file held open in Excel locks it), the new files are copied in one by one, each
atomically, and a file that stays locked is written beside it under a new name.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .atomic import write_atomic

PREVIOUS = "previous"


def previous_run_id(period_dir: Path) -> str | None:
    """The run id recorded in the period folder's manifest, if any."""
    try:
        return str(json.loads((period_dir / "manifest.json").read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError):
        return None


def publish(staging: Path, period_dir: Path, run_id: str) -> list[tuple[Path, Path]]:
    """Move `staging` to `period_dir`, keeping the old outputs; return files written aside."""
    if not period_dir.exists():
        os.replace(staging, period_dir)
        return []
    old_id = previous_run_id(period_dir) or f"unknown-{int(period_dir.stat().st_mtime)}"
    aside = period_dir.with_name(f".{period_dir.name}.old-{run_id}")
    try:
        os.replace(period_dir, aside)
    except PermissionError:
        return _publish_in_place(staging, period_dir, old_id)
    try:
        os.replace(staging, period_dir)
    except OSError:
        os.replace(aside, period_dir)  # put the old outputs back untouched
        raise
    previous = period_dir / PREVIOUS
    previous.mkdir(exist_ok=True)
    if (aside / PREVIOUS).exists():
        for entry in (aside / PREVIOUS).iterdir():
            os.replace(entry, previous / entry.name)
        (aside / PREVIOUS).rmdir()
    os.replace(aside, previous / old_id)
    return []


def _publish_in_place(staging: Path, period_dir: Path, old_id: str) -> list[tuple[Path, Path]]:
    """Fallback when the folder is locked: keep a copy of the old set, then replace file by file."""
    keep = period_dir / PREVIOUS / old_id
    shutil.copytree(period_dir, keep, ignore=shutil.ignore_patterns(PREVIOUS))
    moved: list[tuple[Path, Path]] = []
    for src in sorted(p for p in staging.rglob("*") if p.is_file()):
        target = period_dir / src.relative_to(staging)
        written = write_atomic(target, lambda tmp, s=src: shutil.copyfile(s, tmp))
        if written != target:
            moved.append((target, written))
    shutil.rmtree(staging, ignore_errors=True)
    return moved
