"""Checks on a workbook's container before any parser sees it.

A branch's file may be empty, cut short, encrypted, of another format, or crafted (zip bomb,
XML entity bomb, a cell at XFD1048576, a million rows). These checks read the zip directory,
find the workbook where the package's `_rels/.rels` points (as Excel does), then inflate the
parts the reader uses as streams under a running byte budget (never more than a chunk in
memory), refuse any DTD, and scan the worksheets kpi-excel reads with `sheetxml.SheetScanner`,
so memory and time stay bounded whatever the file holds. They return what the scan learnt of
each sheet read. Limits apply to what is read: a sheet kpi-excel does not need (a wide pivot, a
macro sheet, a chart) and a part nothing reads never sink a workbook. Member names are taken as
Excel takes them: `\\` as `/`, any case; `__MACOSX/` entries (left by macOS archivers) are
ignored. A package laid out where python-calamine does not look (a workbook part not named
`workbook.xml`, Excel 4.0 macro sheets it cannot list) is rebuilt in memory in the standard
layout for calamine (`Container.data`); the input file is never modified.
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from xml.sax.saxutils import quoteattr

from . import problems as P
from . import sniff
from .errors import KpiExcelError, WorkbookRefused
from .numfmt import cell_styles, may_have_styles
from .sheetxml import SheetLimit, SheetScan, SheetScanner

DEFAULT_LIMITS: dict[str, int] = {
    "max_file_bytes": 50 * 1024 * 1024,
    "max_uncompressed_bytes": 300 * 1024 * 1024,  # the parts read, together, as actually inflated
    "max_compression_ratio": 200,
    "max_parts": 10_000,
    "max_rows": 100_000,  # of the sheets read: the farthest cell holding a value
    "max_columns": 1_000,
    "max_cells": 2_000_000,  # per sheet read: rows x columns from A1 to the farthest values
    "max_shared_strings": 2_000_000,
}
OLE_MAGIC = sniff.OLE_MAGIC
CORRUPT = sniff.CORRUPT
ENCRYPTED = sniff.ENCRYPTED
BOMB = "解压后体积超过上限(疑似压缩炸弹),不予读取"
SMALL_PART = 1 << 20  # an OpenDocument manifest larger than this is not looked into


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
_BINARY_SUFFIXES = (
    ".bin", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf", ".wdp",
    ".ico", ".xlsx", ".xlsm", ".xls", ".docx", ".doc", ".pptx", ".pdf", ".zip", ".wav", ".mp3",
)  # fmt: skip
_CHUNK = 1 << 16
_TAIL = 64


@dataclass
class Container:
    """What the container checks learnt: each scanned worksheet's scan, by sheet name; every
    sheet's name in workbook order; and the bytes python-calamine should read (the input, or
    the package rebuilt in the standard layout when calamine could not find its parts)."""

    sheets: dict[str, SheetScan] = field(default_factory=dict)
    sheet_names: list[str] = field(default_factory=list)
    data: bytes = b""
    normalised: bool = False
    rebuild: Callable[[], bytes] | None = field(default=None, repr=False)

    def fallback(self) -> bytes | None:
        """The package rebuilt in the standard layout, when `data` is not already that."""
        if self.normalised or self.rebuild is None:
            return None
        return self.rebuild()


def assert_defused() -> None:
    """Raise unless openpyxl parses XML through defusedxml. The CLI calls this at start-up."""
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise KpiExcelError(
            "安装不完整:openpyxl 未启用 defusedxml(请执行 pip install defusedxml,"
            "并且不要设置环境变量 OPENPYXL_DEFUSEDXML=False),为安全起见不予运行"
        )


def _refuse(
    display: str, why: str, kind: P.ProblemType = P.FILE_UNREADABLE, detail: str = ""
) -> WorkbookRefused:
    return WorkbookRefused(kind.code, kind.message(file=display, extra=why), detail)


def check_container(
    data: bytes,
    display: str,
    limits: dict[str, int] | None = None,
    wanted: Callable[[str], bool] | None = None,
) -> Container:
    """Raise WorkbookRefused unless `data` is a sane .xlsx package within the limits.

    `wanted(sheet name)` says which worksheets are read (and scanned, and held to the limits);
    None: every worksheet. A file named as another spreadsheet format (.xls, .ods, .numbers …)
    whose content is no help (broken, unrecognised) is refused as that format."""
    try:
        return _check(data, display, limits, wanted)
    except WorkbookRefused as exc:
        hint = sniff.SUFFIX_HINTS.get(PurePath(display).suffix.lower())
        if exc.code != P.FILE_UNREADABLE.code or hint is None or not data:
            raise
        detail = "; ".join(x for x in (exc.message, exc.detail) if x)
        raise _refuse(display, hint, P.FILE_FORMAT, detail) from None


def _check(
    data: bytes, display: str, limits: dict[str, int] | None, wanted: Callable[[str], bool] | None
) -> Container:
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    if not data:
        raise _refuse(display, f"文件为空(0字节),{CORRUPT}")
    if len(data) > lim["max_file_bytes"]:
        raise _refuse(
            display,
            f"文件大小超过上限 {lim['max_file_bytes'] // (1024 * 1024)} MB",
            P.FILE_TOO_LARGE,
        )
    suffix = PurePath(display).suffix.lower()
    if data.startswith(OLE_MAGIC):
        kind, why = sniff.ole(data, suffix)
        raise _refuse(display, why, kind)
    if not data.startswith(b"PK"):
        kind, why = sniff.not_a_zip(data, suffix)
        raise _refuse(display, why, kind)
    _check_directory_size(data, display, lim)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # BadZipFile, OSError, ValueError, struct errors: all mean "broken"
        raise _refuse(display, CORRUPT, detail=repr(exc)) from None
    if len(infos) > lim["max_parts"]:
        raise _too_many_parts(display, lim)
    _check_bomb_shape(infos, display, lim)
    package = _Package(zf, [i for i in infos if not _ignored(i)])
    other = sniff.zip_kind(set(package.by_key), package.read_small, suffix)
    if other is not None:
        raise _refuse(display, other[1], other[0])
    try:
        return _scan_parts(package, display, lim, data, wanted)
    except WorkbookRefused:
        raise
    except SheetLimit as exc:  # too far or too many; or malformed ("…,文件异常")
        why = exc.args[0]
        kind = P.FILE_UNREADABLE if why.endswith("文件异常") else P.FILE_TOO_LARGE
        raise _refuse(display, f"{why},不予读取", kind) from None
    except Exception as exc:  # zlib.error, BadZipFile (CRC), EOFError, ParseError: a broken file
        raise _refuse(display, CORRUPT, detail=repr(exc)) from None


def _too_many_parts(display: str, lim: dict[str, int]) -> WorkbookRefused:
    why = f"压缩包内部件数量异常(超过 {lim['max_parts']:,} 个),不予读取"
    return _refuse(display, why, P.FILE_TOO_LARGE)


def _check_bomb_shape(infos: list[zipfile.ZipInfo], display: str, lim: dict[str, int]) -> None:
    """The zip directory of a bomb, before anything is inflated: parts declaring more than any
    workbook holds, or a large part compressed beyond what real XML compresses."""
    if sum(i.file_size for i in infos) > lim["max_uncompressed_bytes"]:
        raise _refuse(display, BOMB, P.FILE_UNSAFE)
    for info in infos:
        _check_declared(info, display, lim)


def _check_directory_size(data: bytes, display: str, lim: dict[str, int]) -> None:
    """Refuse a zip whose central directory lists more parts than any workbook has."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return  # zipfile will say what is wrong
    count = int.from_bytes(data[at + 10 : at + 12], "little")
    size = int.from_bytes(data[at + 12 : at + 16], "little")
    if count > lim["max_parts"] or size > lim["max_parts"] * 1024:
        raise _too_many_parts(display, lim)


