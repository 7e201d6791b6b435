"""Every output workbook opens and prints in a real spreadsheet client (LibreOffice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_workbooks" / "2026Q3"

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed"
)


def test_libreoffice_renders_every_output_workbook(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    runner.invoke(main, ["run", "2026Q3", "--inbox", str(SAMPLES), "--output", str(out)])
    template = tmp_path / "模板.xlsx"
    assert runner.invoke(main, ["template", "2026Q3", "-o", str(template)]).exit_code == 0
    rule_book = tmp_path / "规则说明.xlsx"
    assert runner.invoke(main, ["rules", "show", "main", "-o", str(rule_book)]).exit_code == 0
    books = [
        template,
        rule_book,
        out / "2026Q3" / "summary.xlsx",
        *sorted((out / "2026Q3" / "branches").glob("*.xlsx"))[:2],
    ]
    pdfs = tmp_path / "pdf"
    profile = tmp_path / "profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(pdfs), *map(str, books)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    for book in books:
        pdf = pdfs / (book.stem + ".pdf")
        assert pdf.exists(), f"LibreOffice could not render {book.name}"
        data = pdf.read_bytes()
        assert (
            data.startswith(b"%PDF") and data.count(b"/Type /Page") + data.count(b"/Type/Page") >= 1
        )
