"""Formulas as data (kpi_excel/formula.py): parsing, kinds, exact vectorised evaluation, peer
aggregates, errors in Chinese with their positions, and explanations generated from the formula.
Every formula of docs/SCHEMES.md and the main policy's items are written in the language and
evaluated on hand-computed rows."""

from __future__ import annotations

import builtins
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_excel.errors import KpiExcelError
from kpi_excel.exact import Q
from kpi_excel.formula import BOOL, NUMBER, Band, FormulaError, Truth, compile
from kpi_excel.formula_ast import (
    Aggregate,
    BandOf,
    Binary,
    Bool,
    Call,
    Compare,
    Logic,
    Name,
    Node,
    Num,
    Unary,
)
from kpi_excel.formula_explain import show_number

# --- helpers --------------------------------------------------------------------------------


def q(*values: str | None) -> Q:
    return Q.from_decimals(list(values))


def frac(*values: str | None) -> list[Fraction | None]:
    return [None if v is None else Fraction(Decimal(v)) for v in values]


def fractions_of(x: Q) -> list[Fraction | None]:
    return [
        None if na else Fraction(int(n), int(d))
        for n, d, na in zip(x.n.tolist(), x.d.tolist(), x.na.tolist(), strict=True)
    ]


def sexpr(node: Node) -> str:
    """The tree in prefix notation, to check how a formula was parsed."""
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Bool):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, Name):
        return node.key
    if isinstance(node, Unary):
        return f"({node.op} {sexpr(node.operand)})"
    if isinstance(node, Binary | Compare | Logic):
        return f"({node.op} {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, Call):
        digits = [] if node.digits is None else [str(node.digits)]
        return f"({node.func} {' '.join([*map(sexpr, node.args), *digits])})"
    if isinstance(node, BandOf):
        return f"(BAND {sexpr(node.arg)} {node.table})"
    assert isinstance(node, Aggregate)
    arg = "" if node.arg is None else sexpr(node.arg) + " "
    return f"({node.func} {arg}BY {' '.join(node.by)})"


NAMES = {k: k for k in ("a", "b", "c", "x", "y", "flag", "other_flag")}
BOOLS = {"flag", "other_flag"}


def parse(text: str) -> str:
    return sexpr(compile(text, NAMES, keys={"branch_code"}, bools=BOOLS).ast)


def value(text: str, env: dict, **kw) -> list[Fraction | None]:
    f = compile(text, {**NAMES, **{k: k for k in env}}, bools=BOOLS, **kw)
    result = f.evaluate(env)
    assert result.kind == NUMBER
    return fractions_of(result.value)


def truth(text: str, env: dict) -> list[bool | None]:
    f = compile(text, {**NAMES, **{k: k for k in env}}, bools=BOOLS)
    result = f.evaluate(env)
    assert result.kind == BOOL
    return [None if na else bool(v) for v, na in zip(result.value, result.blank, strict=True)]


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("2 - 3 - 4", "(- (- 2 3) 4)"),
        ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
        ("2 + 3 * 4", "(+ 2 (* 3 4))"),
        ("(2 + 3) * 4", "(* (+ 2 3) 4)"),
        ("-2*3", "(* (- 2) 3)"),
        ("--2", "(- (- 2))"),
        ("+2", "2"),
        ("a - -b", "(- a (- b))"),
        ("a < b AND flag", "(AND (< a b) flag)"),
        ("flag OR other_flag AND a > 1", "(OR flag (AND other_flag (> a 1)))"),
        ("NOT flag AND other_flag", "(AND (NOT flag) other_flag)"),
        ("NOT a >= b", "(NOT (>= a b))"),
        ("a + 1 <= b * 2", "(<= (+ a 1) (* b 2))"),
        ("a = b", "(= a b)"),
        ("a == b", "(= a b)"),
        ("a <> b", "(<> a b)"),
        ("a != b", "(<> a b)"),
        ("flag = TRUE", "(= flag TRUE)"),
        ("flag <> 否", "(<> flag FALSE)"),
        ("30%", "30%"),
        (".5 + 0.25", "(+ .5 0.25)"),
        ("MIN(a, b, c)", "(MIN a b c)"),
        ("max(0, a)", "(MAX 0 a)"),
        ("Abs(a)", "(ABS a)"),
        ("IF(a > b, a, b)", "(IF (> a b) a b)"),
        ("CLIP(a, 0, 60)", "(CLIP a 0 60)"),
        ("ROUND(a, 2)", "(ROUND a 2)"),
        ("ROUND(a, -1)", "(ROUND a -1)"),
        ("FLOOR(a)", "(FLOOR a)"),
        ("CEIL(a, 1)", "(CEIL a 1)"),
        ("COALESCE(a, b, 0)", "(COALESCE a b 0)"),
        ("ISBLANK(a)", "(ISBLANK a)"),
        ("BAND(a, npl)", "(BAND a npl)"),
        ("AVG(a BY branch_code)", "(AVG a BY branch_code)"),
        ("SUM(a / b BY branch_code)", "(SUM (/ a b) BY branch_code)"),
        ("COUNT(BY branch_code)", "(COUNT BY branch_code)"),
        ("COUNT()", "(COUNT BY )"),
        ("avg(a)", "(AVG a BY )"),
    ],
)
def test_grammar_precedence_and_associativity(text: str, tree: str) -> None:
    tables = {"npl": Band.of([(0, True, 30)], 0)}
    f = compile(text, NAMES, keys={"branch_code"}, tables=tables, bools=BOOLS)
    assert sexpr(f.ast) == tree


def test_chinese_spellings_full_width_forms_and_bracketed_labels() -> None:
    names = {
        "增幅": "growth", "档案缺漏项数": "missing_docs", "材料虚假": "false_material",
        "日均存款余额(万元)": "deposit_avg", "日均存贷比": "dl_ratio",
    }  # fmt: skip
    keys = {"机构号": "branch_code", "岗位": "role"}
    f = compile("（增幅－30）×２÷４", names)
    assert sexpr(f.ast) == "(/ (* (- growth 30) 2) 4)"
    f = compile("最大(0, 10 − 0.5 × 档案缺漏项数)", names)
    assert sexpr(f.ast) == "(MAX 0 (- 10 (* 0.5 missing_docs)))"
    f = compile(
        "如果(非 材料虚假 且 增幅 ≥ 30％ 或 增幅 ≤ 0, 1, 0)", names, bools={"false_material"}
    )
    assert sexpr(f.ast) == "(IF (OR (AND (NOT false_material) (>= growth 30%)) (<= growth 0)) 1 0)"
    f = compile("增幅 ≠ 0 且 增幅 ＜ 1", names)
    assert sexpr(f.ast) == "(AND (<> growth 0) (< growth 1))"
    f = compile("「日均存款余额（万元）」/ 100", names)  # full-width brackets inside 「」
    assert sexpr(f.ast) == "(/ deposit_avg 100)"
    f = compile("平均(「日均存贷比」 按 机构号、岗位)", names, keys=keys)
    assert sexpr(f.ast) == "(AVG dl_ratio BY branch_code role)"
    assert f.by_keys == ("branch_code", "role")


