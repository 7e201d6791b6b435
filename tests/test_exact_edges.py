"""Adversarial edges (RULES.md §0): cases built to sit a hair's breadth from every band edge,
threshold and half-way point, at realistic and at huge magnitudes, scored exactly as a small
Fraction-based reference of RULES.md says (tests/support/reference.py), through the real path
(workbook -> `kpi-excel run` -> results.csv) and through the library."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import kpi_excel
from tests.support import reference

SENIOR = {
    "role": "高级客户经理", "deposit_base": "1000", "deposit_avg": "1300", "loan_balance": "1000",
    "npl_balance": "0", "due_amount": "1000", "collected_amount": "995", "new_accounts": "10",
}  # fmt: skip
HEAD = {
    "role": "支行行长", "deposit_base": "1000", "deposit_avg": "1300", "loan_balance": "1000",
    "npl_balance": "0", "due_amount": "1000", "collected_amount": "995",
    "mid_income_base": "100", "mid_income": "120",
}  # fmt: skip
JUNIOR = {**SENIOR, "role": "初级客户经理", "new_accounts": "5"}
COMPARED = [
    "new_deposit", "deposit_growth", "npl_ratio", "collection_rate", "mid_income_growth",
    "score_deposit", "score_npl", "score_collection", "score_income", "score_accounts",
    "business_score", "total", "grade", "flags", "outcome", "recommended_level",
    "income_deduction",
]  # fmt: skip
DIGITS = 15  # what a cell holds


def _decimal(x: Fraction, nudge: int = 0) -> tuple[str, Fraction]:
    """x as a decimal text of at most 15 significant digits (x itself when it fits; else its
    15-digit truncation), moved by `nudge` units of its last digit; and how far the text is
    from x (signed)."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(x.numerator) / Decimal(x.denominator)
        exp = d.adjusted() - (DIGITS - 1)
        unit = Decimal(1).scaleb(exp)
        q = d.quantize(unit, rounding="ROUND_FLOOR") + nudge * unit
        text = format(q.normalize(), "f")
    return text, Fraction(Decimal(text)) - x


def _with(base: dict, **changes: str) -> dict:
    return {**base, **changes}


def _half_way_points() -> list[tuple[str, dict, Fraction]]:
    """(case id, row, how far the unrounded item is from its half-way point)."""
    cases = []
    for scale in ("20565.83", "1234567.89", "98765432101.23"):
        base = Fraction(Decimal(scale))
        for h in ("21.235", "42.505", "0.005", "59.995"):
            g = (Fraction(Decimal(h)) + 20) / 200  # S1 = 200 g - 20 for heads, senior, mid
            for nudge in (-1, 0, 1):
                avg, off = _decimal(base * (1 + g), nudge)
                cases.append(
                    (
                        f"S1-{h}@{scale}{nudge:+d}",
                        _with(SENIOR, deposit_base=scale, deposit_avg=avg),
                        200 * off / base,
                    )
                )
        for h in ("20.025", "19.975", "29.995", "0.005"):
            r = (Fraction(Decimal(h)) - 20) / 2000 + Fraction(
                995, 1000
            )  # S3 = 20 + 20(100r - 99.5)
            for nudge in (-1, 0, 1):
                coll, off = _decimal(base * r, nudge)
                cases.append(
                    (
                        f"S3-{h}@{scale}{nudge:+d}",
                        _with(SENIOR, due_amount=scale, collected_amount=coll),
                        2000 * off / base,
                    )
                )
        for h in ("12.345", "7.775", "14.995"):
            g = (2 * (Fraction(Decimal(h)) - 10) + 20) / 100  # S4 = 10 + (100 g - 20) / 2
            for nudge in (-1, 1):
                income, off = _decimal(base * (1 + g), nudge)
                cases.append(
                    (
                        f"S4-{h}@{scale}{nudge:+d}",
                        _with(HEAD, mid_income_base=scale, mid_income=income),
                        50 * off / base,
                    )
                )
    for h in ("42.505", "0.005", "59.995"):
        new = (Fraction(Decimal(h)) - 40) / 2 + 100  # junior: S1 = 40 + 2 (new - 100)
        for scale in ("1000.01", "123456789.12"):
            for nudge in (-1, 1):
                avg, off = _decimal(Fraction(Decimal(scale)) + new, nudge)
                cases.append(
                    (
                        f"J1-{h}@{scale}{nudge:+d}",
                        _with(JUNIOR, deposit_base=scale, deposit_avg=avg),
                        2 * off,
                    )
                )
    return cases


