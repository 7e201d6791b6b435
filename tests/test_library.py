"""kpi-excel as a library: a DataFrame scored under a rulebook gives the same people, problems
and results.csv rows as a run over the same rows in a workbook."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kpi_excel
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import LABELS, REQUIRED, _cell_value, vector_rows
from tests.test_vectors import ERROR_TAGS, NUMBERS, RATIOS, TEXTS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
BRANCH = {"branch_code": "B001", "branch_name": "第一支行"}


def _cells(rows: list[dict]) -> pd.DataFrame:
    """The rows as the tidy workbook of `Inbox.add` holds them: the same columns in the same
    order (so the same cells), decimal text as numbers."""
    present = {k for row in rows for k in row if k in LABELS}
    keys = [k for k in LABELS if k in present or k in REQUIRED]
    return pd.DataFrame([{k: _cell_value(k, row.get(k)) for k in keys} for row in rows])


def _score(frame: pd.DataFrame, period: str = "2026Q3", **kw) -> kpi_excel.Scored:
    return kpi_excel.score(frame, period, **{**BRANCH, **kw})


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_frame_keyed_by_field_keys_is_scored() -> None:
    rows = [GOOD_SENIOR, person(GOOD_HEAD, mid_income="130")]
    scored = _score(pd.DataFrame(rows))
    r = scored.results.set_index("emp_id")
    columns = ["status", "score_deposit", "business_score", "total", "grade"]
    assert r.loc["E001", columns].tolist() == ["scored", "40.00", "100.00", "100.00", "良好"]
    assert r.loc["H001", ["mid_income_growth", "score_income", "total"]].tolist() == [
        "0.3", "15.00", "105.00",  # S4 = 10 + (30 - 20) / 2
    ]  # fmt: skip
    assert list(scored.results.columns)[:3] == ["period", "branch_code", "branch_name"]
    assert r.loc["E001", "period"] == "2026Q3" and r.loc["E001", "branch_name"] == "第一支行"
    people = scored.people.set_index("emp_id")
    assert people.loc["E001", "deposit_growth"] == pytest.approx(0.3)
    assert people.loc["H001", "group"] == "heads" and not people["refused"].any()
    # text numbers are read as numbers and noted, as text cells of a workbook are
    assert set(scored.problems["check"]) == {"text-number"}
    assert set(scored.problems["level"]) == {"note"}


def test_a_frame_with_chinese_labels_full_width_and_units_scores_as_by_keys() -> None:
    by_key = _cells([GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002", deposit_avg="1200")])
    labels = {k: LABELS[k] for k in by_key.columns}
    labels["deposit_base"] = "基数存款日均（万元）"  # full-width brackets
    labels["deposit_avg"] = " 本期存款日均 "  # no unit, padded
    labels["new_accounts"] = "新开对公基本账户\u3000(个)"
    by_label = by_key.rename(columns=labels)
    assert "deposit_base" not in by_label.columns
    a, b = _score(by_key).results, _score(by_label).results
    pd.testing.assert_frame_equal(a, b)
    assert b["total"].tolist() == ["100.00", "80.00"]  # growth 20%: S1 = 20
    assert _score(by_label).problems.empty  # numbers as numbers: nothing to note


def test_a_refused_row_reads_exactly_as_through_the_cli(inbox) -> None:
    rows = [GOOD_SENIOR, person(GOOD_SENIOR, emp_id="E002", deposit_avg="约1300")]
    inbox.add("b.xlsx", rows)
    assert inbox.run().exit_code == 1
    cli = _csv(inbox.out / "2026Q3" / "results.csv")
    message = "b.xlsx 考核数据!E3「本期存款日均」应为数字,实际为「约1300」"
    assert cli[1]["errors"] == message

    named = _score(_cells(rows), source="b.xlsx")  # named as the CLI names the workbook
    assert named.results.to_dict("records") == cli
    scored = _score(_cells(rows))  # by default: file <DataFrame>, the cell as in a workbook
    lib = scored.results.to_dict("records")
    assert lib[1]["status"] == "rejected" and lib[1]["total"] == ""
    assert lib[1]["errors"] == message.replace("b.xlsx", "<DataFrame>")
    problem = scored.problems.iloc[0].to_dict()
    assert problem == {
        "file": "<DataFrame>", "sheet": "考核数据", "cell": "E3", "row": 1,
        "column": "本期存款日均", "check": "number-invalid", "value": "约1300",
        "level": "refuse_row", "message": message.replace("b.xlsx", "<DataFrame>"),
    }  # fmt: skip
    assert scored.people["refused"].tolist() == [False, True]
    assert scored.people.loc[1, "errors"] == lib[1]["errors"]


@pytest.mark.parametrize("name", ["vectors_Q3.csv", "vectors_FY.csv"])
def test_public_vectors_give_the_clis_results_csv(inbox, name: str) -> None:
    period = "2026" + name.split("_")[1].split(".")[0]
    rows = vector_rows(DATA / name)
    inbox.add("b.xlsx", rows, period=period)
    inbox.run(period=period)
    cli = _csv(inbox.out / period / "results.csv")

    frame = _cells(rows)
    scored = _score(frame, period, source="b.xlsx")
    assert scored.results.to_dict("records") == cli
    got = {r["emp_id"]: r for r in scored.results.to_dict("records")}
    assert len(got) == len(rows) and any(r["status"] == "rejected" for r in got.values())
    mismatches = []
    for row in rows:
        r = got[row["emp_id"]]
        for col in TEXTS:
            if r[col] != row[f"expected_{col}"]:
                mismatches.append((row["emp_id"], col, r[col], row[f"expected_{col}"]))
        if row["expected_status"] == "rejected":
            assert ERROR_TAGS[row["expected_errors"]] in r["errors"], (row["emp_id"], r["errors"])
            continue
        expected = {c: row[f"expected_{c}"] for c in NUMBERS}
        expected["conduct_deduction"] = row["expected_conduct_deduction_out"]
        for col, want in expected.items():
            if (Decimal(r[col]) if r[col] else None) != (Decimal(want) if want else None):
                mismatches.append((row["emp_id"], col, r[col], want))
        for col in RATIOS:
            a, b = r[col], row[f"expected_{col}"]
            if (a == "") != (b == "") or (
                a and abs(float(a) - float(b)) > 1e-12 * max(1, abs(float(b)))
            ):
                mismatches.append((row["emp_id"], col, a, b))
    assert mismatches == []


def test_branches_per_row_rank_within_each_branch() -> None:
    frame = pd.DataFrame(
        [
            {**GOOD_SENIOR, "机构号": "B001", "机构名称": "一支行"},
            {
                **GOOD_SENIOR,
                "emp_id": "E002",
                "deposit_avg": "1200",
                "机构号": "B002",
                "机构名称": "二支行",
            },
            {**GOOD_SENIOR, "emp_id": "E003", "deposit_avg": "1250", "机构号": None},
        ]
    )
    scored = kpi_excel.score(frame, "2026Q3", branch_code="B002", branch_name="二支行")
    r = scored.results
    assert r["branch_code"].tolist() == ["B001", "B002", "B002"]
    assert r["branch_name"].tolist() == ["一支行", "二支行", "二支行"]
    assert r["rank_branch"].tolist() == ["1", "2", "1"]
    assert r["rank_bank"].tolist() == ["1", "3", "2"]


def test_missing_columns_and_branches_are_refused_in_chinese() -> None:
    frame = pd.DataFrame([GOOD_SENIOR]).drop(columns=["deposit_base", "collected_amount"])
    with pytest.raises(kpi_excel.FrameRefused) as exc:
        _score(frame)
    assert exc.value.lines == [
        "<DataFrame> 考核数据 缺少必需的列「基数存款日均(万元)」(或列名 deposit_base)",
        "<DataFrame> 考核数据 缺少必需的列「实收贷款本息(万元)」(或列名 collected_amount)",
    ]
    assert isinstance(exc.value, kpi_excel.KpiExcelError)

    twice = pd.DataFrame([{**GOOD_SENIOR, "基数存款日均(万元)": "1000"}])
    with pytest.raises(
        kpi_excel.FrameRefused,
        match=re.escape("考核数据!K1 列标题「基数存款日均(万元)」重复出现(另见 D1)"),
    ):
        _score(twice)

    with pytest.raises(kpi_excel.FrameRefused) as exc:
        kpi_excel.score(pd.DataFrame([GOOD_SENIOR]), "2026Q3")
    assert exc.value.lines == [
        "<DataFrame> 未给出「机构号」:请提供列 branch_code(或「机构号」)或参数 branch_code=",
        "<DataFrame> 未给出「机构名称」:请提供列 branch_name(或「机构名称」)或参数 branch_name=",
    ]
    blank = pd.DataFrame([{**GOOD_SENIOR, "机构号": "B001"}, {**GOOD_SENIOR, "机构号": " "}])
    with pytest.raises(kpi_excel.FrameRefused) as exc:
        kpi_excel.score(blank, "2026Q3", branch_name="第一支行")
    assert exc.value.lines == [
        "<DataFrame> 考核数据!K3 未给出「机构号」:请提供列 branch_code(或「机构号」)或参数 branch_code="
    ]
    rows = pd.DataFrame([{**GOOD_SENIOR, "branch_code": "B 01"}, GOOD_SENIOR])
    with pytest.raises(kpi_excel.FrameRefused) as exc:
        kpi_excel.score(rows, "2026Q3", branch_code="总行/1", branch_name="x")
    assert exc.value.lines == [
        "<DataFrame> 考核数据!K2「机构号」「B 01」格式不正确,只能包含字母、数字、- 和 _",
        "<DataFrame> 参数 branch_code 的「机构号」「总行/1」格式不正确,只能包含字母、数字、- 和 _",
    ]
    names = pd.DataFrame(
        [
            {**GOOD_SENIOR, "branch_name": "一支行"},
            {**GOOD_SENIOR, "emp_id": "E2", "branch_name": "二支行"},
        ]
    )
    with pytest.raises(
        kpi_excel.FrameRefused, match="「机构号」「B001」对应多个机构名称:「一支行」、「二支行」"
    ):
        kpi_excel.score(names, "2026Q3", branch_code="B001")
    with pytest.raises(kpi_excel.UsageError, match="考核期「2026Q5」格式不正确"):
        _score(pd.DataFrame([GOOD_SENIOR]), "2026Q5")


def test_cells_as_pandas_holds_them_blank_rows_and_the_index() -> None:
    frame = pd.DataFrame(
        [
            {**GOOD_SENIOR, "deposit_base": 1000.0, "new_accounts": np.int64(10)},
            {k: None for k in GOOD_SENIOR},  # a blank row is skipped, as in a sheet
            {
                **GOOD_SENIOR,
                "emp_id": "E002",
                "deposit_base": Decimal("1000.00"),
                "new_accounts": np.nan,
            },
            {**GOOD_SENIOR, "emp_id": "E003", "major_violation": True},
        ],
        index=["a", "b", "c", "d"],
    )
    scored = _score(frame)
    assert scored.results.index.tolist() == ["a", "c", "d"]
    assert scored.people.loc["a", "total"] == 100.0
    assert (
        scored.people.loc["c", "errors"]
        == "<DataFrame> 考核数据!J4「新开对公基本账户」为必填项,不能为空"
    )
    assert scored.results.loc["d", "outcome"] == "解聘"
    assert scored.problems.query("level == 'refuse_row'")["row"].tolist() == ["c"]


def test_history_from_earlier_periods_is_read() -> None:
    row = {**GOOD_SENIOR, "deposit_m7": "800", "deposit_m8": "1300", "deposit_m9": "1300"}
    frame = pd.DataFrame([row])
    assert _score(frame).results.loc[0, "flags"] == ""
    before = [kpi_excel.MonthFigure(f"2026年{m}月", 850.0, 900.0, True, "2026Q2") for m in (5, 6)]
    history = kpi_excel.History(months_before={"E001": before}, notes={"E001": "已读上期"})
    scored = _score(frame, history=history)
    assert scored.results.loc[0, ["flags", "outcome", "recommended_level"]].tolist() == [
        "A14-2-DEPOSIT3M", "降级", "中级客户经理",
    ]  # fmt: skip
    assert scored.people.loc[0, "history_note"] == "已读上期"


def test_period_and_rules_are_given_as_text_or_objects() -> None:
    rules = kpi_excel.load_rulebook("main")
    p = kpi_excel.parse_period("2026-q3", rules)
    assert (p.code, p.is_annual) == ("2026Q3", False)
    assert kpi_excel.parse_period(p, rules) == p
    a = _score(pd.DataFrame([GOOD_SENIOR]), p, rules=rules).results
    b = _score(pd.DataFrame([GOOD_SENIOR]), "2026Q3", rules="main").results
    pd.testing.assert_frame_equal(a, b)


def test_importing_kpi_excel_is_cheap() -> None:
    code = (
        "import sys, kpi_excel\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'openpyxl') if m in sys.modules))\n"
        "import kpi_excel.score\n"  # the scorer's module of the same name hides nothing
        "print(kpi_excel.score.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "kpi_excel.api"]
    with pytest.raises(AttributeError):
        _ = kpi_excel.no_such_name


def test_the_readme_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using kpi-excel as a library", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1 and "kpi_excel.score(" in blocks[0]
    exec(compile(blocks[0], "README.md", "exec"), {})