def test_analysis_refs_divisors_and_kind() -> None:
    names = {"returned": "returned", "退回笔数": "returned", "submitted": "submitted"}
    text = "IF(fm OR (submitted > 0 AND 退回笔数 / submitted >= 50%), 0, MAX(0, 5 - 2 * returned))"
    f = compile(text, {**names, "fm": "false_material"}, bools={"false_material"})
    assert f.refs == ("false_material", "submitted", "returned")
    assert [sexpr(d) for d in f.divisors] == ["submitted"]
    assert f.kind == NUMBER and f.text == text
    g = compile("a / (b - c) + x / 2", NAMES)
    assert [sexpr(d) for d in g.divisors] == ["(- b c)", "2"]
    assert compile("a > 1 AND flag", NAMES, bools=BOOLS).kind == BOOL


def test_the_tree_is_immutable() -> None:
    f = compile("a + 1", NAMES)
    with pytest.raises(AttributeError):
        f.ast.op = "-"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        f.text = "a"  # type: ignore[misc]


def test_formula_text_is_never_given_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert value("(1 + 2) * 3", {"a": q("1")}) == frac("9")
    with pytest.raises(FormulaError, match="第12个字符处: 无法识别的字符「'」"):
        compile("__import__('os').system('x')", NAMES)
    with pytest.raises(FormulaError, match="未知的函数「__import__」"):
        compile("__import__(os)", NAMES)


# --- exact evaluation -----------------------------------------------------------------------


def test_exact_decimals_and_percentages() -> None:
    env = {"a": q("0", "1")}
    assert truth("0.1 + 0.2 = 0.3", env) == [True, True]
    assert truth("1 / 3 * 3 = 1", env) == [True, True]
    assert value("30% + a", env) == frac("0.3", "1.3")
    assert value("12.5% * 8", env) == frac("1", "1")
    assert value("1 / 3", env) == [Fraction(1, 3)] * 2


@pytest.mark.parametrize(
    ("x", "digits", "rounded"),
    [
        ("20.025", 2, "20.03"),  # half away from zero, from the decimal, not a double
        ("2.675", 2, "2.68"),
        ("0.125", 2, "0.13"),
        ("-0.125", 2, "-0.13"),
        ("0.005", 2, "0.01"),
        ("-2.5", 0, "-3"),
        ("2.4999999", 0, "2"),
        ("1250", -2, "1300"),
        ("-1249.99", -2, "-1200"),
    ],
)
def test_round_is_exact_half_away_from_zero(x: str, digits: int, rounded: str) -> None:
    assert value(f"ROUND(x, {digits})", {"x": q(x)}) == frac(rounded)


def test_floor_ceil_abs_clip_min_max() -> None:
    env = {"x": q("2.5", "-2.5", "7", None)}
    assert value("FLOOR(x)", env) == frac("2", "-3", "7", None)
    assert value("CEIL(x)", env) == frac("3", "-2", "7", None)
    assert value("FLOOR(x * 1.11, 1)", env) == frac("2.7", "-2.8", "7.7", None)
    assert value("ABS(x)", env) == frac("2.5", "2.5", "7", None)
    assert value("CLIP(x, 0, 5)", env) == frac("2.5", "0", "5", None)
    assert value("MIN(x, 3, 4)", env) == frac("2.5", "-2.5", "3", None)
    assert value("MAX(x, 0)", env) == frac("2.5", "0", "7", None)


def test_blanks_propagate_and_coalesce_isblank_handle_them() -> None:
    env = {"a": q("1", None, "3"), "b": q("2", "2", None)}
    assert value("a + b * 2", env) == frac("5", None, None)
    assert value("MIN(a, b)", env) == frac("1", None, None)
    assert value("COALESCE(a, b, 0)", env) == frac("1", "2", "3")
    assert value("COALESCE(b, 0) + COALESCE(a, 0)", env) == frac("3", "2", "3")
    assert truth("ISBLANK(a)", env) == [False, True, False]
    assert truth("a > 0", env) == [True, None, True]
    assert value("IF(ISBLANK(b), -1, b)", env) == frac("2", "2", "-1")
    assert value("IF(a > 2, 1, 0)", env) == frac("0", None, "1")  # a blank condition: blank


def test_and_or_not_are_three_valued() -> None:
    env = {
        "a": q("1", "1", "1", None, None, "0", "0"),
        "b": q("1", "0", None, None, "0", None, "0"),
    }
    # a > 0 is T T T ? ? F F; b > 0 is T F ? ? F ? F
    assert truth("a > 0 AND b > 0", env) == [True, False, None, None, False, False, False]
    assert truth("a > 0 OR b > 0", env) == [True, True, True, None, None, None, False]
    assert truth("NOT a > 0", env) == [False, False, False, None, None, True, True]


def test_booleans_from_the_caller_with_and_without_blanks() -> None:
    env = {
        "flag": np.array([True, False, True]),
        "other_flag": Truth(np.array([False, False, True]), np.array([False, True, False])),
        "a": q("1", "2", "3"),
    }
    assert truth("flag = other_flag", env) == [False, None, True]
    assert value("IF(flag, a, 0)", env) == frac("1", "0", "3")
    assert value("IF(COALESCE(other_flag, TRUE), a, 0)", env) == frac("0", "2", "3")
    assert value("IF(flag, a, 0)", {**env, "flag": True}) == frac("1", "2", "3")


