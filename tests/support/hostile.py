"""Hostile and broken inputs for the refusal tests and the fuzz test.

Every builder starts from bytes a test can reason about: a workbook written by openpyxl
(`tests/support/workbooks.py`) whose zip parts are then edited, or bytes crafted here by hand
(an OLE container, a zip bomb whose deflate stream is assembled from one repeated block, so
that a gigabyte part costs a few megabytes and milliseconds to build).
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

Edit = Callable[[str, bytes], bytes | None]  # (member name, data) -> new data, or None to drop

SHEET_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]>\n"
)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def build_zip(parts: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


def rewrite(data: bytes, edit: Edit, extra: dict[str, bytes] | None = None) -> bytes:
    """The same zip with each member passed through `edit`, plus `extra` members."""
    parts = {}
    for name, body in members(data).items():
        new = edit(name, body)
        if new is not None:
            parts[name] = new
    parts.update(extra or {})
    return build_zip(parts)


def sheet_member(data: bytes, sheet: str) -> str:
    """The zip member holding worksheet `sheet`, found through workbook.xml and its rels."""
    parts = members(data)
    wb = parts["xl/workbook.xml"].decode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    m = re.search(r'<sheet [^>]*name="' + re.escape(sheet) + r'"[^>]*r:id="([^"]+)"', wb)
    assert m, f"no sheet {sheet}"
    t = re.search(r'<Relationship [^>]*Id="' + m.group(1) + r'"[^>]*Target="([^"]+)"', rels)
    if t is None:
        t = re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="' + m.group(1) + '"', rels)
    assert t
    target = t.group(1)
    return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)


def edit_sheet(path: Path, sheet: str, edit: Callable[[bytes], bytes]) -> Path:
    """Rewrite the XML of one worksheet of the workbook at `path`, in place."""
    data = path.read_bytes()
    member = sheet_member(data, sheet)
    path.write_bytes(rewrite(data, lambda n, b: edit(b) if n == member else b))
    return path


def ole_file(encrypted: bool) -> bytes:
    """A small Compound File (OLE2) container, as Excel writes for .xls or a password-protected
    .xlsx: a 512-byte header and one directory sector naming its streams in UTF-16."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHH", header, 24, 0x3E, 3, 0xFFFE, 9)  # minor, major, byte order, 2^9
    struct.pack_into("<I", header, 48, 0)  # first directory sector
    names = ["Root Entry", "EncryptionInfo", "EncryptedPackage"] if encrypted else [
        "Root Entry", "Workbook", "\x05SummaryInformation"]  # fmt: skip
    directory = bytearray()
    for i, name in enumerate(names):
        entry = bytearray(128)
        raw = (name + "\0").encode("utf-16-le")
        entry[0 : len(raw)] = raw
        struct.pack_into("<HB", entry, 64, len(raw), 5 if i == 0 else 2)
        directory += entry
    directory += b"\0" * (512 - len(directory))
    return bytes(header) + bytes(directory) + b"\0" * 512


def _local_header(name: bytes, crc: int, csize: int, usize: int) -> bytes:
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, csize, usize, len(name), 0)


def bomb_zip(inflated: int, declared: int | None = None, name: str = "xl/worksheets/sheet1.xml"):
    """A workbook-looking zip whose sheet part inflates to `inflated` bytes of spaces inside a
    <sheetData>, declaring `declared` bytes (default: the truth). Built in milliseconds."""
    block = 1 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = SHEET_NS + b"<sheetData>"
    stream = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    one = comp.compress(b" " * block) + comp.flush(zlib.Z_FULL_FLUSH)
    stream += one * (inflated // block)
    stream += comp.compress(b"</sheetData></worksheet>") + comp.flush()
    size = len(head) + (inflated // block) * block + 24
    small = build_zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="x"/>',
            "xl/workbook.xml": b'<workbook xmlns="x"><sheets/></workbook>',
        }
    )
    entries = members(small)
    out = io.BytesIO()
    central = io.BytesIO()
    count = 0
    for ename, body in [*entries.items(), (name, None)]:
        raw = ename.encode()
        offset = out.tell()
        if body is None:
            data, crc, usize = stream, 0, size if declared is None else declared
        else:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            data, crc, usize = c.compress(body) + c.flush(), zlib.crc32(body), len(body)
        if usize > 0xFFFFFFFF:
            raise ValueError("keep the declared size under 4 GB")
        out.write(_local_header(raw, crc, len(data), usize) + raw + data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(data),
                usize,
                len(raw),
                0,
                0,
                0,
                0,
                0,
                offset,
            )  # fmt: skip
            + raw
        )
        count += 1
    cd = central.getvalue()
    start = out.tell()
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(cd), start, 0))
    return out.getvalue()