def _edges() -> list[tuple[str, dict]]:
    """Band edges and thresholds, exactly on them and one unit either side."""
    cases = []
    for npl in ("4289.00", "42.89", "1234567890.12"):
        n = Fraction(Decimal(npl))
        for edge in ("0.01", "0.05", "0.10"):
            loan_exact = n / Fraction(Decimal(edge))
            for nudge in (-1, 0, 1):
                loan, _ = _decimal(loan_exact, nudge)
                for base in (SENIOR, HEAD):
                    cases.append(
                        (
                            f"NPL-{edge}@{npl}{nudge:+d}-{base['role']}",
                            _with(base, npl_balance=npl, loan_balance=loan),
                        )
                    )
    for base_text in ("1000.01", "87654321.09"):
        b = Fraction(Decimal(base_text))
        for nudge in (-1, 0, 1):
            avg, _ = _decimal(b * Fraction(127, 100), nudge)  # A14-1-KEY: growth <= 27%
            cases.append(
                (
                    f"KEY-growth@{base_text}{nudge:+d}",
                    _with(HEAD, deposit_base=base_text, deposit_avg=avg),
                )
            )
            coll, _ = _decimal(b * Fraction(8955, 10000), nudge)  # collection <= 89.55%
            cases.append(
                (
                    f"KEY-collection@{base_text}{nudge:+d}",
                    _with(HEAD, due_amount=base_text, collected_amount=coll),
                )
            )
            coll, _ = _decimal(b * Fraction(99, 100), nudge)  # A14-2-COLLECTION: < 99%
            cases.append(
                (
                    f"COLL99@{base_text}{nudge:+d}",
                    _with(SENIOR, due_amount=base_text, collected_amount=coll),
                )
            )
            month, _ = _decimal(b * Fraction(9, 10), nudge)  # A14-2-DEPOSIT3M: < 90% of base
            rows = {f"deposit_m{m}": month for m in (7, 8, 9)}
            cases.append(
                (
                    f"DEP3M@{base_text}{nudge:+d}",
                    _with(SENIOR, deposit_base=base_text, deposit_avg=base_text, **rows),
                )
            )
            fen, _ = _decimal(b * Fraction(9, 10) - Fraction(1, 100), 0)  # one fen under
            rows = {f"deposit_m{m}": fen for m in (7, 8, 9)}
            cases.append(
                (
                    f"DEP3M-fen@{base_text}",
                    _with(SENIOR, deposit_base=base_text, deposit_avg=base_text, **rows),
                )
            )
    for conduct in ("15", "14.99", "15.01", "30", "30.01", "29.99", "10", "10.01", "9.99"):
        cases.append((f"CONDUCT-{conduct}", _with(SENIOR, conduct_deduction=conduct)))
        cases.append(
            (f"CONDUCT-head-{conduct}", _with(HEAD, conduct_deduction=conduct, mid_income="100"))
        )
    for loss in ("100", "99.99", "100.01"):
        cases.append((f"LOSS-{loss}", _with(HEAD, major_accident="是", incident_loss=loss)))
    return cases


def _rows() -> list[dict]:
    rows = []
    for i, (case, row, *_rest) in enumerate([*_half_way_points(), *_edges()]):
        rows.append({"emp_id": f"X{i:03d}", "name": case[:30], **row})
    return rows


ROWS = _rows()


def test_the_cases_sit_a_hairs_breadth_from_half_way_points() -> None:
    distances = [abs(off) for _, _, off in _half_way_points()]
    assert len(distances) >= 80
    nonzero = [d for d in distances if d]
    # one unit of the last digit a cell holds: mostly under 1e-9 of a point, many far less
    assert sum(d < Fraction(1, 10**9) for d in nonzero) >= 0.8 * len(nonzero)
    assert sum(d < Fraction(1, 10**12) for d in nonzero) >= 20
    assert sum(d == 0 for d in distances) >= 10  # exactly half-way: rounds away from zero


def _expected(rows: list[dict], period: str) -> dict[str, dict[str, str]]:
    annual = period.endswith("FY")
    months = 12 if annual else 3
    return {r["emp_id"]: reference.score(r, annual, months) for r in rows}


def _mismatches(got: dict[str, dict], want: dict[str, dict]) -> list[tuple]:
    out = []
    for emp, expected in want.items():
        row = got[emp]
        assert row["status"] == "scored", (emp, row["errors"])
        for col in COMPARED:
            if str(row[col]) != expected.get(col, ""):
                out.append((emp, row["name"], col, row[col], expected.get(col, "")))
    return out