def test_division_by_zero_is_blank_and_reported_unless_a_guard_discards_it() -> None:
    names = {"a": "a", "b": "b", "c": "c"}
    env = {"a": q("1", "3", "4", "5"), "b": q("2", "0", "0", None), "c": q("0", "1", "0", "1")}
    f = compile("a / b + a / c", names)
    r = f.evaluate(env)
    assert fractions_of(r.value) == [None, None, None, None]
    assert r.zero_division.tolist() == [True, True, True, False]  # b blank: not a zero
    assert r.divisor.tolist() == [1, 0, 0, -1]  # the first zero divisor, by Formula.divisors
    guarded = compile("IF(b = 0, 0, a / b)", names).evaluate(env)
    assert fractions_of(guarded.value) == [Fraction(1, 2), 0, 0, None]
    assert guarded.zero_division.tolist() == [False] * 4
    anded = compile("IF(b > 0 AND a / b >= 50%, 1, 2)", names).evaluate(env)
    assert fractions_of(anded.value) == frac("1", "2", "2", None)
    assert not anded.zero_division.any()
    fallback = compile("COALESCE(a / b, -1)", names).evaluate(env)
    assert fractions_of(fallback.value) == [Fraction(1, 2), -1, -1, -1]
    assert not fallback.zero_division.any()


def test_a_literal_divisor_of_zero_is_refused_at_load() -> None:
    with pytest.raises(FormulaError) as err:
        compile("a / 0.0", NAMES, where="figures.r")
    assert str(err.value) == "figures.r: 公式「a / 0.0」第5个字符处: 除数为0"


# --- band tables and peer aggregates ----------------------------------------------------------

NPL = Band.of([(0, True, 30), (0.01, True, 20), (0.05, True, 10)], 0, percent=True)


def test_npl_band_at_its_inclusive_edges() -> None:
    f = compile("BAND(npl_ratio, npl_bands)", {"npl_ratio": "npl_ratio"}, tables={"npl_bands": NPL})
    x = q("0", "0.0000001", "0.01", "0.0100001", "0.05", "0.0500001", "1", None, "-0.01")
    r = f.evaluate({"npl_ratio": x})
    assert fractions_of(r.value) == frac("30", "20", "20", "10", "10", "0", "0", None, "30")


def test_band_edges_that_are_not_inclusive() -> None:
    t = Band.of([("60", False, "0"), ("80", False, "1")], "2")
    f = compile("BAND(x, t)", NAMES, tables={"t": t})
    assert fractions_of(f.evaluate({"x": q("59.99", "60", "79.99", "80")}).value) == frac(
        "0", "1", "1", "2"
    )


def test_band_tables_must_rise() -> None:
    with pytest.raises(ValueError, match="must rise"):
        Band.of([(0.05, True, 10), (0.01, True, 20)], 0)
    Band.of([(0, False, 1), (0, True, 2)], 3)  # below 0, then exactly 0


def test_peer_average_counts_members_only_and_skips_blanks() -> None:
    f = compile("AVG(x BY branch_code)", {"x": "x"}, keys={"branch_code"})
    env = {"x": q("1", "2", "6", "100", None, "5")}
    branch = np.array(["B1", "B1", "B1", "B1", "B1", "B2"], dtype=object)
    members = np.array([True, True, True, False, True, True])  # row 3 was refused
    r = f.evaluate(env, members, {"branch_code": branch})
    assert fractions_of(r.value) == [3, 3, 3, 3, 3, 5]
    sums = compile("SUM(x BY branch_code)", {"x": "x"}, keys={"branch_code"})
    assert fractions_of(sums.evaluate(env, members, {"branch_code": branch}).value) == [
        9, 9, 9, 9, 9, 5,
    ]  # fmt: skip
    count = compile("COUNT(BY branch_code)", {}, keys={"branch_code"})
    assert fractions_of(count.evaluate(env, members, {"branch_code": branch}).value) == [
        4, 4, 4, 4, 4, 1,
    ]  # fmt: skip
    whole = compile("AVG(x)", {"x": "x"}).evaluate(env, members)
    assert fractions_of(whole.value) == [Fraction(14, 4)] * 6


def test_peer_average_by_two_keys_and_of_an_expression() -> None:
    names = {"d": "d", "l": "l"}
    f = compile("AVG(d / l BY branch_code, role)", names, keys={"branch_code", "role"})
    env = {"d": q("1", "2", "3", "4"), "l": q("3", "3", "1", "0")}
    keys = {
        "branch_code": np.array(["B1", "B1", "B1", "B2"], dtype=object),
        "role": np.array(["m", "m", "h", "m"], dtype=object),
    }
    r = f.evaluate(env, None, keys)
    # B1/m: (1/3 + 2/3) / 2; B1/h: 3; B2/m: 4/0 is blank, so no value to average
    assert fractions_of(r.value) == [Fraction(1, 2), Fraction(1, 2), 3, None]
    assert not r.zero_division.any()  # an empty average is blank, not a division by zero


def test_an_average_of_many_distinct_ratios_is_exact() -> None:
    n = 400
    d = [Decimal(i) for i in range(1, n + 1)]
    f = compile("AVG(1 / x BY g)", {"x": "x"}, keys={"g"})
    r = f.evaluate({"x": Q.from_decimals(d)}, None, {"g": np.zeros(n)})
    assert fractions_of(r.value)[0] == sum(Fraction(1, i) for i in range(1, n + 1)) / n


# --- the shipped schemes, written in the language --------------------------------------------

LOAN_EVA = {
    "dl_ratio": "deposit_avg / loan_avg",
    "dl_peer_avg": "AVG(dl_ratio BY branch_code)",
    "dl_coef": "IF(dl_ratio > dl_peer_avg,"
    " MAX(0, 1 + 10 * ((dl_ratio - dl_base) + (dl_ratio - dl_peer_avg))),"
    " MAX(0, 1 + 10 * (dl_ratio - dl_base)))",
    "return_rate": "eva_total / loan_avg",
    "return_peer_avg": "AVG(return_rate BY branch_code)",
    "return_coef": "IF(return_rate > return_peer_avg,"
    " MAX(0, 1 + 10 * ((return_rate - return_base) + (return_rate - return_peer_avg))),"
    " MAX(0, 1 + 10 * (return_rate - return_base)))",
    "asset_pay": "ROUND((eva_stock * stock_rate + eva_new * new_rate) * 10000"
    " * dl_coef * return_coef, 2)",
    "business_pay": "asset_pay + mid_pay",
    "total_pay": "business_pay + mgmt_pay",
}
LOAN_FIELDS = (
    "deposit_avg loan_avg dl_base eva_stock eva_new eva_total return_base mid_pay mgmt_pay"
).split()


