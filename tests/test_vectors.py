"""The public test vectors, through the real path: workbooks -> `kpi-excel run` -> results.csv.

Each vectors file is split over several branch workbooks, written tidy and messy (shuffled
columns, full-width brackets, text numbers, blank rows), and compared row by row.
"""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main
from tests.support.workbooks import vector_rows, write_branch_workbook

DATA = Path(__file__).parent / "data"
BRANCHES = 3
ERROR_TAGS = {  # the vectors' short tag -> the column the Chinese reason must name
    "deposit_base=0": "「基数存款日均」为0",
    "mid_income_base=0": "「上年同期中间业务收入」为0",
    "npl>loan": "「不良贷款余额」",
}
RATIOS = ["deposit_growth", "npl_ratio", "collection_rate", "mid_income_growth"]
NUMBERS = [
    "new_deposit", "score_deposit", "score_npl", "score_collection", "score_income",
    "score_accounts", "business_score", "total", "income_deduction",
]  # fmt: skip
TEXTS = ["status", "grade", "flags", "outcome", "recommended_level"]


def _run(tmp: Path, name: str, style: str) -> tuple[list[dict], dict[str, dict], int, dict]:
    period_kind = name.split("_")[1].split(".")[0]
    period = f"2026{period_kind}"
    rows = vector_rows(DATA / name)
    inbox = tmp / "inbox"
    inbox.mkdir()
    for b in range(BRANCHES):
        write_branch_workbook(
            inbox / f"第{b + 1}支行.xlsx",
            branch_code=f"B{b + 1:03d}",
            branch_name=f"第{b + 1}支行",
            period=period,
            rows=rows[b::BRANCHES],
            style=style,
            seed=b,
        )
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    result = CliRunner().invoke(
        main, ["run", period, "--inbox", str(inbox), "--output", str(tmp / "out")]
    )
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    assert before == after, "inputs must be byte-identical after a run"
    with (tmp / "out" / period / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        got = {r["emp_id"]: r for r in csv.DictReader(fh)}
    return rows, got, result.exit_code, {"output": result.output}


def _num(text: str) -> Decimal | None:
    return Decimal(text) if text != "" else None


@pytest.mark.parametrize("style", ["tidy", "messy"])
@pytest.mark.parametrize("name", ["vectors_Q3.csv", "vectors_FY.csv"])
def test_public_vectors_score_identically(tmp_path: Path, name: str, style: str) -> None:
    rows, got, exit_code, info = _run(tmp_path, name, style)
    assert exit_code == 1, info["output"]  # the vectors include refused rows
    assert len(got) == len(rows)
    mismatches = []
    for row in rows:
        r = got[row["emp_id"]]
        for col in TEXTS:
            if r[col] != row[f"expected_{col}"]:
                mismatches.append((row["emp_id"], col, r[col], row[f"expected_{col}"]))
        if row["expected_status"] == "rejected":
            assert ERROR_TAGS[row["expected_errors"]] in r["errors"], (row["emp_id"], r["errors"])
            continue
        assert r["errors"] == ""
        for col in NUMBERS:
            if _num(r[col]) != _num(row[f"expected_{col}"]):
                mismatches.append((row["emp_id"], col, r[col], row[f"expected_{col}"]))
        for col in RATIOS:
            a, b = r[col], row[f"expected_{col}"]
            if (a == "") != (b == "") or (
                a and abs(float(a) - float(b)) > 1e-12 * max(1, abs(float(b)))
            ):
                mismatches.append((row["emp_id"], col, a, b))
        if _num(r["conduct_deduction"]) != _num(row["expected_conduct_deduction_out"]):
            mismatches.append(
                (
                    row["emp_id"],
                    "conduct_deduction",
                    r["conduct_deduction"],
                    row["expected_conduct_deduction_out"],
                )
            )
    assert mismatches == []


def test_scores_are_written_with_two_decimals(tmp_path: Path) -> None:
    _, got, _, _ = _run(tmp_path, "vectors_Q3.csv", "tidy")
    r = got["E-g30"]
    assert (r["score_deposit"], r["score_npl"], r["business_score"], r["total"]) == (
        "40.00",
        "30.00",
        "100.00",
        "100.00",
    )
    assert got["E-halfup1"]["score_deposit"] == "42.51"
    assert got["E-colhalf"]["score_collection"] == "20.03"


def test_the_bundled_sample_gives_the_recorded_results_byte_for_byte(tmp_path: Path) -> None:
    """A guard for refactors: the README's sample run writes exactly the recorded results.csv
    (recorded after the exact-numbers change; any difference must be explained)."""
    sample = Path(__file__).parent.parent / "sample_workbooks" / "2026Q3"
    result = CliRunner().invoke(
        main, ["run", "2026Q3", "--inbox", str(sample), "--output", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output  # the sample holds refused rows on purpose
    got = (tmp_path / "2026Q3" / "results.csv").read_bytes()
    assert got == (DATA / "sample_results_2026Q3.csv").read_bytes()
