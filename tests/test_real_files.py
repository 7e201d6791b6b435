"""Issue 12, part 1: real files from public test suites of spreadsheet libraries get the right
answer: read (then refused only for lacking kpi-excel's sheets, naming the sheets they have),
or refused for their real cause (encrypted, another format, damaged).

The files are third-party data, so they are not in this repository: see tests/data/REAL_FILES.md
for each file's source, commit and licence. The test reads them from the folder named by the
environment variable KPI_EXCEL_REAL_FILES and is skipped without it (the project never reads
anything outside its checkout in its tests). Their layouts are also reproduced from a good
workbook in tests/test_producer_layouts.py, which always runs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kpi_excel.errors import WorkbookRefused
from kpi_excel.read import read_workbook
from kpi_excel.rulebook import load_rulebook

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("KPI_EXCEL_REAL_FILES") or ROOT / "no-real-files")
MISSING = "缺少工作表「基本信息」、「考核数据」,请使用标准模板(工作簿中的工作表:{})"
ENCRYPTED_XLSX = (
    "无法读取:文件已加密,请取消密码后提交(工作簿设置了打开密码:请在 Excel/WPS 中用密码打开,"
    "取消密码后保存为 .xlsx)"
)
ENCRYPTED_XLS = (
    "无法读取:这是设置了打开密码的旧版 .xls 文件(Excel 97-2003),文件已加密,请取消密码后提交"
    "(在 Excel/WPS 中用密码打开,取消密码并另存为 .xlsx)"
)

# file, first 16 hex digits of its sha256, problem code, the message after "<file> "
REAL = [
    # read: backslash zip names (a Chinese attendance export)
    ("calamine_issue_530.xlsx", "17270be2c9b87178", "sheet-missing",
     MISSING.format("「出勤分类组织汇总表」")),
    # read: the workbook at the package root, found through _rels/.rels
    ("calamine_minimal_package.xlsx", "655b1003ead7a4ec", "sheet-missing", MISSING.format("「Sheet1」")),
    # read: pivot tables and a UTF-16 customXml part
    ("calamine_pivots.xlsx", "632407ef8f5a5b45", "sheet-missing", MISSING.format(
        "「PivotSheet1」、「PivotSheet2」、「PivotSheet3」、「PivotSheet4」、「DataSheet」、「DataSheet2」")),
    # read: hidden, very hidden and chart sheets
    ("calamine_any_sheets.xlsx", "fba48e0141f847d8", "sheet-missing",
     MISSING.format("「Visible」、「Hidden」、「VeryHidden」、「Chart」")),
    ("calamine_issue438.xlsx", "8d22ddf71ce21c01", "sheet-missing", MISSING.format("「Sheet1」、「Chart1」")),
    # read: a macro-enabled workbook with a VBA project; ISO strict paths; prefixed XML
    ("calamine_vba.xlsm", "2fe9f89f4a969658", "sheet-missing",
     MISSING.format("「Sheet1」、「Sheet2」、「Sheet3」")),
    ("calamine_strict_iso_paths.xlsx", "45ddc3571627cd4f", "sheet-missing", MISSING.format("「ml_out」")),
    ("calamine_nonstandard-xml-ns-prefix.xlsx", "bb4c4bd4b90a742a", "sheet-missing",
     MISSING.format("「Sheet1」")),
    # encrypted: .xlsx (agile), .xls (RC4 CryptoAPI, and another), .xlsb, .ods
    ("calamine_pass_protected.xlsx", "caae96225a5fbe2f", "file-encrypted", ENCRYPTED_XLSX),
    ("msoffcrypto_example_password.xlsx", "3f792e3902a615bf", "file-encrypted", ENCRYPTED_XLSX),
    ("msoffcrypto_rc4cryptoapi_password.xls", "b804cba40c27ea88", "file-encrypted", ENCRYPTED_XLS),
    ("calamine_issue_385.xls", "e7b4a9beb82f2297", "file-encrypted", ENCRYPTED_XLS),
    ("calamine_pass_protected.ods", "15314658f5fb4222", "file-encrypted",
     "无法读取:这是设置了密码的 OpenDocument 表格(.ods),文件已加密,请取消密码后提交(取消密码并另存为 .xlsx)"),
    # other formats
    ("calamine_date.xls", "e3eb3391a371cc1e", "file-format",
     "无法读取:这是旧版 .xls 格式,请在 Excel/WPS 中另存为 .xlsx 后提交"),
    ("calamine_date.xlsb", "68d36adf4d4de389", "file-format", "无法读取:这是 .xlsb 二进制工作簿,请另存为 .xlsx 后提交"),
    ("calamine_date.ods", "d65f3198bc73f2fa", "file-format",
     "无法读取:这是 OpenDocument .ods 格式,请另存为 .xlsx 后提交"),
    ("msoffcrypto_plain.doc", "290f71ddd3f6d940", "file-format",
     "无法读取:这是 Word 文档,不是 Excel 工作簿,请提交 .xlsx 工作簿"),
    # damaged: a bad CRC in xl/_rels/workbook.xml.rels
    ("calamine_issue252.xlsx", "9f8fec3a71c50076", "file-unreadable", "无法读取:文件不完整或已损坏,请重新保存后提交"),
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not all((CORPUS / name).is_file() for name, *_ in REAL),
    reason=f"the real files are not in {CORPUS} (see tests/data/REAL_FILES.md)",
)


@pytest.mark.parametrize(("name", "sha", "code", "message"), REAL, ids=[r[0] for r in REAL])
def test_a_real_file_gets_the_right_answer(name, sha, code, message) -> None:
    path = CORPUS / name
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest()[:16] == sha, "not the file REAL_FILES.md names"
    with pytest.raises(WorkbookRefused) as got:
        read_workbook(path, name, load_rulebook().contract)
    assert (got.value.code, got.value.message) == (code, f"{name} {message}")
    assert path.read_bytes() == data


def test_the_damaged_file_keeps_its_underlying_error() -> None:
    with pytest.raises(WorkbookRefused) as got:
        read_workbook(CORPUS / "calamine_issue252.xlsx", "x.xlsx", load_rulebook().contract)
    assert "Bad CRC-32 for file 'xl/_rels/workbook.xml.rels'" in got.value.detail


def test_every_real_file_in_an_inbox_is_listed_with_its_reason(inbox) -> None:
    for name, *_ in REAL:
        (inbox.dir / name).write_bytes((CORPUS / name).read_bytes())
    result = inbox.run()
    assert result.exit_code == 1 and "Traceback" not in result.output
    reasons = {r["file"]: r["reason"] for r in inbox.rejected()}
    # .doc is no spreadsheet format: passed over as not a submission
    assert reasons == {n: f"{n} {m}" for n, _, _, m in REAL if not n.endswith(".doc")}
    assert "msoffcrypto_plain.doc" in result.output  # listed among the files passed over
