"""Issue 12, part 1: good workbooks transformed the way real producers write them (zip names with
backslashes, the workbook part elsewhere, LibreOffice's full-column dimensions, styled empty cells
to XFD, a wide pivot sheet, __MACOSX entries, UTF-16 customXml, Excel 4.0 macro sheets, chart
sheets) are scored exactly like the originals, and the input file is never modified."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from kpi_excel.guard import check_container
from kpi_excel.read import read_workbook, sheet_is_read
from kpi_excel.rulebook import load_rulebook
from tests.support import hostile as H
from tests.support import producers as PR

SAMPLE = Path(__file__).resolve().parents[1] / "sample_workbooks" / "2026Q3" / "城东支行.xlsx"
NAME = "城东支行.xlsx"


def _run(inbox, data: bytes) -> tuple[dict[str, dict], list[dict]]:
    (inbox.dir / NAME).write_bytes(data)
    result = inbox.run()
    assert "Traceback" not in result.output
    return inbox.results(), inbox.rejected()


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[bytes, dict[str, dict]]:
    from tests.conftest import Inbox

    data = SAMPLE.read_bytes()
    rows, rejected = _run(Inbox(tmp_path_factory.mktemp("original")), data)
    assert rejected == [] and len(rows) >= 10
    assert {r["status"] for r in rows.values()} >= {"scored"}
    return data, rows


# the mutations python-calamine reads as they are, and those it needs rebuilt in memory for
AS_IS = {"backslash-names", "workbook-at-root", "full-column-dimension", "styled-empty-cells-to-XFD",
         "wide-pivot-sheet", "macosx-entries", "utf16-customXml", "chart-sheet"}  # fmt: skip
REBUILT = {"workbook-moved", "dot-relative-targets", "macro-sheets", "all-at-once"}


@pytest.mark.parametrize("mutation", list(PR.MUTATIONS))
def test_a_producers_layout_is_scored_exactly_like_the_original(inbox, original, mutation) -> None:
    data, want = original
    mutated = H.build_zip(PR.MUTATIONS[mutation](H.members(data)))
    assert mutated != data
    digest = hashlib.sha256(mutated).hexdigest()
    rows, rejected = _run(inbox, mutated)
    assert rejected == []
    assert rows == want  # every column of every person, as results.csv has it
    assert hashlib.sha256((inbox.dir / NAME).read_bytes()).hexdigest() == digest  # untouched
    container = check_container(mutated, NAME, wanted=sheet_is_read)
    assert container.normalised == (mutation in REBUILT)
    assert set(container.sheets) == {"基本信息", "考核数据"}  # only the sheets read are scanned


def test_every_mutation_is_classified() -> None:
    assert AS_IS | REBUILT == set(PR.MUTATIONS) and not AS_IS & REBUILT


def test_a_rebuilt_workbook_keeps_the_names_and_order_of_its_sheets(tmp_path) -> None:
    parts = PR.macro_sheets(PR.chart_sheet(H.members(SAMPLE.read_bytes())))
    path = tmp_path / NAME
    path.write_bytes(H.build_zip(PR.workbook_moved(parts)))
    container = check_container(path.read_bytes(), NAME, wanted=sheet_is_read)
    assert container.sheet_names == ["基本信息", "考核数据", "图表1", "Macro1", "Macro2", "Dialog1"]
    book = read_workbook(path, NAME, load_rulebook().contract)
    assert book.info["branch_code"].value == "B002" and len(book.frame) >= 10


def test_a_missing_sheet_names_the_sheets_the_workbook_has(inbox) -> None:
    parts = H.members(SAMPLE.read_bytes())
    wb = parts["xl/workbook.xml"].replace("考核数据".encode(), "数据".encode())
    (inbox.dir / NAME).write_bytes(H.build_zip(PR.macro_sheets({**parts, "xl/workbook.xml": wb})))
    inbox.run()
    assert inbox.rejected() == [
        {
            "file": NAME,
            "reason": f"{NAME} 缺少工作表「考核数据」,请使用标准模板"
            "(工作簿中的工作表:「基本信息」、「数据」、「Macro1」、「Macro2」、「Dialog1」)",
        }
    ]


def test_values_far_out_in_a_sheet_read_still_refuse_it(inbox, tmp_path) -> None:
    path = tmp_path / NAME
    shutil.copy(SAMPLE, path)
    H.edit_sheet(path, "考核数据", lambda x: H.add_cells(x, H.cell_xml("XFD200000")))
    parts = PR.styled_empty_cells(PR.wide_sheet(H.members(path.read_bytes())))
    _, rejected = _run(inbox, H.build_zip(parts))
    assert rejected == [
        {
            "file": NAME,
            "reason": f"{NAME} 无法读取:工作表「考核数据」的单元格 XFD200000 位于第 200,000 行,"
            "超过上限 100,000 行,不予读取",
        }
    ]
