"""What Excel hides behind a cell's number format: a percentage typed into an amount (5% is the
number 0.05), a date or a time in a number column. The cell's style is read from styles.xml by
the container scan; a percent-formatted cell is refused in an amount, count or plain number
column and accepted in a ratio column; a date or time cell is refused in any number column."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main
from kpi_excel.guard import check_container
from kpi_excel.numfmt import DATE, PERCENT, TIME, cell_styles, classify, shown
from kpi_excel.read import read_workbook
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from tests.conftest import GOOD_SENIOR, person
from tests.support.hostile import build_zip, members, rewrite, sheet_member
from tests.test_scheme_loan_eva import EXPECTED, LABELS, PEOPLE, _workbook
from tests.test_scheme_loan_eva import _run as run_loan_eva

FIX = "请将单元格格式改为「常规」或「数值」后重新填写"


def _formatted(inbox, cells: dict[str, tuple[object, str]], rows: list[dict] | None = None):
    """A workbook of the inbox whose 考核数据 cells get these values and number formats."""
    rows = rows or [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002")]
    path = inbox.add("第一支行.xlsx", rows)
    wb = openpyxl.load_workbook(path)
    ws = wb["考核数据"]
    for ref, (value, code) in cells.items():
        ws[ref] = value
        ws[ref].number_format = code
    wb.save(path)
    return path


# --- refused, with the cell as the clerk sees it --------------------------------------------


@pytest.mark.parametrize(
    ("ref", "value", "code", "reason"),
    [
        # 5% typed into 不良贷款余额: Excel keeps 0.05 (built-in format 10)
        ("G2", 0.05, "0.00%", "G2「不良贷款余额」单元格为百分比格式(5.00%),金额应填万元"),
        # a count typed as 5 in a percent cell shows 500% (built-in format 9)
        ("J2", 5, "0%", "J2「新开对公基本账户」单元格为百分比格式(500%),个数应填整数"),
        # a workbook's own percent format (numFmts, id 164 and up)
        ("E2", 13.005, "#,##0.0%", "E2「本期存款日均」单元格为百分比格式(1300.5%),金额应填万元"),
        ("E2", 0.125, '0%;[Red]-0%;"-"', "E2「本期存款日均」单元格为百分比格式(13%),金额应填万元"),
        # a plain number column (行为规范扣分) is no ratio either
        ("K2", 0.05, "0%", "K2「行为规范扣分」单元格为百分比格式(5%),应直接填写数值"),
        # dates and times: calamine reads most of them as dates, times or durations
        (
            "E2",
            45000,
            "yyyy-mm-dd",
            "E2「本期存款日均」单元格为日期格式(显示为2023-03-15),应填数字",
        ),
        ("E2", 45000, 'yyyy"年"m"月"d"日"', "E2「本期存款日均」单元格为日期格式(显示为2023-03-15)"),
        ("E2", 45000, "[$-804]yyyy/m/d;@", "E2「本期存款日均」单元格为日期格式(显示为2023-03-15)"),
        ("I2", 0.5, "h:mm", "I2「实收贷款本息」单元格为时间格式(显示为12:00:00),应填数字"),
        ("I2", 1.5, "[h]:mm:ss", "I2「实收贷款本息」单元格为时间格式(显示为36:00:00)"),
    ],
)
def test_a_percent_date_or_time_cell_in_a_number_column_refuses_the_row(
    inbox, ref, value, code, reason
) -> None:
    rows = [person(GOOD_SENIOR, conduct_deduction="0"), person(GOOD_SENIOR, emp_id="E002")]
    _formatted(inbox, {ref: (value, code)}, rows)
    assert inbox.run().exit_code == 1
    got = inbox.results()
    assert got["E001"]["status"] == "rejected" and got["E001"]["total"] == ""
    assert got["E001"]["errors"].startswith(f"第一支行.xlsx 考核数据!{reason}")
    assert got["E001"]["errors"].endswith(FIX)
    assert ";" not in got["E001"]["errors"].removesuffix(FIX)[:-1]  # the one reason, alone
    assert got["E002"]["status"] == "scored" and got["E002"]["total"] == "100.00"


def test_the_issue_example_reads_in_full(inbox) -> None:
    _formatted(inbox, {"G2": (0.05, "0.00%")})
    inbox.run()
    assert inbox.results()["E001"]["errors"] == (
        "第一支行.xlsx 考核数据!G2「不良贷款余额」单元格为百分比格式(5.00%),金额应填万元;" + FIX
    )
    rejected = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "单元格为百分比格式(5.00%),金额应填万元" in rejected


def test_a_refused_format_is_marked_red_on_its_cell_in_the_branch_workbook(inbox) -> None:
    _formatted(inbox, {"G2": (0.05, "0.00%")})
    inbox.run()
    (book,) = (inbox.out / "2026Q3" / "branches").glob("*.xlsx")
    raw = openpyxl.load_workbook(book)["原始数据"]
    marked = [c for row in raw.iter_rows() for c in row if c.comment]
    assert len(marked) == 1
    assert marked[0].value == 0.05 and marked[0].fill.fgColor.rgb == "FFFFC7CE"
    assert "单元格为百分比格式(5.00%)" in marked[0].comment.text


@pytest.mark.parametrize(
    "code",
    [
        '#,##0.00"万元"',  # a unit in quotes
        "0.00\\%",  # an escaped % is shown, not applied
        '"%"0.00',  # so is a quoted one
        "[Red]0.00;[Blue]-0.00",
        "0.00E+00",
        "General",
        "@",
    ],
)
def test_formats_that_do_not_scale_the_number_are_read_as_plain_numbers(inbox, code) -> None:
    _formatted(inbox, {"E2": (1300, code)})
    assert inbox.run().exit_code == 0
    assert [r["total"] for r in inbox.results().values()] == ["100.00", "100.00"]


def test_a_zero_blank_or_text_cell_in_a_percent_format_is_what_it_shows(inbox) -> None:
    # 0% is 0 in any unit; a blank optional cell is blank; text is judged as text
    rows = [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002", incident_loss="")]
    _formatted(inbox, {"G2": (0, "0.00%"), "K3": (None, "0%"), "E3": ("一千三百", "0.00%")}, rows)
    inbox.run()
    got = inbox.results()
    assert got["E001"]["status"] == "scored" and got["E001"]["total"] == "100.00"
    assert (
        got["E002"]["errors"]
        == "第一支行.xlsx 考核数据!E3「本期存款日均」应为数字,实际为「一千三百」"
    )


# --- a ratio column takes a percentage as the ratio it is -----------------------------------


def test_a_percent_cell_in_a_ratio_column_is_scored_as_its_ratio(tmp_path: Path) -> None:
    """loan-eva's 日均存贷比基数 and 综合回报率基数 are ratios (`ratio: true`): 110% is 1.1."""
    runner = CliRunner()
    template = tmp_path / "模板.xlsx"
    made = runner.invoke(main, ["template", "2026M07", "--rules", "loan-eva", "-o", str(template)])
    assert made.exit_code == 0, made.output
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = _workbook(template, inbox / "b.xlsx", "2026-07", PEOPLE)
    wb = openpyxl.load_workbook(path)
    ws = wb["考核数据"]
    base, ret = LABELS.index("日均存贷比基数") + 1, LABELS.index("综合回报率基数") + 1
    for r in range(2, 5):
        ws.cell(r, base).number_format = "0%"
        ws.cell(r, ret).number_format = "0.0%"
    wb.save(path)
    got = run_loan_eva(runner, inbox, tmp_path / "out", "2026-07")
    assert all(got[p]["status"] == "scored" and got[p]["errors"] == "" for p in EXPECTED)
    assert got["P1"]["asset_pay"] == EXPECTED["P1"][6] == "46000.00"
    assert got["P3"]["return_coef"] == EXPECTED["P3"][5] == "1.1"

    # an amount of the same scheme in a percent format is refused
    ws.cell(2, LABELS.index("日均存款余额(万元)") + 1).number_format = "0%"
    wb.save(path)
    res = runner.invoke(
        main, ["run", "2026-07", "--rules", "loan-eva", "--inbox", str(inbox),
               "--output", str(tmp_path / "out2")],
    )  # fmt: skip
    assert res.exit_code == 1
    text = (tmp_path / "out2" / "loan-eva" / "2026M07" / "results.csv").read_text("utf-8-sig")
    assert "b.xlsx 考核数据!D2「日均存款余额」单元格为百分比格式(12000%),金额应填万元" in text