def run_scheme(
    formulas: dict[str, str],
    env: dict,
    members: np.ndarray | None = None,
    keys: dict | None = None,
    bools: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict:
    """Compile every formula against the fields, parameters and earlier figures, and evaluate
    them in order (what the rulebook will do)."""
    names = {k: k for k in env}
    out = dict(env)
    for key, text in formulas.items():
        f = compile(text, names, keys=set(keys or {}), bools=bools, where=key, expect=NUMBER)
        assert set(f.refs) <= set(names)
        out[key] = f.evaluate(out, members, keys).value
        names[key] = key
    return out


def test_loan_eva_coefficients_above_below_and_at_the_peer_average() -> None:
    rows = [  # deposit_avg, loan_avg, dl_base; branch
        ("150", "100", "1.2", "B1"),  # 1.5 > avg 1.1: 1 + 10 × (0.3 + 0.4) = 8
        ("100", "100", "1.2", "B1"),  # 1.0 < 1.1: max(0, 1 + 10 × -0.2) = 0
        ("80", "100", "0.5", "B1"),  # 0.8 < 1.1: 1 + 10 × 0.3 = 4
        ("999", "1", "0", "B1"),  # refused: not in the average
        ("100", "100", "0.9", "B2"),  # equal to the average 1: both formulas give 2
        ("50", "50", "1", "B2"),  # equal: 1
        ("1", "1", "0", "B3"),  # 1 < avg 4/3: 1 + 10 × 1 = 11
        ("1", "1", "0", "B3"),
        ("2", "1", "1.9", "B3"),  # avg 4/3: 1 + 10 × (0.1 + 2/3) = 26/3
    ]
    n = len(rows)
    env = {
        "deposit_avg": q(*(r[0] for r in rows)),
        "loan_avg": q(*(r[1] for r in rows)),
        "dl_base": q(*(r[2] for r in rows)),
    }
    keys = {"branch_code": np.array([r[3] for r in rows], dtype=object)}
    members = np.array([True] * n)
    members[3] = False
    subset = {k: LOAN_EVA[k] for k in ("dl_ratio", "dl_peer_avg", "dl_coef")}
    out = run_scheme(subset, env, members, keys)
    assert fractions_of(out["dl_peer_avg"])[:3] == [Fraction(11, 10)] * 3
    assert fractions_of(out["dl_peer_avg"])[4:] == [
        1,
        1,
        Fraction(4, 3),
        Fraction(4, 3),
        Fraction(4, 3),
    ]
    coef = fractions_of(out["dl_coef"])
    assert coef[:3] + coef[4:] == [8, 0, 4, 2, 1, 11, 11, Fraction(26, 3)]


def test_loan_eva_pay_rounds_once_at_the_end() -> None:
    env = {
        "deposit_avg": q("150", "100", "2", "1", "1"),
        "loan_avg": q("100", "100", "1", "1", "1"),
        "dl_base": q("1.2", "1.2", "1.9", "0", "0"),
        "eva_stock": q("1", "-3.21", "1", "0", "0"),
        "eva_new": q("0.5", "2", "0", "0", "0"),
        "eva_total": q("3", "1", "1", "1", "1"),
        "return_base": q("0.02", "0.05", "1", "1", "1"),
        "mid_pay": q("100.5", None, "0", "0", "0"),
        "mgmt_pay": q("20", "0", "0", "0", "0"),
        "stock_rate": Decimal("0.05"),  # a parameter: one value for every row
        "new_rate": Decimal("0.10"),
    }
    env["mid_pay"] = Q.from_decimals(["100.5", "0", "0", "0", "0"])
    keys = {"branch_code": np.array(["B1", "B1", "B3", "B3", "B3"], dtype=object)}
    out = run_scheme(LOAN_EVA, env, None, keys)
    # B1: dl_ratio 1.5 / 1.0, avg 1.25: coef 1 + 10 × (0.3 + 0.25) = 6.5 and max(0, -1) = 0
    assert fractions_of(out["dl_coef"])[:2] == [Fraction(13, 2), 0]
    # B1: return_rate 0.03 / 0.01, avg 0.02: 1 + 10 × (0.01 + 0.01) = 1.2 and 1 + 10 × -0.04
    assert fractions_of(out["return_coef"])[:2] == [Fraction(6, 5), Fraction(3, 5)]
    # (1 × 0.05 + 0.5 × 0.10) × 10000 × 6.5 × 1.2 = 7800
    assert fractions_of(out["asset_pay"])[0] == 7800
    assert fractions_of(out["total_pay"])[:2] == [Fraction(79205, 10), 0]
    # B3: dl 2 vs avg 4/3: 26/3; return 1 = avg 1: max(0, 1 + 10 × 0) = 1
    # 0.05 × 10000 × 26/3 = 13000/3 = 4333.333… -> 4333.33 (only the pay is rounded)
    assert fractions_of(out["asset_pay"])[2] == Fraction(433333, 100)


MGMT = {
    "m_survey": "IF(false_material OR (submitted > 0 AND returned / submitted >= 50%),"
    " 0, MAX(0, 5 - 2 * returned))",
    "m_archive": "MAX(0, 10 - 0.5 * missing_docs)",
    "m_visit": "IF(unreported_major, 0, MAX(0, 15 - missed_visits - missed_records)) + info_bonus",
    "m_risk": "MAX(0, 5 - 30 * (overdue_count + downgrade_count))",
    "m_daily": "daily_score",
    "risk_overflow": "MAX(0, 30 * (overdue_count + downgrade_count) - 5)",
    "adjust": "-2 * late_entries - 5 * missed_entries - 1 * late_reports + 5 * temp_tasks",
    "total": "m_survey + m_archive + m_visit + m_risk + m_daily - risk_overflow + adjust",
}


def test_mgmt_monthly_items_and_total() -> None:
    env = {
        "false_material": np.array([True, False, False, False, False, False]),
        "submitted": q("4", "4", "5", "0", "3", "10"),
        "returned": q("0", "2", "2", "0", "1", "3"),
        "missing_docs": q("3", "20", "21", "0", "1", "0"),
        "unreported_major": np.array([False, True, False, False, False, False]),
        "missed_visits": q("3", "0", "10", "0", "0", "0"),
        "missed_records": q("2", "0", "8", "0", "0", "0"),
        "info_bonus": q("1.5", "2", "0", "30", "0", "0"),
        "overdue_count": q("0", "1", "2", "0", "0", "0"),
        "downgrade_count": q("0", "0", "0", "0", "0", "1"),
        "daily_score": q("20", "25", "0", "12.5", "0", "0"),
        "late_entries": q("1", "0", "0", "0", "0", "0"),
        "missed_entries": q("1", "0", "0", "0", "0", "0"),
        "late_reports": q("2", "0", "0", "0", "0", "0"),
        "temp_tasks": q("3", "0", "0", "0", "0", "0"),
    }
    out = run_scheme(MGMT, env, bools={"false_material", "unreported_major"})
    # false material; exactly 50% ("50%以上" includes 50%); 40%; nothing submitted; 1/3; 30%
    assert fractions_of(out["m_survey"]) == frac("0", "0", "1", "5", "3", "0")
    assert fractions_of(out["m_archive"]) == frac("8.5", "0", "0", "10", "9.5", "10")
    assert fractions_of(out["m_visit"]) == frac("11.5", "2", "0", "45", "15", "15")
    assert fractions_of(out["m_risk"]) == frac("5", "0", "0", "5", "5", "0")
    assert fractions_of(out["risk_overflow"]) == frac("0", "25", "55", "0", "0", "25")
    assert fractions_of(out["adjust"]) == frac("6", "0", "0", "0", "0", "0")
    # 0 + 8.5 + 11.5 + 5 + 20 - 0 + 6; 0 + 0 + 2 + 0 + 25 - 25; 1 + 0 + 0 + 0 + 0 - 55 (not floored)
    assert fractions_of(out["total"]) == frac("51", "2", "-54", "77.5", "32.5", "0")


MAIN = {
    "new_deposit": "deposit_avg - deposit_base",
    "deposit_growth": "new_deposit / deposit_base",
    "npl_ratio": "IF(loan_balance = 0, 0, npl_balance / loan_balance)",
    "collection_rate": "IF(due_amount = 0, 1, collected_amount / due_amount)",
    "score_deposit": "ROUND(CLIP(40 + 2 * (deposit_growth * 100 - 30), 0, 60), 2)",
    "score_npl": "BAND(npl_ratio, npl_bands)",
    "score_collection": "ROUND(CLIP(20 + 2 * (collection_rate * 100 - 99.5) / 0.1, 0, 30), 2)",
    "score_accounts": "ROUND(10 * MIN(new_accounts / (10 * period_fraction), 1), 2)",
}


def test_main_policy_items() -> None:
    env = {
        "deposit_base": q("1000", "1000", "1000", "1000", "20565.83"),
        "deposit_avg": q("1312.5", "1600", "950", "1300.025", "26735.58"),
        "loan_balance": q("1000", "0", "1000", "1000", "800"),
        "npl_balance": q("10", "0", "10.0001", "50", "0"),
        "due_amount": q("1000", "1000", "0", "1000", "1000"),
        "collected_amount": q("995", "997.5", "0", "1000", "900"),
        "new_accounts": q("1", "3", "2", "0", None),
        "period_fraction": Decimal("0.25"),
    }
    names = {k: k for k in env}
    out = dict(env)
    for key, text in MAIN.items():
        f = compile(text, names, tables={"npl_bands": NPL}, where=f"items.{key}.formula")
        out[key] = f.evaluate(out).value
        names[key] = key
    # growth 31.25% -> 42.5; 60% -> 100, capped at 60; -5% -> -30, floored at 0;
    # 30.0025% -> 40.005 -> 40.01 (half away from zero); 30% exactly on a large base -> 40
    assert fractions_of(out["score_deposit"]) == frac("42.5", "60", "0", "40.01", "40")
    assert fractions_of(out["npl_ratio"]) == frac("0.01", "0", "0.0100001", "0.05", "0")
    assert fractions_of(out["score_npl"]) == frac("20", "30", "10", "10", "30")
    assert fractions_of(out["score_collection"]) == frac("20", "25", "30", "30", "0")
    # target 10 × 0.25 = 2.5 accounts: 1 -> 4, 3 -> 10 (no bonus), 2 -> 8
    assert fractions_of(out["score_accounts"]) == frac("4", "10", "8", "0", None)


# --- a property: arithmetic is exactly Fraction arithmetic ----------------------------------

_DECIMALS = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False)


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, object]:
    """(formula text, tree for the reference): leaves are decimals and the names a, b, c."""
    if depth >= 4 or draw(st.integers(0, 2)) == 0:
        if draw(st.booleans()):
            name = draw(st.sampled_from("abc"))
            return name, name
        d = draw(_DECIMALS)
        text = format(d, "f")
        return (f"({text})" if d < 0 else text), Fraction(d)
    kind = draw(st.sampled_from(["+", "-", "*", "/", "neg", "MIN", "MAX", "ABS"]))
    left = draw(_expressions(depth + 1))
    if kind == "neg":
        return f"-({left[0]})", ("neg", left[1])
    if kind == "ABS":
        return f"ABS({left[0]})", ("abs", left[1])
    right = draw(_expressions(depth + 1))
    if kind == "/" and right[1] == 0:  # a literal 0 divisor is refused at load (tested below)
        right = ("(0 + 0)", ("+", Fraction(0), Fraction(0)))
    if kind in ("MIN", "MAX"):
        return f"{kind}({left[0]}, {right[0]})", (kind, left[1], right[1])
    return f"({left[0]} {kind} {right[0]})", (kind, left[1], right[1])


