"""Read every workbook of an inbox, in worker processes when there are enough of them.

Each workbook is packed where it is read (`read.PackedWorkbook`): the run holds the books
compressed and opens them a few at a time. Each input is hashed; a workbook already parsed in
an earlier run (same bytes and name, same kpi-excel version) is taken from the cache under the
output folder instead of being parsed again, so a rerun after one branch resubmits reads only
that workbook. A byte-identical copy of another input
(`x - 副本.xlsx`) is used once: the copy is recorded as a duplicate, neither read nor refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from . import problems as P
from .discover import Inbox, discover
from .errors import WorkbookRefused
from .read import READER_VERSION, PackedWorkbook, pack, read_workbook
from .schema import Contract

log = logging.getLogger("kpi_excel")
PARALLEL_MIN_FILES = 8  # below this, starting workers costs more than it saves
Progress = Callable[[int, int], None]


@dataclass
class Collected:
    books: list[PackedWorkbook] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    skipped: list[str] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)  # name, size, sha256, status, reason
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (copy, the file it copies)
    total: int = 0


def _cache_path(cache: Path | None, sha: str, display: str, contract: Contract) -> Path | None:
    """A parsed workbook depends on its bytes, the reader and the fields it was read for, and on
    its name (its reading notes name the file)."""
    named = hashlib.sha256(display.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    name = f"{sha}-{named}-{__version__}-r{READER_VERSION}-{contract.digest}.pkl"
    return cache / name if cache else None


def _read_one(
    args: tuple[Path, str, dict | None, Path | None, Contract],
) -> tuple[dict, bytes | None, str, str]:
    """(input record, the packed workbook pickled or None, refusal reason, traceback) for one
    file. The workbook travels pickled: that one pickle is also the cache entry, and a cache hit
    is passed on as read, without unpickling it here."""
    path, display, limits, cache, contract = args
    try:
        data = path.read_bytes()
    except OSError as exc:
        rec = {"name": display, "size": 0, "sha256": "", "status": "refused"}
        return rec, None, f"{display} 无法打开:{exc.strerror or exc}", ""
    sha = hashlib.sha256(data).hexdigest()
    rec = {"name": display, "size": len(data), "sha256": sha, "status": "read"}
    cached = _cache_path(cache, sha, display, contract)
    if cached and cached.exists():
        try:
            return rec, cached.read_bytes(), "", ""
        except OSError:  # unreadable: parse again
            pass
    try:
        book = read_workbook(path, display, contract, limits, data, sha)  # read and hashed once
    except WorkbookRefused as exc:  # its code and the underlying error go to the log
        rec["code"] = exc.code
        return rec, None, exc.message, exc.detail
    except MemoryError:
        return rec, None, f"{display} 无法读取:文件过大,超出可用内存", traceback.format_exc()
    except Exception:  # one bad file must not stop the run; the traceback goes to the log
        return (
            rec,
            None,
            f"{display} 读取时发生意外错误,已记录到日志,请联系管理员",
            traceback.format_exc(),
        )
    blob = pickle.dumps(pack(book), protocol=pickle.HIGHEST_PROTOCOL)
    if cached:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(blob)
            tmp.replace(cached)
        except OSError:
            pass
    return rec, blob, "", ""


def _load(answer: tuple, task: tuple) -> tuple[dict, PackedWorkbook | None, str, str]:
    """`_read_one`'s answer with its workbook unpickled. A damaged cache entry is removed and
    the file parsed (and cached) again."""
    rec, blob, reason, tb = answer
    if blob is None:
        return rec, None, reason, tb
    try:
        book = pickle.loads(blob)
        if not isinstance(book, PackedWorkbook) or book.file != task[1]:
            raise TypeError("not a workbook")
    except Exception:  # noqa: BLE001 - any damage: parse the file again
        path, display, limits, cache, contract = task
        entry = _cache_path(cache, rec["sha256"], display, contract)
        if entry:
            with contextlib.suppress(OSError):
                entry.unlink(missing_ok=True)
        if entry and entry.exists():  # could not be removed: leave the cache out of it
            cache = None
        rec, blob, reason, tb = _read_one((path, display, limits, cache, contract))
        return rec, pickle.loads(blob) if blob is not None else None, reason, tb
    return rec, book, reason, tb


def _hash_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in chunks (a refused file may be huge)."""
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        return 0, ""
    return size, digest.hexdigest()


def collect(
    inbox: Path,
    contract: Contract,
    jobs: int,
    limits: dict | None,
    cache: Path | None,
    progress: Progress | None,
    found: Inbox | None = None,
) -> Collected:
    """Read every submission of `inbox` for the fields of `contract` (`found`: what `discover`
    already found there)."""
    if found is None:
        found = discover(inbox, (limits or {}).get("max_file_bytes"))
    out = Collected(refused=list(found.refused), skipped=found.skipped)
    out.total = len(found.files) + len(found.refused)
    for name, reason in found.refused:
        size, sha = _hash_file(inbox / name)
        out.inputs.append(
            {"name": name, "size": size, "sha256": sha, "status": "refused", "reason": reason}
        )
    tasks = [(p, d, limits, cache, contract) for p, d in found.files]
    if jobs > 1 and len(tasks) >= PARALLEL_MIN_FILES:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = pool.map(
                _read_one, tasks, chunksize=max(1, min(16, len(tasks) // (jobs * 4)))
            )
            _gather(results, tasks, out, progress)
    else:
        _gather(map(_read_one, tasks), tasks, out, progress)
    _drop_copies(out)
    return out


def copy_key(name: str) -> tuple[int, str]:
    """Which of identical files is used: the shortest name (`x.xlsx`, not `x - 副本.xlsx` nor
    `x (1).xlsx`), then the first by name."""
    return len(name), name


def _drop_copies(out: Collected) -> None:
    """Of inputs with the same bytes (and the same sha256), keep the one `copy_key` puts first;
    the others become duplicates: out of the books and the refusals, status `duplicate` in the
    inputs. Empty files are not copies of anything (each is refused as empty)."""
    same: dict[str, list[dict]] = {}
    for rec in out.inputs:
        if rec["sha256"] and rec["size"]:
            same.setdefault(rec["sha256"], []).append(rec)
    copies: dict[str, str] = {}
    for recs in same.values():
        first, *rest = sorted(recs, key=lambda r: copy_key(r["name"]))
        for rec in rest:
            copies[rec["name"]] = first["name"]
            rec.update(status="duplicate", reason=duplicate_message(rec["name"], first["name"]))
    if not copies:
        return
    out.duplicates = sorted(copies.items())
    out.books = [b for b in out.books if b.file not in copies]
    out.refused = [(f, r) for f, r in out.refused if f not in copies]


def duplicate_message(copy: str, original: str) -> str:
    return P.FILE_DUPLICATE.message(file=copy, extra=original, where="", label="", value="")


def _gather(results, tasks: list, out: Collected, progress: Progress | None) -> None:
    for i, (task, answer) in enumerate(zip(tasks, results, strict=True), start=1):
        rec, book, reason, tb = _load(answer, task)
        if book is not None:
            out.books.append(book)
        else:
            rec.update(status="refused", reason=reason)
            out.refused.append((rec["name"], reason))
            if rec.get("code"):
                detail = f" ({tb})" if tb else ""
                log.info("refused %s [%s]: %s%s", rec["name"], rec["code"], reason, detail)
            elif tb:
                log.error("unexpected error reading %s\n%s", rec["name"], tb)
        out.inputs.append(rec)
        if progress:
            progress(i, len(tasks))
