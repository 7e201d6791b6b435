"""What a file that is not a readable .xlsx package is, from its content (and its name's suffix):
an encrypted workbook, an old .xls or WPS .et, an OpenDocument, Numbers, CSV, HTML or
SpreadsheetML 2003 file, a Word or PDF document. Each answer is a problem type and a Chinese
reason that says what the file is and what to do, so that a refusal names the real cause.

OLE2 (Compound File) containers are opened with `olefile`: an encrypted .xlsx is an OLE file
holding an `EncryptedPackage` stream, and an encrypted .xls or .et has a FILEPASS record in the
workbook globals of its `Workbook` stream.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable

from . import problems as P

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CORRUPT = "文件不完整或已损坏,请重新保存后提交"
ENCRYPTED = "文件已加密,请取消密码后提交"
SAVE_AS = "请在 Excel/WPS 中另存为 .xlsx 后提交"
XLS = f"这是旧版 .xls 格式,{SAVE_AS}"

_BOF, _EOF, _FILEPASS = 0x0809, 0x000A, 0x002F
_BIFF_BOFS = (0x0809, 0x0409, 0x0209, 0x0009)
_SCAN_RECORDS = 4096  # FILEPASS comes right after the first BOF; never look further than this

Answer = tuple[P.ProblemType, str]


_KNOWN_STREAMS = ("EncryptedPackage", "Workbook", "Book", "WordDocument", "PowerPoint Document")


def _stream_name(data: bytes, name: str) -> bool:
    return (name + "\0").encode("utf-16-le") in data


def ole(data: bytes, suffix: str) -> Answer:
    """An OLE2 container: encrypted workbook, old .xls / .et (encrypted or not), or another
    Office document."""
    streams = _ole_streams(data)
    # the directory's stream names as written (also when olefile cannot follow its tree)
    names = {n for n in _KNOWN_STREAMS if _stream_name(data, n)} | set(streams or ())
    encrypted_xls = bool(streams and streams.get("FILEPASS"))
    if "EncryptedPackage" in names:
        return P.FILE_ENCRYPTED, (
            f"{ENCRYPTED}(工作簿设置了打开密码:请在 Excel/WPS 中用密码打开,取消密码后保存为 .xlsx)"
        )
    if "Workbook" in names or "Book" in names:
        kind = (
            " WPS 表格 .et 文件" if suffix in (".et", ".ett") else "旧版 .xls 文件(Excel 97-2003)"
        )
        if encrypted_xls:
            return P.FILE_ENCRYPTED, (
                f"这是设置了打开密码的{kind},{ENCRYPTED}"
                "(在 Excel/WPS 中用密码打开,取消密码并另存为 .xlsx)"
            )
        if suffix in (".et", ".ett"):
            return P.FILE_FORMAT, "这是 WPS 表格 .et 格式,请另存为 .xlsx 后提交"
        return P.FILE_FORMAT, XLS
    if "WordDocument" in names:
        return P.FILE_FORMAT, "这是 Word 文档,不是 Excel 工作簿,请提交 .xlsx 工作簿"
    if "PowerPoint Document" in names:
        return P.FILE_FORMAT, "这是 PowerPoint 演示文稿,不是 Excel 工作簿,请提交 .xlsx 工作簿"
    if streams is None:
        return P.FILE_FORMAT, f"这是旧版 .xls 格式或其他 OLE 文件,{SAVE_AS}"
    return P.FILE_FORMAT, f"这是其他 Office 旧版(OLE)文件,不是 Excel 工作簿,{SAVE_AS}"


def _ole_streams(data: bytes) -> dict[str, bool] | None:
    """Top-level stream names of an OLE2 file (and FILEPASS: whether its workbook stream is
    encrypted), or None when olefile cannot parse the container."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as f:
            out = dict.fromkeys(("/".join(e) for e in f.listdir()), True)
            for book in ("Workbook", "Book"):
                if f.exists(book):  # olefile compares names case-insensitively
                    out[book] = True
                    out["FILEPASS"] = _biff_encrypted(f.openstream(book).read(1 << 20))
                    break
            return out
    except Exception:  # noqa: BLE001 - any parse failure: fall back to the raw directory names
        return None


def _biff_encrypted(stream: bytes) -> bool:
    """Whether a BIFF workbook stream's globals carry a FILEPASS record (the file is encrypted:
    RC4, CryptoAPI or XOR obfuscation)."""
    at = 0
    for i in range(_SCAN_RECORDS):
        if at + 4 > len(stream):
            return False
        kind, size = struct.unpack_from("<HH", stream, at)
        if i == 0 and kind not in _BIFF_BOFS:
            return False
        if kind == _FILEPASS:
            return True
        if kind == _EOF:
            return False
        at += 4 + size
    return False