def test_ratio_is_only_for_number_fields(tmp_path: Path) -> None:
    text = default_rulebook_path().read_text(encoding="utf-8")
    text = text.replace(
        "  loan_balance: {label: 贷款余额(万元), type: amount, required: true}",
        "  loan_balance: {label: 贷款余额(万元), type: amount, ratio: true, required: true}",
    )
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(kpi_excel.RulebookError) as err:
        load_rulebook(tmp_path / "rules.yaml")
    assert err.value.lines == [
        "规则文件 rules.yaml 的键 fields.loan_balance.ratio 只能用于 type 为 number 的字段"
        "(金额、个数不是比率)"
    ]


# --- the library ------------------------------------------------------------------------------


def test_a_date_in_a_frame_is_refused_as_in_a_workbook() -> None:
    frame = pd.DataFrame(
        [
            {**GOOD_SENIOR, "deposit_avg": dt.date(2026, 7, 1)},
            {**GOOD_SENIOR, "emp_id": "E002", "deposit_avg": dt.time(9, 30)},
        ]
    )
    scored = kpi_excel.score(frame, "2026Q3", branch_code="B001", branch_name="第一支行")
    refused = scored.problems[scored.problems["level"] == "refuse_row"]
    assert refused[["cell", "check", "value"]].values.tolist() == [
        ["E2", "date-format", "2026-07-01"],
        ["E3", "date-format", "09:30:00"],
    ]
    assert scored.people.loc[1, "errors"] == (
        "<DataFrame> 考核数据!E3「本期存款日均」单元格为时间格式(显示为09:30:00),应填数字;" + FIX
    )


