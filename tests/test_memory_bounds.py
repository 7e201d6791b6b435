"""Memory that does not grow with the bank: large sheets, text measuring and ledger rows are made
a bounded block at a time, with exactly the result of making them at once."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.ledger import Ledger
from kpi_excel.write import fastsheet, outputs, textfit
from kpi_excel.write.safe import workbook_options
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import write_branch_workbook


def _validated(tmp_path: Path, rows: list[dict]):
    """One workbook of `rows` (branch B001, 2026Q3) read and validated as a run does:
    a function giving a fresh validation each call, the rulebook and the period."""
    from kpi_excel.collect import collect
    from kpi_excel.periods import parse_period
    from kpi_excel.rulebook import load_rulebook
    from kpi_excel.validate import validate

    write_branch_workbook(
        tmp_path / "b.xlsx", branch_code="B001", branch_name="一支行", period="2026Q3", rows=rows
    )
    rules = load_rulebook()
    period = parse_period("2026Q3", rules.calendar)
    got = collect(tmp_path, rules.contract, 1, None, None, None)
    return lambda: validate(got.books, got.refused, period, rules, got.duplicates), rules, period


def _sheet(block: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """A FastSheet with a title, a header, pre-rendered rows, text/number/mixed columns with one
    format per cell (some None), row heights and a usual cell amid the columns."""
    monkeypatch.setattr(fastsheet, "ROWS_PER_BLOCK", block)
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {**workbook_options(), "in_memory": True})
    ws = wb.add_worksheet(worksheet_class=fastsheet.FastSheet)
    plain, bold = wb.add_format({"border": 1}), wb.add_format({"bold": True})
    fills = [wb.add_format({"bg_color": c}) for c in ("#FF0000", "#00FF00", "#0000FF")]
    ws.write_string(0, 0, "标题", bold)
    ws.write_string(2, 1, "表头", plain)
    n = 23
    token = fastsheet.style_token(0)
    rows = [f'<c r="A{r + 1}" s="{token}"><v>{r}</v></c>' for r in range(3, 3 + n)]
    ws.put_rows(3, rows, 0, {token: fills[2]})
    texts = [f"名{i}" if i % 4 else "" for i in range(n)]
    formats = [None if i % 5 == 0 else fills[i % 3] for i in range(n)]
    assert ws.put_column(3, 1, "text", texts, formats)
    assert ws.put_column(
        3, 2, "number", [i / 7 if i % 3 else float("nan") for i in range(n)], plain
    )
    assert ws.put_column(3, 3, "mixed", [i if i % 2 else f"文{i}" for i in range(n)], fills[1])
    ws.write_string(11, 5, "中间的单元格", bold)
    for r in (4, 9, 17, 30):
        ws.set_row(r, 30)
    wb.close()
    with zipfile.ZipFile(buffer) as z:
        parts = {m: z.read(m) for m in ("xl/worksheets/sheet1.xml", "xl/styles.xml")}
    # numbered in order of first use when written at once: rows, columns, then the usual cells
    assert [f.xf_index for f in (fills[2], fills[1], fills[0], plain, bold)] == [1, 2, 3, 4, 5]
    return parts


def test_sheet_written_block_by_block_is_the_sheet_written_at_once(monkeypatch) -> None:
    whole = _sheet(10**9, monkeypatch)
    assert b"<v>25</v>" in whole["xl/worksheets/sheet1.xml"]  # the pre-rendered rows are there
    assert b'<row r="31" ht="30"' in whole["xl/worksheets/sheet1.xml"]  # a row beyond the cells
    for block in (1, 4, 7):
        assert _sheet(block, monkeypatch) == whole


def test_texts_measured_block_by_block_as_at_once(monkeypatch) -> None:
    texts = [
        ("甲乙丙丁" * (i % 9)) + " word" * (i % 4) + ("\n第二行" if i % 6 == 0 else "")
        for i in range(61)
    ]
    texts = [t or "x" for t in texts]
    widths = [6 + i % 11 for i in range(61)]
    whole = (textfit.text_widths(texts), textfit.line_counts(texts, widths))
    assert max(whole[1]) > 1  # some texts wrap
    monkeypatch.setattr(textfit, "MEASURE_CHUNK", 5)
    assert (textfit.text_widths(texts), textfit.line_counts(texts, widths)) == whole
    assert textfit.line_counts(texts, 8.0) == [
        *textfit.line_counts(texts[:30], 8.0),
        *textfit.line_counts(texts[30:], 8.0),
    ]


def _ledger_people(tmp_path: Path, name: str) -> list[tuple]:
    inbox = tmp_path / "inbox"
    out = tmp_path / name
    result = CliRunner().invoke(
        main, ["run", "2026Q3", "--inbox", str(inbox), "--output", str(out), "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    with Ledger(out / "ledger.sqlite") as ledger:
        (run,) = ledger.runs()
        keys = ("emp_id", "branch_code", "name", "role", "status", "total", "grade", "flags")
        keys += ("decided", "outcome", "inputs", "results")
        return [tuple(p[k] for k in keys) for p in ledger.run_people(run.id)]


def test_ledger_rows_are_made_slice_by_slice_as_the_ledger_reads_them(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "inbox").mkdir()
    rows = [person(GOOD_HEAD)] + [
        person(GOOD_SENIOR, emp_id=f"E{i:03d}", deposit_avg=str(1000 + 50 * i)) for i in range(6)
    ]
    write_branch_workbook(
        tmp_path / "inbox" / "b.xlsx",
        branch_code="B001",
        branch_name="一支行",
        period="2026Q3",
        rows=rows,
    )
    whole = _ledger_people(tmp_path, "whole")
    made: list[outputs.LedgerRows] = []
    real = outputs.ledger_rows

    def spy(result, rules):
        made.append(real(result, rules))
        return made[-1]

    monkeypatch.setattr(outputs, "LEDGER_SLICE", 2)
    monkeypatch.setattr(outputs, "ledger_rows", spy)
    sliced = _ledger_people(tmp_path, "sliced")
    assert len(whole) == 7 and [r[0] for r in whole] == ["H001", *(f"E{i:03d}" for i in range(6))]
    assert sliced == whole
    assert len(made) == 1 and len(made[0]) == 7  # not a list: made again when read
    assert not isinstance(made[0], list)
    assert [r["emp_id"] for r in made[0]] == [r[0] for r in whole]


def test_scored_table_holds_one_object_per_distinct_text() -> None:
    """Text columns made per person (np.where, np.select) share one object per distinct value;
    values, missing values, dtypes and the other columns stay exactly as they were."""
    import numpy as np
    import pandas as pd

    from kpi_excel.pipeline import share_repeated_text

    n = 1000
    people = pd.DataFrame(
        {
            "status_label": np.where(np.arange(n) % 3 == 0, "未计分", "已计分"),
            "name": [f"员工{i}" for i in range(n)],
            "remarks": pd.array(["备注" if i % 2 else None for i in range(n)], dtype="str"),
            "total": np.arange(n) / 7,
            "flag:X": [True if i % 4 else None for i in range(n)],
        }
    )
    before = people.copy()
    assert len({id(v) for v in people["status_label"].tolist()}) == n
    out = share_repeated_text(people)
    pd.testing.assert_frame_equal(out, before, check_exact=True)
    assert list(out.dtypes) == list(before.dtypes)
    assert len({id(v) for v in out["status_label"].tolist()}) == 2
    assert out["status_label"].tolist()[:4] == ["未计分", "已计分", "已计分", "未计分"]
    assert len({id(v) for v in out["name"].tolist()}) == n
    assert out["remarks"].isna().sum() == 500
    assert out["flag:X"].tolist()[:2] == [None, True]


def test_a_run_with_nobody_refused_scores_into_the_table_the_concat_would_give(
    tmp_path: Path,
) -> None:
    """With nobody refused, `evaluate` makes the scored table without copying it; it is the very
    table `pd.concat` of the scored and the (no) refused people gives: values, column types
    (integers as floats, flags as objects) and each value's Python type."""
    import pandas as pd

    from kpi_excel.pipeline import evaluate, score_people

    rows = [person(GOOD_HEAD)] + [
        person(GOOD_SENIOR, emp_id=f"E{i:03d}", deposit_avg=str(700 + 90 * i)) for i in range(6)
    ]
    validated, rules, period = _validated(tmp_path, rows)

    v = validated()
    assert not v.people["refused"].any()
    people = v.people
    expected = pd.concat(
        [score_people(people, rules, period), people[people["refused"]]], sort=False
    )
    expected["refused"] = expected["refused"].astype(bool)
    scored = evaluate(validated(), rules, period)
    assert len(v.people) == 7
    assert scored["total_units"].dtype == expected["total_units"].dtype == "float64"
    assert expected["flag:A14-1-SCORE"].dtype == object
    pd.testing.assert_frame_equal(scored[expected.columns], expected, check_exact=True)
    for c in expected.columns:
        assert [type(x) for x in scored[c]] == [type(x) for x in expected[c]], c


