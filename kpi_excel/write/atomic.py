"""Outputs are written under a temporary name beside the target and moved into place.

A crash, a full disk or Ctrl-C therefore never leaves a half-written file under the real name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

RETRIES = 3
RETRY_WAIT_S = 0.5


def write_atomic(target: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)`, then move tmp onto `target`; return where the file ended up.

    If the target is held open by another program (Windows locks it), retry a few times, then
    write beside it as `name (新).ext` and return that path so the caller can say so.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        write(tmp)
        for attempt in range(RETRIES):
            try:
                os.replace(tmp, target)
                return target
            except PermissionError:
                if attempt < RETRIES - 1:
                    time.sleep(RETRY_WAIT_S)
        beside = _free_name(target)
        os.replace(tmp, beside)
        return beside
    finally:
        if tmp.exists():
            tmp.unlink()


def _free_name(target: Path) -> Path:
    for n in range(1, 1000):
        label = "新" if n == 1 else f"新{n}"
        candidate = target.with_name(f"{target.stem} ({label}){target.suffix}")
        if not candidate.exists():
            return candidate
    raise PermissionError(f"无法写入 {target}")