# --- the scan: every way a producer writes the cells and the styles --------------------------


def _read(path: Path):
    return read_workbook(path, path.name, load_rulebook().contract)


def _base(inbox) -> Path:
    return _formatted(
        inbox,
        {"G2": (0.05, "0.00%"), "E3": (45000, "yyyy-mm-dd"), "J3": (0.5, "h:mm")},
        [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002")],
    )


FOUND = {
    (2, "npl_balance"): (PERCENT, "0.00%"),
    (3, "deposit_avg"): (DATE, "yyyy-mm-dd"),
    (3, "new_accounts"): (TIME, "h:mm"),
}


def _edited(path: Path, edit) -> Path:
    data = path.read_bytes()
    member = sheet_member(data, "考核数据")
    path.write_bytes(rewrite(data, lambda n, b: edit(n, b, member)))
    return path


def test_the_scan_finds_the_formatted_cells(inbox) -> None:
    assert _read(_base(inbox)).formats == FOUND


def test_cells_without_references_are_found_by_position(inbox) -> None:
    def edit(name: str, body: bytes, member: str) -> bytes:
        return re.sub(rb'<c r="[A-Z]+[0-9]+"', b"<c", body) if name == member else body

    path = _edited(_base(inbox), edit)
    data = path.read_bytes()
    assert b'<c r="' not in members(data)[sheet_member(data, "考核数据")]
    assert _read(path).formats == FOUND


def test_prefixed_elements_and_attributes_in_any_order_are_found(inbox) -> None:
    def edit(name: str, body: bytes, member: str) -> bytes:
        if name != member:
            return body
        body = re.sub(rb"<(/?)([A-Za-z])", rb"<\1x:\2", body)  # every element, as x:…
        body = body.replace(b"<x:worksheet xmlns=", b"<x:worksheet xmlns:x=", 1)
        # the style before the reference, in single quotes
        return re.sub(rb'<x:c r="([A-Z]+[0-9]+)" s="([0-9]+)"', rb"<x:c s='\2' r='\1'", body)

    path = _edited(_base(inbox), edit)
    data = path.read_bytes()
    assert b"<x:c s='" in members(data)[sheet_member(data, "考核数据")]
    assert _read(path).formats == FOUND


def test_styles_written_elsewhere_or_before_the_sheets_are_read(inbox) -> None:
    path = _base(inbox)
    parts = members(path.read_bytes())
    styles = parts.pop("xl/styles.xml")
    parts["xl/styles/my styles.xml"] = styles
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    rels = re.sub(r'Target="/?(xl/)?styles.xml"', 'Target="styles/my styles.xml"', rels)
    parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    order = ["xl/styles/my styles.xml", *(n for n in parts if n != "xl/styles/my styles.xml")]
    path.write_bytes(build_zip({n: parts[n] for n in order}))
    scan = check_container(path.read_bytes(), path.name).sheets["考核数据"]
    assert scan.formats and set(scan.styled) == {5, 7, 10}


def test_a_default_style_in_percent_applies_to_cells_without_a_style(inbox) -> None:
    path = inbox.add("第一支行.xlsx", [GOOD_SENIOR])

    def edit(name: str, body: bytes, member: str) -> bytes:
        if name == "xl/styles.xml":  # cellXfs' first xf: the style of a cell without `s`
            return re.sub(rb'(<cellXfs[^>]*><xf )numFmtId="0"', rb'\1numFmtId="10"', body)
        return body

    _edited(path, edit)
    found = _read(path).formats
    assert found[(2, "npl_balance")] == (PERCENT, "0.00%")
    assert (2, "emp_id") not in found  # text is not a number in a percent format


def test_a_styles_part_that_does_not_parse_leaves_the_cells_as_read(inbox) -> None:
    def edit(name: str, body: bytes, member: str) -> bytes:
        return body.replace(b"</cellXfs>", b"</cellXfs><oops>") if name == "xl/styles.xml" else body

    path = _edited(_base(inbox), edit)
    assert check_container(path.read_bytes(), path.name).sheets["考核数据"].formats == {}


# --- the formats themselves -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("0%", PERCENT), ("0.00%", PERCENT), ("#,##0.0%;[Red]-#,##0.0%", PERCENT),
        ("0.00\\%", None), ('0.00"%"', None), ("0.00_%", None), ("0.00*%", None),
        ("yyyy-mm-dd", DATE), ("mmm", DATE), ("d-mmm", DATE), ("[$-F800]dddd, mmmm dd, yyyy", DATE),
        ('e"年"m"月"', DATE), ("aaaa", DATE), ("yyyy/m/d h:mm", DATE),
        ("h:mm AM/PM", TIME), ("mm:ss", TIME), ("[h]:mm:ss", TIME), ("[mm]", TIME),
        ("General", None), ("0.00E+00", None), ("[Red][<=100]0.00", None), ("@", None),
        ('#,##0.00"万元"', None), ("[DBNum1][$-804]General", None),
        ('_(* #,##0.00_);_(* \\(#,##0.00\\);_(* "-"??_);_(@_)', None),
    ],
)  # fmt: skip
def test_format_codes_are_classified_outside_quotes_escapes_and_brackets(code, kind) -> None:
    assert classify(code) == kind


