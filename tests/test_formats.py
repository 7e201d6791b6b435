"""Issue 12, part 1: every file that looks like an attempted submission is read or refused with
its real cause in Chinese (encrypted, another format, damaged, a missing sheet), with a stable
problem code, and listed in rejected.csv; none is passed over in silence."""

from __future__ import annotations

import logging
import zipfile

import pytest

from kpi_excel import problems as P
from kpi_excel.errors import WorkbookRefused
from kpi_excel.read import read_workbook
from kpi_excel.rulebook import load_rulebook
from tests.conftest import GOOD_SENIOR
from tests.support import hostile as H
from tests.support import producers as PR

ENCRYPTED = "文件已加密,请取消密码后提交"
SAVE_AS = "请在 Excel/WPS 中另存为 .xlsx 后提交"
NUMBERS = (
    "这是 Apple Numbers 文件(.numbers),请在 Numbers 中选择“文件 > 导出为 > Excel”存为 .xlsx 后提交"
)
SPREADSHEET_ML = (
    '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?><Workbook '
    'xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="考核数据"/></Workbook>'
).encode()
FODS = (
    b'<?xml version="1.0" encoding="UTF-8"?><office:document xmlns:office="urn:oasis:names:tc:'
    b'opendocument:xmlns:office:1.0" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">'
    b"</office:document>"
)
HTML = "<html><head><meta charset='utf-8'></head><body><table><tr><td>员工编号</td></tr></table>".encode()
ODS_MANIFEST = (
    b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
    b'<manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data '
    b'manifest:checksum-type="SHA1/1K"/></manifest:file-entry></manifest:manifest>'
)


def numbers_zip(tag: bytes = b"") -> bytes:
    return H.build_zip(
        {"Index/Document.iwa": b"\x00\x01" + tag, "Metadata/Properties.plist": b"bplist00"}
    )


def ole(stream: str, body: bytes, tag: int) -> bytes:
    """An OLE2 file with one stream; `tag` (after the data a reader looks at) makes each file's
    bytes unique, so that no two inputs count as copies of each other."""
    return H.cfb_file(stream, body + bytes([tag]))


# file name, bytes, problem code, the reason after "<file> 无法读取:"
CASES = [
    ("加密.xls", ole("Workbook", H.biff_stream(True), 1), P.FILE_ENCRYPTED,
     f"这是设置了打开密码的旧版 .xls 文件(Excel 97-2003),{ENCRYPTED}(在 Excel/WPS 中用密码打开,"
     "取消密码并另存为 .xlsx)"),
    ("加密.et", ole("Workbook", H.biff_stream(True), 2), P.FILE_ENCRYPTED,
     f"这是设置了打开密码的 WPS 表格 .et 文件,{ENCRYPTED}(在 Excel/WPS 中用密码打开,取消密码并另存为 .xlsx)"),
    ("加密.xlsx", ole("EncryptedPackage", b"\x00" * 64, 6), P.FILE_ENCRYPTED,
     f"{ENCRYPTED}(工作簿设置了打开密码:请在 Excel/WPS 中用密码打开,取消密码后保存为 .xlsx)"),
    ("旧版.xls", ole("Workbook", H.biff_stream(False), 3), P.FILE_FORMAT,
     f"这是旧版 .xls 格式,{SAVE_AS}"),
    ("改名.xlsx", ole("Workbook", H.biff_stream(False), 4), P.FILE_FORMAT,
     f"这是旧版 .xls 格式,{SAVE_AS}"),
    ("金山.et", ole("Workbook", H.biff_stream(False), 5), P.FILE_FORMAT,
     "这是 WPS 表格 .et 格式,请另存为 .xlsx 后提交"),
    ("文档.xlsx", ole("WordDocument", b"\x00" * 64, 7), P.FILE_FORMAT,
     "这是 Word 文档,不是 Excel 工作簿,请提交 .xlsx 工作簿"),
    ("苹果.numbers", numbers_zip(), P.FILE_FORMAT, NUMBERS),
    ("苹果改名.xlsx", numbers_zip(b"2"), P.FILE_FORMAT, NUMBERS),
    ("平面.fods", FODS, P.FILE_FORMAT, "这是 OpenDocument 平面 XML 表格(.fods),请另存为 .xlsx 后提交"),
    ("开放.ods", H.build_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),
     P.FILE_FORMAT, "这是 OpenDocument .ods 格式,请另存为 .xlsx 后提交"),
    ("加密.ods", H.build_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                             "META-INF/manifest.xml": ODS_MANIFEST}),
     P.FILE_ENCRYPTED, f"这是设置了密码的 OpenDocument 表格(.ods),{ENCRYPTED}(取消密码并另存为 .xlsx)"),
    ("表格2003.xls", SPREADSHEET_ML, P.FILE_FORMAT, f"这是 Excel 2003 XML 表格(SpreadsheetML),{SAVE_AS}"),
    ("网页.xls", HTML, P.FILE_FORMAT,
     f"这是网页(HTML)格式的表格(业务系统导出的“Excel”常是这种文件),{SAVE_AS}"),
    ("名单.csv", "员工编号,姓名\nE1,张三\n".encode(), P.FILE_FORMAT, "这是 CSV 文件,请使用标准模板(.xlsx)提交"),
    ("二进制.xlsb", b"PK\x03\x04", P.FILE_FORMAT, "这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交"),
    ("空.xls", b"", P.FILE_UNREADABLE, "文件为空(0字节),文件不完整或已损坏,请重新保存后提交"),
    ("损坏.xlsx", b"PK\x03\x04" + b"\x00" * 100, P.FILE_UNREADABLE, "文件不完整或已损坏,请重新保存后提交"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "kind", "why"), CASES, ids=[c[0] for c in CASES])
