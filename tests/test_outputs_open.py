"""Issue 10: outputs that always open. Whatever characters a branch's text holds (U+FFFF, U+FFFE,
control characters, Excel's own `_xHHHH_` escapes, XlsxWriter's rich-string XML, `]]>`, astral
characters, direction marks), every XML part of every output is well-formed and shows the text;
the fast sheet writer writes exactly what XlsxWriter writes, and says so in the log when not."""

from __future__ import annotations

import csv
import html.parser
import io
import re
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_excel.cli import main
from kpi_excel.write import fastsheet
from kpi_excel.write.safe import (
    EXCEL_MAX_TEXT,
    SafeSheet,
    cell_text,
    cell_texts_ready,
    is_rich_lookalike,
    safe_sheet_name,
    workbook_options,
    write_text,
    xml_text,
)
from tests.conftest import GOOD_SENIOR, person
from tests.support import hostile as H

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Excel counts (a character above U+FFFF counts two)."""
    return len(text) + sum(1 for ch in text if ch > "\uffff")


def excel_unescape(text: str) -> str:
    """Text as Excel shows it: its `_xHHHH_` escapes read (`_x005F_` is an escaped underscore)."""
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _string_of(node) -> str:
    """The text an <is>, <si> or comment shows: its <t>, or its runs' <t> joined, each read
    as Excel reads it."""
    return "".join(excel_unescape(t.text or "") for t in node.iter(f"{NS}t"))


def shown_cells(parts: dict[str, bytes], sheet: str) -> dict[str, str]:
    """Each string cell of a worksheet part, as Excel shows it (inline or shared strings)."""
    shared = []
    if "xl/sharedStrings.xml" in parts:
        root = ElementTree.fromstring(parts["xl/sharedStrings.xml"])
        shared = [_string_of(si) for si in root.iter(f"{NS}si")]
    out = {}
    for c in ElementTree.fromstring(parts[sheet]).iter(f"{NS}c"):
        if c.get("t") == "inlineStr":
            out[c.get("r")] = _string_of(c.find(f"{NS}is"))
        elif c.get("t") == "s":
            out[c.get("r")] = shared[int(c.find(f"{NS}v").text)]
    return out


def well_formed_parts(path: Path) -> dict[str, bytes]:
    """Every part of an xlsx, each parsed as XML (all must be well-formed)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    for name, data in parts.items():
        assert name.endswith((".xml", ".rels", ".vml")), (path.name, name)
        try:
            ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            pytest.fail(f"{path.name} {name}: {exc}")
    return parts


def all_shown_text(parts: dict[str, bytes]) -> set[str]:
    """Every string shown in any sheet, comment, header or footer of a workbook."""
    texts: set[str] = set()
    for name in parts:
        if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
            texts |= set(shown_cells(parts, name).values())
            root = ElementTree.fromstring(parts[name])
            texts |= {excel_unescape(e.text or "") for e in root.iter() if "Header" in e.tag}
        elif re.fullmatch(r"xl/comments\d+\.xml", name):
            root = ElementTree.fromstring(parts[name])
            texts |= {_string_of(c) for c in root.iter(f"{NS}comment")}
    return texts


# --- fast writer == XlsxWriter, for any text -------------------------------------------------

ATOMS = [
    "\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1f", "\r", "\t", "\n", "\x7f", "\x85",
    "\ufffe", "\uffff", "\ud800", "\udfff", "\ufffd", "_x0000_", "_x005F_", "_xFFFF_", "_x00d8_",
    "_x", "_", "x", "0041", "<r>", "</r>", "<t>", "<", ">", "&", "&amp;", "]]>", '"', "'", " ",
    "\u3000", "\u00a0", "😀", "\U0010ffff", "\u200f", "\u202e", "甲", "a",
]  # fmt: skip
any_char = st.characters(exclude_categories=())  # every code point, surrogates included
fragments = st.lists(st.one_of(any_char, st.sampled_from(ATOMS)), max_size=10).map("".join)
any_text = st.one_of(
    fragments,
    fragments.map(lambda t: "<r>" + t + "</r>"),  # what XlsxWriter takes for rich-string XML
    st.text(any_char, max_size=20),
)
any_cell = st.one_of(
    any_text,
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_infinity=False),
)


