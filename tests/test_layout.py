"""Layout that fits: text measured by its real width (write/textfit.py), and every output's rows
and columns made to hold their text; the summary's charts side by side with a whole-number
count axis; the template's 说明 on A4 portrait. (tests/test_libreoffice.py prints them.)"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.write.summary import count_axis
from kpi_excel.write.textfit import (
    MAX_LINES,
    MAX_ROW,
    SIMSUN,
    fit_width,
    line_counts,
    number_texts,
    row_height,
    row_heights,
    text_widths,
    widen,
)

SAMPLES = Path(__file__).resolve().parent.parent / "sample_workbooks" / "2026Q3"
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")


def test_a_chinese_character_is_as_wide_as_two_digits_and_more() -> None:
    assert text_widths(["中文", "1234", "，。", "Ab", "(,)", "Wm%", "±×"]) == [
        4.3, 4.4, 4.3, 2.5, 2.25, 5.4, 3.0,
    ]  # fmt: skip
    assert text_widths(["第一行\n第二行较长", "", "😀"]) == [10.75, 0.0, 2.15]
    assert text_widths(["(a)"], SIMSUN) == [3.3]  # 宋体: every ASCII character half a 中


def test_lines_break_between_chinese_characters() -> None:
    # a line of width 20 holds 9 Chinese characters (9 x 2.15 = 19.35)
    assert line_counts(["存" * 9, "存" * 10, "存" * 18, "存" * 19], 20) == [1, 2, 2, 3]
    assert line_counts(["", "a\nb", "a\n\nb", "存\n"], 20) == [1, 2, 3, 2]


def test_lines_never_break_inside_a_number_nor_before_closing_punctuation() -> None:
    # "九，": the comma cannot start a line, so 九 goes down with it
    assert line_counts(["一二三四五六七八九，一二三四五六七八"], 20) == [3]
    assert line_counts(["一二三四五六七八九一二三四五六七八九"], 20) == [2]
    # 12.34% (6.95 units) fits after six characters; after seven it goes down whole
    assert line_counts(["一二三四五六12.34%"], 20) == [1]
    assert line_counts(["一二三四五六七12.34%"], 20) == [2]
    # nor after an opening mark or a sign: 「 and ± go down with what follows
    assert line_counts(["一二三四五六七八「九」"], 20) == [2]
    assert line_counts(["一二三四五六七八九±1"], 20) == [2]
    # a run longer than a line is cut anywhere: 40 digits (44 units) in lines of 20
    assert line_counts(["1" * 40], 20) == [3]
    # words break at spaces
    assert line_counts(["abcd " * 8], 20) == [3]


def test_row_height_shows_every_line_up_to_excels_tallest_row() -> None:
    assert row_height([("短", 10), ("", 5)]) is None  # one line: the default height
    assert row_height([("存" * 5, 10), ("存", 4)]) == 34.5  # 2 x 15.5 + 3, in whole pixels
    assert row_height([("存" * 10_000, 10)]) == MAX_ROW == 409.5
    heights = row_heights([(["a", "", "存" * 30], 20), (["b\nc\nd", "", ""], 5)], 3)
    assert heights == [49.5, None, 65.25]
    with pytest.raises(ValueError):
        row_heights([(["a"], 20)], 2)


def test_a_column_too_narrow_for_its_longest_text_is_widened() -> None:
    assert widen(["短", "存" * 100], 32, 100) == 32  # 7 lines
    long = "存" * 1200  # 2,580 units: at 32, 81 lines; a row holds 26
    width = widen([long, "短"], 32, 200)
    assert line_counts([long], width)[0] <= MAX_LINES < line_counts([long], width - 2)[0] + 2
    assert widen([long * 10], 32, 100) == 100  # only a text too long even at the maximum


def test_fit_width_and_number_texts() -> None:
    assert fit_width(["营业部总经理", "行长"], 6, 18) == 13.4
    assert fit_width(["存" * 20], 6, 18) == 18
    assert fit_width([], 6, 18) == 6
    assert number_texts([1.5, float("nan"), -1234.567, 3.0], 2) == ["3.00", "-1234.57"]
    assert number_texts([0.1234], 2, percent=True) == ["12.34%", "12.34%"]
    assert number_texts([8.23825065871, 0.0], None) == ["8.238250659", "0"]  # General: 11
    assert number_texts([float("nan")], 2) == []


def test_count_axis_ticks_at_whole_numbers() -> None:
    assert count_axis(3) == {"name": "人数", "min": 0, "max": 4, "major_unit": 1, "num_format": "0"}
    assert [(count_axis(n)["major_unit"], count_axis(n)["max"]) for n in (0, 10, 11, 35, 250)] == [
        (1, 1), (1, 11), (2, 12), (5, 40), (50, 300),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("layout")
    runner = CliRunner()
    runner.invoke(main, ["run", "2026Q3", "--inbox", str(SAMPLES), "--output", str(work / "out")])
    template = work / "模板.xlsx"
    assert runner.invoke(main, ["template", "2026Q3", "-o", str(template)]).exit_code == 0
    run = work / "out" / "2026Q3"
    return {
        "branch": run / "branches" / "B002_城东支行.xlsx",
        "flags_branch": run / "branches" / "B001_营业部.xlsx",
        "summary": run / "summary.xlsx",
        "template": template,
    }


def _width(ws, column: str) -> float:
    """A column's width as written (XlsxWriter stores width + 5 px of padding; a <col> element
    may span several columns)."""
    at = openpyxl.utils.column_index_from_string(column)
    for dim in ws.column_dimensions.values():
        if dim.min <= at <= dim.max and dim.customWidth:
            return round((dim.width * 7 - 5) / 7, 2)
    return 8.43


def _cells(ws, first_row: int):
    for row in ws.iter_rows(min_row=first_row):
        for c in row:
            if isinstance(c.value, str) and c.value:
                yield c


@pytest.mark.parametrize("key", ["branch", "flags_branch", "summary"])
def test_every_text_fits_its_cell(outputs, key: str) -> None:
    """In every table (from its header row down): a text that wraps has a row tall enough for
    its lines at its column's width; a text that does not wrap fits on one line."""
    wb = openpyxl.load_workbook(outputs[key])
    wrapped = unwrapped = 0
    for ws in wb.worksheets:
        first = 2 if key == "summary" else 3  # the header row
        listed = ws.title == "原始数据"  # its problem list: merged across the table
        merged = {str(r).split(":")[0] for r in ws.merged_cells.ranges} if listed else set()
        for c in _cells(ws, first):
            width = _width(ws, c.column_letter)
            if c.coordinate in merged:
                continue
            if c.alignment.wrap_text:
                lines = line_counts([c.value], width)[0]
                height = ws.row_dimensions[c.row].height or 15
                assert lines == 1 or height >= 15.5 * lines + 3, (ws.title, c.coordinate, lines)
                wrapped += 1
            else:
                assert text_widths([c.value])[0] <= width, (ws.title, c.coordinate, c.value)
                unwrapped += 1
    assert wrapped > 20 and unwrapped > 100