def _reference(tree: object, row: dict[str, Fraction]) -> Fraction | None:
    if isinstance(tree, Fraction):
        return tree
    if isinstance(tree, str):
        return row[tree]
    op, *args = tree  # type: ignore[misc]
    values = [_reference(a, row) for a in args]
    if any(v is None for v in values):
        return None
    if op == "neg":
        return -values[0]
    if op == "abs":
        return abs(values[0])
    a, b = values
    if op == "MIN":
        return min(a, b)
    if op == "MAX":
        return max(a, b)
    if op == "/":
        return None if b == 0 else a / b
    return {"+": a + b, "-": a - b, "*": a * b}[op]


@given(
    _expressions(),
    st.lists(st.tuples(_DECIMALS, _DECIMALS, _DECIMALS), min_size=1, max_size=4),
)
@settings(max_examples=200, derandomize=True, deadline=None)
def test_arithmetic_is_exactly_fraction_arithmetic(
    expression: tuple[str, object], rows: list[tuple[Decimal, Decimal, Decimal]]
) -> None:
    text, tree = expression
    env = {k: Q.from_decimals([r[i] for r in rows]) for i, k in enumerate("abc")}
    result = compile(text, NAMES).evaluate(env)
    expected = [_reference(tree, {k: Fraction(r[i]) for i, k in enumerate("abc")}) for r in rows]
    assert fractions_of(result.value) == expected
    assert result.zero_division.tolist() == [e is None for e in expected]


