"""Checks on a workbook's container before any parser sees it.

A branch's file may be empty, cut short, encrypted, of another format, or crafted (zip bomb,
XML entity bomb, a cell at XFD1048576, a million rows). These checks read the zip directory,
then inflate each part as a stream under a running byte budget (never more than a chunk in
memory), refuse any DTD, and scan every worksheet with `sheetxml.SheetScanner`, so memory and
time stay bounded whatever the file holds. They return what the scan learnt of each sheet.
A small plain part (most of them) is inflated straight from the file's bytes in one piece, the
others through `zipfile`; both give the same bytes and the same refusals.
"""

from __future__ import annotations

import contextlib
import functools
import io
import posixpath
import pyexpat
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import problems as P
from .errors import KpiExcelError, WorkbookRefused
from .numfmt import cell_styles, may_have_styles
from .sheetxml import SheetLimit, SheetScan, SheetScanner

DEFAULT_LIMITS: dict[str, int] = {
    "max_file_bytes": 50 * 1024 * 1024,
    "max_uncompressed_bytes": 300 * 1024 * 1024,  # all parts together, as actually inflated
    "max_compression_ratio": 200,
    "max_parts": 10_000,
    "max_rows": 100_000,
    "max_columns": 1_000,
    "max_cells": 2_000_000,  # per sheet: rows x columns from A1, and cell records
    "max_shared_strings": 2_000_000,
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
CORRUPT = "文件不完整或已损坏,请重新保存后提交"
ENCRYPTED = "文件已加密,请取消密码后提交"
BOMB = "解压后体积超过上限(疑似压缩炸弹),不予读取"


def _dtd_pattern() -> re.Pattern[bytes]:
    words = [b"<!DOCTYPE", b"<!ENTITY"]
    forms = []
    for w in words:  # UTF-8, UTF-16LE and UTF-16BE spellings
        forms.append(re.escape(w))
        forms.append(b"".join(re.escape(bytes([c])) + b"\\x00" for c in w))
        forms.append(b"".join(b"\\x00" + re.escape(bytes([c])) for c in w))
    return re.compile(b"|".join(forms), re.IGNORECASE)


_DTD_RE = _dtd_pattern()
_SI_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_BINARY_SUFFIXES = (
    ".bin", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf", ".wdp",
    ".ico", ".xlsx", ".xlsm", ".xls", ".docx", ".doc", ".pptx", ".pdf", ".zip", ".wav", ".mp3",
)  # fmt: skip
_CHUNK = 1 << 16
_TAIL = 64


@dataclass
class Container:
    """What the container checks learnt: each worksheet's scan, by sheet name."""

    sheets: dict[str, SheetScan] = field(default_factory=dict)


def assert_defused() -> None:
    """Raise unless openpyxl parses XML through defusedxml. The CLI calls this at start-up."""
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise KpiExcelError(
            "安装不完整:openpyxl 未启用 defusedxml(请执行 pip install defusedxml,"
            "并且不要设置环境变量 OPENPYXL_DEFUSEDXML=False),为安全起见不予运行"
        )


def _refuse(display: str, why: str) -> WorkbookRefused:
    return WorkbookRefused(
        P.FILE_UNREADABLE.code, P.FILE_UNREADABLE.message(file=display, extra=why)
    )


def check_container(data: bytes, display: str, limits: dict[str, int] | None = None) -> Container:
    """Raise WorkbookRefused unless `data` is a sane .xlsx zip within the limits."""
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    if not data:
        raise _refuse(display, f"文件为空(0字节),{CORRUPT}")
    if len(data) > lim["max_file_bytes"]:
        raise _refuse(display, f"文件大小超过上限 {lim['max_file_bytes'] // (1024 * 1024)} MB")
    if data.startswith(OLE_MAGIC):
        if ENCRYPTED_PACKAGE in data:
            raise _refuse(display, ENCRYPTED)
        raise _refuse(
            display, "这是旧版 .xls 格式或其他 OLE 文件,请在 Excel/WPS 中另存为 .xlsx 后提交"
        )
    if data.startswith(b"%PDF"):
        raise _refuse(display, "这是 PDF 文件而不是 Excel 工作簿,请提交 .xlsx 文件")
    if not data.startswith(b"PK"):
        raise _refuse(display, f"不是 Excel 工作簿(.xlsx),{CORRUPT}")
    _check_directory_size(data, display, lim)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:  # BadZipFile, OSError, ValueError, struct errors: all mean "broken"
        raise _refuse(display, CORRUPT) from None
    _check_directory(infos, display, lim)
    try:
        return _scan_parts(zf, infos, display, lim, data)
    except WorkbookRefused:
        raise
    except SheetLimit as exc:
        raise _refuse(display, f"{exc.args[0]},不予读取") from None
    except Exception:  # zlib.error, BadZipFile (CRC), EOFError, ParseError...: a broken file
        raise _refuse(display, CORRUPT) from None


def _check_directory_size(data: bytes, display: str, lim: dict[str, int]) -> None:
    """Refuse a zip whose central directory lists more parts than any workbook has."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return  # zipfile will say what is wrong
    count = int.from_bytes(data[at + 10 : at + 12], "little")
    size = int.from_bytes(data[at + 12 : at + 16], "little")
    if count > lim["max_parts"] or size > lim["max_parts"] * 1024:
        raise _refuse(display, f"压缩包内部件数量异常(超过 {lim['max_parts']:,} 个),不予读取")


def _check_directory(infos: list[zipfile.ZipInfo], display: str, lim: dict[str, int]) -> None:
    names = {i.filename for i in infos}
    if len(infos) > lim["max_parts"]:
        raise _refuse(display, f"压缩包内部件数量异常(超过 {lim['max_parts']:,} 个),不予读取")
    if "mimetype" in names and "[Content_Types].xml" not in names:
        raise _refuse(display, "这是 OpenDocument(.ods/.et 等)格式,请另存为 .xlsx 后提交")
    if "xl/workbook.bin" in names:
        raise _refuse(display, "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交")
    if "xl/workbook.xml" not in names:
        raise _refuse(display, f"压缩包中没有 Excel 工作簿内容,{CORRUPT}")
    if any(i.flag_bits & 0x1 for i in infos):
        raise _refuse(display, ENCRYPTED)
    if sum(i.file_size for i in infos) > lim["max_uncompressed_bytes"]:
        raise _refuse(display, BOMB)
    for info in infos:
        if (
            info.compress_size
            and info.file_size / info.compress_size > lim["max_compression_ratio"]
            and info.file_size > 10 * 1024 * 1024
        ):
            raise _refuse(display, f"部件 {info.filename} 压缩比异常(疑似压缩炸弹),不予读取")


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit


def _scan_parts(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    display: str,
    lim: dict[str, int],
    data: bytes | None = None,
) -> Container:
    budget = _Budget(lim["max_uncompressed_bytes"])
    by_name = {i.filename: i for i in infos}
    kept: dict[str, bytes] = {}
    for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if name in by_name:
            kept[name] = _inflate(zf, by_name[name], display, lim, budget, keep=True, data=data)
    targets = _workbook_targets(kept.get("xl/_rels/workbook.xml.rels"))
    sheet_names = _sheet_names(kept["xl/workbook.xml"], targets)
    styles = _read_styles(zf, by_name, kept, display, lim, budget, data)
    out = Container()
    for info in infos:
        name = info.filename
        if name in kept or info.is_dir():
            continue
        is_sheet = name in sheet_names or name.startswith("xl/worksheets/")
        lower = name.lower()
        if not is_sheet and name not in targets.values() and lower.endswith(_BINARY_SUFFIXES):
            continue  # pictures, printer settings, macros: no parser of ours inflates them
        scanner = None
        if is_sheet:
            scan = SheetScan(part=name, name=sheet_names.get(name, ""))
            scanner = SheetScanner(scan, lim, styles)
        _inflate(zf, info, display, lim, budget, scanner=scanner, data=data)
        if scanner is not None:
            scanner.close()
            out.sheets[scan.name or name] = scan
    return out


MAX_STYLES_BYTES = 32 * 1024 * 1024  # a larger styles part is checked, not kept and classified
_STYLE_TAGS = frozenset(
    ("numFmts", "numFmt", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "xf",
     "cellStyles", "dxfs", "tableStyles", "colors", "extLst")
)  # fmt: skip


def _read_styles(
    zf: zipfile.ZipFile,
    by_name: dict[str, zipfile.ZipInfo],
    kept: dict[str, bytes],
    display: str,
    lim: dict[str, int],
    budget: _Budget,
    data: bytes | None,
) -> dict[int, tuple[str, str]]:
    """The cell styles whose number format is a percentage, a date or a time (numfmt.py), read
    before the sheets whatever the order of the parts. A styles part that does not parse is
    left to calamine: it only means that no cell is known to be so formatted."""
    info = by_name.get("xl/styles.xml")  # where Excel, WPS and LibreOffice put it
    if info is None:
        info = by_name.get(_styles_part(kept.get("xl/_rels/workbook.xml.rels")))
    if info is None or info.file_size > MAX_STYLES_BYTES:
        return {}
    kept[info.filename] = xml = _inflate(zf, info, display, lim, budget, keep=True, data=data)
    if not may_have_styles(xml):
        return {}
    try:
        return cell_styles(_elements(xml, _STYLE_TAGS))
    except Exception:  # expat errors, bad attributes: the styles are calamine's to judge
        return {}


def _inflate(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    display: str,
    lim: dict[str, int],
    budget: _Budget,
    keep: bool = False,
    scanner: SheetScanner | None = None,
    data: bytes | None = None,
) -> bytes:
    """Stream one part: refuse any DTD, a part larger than declared, a blown budget."""
    total = strings = 0
    tail = b""
    parts: list[bytes] = []
    xml_like = scanner is not None or info.filename.lower().endswith(_XML_SUFFIXES)
    # every <si> takes 4 bytes or more, and no more than the declared size is ever read: a part
    # too small to hold more strings than the limit needs no counting (it could never refuse)
    count_strings = (
        info.filename.lower().endswith("sharedstrings.xml")
        and info.file_size // 4 > lim["max_shared_strings"]
    )
    small = _small_part(data, info) if data is not None else None
    with zf.open(info) if small is None else contextlib.nullcontext() as fh:
        chunks: Iterable[bytes] = (
            iter(functools.partial(fh.read, _CHUNK), b"")
            if small is None
            else (small,) * bool(small)
        )
        for chunk in chunks:
            total += len(chunk)
            budget.left -= len(chunk)
            if total > info.file_size or budget.left < 0:
                raise _refuse(
                    display, BOMB if budget.left < 0 else f"部件 {info.filename} {CORRUPT}"
                )
            if not parts and not tail and xml_like and _not_utf8(chunk):
                raise _refuse(display, f"部件 {info.filename} 使用了不支持的编码,{CORRUPT}")
            window = tail + chunk
            if b"!" in window and _DTD_RE.search(window):  # "<!" or "!\x00": one fast scan
                raise _refuse(
                    display, f"部件 {info.filename} 含有 DTD/实体声明(可能是 XML 炸弹),不予读取"
                )
            if count_strings:
                strings += len(_SI_RE.findall(window)) - len(_SI_RE.findall(tail))
                if strings > lim["max_shared_strings"]:
                    raise _refuse(
                        display, f"共享字符串超过 {lim['max_shared_strings']:,} 个,不予读取"
                    )
            if scanner is not None:
                scanner.feed(chunk)
            if keep:
                parts.append(chunk)
            tail = window[-_TAIL:]
    return b"".join(parts)


_LOCAL_HEADER = struct.Struct("<4s2sH18sHH")  # signature, version, flags, ..., name and extra size


def _small_part(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A small stored or deflated part inflated straight from the file's bytes, in one piece, when
    everything about it is plain: a local header that agrees with the directory, complete
    compressed data, exactly the declared size and CRC. Else None: `zipfile` then reads the part
    in chunks and raises what it raises, so only the cost differs, never the outcome (zipfile
    would give these same bytes, in one read of a chunk)."""
    if (
        info.file_size > _CHUNK
        or info.compress_size > 2 * _CHUNK  # never more than a couple of chunks in memory
        or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        or info.flag_bits & 0x61  # encrypted, patched data, strong encryption
    ):
        return None
    at = info.header_offset
    if at < 0:
        return None
    try:
        magic, _, flags, _, name_size, extra_size = _LOCAL_HEADER.unpack_from(data, at)
        name = data[at + 30 : at + 30 + name_size].decode("utf-8" if flags & 0x800 else "cp437")
    except (struct.error, UnicodeDecodeError):
        return None
    start = at + 30 + name_size + extra_size
    raw = data[start : start + info.compress_size]
    if magic != b"PK\x03\x04" or name != info.orig_filename or len(raw) != info.compress_size:
        return None
    end = getattr(info, "_end_offset", None)  # newer zipfile refuses overlapping parts
    if end is not None and start + info.compress_size > end:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        out = raw
    else:
        inflate = zlib.decompressobj(-15)
        try:
            out = inflate.decompress(raw, info.file_size + 1)
        except zlib.error:
            return None
        if not inflate.eof:
            return None
    if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        return None
    return out


def _not_utf8(head: bytes) -> bool:
    """UTF-16/32 text (a BOM or NUL bytes up front): the scans here read ASCII markup only."""
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _resolve(target: str) -> str:
    """A workbook relationship target as a zip member name, as calamine resolves it."""
    t = target.replace("\\", "/")
    if t.startswith("/"):
        t = t[1:]
    elif not t.startswith("xl/"):
        t = "xl/" + t
    return posixpath.normpath(t)


def _elements(xml: bytes, only: frozenset[str] | None = None) -> list[tuple[str, dict[str, str]]]:
    """(local tag, attributes) of every element in document order (of those named in `only`,
    when given), as ElementTree would give them (a namespaced attribute is named "uri}name";
    only its local name is ever compared). expat is set up as defusedxml sets it up (entity
    declarations and external references refused) and as ElementTree's parser treats the rest
    (an undefined entity is an error); only the element starts are kept, no tree is built."""
    found: list[tuple[str, dict[str, str]]] = []

    def start(tag: str, attrs: list[str]) -> None:
        local = _local(tag)
        if only is None or local in only:
            found.append((local, dict(zip(attrs[::2], attrs[1::2], strict=True))))

    parser = pyexpat.ParserCreate(None, "}")
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.StartElementHandler = start
    parser.CharacterDataHandler = _ignore
    parser.CommentHandler = _ignore
    parser.ProcessingInstructionHandler = _ignore
    parser.DefaultHandlerExpand = _undefined_entity
    parser.EntityDeclHandler = _forbidden
    parser.UnparsedEntityDeclHandler = _forbidden
    parser.ExternalEntityRefHandler = _forbidden
    parser.Parse(xml, True)
    return found


def _ignore(*_: object) -> None:
    return None


def _undefined_entity(text: str) -> None:
    if text[:1] == "&":
        raise ValueError(f"undefined entity {text}")


def _forbidden(*_: object) -> None:
    raise ValueError("entity declarations and external references are not read")


def _workbook_targets(rels: bytes | None) -> dict[str, str]:
    """Relationship id -> zip member, from xl/_rels/workbook.xml.rels."""
    if not rels:
        return {}
    out = {}
    for tag, attrs in _elements(rels):
        if tag == "Relationship" and attrs.get("TargetMode") != "External":
            out[attrs.get("Id", "")] = _resolve(attrs.get("Target", ""))
    return out


def _styles_part(rels: bytes | None) -> str:
    """The zip member the workbook's styles relationship names ('' if none)."""
    for _tag, attrs in _elements(rels, frozenset(("Relationship",))) if rels else ():
        if attrs.get("Type", "").endswith("/styles") and attrs.get("TargetMode") != "External":
            return _resolve(attrs.get("Target", ""))
    return ""


def _sheet_names(workbook: bytes, targets: dict[str, str]) -> dict[str, str]:
    """Zip member -> sheet name, for every <sheet> of xl/workbook.xml."""
    out = {}
    for tag, attrs in _elements(workbook):
        if tag != "sheet":
            continue
        rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
        if rid in targets:
            out[targets[rid]] = attrs.get("name", "")
    return out
