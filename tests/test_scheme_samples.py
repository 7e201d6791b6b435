"""The sample workbooks shipped for each scheme (scripts/make_scheme_samples.py) run as a clerk
runs them, each with its one deliberately bad row refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_excel.cli import main

SAMPLES = Path(__file__).parent.parent / "sample_workbooks"


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [
        ("loan-eva", "「日均贷款余额」为0,无法计算日均存贷比"),
        ("mgmt-monthly", "「日常工作评分」不能大于 25,实际为「25.5」"),
    ],
)
def test_a_schemes_sample_runs(tmp_path: Path, scheme: str, reason: str) -> None:
    inbox = SAMPLES / scheme / "2026M07"
    res = CliRunner().invoke(
        main,
        ["run", "2026M07", "--rules", scheme, "--inbox", str(inbox), "--output", str(tmp_path)],
    )
    assert res.exit_code == 1, res.output  # the bad row
    with (tmp_path / scheme / "2026M07" / "results.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and sum(r["status"] == "scored" for r in rows) == 14
    (bad,) = [r for r in rows if r["status"] == "rejected"]
    assert bad["emp_id"] == "B002-01" and reason in bad["errors"]