def test_numbers_are_never_too_wide_for_their_column(outputs) -> None:
    """A number wider than its column shows as ###: every column fits its widest number."""
    for key in ("branch", "summary"):
        wb = openpyxl.load_workbook(outputs[key])
        for ws in wb.worksheets:
            for row in ws.iter_rows(min_row=3):
                for c in row:
                    if isinstance(c.value, float | int) and not isinstance(c.value, bool):
                        fmt = c.number_format
                        places = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else None
                        shown = number_texts([c.value], places, fmt.endswith("%"))
                        if fmt == "General":
                            shown = number_texts([c.value], None)
                        width = _width(ws, c.column_letter)
                        assert text_widths(shown)[0] <= width, (ws.title, c.coordinate, shown)


def _sheet_xml(book: Path, name: str) -> str:
    with zipfile.ZipFile(book) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        rid = re.search(rf'<sheet name="{name}" sheetId="\d+" r:id="(rId\d+)"', workbook).group(1)
        target = re.search(rf'Id="{rid}" [^>]*Target="([^"]+)"', rels)
        if target is None:
            target = re.search(rf'Target="([^"]+)" [^>]*Id="{rid}"', rels)
        return z.read("xl/" + target.group(1).lstrip("/").removeprefix("xl/")).decode()


def test_template_guide_fits_an_a4_page_in_portrait(outputs) -> None:
    book = outputs["template"]
    for sheet in ("说明", "基本信息"):
        xml = _sheet_xml(book, sheet)
        assert '<pageSetUpPr fitToPage="1"/>' in xml, sheet
        setup = re.search(r"<pageSetup [^>]*>", xml).group()
        assert all(a in setup for a in ('paperSize="9"', 'orientation="portrait"')), setup
        assert 'fitToHeight="0"' in setup and "fitToWidth" not in setup  # 1 page wide
    wb = openpyxl.load_workbook(book)
    guide = wb["说明"]
    width = _width(guide, "A")
    assert width <= 99  # 8.27 in less 1 in of margins, at 7 px a unit
    for (text,) in guide.iter_rows(min_row=2, values_only=True):
        if text:
            lines = line_counts([text], width, SIMSUN)[0]
            height = guide.row_dimensions[next(c.row for c in guide["A"] if c.value == text)].height
            assert lines == 1 or height >= 15.5 * lines + 3, text
    info = wb["基本信息"]
    hints = [r[2] for r in info.iter_rows(values_only=True) if r[2]]
    assert max(text_widths(hints, SIMSUN)) <= _width(info, "C")


def test_summary_charts_side_by_side_without_overlap(outputs) -> None:
    with zipfile.ZipFile(outputs["summary"]) as z:
        drawing = z.read("xl/drawings/drawing1.xml").decode()
        charts = [z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/charts/")]
    anchors = re.findall(
        r"<xdr:from><xdr:col>(\d+)</xdr:col><xdr:colOff>(\d+)</xdr:colOff>"
        r"<xdr:row>(\d+)</xdr:row>.*?<xdr:to><xdr:col>(\d+)</xdr:col><xdr:colOff>(\d+)"
        r"</xdr:colOff>",
        drawing,
        re.S,
    )
    assert len(anchors) == 2
    (_, _, row1, end_col, end_off), (start_col, start_off, row2, _, _) = (
        tuple(map(int, a)) for a in anchors
    )
    assert row1 == row2  # side by side
    assert (end_col, end_off) < (start_col, start_off)  # the second starts after the first
    grades = next(c for c in charts if '<c:barDir val="col"/>' in c)
    assert '<c:majorUnit val="5"/>' in grades and '<c:min val="0"/>' in grades
    assert 'formatCode="0"' in grades
