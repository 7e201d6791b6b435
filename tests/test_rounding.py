"""RULES §4 rounding: half away from zero at 2 decimals, immune to binary floating point."""

from __future__ import annotations

import numpy as np
import pytest

from kpi_excel.numbers import compare, round_half_away
from tests.conftest import GOOD_SENIOR, person


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (20.025, 20.03),  # held as 20.02499999999999857891...
        (1.005, 1.01),  # held as 1.00499999999999989342...
        (2.675, 2.68),
        (0.125, 0.13),  # half to even would give 0.12
        (-0.125, -0.13),  # away from zero, not up
        (-20.025, -20.03),
        (42.505, 42.51),
        (0.005, 0.01),
        (42.5049, 42.5),
        (99.994999, 99.99),
    ],
)
def test_half_away_from_zero(value: float, expected: float) -> None:
    assert round_half_away(np.array([value]), 2)[0] == expected


def test_python_round_would_be_wrong_here() -> None:
    # the reason the project never uses round(): these differ from Excel's ROUND
    assert round(20.025, 2) == 20.02 and round(0.125, 2) == 0.12
    assert list(round_half_away(np.array([20.025, 0.125]), 2)) == [20.03, 0.13]


def test_compare_treats_binary_noise_as_equal() -> None:
    assert compare(np.array([0.1 + 0.2]), "<=", np.array([0.3]))[0]
    assert not compare(np.array([0.1 + 0.2]), ">", np.array([0.3]))[0]
    assert not compare(np.array([np.nan]), "<=", np.array([1.0]))[0]


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
