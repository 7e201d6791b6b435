"""Every output workbook opens and prints in a real spreadsheet client (LibreOffice), and prints
whole: no wrapped text cut by a row too short, the template's 说明 one A4 page wide, whole-number
ticks on the summary's count axis. The pictures of the clerks' guide come from the same steps
(scripts/render_pictures.py).

All workbooks are printed to PDF in one LibreOffice run (a module fixture: about 15 s); the
tests read the PDFs' text with poppler's pdftotext. They are marked `libreoffice`
(`pytest -m "not libreoffice"` leaves them out) and skip where LibreOffice is not installed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.write.textfit import MAX_LINES, line_counts, row_heights
from scripts import render_pictures as pictures
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, Inbox, person

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(
        shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed"
    ),
    # openpyxl drops the x14 data-bar extension it cannot read; the tests only read the files
    pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning"),
]
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed",
)

STRESS_WIDTHS = [7, 10, 14, 20, 26, 32, 40, 64, 88]
# Texts of every kind the outputs wrap, beside the run's own: long names, a refusal with file
# and cell, figures and signs, codes, full-width punctuation, plain ASCII, line feeds.
STRESS_TEXTS = [
    "阿卜杜热合曼·买买提艾力",
    "第3支行.xlsx 考核数据!E7「本期存款日均」应为数字,实际为「约100」;考核数据!F7「贷款余额」为空",
    "新增存款日均增幅31.25%,目标30%,每±1个百分点±2分:40+2.50=42.50分(第十三条(扣分标准1))",
    "7月 812.40 < 900.00,8月 799.10 < 900.00,9月 650.00 < 900.00(5月、6月取自2026Q2)",
    "连续3个月存款日均低于基数存款日均的90%(第十四条第(二)款第1项,降级)[A14-2-DEPOSIT3M]",
    "综合得分≥110分为优秀;①②③;“引号”与『书名号』、【括号】,全角逗号，句号。问号？",
    "The quick brown fox jumps over the lazy dog; WWW MMM mmm www 1234567890 %%% @@@ (((",
    "E10109 E10110 E10111 E10112 E10113 E10114 E10115 E10116 E10117 E10118 E10119",
    "第一行\n第二行较长一些的文字会在窄列里折行\n\n第四行",
    "年度考核时将降级(本期仅预警);年度考核时将解聘(本期仅预警)",
    "round((存量资产EVA18.93×存量资产EVA计提比例0.05 + 增量资产EVA8.17×增量资产EVA计提比例0.1)"
    "×每万元折合元数10000, 2) = 175929.53元",
]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _stress_workbook(path: Path, texts: list[str]) -> list[str]:
    """A sheet per width of one wrapped column, each text tagged, rows as tall as textfit
    says; returns the texts as written (those that fit in a row at their width)."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    wrap = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    written = []
    for width in STRESS_WIDTHS:
        ws = wb.add_worksheet(f"w{width}")
        ws.set_column(0, 0, width, wrap)
        ws.fit_to_pages(1, 0)
        tagged = [f"[{width}-{i}]{t}" for i, t in enumerate(texts)]
        fits = [n <= MAX_LINES for n in line_counts(tagged, width)]
        tagged = [t for t, ok in zip(tagged, fits, strict=True) if ok]
        for r, (text, height) in enumerate(
            zip(tagged, row_heights([(tagged, width)], len(tagged)), strict=True)
        ):
            ws.write_string(r, 0, text)
            if height is not None:
                ws.set_row(r, height)
        written += tagged
    wb.close()
    return written


