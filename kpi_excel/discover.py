"""Find the submissions in an inbox: which files to read, which to refuse, which to pass over.

Every file that looks like an attempted submission is read or refused with its reason, never
passed over: a workbook (.xlsx, .xlsm, and the .xltx/.xltm templates, all OOXML), and the other
spreadsheet formats a branch may send (.xls, .et, .ods, .fods, .numbers, .xlsb, .csv …). Those
are looked into here: what they really are decides (an encrypted .xls is told so, an .xls that
is an .xlsx inside is read), see `sniff.py`. Only lock files, hidden and system files, other
files and folders are passed over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from . import problems as P
from .errors import WorkbookRefused
from .guard import DEFAULT_LIMITS, check_container

log = logging.getLogger("kpi_excel")

ADJUSTMENTS_DIR = "调整"  # a period's adjustments workbooks (appeal.py): not submissions
READ_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm"}  # .xlsm/.xltm: values only, macros never run
# other spreadsheet formats: read to name what they are (and read if they are .xlsx inside)
OTHER_SUFFIXES = {
    ".xls", ".xlt", ".xlsb", ".xlam", ".xla", ".et", ".ett", ".ods", ".ots", ".fods", ".numbers",
    ".csv", ".tsv",
}  # fmt: skip
PACKAGE_FOLDERS = {
    ".numbers": "这是 Apple Numbers 文件包(一个文件夹),请在 Numbers 中选择“文件 > 导出为 > Excel”"
    "存为 .xlsx 后提交",
}  # a document saved as a folder (macOS packages): refused, never opened


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
        if path.is_dir() and suffix in PACKAGE_FOLDERS:
            why = PACKAGE_FOLDERS[suffix]
            found.refused.append((name, P.FILE_FORMAT.message(file=name, extra=why)))
        elif path.is_dir() and name == ADJUSTMENTS_DIR:
            continue  # the adjustments of the period (appeal.py), never a submission
        elif path.is_dir():
            found.skipped.append(name + "/")
        elif not path.is_file():
            found.skipped.append(name)
        elif suffix not in READ_SUFFIXES and suffix not in OTHER_SUFFIXES:
            found.skipped.append(name)
        elif _size(path) > limit:
            why = f"文件大小超过上限 {limit // (1024 * 1024)} MB"
            found.refused.append((name, P.FILE_TOO_LARGE.message(file=name, extra=why)))
        elif suffix in OTHER_SUFFIXES and (reason := _other_format(path, name)):
            found.refused.append((name, reason))
        else:
            found.files.append((path, name))
    return found


def _other_format(path: Path, name: str) -> str:
    """Why a file of another spreadsheet format cannot be read ("" when it is an .xlsx package
    inside, to be read as one): what its content really is, checked as a workbook is."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{name} 无法打开:{exc.strerror or exc}"
    try:
        check_container(data, name, wanted=lambda _sheet: False)  # no sheet scanned here
    except WorkbookRefused as exc:
        log.info(
            "refused %s [%s]: %s%s",
            name,
            exc.code,
            exc.message,
            f" ({exc.detail})" * bool(exc.detail),
        )
        return exc.message
    return ""


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
