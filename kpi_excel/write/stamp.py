"""The approval stamp on a run's outputs: 已审核, who and when, in the workbooks and the report.

The outputs are not re-rendered (a run's data lives in its workbooks; re-rendering would need the
run's inputs again and could differ byte for byte in every cell): each file is patched.

- A workbook (xlsx, as kpi-excel writes it) gets its first sheet's title (A1) followed by
  `〔已审核:<who>,<when>〕`, and a last sheet 审核记录 listing the approval (state, who, when,
  run, note). Both are inline-string cells: every other part of the package is copied as it is,
  so no figure, style, chart or defined name changes. Text given by a clerk stays text.
- The report gets a banner after its heading (HTML-escaped).

Each patched file is written to a temporary file beside it; `StampedFiles.apply` moves them into
place (write_atomic's way) after the caller has recorded the hashes.
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from xlsxwriter.xmlwriter import XMLwriter

from .safe import cell_text

APPROVAL_SHEET = "审核记录"
APPROVED = "已审核"

_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_WORKSHEET_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SI_RE = re.compile(rb"<si>(.*?)</si>|<si/>", re.S)
_T_ONLY_RE = re.compile(rb"^<t(?: [^>]*)?>(.*?)</t>$", re.S)


class StampError(Exception):
    """An output is not as kpi-excel wrote it and cannot be stamped (the message is Chinese)."""


@dataclass(frozen=True)
class Stamp:
    """What the outputs say of an approval (all texts as shown to a reader)."""

    by: str
    at: str  # local time, as a clerk reads it
    run_id: str
    note: str = ""

    @property
    def line(self) -> str:
        return f"{APPROVED}:{self.by},{self.at}"

    def rows(self) -> list[tuple[str, str]]:
        rows = [("审核状态", APPROVED), ("审核人", self.by), ("审核时间", self.at)]
        rows.append(("运行编号", self.run_id))
        if self.note:
            rows.append(("备注", self.note))
        return rows


def stamp_workbook(source: Path, target: Path, stamp: Stamp) -> None:
    """Write `source` (an xlsx) with the stamp to `target`."""
    with zipfile.ZipFile(source) as zin:
        parts = {i.filename: i for i in zin.infolist()}
        try:
            workbook = zin.read("xl/workbook.xml")
            rels = zin.read("xl/_rels/workbook.xml.rels")
            types = zin.read("[Content_Types].xml")
        except KeyError:
            raise StampError(
                f"{source.name} 不是 kpi-excel 写出的工作簿,无法加注审核标记"
            ) from None
        if APPROVAL_SHEET.encode() in workbook:
            raise StampError(f"{source.name} 已有「{APPROVAL_SHEET}」工作表")
        first = _first_sheet_part(workbook, rels, source)
        n = 1
        while f"xl/worksheets/sheet{n}.xml" in parts:
            n += 1
        new_part = f"xl/worksheets/sheet{n}.xml"
        rid = _free_rid(rels)
        sheet_id = 1 + max(int(x) for x in re.findall(rb'sheetId="(\d+)"', workbook))
        changed = {
            "xl/workbook.xml": workbook.replace(
                b"</sheets>",
                f'<sheet name="{APPROVAL_SHEET}" sheetId="{sheet_id}" r:id="{rid}"/></sheets>'.encode(),
                1,
            ),
            "xl/_rels/workbook.xml.rels": rels.replace(
                b"</Relationships>",
                f'<Relationship Id="{rid}" Type="{_WORKSHEET_REL}" '
                f'Target="worksheets/sheet{n}.xml"/></Relationships>'.encode(),
                1,
            ),
            "[Content_Types].xml": types.replace(
                b"</Types>",
                f'<Override PartName="/{new_part}" ContentType="{_WORKSHEET_TYPE}"/></Types>'.encode(),
                1,
            ),
            first: _titled(zin.read(first), zin, stamp, source),
        }
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
            for name, info in parts.items():
                data = changed.get(name)
                if data is None:
                    zout.writestr(info, zin.read(name), compress_type=info.compress_type)
                else:
                    zout.writestr(name, data)
            zout.writestr(new_part, _approval_sheet(stamp))


def stamp_report(source: Path, target: Path, stamp: Stamp) -> None:
    """Write the report `source` with a banner after its first heading to `target`."""
    text = source.read_text(encoding="utf-8")
    at = text.find("</h1>")
    if at < 0:
        raise StampError(f"{source.name} 不是 kpi-excel 写出的报告,无法加注审核标记")
    note = f";备注:{stamp.note}" if stamp.note else ""
    banner = (
        '\n<p class="approved" style="border:2px solid #2e7d32;color:#2e7d32;padding:6px 10px;'
        f'font-weight:bold">{html.escape(stamp.line)}(运行 {html.escape(stamp.run_id)})'
        f"{html.escape(note)}</p>"
    )
    at += len("</h1>")
    target.write_text(text[:at] + banner + text[at:], encoding="utf-8")


def _first_sheet_part(workbook: bytes, rels: bytes, source: Path) -> str:
    m = re.search(rb'<sheet [^>]*r:id="([^"]+)"', workbook)
    target = m and re.search(rb'Id="' + re.escape(m.group(1)) + rb'"[^>]*Target="([^"]+)"', rels)
    if not target:
        raise StampError(f"{source.name} 不是 kpi-excel 写出的工作簿,无法加注审核标记")
    path = target.group(1).decode()
    return path.lstrip("/") if path.startswith("/") else f"xl/{path}"


def _free_rid(rels: bytes) -> str:
    used = {int(x) for x in re.findall(rb'Id="rId(\d+)"', rels)}
    return f"rId{max(used, default=0) + 1}"


def _titled(sheet: bytes, zin: zipfile.ZipFile, stamp: Stamp, source: Path) -> bytes:
    """The first sheet with its title cell A1 followed by the stamp, as an inline string."""
    m = re.search(rb'<c r="A1"([^>]*?)(/>|>(.*?)</c>)', sheet, re.S)
    if m is None:
        raise StampError(f"{source.name} 的第一个工作表没有标题,无法加注审核标记")
    attrs = re.sub(rb'\s+t="[^"]*"', b"", m.group(1))
    body = m.group(3) or b""
    title = b""
    kind = re.search(rb't="([^"]*)"', m.group(1))
    if kind and kind.group(1) == b"s":
        title = _shared_string(zin, int(re.search(rb"<v>(\d+)</v>", body).group(1)))  # type: ignore[union-attr]
    elif kind and kind.group(1) == b"inlineStr":
        title = re.search(rb"<is>(.*?)</is>", body, re.S).group(1)  # type: ignore[union-attr]
    suffix = _cell_xml(f"〔{stamp.line}〕")
    plain = _T_ONLY_RE.match(title)
    if plain or not title:
        text = (plain.group(1) if plain else b"") + (b" " if title else b"") + suffix
        inline = b'<t xml:space="preserve">' + text + b"</t>"
    else:  # a rich title: its runs, then the stamp as one more run
        inline = title + b'<r><t xml:space="preserve"> ' + suffix + b"</t></r>"
    cell = b'<c r="A1"' + attrs + b' t="inlineStr"><is>' + inline + b"</is></c>"
    return sheet[: m.start()] + cell + sheet[m.end() :]


def _shared_string(zin: zipfile.ZipFile, index: int) -> bytes:
    data = zin.read("xl/sharedStrings.xml")
    for i, m in enumerate(_SI_RE.finditer(data)):
        if i == index:
            return m.group(1) or b""
    return b""


def _cell_xml(text: str) -> bytes:
    """A cell's text as XlsxWriter writes it (`safe.cell_text`, then Excel's `_xHHHH_` escapes
    and XML's): it shows exactly this text, never a formula or markup."""
    return escape(XMLwriter._escape_control_characters(cell_text(text))).encode()


def _approval_sheet(stamp: Stamp) -> bytes:
    rows = []
    for r, (label, value) in enumerate(stamp.rows(), start=1):
        cells = "".join(
            f'<c r="{col}{r}" t="inlineStr"><is><t xml:space="preserve">'
            f"{_cell_xml(text).decode()}</t></is></c>"
            for col, text in (("A", label), ("B", value))
        )
        rows.append(f'<row r="{r}">{cells}</row>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN_NS}"><cols><col min="1" max="1" width="12" customWidth="1"/>'
        '<col min="2" max="2" width="60" customWidth="1"/></cols>'
        f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
    ).encode()