def test_writers_that_cannot_start_leave_no_table_behind(monkeypatch) -> None:
    """A pool of writer processes that cannot start (no /dev/shm, no file descriptors) raises,
    and leaves neither the scored table in the module nor the collector frozen."""
    import gc
    import multiprocessing as mp
    from types import SimpleNamespace

    import pandas as pd

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("the forked writers only")

    class Broken:
        def __init__(self, *args, **kwargs) -> None:
            raise OSError("no /dev/shm")

    monkeypatch.setattr(outputs, "ProcessPoolExecutor", Broken)
    files = [f"f{i}.xlsx" for i in range(outputs.PARALLEL_MIN_BRANCHES)]
    jobs = [[("path", f, "title", None, None) for f in files]]
    result = SimpleNamespace(people=pd.DataFrame({"_file": files}), period=None)
    assert gc.get_freeze_count() == 0
    with pytest.raises(OSError, match="/dev/shm"):
        outputs._write_branches(jobs, result, None, 2, lambda: None)
    assert gc.get_freeze_count() == 0
    assert outputs._SHARED == {}


def test_the_scorers_figures_are_kept_as_int64_where_they_fit() -> None:
    """An exact figure whose numerators and denominators fit in int64 is kept as two int64
    arrays and handed out as Python ints, the same value each time, in a new column each time
    (the arithmetic changes columns in place); one that does not fit is kept as it is."""
    import importlib

    import numpy as np
    import pandas as pd

    from kpi_excel.exact import Q

    score = importlib.import_module("kpi_excel.score")
    fig = score.Figures(pd.DataFrame({"a": [1.25, None, 3.0]}))
    first = fig["a"]
    assert isinstance(fig.values["a"], score._Packed)
    assert fig.values["a"].n.dtype == np.int64
    assert first.n.tolist() == [125, 0, 3] and first.d.tolist() == [100, 1, 1]
    assert first.na.tolist() == [False, True, False] and first.n.dtype == object
    first.put(np.array([0]), Q.from_floats([9.0]))
    assert fig["a"].n.tolist() == [125, 0, 3]  # the kept figure is not changed through it
    huge = Q(np.array([10**30, 1], dtype=object), np.array([1, 3], dtype=object),
             np.array([False, False]))  # fmt: skip
    fig["huge"] = huge
    assert fig.values["huge"] is huge and fig["huge"].n.tolist() == [10**30, 1]