def zip_kind(names: set[str], read: Callable[[str], bytes], suffix: str) -> Answer | None:
    """A zip that is not an OOXML spreadsheet: OpenDocument (maybe encrypted), Numbers, Word,
    PowerPoint, .xlsb. `names`: the lower-cased, '/'-separated member names."""
    if "mimetype" in names and "[content_types].xml" not in names:
        encrypted = False
        if "meta-inf/manifest.xml" in names:
            try:
                encrypted = b"encryption-data" in read("meta-inf/manifest.xml")
            except Exception:  # noqa: BLE001 - an unreadable manifest: just an OpenDocument
                encrypted = False
        if encrypted:
            return P.FILE_ENCRYPTED, (
                f"这是设置了密码的 OpenDocument 表格(.ods),{ENCRYPTED}(取消密码并另存为 .xlsx)"
            )
        if suffix == ".ods":
            return P.FILE_FORMAT, "这是 OpenDocument .ods 格式,请另存为 .xlsx 后提交"
        return P.FILE_FORMAT, "这是 OpenDocument(.ods/.et 等)格式,请另存为 .xlsx 后提交"
    if any(n.startswith("index/") and n.endswith(".iwa") for n in names) or "index.zip" in names:
        return P.FILE_FORMAT, NUMBERS
    if "word/document.xml" in names:
        return P.FILE_FORMAT, "这是 Word 文档(.docx),不是 Excel 工作簿,请提交 .xlsx 工作簿"
    if "ppt/presentation.xml" in names:
        return P.FILE_FORMAT, "这是 PowerPoint 演示文稿,不是 Excel 工作簿,请提交 .xlsx 工作簿"
    if "xl/workbook.bin" in names:
        return P.FILE_FORMAT, "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交"
    return None


_TEXT_HEAD = 4096


def _head_text(data: bytes) -> str:
    head = data[:_TEXT_HEAD]
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(enc, "ignore")
    if head[1:2] == b"\0" and head[:1] != b"\0":
        return head.decode("utf-16-le", "ignore")
    return head.decode("utf-8", "ignore")


_HTML = re.compile(r"<\s*(?:!doctype\s+html|html|table|head|meta)\b", re.IGNORECASE)
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".prn")


def not_a_zip(data: bytes, suffix: str) -> Answer:
    """A file that is neither a zip nor an OLE container: PDF, flat OpenDocument, Excel 2003 XML,
    an HTML table, CSV text, or something broken."""
    if data.startswith(b"%PDF"):
        return P.FILE_FORMAT, "这是 PDF 文件而不是 Excel 工作簿,请提交 .xlsx 文件"
    text = _head_text(data).lstrip()
    lower = text.lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in lower or 'progid="excel.sheet"' in lower:
        return P.FILE_FORMAT, f"这是 Excel 2003 XML 表格(SpreadsheetML),{SAVE_AS}"
    if "office:document" in lower and "opendocument.spreadsheet" in lower:
        return P.FILE_FORMAT, "这是 OpenDocument 平面 XML 表格(.fods),请另存为 .xlsx 后提交"
    if lower.startswith("<") and _HTML.search(lower[:2048]):
        return P.FILE_FORMAT, (
            f"这是网页(HTML)格式的表格(业务系统导出的“Excel”常是这种文件),{SAVE_AS}"
        )
    if suffix in _CSV_SUFFIXES:
        return P.FILE_FORMAT, "这是 CSV 文件,请使用标准模板(.xlsx)提交"
    return P.FILE_UNREADABLE, f"不是 Excel 工作簿(.xlsx),{CORRUPT}"


NUMBERS = (
    "这是 Apple Numbers 文件(.numbers),请在 Numbers 中选择“文件 > 导出为 > Excel”存为 .xlsx 后提交"
)
# What a file of another spreadsheet format is said to be when its content is no help (broken,
# or not recognised): its suffix names the format the branch meant to send.
SUFFIX_HINTS = {
    ".xls": XLS,
    ".xlt": f"这是旧版 .xlt 模板格式,{SAVE_AS}",
    ".et": "这是 WPS 表格 .et 格式,请另存为 .xlsx 后提交",
    ".ett": "这是 WPS 表格模板 .ett 格式,请另存为 .xlsx 后提交",
    ".ods": "这是 OpenDocument .ods 格式,请另存为 .xlsx 后提交",
    ".ots": "这是 OpenDocument .ots 模板格式,请另存为 .xlsx 后提交",
    ".fods": "这是 OpenDocument 平面 XML 表格(.fods),请另存为 .xlsx 后提交",
    ".numbers": NUMBERS,
    ".xlsb": "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交",
    ".xlam": "这是 Excel 加载项(.xlam),不是工作簿,请提交 .xlsx 工作簿",
    ".xla": "这是 Excel 加载项(.xla),不是工作簿,请提交 .xlsx 工作簿",
    ".csv": "这是 CSV 文件,请使用标准模板(.xlsx)提交",
    ".tsv": "这是制表符分隔的文本文件,请使用标准模板(.xlsx)提交",
}
