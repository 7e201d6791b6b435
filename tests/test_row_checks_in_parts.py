"""The row checks open the workbooks a part at a time (`validate.ROWS_PER_PART`) so that a
national bank's cells as read are never all in memory; the outcome must be the one of a single
pass over every row: the same typed table (values, column types, the Python type of each value,
column order, index), the same refusals and reasons, and the same problems. The checks that read
more than one workbook (a 员工编号 used in two branches, a plausibility condition averaging over
the whole bank) run over the whole run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kpi_excel import rowchecks
from kpi_excel.collect import collect
from kpi_excel.periods import parse_period
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from kpi_excel.validate import validate
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import write_branch_workbook

# A bank-wide peer average: a part of the run alone would see another average.
BANK_AVERAGE_CHECK = """plausibility:
  - label: 远高于全行同组平均
    field: deposit_avg
    when: "deposit_avg > 3 * AVG(deposit_avg BY 组别)"
    message: 超过全行同组平均的3倍
"""


@pytest.fixture
def run(tmp_path: Path):
    rules_path = tmp_path / "rules.yaml"
    text = default_rulebook_path().read_text(encoding="utf-8")
    assert text.count("\nplausibility:\n") == 1
    rules_path.write_text(
        text.replace("\nplausibility:\n", "\n" + BANK_AVERAGE_CHECK, 1), encoding="utf-8"
    )
    rules = load_rulebook(rules_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    books = {
        # remarks filled; E003 is also used by 第四支行; a number typed as text in 贷款余额 (a
        # later field than b.xlsx's 本期存款日均: one pass notes b.xlsx's first)
        "a.xlsx": [
            person(GOOD_HEAD, remarks="按时提交", loan_balance="1,000"),
            person(GOOD_SENIOR, emp_id="E002"),
            person(GOOD_SENIOR, emp_id="E003", name="王五"),
        ],
        # no remarks column; every 岗位 unknown (no 组别 in this workbook at all); a number with
        # more digits than a double holds (the exact text is kept)
        "b.xlsx": [
            person(GOOD_SENIOR, emp_id="E101", role="柜员"),
            person(GOOD_SENIOR, emp_id="E102", role="柜员", deposit_avg="1,300.00000000000000001"),
        ],
        # a formula without a value, a number typed as text, a negative figure
        "c.xlsx": [
            person(GOOD_SENIOR, emp_id="E201", deposit_avg="=1+1"),
            person(GOOD_SENIOR, emp_id="E202", loan_balance="1,000"),
            person(GOOD_SENIOR, emp_id="E203", npl_balance="-5"),
        ],
        # E003 again (refused for a negative figure too), and a deposit far above the bank's average of the group
        "d.xlsx": [
            person(GOOD_SENIOR, emp_id="E003", name="赵六", npl_balance="-1"),
            person(GOOD_SENIOR, emp_id="E302", deposit_avg="90000"),
            person(GOOD_SENIOR, emp_id="E303", remarks="备注"),
        ],
        "e.xlsx": [],  # a header and no rows: its part has no rows at all
    }
    for i, (file, rows) in enumerate(books.items(), start=1):
        write_branch_workbook(
            inbox / file,
            branch_code=f"B00{i}",
            branch_name=f"第{i}支行",
            period="2026Q3",
            rows=rows,
        )
    got = collect(inbox, rules.contract, 1, None, None, None)
    assert [b.file for b in got.books] == list(books)
    period = parse_period("2026Q3", rules.calendar)

    def validated(rows_per_part: int):
        return validate(got.books, got.refused, period, rules, got.duplicates, rows_per_part)

    return validated


def _parts(monkeypatch, run, rows_per_part: int):
    """The validation, the books of each part it opened and the parts' outcomes."""
    calls, parts = [], []
    real = rowchecks.check_part

    def counted(frame, books, rules):
        calls.append([b.file for b in books])
        parts.append(real(frame, books, rules))
        return parts[-1]

    monkeypatch.setattr("kpi_excel.validate.check_part", counted)
    return run(rows_per_part), calls, parts


@pytest.mark.parametrize("rows_per_part", [1, 5])
def test_parts_give_the_typed_table_of_one_pass(monkeypatch, run, rows_per_part) -> None:
    whole, one, [single] = _parts(monkeypatch, run, 10**9)
    parted, calls, _ = _parts(monkeypatch, run, rows_per_part)
    assert one == [["a.xlsx", "b.xlsx", "c.xlsx", "d.xlsx", "e.xlsx"]]
    if rows_per_part == 1:
        assert calls == [["a.xlsx"], ["b.xlsx"], ["c.xlsx"], ["d.xlsx"], ["e.xlsx"]]
    else:
        assert calls == [["a.xlsx", "b.xlsx"], ["c.xlsx", "d.xlsx"], ["e.xlsx"]]
    # one pass finds its problems in the order of their ranks (which put the parts' in order)
    assert len(single.ranks) == len(single.problems) >= 8
    assert single.ranks == sorted(single.ranks)
    a, b = whole.people, parted.people
    assert isinstance(b.index, pd.RangeIndex) and b.index.equals(pd.RangeIndex(11))
    assert list(b.columns) == list(a.columns)
    pd.testing.assert_frame_equal(b, a, check_exact=True)
    for c in a.columns:
        assert [type(x) for x in b[c]] == [type(x) for x in a[c]], c
    # what the parts disagreed on, typed as over the whole run
    assert str(a["remarks"].dtype) == "str" and str(a["group"].dtype) == "str"
    assert a["_exact:deposit_avg"].tolist().count("1300.00000000000000001") == 1
    assert str(a["_row"].dtype) == "int64"  # an empty workbook's rows are not floats


@pytest.mark.parametrize("rows_per_part", [1, 5])
def test_parts_give_the_refusals_and_problems_of_one_pass(run, rows_per_part) -> None:
    whole, parted = run(10**9), run(rows_per_part)
    people = parted.people.set_index("emp_id")
    refused = people.index[people["refused"]].tolist()
    assert refused == ["E003", "E101", "E102", "E201", "E203", "E003"]
    assert parted.people["errors"].tolist() == whole.people["errors"].tolist()
    # a reason of the row's own checks, then the duplicate found over the whole run
    assert parted.people["errors"].iat[8] == (
        "d.xlsx 考核数据!G2「不良贷款余额」不能为负数,实际为「-1」; "
        "d.xlsx 考核数据!A2「员工编号」「E003」在本次考核中重复,另见 a.xlsx 考核数据!A4"
    )
    problems = parted.problems
    dup = problems[problems["check"] == "emp-duplicate"]
    assert dup["file"].tolist() == ["a.xlsx", "d.xlsx"]
    assert dup["value"].tolist() == ["E003", "E003"]
    assert dup["row"].tolist() == [2, 8]
    far = problems[problems["check"] == "implausible"]
    assert far["file"].tolist() == ["d.xlsx"] and far["cell"].tolist() == ["E3"]
    assert far["value"].tolist() == ["90000"]
    # the same problems in the same order (one pass: check by check, then by row)
    key = ["file", "sheet", "cell", "column", "check", "value", "message", "row"]
    assert problems[key].values.tolist() == whole.problems[key].values.tolist()
    numbers_as_text = problems[problems["check"] == "text-number"]
    assert numbers_as_text[["file", "cell"]].values.tolist() == [
        ["b.xlsx", "E3"], ["a.xlsx", "F2"], ["c.xlsx", "F3"]
    ]  # fmt: skip
    assert [b.file for b in parted.accepted][-1] == "e.xlsx"  # accepted, with nobody to check
