"""RULES.md §0: exact numbers. A cell is the decimal Excel shows; every decision is exact."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_excel.exact import Q
from tests.conftest import GOOD_SENIOR, person


def _fractions(q: Q) -> list[Fraction | None]:
    return [
        None if na else Fraction(int(n), int(d))
        for n, d, na in zip(q.n.tolist(), q.d.tolist(), q.na.tolist(), strict=True)
    ]


@pytest.mark.parametrize(
    ("double", "shown"),
    [
        (0.1 + 0.2, "0.3"),  # 0.30000000000000004 is shown as 0.3
        (20.025, "20.025"),  # held as 20.02499999999999857891...
        (1312.525, "1312.525"),
        (428899.99, "428899.99"),
        (1 / 3, "0.333333333333333"),  # 15 significant digits
        (123456789012.345, "123456789012.345"),
        (1e-7, "0.0000001"),
        (-2.5, "-2.5"),
        (1e20, "100000000000000000000"),
    ],
)
def test_a_number_cell_is_the_decimal_excel_shows(double: float, shown: str) -> None:
    assert _fractions(Q.from_floats([double])) == [Fraction(Decimal(shown))]


def test_blank_cells_stay_blank() -> None:
    q = Q.from_floats([np.nan, 1.0])
    assert q.na.tolist() == [True, False]
    assert not q.cmp("<", 5).tolist()[0]  # a blank is never below anything


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e17, max_value=1e17))
@settings(max_examples=300, derandomize=True, deadline=None)
def test_the_fast_path_agrees_with_formatting(value: float) -> None:
    assert _fractions(Q.from_floats([value])) == [Fraction(Decimal(f"{value:.14e}"))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20.025", "20.03"),  # half away from zero, from the decimal, not from its double
        ("1.005", "1.01"),
        ("2.675", "2.68"),
        ("0.125", "0.13"),  # half to even would give 0.12
        ("-0.125", "-0.13"),  # away from zero, not up
        ("42.505", "42.51"),
        ("42.504999999999", "42.50"),  # one unit below the half-way point rounds down
        ("21.234999998", "21.23"),
        ("99.994999", "99.99"),
    ],
)
def test_rounding_is_half_away_from_zero_and_exact(value: str, expected: str) -> None:
    units = Q.from_decimals([value]).round_units(2)
    assert units.tolist() == [int(Decimal(expected) * 100)]


def test_python_round_would_be_wrong_here() -> None:
    # the reason the project never uses round(): these differ from Excel's ROUND
    assert round(20.025, 2) == 20.02 and round(0.125, 2) == 0.12
    assert Q.from_floats([20.025, 0.125]).round_units(2).tolist() == [2003, 13]


def test_comparisons_have_no_tolerance() -> None:
    ratio = Q.from_decimals(["4289.00"]) / Q.from_decimals(["428899.99"])  # 1% + 2.3e-10
    assert ratio.cmp(">", Decimal("0.01")).tolist() == [True]
    assert ratio.cmp("<=", Decimal("0.01")).tolist() == [False]
    tiny = Q.from_decimals(["0.010000000000000000001"])
    assert tiny.cmp(">", Decimal("0.01")).tolist() == [True]


def test_division_by_zero_is_blank_not_an_error() -> None:
    q = Q.from_decimals(["1", "2"]) / Q.from_decimals(["0", "4"])
    assert q.na.tolist() == [True, False]
    assert _fractions(q)[1] == Fraction(1, 2)


def test_floats_are_the_nearest_doubles() -> None:
    q = Q.from_decimals(["312.525"]) / Q.from_decimals(["1000"])
    assert q.floats().tolist() == [
        0.312525
    ]  # (1312.525 - 1000) / 1000 in floats is 0.31252499999999997


@pytest.mark.parametrize(
    ("avg", "collected", "deposit_score", "collection_score"),
    [
        ("1312.525", "995", "42.51", "20.00"),  # 42.505 -> 42.51
        ("1312.475", "995", "42.50", "20.00"),  # 42.495 -> 42.50
        ("1300", "995.0125", "40.00", "20.03"),  # 20.025 -> 20.03
        ("1300", "994.9875", "40.00", "19.98"),  # 19.975 -> 19.98
    ],
)
def test_half_way_scores_through_the_cli(
    inbox, avg, collected, deposit_score, collection_score
) -> None:
    inbox.add("b.xlsx", [person(GOOD_SENIOR, deposit_avg=avg, collected_amount=collected)])
    inbox.run()
    r = inbox.results()["E001"]
    assert (r["score_deposit"], r["score_collection"]) == (deposit_score, collection_score)


def test_conduct_deduction_with_three_decimals_is_refused(inbox) -> None:
    inbox.add(
        "b.xlsx",
        [
            person(GOOD_SENIOR, conduct_deduction="14.995"),
            person(GOOD_SENIOR, emp_id="E002", conduct_deduction="14.99"),
            person(GOOD_SENIOR, emp_id="E003", conduct_deduction=14.5),
        ],
    )
    result = inbox.run()
    assert result.exit_code == 1, result.output
    got = inbox.results()
    assert got["E001"]["status"] == "rejected"
    assert "「行为规范扣分」最多保留2位小数,实际为「14.995」" in got["E001"]["errors"]
    assert (got["E002"]["status"], got["E002"]["total"]) == ("scored", "85.01")
    assert (got["E003"]["status"], got["E003"]["total"]) == ("scored", "85.50")


def test_a_number_beyond_15_integer_digits_is_refused_not_a_crash(inbox) -> None:
    inbox.add(
        "b.xlsx",
        [
            person(GOOD_SENIOR, deposit_avg=6222021234567890123),  # a card number, pasted
            person(GOOD_SENIOR, emp_id="E002", conduct_deduction="110101199003074512"),
            person(GOOD_SENIOR, emp_id="E003"),
        ],
    )
    result = inbox.run()
    assert result.exit_code == 1, result.output
    got = inbox.results()
    assert "「本期存款日均」数值「6222021234567890000」超过15位整数" in got["E001"]["errors"]
    assert "「行为规范扣分」数值「110101199003074000」超过15位整数" in got["E002"]["errors"]
    assert got["E003"]["status"] == "scored"


def test_a_text_number_a_double_cannot_hold_keeps_its_decimal(inbox) -> None:
    tiny = "0." + "0" * 400 + "1"  # typed as text: a double would make it 0
    inbox.add("b.xlsx", [person(GOOD_SENIOR, npl_balance=" " + tiny)])  # a space: a text cell
    inbox.run()
    r = inbox.results()["E001"]
    assert (r["status"], r["score_npl"]) == ("scored", "20.00")  # above 0: the 1% band


def test_a_figure_is_never_shown_as_a_threshold_it_is_not(inbox) -> None:
    import kpi_excel
    from kpi_excel.explain import explain_person

    row = person(GOOD_SENIOR, collected_amount="989.96")
    people = kpi_excel.score(
        pd.DataFrame([row]), "2026Q3", branch_code="B001", branch_name="第一支行"
    ).people
    rules = kpi_excel.load_rulebook()
    lines = [
        s for label, s in explain_person(people.iloc[0], rules, "2026Q3") if label == "预警与处理"
    ]
    assert lines == [
        "收贷收息率未达标(A14-2-COLLECTION):收贷收息率低于99%(第十四条第(二)款第2项),"
        "本人收贷收息率98.996%;降级"
    ]
    text = dict(explain_person(people.iloc[0], rules, "2026Q3"))["收贷收息率"]
    assert text.startswith("收贷收息率98.996%,目标99.5%,每±0.1个百分点±2分:20-10.08=9.92分")
