"""The content-hash cache of parsed inputs: a rerun parses only the workbooks that changed."""

from __future__ import annotations

import pytest

from kpi_excel import collect
from tests.conftest import GOOD_SENIOR, person


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The files `read_workbook` parses (in this process: the runs use --jobs 1)."""
    names: list[str] = []
    real = collect.read_workbook

    def counting(path, display, *args, **kwargs):
        names.append(display)
        return real(path, display, *args, **kwargs)

    monkeypatch.setattr(collect, "read_workbook", counting)
    return names


def _three(inbox) -> None:
    for i in range(1, 4):
        rows = [person(GOOD_SENIOR, emp_id=f"E{i}01", name=f"员工{i}")]
        inbox.add(f"b{i}.xlsx", rows, code=f"B00{i}", name=f"第{i}支行")


def test_rerun_parses_only_the_resubmitted_workbook(inbox, parsed) -> None:
    _three(inbox)
    assert inbox.run("--jobs", "1").exit_code == 0
    assert sorted(parsed) == ["b1.xlsx", "b2.xlsx", "b3.xlsx"]
    first = inbox.results()
    parsed.clear()
    inbox.add("b2.xlsx", [person(GOOD_SENIOR, emp_id="E201", name="员工2", conduct_deduction="3")],
              code="B002", name="第2支行")  # fmt: skip
    assert inbox.run("--jobs", "1").exit_code == 0
    assert parsed == ["b2.xlsx"]  # the other two come from the cache
    again = inbox.results()
    assert again["E101"] == first["E101"] and again["E301"] == first["E301"]
    assert float(again["E201"]["total"]) == pytest.approx(float(first["E201"]["total"]) - 3)


def test_a_damaged_cache_entry_is_parsed_again(inbox, parsed) -> None:
    _three(inbox)
    assert inbox.run("--jobs", "1").exit_code == 0
    first = inbox.results()
    entries = sorted((inbox.out / ".cache").glob("*.pkl"))
    assert len(entries) == 3
    entries[0].write_bytes(b"not a pickle")
    parsed.clear()
    assert inbox.run("--jobs", "1").exit_code == 0
    assert len(parsed) == 1
    assert inbox.results() == first
    assert entries[0].read_bytes() != b"not a pickle"  # written anew


def test_a_renamed_workbook_is_read_again_and_its_notes_name_it(inbox, parsed) -> None:
    """Reading notes name the file: a renamed file with the same bytes is not taken from the
    cache entry of its old name (whose notes named the old file)."""
    import openpyxl

    path = inbox.add("旧名.xlsx", [person(GOOD_SENIOR), person(GOOD_SENIOR, emp_id="E002")])
    wb = openpyxl.load_workbook(path)
    wb["考核数据"].row_dimensions[3].hidden = True
    wb.save(path)
    assert inbox.run("--jobs", "1").exit_code == 0
    path.rename(inbox.dir / "新名.xlsx")
    parsed.clear()
    assert inbox.run("--jobs", "1").exit_code == 0
    assert parsed == ["新名.xlsx"]
    report = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert "新名.xlsx 考核数据!A3" in report
    assert "旧名.xlsx" not in report
