"""Shared fixtures: a person that scores cleanly, and a helper to run the CLI on an inbox."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import kpi_excel
from kpi_excel.cli import main
from tests.support.workbooks import write_branch_workbook


def _use_this_checkouts_templates() -> None:
    """An editable install maps `kpi_excel.templates` to the checkout it was installed from; tests
    run in another checkout (a git worktree) must use that checkout's report and rulebook."""
    here = Path(__file__).resolve().parents[1] / "templates"
    installed = importlib.import_module("kpi_excel.templates")
    if Path(str(installed.__file__)).resolve().parent == here:
        return
    spec = importlib.util.spec_from_file_location(
        "kpi_excel.templates", here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["kpi_excel.templates"] = module
    kpi_excel.templates = module  # type: ignore[attr-defined]


_use_this_checkouts_templates()

GOOD_SENIOR = {
    "emp_id": "E001", "name": "张三", "role": "高级客户经理", "deposit_base": "1000",
    "deposit_avg": "1300", "loan_balance": "1000", "npl_balance": "0", "due_amount": "1000",
    "collected_amount": "995", "new_accounts": "10",
}  # fmt: skip
GOOD_HEAD = {
    "emp_id": "H001", "name": "李四", "role": "支行行长", "deposit_base": "1000",
    "deposit_avg": "1300", "loan_balance": "1000", "npl_balance": "0", "due_amount": "1000",
    "collected_amount": "995", "mid_income_base": "100", "mid_income": "120",
}  # fmt: skip


def person(base: dict, **changes: object) -> dict:
    row = dict(base)
    row.update(changes)
    return row


class Inbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "inbox"
        self.dir.mkdir()
        self.out = root / "out"

    def add(
        self,
        file: str,
        rows: list[dict],
        code: str = "B001",
        name: str = "第一支行",
        period: str = "2026Q3",
        **kw,
    ) -> Path:
        return write_branch_workbook(
            self.dir / file, branch_code=code, branch_name=name, period=period, rows=rows, **kw
        )

    def run(self, *args: str, period: str = "2026Q3") -> Result:
        return CliRunner().invoke(
            main, ["run", period, "--inbox", str(self.dir), "--output", str(self.out), *args]
        )

    def results(self, period: str = "2026Q3") -> dict[str, dict]:
        with (self.out / period / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
            return {r["emp_id"]: r for r in csv.DictReader(fh)}

    def rejected(self, period: str = "2026Q3") -> list[dict]:
        with (self.out / period / "rejected.csv").open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(tmp_path)