def test_words_made_per_person_are_one_object_per_value_when_made(tmp_path) -> None:
    """The outcome, action, flag codes and status of every person are made as one object per
    distinct value (the scoring's peak held a copy per person until share_repeated_text), with
    the values and column types an np.where gives."""
    import numpy as np

    from kpi_excel.memory import one_object_per_value
    from kpi_excel.pipeline import evaluate

    words = np.where(np.arange(7) % 3 == 0, "未计分", "已计分")
    shared = one_object_per_value(words)
    assert shared.dtype == object and shared.tolist() == words.tolist()
    assert len({id(v) for v in shared.tolist()}) == 2
    assert one_object_per_value(np.array([], dtype="<U1")).dtype == object

    rows = [person(GOOD_HEAD)] + [
        person(GOOD_SENIOR, emp_id=f"E{i:03d}", deposit_avg=str(200 + 90 * i)) for i in range(9)
    ]
    validated, rules, period = _validated(tmp_path, rows)
    out = evaluate(validated(), rules, period)
    for column in ("outcome", "action", "flags", "decided", "status_label"):
        values = out[column].tolist()
        assert len({id(v) for v in values}) == len(set(values)), column
        assert str(out[column].dtype) == "str", column
    assert set(out["outcome"]) == {"正常", "预警"}
    assert set(out["status_label"]) == {"已计分"}
    flags = out["flags"].tolist()
    assert flags[0] == "" and flags[1:] == ["A14-2-SCORE70?;A14-2-SCORE85?"] * 9