def _sheet_parts(write) -> dict[str, bytes]:
    buffer = io.BytesIO()
    wb = write(buffer)
    wb.close()
    with zipfile.ZipFile(buffer) as z:
        return {n: z.read(n) for n in z.namelist()}


def _cells_xml(sheet_xml: bytes) -> dict[str, str]:
    text = sheet_xml.decode("utf-8")
    return {
        m.group(1): m.group(0) for m in re.finditer(r'<c r="([A-Z]+\d+)".*?(?:/>|</c>)', text, re.S)
    }


def _workbook(buffer, mode: str, texts: list[str], mixed: list) -> xlsxwriter.Workbook:
    """The two columns through FastSheet ("fast"), or cell by cell through XlsxWriter, inline
    strings ("constant_memory") or shared strings ("shared")."""
    cm = mode == "constant_memory"  # which XlsxWriter turns off in memory
    options = {**workbook_options(), "constant_memory": cm, "in_memory": not cm}
    wb = xlsxwriter.Workbook(buffer, options)
    fmt = wb.add_format({"border": 1})
    if mode == "fast":
        ws = wb.add_worksheet(worksheet_class=fastsheet.FastSheet)
        assert ws.put_column(0, 0, "text", texts, fmt)
        assert ws.put_column(0, 1, "mixed", mixed, fmt)
    else:
        ws = wb.add_worksheet(worksheet_class=SafeSheet)
        for i in range(max(len(texts), len(mixed))):  # row by row, as constant_memory needs
            if i < len(texts):
                fastsheet._write_plain(ws, i, 0, "text", texts[i], fmt)
            if i < len(mixed):
                fastsheet._write_plain(ws, i, 1, "mixed", mixed[i], fmt)
    return wb


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(any_text, min_size=1, max_size=4), st.lists(any_cell, min_size=1, max_size=4))
def test_fast_cells_are_xlsxwriter_cells_for_any_text(texts, mixed) -> None:
    """FastSheet's cell XML is XlsxWriter's (constant_memory: inline strings) for the text the
    one escaping path gives; where XlsxWriter would copy "<r>…</r>" into the XML, both show the
    same text. Every sheet is well-formed and shows `cell_text` of what was written."""
    parts = {
        mode: _sheet_parts(lambda b, mode=mode: _workbook(b, mode, texts, mixed))
        for mode in ("fast", "constant_memory", "shared")
    }
    sheet = "xl/worksheets/sheet1.xml"
    for p in parts.values():
        for name in (sheet, "xl/sharedStrings.xml"):
            if name in p:
                ElementTree.fromstring(p[name])  # well-formed
    expected = {f"A{i + 1}": cell_text(t) for i, t in enumerate(texts) if t}
    expected |= {f"B{i + 1}": cell_text(v) for i, v in enumerate(mixed) if isinstance(v, str) and v}
    for mode, p in parts.items():
        assert shown_cells(p, sheet) == expected, mode
    fast, plain = _cells_xml(parts["fast"][sheet]), _cells_xml(parts["constant_memory"][sheet])
    assert fast.keys() == plain.keys()
    for ref, xml in fast.items():
        if not is_rich_lookalike(expected.get(ref, "")):
            assert xml == plain[ref], ref