def _member(name: str) -> str:
    """A zip member's name as Excel and calamine take it: `\\` as `/`, no leading `/`."""
    return name.replace("\\", "/").lstrip("/")


def _ignored(info: zipfile.ZipInfo) -> bool:
    """Folders, and what macOS archivers add (`__MACOSX/…`, `._name` AppleDouble files)."""
    name = _member(info.filename)
    return (
        info.is_dir()
        or name.endswith("/")
        or name.startswith("__MACOSX/")
        or posixpath.basename(name).startswith("._")
    )


class _Package:
    """The zip's parts by lower-cased member name (the first of equal names wins)."""

    def __init__(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
        self.zf = zf
        self.infos = infos
        self.by_key: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            self.by_key.setdefault(_member(info.filename).lower(), info)

    def get(self, member: str) -> zipfile.ZipInfo | None:
        return self.by_key.get(member.lower())

    def read_small(self, key: str) -> bytes:
        info = self.by_key[key]
        if info.file_size > SMALL_PART:
            return b""
        return self.zf.read(info)


_SHEET_KINDS = ("worksheet", "chartsheet", "dialogsheet")  # what calamine can list
_OFFICE_DOCUMENT = "/officeDocument"


@dataclass
class _Sheet:
    name: str
    rid: str
    kind: str = ""  # the relationship type's last segment: worksheet, xlMacrosheet ...
    rel_type: str = ""
    target: str = ""  # as written
    member: str = ""  # the part, resolved as OPC resolves it ("" when there is none)


@dataclass
class _Layout:
    workbook: str  # member names
    workbook_rels: str
    package_rels: str
    package_target: str  # the officeDocument target as written ("" when none)
    sheets: list[_Sheet]
    shared_strings: str
    styles: str
    workbook_xml: bytes = b""


def _resolve(base_dir: str, target: str) -> str:
    """A relationship target as a member name: relative to the source part's folder, or from
    the package root when it starts with `/` (OPC)."""
    t = target.replace("\\", "/")
    if t.startswith("/"):
        return posixpath.normpath(t).lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, t)).lstrip("/")


