"""One copy of every rule: every text renders the scorer's results and the rulebook's words.

An explanation states the total that results.csv gives; an edited threshold shows in every
output that mentions it; no internal reference (RULES §n) reaches a user.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from kpi_excel.periods import parse_period
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from kpi_excel.template import build_template
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support.workbooks import vector_rows

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
DATA = Path(__file__).parent / "data"


def _texts(path: Path) -> str:
    """Every cell's text of a workbook, one per line."""
    wb = openpyxl.load_workbook(path)
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )


def _explain_cells(branch: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(branch)["计分说明"]
    return {
        str(r[0]): "\n".join(str(v) for v in r[3:] if v)
        for r in ws.iter_rows(min_row=4, values_only=True)
        if r[0]
    }


def test_every_explanation_states_the_total_of_results_csv(inbox) -> None:
    rows = [r for r in vector_rows(DATA / "vectors_Q3.csv")]
    inbox.add("b.xlsx", rows)
    inbox.run()
    results = inbox.results()
    scored = {e: r for e, r in results.items() if r["status"] == "scored"}
    assert len(scored) >= 50
    (branch,) = (inbox.out / "2026Q3" / "branches").glob("*.xlsx")
    cells = _explain_cells(branch)
    for emp, r in scored.items():
        text = cells[emp]
        assert f"={r['total']}分\n" in text, (emp, text)  # the total line
        assert f"综合得分{r['total']}分," in text  # the grade line
        assert re.search(rf"综合得分{re.escape(r['total'])}分,[^\n]*:{r['grade']}", text)
        assert f"={r['business_score']}分" in text
        for item in ("score_deposit", "score_npl", "score_collection"):
            assert f"{r[item]}分" in text


def _edited_rulebook(tmp_path: Path) -> Path:
    text = default_rulebook_path().read_text(encoding="utf-8")
    old = 'condition: {field: conduct_deduction, op: ">=", value: 15}'
    assert old in text
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace(old, old.replace("15", "10")), encoding="utf-8")
    return edited


def test_an_edited_threshold_shows_in_every_output(inbox, tmp_path: Path) -> None:
    rules_file = _edited_rulebook(tmp_path)
    inbox.add(
        "b.xlsx",
        [person(GOOD_SENIOR, conduct_deduction="12"), person(GOOD_HEAD, conduct_deduction="9")],
    )
    result = inbox.run("--rules", str(rules_file))
    assert result.exit_code == 0, result.output
    got = inbox.results()
    assert got["E001"]["flags"] == "A14-3-CONDUCT" and got["E001"]["outcome"] == "解聘"
    assert got["H001"]["flags"] == ""
    out = inbox.out / "2026Q3"
    (branch,) = (out / "branches").glob("*.xlsx")
    template = build_template(
        tmp_path / "t.xlsx", parse_period("2026Q3", load_rulebook(rules_file).calendar),
        load_rulebook(rules_file),
    )  # fmt: skip
    for path in (branch, out / "summary.xlsx", template):
        text = _texts(path)
        assert "行为规范扣分10分(含)以上" in text, path.name
        assert "15分(含)以上" not in text, path.name
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "15分(含)以上" not in report


def test_no_internal_reference_reaches_a_user(inbox, tmp_path: Path) -> None:
    inbox.add("b.xlsx", [person(GOOD_SENIOR, conduct_deduction="20"), GOOD_HEAD])
    inbox.run()
    out = inbox.out / "2026Q3"
    rules = load_rulebook()
    template = build_template(tmp_path / "t.xlsx", parse_period("2026Q3", rules.calendar), rules)
    texts = [
        _texts(p) for p in (*(out / "branches").glob("*.xlsx"), out / "summary.xlsx", template)
    ]
    texts.append((out / "report.html").read_text(encoding="utf-8"))
    for text in texts:
        assert "RULES" not in text and "§" not in text