def test_flag_sentences_made_slice_by_slice_are_those_made_at_once(tmp_path, monkeypatch) -> None:
    """flags_text is made FLAG_LINES_SLICE people at a time; each person's lines are the same."""
    from kpi_excel import explain
    from kpi_excel.pipeline import evaluate

    rows = [person(GOOD_HEAD, deposit_avg="100")] + [
        person(GOOD_SENIOR, emp_id=f"E{i:03d}", deposit_avg=str(200 + 300 * i), npl_balance=str(i))
        for i in range(6)
    ]
    validated, rules, period = _validated(tmp_path, rows)
    people = evaluate(validated(), rules, period)
    whole = explain.flags_text(people, rules, period).tolist()
    monkeypatch.setattr(explain, "FLAG_LINES_SLICE", 2)
    assert explain.flags_text(people, rules, period).tolist() == whole
    assert whole == people["flags_text"].tolist()
    assert sum(text.count("\n") + 1 for text in whole if text) >= 8  # several lines, some rows
    assert whole[1] == (
        "客户经理综合得分过低(A14-2-SCORE70):综合得分70分(含)以下(第十四条第(二)款第4项),"
        "本人综合得分60.00分;年度考核时将解聘(本期仅预警)\n"
        "客户经理综合得分未达标(A14-2-SCORE85):综合得分85分(含)以下(第十四条第(二)款第3项),"
        "本人综合得分60.00分;年度考核时将降级(本期仅预警)"
    )


def test_large_blocks_are_given_back_to_the_system() -> None:
    """On Linux (glibc) a run fixes malloc's mmap threshold, so that the freed columns of one
    table go back to the system instead of staying with the process (memory.py)."""
    import sys

    from kpi_excel.memory import release_large_blocks

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc only")
    assert release_large_blocks() is True
    assert release_large_blocks() is True  # once per process; asking again is harmless


def test_results_csv_made_slice_by_slice_is_the_file_made_at_once(tmp_path, monkeypatch) -> None:
    """results.csv is made RESULTS_SLICE people at a time; the file is the same byte for byte,
    with a formula-like name in one slice only and a refused person in another."""
    from kpi_excel.write import export

    (tmp_path / "inbox").mkdir()
    rows = [person(GOOD_HEAD, name="@张三")] + [
        person(GOOD_SENIOR, emp_id=f"E{i:03d}", deposit_avg=str(1000 + 70 * i), name=f"员工{i}")
        for i in range(6)
    ]
    rows[5]["npl_balance"] = "-1"  # refused: blank figures and its reason
    write_branch_workbook(
        tmp_path / "inbox" / "b.xlsx", branch_code="B001", branch_name="一支行",
        period="2026Q3", rows=rows,
    )  # fmt: skip

    def results(out: str) -> bytes:
        args = ["run", "2026Q3", "--inbox", str(tmp_path / "inbox"), "--output"]
        assert CliRunner().invoke(main, [*args, str(tmp_path / out)]).exit_code in (0, 1)
        return (tmp_path / out / "2026Q3" / "results.csv").read_bytes()

    whole = results("whole")
    monkeypatch.setattr(export, "RESULTS_SLICE", 2)
    assert results("sliced") == whole
    text = whole.decode("utf-8-sig")
    assert "'@张三" in text and ",rejected," in text
    assert text.count("\r\n") == 8  # the header and 7 people