def test_twenty_thousand_rows_in_one_pass() -> None:
    n = 20_000
    rng = np.random.default_rng(7)
    returned = rng.integers(0, 6, n)
    submitted = returned + rng.integers(0, 6, n)
    env = {
        "false_material": rng.random(n) < 0.1,
        "submitted": Q.from_floats(submitted.astype(float)),
        "returned": Q.from_floats(returned.astype(float)),
    }
    f = compile(MGMT["m_survey"], {k: k for k in env}, bools={"false_material"})
    got = fractions_of(f.evaluate(env).value)
    for i in range(0, n, 997):
        s, r = int(submitted[i]), int(returned[i])
        zero = env["false_material"][i] or (s > 0 and Fraction(r, s) >= Fraction(1, 2))
        assert got[i] == (0 if zero else max(0, 5 - 2 * r))


# --- errors -----------------------------------------------------------------------------------

ERR_NAMES = {
    "增幅": "growth", "growth": "growth", "材料虚假": "false_material", "x": "x", "y": "y",
    "日均存款余额(万元)": "deposit_avg",
}  # fmt: skip
ERR_KEYS = {"branch_code": "branch_code", "机构号": "branch_code"}


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("40 + 2 * (增幅 - 30", 17, "缺少右括号(与第10个字符处的左括号配对)"),
        ("", 0, "公式为空"),
        ("   ", 0, "公式为空"),
        ("40 + #", 5, "无法识别的字符「#」"),
        ("增副 + 1", 0, "未知的名称「增副」(是否应为「增幅」?)"),
        ("zzz + 1", 0, "未知的名称「zzz」"),
        ("MAXX(1, 2)", 0, "未知的函数「MAXX」(是否应为「MAX」?)"),
        (
            "日均存款余额(万元) / 2",
            0,
            "未知的函数「日均存款余额」(含括号等符号的名称请写在「」中,如「日均存款余额(万元)」)",
        ),
        ("增幅(1 + 2)", 0, "「增幅」是名称,不是函数(乘法请写 *)"),
        ("MIN(1)", 0, "函数MIN至少需要2个参数,这里有1个"),
        ("IF(x > 1, 2)", 0, "函数IF需要3个参数,这里有2个"),
        ("FLOOR(x, 1, 2)", 0, "函数FLOOR需要1到2个参数,这里有3个"),
        ("BAND(x)", 0, "函数BAND需要2个参数,这里有1个"),
        ("1.2.3 + x", 0, "「1.2.3」不是有效的数字"),
        ("x * 2倍", 4, "「2倍」不是有效的数字"),
        ("AVG(x BY 姓名)", 9, "「姓名」不能用于分组(可用: branch_code、机构号)"),
        ("AVG(x BY)", 8, "BY后应为分组的列名"),
        ("x BY 机构号", 2, "BY只能写在AVG、SUM、COUNT的括号里"),
        ("COUNT(x BY 机构号)", 6, "COUNT不带参数,写作 COUNT() 或 COUNT(BY 分组列)"),
        ("材料虚假 > 1", 5, "不能把是/否值与数值比较"),
        ("材料虚假 < 材料虚假", 5, "是/否值只能用 = 或 <> 比较"),
        ("材料虚假 + 1", 0, "「材料虚假」为是/否值,不能参与算术运算"),
        ("MAX(x > 1, 2)", 4, "比较的结果为是/否值,不能作为MAX的参数(应为数值)"),
        ("IF(x, 1, 2)", 3, "「x」为数值,IF的条件应为是/否值(如比较)"),
        ("IF(x > 1, 1, x > 2)", 13, "IF的两个结果应同为数值或同为是/否值"),
        ("x AND y > 1", 0, "「x」为数值,且/或/非只能连接是/否值(如比较)"),
        ("ROUND(x, y)", 9, "ROUND的小数位数应为写明的整数(如 2)"),
        ("ROUND(x, 1.5)", 9, "ROUND的小数位数应为写明的整数(如 2)"),
        ("x b", 2, "此处应为运算符,却是「b」"),
        ("x + 1)", 5, "多余的右括号"),
        ("x +", 3, "公式不完整,缺少数字或名称"),
        ("x * * 2", 4, "此处应为数字或名称,却是「*」"),
        ("MAX(x y)", 6, "此处应为逗号或右括号,却是「y」"),
        ("x < y < 1", 6, "比较不能连写(如 a < b < c),请用 AND 连接两个比较"),
        ("x%", 1, "%只能紧跟在数字后面(如 30%)"),
        ("「日均 + 1", 0, "「没有对应的」"),
        ("「」 + 1", 0, "「」中没有名称"),
        ("BAND(x, npl2)", 8, "未知的分档表「npl2」(是否应为「npl」?)"),
        ("BAND(x, 1)", 8, "BAND的第二个参数应为分档表的名称"),
        ("npl + 1", 0, "「npl」是分档表,只能用在 BAND(数值, npl) 中"),
        ("x > 1", 0, "公式应算出数值,却算出是/否值"),
        ("x ! 1", 2, "无法识别的字符「!」(不等于请写 <> 或 !=)"),
    ],
)
def test_errors_name_the_rule_the_position_and_the_problem(
    text: str, position: int, message: str
) -> None:
    tables = {"npl": Band.of([(0, True, 30)], 0)}
    with pytest.raises(FormulaError) as err:
        compile(
            text, ERR_NAMES, keys=ERR_KEYS, tables=tables, bools={"false_material"},
            where="items.score_deposit.formula", expect=NUMBER,
        )  # fmt: skip
    e = err.value
    assert isinstance(e, KpiExcelError)
    assert (e.position, e.message) == (position, message)
    if not text.strip():
        assert str(e) == "items.score_deposit.formula: 公式为空"
    else:
        at = "末尾" if position == len(text) else f"第{position + 1}个字符处"
        assert str(e) == f"items.score_deposit.formula: 公式「{text}」{at}: {message}"
    assert e.where == "items.score_deposit.formula" and e.text == text


