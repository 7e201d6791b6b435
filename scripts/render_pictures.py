"""Pictures of the outputs as LibreOffice prints them, for the clerks' guide: docs/images/*.png.

python scripts/render_pictures.py          # rewrite docs/images/ from the sample run

Runs `kpi-excel run 2026Q3` on sample_workbooks/2026Q3, writes the 2026Q3 template, prints the
workbooks to PDF with LibreOffice (`soffice --headless --convert-to pdf`) and turns the first
page of each sheet shown below into a PNG (`pdftoppm`), cut to the printed area (the page's
words, its header and footer left out). Needs LibreOffice and poppler-utils; the pictures in the
repository were made with LibreOffice 7.4, Carlito (metric-compatible with Calibri, as
LibreOffice ships on Windows) and WenQuanYi Micro Hei. tests/test_libreoffice.py uses the same
steps to check what the outputs look like in print.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpi_excel.cli import main  # noqa: E402

SAMPLES = ROOT / "sample_workbooks" / "2026Q3"
IMAGES = ROOT / "docs" / "images"
PERIOD = "2026Q3"
BRANCH = "B002_城东支行"  # refused rows, a warning: a branch head's usual questions
MAX_BYTES = 150_000  # each picture
DPI = 80  # pictures at this resolution, lower when one would be larger than MAX_BYTES


@dataclass(frozen=True)
class Picture:
    """One picture: the first page of `book` whose text holds `marker` (its top `height`
    points of print, if given)."""

    name: str
    book: str  # key of `make_outputs`
    marker: str
    height: float | None = None


PICTURES = [
    Picture("branch_results", "branch", "客户经理考核结果"),
    Picture("branch_explain", "branch", "计分说明", height=330),
    Picture("branch_raw", "branch", "表原样内容"),
    Picture("summary_totals", "summary", "全行考核汇总"),
    Picture("summary_flags", "summary", "第十四条预警与处理"),
    Picture("summary_branch", "summary", "城东支行(B002)"),
    Picture("template_guide", "template", "一、填报方法"),
    Picture("template_info", "template", "模板自动填写"),
    Picture("template_data", "template", f"{PERIOD}客户经理考核数据"),  # the page header
]


def make_outputs(work: Path) -> dict[str, Path]:
    """The sample run's outputs and the template, written under `work`."""
    runner = CliRunner()
    out = work / "out"
    result = runner.invoke(main, ["run", PERIOD, "--inbox", str(SAMPLES), "--output", str(out)])
    summary = out / PERIOD / "summary.xlsx"
    if not summary.exists():
        raise RuntimeError(f"the sample run wrote no summary: {result.output}")
    template = work / f"模板_{PERIOD}.xlsx"
    result = runner.invoke(main, ["template", PERIOD, "-o", str(template)])
    if result.exit_code != 0:
        raise RuntimeError(f"template failed: {result.output}")
    return {
        "branch": out / PERIOD / "branches" / f"{BRANCH}.xlsx",
        "summary": summary,
        "template": template,
    }


def to_pdf(books: list[Path], outdir: Path, profile: Path, timeout: int = 300) -> list[Path]:
    """Print `books` to PDF with LibreOffice in one run (its own profile under `profile`); each
    PDF is named after its book, so their names must differ."""
    if len({book.stem for book in books}) < len(books):
        raise ValueError("to_pdf: two books of the same name")
    soffice = shutil.which("soffice")
    if soffice is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(outdir), *map(str, books)],
        check=True, capture_output=True, timeout=timeout,
    )  # fmt: skip
    pdfs = [outdir / f"{book.stem}.pdf" for book in books]
    missing = [p.name for p in pdfs if not p.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice wrote no {', '.join(missing)}")
    return pdfs


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def page_text(pdf: Path, page: int | None = None, raw: bool = True) -> str:
    """The text of one page (1-based) or of all pages; `raw` keeps the order of the content
    stream, in which LibreOffice puts the lines of a cell one after the other."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    mode = ["-raw"] if raw else ["-layout"]
    return subprocess.run(
        ["pdftotext", *mode, *pages, str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


_WORD_RE = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)
_PAGE_RE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
MARGIN = 12.0  # points around the printed area (its words)
FRAME = 30.0  # points more to the right and below: a chart's frame reaches past its words
BAND = 30.0  # points at the top and bottom of a page: the page header and footer


def page_words(
    pdf: Path,
) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """Each page's (width, height, words with their boxes in points)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [
        (float(w), float(h), [(*map(float, m[:4]), m[4]) for m in _WORD_RE.findall(body)])
        for w, h, body in _PAGE_RE.findall(html)
    ]


def find_page(pdf: Path, marker: str) -> int:
    """The first page (1-based) whose text holds `marker` (spaces ignored)."""
    for i, (_, _, words) in enumerate(page_words(pdf), start=1):
        if marker in "".join(word for *_, word in words):
            return i
    raise LookupError(f"{marker!r} is on no page of {pdf.name}")


def render_page(
    pdf: Path, page: int, png: Path, height: float | None = None, dpi: int = DPI
) -> Path:
    """`page` of `pdf` as `png`, cut to its printed area (its top `height` points, if given),
    at the highest resolution up to `dpi` that keeps the file under MAX_BYTES."""
    width, page_height, words = page_words(pdf)[page - 1]
    body = [w for w in words if BAND < w[1] and w[3] < page_height - BAND] or words
    left = max(0.0, min(w[0] for w in body) - MARGIN)
    top = max(0.0, min(w[1] for w in body) - MARGIN)
    right = min(width, max(w[2] for w in body) + MARGIN + FRAME)
    bottom = min(page_height - BAND, max(w[3] for w in body) + MARGIN + FRAME)
    if height is not None:
        bottom = min(bottom, top + height)
    for resolution in range(dpi, 39, -10):
        scale = resolution / 72
        box = [round(left * scale), round(top * scale)]
        box += [round((right - left) * scale), round((bottom - top) * scale)]
        subprocess.run(
            ["pdftoppm", "-png", "-singlefile", "-r", str(resolution), "-f", str(page),
             "-l", str(page), "-x", str(box[0]), "-y", str(box[1]), "-W", str(box[2]),
             "-H", str(box[3]), str(pdf), str(png.with_suffix(""))],
            check=True, capture_output=True,
        )  # fmt: skip
        if png.stat().st_size <= MAX_BYTES:
            return png
    raise RuntimeError(f"{png.name} is larger than {MAX_BYTES} bytes even at 40 dpi")


def render_pictures(work: Path, images: Path) -> list[Path]:
    """Make the sample outputs under `work` and their pictures in `images`."""
    books = make_outputs(work)
    keys = list(books)
    printed = to_pdf([books[k] for k in keys], work / "pdf", work / "profile")
    pdfs = dict(zip(keys, printed, strict=True))
    images.mkdir(parents=True, exist_ok=True)
    written = []
    for picture in PICTURES:
        pdf = pdfs[picture.book]
        page = find_page(pdf, picture.marker)
        written.append(render_page(pdf, page, images / f"{picture.name}.png", picture.height))
    return written


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for path in render_pictures(Path(tmp), IMAGES):
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1000} KB)")