def _rels_of(member: str) -> str:
    folder, name = posixpath.split(member)
    return posixpath.join(folder, "_rels", name + ".rels")


def _scan_parts(
    package: _Package,
    display: str,
    lim: dict[str, int],
    data: bytes,
    wanted: Callable[[str], bool] | None,
) -> Container:
    budget = _Budget(lim["max_uncompressed_bytes"])
    unread = _Budget(lim["max_uncompressed_bytes"])
    if any(i.flag_bits & 0x1 for i in package.infos):
        raise _refuse(display, ENCRYPTED, P.FILE_ENCRYPTED)
    kept: dict[str, bytes] = {}

    def keep(member: str) -> bytes | None:
        info = package.get(member)
        if info is None:
            return None
        if member.lower() not in kept:
            kept[member.lower()] = _inflate(
                package.zf, info, display, lim, budget, keep=True, data=data
            )
        return kept[member.lower()]

    layout = _layout(package, keep, display)
    styles = _read_styles(package, layout.styles, keep)
    read_parts = {
        p.lower()
        for p in (layout.workbook, layout.workbook_rels, layout.package_rels)
        + (layout.shared_strings, layout.styles)
        if p
    }
    scanned = {
        s.member.lower(): s
        for s in layout.sheets
        if s.member and s.kind == "worksheet" and (wanted is None or wanted(s.name))
    }
    for s in layout.sheets:
        if s.kind == "worksheet" and (wanted is None or wanted(s.name)):
            if not s.member or package.get(s.member) is None:
                raise _refuse(display, f"工作表「{s.name}」的内容缺失,{CORRUPT}")
    out = Container(sheet_names=[s.name for s in layout.sheets], data=data)
    for key, info in package.by_key.items():
        if key in kept:
            continue
        sheet = scanned.get(key)
        if sheet is None and key not in read_parts:
            # a part nothing reads: only checked to be what its directory entry says, with no
            # DTD; its size and cells are no concern (the directory's total is bounded above)
            if not key.endswith(_BINARY_SUFFIXES):
                _inflate(package.zf, info, display, lim, unread, data=data)
            continue
        scanner = None
        if sheet is not None:
            scan = SheetScan(part=_member(info.filename), name=sheet.name)
            scanner = SheetScanner(scan, lim, styles)
        _inflate(package.zf, info, display, lim, budget, scanner=scanner, data=data)
        if scanner is not None:
            scanner.close()
            out.sheets[scan.name or scan.part] = scan
    if not _standard(package, layout, scanned):
        out.data = _rebuilt(package, layout, scanned, wanted is None)
        out.normalised = True
    else:
        out.rebuild = functools.partial(_rebuilt, package, layout, scanned, wanted is None)
    return out


def _check_declared(info: zipfile.ZipInfo, display: str, lim: dict[str, int]) -> None:
    if (
        info.compress_size
        and info.file_size / info.compress_size > lim["max_compression_ratio"]
        and info.file_size > 10 * 1024 * 1024
    ):
        why = f"部件 {_member(info.filename)} 压缩比异常(疑似压缩炸弹),不予读取"
        raise _refuse(display, why, P.FILE_UNSAFE)