def test_an_error_message_in_full() -> None:
    with pytest.raises(FormulaError) as err:
        compile("40 + 2 * (增幅 - 30", ERR_NAMES, where="items.score_deposit.formula")
    assert str(err.value) == (
        "items.score_deposit.formula: 公式「40 + 2 * (增幅 - 30」末尾:"
        " 缺少右括号(与第10个字符处的左括号配对)"
    )
    with pytest.raises(FormulaError) as err:
        compile("40 + 2 * (增副 - 30)", ERR_NAMES, where="items.score_deposit.formula")
    assert str(err.value) == (
        "items.score_deposit.formula: 公式「40 + 2 * (增副 - 30)」第11个字符处:"
        " 未知的名称「增副」(是否应为「增幅」?)"
    )
    assert err.value.detail == str(err.value).removeprefix("items.score_deposit.formula: ")


def test_an_error_without_a_rule_name_is_just_the_detail() -> None:
    with pytest.raises(FormulaError) as err:
        compile("(x", ERR_NAMES)
    assert str(err.value) == "公式「(x」末尾: 缺少右括号(与第1个字符处的左括号配对)"
    assert err.value.message == "缺少右括号(与第1个字符处的左括号配对)"


def test_a_boolean_formula_can_be_required() -> None:
    with pytest.raises(FormulaError) as err:
        compile("x + 1", ERR_NAMES, expect=BOOL)
    assert err.value.message == "公式应算出是/否值(如比较),却算出数值"
    assert compile("x > 1 OR 材料虚假", ERR_NAMES, bools={"false_material"}, expect=BOOL)


def test_evaluation_refuses_missing_or_misshapen_values() -> None:
    f = compile("x + y", ERR_NAMES)
    with pytest.raises(ValueError, match="no value for 'y'"):
        f.evaluate({"x": q("1")})
    with pytest.raises(ValueError, match="has 2 rows, not 1"):
        f.evaluate({"x": q("1"), "y": q("1", "2")})
    with pytest.raises(TypeError, match="must be a Q or a decimal"):
        f.evaluate({"x": q("1"), "y": 1.5})


# --- exact.Q additions --------------------------------------------------------------------------


def test_q_group_sum_maximum_abs_reduced() -> None:
    x = q("1.5", "-2.5", "0.125", None, "7", "0.3333")
    sums = x.group_sum(np.array([0, 1, 0, 0, 1, -1]), 3)
    assert fractions_of(sums) == frac("1.625", "4.5", "0")
    assert fractions_of(x.maximum(0)) == frac("1.5", "0", "0.125", None, "7", "0.3333")
    assert fractions_of(abs(x)) == frac("1.5", "2.5", "0.125", None, "7", "0.3333")
    r = (x * 4).reduced()
    assert r.d.tolist()[:3] == [1, 1, 2]


# --- explanations ------------------------------------------------------------------------------

LABELS = {
    "missing_docs": "档案缺漏项数", "returned": "退回笔数", "submitted": "授信报批笔数",
    "false_material": "材料虚假", "npl_ratio": "不良率", "branch_code": "机构号",
    "dl_ratio": "日均存贷比", "dl_base": "日均存贷比基数", "dl_peer_avg": "日均存贷比同类平均",
    "eva_stock": "存量资产EVA", "unreported_major": "重大事项未报告", "info_bonus": "重大信息加分",
    "missed_visits": "走访缺少次数", "missed_records": "走访记录缺少次数",
}  # fmt: skip


def explained(text: str, env: dict, **kw) -> list[str]:
    names = {k: k for k in env}
    tables = kw.pop("tables", {})
    keys = kw.pop("keys", None)
    members = kw.pop("members", None)
    bools = {k for k, v in env.items() if isinstance(v, np.ndarray) and v.dtype == bool}
    f = compile(text, names, keys=set(keys or {}), tables=tables, bools=bools)
    return f.explain(env, members, keys, labels=LABELS, **kw).tolist()


@pytest.mark.parametrize(
    ("n", "d", "percent", "shown"),
    [
        (17, 2, False, "8.5"),
        (-1, 8, False, "-0.125"),
        (1, 3, False, "≈0.333333"),
        (2, 3, False, "≈0.666667"),
        (-2, 3, False, "≈-0.666667"),
        (1234567, 1000000, False, "1.234567"),
        (12345675, 10000000, False, "≈1.234568"),
        (1, 10**7, False, "≈0"),
        (3, 5, True, "60%"),
        (1, 3, True, "≈33.333333%"),
        (0, 1, False, "0"),
        (5000, 1, False, "5000"),
    ],
)
def test_numbers_in_explanations(n: int, d: int, percent: bool, shown: str) -> None:
    assert show_number(n, d, percent) == shown


def test_explaining_a_per_count_deduction() -> None:
    env = {"missing_docs": q("3", "25", None)}
    text = "MAX(0, 10 - 0.5 * missing_docs)"
    assert explained(text, env) == [
        "max(0, 10 − 0.5×档案缺漏项数3) = 8.5",
        "max(0, 10 − 0.5×档案缺漏项数25) = 0",
        "max(0, 10 − 0.5×档案缺漏项数(空)) = 空",
    ]
    assert explained(text, env, unit="分", rows=np.array([0])) == [
        "max(0, 10 − 0.5×档案缺漏项数3) = 8.5分"
    ]


def test_explaining_an_if_shows_the_branch_taken_and_why() -> None:
    env = {
        "false_material": np.array([True, False, False, False]),
        "submitted": q("5", "5", "5", "0"),
        "returned": q("1", "3", "1", "0"),
    }
    assert explained(MGMT["m_survey"], env) == [
        "因为材料虚假:是,所以得0",
        "因为授信报批笔数5 > 0,退回笔数3/授信报批笔数5 = 60% ≥ 50%,所以得0",
        "因为材料虚假:否,退回笔数1/授信报批笔数5 = 20% < 50%,所以max(0, 5 − 2×退回笔数1) = 3",
        "因为材料虚假:否,授信报批笔数0 ≤ 0,所以max(0, 5 − 2×退回笔数0) = 5",
    ]


def test_explaining_a_branch_inside_a_sum() -> None:
    env = {
        "unreported_major": np.array([True, False]),
        "missed_visits": q("1", "3"),
        "missed_records": q("0", "2"),
        "info_bonus": q("2", "1.5"),
    }
    assert explained(MGMT["m_visit"], env) == [
        "因为重大事项未报告:是,所以0 + 重大信息加分2 = 2",
        "因为重大事项未报告:否,所以max(0, 15 − 走访缺少次数3 − 走访记录缺少次数2)"
        " + 重大信息加分1.5 = 11.5",
    ]