def test_adversarial_edges_through_the_cli(inbox) -> None:
    inbox.add("b.xlsx", ROWS)
    result = inbox.run()
    assert result.exit_code == 0, result.output
    assert _mismatches(inbox.results(), _expected(ROWS, "2026Q3")) == []


def _library(rows: list[dict], period: str) -> dict[str, dict[str, str]]:
    """The rows as a DataFrame of the decimal texts a branch types, through `kpi_excel.score`
    (the row checks and the scorer of a run, without a workbook)."""
    frame = pd.DataFrame(rows)
    if "name" not in frame:
        frame["name"] = frame["emp_id"]
    scored = kpi_excel.score(frame, period, branch_code="B001", branch_name="第一支行")
    return {r["emp_id"]: r for r in scored.results.to_dict("records")}


def test_adversarial_edges_through_the_library_in_a_year() -> None:
    assert _mismatches(_library(ROWS, "2026FY"), _expected(ROWS, "2026FY")) == []


def _amount(lo: int, hi: int, places: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda units, p: format(Decimal(units).scaleb(-p), "f"),
        st.integers(min_value=lo, max_value=hi),
        places,
    )


@st.composite
def _person(draw) -> dict:
    role = draw(st.sampled_from(list(reference.ROLES)))
    places = st.integers(min_value=0, max_value=6)
    base = draw(_amount(1, 10**12, places))
    b = Fraction(Decimal(base))
    # the average near an interesting growth (edges of S1 and A14-1-KEY) or anywhere
    growth = draw(
        st.sampled_from([Fraction(27, 100), Fraction(30, 100), Fraction(40, 100), Fraction(-1, 10)])
    )
    avg = draw(
        st.one_of(
            _amount(0, 10**13, places),
            st.just(_decimal(b * (1 + growth), draw(st.integers(-1, 1)))[0]),
        )
    )
    loan = draw(_amount(0, 10**12, places))
    loan_f = Fraction(Decimal(loan))
    npl = draw(
        st.one_of(
            _amount(0, 10**6, places),
            st.sampled_from(
                ["0"]
                + (
                    [
                        _decimal(loan_f * Fraction(k, 100), draw(st.integers(-1, 1)))[0]
                        for k in (1, 5, 10)
                    ]
                    if loan_f
                    else []
                )
            ),
        )
    )
    if Fraction(Decimal(npl)) > loan_f:
        npl = loan
    due = draw(_amount(0, 10**12, places))
    due_f = Fraction(Decimal(due))
    coll = draw(
        st.one_of(
            _amount(0, 10**12, places),
            st.just(_decimal(due_f * Fraction(995, 1000), draw(st.integers(-1, 1)))[0]),
        )
    )
    row = {
        "role": role, "deposit_base": base, "deposit_avg": avg, "loan_balance": loan,
        "npl_balance": npl, "due_amount": due, "collected_amount": coll,
        "conduct_deduction": draw(_amount(0, 3000, st.integers(0, 2))),
        "major_violation": draw(st.sampled_from(["是", "否"])),
        "major_accident": draw(st.sampled_from(["是", "否"])),
        "incident_loss": draw(_amount(0, 20000, st.integers(0, 2))),
    }  # fmt: skip
    if reference.ROLES[role][1] == "heads":
        mib = draw(_amount(1, 10**9, places))
        row["mid_income_base"] = mib
        row["mid_income"] = draw(_amount(0, 10**10, places))
    else:
        row["new_accounts"] = str(draw(st.integers(0, 20)))
        months = draw(
            st.lists(
                st.sampled_from([None, *(_decimal(b * Fraction(9, 10), k)[0] for k in (-1, 0, 1))]),
                min_size=3,
                max_size=3,
            )
        )
        row.update({f"deposit_m{m}": v for m, v in zip((7, 8, 9), months, strict=True)})
    return row


@given(st.lists(_person(), min_size=1, max_size=12), st.sampled_from(["2026Q3", "2026FY"]))
@settings(max_examples=60, derandomize=True, deadline=None)
def test_the_library_agrees_with_a_fraction_reference(people: list[dict], period: str) -> None:
    rows = [{"emp_id": f"P{i}", **p} for i, p in enumerate(people)]
    for r in rows:
        if reference.ROLES[r["role"]][0] != "junior" and Fraction(Decimal(r["deposit_base"])) == 0:
            r["deposit_base"] = "1"
    assert _mismatches(_library(rows, period), _expected(rows, period)) == []
