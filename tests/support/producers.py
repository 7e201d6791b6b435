"""A good workbook rewritten the ways real producers write theirs (issue 12): each function takes
the parts of an .xlsx package (member name -> bytes, in zip order) and returns the parts as that
producer would have written them. The values in the sheets are never changed, so a workbook
transformed here must be scored exactly like the original.

What each imitates, as seen in public test suites of spreadsheet libraries:
- `backslash_names`: zip entries named `xl\\worksheets\\sheet1.xml` (a Chinese HR/attendance
  export; calamine's tests/issue_530.xlsx).
- `workbook_moved`: the workbook part at another path and name, found only through
  `_rels/.rels` (minimal OPC packages; generators that name it e.g. `workbook/book.xml`).
- `workbook_at_root`: the whole workbook at the package root (calamine's minimal_package.xlsx).
- `dot_relative_targets`: relationship targets written `./xl/workbook.xml`.
- `full_column_dimension`: LibreOffice's `<dimension ref="A1:D1048576"/>` over a few rows.
- `styled_empty_cells`: styled empty cells running to column XFD and down to row 1048576.
- `wide_sheet`: another sheet with a wide pivot-like table, far beyond every limit.
- `macosx_entries`: `__MACOSX/._*` AppleDouble entries left by the macOS archiver.
- `utf16_custom_xml`: a UTF-16 customXml part (SharePoint / document-management metadata).
- `macro_sheets`: Excel 4.0 macro sheets (xlMacrosheet, xlIntlMacrosheet) and a dialog sheet.
- `chart_sheet`: a chart sheet.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Parts = dict[str, bytes]
Mutation = Callable[[Parts], Parts]

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MS_REL = "http://schemas.microsoft.com/office/2006/relationships"
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 64


def _sheet_parts(parts: Parts) -> list[str]:
    return [n for n in parts if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]


def _add_sheet(parts: Parts, name: str, rel_type: str, target: str, body: bytes, ct: str) -> Parts:
    """A sheet added at the end of the workbook, with its relationship and content type."""
    out = dict(parts)
    rid = f"rIdX{len(out)}"
    wb = out["xl/workbook.xml"].decode()
    sheet_id = 100 + len(out)
    wb = wb.replace(
        "</sheets>", f'<sheet name="{name}" sheetId="{sheet_id}" r:id="{rid}"/></sheets>'
    )
    out["xl/workbook.xml"] = wb.encode()
    rels = out["xl/_rels/workbook.xml.rels"].decode()
    rel = f'<Relationship Id="{rid}" Type="{rel_type}" Target="{target}"/>'
    out["xl/_rels/workbook.xml.rels"] = rels.replace(
        "</Relationships>", rel + "</Relationships>"
    ).encode()
    types = out["[Content_Types].xml"].decode()
    override = f'<Override PartName="/xl/{target}" ContentType="{ct}"/>'
    out["[Content_Types].xml"] = types.replace("</Types>", override + "</Types>").encode()
    out["xl/" + target] = body
    return out


def backslash_names(parts: Parts) -> Parts:
    return {name.replace("/", "\\"): body for name, body in parts.items()}


def _retarget(rels: bytes, old_base: str, new_base: str) -> bytes:
    """Relationship targets written relative to `new_base` for parts that stay where they are."""

    def one(m: re.Match[bytes]) -> bytes:
        target = m.group(1).decode()
        absolute = target[1:] if target.startswith("/") else old_base + target
        depth = new_base.count("/")
        return b'Target="' + ("../" * depth + absolute).encode() + b'"'

    return re.sub(rb'Target="([^"]+)"', one, rels)


def workbook_moved(parts: Parts) -> Parts:
    """xl/workbook.xml -> workbook/book.xml (sheets, styles stay in xl/; targets relative)."""
    out: Parts = {}
    for name, body in parts.items():
        if name == "xl/workbook.xml":
            out["workbook/book.xml"] = body
        elif name == "xl/_rels/workbook.xml.rels":
            out["workbook/_rels/book.xml.rels"] = _retarget(body, "xl/", "workbook/")
        elif name == "_rels/.rels":
            out[name] = body.replace(b'Target="xl/workbook.xml"', b'Target="/workbook/book.xml"')
        elif name == "[Content_Types].xml":
            out[name] = body.replace(b"/xl/workbook.xml", b"/workbook/book.xml")
        else:
            out[name] = body
    return out


def workbook_at_root(parts: Parts) -> Parts:
    """Every xl/ part moved to the package root, targets relative to the root."""
    out: Parts = {}
    for name, body in parts.items():
        if name == "xl/_rels/workbook.xml.rels":
            out["_rels/workbook.xml.rels"] = re.sub(
                rb'Target="/?(?:xl/)?([^"]+)"', rb'Target="\1"', body
            )
        elif name.startswith("xl/"):
            out[name[3:]] = body
        elif name == "_rels/.rels":
            out[name] = body.replace(b'Target="xl/workbook.xml"', b'Target="workbook.xml"')
        elif name == "[Content_Types].xml":
            out[name] = body.replace(b'PartName="/xl/', b'PartName="/')
        else:
            out[name] = body
    return out


def dot_relative_targets(parts: Parts) -> Parts:
    """`_rels/.rels` pointing at `./xl/workbook.xml`, sheet targets as `./worksheets/…`."""
    out = dict(parts)
    out["_rels/.rels"] = parts["_rels/.rels"].replace(
        b'Target="xl/workbook.xml"', b'Target="./xl/workbook.xml"'
    )
    rels = parts["xl/_rels/workbook.xml.rels"]
    out["xl/_rels/workbook.xml.rels"] = re.sub(rb'Target="/?(?:xl/)?', b'Target="./', rels)
    return out


def _dimension(body: bytes, ref: bytes) -> bytes:
    if b"<dimension" in body:
        return re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="' + ref + b'"/>', body)
    return body.replace(b"<sheetData", b'<dimension ref="' + ref + b'"/><sheetData', 1)


def full_column_dimension(parts: Parts) -> Parts:
    out = dict(parts)
    for n, name in enumerate(_sheet_parts(parts)):
        ref = b"A1:D1048576" if n == 0 else b"A1:XFD1048576"
        out[name] = _dimension(out[name], ref)
    return out


def styled_empty_cells(parts: Parts) -> Parts:
    """Every row of every sheet padded with styled empty cells out to XFD, a styled empty column
    range, and styled empty rows down to row 1048576 (as LibreOffice writes a formatted sheet)."""
    out = dict(parts)
    pad = b"".join(b'<c r="%s%%d" s="0"/>' % c.encode() for c in ("ZZ", "AAA", "XFC", "XFD"))

    def row_end(m: re.Match[bytes]) -> bytes:
        return m.group(0).replace(b"</row>", pad.replace(b"%d", m.group(1)) + b"</row>")

    for name in _sheet_parts(parts):
        body = re.sub(rb'<row r="(\d+)"[^>]*>.*?</row>', row_end, out[name], flags=re.S)
        tail = b"".join(
            b'<row r="%d" s="0" customFormat="1"><c r="A%d" s="0"/><c r="XFD%d" s="0"/></row>'
            % (r, r, r)
            for r in (5000, 200_000, 1_048_576)
        )
        body = body.replace(b"</sheetData>", tail + b"</sheetData>")
        if b"<cols>" not in body:
            body = body.replace(
                b"<sheetData",
                b'<cols><col min="30" max="16384" width="9" style="0"/></cols><sheetData',
                1,
            )
        out[name] = _dimension(body, b"A1:XFD1048576")
    return out


def wide_sheet(parts: Parts) -> Parts:
    """A pivot-like sheet, first in the workbook order of the zip, with values in 3,000 columns
    and down to row 300,000: far beyond the limits of a sheet that is read."""
    header = b"".join(
        b'<c r="%s1"><v>%d</v></c>' % (_letters(c).encode(), c) for c in range(1, 3001)
    )
    far = b'<row r="300000"><c r="A300000"><v>1</v></c><c r="XFD300000"><v>2</v></c></row>'
    body = (
        (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN_NS}">'
            '<dimension ref="A1:XFD300000"/><sheetData><row r="1">'
        ).encode()
        + header
        + b"</row>"
        + far
        + b"</sheetData></worksheet>"
    )
    return _add_sheet(
        parts,
        "数据透视",
        f"{REL}/worksheet",
        "worksheets/sheet90.xml",
        body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    )


def macosx_entries(parts: Parts) -> Parts:
    out = dict(parts)
    for name in list(parts):
        folder, _, base = name.rpartition("/")
        out[f"__MACOSX/{folder + '/' if folder else ''}._{base}"] = APPLE_DOUBLE
    return out


def utf16_custom_xml(parts: Parts) -> Parts:
    out = dict(parts)
    item = '<?xml version="1.0" encoding="utf-16"?><b:Sources xmlns:b="http://schemas.openxmlformats.org/officeDocument/2006/bibliography" SelectedStyle="\\APASixthEditionOfficeOnline.xsl" StyleName="APA"/>'
    out["customXml/item1.xml"] = b"\xff\xfe" + item.encode("utf-16-le")
    out["customXml/itemProps1.xml"] = (
        '<?xml version="1.0" encoding="UTF-16" standalone="no"?><ds:datastoreItem ds:itemID="{1}" '
        'xmlns:ds="http://schemas.openxmlformats.org/officeDocument/2006/customXml"/>'
    ).encode("utf-16")
    out["customXml/_rels/item1.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="'
        'http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{REL}/customXmlProps" Target="itemProps1.xml"/></Relationships>'
    ).encode()
    return out


def macro_sheets(parts: Parts) -> Parts:
    macro = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><xm:macrosheet '
        'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main" '
        f'xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1"><f>RETURN()</f><v>0</v></c></row>'
        "</sheetData></xm:macrosheet>"
    ).encode()
    out = _add_sheet(
        parts, "Macro1", f"{MS_REL}/xlMacrosheet", "macrosheets/sheet1.xml", macro,
        "application/vnd.ms-excel.macrosheet+xml",
    )  # fmt: skip
    out = _add_sheet(
        out, "Macro2", f"{MS_REL}/xlIntlMacrosheet", "macrosheets/intlsheet1.xml", macro,
        "application/vnd.ms-excel.intlmacrosheet+xml",
    )  # fmt: skip
    dialog = f'<dialogsheet xmlns="{MAIN_NS}"><sheetData/></dialogsheet>'.encode()
    return _add_sheet(
        out, "Dialog1", f"{REL}/dialogsheet", "dialogsheets/sheet1.xml", dialog,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.dialogsheet+xml",
    )  # fmt: skip


def chart_sheet(parts: Parts) -> Parts:
    body = f'<chartsheet xmlns="{MAIN_NS}"><sheetPr/><sheetViews><sheetView workbookViewId="0"/></sheetViews></chartsheet>'.encode()
    return _add_sheet(
        parts, "图表1", f"{REL}/chartsheet", "chartsheets/sheet1.xml", body,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.chartsheet+xml",
    )  # fmt: skip


def all_at_once(parts: Parts) -> Parts:
    for step in (
        full_column_dimension, styled_empty_cells, wide_sheet, macro_sheets, chart_sheet,
        utf16_custom_xml, workbook_moved, macosx_entries, backslash_names,
    ):  # fmt: skip
        parts = step(parts)
    return parts


def _letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


MUTATIONS: dict[str, Mutation] = {
    "backslash-names": backslash_names,
    "workbook-moved": workbook_moved,
    "workbook-at-root": workbook_at_root,
    "dot-relative-targets": dot_relative_targets,
    "full-column-dimension": full_column_dimension,
    "styled-empty-cells-to-XFD": styled_empty_cells,
    "wide-pivot-sheet": wide_sheet,
    "macosx-entries": macosx_entries,
    "utf16-customXml": utf16_custom_xml,
    "macro-sheets": macro_sheets,
    "chart-sheet": chart_sheet,
    "all-at-once": all_at_once,
}