def test_explaining_a_band_and_ratios_in_percent() -> None:
    env = {"npl_ratio": q("0.008", "0", "0.07", None)}
    got = explained(
        "BAND(npl_ratio, npl)", env, tables={"npl": NPL}, ratios={"npl_ratio"}, unit="分"
    )
    assert got == [
        "因为0% < 不良率0.8% ≤ 1%,所以得20分",
        "因为不良率0% ≤ 0%,所以得30分",
        "因为不良率7% > 5%,所以得0分",
        "空",
    ]


def test_a_name_compared_with_a_percentage_is_shown_in_percent() -> None:
    env = {"returned": q("0.6", "0.125")}
    assert explained("IF(returned >= 50%, 0, 5)", env) == [
        "因为退回笔数60% ≥ 50%,所以得0",
        "因为退回笔数12.5% < 50%,所以得5",
    ]
    percent_table = {"t": Band.of([(0.5, False, 1)], 2, percent=True)}
    assert explained("BAND(returned, t)", env, tables=percent_table) == [
        "因为退回笔数60% ≥ 50%,所以得2",
        "因为退回笔数12.5% < 50%,所以得1",
    ]


def test_explaining_a_peer_average_and_a_division_by_zero() -> None:
    env = {"dl_ratio": q("1.5", "1", "0.8"), "dl_base": q("1.2", "1.2", "0.5")}
    keys = {"branch_code": np.array(["B1", "B1", "B1"], dtype=object)}
    text = (
        "IF(dl_ratio > AVG(dl_ratio BY branch_code),"
        " MAX(0, 1 + 10 * ((dl_ratio - dl_base) + (dl_ratio - AVG(dl_ratio BY branch_code)))),"
        " MAX(0, 1 + 10 * (dl_ratio - dl_base)))"
    )
    got = explained(text, env, keys=keys)
    assert got[0] == (
        "因为日均存贷比1.5 > 日均存贷比的同机构号平均值1.1,所以max(0, 1 + 10×((日均存贷比1.5"
        " − 日均存贷比基数1.2) + (日均存贷比1.5 − 日均存贷比的同机构号平均值1.1))) = 8"
    )
    assert got[1] == (
        "因为日均存贷比1 ≤ 日均存贷比的同机构号平均值1.1,所以max(0, 1 + 10×(日均存贷比1"
        " − 日均存贷比基数1.2)) = 0"
    )
    env = {"returned": q("1", "2"), "submitted": q("0", "3")}
    assert explained("returned / submitted", env) == [
        "退回笔数1/授信报批笔数0 = 空(除数为0)",
        "退回笔数2/授信报批笔数3 = ≈0.666667",
    ]


def test_explaining_negative_values_coalesce_isblank_and_booleans() -> None:
    env = {"eva_stock": q("-120", "30"), "info_bonus": q(None, "2")}
    assert explained("eva_stock * 0.05", env) == [
        "存量资产EVA(-120)×0.05 = -6",
        "存量资产EVA30×0.05 = 1.5",
    ]
    assert explained("COALESCE(info_bonus, 0) + 1", env) == [
        "因为重大信息加分为空,所以0 + 1 = 1",
        "重大信息加分2 + 1 = 3",
    ]
    assert explained("ISBLANK(info_bonus) OR eva_stock < 0", env) == [
        "因为重大信息加分为空,所以为是",
        "因为重大信息加分不为空,存量资产EVA30 ≥ 0,所以为否",
    ]


def test_describe_renders_the_rule_with_labels() -> None:
    f = compile(MGMT["m_survey"], {k: k for k in LABELS}, bools={"false_material"})
    assert f.describe(LABELS) == (
        "if(材料虚假 或 (授信报批笔数 > 0 且 退回笔数/授信报批笔数 ≥ 50%), 0,"
        " max(0, 5 − 2×退回笔数))"
    )
    g = compile("AVG(dl_ratio BY branch_code) - (1 - dl_base)", {k: k for k in LABELS},
                keys={"branch_code"})  # fmt: skip
    assert g.describe(LABELS) == "日均存贷比的同机构号平均值 − (1 − 日均存贷比基数)"
    assert compile("a - (b - c) / (a * b)", NAMES).describe() == "a − (b − c)/(a×b)"


# --- the developer doc ---------------------------------------------------------------------------


def test_the_docs_examples_are_the_tested_formulas() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "formula.md").read_text("utf-8")
    blocks = re.findall(r"```formula\n(.*?)```", doc, flags=re.S)
    written = [dict(line.split(" = ", 1) for line in b.strip().splitlines()) for b in blocks]
    assert written == [LOAN_EVA, MGMT, MAIN]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            "四舍五入(限于(40 + 2 × (新增存款日均增幅 × 100 − 30), 0, 60), 2)",
            "(ROUND (CLIP (+ 40 (* 2 (- (* deposit_growth 100) 30))) 0 60) 2)",
        ),
        ("最大(0, 10 − 0.5 × 档案缺漏项数)", "(MAX 0 (- 10 (* 0.5 missing_docs)))"),
        ("平均(「日均存贷比」 按 机构号)", "(AVG dl_ratio BY branch_code)"),
    ],
)
def test_the_docs_chinese_examples(text: str, tree: str) -> None:
    names = {
        "新增存款日均增幅": "deposit_growth",
        "档案缺漏项数": "missing_docs",
        "日均存贷比": "dl_ratio",
    }
    assert sexpr(compile(text, names, keys={"机构号": "branch_code"}).ast) == tree


def test_an_average_of_rounded_ratios_stays_short() -> None:
    n = 2000
    x = Q.from_decimals([Decimal(i) for i in range(1, n + 1)])
    f = compile("AVG(ROUND(1 / x, 6))", {"x": "x"})
    r = f.evaluate({"x": x})
    six = Decimal("0.000001")
    rounded = (Fraction((Decimal(1) / i).quantize(six, ROUND_HALF_UP)) for i in range(1, n + 1))
    expected = sum(rounded) / n  # 1/128 = 0.0078125 is half-way: 0.007813
    assert fractions_of(r.value)[0] == expected
    assert int(r.value.d[0]) <= 10**6 * n
