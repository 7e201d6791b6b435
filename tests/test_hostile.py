"""Issue 5: every broken, foreign, crafted or messy input is scored, refused with a Chinese reason
naming the file (and sheet and cell), or skipped; and the run always finishes."""

from __future__ import annotations

import csv
import os
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from python_calamine import CalamineWorkbook

from kpi_excel import guard
from kpi_excel.errors import KpiExcelError, WorkbookRefused
from kpi_excel.periods import parse_period
from kpi_excel.pipeline import run as run_pipeline
from kpi_excel.read import read_workbook
from kpi_excel.rulebook import load_rulebook
from kpi_excel.write.export import TEXT_COLUMNS
from kpi_excel.write.safe import FORMULA_START, csv_text, csv_texts
from tests.conftest import GOOD_SENIOR, person
from tests.support import hostile as H

BROKEN = "文件不完整或已损坏,请重新保存后提交"
OTHER = person(GOOD_SENIOR, emp_id="E900", name="王五")


def run_direct(inbox, limits: dict | None = None):
    return run_pipeline(
        parse_period("2026Q3", load_rulebook().calendar),
        inbox.dir,
        inbox.out,
        load_rulebook(),
        jobs=1,
        limits=limits,
    )


def reasons(inbox) -> dict[str, str]:
    return {r["file"]: r["reason"] for r in inbox.rejected()}


def problems(result, check: str) -> list[str]:
    p = result.problems
    return list(p.loc[p["check"] == check, "message"])


def with_good(inbox) -> None:
    inbox.add("好.xlsx", [OTHER], code="B900", name="第九支行")


def assert_good_scored(inbox) -> None:
    assert inbox.results()["E900"]["status"] == "scored"


# --- not a workbook ---------------------------------------------------------------------------


def _valid_bytes(tmp_path: Path) -> bytes:
    from tests.support.workbooks import write_branch_workbook

    p = write_branch_workbook(
        tmp_path / "v.xlsx", branch_code="B1", branch_name="x", period="2026Q3", rows=[GOOD_SENIOR]
    )
    return p.read_bytes()


def _corrupt(data: bytes) -> bytes:
    i = data.index(b"xl/worksheets/sheet2.xml") + 200  # inside the compressed sheet data
    return data[:i] + bytes(b ^ 0x5A for b in data[i : i + 64]) + data[i + 64 :]


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda d: b"", "文件为空(0字节)"),
        (lambda d: d[: len(d) // 2], ""),
        (lambda d: d[:-30], ""),  # the end-of-directory record cut off
        (lambda d: "员工编号,姓名\nE1,张三\n".encode(), "不是 Excel 工作簿"),
        (_corrupt, ""),
        (lambda d: b"PK\x03\x04" + b"\x00" * 100, ""),
    ],
    ids=["empty", "half", "no-end-record", "text", "corrupt-zip", "zip-header-only"],
)
def test_not_a_workbook_is_refused_as_broken(inbox, tmp_path, make, why) -> None:
    (inbox.dir / "坏.xlsx").write_bytes(make(_valid_bytes(tmp_path)))
    with_good(inbox)
    assert inbox.run().exit_code == 1
    reason = reasons(inbox)["坏.xlsx"]
    assert reason.startswith("坏.xlsx 无法读取:") and BROKEN in reason and why in reason
    assert_good_scored(inbox)