def _paragraphs(book: Path, wrapped_only: bool = True) -> list[tuple[str, str, str]]:
    """(sheet, cell, paragraph) of every non-blank line of every (wrapped) text cell."""
    out = []
    for ws in openpyxl.load_workbook(book).worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and (c.alignment.wrap_text or not wrapped_only):
                    out += [(ws.title, c.coordinate, p) for p in c.value.split("\n") if p.strip()]
    return out


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict:
    """The sample run's outputs and template (render_pictures.make_outputs), the rule book, a
    summary of three people (small counts) and the stress workbook, printed to PDF."""
    work = tmp_path_factory.mktemp("print")
    books = pictures.make_outputs(work)
    runner = CliRunner()
    rule_book = work / "规则说明.xlsx"
    assert runner.invoke(main, ["rules", "show", "main", "-o", str(rule_book)]).exit_code == 0
    books["rules"] = rule_book
    branches = sorted(books["branch"].parent.glob("*.xlsx"))
    books["other_branch"] = next(b for b in branches if b != books["branch"])
    (work / "small").mkdir()
    small = Inbox(work / "small")
    small.add("一支行.xlsx", [GOOD_HEAD, GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002")])
    small.run()
    books["small_summary"] = work / "small_summary.xlsx"  # a PDF is named after its book
    shutil.copy(small.out / "2026Q3" / "summary.xlsx", books["small_summary"])
    books["stress"] = work / "stress.xlsx"
    texts = list(STRESS_TEXTS)
    for key in ("branch", "summary"):  # every wrapped text the sample run prints
        texts += list(dict.fromkeys(p for _, _, p in _paragraphs(books[key])))
    stress = _stress_workbook(books["stress"], texts)
    keys = list(books)
    pdfs = pictures.to_pdf([books[k] for k in keys], work / "pdf", work / "profile")
    return {"books": books, "pdfs": dict(zip(keys, pdfs, strict=True)), "stress": stress}


def test_libreoffice_renders_every_output_workbook(printed) -> None:
    for key, pdf in printed["pdfs"].items():
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF"), key
        assert data.count(b"/Type /Page") + data.count(b"/Type/Page") >= 1, key


@needs_poppler
@pytest.mark.parametrize("key", ["branch", "other_branch", "summary", "template", "rules"])
def test_text_prints_whole(printed, key: str) -> None:
    """Every line of every text cell (flags, refusal reasons, the grade line, explanations,
    names, roles, the template's 说明) is in the printed text: no row too short for its text,
    no column too narrow for a text that does not wrap, nothing past the page's edge; and a
    text of several lines is always wrapped (else its lines print over each other)."""
    book, pdf = printed["books"][key], printed["pdfs"][key]
    text = _norm(pictures.page_text(pdf))
    paragraphs = _paragraphs(book, wrapped_only=False)
    assert len(_paragraphs(book)) > 10
    cut = [(sheet, cell, p) for sheet, cell, p in paragraphs if _norm(p) not in text]
    assert not cut, f"{book.name}: {len(cut)} cut, e.g. {cut[:3]}"
    for ws in openpyxl.load_workbook(book).worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and "\n" in c.value.strip():
                    assert c.alignment.wrap_text, f"{book.name} {ws.title}!{c.coordinate}"


@needs_poppler
def test_text_of_every_kind_prints_whole_at_every_width(printed) -> None:
    """The measurement itself (write/textfit.py), on the run's texts and harder ones, at every
    column width the outputs use: each tagged text is printed whole."""
    text = _norm(pictures.page_text(printed["pdfs"]["stress"]))
    stress = printed["stress"]
    assert len(stress) > 300
    cut = [t for t in stress if _norm(t) not in text]
    assert not cut, f"{len(cut)} of {len(stress)} texts cut, e.g. {cut[:3]}"


@needs_poppler
def test_template_guide_prints_one_portrait_a4_page_wide(printed) -> None:
    pdf = printed["pdfs"]["template"]
    words = pictures.page_words(pdf)
    guide = [i for i, (_, _, w) in enumerate(words) if "一、填报方法" in "".join(x[4] for x in w)]
    assert guide == [0]
    info = pictures.find_page(pdf, "模板自动填写")  # 基本信息's hint column
    for width, height, page_words in words[:info]:  # 说明 and 基本信息: A4 portrait
        assert (round(width), round(height)) == (595, 842)
        assert max(w[2] for w in page_words) < width - 30  # nothing runs off the right edge
    info_text = "".join(w[4] for w in words[info - 1][2])
    assert "机构号" in info_text and "必填;只能包含字母、数字、-、_" in info_text
    assert "已预填,请勿修改" in info_text  # the hints print beside their labels


@needs_poppler
def test_summary_count_axis_has_whole_number_ticks(printed) -> None:
    """Three people: LibreOffice's own axis would tick at 0.5; the 人数 axis ticks at 1."""
    pdf = printed["pdfs"]["small_summary"]
    page = pictures.page_text(pdf, 1, raw=False)
    assert "全行考核等级分布" in page
    assert not re.search(r"(?<![\d.])\d+\.5(?![\d])", page), page
    ticks = re.findall(r"^\s*(\d+)\s*$", page, re.M)
    assert {"0", "1", "2", "3"} <= set(ticks)


@needs_poppler
def test_guide_pictures_are_small_pngs_of_each_sheet(printed, tmp_path: Path) -> None:
    """The pictures scripts/render_pictures.py makes: each sheet's page found and rendered."""
    pdfs = printed["pdfs"]
    for picture in pictures.PICTURES:
        page = pictures.find_page(pdfs[picture.book], picture.marker)
        png = pictures.render_page(pdfs[picture.book], page, tmp_path / f"{picture.name}.png")
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and 5_000 < len(data) <= pictures.MAX_BYTES
    committed = {p.stem for p in pictures.IMAGES.glob("*.png")}
    assert committed == {p.name for p in pictures.PICTURES}
    assert all(p.stat().st_size <= pictures.MAX_BYTES for p in pictures.IMAGES.glob("*.png"))