def cell_xml(ref: str, value: str = "1") -> bytes:
    return f'<c r="{ref}"><v>{value}</v></c>'.encode()


def add_cells(sheet_xml: bytes, cells: bytes) -> bytes:
    """Append cells in a row of their own at the end of <sheetData>."""
    m = re.search(rb'<c r="[A-Z]+(\d+)"', cells)
    row = m.group(1) if m else b"1"
    return sheet_xml.replace(
        b"</sheetData>", b'<row r="' + row + b'">' + cells + b"</row></sheetData>"
    )


def set_dimension(sheet_xml: bytes, ref: str) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), sheet_xml)


def replace_text(sheet_xml: bytes, old: str, new_escaped: str) -> bytes:
    """Replace an inline string written by openpyxl (`<t>old</t>`) by raw XML text."""
    needle = f"<t>{old}</t>".encode()
    assert needle in sheet_xml, old
    return sheet_xml.replace(needle, f"<t>{new_escaped}</t>".encode())


def snapshot(root: Path, skip: Path | None = None) -> dict[str, bytes]:
    """Every file under root (except under `skip`) with its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_file():
            out[str(p.relative_to(root))] = p.read_bytes()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = b""
    return out


def cfb_file(name: str, stream: bytes) -> bytes:
    """A valid Compound File (OLE2, version 3) holding one stream, as olefile and Excel read
    it: header, one FAT sector, one directory sector, then the stream in regular sectors (padded
    to 4,096 bytes, so that no mini stream is needed)."""
    free, end, fat_sect, no_stream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    data = stream.ljust(max(4096, -(-len(stream) // 512) * 512), b"\0")
    sectors = len(data) // 512
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 40, 0, 1, 1, 0, 4096, end, 0, end)
    struct.pack_into("<I", header, 68, 0)  # no DIFAT sectors
    struct.pack_into("<I", header, 76, 0)  # the FAT is sector 0
    header[80:512] = b"\xff" * 432
    fat = [fat_sect, end] + [3 + i for i in range(sectors - 1)] + [end]
    fat += [free] * (128 - len(fat))
    fat_sector = struct.pack("<128I", *fat)

    def entry(label: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = (label + "\0").encode("utf-16-le")
        out = bytearray(128)
        out[0 : len(raw)] = raw
        struct.pack_into("<HBB", out, 64, len(raw), kind, 1)  # black
        struct.pack_into("<III", out, 68, no_stream, no_stream, child)
        struct.pack_into("<II", out, 116, start, size)
        return bytes(out)

    directory = entry("Root Entry", 5, 1, end, 0) + entry(name, 2, no_stream, 2, len(data))
    directory += b"".join(entry("", 0, no_stream, 0, 0) for _ in range(2))
    return bytes(header) + fat_sector + directory + data


def biff_stream(encrypted: bool) -> bytes:
    """A BIFF8 workbook globals substream: BOF, FILEPASS (XOR obfuscation) when encrypted, EOF."""
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 5, 0x2775, 1996, 0, 6)
    filepass = struct.pack("<HHHHH", 0x002F, 6, 0, 0x1234, 0x5678) if encrypted else b""
    return bof + filepass + struct.pack("<HH", 0x000A, 0)