def test_each_format_is_refused_with_its_real_cause(tmp_path, name, data, kind, why) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(WorkbookRefused) as got:
        read_workbook(path, name, load_rulebook().contract)
    assert (got.value.code, got.value.message) == (kind.code, f"{name} 无法读取:{why}")
    assert path.read_bytes() == data


def test_every_attempted_submission_is_in_rejected_csv(inbox, caplog) -> None:
    for name, data, _, _ in CASES:
        (inbox.dir / name).write_bytes(data)
    (inbox.dir / "文件包.numbers").mkdir()  # a Numbers document saved as a macOS package
    (inbox.dir / "说明.txt").write_text("不是提交文件")
    (inbox.dir / "照片.png").write_bytes(b"\x89PNG\r\n")
    inbox.add("好.xlsx", [GOOD_SENIOR])
    with caplog.at_level(logging.INFO, logger="kpi_excel"):
        result = inbox.run()
    assert result.exit_code == 1 and "Traceback" not in result.output
    reasons = {r["file"]: r["reason"] for r in inbox.rejected()}
    assert reasons == {
        **{name: f"{name} 无法读取:{why}" for name, _, _, why in CASES},
        "文件包.numbers": "文件包.numbers 无法读取:这是 Apple Numbers 文件包(一个文件夹),请在 Numbers 中"
        "选择“文件 > 导出为 > Excel”存为 .xlsx 后提交",
    }
    assert inbox.results()["E001"]["status"] == "scored"
    assert "已跳过(非提交文件)" in result.output and "说明.txt" in result.output
    # the log keeps each refusal's code, and the underlying error where there is one
    assert "refused 加密.xls [file-encrypted]" in caplog.text
    assert "refused 损坏.xlsx [file-unreadable]" in caplog.text and "BadZipFile" in caplog.text


def test_templates_and_misnamed_workbooks_are_read(inbox) -> None:
    """.xltx/.xltm are OOXML workbooks (a template filled in and sent as it is); an .xls or .csv
    that is an .xlsx inside (renamed by hand) is read for what it is."""
    codes = ["B101", "B102", "B103", "B104"]
    for name, code in zip(("模板.xltx", "宏模板.xltm", "改名.xls", "导出.csv"), codes, strict=True):
        path = inbox.add(name, [{**GOOD_SENIOR, "emp_id": f"E{code}"}], code=code)
        if name.endswith(".xltx"):  # as Excel saves a template: the template content type
            path.write_bytes(
                H.rewrite(
                    path.read_bytes(),
                    lambda n, b: (
                        b.replace(b"sheet.main+xml", b"template.main+xml")
                        if n == "[Content_Types].xml"
                        else b
                    ),
                )
            )
    assert inbox.run().exit_code == 0, inbox.rejected()
    assert {r["status"] for r in inbox.results().values()} == {"scored"}
    assert len(inbox.results()) == 4


def test_a_missing_part_of_a_sheet_read_is_named(tmp_path) -> None:
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "sample_workbooks" / "2026Q3" / "城东支行.xlsx"
    parts = H.members(sample.read_bytes())
    del parts[H.sheet_member(sample.read_bytes(), "考核数据")]
    path = tmp_path / "缺部件.xlsx"
    path.write_bytes(H.build_zip(PR.chart_sheet(parts)))
    with pytest.raises(WorkbookRefused) as got:
        read_workbook(path, path.name, load_rulebook().contract)
    assert got.value.code == P.FILE_UNREADABLE.code
    assert got.value.message == (
        "缺部件.xlsx 无法读取:工作表「考核数据」的内容缺失,文件不完整或已损坏,请重新保存后提交"
    )
    assert zipfile.is_zipfile(path)