def test_built_in_and_custom_styles_are_told_apart() -> None:
    elements = [
        ("numFmts", {}),
        ("numFmt", {"numFmtId": "164", "formatCode": "0.0%"}),
        ("numFmt", {"numFmtId": "14", "formatCode": "yyyy/m/d"}),  # a builtin id redefined
        ("cellStyleXfs", {}),
        ("xf", {"numFmtId": "10"}),  # a named style's xf: not a cell style
        ("cellXfs", {}),
        ("xf", {"numFmtId": "0"}),
        ("xf", {"numFmtId": "164"}),
        ("xf", {"numFmtId": "14"}),
        ("xf", {"numFmtId": "9"}),
        ("xf", {"numFmtId": "49"}),
        ("xf", {"numFmtId": "57"}),  # 'yyyy"年"m"月"' in the Chinese Excel
        ("xf", {}),
        ("dxfs", {}),
        ("numFmt", {"numFmtId": "9", "formatCode": "yyyy"}),  # a dxf's: not a cell's
    ]
    assert cell_styles(elements) == {
        1: (PERCENT, "0.0%"),
        2: (DATE, "yyyy/m/d"),
        3: (PERCENT, "0%"),
        5: (DATE, 'yyyy"年"m"月"'),
    }


def test_values_are_shown_as_excel_shows_them() -> None:
    assert shown(0.05, PERCENT, "0.00%") == "5.00%"
    assert shown(0.125, PERCENT, "0%") == "13%"  # half away from zero, as Excel shows it
    assert shown(-0.0525, PERCENT, "0.0%") == "-5.3%"
    assert shown(45000.25, DATE, "yyyy-mm-dd") == "2023-03-15 06:00:00"
    assert shown(dt.datetime(2026, 7, 1), DATE, "") == "2026-07-01"
    assert shown(dt.timedelta(hours=-1, minutes=-30), TIME, "") == "-1:30:00"
