"""kpi-excel: score bank account managers' KPI workbooks by the bank's written rules.

As a library (see README, "Using kpi-excel as a library"):

    import kpi_excel
    rules = kpi_excel.load_rulebook()  # the main policy; or a scheme's id, or a file
    scored = kpi_excel.score(frame, "2026Q3", rules, branch_code="B001", branch_name="第一支行")
    changed = kpi_excel.compare("2026Q3", "rulebook_2027.yaml", ledger="output/ledger.sqlite")
    kpi_excel.approve("2026Q3", "王审计", output="output")  # a rerun is refused until reopen

The names below are imported on first use, so `import kpi_excel` stays cheap.
"""

from __future__ import annotations

import logging
import sys
import types
from typing import Any

__version__ = "0.1.0"

# A library logs only where its user says: nothing reaches stderr by default.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_EXPORTS = {
    "score": "api",
    "Scored": "api",
    "parse_period": "api",
    "load_rulebook": "rulebook",
    "Rulebook": "rulebook",
    "Period": "periods",
    "History": "flags",
    "MonthFigure": "flags",
    "KpiExcelError": "errors",
    "FrameRefused": "errors",
    "RulebookError": "errors",
    "UsageError": "errors",
    "compare": "comparison",
    "Comparison": "comparison",
    "diff_rules": "rules_diff",
    "approve": "approval",
    "reopen": "approval",
    "PeriodApproved": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpi_excel' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """`kpi_excel.score` is the library's function, though the scorer's module has that name too
    (`kpi_excel/score.py`, still imported as `from kpi_excel.score import …`): the import
    system's binding of that submodule on the package, which would hide the function the first
    time the submodule is imported, is left out."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "score" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