@settings(derandomize=True, max_examples=200, deadline=None)
@given(any_text, any_text)
def test_escaping_path_properties(text, other) -> None:
    shown = cell_text(text)
    assert cell_text(shown) == shown  # idempotent
    assert not re.search("[\ud800-\udfff]", shown) and utf16_len(shown) <= EXCEL_MAX_TEXT
    lookalike_escapes = is_rich_lookalike(text) and re.search(
        "[\x00-\x08\x0b-\x1f\ufffe\uffff]", text
    )
    if not re.search("[\ud800-\udfff]", text) and not lookalike_escapes:
        assert shown == text  # kept as it is: XlsxWriter escapes what XML cannot hold
    assert cell_texts_ready([text, other]) == (
        cell_text(text) == text and cell_text(other) == other
    )
    assert not NOT_XML.search(xml_text(text)) and xml_text(xml_text(text)) == xml_text(text)
    taken: set[str] = set()
    names = [
        safe_sheet_name(text, taken),
        safe_sheet_name(text, taken),
        safe_sheet_name(other, taken),
    ]
    assert len({n.casefold() for n in names}) == 3
    assert not any(re.search("_x[0-9a-fA-F]{4}_", n) for n in names)  # read as escapes
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name in names:  # XlsxWriter's own checks of a sheet name pass
        wb.add_worksheet(name, worksheet_class=SafeSheet).write_string(0, 0, text)
    wb.close()
    with zipfile.ZipFile(buffer) as z:
        for n in z.namelist():
            ElementTree.fromstring(z.read(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert openpyxl.load_workbook(buffer).sheetnames == names


def test_long_text_is_cut_to_excel_limit_in_utf16_units() -> None:
    assert cell_text("😀" * 20000) == "😀" * 16383  # 32,766 units: a character is never split
    assert cell_text("甲" * 40000) == "甲" * EXCEL_MAX_TEXT
    assert xml_text("\uffff" * 40, 32) == "\ufffd" * 32


def test_rich_string_lookalike_shows_as_typed_in_every_writer(tmp_path) -> None:
    """Text "<r>…</r>" holding Excel escapes and blanks shows exactly as typed, in XlsxWriter's
    rich strings (runs cut after every underscore) and through FastSheet."""
    text = "<r> _x0041_ _x005F_ &amp; </r>"
    for mode in ("fast", "constant_memory", "shared"):
        parts = _sheet_parts(lambda b, mode=mode: _workbook(b, mode, [text], [text]))
        assert shown_cells(parts, "xl/worksheets/sheet1.xml") == {"A1": text, "B1": text}, mode
    path = tmp_path / "r.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet(worksheet_class=SafeSheet)
    write_text(ws, 0, 0, "<r> _x0041_ &amp; </r>", wb.add_format({"bold": True}))
    ws.write_string(1, 0, "<r>\uffff\x07</r>")  # what XML cannot hold: U+FFFD in every writer
    wb.close()
    cells = openpyxl.load_workbook(path).active  # (openpyxl drops any "x005F_" it reads)
    assert cells["A1"].value == "<r> _x0041_ &amp; </r>"
    assert cells["A2"].value == "<r>\ufffd\ufffd</r>"


# --- a whole run on a branch whose text holds everything --------------------------------------

HOSTILE = "\uffff甲\ufffe\x01\x07\x1f_x0000_<r>x</r>]]>&\u200f\u202e😀\r\t乙"
LOOKALIKE = "<r>\uffff_x0041_\x07</r>"  # a whole name XlsxWriter would take for its rich XML


def _input_xml(text: str) -> str:
    """`text` as it stands in an Excel sheet's XML: C0 controls as Excel's escapes, which the
    reader decodes; U+FFFE/U+FFFF raw, as some writers leave them (the reader takes them)."""
    text = re.sub("_x[0-9A-Fa-f]{4}_", lambda m: "_x005F" + m.group(), text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub("[\x00-\x08\x0b-\x1f]", lambda m: f"_x{ord(m.group()):04X}_", text)


def _hostile_inbox(inbox) -> dict[str, str]:
    """A branch whose 机构名称, 员工编号, 姓名, 备注 and a number cell hold HOSTILE."""
    texts = {
        "BRANCHMARK": "支行" + HOSTILE,
        "IDMARK": "E" + HOSTILE,
        "NAMEMARK": "名" + HOSTILE,
        "NOTEMARK": "备注" + HOSTILE,
        "LOOKMARK": LOOKALIKE,
        "NUMMARK": "一千" + HOSTILE,
    }
    rows = [
        person(GOOD_SENIOR, emp_id="IDMARK", name="NAMEMARK", remarks="NOTEMARK"),
        person(GOOD_SENIOR, emp_id="E002", name="LOOKMARK"),
        person(GOOD_SENIOR, emp_id="E003", name="王五", deposit_avg="NUMMARK"),  # refused
    ]
    path = inbox.add("坏字符.xlsx", rows, code="B001", name="BRANCHMARK")

    def put(sheet_xml: bytes) -> bytes:
        for mark, text in texts.items():
            if f"<t>{mark}</t>".encode() in sheet_xml:
                sheet_xml = H.replace_text(sheet_xml, mark, _input_xml(text))
        return sheet_xml

    H.edit_sheet(path, "基本信息", put)
    H.edit_sheet(path, "考核数据", put)
    return texts


def _roster(path: Path, texts: dict[str, str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["机构号", "机构名称", "员工编号", "姓名", "岗位"])
        w.writerow(
            ["B001", texts["BRANCHMARK"], texts["IDMARK"], texts["NAMEMARK"], "高级客户经理"]
        )
        w.writerow(["B001", texts["BRANCHMARK"], "E002", LOOKALIKE, "初级客户经理"])
    return path


def _check_every_output(inbox, tmp_path: Path) -> None:
    texts = _hostile_inbox(inbox)
    res = inbox.run()
    assert res.exit_code in (0, 1) and "Traceback" not in res.output, res.output
    assert inbox.results()["E002"]["status"] == "scored"  # the reader kept the text
    period = inbox.out / "2026Q3"
    roster = _roster(tmp_path / "花名册.csv", texts)
    out = tmp_path / "templates"
    args = ["template", "2026Q3", "--roster", str(roster), "--outdir", str(out)]
    made = CliRunner().invoke(main, args)
    assert made.exit_code == 0, made.output
    branch, name, look = texts["BRANCHMARK"], texts["NAMEMARK"], cell_text(LOOKALIKE)
    assert look == "<r>\ufffd_x0041_\ufffd</r>"
    (book,) = (period / "branches").glob("*.xlsx")
    (template,) = out.glob("*.xlsx")
    expected = {
        book: {name, texts["IDMARK"], texts["NOTEMARK"], look, texts["NUMMARK"],
               f"{branch}(B001) 2026Q3 客户经理考核结果"},
        period / "summary.xlsx": {name, texts["IDMARK"], look, branch},
        template: {name, texts["IDMARK"], look, branch},
    }  # fmt: skip
    for path, wanted in expected.items():
        parts = well_formed_parts(path)
        shown = all_shown_text(parts)
        for text in wanted:
            assert text in shown or any(text in s for s in shown), (path.name, text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl: extensions it does not read
            openpyxl.load_workbook(path).close()
    comments = "".join(
        all_shown_text({n: p for n, p in well_formed_parts(book).items() if "comments" in n})
    )
    assert texts["NUMMARK"] in comments  # the problem's note quotes the cell as typed
    sheets = openpyxl.load_workbook(period / "summary.xlsx", read_only=True).sheetnames
    assert safe_sheet_name(f"B001 {branch}", set()) in sheets
    assert "B001 支行_甲__" in sheets[-1]
    report = (period / "report.html").read_text(encoding="utf-8")
    html.parser.HTMLParser().feed(report)  # parses
    assert "&lt;r&gt;x&lt;/r&gt;]]&gt;&amp;" in report and "<r>" not in report


def test_every_xml_part_of_every_output_is_well_formed_whatever_the_text(inbox, tmp_path):
    assert fastsheet.fast_cells_match()
    _check_every_output(inbox, tmp_path)


@pytest.fixture
def check_again():
    """`fast_cells_match` computed afresh in the test, and again after it."""
    fastsheet.fast_cells_match.cache_clear()
    yield
    fastsheet.fast_cells_match.cache_clear()


def test_fast_writer_off_says_why_in_the_log_and_outputs_still_open(
    inbox, tmp_path, monkeypatch, check_again
):
    monkeypatch.setattr(fastsheet, "excel_escape", lambda text: text)  # "XlsxWriter changed"
    _check_every_output(inbox, tmp_path)
    log = (inbox.out / "kpi-excel.log").read_text(encoding="utf-8")
    line = next(x for x in log.splitlines() if "fast sheet writer off" in x)
    assert "WARNING" in line and "the fast sheet XML (XlsxWriter 3." in line
    assert line.endswith(tuple("0123456789")) and "is not well-formed" in line
    assert log.count("fast sheet writer off") == 1


def test_fast_writer_check_says_when_xlsxwriter_breaks(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise AttributeError("no _write_cell")

    monkeypatch.setattr(fastsheet.FastSheet, "_write_rows", broken)
    why = fastsheet.fast_cells_differ()
    assert why is not None and "failed: AttributeError('no _write_cell')" in why
