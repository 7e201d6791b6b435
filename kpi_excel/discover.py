"""Find the submissions in an inbox: which files to read, which to refuse, which to pass over."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .guard import DEFAULT_LIMITS

READ_SUFFIXES = {".xlsx", ".xlsm"}  # .xlsm: values only, macros never run
REFUSE_HINTS = {
    ".xls": "这是旧版 .xls 格式,请在 Excel/WPS 中另存为 .xlsx 后提交",
    ".et": "这是 WPS 表格 .et 格式,请另存为 .xlsx 后提交",
    ".ods": "这是 OpenDocument .ods 格式,请另存为 .xlsx 后提交",
    ".xlsb": "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交",
    ".csv": "这是 CSV 文件,请使用标准模板(.xlsx)提交",
}


@dataclass
class Inbox:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, display name)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (display name, reason)
    skipped: list[str] = field(default_factory=list)  # not submissions: lock files, hidden files


def _not_a_submission(path: Path) -> bool:
    """Office lock files (~$x.xlsx, .~lock.x.xlsx#), hidden files (a leading dot, or the hidden
    attribute on Windows), system files, symbolic links."""
    name = path.name
    try:
        hidden = bool(getattr(path.lstat(), "st_file_attributes", 0) & 0x2)  # Windows: hidden
    except OSError:
        hidden = False
    return (
        name.startswith(("~$", ".~lock.", "."))
        or name.endswith("#")
        or name in ("Thumbs.db", "desktop.ini")
        or hidden
        or path.is_symlink()
    )


def discover(inbox: Path, max_bytes: int | None = None) -> Inbox:
    """Every entry of the inbox folder (not recursive), sorted by name, put in one of three lists.

    A workbook larger than `max_bytes` (default: guard's limit) is refused before anyone reads
    it; folders, pipes and devices are passed over, never opened."""
    limit = max_bytes if max_bytes is not None else DEFAULT_LIMITS["max_file_bytes"]
    found = Inbox()
    for path in sorted(inbox.iterdir(), key=lambda p: p.name):
        name = display_name(path)
        if _not_a_submission(path):
            found.skipped.append(name)
            continue
        suffix = path.suffix.lower()
        if path.is_dir():
            found.skipped.append(name + "/")
        elif not path.is_file():
            found.skipped.append(name)
        elif suffix in READ_SUFFIXES and _size(path) > limit:
            why = f"文件大小超过上限 {limit // (1024 * 1024)} MB"
            found.refused.append((name, f"{name} 无法读取:{why}"))
        elif suffix in READ_SUFFIXES:
            found.files.append((path, name))
        elif suffix in REFUSE_HINTS:
            found.refused.append((name, f"{name} 无法读取:{REFUSE_HINTS[suffix]}"))
        else:
            found.skipped.append(name)
    return found


def display_name(path: Path) -> str:
    """A file's name as every output can hold it: bytes that are not UTF-8 (a name written on
    another system) show as U+FFFD; the file itself is still opened by its real path."""
    name = path.name
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
