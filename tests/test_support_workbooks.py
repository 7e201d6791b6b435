"""Self-check of the test workbook builder (tests/support/workbooks.py)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tests.support.workbooks import LABELS, REQUIRED, vector_rows, write_branch_workbook

VECTORS_Q3 = Path("/work/shared/spec/cases/vectors_Q3.csv")
NUMERIC_KEYS = {k for k in LABELS if k not in ("emp_id", "name", "role", "remarks")} - {
    "major_violation",
    "major_accident",
}


def _norm_label(label: str) -> str:
    # The contract's matching: trim half/full-width spaces, drop a bracketed unit.
    label = label.strip(" \u3000")
    return re.sub(r"[(（][^)）]*[)）]$", "", label).strip(" \u3000")


def _shown_number(value: object) -> Decimal | None:
    # The decimal number a cell shows (numeric cell or text like '1,234.5', '１２３', ' 12 ').
    if value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
    return Decimal(text)


def _canon_to_key() -> dict[str, str]:
    return {_norm_label(label): key for key, label in LABELS.items()}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    if not VECTORS_Q3.exists():
        pytest.skip("vectors not available")
    return vector_rows(VECTORS_Q3)


def _read(path: Path) -> tuple[dict[str, object], list[str], list[tuple[object, ...]]]:
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["基本信息", "考核数据"]
    info = {r[0]: r[1] for r in wb["基本信息"].iter_rows(values_only=True)}
    data = list(wb["考核数据"].iter_rows(values_only=True))
    return info, list(data[0]), data[1:]


def test_vector_rows(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 66
    first = rows[0]
    assert first["emp_id"] == "E-g30" and first["role"] == "高级客户经理"
    assert first["deposit_m7"] == "" and first["loan_balance"] == "1000.00"
    assert first["expected_status"] == "scored" and first["expected_total"] == "100"
    assert "deposit_m1" not in first  # Q3 file has only 7-9


def test_tidy(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write_branch_workbook(
        tmp_path / "t.xlsx", branch_code="B001", branch_name="城东支行", period="2026Q3", rows=rows
    )
    info, header, data = _read(path)
    assert info["机构号"] == "B001" and info["考核期"] == "2026Q3" and "模板版本" in info
    assert header[:5] == ["员工编号", "姓名", "岗位", "基数存款日均(万元)", "本期存款日均(万元)"]
    assert "7月存款日均(万元)" in header and "备注" not in header
    assert len(data) == len(rows)
    col = {LABELS_BY_LABEL[h]: i for i, h in enumerate(header)}
    r0 = data[0]
    assert r0[col["emp_id"]] == "E-g30"
    assert r0[col["deposit_avg"]] == 1300 and r0[col["loan_balance"]] == 1000  # numeric cells
    assert r0[col["deposit_m7"]] is None
    # Values round-trip exactly; invalid text stays text.
    for row, cells in zip(rows, data, strict=True):
        for key, i in col.items():
            if key in NUMERIC_KEYS and row[key] != "":
                assert _shown_number(cells[i]) == Decimal(row[key]), (row["emp_id"], key)


def test_text_stays_text_and_columns(tmp_path: Path) -> None:
    rows = [
        {"emp_id": "00123", "name": "张三", "role": "业务代办员", "deposit_base": "约100"},
        {"emp_id": "E2", "new_accounts": "2.5", "conduct_deduction": None, "loan_balance": "-5"},
    ]
    path = write_branch_workbook(
        tmp_path / "x.xlsx", branch_code="B9", branch_name="n", period="2026Q3", rows=rows
    )
    _, header, data = _read(path)
    keys = [LABELS_BY_LABEL[h] for h in header]
    assert keys == [
        *REQUIRED[:4],
        "deposit_avg",
        *REQUIRED[5:],
        "new_accounts",
        "conduct_deduction",
    ]
    assert data[0][0] == "00123" and data[0][3] == "约100"
    assert data[1][keys.index("new_accounts")] == 2.5 and data[1][keys.index("loan_balance")] == -5
    with pytest.raises(ValueError):
        write_branch_workbook(
            tmp_path / "y.xlsx", branch_code="B", branch_name="n", period="Q3", rows=[{"typo": 1}]
        )


def test_messy(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    kw = dict(branch_code="B002", branch_name="城西支行", period="2026-Q3", rows=rows)
    path = write_branch_workbook(tmp_path / "m.xlsx", style="messy", seed=7, **kw)
    again = write_branch_workbook(tmp_path / "m2.xlsx", style="messy", seed=7, **kw)
    info, header, data = _read(path)
    assert _read(again)[1:] == (header, data)  # deterministic
    assert set(info) == {"机构号", "机构名称", "考核期", "填报人", "联系电话", "模板版本"}
    assert info["机构名称"] == "城西支行"

    # Labels: scrambled order, full-width brackets, dropped units, padding, extra columns.
    canon = _canon_to_key()
    assert [h for h in header if "（万元）" in h]
    no_unit = [h for h in header if _norm_label(h) in canon and not re.search("[(（]", h)]
    assert [h for h in no_unit if "(" in LABELS[canon[_norm_label(h)]]]
    assert [h for h in header if h != h.strip(" \u3000")]
    assert {"序号", "所属部门"} & set(header)
    col = {canon[_norm_label(h)]: i for i, h in enumerate(header) if _norm_label(h) in canon}
    assert set(col) == {k for k in LABELS if k in rows[0]}
    assert list(col) != [k for k in LABELS if k in col]  # shuffled

    # Blank rows between persons; the persons themselves are all there, in order.
    blank = [r for r in data if all(v is None for v in r)]
    persons = [r for r in data if any(v is not None for v in r)]
    assert blank and len(persons) == len(rows)
    text_numbers = 0
    for row, cells in zip(rows, persons, strict=True):
        assert cells[col["emp_id"]] == row["emp_id"]
        for key, i in col.items():
            if key in NUMERIC_KEYS and row[key] != "":
                text_numbers += isinstance(cells[i], str)
                assert _shown_number(cells[i]) == Decimal(row[key]), (row["emp_id"], key)
    assert text_numbers > 10
    shown = [v for r in persons for v in r if isinstance(v, str)]
    assert any(re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", v) for v in shown)
    assert any(re.search("[０-９]", v) for v in shown)
    assert any(v != v.strip() and v.strip()[0].isdigit() for v in shown)


LABELS_BY_LABEL = {label: key for key, label in LABELS.items()}