def _layout(package: _Package, keep: Callable[[str], bytes | None], display: str) -> _Layout:
    """Where the workbook is (where `_rels/.rels` points, else xl/workbook.xml), its sheets and
    the parts they resolve to."""
    package_rels = "_rels/.rels"
    rels = keep(package_rels)
    target = ""
    if rels:
        for tag, attrs in _elements(rels):
            if tag == "Relationship" and attrs.get("Type", "").endswith(_OFFICE_DOCUMENT):
                target = attrs.get("Target", "")
                break
    workbook = _resolve("", target) if target else ""
    if not workbook or package.get(workbook) is None:
        workbook = "xl/workbook.xml"
    if package.get(workbook) is None:
        raise _refuse(display, f"压缩包中没有 Excel 工作簿内容,{CORRUPT}")
    if workbook.lower().endswith(".bin"):
        raise _refuse(display, "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交", P.FILE_FORMAT)
    workbook = _member(package.get(workbook).filename)  # type: ignore[union-attr]
    base = posixpath.dirname(workbook)
    workbook_rels = _rels_of(workbook)
    wb_xml = keep(workbook) or b"<none/>"
    targets: dict[str, tuple[str, str]] = {}  # id -> (type, target)
    for tag, attrs in _elements(keep(workbook_rels) or b"<none/>"):
        if tag == "Relationship" and attrs.get("TargetMode") != "External":
            targets[attrs.get("Id", "")] = (attrs.get("Type", ""), attrs.get("Target", ""))
    layout = _Layout(workbook, workbook_rels, package_rels, target, [], "", "", workbook_xml=wb_xml)
    for kind, name in (("sharedStrings", "shared_strings"), ("styles", "styles")):
        found = next((t for ty, t in targets.values() if ty.rsplit("/", 1)[-1] == kind), "")
        setattr(layout, name, _existing(package, base, found) if found else "")
    for tag, attrs in _elements(wb_xml):
        if tag != "sheet":
            continue
        rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
        sheet = _Sheet(attrs.get("name", ""), rid)
        if rid in targets:
            sheet.rel_type, sheet.target = targets[rid]
            sheet.kind = sheet.rel_type.rsplit("/", 1)[-1]
            sheet.member = _existing(package, base, sheet.target)
        layout.sheets.append(sheet)
    return layout


def _existing(package: _Package, base: str, target: str) -> str:
    """The member a target resolves to; a relative target written from the package root
    (`xl/worksheets/sheet1.xml` in xl/_rels/) is taken from there when only that exists."""
    member = _resolve(base, target)
    if package.get(member) is None and package.get(_resolve("", target)) is not None:
        member = _resolve("", target)
    info = package.get(member)
    return _member(info.filename) if info is not None else member


def _standard(package: _Package, layout: _Layout, scanned: dict[str, _Sheet]) -> bool:
    """Whether python-calamine finds every part read where it looks: the workbook named
    workbook.xml where `_rels/.rels` points, shared strings and styles beside it, each sheet
    read at its target taken from the workbook's folder (or the root, for `/…`), member names
    without a leading `/`, and only sheet kinds it can list."""
    target = layout.package_target  # calamine takes the folder of the target as written
    xl = target[: target.rfind("/") + 1].removeprefix("/")
    if (xl + "workbook.xml").lower() != layout.workbook.lower():
        return False
    for member, name in (
        (layout.shared_strings, "sharedstrings.xml"),
        (layout.styles, "styles.xml"),
    ):
        if member and member.lower() != xl.lower() + name:
            return False
    for s in layout.sheets:
        if s.kind not in _SHEET_KINDS:
            return False
    for s in scanned.values():
        looked = s.target[1:] if s.target.startswith("/") else xl + s.target
        if looked.lower() != s.member.lower():
            return False
    for member in [layout.workbook, layout.workbook_rels, *scanned]:
        info = package.get(member)
        if info is not None and info.filename.replace("\\", "/").lower() != member.lower():
            return False
    return True


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sheet.main+xml"/></Types>'
)
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\s[^>]*?(?:/>|>\s*</(?:[\w.-]+:)?sheet>)")
_ID_ATTR = re.compile(rb"(?<![\w.:-])(?:[A-Za-z_][\w.-]*:)id\s*=\s*[\"']([^\"']*)[\"']")