def test_pdf_named_xlsx_is_refused(inbox) -> None:
    (inbox.dir / "报表.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    with_good(inbox)
    inbox.run()
    assert reasons(inbox)["报表.xlsx"] == (
        "报表.xlsx 无法读取:这是 PDF 文件而不是 Excel 工作簿,请提交 .xlsx 文件"
    )


# --- not a submission -------------------------------------------------------------------------


def test_lock_hidden_and_folder_entries_are_skipped_not_refused(inbox, tmp_path) -> None:
    data = _valid_bytes(tmp_path)
    for name in ("~$第一支行.xlsx", ".~lock.第一支行.xlsx#", ".隐藏.xlsx", "Thumbs.db"):
        (inbox.dir / name).write_bytes(data)
    (inbox.dir / "文件夹.xlsx").mkdir()
    with_good(inbox)
    result = run_direct(inbox)
    assert sorted(result.files_skipped) == sorted(
        [".~lock.第一支行.xlsx#", ".隐藏.xlsx", "Thumbs.db", "~$第一支行.xlsx", "文件夹.xlsx/"]
    )
    assert inbox.rejected() == [] and result.files_total == 1
    assert list(inbox.results()) == ["E900"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_a_pipe_is_never_opened_and_a_huge_file_never_read(inbox) -> None:
    os.mkfifo(inbox.dir / "管道.xlsx")  # reading it would block the run forever
    with open(inbox.dir / "巨大.xlsx", "wb") as fh:
        fh.truncate(60 * 1024 * 1024)  # sparse: 60 MB that cost nothing to write
    with_good(inbox)
    result = run_direct(inbox)
    assert "管道.xlsx" in result.files_skipped
    assert dict(result.files_refused)["巨大.xlsx"] == "巨大.xlsx 无法读取:文件大小超过上限 50 MB"
    assert_good_scored(inbox)


# --- other formats ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "hint"),
    [
        ("加密.xlsx", H.ole_file(encrypted=True), "加密.xlsx 无法读取:文件已加密,请取消密码后提交"),
        ("旧格式.xls", H.ole_file(encrypted=False), "另存为 .xlsx"),
        ("改名.xlsx", H.ole_file(encrypted=False), "旧版 .xls 格式"),
        ("改名.xlsx", H.ole_file(encrypted=False), "另存为 .xlsx"),
        (
            "金山.et",
            H.ole_file(encrypted=False),
            "金山.et 无法读取:这是 WPS 表格 .et 格式,请另存为 .xlsx",
        ),
        ("开放.ods", H.build_zip({"mimetype": b"application/vnd.oasis"}), "请另存为 .xlsx"),
        ("开放.xlsx", H.build_zip({"mimetype": b"x", "content.xml": b"<a/>"}), "OpenDocument"),
        ("二进制.xlsb", b"PK\x03\x04", "xlsb"),
    ],
)
def test_other_formats_are_refused_with_a_hint(inbox, name, data, hint) -> None:
    (inbox.dir / name).write_bytes(data)
    with_good(inbox)
    assert inbox.run().exit_code == 1
    assert hint in reasons(inbox)[name]
    assert_good_scored(inbox)


def _macro_enabled(name: str, body: bytes) -> bytes:
    if name == "[Content_Types].xml":
        return body.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
    return body


def test_xlsm_is_read_for_its_values(inbox) -> None:
    vba = {"xl/vbaProject.bin": H.ole_file(encrypted=False)}
    for i in (1, 2):
        path = inbox.add(f"宏{i}.xlsx", [person(GOOD_SENIOR, emp_id=f"E00{i}")], code=f"B00{i}")
        target = path.with_suffix(".xlsm")
        load_workbook(path).save(target)  # as openpyxl saves it
        path.unlink()
        if i == 2:  # as Excel saves it: macro-enabled content type and a VBA project
            target.write_bytes(H.rewrite(target.read_bytes(), _macro_enabled, vba))
    assert inbox.run().exit_code == 0, inbox.rejected()
    rows = inbox.results()
    assert rows["E001"]["status"] == rows["E002"]["status"] == "scored"


# --- hostile files ----------------------------------------------------------------------------


def _with_dtd(body: bytes) -> bytes:
    decl = re.match(rb"<\?xml[^>]*\?>\s*", body)
    cut = decl.end() if decl else 0
    return body[:cut] + H.BILLION_LAUGHS.split(b"\n", 1)[1] + body[cut:]


@pytest.mark.parametrize(
    "part", ["[Content_Types].xml", "xl/workbook.xml", "考核数据", "docProps/app.xml"]
)
def test_any_dtd_in_any_part_is_refused(inbox, part) -> None:
    path = inbox.add("炸弹.xlsx", [GOOD_SENIOR])
    data = path.read_bytes()
    member = H.sheet_member(data, part) if part == "考核数据" else part
    path.write_bytes(H.rewrite(data, lambda n, b: _with_dtd(b) if n == member else b))
    with_good(inbox)
    inbox.run()
    reason = reasons(inbox)["炸弹.xlsx"]
    assert f"部件 {member} 含有 DTD/实体声明(可能是 XML 炸弹),不予读取" in reason
    assert_good_scored(inbox)


@pytest.mark.parametrize("declared", [None, 1000, 200_000_000], ids=["honest", "tiny", "lie"])
def test_zip_bomb_is_refused_without_inflating_it(inbox, declared) -> None:
    (inbox.dir / "炸弹.xlsx").write_bytes(
        H.bomb_zip(3 << 30 if declared is None else 1 << 30, declared)
    )
    with_good(inbox)
    start = time.monotonic()
    inbox.run()
    assert time.monotonic() - start < 20
    reason = reasons(inbox)["炸弹.xlsx"]
    assert "疑似压缩炸弹" in reason or BROKEN in reason
    if declared is None:
        assert "解压后体积超过上限" in reason
    assert_good_scored(inbox)


def test_limits_can_be_lowered_per_run(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR])
    result = run_direct(inbox, limits={"max_uncompressed_bytes": 4000})
    assert "解压后体积超过上限(疑似压缩炸弹)" in dict(result.files_refused)["b.xlsx"]
    result = run_direct(inbox, limits={"max_columns": 5})
    assert dict(result.files_refused)["b.xlsx"] == (
        "b.xlsx 无法读取:工作表「考核数据」的单元格 J1 位于第 10 列,超过上限 5 列,不予读取"
    )


