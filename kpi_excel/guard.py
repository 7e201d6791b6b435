"""Checks on a workbook's container before any parser sees it.

A branch's file may be empty, cut short, encrypted, of another format, or crafted (zip bomb,
XML entity bomb, a sheet declaring a million rows). These checks read only the zip directory
and stream each XML part through a size cap, so memory and time stay bounded.
"""

from __future__ import annotations

import io
import re
import zipfile

from . import problems as P
from .errors import WorkbookRefused

DEFAULT_LIMITS: dict[str, int] = {
    "max_file_bytes": 50 * 1024 * 1024,
    "max_uncompressed_bytes": 300 * 1024 * 1024,
    "max_compression_ratio": 200,
    "max_rows": 100_000,
    "max_columns": 1_000,
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DTD_RE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_DIM_RE = re.compile(rb'<dimension ref="[A-Z]+\d+:?([A-Z]+)?(\d+)?"')
_CHUNK = 1 << 16


def _refuse(display: str, why: str) -> WorkbookRefused:
    return WorkbookRefused(
        P.FILE_UNREADABLE.code, P.FILE_UNREADABLE.message(file=display, extra=why)
    )


def check_container(data: bytes, display: str, limits: dict[str, int] | None = None) -> None:
    """Raise WorkbookRefused unless `data` is a sane .xlsx zip within the limits."""
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    if not data:
        raise _refuse(display, "文件为空(0字节),文件不完整或已损坏,请重新保存后提交")
    if len(data) > lim["max_file_bytes"]:
        raise _refuse(display, f"文件大小超过上限 {lim['max_file_bytes'] // (1024 * 1024)} MB")
    if data.startswith(OLE_MAGIC):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in data:
            raise _refuse(display, "文件已加密,请取消密码后提交")
        raise _refuse(
            display, "这是旧版 .xls 格式或其他 OLE 文件,请在 Excel/WPS 中另存为 .xlsx 后提交"
        )
    if data.startswith(b"%PDF"):
        raise _refuse(display, "这是 PDF 文件而不是 Excel 工作簿,请提交 .xlsx 文件")
    if not data.startswith(b"PK"):
        raise _refuse(display, "不是 Excel 工作簿(.xlsx),文件不完整或已损坏,请重新保存后提交")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _refuse(display, "文件不完整或已损坏,请重新保存后提交") from None
    names = {i.filename for i in infos}
    if "mimetype" in names and "[Content_Types].xml" not in names:
        raise _refuse(display, "这是 OpenDocument(.ods/.et 等)格式,请另存为 .xlsx 后提交")
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise _refuse(display, "压缩包中没有 Excel 工作簿内容,文件不完整或已损坏,请重新保存后提交")
    if "xl/workbook.bin" in names:
        raise _refuse(display, "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交")
    declared = sum(i.file_size for i in infos)
    if declared > lim["max_uncompressed_bytes"]:
        raise _refuse(display, "解压后体积超过上限(疑似压缩炸弹),不予读取")
    for info in infos:
        if (
            info.compress_size
            and info.file_size / info.compress_size > lim["max_compression_ratio"]
            and info.file_size > 10 * 1024 * 1024
        ):
            raise _refuse(display, f"部件 {info.filename} 压缩比异常(疑似压缩炸弹),不予读取")
    try:
        for info in infos:
            if info.filename.endswith((".xml", ".rels", ".vml")):
                _scan_part(zf, info, display, lim)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise _refuse(display, "文件不完整或已损坏,请重新保存后提交") from None


def _scan_part(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, display: str, lim: dict[str, int]
) -> None:
    """Stream one XML part: refuse any DTD, a part larger than declared, or a huge declared sheet."""
    total = 0
    tail = b""
    first = True
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            total += len(chunk)
            if total > lim["max_uncompressed_bytes"]:
                raise _refuse(display, "解压后体积超过上限(疑似压缩炸弹),不予读取")
            window = tail + chunk
            if _DTD_RE.search(window):
                raise _refuse(
                    display, f"部件 {info.filename} 含有 DTD/实体声明(可能是 XML 炸弹),不予读取"
                )
            if first and info.filename.startswith("xl/worksheets/"):
                m = _DIM_RE.search(window)
                if m and m.group(2) and int(m.group(2)) > lim["max_rows"]:
                    raise _refuse(
                        display,
                        f"工作表声明了 {int(m.group(2)):,} 行,超过上限 {lim['max_rows']:,} 行",
                    )
            first = False
            tail = chunk[-64:]