def _rels_xml(rels: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<Relationship Id={quoteattr(i)} Type={quoteattr(t)} Target={quoteattr(target)}/>"
        for i, t, target in rels
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS_NS}">{body}</Relationships>'.encode()


def _rebuilt(
    package: _Package, layout: _Layout, scanned: dict[str, _Sheet], every_sheet: bool
) -> bytes:
    """The package in the standard layout, in memory (stored, not compressed): the workbook at
    xl/workbook.xml with every sheet kind calamine cannot list left out of its <sheets>, each
    sheet read at an absolute target, shared strings and styles beside the workbook."""
    listed = [s for s in layout.sheets if s.kind in _SHEET_KINDS]
    dropped = {s.rid.encode() for s in layout.sheets if s.kind not in _SHEET_KINDS}
    workbook = _SHEET_TAG.sub(
        lambda m: b"" if _sheet_id(m.group(0)) in dropped else m.group(0), layout.workbook_xml
    )
    rels: list[tuple[str, str, str]] = []
    parts: dict[str, zipfile.ZipInfo] = {}
    for n, s in enumerate(listed, start=1):
        target = f"/xl/{s.kind}s/sheet{n}.xml"
        rels.append((s.rid, s.rel_type, target))
        info = package.get(s.member) if s.member else None
        if info is not None and (every_sheet or s.member.lower() in scanned):
            parts[target[1:]] = info
    for member, name, kind in (
        (layout.shared_strings, "xl/sharedStrings.xml", "sharedStrings"),
        (layout.styles, "xl/styles.xml", "styles"),
    ):
        info = package.get(member) if member else None
        if info is not None:
            rels.append((f"kpiExcel{kind}", f"{_DOC_REL}/{kind}", "/" + name))
            parts[name] = info
    content_types = package.get("[Content_Types].xml")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            package.zf.read(content_types) if content_types else _CONTENT_TYPES,
        )
        zf.writestr(
            "_rels/.rels",
            _rels_xml([("rId1", f"{_DOC_REL}/officeDocument", "xl/workbook.xml")]),
        )
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", _rels_xml(rels))
        for name, info in parts.items():
            zf.writestr(name, package.zf.read(info))
    return out.getvalue()


def _sheet_id(tag: bytes) -> bytes:
    found = _ID_ATTR.findall(tag)
    return found[-1] if found else b""


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit


MAX_STYLES_BYTES = 32 * 1024 * 1024  # a larger styles part is checked, not kept and classified
_STYLE_TAGS = frozenset(
    ("numFmts", "numFmt", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "xf",
     "cellStyles", "dxfs", "tableStyles", "colors", "extLst")
)  # fmt: skip


def _read_styles(
    package: _Package, member: str, keep: Callable[[str], bytes | None]
) -> dict[int, tuple[str, str]]:
    """The cell styles whose number format is a percentage, a date or a time (numfmt.py), read
    before the sheets whatever the order of the parts. A styles part that does not parse is
    left to calamine: it only means that no cell is known to be so formatted."""
    info = package.get(member) if member else None
    if info is None or info.file_size > MAX_STYLES_BYTES:
        return {}
    xml = keep(member)
    if not xml or not may_have_styles(xml):
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
    name = _member(info.filename)
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
            if budget.left < 0:
                raise _refuse(display, BOMB, P.FILE_UNSAFE)
            if total > info.file_size:
                raise _refuse(display, f"部件 {name} {CORRUPT}", detail="larger than declared")
            if not total - len(chunk) and scanner is not None and _not_utf8(chunk):
                why = (
                    f"工作表「{scanner.s.name}」的 XML 不是 UTF-8 编码,本工具无法读取,"
                    "请在 Excel/WPS 中另存为 .xlsx 后提交"
                )
                raise _refuse(display, why, P.FILE_UNSUPPORTED)
            window = tail + chunk
            if b"!" in window and _DTD_RE.search(window):  # "<!" or "!\x00": one fast scan
                why = f"部件 {name} 含有 DTD/实体声明(可能是 XML 炸弹),不予读取"
                raise _refuse(display, why, P.FILE_UNSAFE)
            if count_strings:
                strings += len(_SI_RE.findall(window)) - len(_SI_RE.findall(tail))
                if strings > lim["max_shared_strings"]:
                    why = f"共享字符串超过 {lim['max_shared_strings']:,} 个,不予读取"
                    raise _refuse(display, why, P.FILE_TOO_LARGE)
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