FAR = [
    ("real-cell", lambda x: H.add_cells(x, H.cell_xml("XFD1048576")), "单元格 XFD1048576 位于第 1,048,576 行"),
    ("dimension-lie", lambda x: H.set_dimension(H.add_cells(x, H.cell_xml("XFD1048576")), "A1:C3"), "XFD1048576"),
    ("far-column", lambda x: H.add_cells(x, H.cell_xml("ALM5")), "单元格 ALM5 位于第 1,001 列,超过上限 1,000 列"),
    ("far-row", lambda x: H.add_cells(x, H.cell_xml("A100001")), "单元格 A100001 位于第 100,001 行"),
    ("area", lambda x: H.add_cells(x, H.cell_xml("ZZ9000")), "A1:ZZ9000"),
    ("repeated-r", lambda x: H.add_cells(x, b'<c r="A9" r="XFD9"><v>1</v></c>'), "单元格 XFD9 位于第 16,384 列"),
    ("escaped-r", lambda x: H.add_cells(x, b'<c r="&#88;FD9"><v>1</v></c>'), "单元格引用「&#88;FD9」无法识别"),
    ("no-refs", lambda x: H.add_cells(x, b"<c><v>1</v></c>" * 1200), "列,超过上限 1,000 列"),
    ("prefixed", lambda x: x.replace(b"<worksheet ", b"<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" ").replace(b"</worksheet>", b"</x:worksheet>").replace(b"<sheetData>", b"<x:sheetData>").replace(b"</sheetData>", b'<x:row r="7"><x:c r="XFD7"><x:v>1</x:v></x:c></x:row></x:sheetData>'), "XFD7"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "why"), [f[1:] for f in FAR], ids=[f[0] for f in FAR])
def test_far_cells_are_refused_before_calamine_builds_a_grid(inbox, edit, why) -> None:
    path = inbox.add("远.xlsx", [GOOD_SENIOR])
    H.edit_sheet(path, "考核数据", edit)
    with_good(inbox)
    inbox.run()
    reason = reasons(inbox)["远.xlsx"]
    assert reason.startswith("远.xlsx 无法读取:工作表「考核数据」"), reason
    assert why in reason and reason.endswith("不予读取")
    assert_good_scored(inbox)


def test_a_million_rows_are_refused_in_bounded_time_and_memory(tmp_path) -> None:
    rows = b"".join(
        b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 1_000_001)
    )
    sheet = H.SHEET_NS + b"<sheetData>" + rows + b"</sheetData></worksheet>"
    book = H.members(_valid_bytes(tmp_path))
    member = H.sheet_member(H.build_zip(book), "考核数据")
    path = tmp_path / "百万.xlsx"
    path.write_bytes(H.build_zip({**book, member: sheet}))
    del rows, sheet
    tracemalloc.start()
    start = time.monotonic()
    with pytest.raises(
        WorkbookRefused, match=r"单元格 A100\d{3} 位于第 100,\d{3} 行,超过上限 100,000 行"
    ):
        read_workbook(path, "百万.xlsx", load_rulebook().contract)
    elapsed = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 10 and peak < 40 * 1024 * 1024


def test_openpyxl_must_use_defusedxml(monkeypatch) -> None:
    import openpyxl.xml

    guard.assert_defused()
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(KpiExcelError, match="defusedxml"):
        guard.assert_defused()


# --- messy sheets -----------------------------------------------------------------------------


def test_duplicate_header_is_refused(inbox) -> None:
    path = inbox.add("重复.xlsx", [GOOD_SENIOR])
    wb = load_workbook(path)
    wb["考核数据"]["K1"] = "贷款余额(万元)"
    wb.save(path)
    with_good(inbox)
    inbox.run()
    assert reasons(inbox)["重复.xlsx"] == (
        "重复.xlsx 考核数据!K1 列标题「贷款余额(万元)」重复出现(另见 F1),无法确定取哪一列"
    )


def _merge_header(path: Path, data_in_second: bool) -> None:
    wb = load_workbook(path)
    ws = wb["考核数据"]
    ws.insert_cols(6)  # an empty column F after 本期存款日均 (E)
    ws.merge_cells("E1:F1")
    if data_in_second:
        ws["F2"] = 5
    wb.save(path)


def test_header_merged_across_an_empty_column_reads(inbox) -> None:
    _merge_header(inbox.add("合并.xlsx", [GOOD_SENIOR]), data_in_second=False)
    assert inbox.run().exit_code == 0
    assert inbox.results()["E001"]["total"] == "100.00"


def test_header_merged_over_data_is_refused(inbox) -> None:
    _merge_header(inbox.add("合并.xlsx", [GOOD_SENIOR]), data_in_second=True)
    with_good(inbox)
    inbox.run()
    assert reasons(inbox)["合并.xlsx"].startswith(
        "合并.xlsx 考核数据!E1:F1 列标题「本期存款日均(万元)」是跨多列的合并单元格"
    )


def test_header_below_a_title_is_found_and_noted(inbox) -> None:
    path = inbox.add("标题.xlsx", [GOOD_SENIOR])
    wb = load_workbook(path)
    wb["考核数据"].insert_rows(1, 2)
    wb["考核数据"]["A1"] = "第一支行 2026年第三季度 客户经理考核数据"
    wb.save(path)
    result = run_direct(inbox)
    assert inbox.results()["E001"]["status"] == "scored"
    assert problems(result, "header-moved") == ["标题.xlsx 考核数据!A3 表头不在第1行,已从第3行读取"]


def test_formula_without_cached_value_refuses_the_row(inbox) -> None:
    rows = [
        person(GOOD_SENIOR, deposit_avg="=D2*1.3"),
        person(GOOD_SENIOR, emp_id="E002", conduct_deduction="=1+1"),  # optional: not read as 0
        person(GOOD_SENIOR, emp_id="E003"),
    ]
    inbox.add("公式.xlsx", rows)
    assert inbox.run().exit_code == 1
    r = inbox.results()
    msg = "「{}」是公式但没有计算结果(文件未经 Excel 保存),请在 Excel 中打开并保存后提交"
    assert r["E001"]["status"] == "rejected" and r["E001"]["errors"] == (
        "公式.xlsx 考核数据!E2" + msg.format("本期存款日均")
    )
    assert r["E002"]["status"] == "rejected" and r["E002"]["errors"] == (
        "公式.xlsx 考核数据!K3" + msg.format("行为规范扣分")
    )
    assert r["E003"]["status"] == "scored"


def test_formula_without_value_in_branch_info_refuses_the_workbook(inbox) -> None:
    inbox.add("信息.xlsx", [GOOD_SENIOR], extra_info={"branch_code": '=CONCAT("B","001")'})
    with_good(inbox)
    inbox.run()
    assert reasons(inbox)["信息.xlsx"].startswith(
        "信息.xlsx 基本信息!B1「机构号」是公式但没有计算结果"
    )


def test_error_cells_are_invalid_never_blank(inbox) -> None:
    rows = [
        person(GOOD_SENIOR, loan_balance="#DIV/0!"),
        person(GOOD_SENIOR, emp_id="E002", conduct_deduction="#N/A"),
        person(GOOD_SENIOR, emp_id="E003", name="#REF!"),
    ]
    inbox.add("错误.xlsx", rows)
    inbox.run()
    r = inbox.results()
    assert r["E001"]["errors"] == "错误.xlsx 考核数据!F2「贷款余额」应为数字,实际为「#DIV/0!」"
    assert r["E002"]["errors"] == "错误.xlsx 考核数据!K3「行为规范扣分」应为数字,实际为「#N/A」"
    assert r["E003"]["errors"] == "错误.xlsx 考核数据!B4「姓名」是错误值「#REF!」,请更正后提交"


def test_hidden_rows_and_columns_are_read_and_noted(inbox) -> None:
    path = inbox.add("隐藏.xlsx", [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002")])
    wb = load_workbook(path)
    wb["考核数据"].row_dimensions[3].hidden = True
    wb["考核数据"].column_dimensions["E"].hidden = True
    wb.save(path)
    result = run_direct(inbox)
    assert {r["status"] for r in inbox.results().values()} == {"scored"}
    assert sorted(problems(result, "hidden-data")) == [
        "隐藏.xlsx 考核数据!A3 处于隐藏的行中,已照常读取",
        "隐藏.xlsx 考核数据!E1 处于隐藏的列中,已照常读取",
    ]


def test_dates_and_text_in_number_columns_are_invalid(inbox) -> None:
    import datetime as dt

    path = inbox.add("日期.xlsx", [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002")])
    wb = load_workbook(path)
    wb["考核数据"]["D2"] = dt.datetime(2026, 7, 1)
    wb["考核数据"]["D3"] = "一千"
    wb.save(path)
    inbox.run()
    r = inbox.results()
    assert r["E001"]["errors"] == (
        "日期.xlsx 考核数据!D2「基数存款日均」单元格为日期格式(显示为2026-07-01),应填数字;"
        "请将单元格格式改为「常规」或「数值」后重新填写"
    )
    assert r["E002"]["errors"] == "日期.xlsx 考核数据!D3「基数存款日均」应为数字,实际为「一千」"


def test_control_characters_and_overlong_text(inbox) -> None:
    path = inbox.add(
        "字符.xlsx",
        [
            person(GOOD_SENIOR, name="NAMEMARK"),
            person(GOOD_SENIOR, emp_id="E002", remarks="LONGMARK"),
        ],
    )
    H.edit_sheet(path, "考核数据", lambda x: H.replace_text(H.replace_text(
        x, "NAMEMARK", "张_x0007_三_x001B_"), "LONGMARK", "长" * 32768))  # fmt: skip
    inbox.run()
    r = inbox.results()
    assert r["E001"]["status"] == "scored" and "\x07" not in r["E001"]["name"]
    assert r["E002"]["status"] == "rejected"
    assert r["E002"]["errors"] == "字符.xlsx 考核数据!K3「备注」文本超过 32767 个字符"
    branch = next((inbox.out / "2026Q3" / "branches").glob("*.xlsx"))
    with zipfile.ZipFile(branch) as zf:
        xml = b"".join(zf.read(n) for n in zf.namelist() if n.endswith(".xml"))
    # Kept as typed, in Excel's escapes (as XlsxWriter writes them), never raw
    assert b"\x07" not in xml and b"\x1b" not in xml and b"_x0007_" in xml
    raw = CalamineWorkbook.from_path(str(branch)).get_sheet_by_name("原始数据").to_python()
    assert any("张\x07三\x1b" in row for row in raw)


# --- injection and paths ----------------------------------------------------------------------

NASTY = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://x","点我")']


def _csv_fields(out: Path):
    for path in out.rglob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                for col, value in row.items():
                    yield path.name, col, value


def _xml_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\t", "&#9;").replace("\r", "&#13;")


def test_formula_like_text_is_text_in_every_output(inbox) -> None:
    rows = [person(GOOD_SENIOR, emp_id=f"ID{i}X", name=f"NM{i}X") for i in range(len(NASTY))]
    rows.append(person(GOOD_SENIOR, emp_id="E100", deposit_avg="500"))  # a negative new_deposit
    path = inbox.add("=注入.xlsx", rows, code="B-1", name="BRANCHX")

    def nasty(sheet_xml: bytes) -> bytes:  # text cells that openpyxl would write as formulas
        for i, text in enumerate(NASTY):
            sheet_xml = H.replace_text(sheet_xml, f"ID{i}X", _xml_text(text + str(i)))
            sheet_xml = H.replace_text(sheet_xml, f"NM{i}X", _xml_text(text))
        return sheet_xml

    H.edit_sheet(path, "考核数据", nasty)
    H.edit_sheet(path, "基本信息", lambda x: H.replace_text(x, "BRANCHX", _xml_text(NASTY[-1])))
    (inbox.dir / "+坏.xlsx").write_bytes(b"junk")
    inbox.run()
    people = inbox.results()
    assert people["'=1+10"]["name"] == "'=1+1" and people["'=1+10"]["status"] == "scored"
    assert people["E100"]["branch_name"] == "'" + NASTY[-1]
    fields = list(_csv_fields(inbox.out))
    text = {*TEXT_COLUMNS, "file", "reason", "grade", "flags", "outcome", "recommended_level"}
    for name, col, value in fields:
        if value.startswith(FORMULA_START):  # only numbers we computed: -86.63
            assert col not in text and float(value) < 0, (name, col, value)
    assert any(v == "'=1+1" for _, _, v in fields)
    assert any(c == "new_deposit" and v.startswith("-") for _, c, v in fields)
    for book in inbox.out.rglob("*.xlsx"):
        with zipfile.ZipFile(book) as zf:
            for n in zf.namelist():
                if n.startswith("xl/worksheets/"):
                    assert not re.search(rb"<f[\s>]", zf.read(n)), (book.name, n)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-cells", "xlsxwriter-cells"])
def test_rich_string_lookalike_is_text(inbox, monkeypatch, fast) -> None:
    """XlsxWriter copies a string "<r>…</r>" into the XML as rich text, unescaped; a branch
    typing one must get it back as text and every output must still open."""
    from kpi_excel.write import fastsheet

    if not fast:
        monkeypatch.setattr(fastsheet, "fast_cells_match", lambda: False)
    lookalike = "<r>oops</r>"
    inbox.add("b.xlsx", [person(GOOD_SENIOR, name=lookalike, remarks=lookalike)], code="B001")
    assert inbox.run().exit_code == 0
    books = list(inbox.out.rglob("*.xlsx"))
    assert len(books) == 2
    for book in books:
        values = {
            c.value for ws in load_workbook(book).worksheets for r in ws.iter_rows() for c in r
        }
        assert lookalike in values, book.name


def test_csv_texts_is_csv_text_of_each_value() -> None:
    values = ["=1+1", "+x", "-3", "@a", "\tT", "\rR", "ok", "", None, 12, "a\x01b", "中文"]
    assert csv_texts(values) == [csv_text(v) for v in values]
    assert csv_texts(["a", "=b"]) == ["a", "'=b"]


def test_names_never_lead_outside_the_output_folder(inbox, tmp_path) -> None:
    inbox.add("第一..支行.xlsx", [GOOD_SENIOR], code="B001", name="../../evil")
    inbox.add("b.xlsx", [OTHER], code="B002", name="..\\..\\evil2")
    inbox.add("c.xlsx", [person(OTHER, emp_id="E901")], code="B003", name="长" * 300)
    before = H.snapshot(tmp_path, skip=inbox.out)
    assert inbox.run().exit_code == 0
    assert H.snapshot(tmp_path, skip=inbox.out) == before
    names = sorted(p.name for p in (inbox.out / "2026Q3" / "branches").iterdir())
    assert len(names) == 3 and all(len(n.encode()) < 200 for n in names), names
    assert not any(c in n for n in names for c in "/\\")
    for p in inbox.out.rglob("*"):
        assert inbox.out in p.resolve().parents


# --- run level --------------------------------------------------------------------------------


def test_an_unexpected_error_in_one_file_is_one_line_and_the_run_goes_on(inbox, monkeypatch):
    import sys

    real = read_workbook

    def flaky(path, display, limits=None, *rest):
        if display == "坏.xlsx":
            raise RuntimeError("boom")
        return real(path, display, limits, *rest)

    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("kpi_excel") and hasattr(mod, "read_workbook"):
            monkeypatch.setattr(mod, "read_workbook", flaky)
    inbox.add("坏.xlsx", [GOOD_SENIOR])
    with_good(inbox)
    res = inbox.run("--jobs", "1")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert reasons(inbox)["坏.xlsx"] == "坏.xlsx 读取时发生意外错误,已记录到日志,请联系管理员"
    assert "  拒收 坏.xlsx 读取时发生意外错误,已记录到日志,请联系管理员" in res.output
    assert_good_scored(inbox)
    log = (inbox.out / "kpi-excel.log").read_text(encoding="utf-8")
    assert "RuntimeError: boom" in log


def test_every_hostile_input_at_once(inbox, tmp_path) -> None:
    """The invariants over the whole corpus in one inbox, read by worker processes."""
    valid = _valid_bytes(tmp_path)
    member = H.sheet_member(valid, "考核数据")
    far = H.rewrite(
        valid, lambda n, b: H.add_cells(b, H.cell_xml("XFD1048576")) if n == member else b
    )
    corpus = {
        "远.xlsx": far,
        "截断.xlsm": valid[:-100],
        "文本.xlsx": b"hello",
        "空.xlsx": b"",
        "半.xlsx": valid[: len(valid) // 2],
        "加密.xlsx": H.ole_file(True),
        "炸弹.xlsx": H.bomb_zip(1 << 30),
        "实体.xlsx": H.rewrite(valid, lambda n, b: _with_dtd(b) if n == "xl/workbook.xml" else b),
        "~$锁.xlsx": valid,
        "旧.xls": H.ole_file(False),
    }
    for name, data in corpus.items():
        (inbox.dir / name).write_bytes(data)
    with_good(inbox)
    before = H.snapshot(tmp_path, skip=inbox.out)
    res = inbox.run("--jobs", "2")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert H.snapshot(tmp_path, skip=inbox.out) == before
    refused = set(reasons(inbox))
    assert refused == set(corpus) - {"~$锁.xlsx"}
    assert "已跳过(非提交文件): ~$锁.xlsx" in res.output
    assert_good_scored(inbox)


def test_guard_returns_what_the_scan_saw(tmp_path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["a", "=1/0", "#N/A"])
    ws.row_dimensions[1].hidden = True
    ws.column_dimensions["C"].hidden = True
    ws.merge_cells("D1:E1")
    wb.save(tmp_path / "g.xlsx")
    scan = guard.check_container((tmp_path / "g.xlsx").read_bytes(), "g.xlsx").sheets["数据"]
    assert (scan.max_row, scan.max_col, scan.cells) == (1, 3, 3)
    assert scan.formulas == {(1, 2)} and scan.errors == {(1, 3): "#N/A"}
    assert scan.hidden_rows == {1} and scan.col_hidden(3) and scan.merged == ["D1:E1"]
