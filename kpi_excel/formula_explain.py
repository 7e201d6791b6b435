"""Explanations generated from a formula and each person's values (docs/formula.md).

A sentence is the formula rendered with each name replaced by its label and the person's value,
then ` = ` and the result: `max(0, 10 − 0.5×档案缺漏项数3) = 8.5`. Where the formula chooses (IF,
BAND, COALESCE) only what was chosen is shown, and why comes first as true statements:
`因为退回笔数3/授信报批笔数5 = 60% ≥ 50%,所以得0`. A comparison is shown with its own operator
where it holds and the opposite one where it does not (`20% < 50%` for `>= 50%`), so every
statement in a sentence is true; of an AND that fails only the failing side is shown, of an
OR that holds only the side that holds.

Numbers are shown exactly when they have at most 6 decimals (`8.5`, `0.125`), otherwise
rounded half away from zero to 6 decimals after `≈` (`≈0.333333`); a name the caller marks as a
ratio, and a computed side compared with a percentage, are shown in percent (`60%`). A
negative value after a label is put in brackets (`存量资产EVA(-120)`). Every sentence is built
column-wise over object arrays of str, each distinct number formatted once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .exact import Q
from .formula_ast import (
    NUMBER,
    Aggregate,
    Band,
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

if TYPE_CHECKING:
    from .formula import Formula
    from .formula_eval import Run, Value

SHOWN_DECIMALS = 6
_OPS = {"+": " + ", "-": " − ", "*": "×", "/": "/"}
_HOLDS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "=": "=", "<>": "≠"}
_FAILS = {"<": "≥", "<=": ">", ">": "≤", ">=": "<", "=": "≠", "<>": "="}
_AGG = {"AVG": "平均值", "SUM": "合计"}
_PRIMARY = 9


def show_number(n: int, d: int, percent: bool = False) -> str:
    """An exact rational as the explanations show it (see the module docstring)."""
    if percent:
        n *= 100
    scale = 10**SHOWN_DECIMALS
    mag = (2 * abs(n) * scale + d) // (2 * d)
    exact = (n * scale) % d == 0
    whole, part = divmod(mag, scale)
    text = str(whole) + (f".{part:0{SHOWN_DECIMALS}d}".rstrip("0") if part else "")
    if n < 0 and mag:
        text = "-" + text
    return ("" if exact else "≈") + text + ("%" if percent else "")


def _prec(node: Node) -> int:
    if isinstance(node, Logic):
        return 1 if node.op == "OR" else 2
    if isinstance(node, Unary):
        return 3 if node.op == "NOT" else 7
    if isinstance(node, Compare):
        return 4
    if isinstance(node, Binary):
        return 5 if node.op in "+-" else 6
    return _PRIMARY


def _right_prec(node: Binary | Compare | Logic, p: int) -> int:
    return p + 1 if isinstance(node, Compare) or node.op in ("-", "/") else p


def _key_text(by: tuple[str, ...], labels: Mapping[str, str]) -> str:
    return "、".join(labels.get(k, k) for k in by)


def _aggregate_words(node: Aggregate, labels: Mapping[str, str], arg: str) -> str:
    group = f"同{_key_text(node.by, labels)}" if node.by else "全体"
    if node.func == "COUNT":
        return f"{group}人数"
    return f"{arg}的{group}{_AGG[node.func]}"


def describe(node: Node, labels: Mapping[str, str], min_prec: int = 0) -> str:
    """The formula with labels and no values."""
    p = _prec(node)
    if isinstance(node, Num):
        text = node.text
    elif isinstance(node, Bool):
        text = "是" if node.value else "否"
    elif isinstance(node, Name):
        text = labels.get(node.key, node.written)
    elif isinstance(node, Unary):
        sign = "非" if node.op == "NOT" else "−"
        text = sign + describe(node.operand, labels, p)
    elif isinstance(node, Binary | Compare | Logic):
        if isinstance(node, Binary):
            op = _OPS[node.op]
        elif isinstance(node, Compare):
            op = f" {_HOLDS[node.op]} "
        else:
            op = " 且 " if node.op == "AND" else " 或 "
        lp, rp = p, _right_prec(node, p)
        if isinstance(node, Logic):  # AND inside OR bracketed, for the reader
            lp = rp = 3
        left = describe(node.left, labels, lp)
        text = left + op + describe(node.right, labels, rp)
    elif isinstance(node, Call):
        args = [describe(a, labels) for a in node.args]
        if node.digits is not None:
            args.append(str(node.digits))
        text = f"{node.func.lower()}({', '.join(args)})"
    elif isinstance(node, BandOf):
        text = f"band({describe(node.arg, labels)}, {node.table})"
    elif isinstance(node, Aggregate):
        arg = "" if node.arg is None else describe(node.arg, labels, _PRIMARY)
        text = _aggregate_words(node, labels, arg)
    else:
        raise TypeError(f"unknown node {node!r}")
    return f"({text})" if p < min_prec or (node.grouped and p < _PRIMARY) else text


def _join(a: np.ndarray, b: np.ndarray, sep: str) -> np.ndarray:
    """a + sep + b row by row, without sep where either is empty."""
    both = (a != "") & (b != "")
    return np.where(both, a + sep + b, a + b).astype(object)


class _Explainer:
    def __init__(
        self,
        run: Run,
        rows: np.ndarray,
        labels: Mapping[str, str],
        ratios: Collection[str],
        tables: Mapping[str, Band],
    ) -> None:
        self.run, self.rows, self.labels, self.ratios = run, rows, labels, ratios
        self.tables = tables
        self.m = len(rows)
        self.empty = np.full(self.m, "", dtype=object)

    # -- values ------------------------------------------------------------------------------

    def v(self, node: Node) -> Value:
        return self.run.values[id(node)]

    def const(self, text: str) -> np.ndarray:
        return np.full(self.m, text, dtype=object)

    def numbers(self, node: Node, percent: bool) -> np.ndarray:
        """The node's values at the rows as text; blank: `空`, or `空(除数为0)`."""
        v = self.v(node)
        q: Q = v.q.take(self.rows)  # type: ignore[union-attr]
        dz = v.dz[self.rows]
        cache: dict[tuple[int, int], str] = {}
        out = []
        for n, d, na, z in zip(q.n.tolist(), q.d.tolist(), q.na.tolist(), dz.tolist(), strict=True):
            if na:
                out.append("空(除数为0)" if z >= 0 else "空")
                continue
            got = cache.get((n, d))
            if got is None:  # no gcd: linear time even for huge integers
                got = cache[(n, d)] = show_number(n, d, percent)
            out.append(got)
        return np.array(out, dtype=object) if out else self.const("")

    def inline(self, node: Node, percent: bool) -> np.ndarray:
        """Values shown right after a label or in a formula: negatives bracketed."""
        texts = self.numbers(node, percent)
        negative = np.fromiter((t.lstrip("≈").startswith("-") for t in texts), bool, self.m)
        texts = np.where(negative, "(" + texts + ")", texts).astype(object)
        return np.where(self.v(node).na[self.rows], "(空)", texts).astype(object)

    def truths(self, node: Node) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(holds, fails, blank) of a boolean node at the rows."""
        t = self.v(node).t
        assert t is not None
        values, na = t.values[self.rows], t.na[self.rows]
        return values & ~na, ~values & ~na, na

    def percent(self, node: Node) -> bool:
        if isinstance(node, Num):
            return node.percent
        return isinstance(node, Name) and node.key in self.ratios

    # -- numbers -----------------------------------------------------------------------------

    def text(self, node: Node, min_prec: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(the node rendered with values, the reasons for the choices made inside it)."""
        p = _prec(node)
        if isinstance(node, Call) and node.func in ("IF", "COALESCE"):
            return self.choice(node, min_prec)
        reasons = self.empty
        if isinstance(node, Num):
            out = self.const(node.text)
        elif isinstance(node, Name):
            out = self.labels.get(node.key, node.written) + self.inline(node, self.percent(node))
        elif isinstance(node, Unary):
            inner, reasons = self.text(node.operand, p)
            out = "−" + inner
        elif isinstance(node, Binary):
            left, r1 = self.text(node.left, p)
            right, r2 = self.text(node.right, _right_prec(node, p))
            out, reasons = left + _OPS[node.op] + right, _join(r1, r2, ";")
        elif isinstance(node, Call):
            out = self.const(node.func.lower() + "(")
            for i, arg in enumerate(node.args):
                inner, r = self.text(arg)
                out = out + (", " if i else "") + inner
                reasons = _join(reasons, r, ";")
            if node.digits is not None:
                out = out + f", {node.digits}"
            out = out + ")"
        elif isinstance(node, BandOf):
            out = np.where(self.v(node).na[self.rows], "空", self.inline(node, False))
            reasons = _join(self.text(node.arg)[1], self.band_fact(node), ";")
        elif isinstance(node, Aggregate):
            out = self.aggregate(node, node.arg is not None and self.percent(node.arg))
        else:
            raise TypeError(f"not a number: {node!r}")
        if p < min_prec or (node.grouped and p < _PRIMARY):
            out = "(" + out + ")"
        return np.asarray(out, dtype=object), reasons

    def aggregate(self, node: Aggregate, percent: bool) -> np.ndarray:
        arg = "" if node.arg is None else describe(node.arg, self.labels, _PRIMARY)
        return _aggregate_words(node, self.labels, arg) + self.inline(node, percent)

    def choice(self, node: Call, min_prec: int) -> tuple[np.ndarray, np.ndarray]:
        """IF and COALESCE (numbers or booleans): the chosen argument, and why."""
        render = self.text if node.kind == NUMBER else (lambda n, _p=0: self.fact(n))
        if node.func == "IF":
            cond, then, other = node.args
            facts, reasons = self.fact(cond)
            holds, _, blank = self.truths(cond)
            t1, r1 = render(then, min_prec)
            t2, r2 = render(other, min_prec)
            out = np.where(blank, "空", np.where(holds, t1, t2)).astype(object)
            chosen = np.where(blank, "", np.where(holds, r1, r2)).astype(object)
            return out, _join(_join(reasons, facts, ";"), chosen, ";")
        out, reasons = render(node.args[-1], min_prec)
        for arg in reversed(node.args[:-1]):
            t, r = render(arg, min_prec)
            blank = self.v(arg).na[self.rows]
            skipped = describe(arg, self.labels) + "为空"
            out = np.where(blank, out, t).astype(object)
            reasons = np.where(blank, _join(self.const(skipped), reasons, ";"), r).astype(object)
        return out, reasons

    def band_fact(self, node: BandOf) -> np.ndarray:
        """`0 < 不良率0.8% ≤ 1%`: where x lies in the table."""
        table = self.tables[node.table]
        pct = table.percent or self.percent(node.arg)
        x = self.side(node.arg, pct)
        x_q: Q = self.v(node.arg).q.take(self.rows)  # type: ignore[union-attr]

        def edge(e: Any) -> str:
            n, d = e.as_integer_ratio()
            return show_number(n, d, pct)

        out = self.empty.copy()
        done = x_q.na.copy()
        low = ""
        for e, inclusive, _ in table.rows:
            hit = x_q.cmp("<=" if inclusive else "<", e) & ~done
            text = low + x + (" ≤ " if inclusive else " < ") + edge(e)
            out = np.where(hit, text, out).astype(object)
            done |= hit
            low = edge(e) + (" < " if inclusive else " ≤ ")
        if table.rows:
            e, inclusive, _ = table.rows[-1]
            rest = x + (" > " if inclusive else " ≥ ") + edge(e)
            out = np.where(done, out, rest).astype(object)
        return out

    # -- booleans ----------------------------------------------------------------------------

    def side(self, node: Node, percent: bool) -> np.ndarray:
        """One side of a comparison (or the x of a band), its value in percent when `percent`:
        a number as written, a name or an aggregate with its value, anything else followed by
        ` = ` and its value."""
        if isinstance(node, Num):
            return self.const(node.text)
        if isinstance(node, Name):
            label = self.labels.get(node.key, node.written)
            return label + self.inline(node, percent or self.percent(node))
        if isinstance(node, Aggregate):
            own = node.arg is not None and self.percent(node.arg)
            return self.aggregate(node, percent or own)
        text, _ = self.text(node, 5)
        return text + " = " + self.numbers(node, percent)

    def fact(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """(true statements saying why the boolean node is what it is, reasons inside)."""
        if isinstance(node, Call) and node.func in ("IF", "COALESCE"):
            return self.choice(node, 0)
        if isinstance(node, Bool):
            return self.const("是" if node.value else "否"), self.empty
        if isinstance(node, Name):
            holds, _, blank = self.truths(node)
            value = np.where(blank, "空", np.where(holds, "是", "否"))
            return self.labels.get(node.key, node.written) + ":" + value, self.empty
        if isinstance(node, Unary):
            return self.fact(node.operand)
        if isinstance(node, Call):  # ISBLANK
            blank = self.v(node.args[0]).na[self.rows]
            what = describe(node.args[0], self.labels)
            return np.where(blank, what + "为空", what + "不为空").astype(object), self.empty
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Logic):
            fa, ra = self.fact(node.left)
            fb, rb = self.fact(node.right)
            ya, na_, _ = self.truths(node.left)
            yb, nb, _ = self.truths(node.right)
            holds, fails, _ = self.truths(node)
            if node.op == "AND":  # failing: the first side that fails
                use_a = ~fails | na_
                use_b = ~fails | (nb & ~na_)
            else:  # holding: the first side that holds
                use_a = ~holds | ya
                use_b = ~holds | (yb & ~ya)
            facts = _join(np.where(use_a, fa, ""), np.where(use_b, fb, ""), ",")
            return facts, _join(np.where(use_a, ra, ""), np.where(use_b, rb, ""), ";")
        raise TypeError(f"not a boolean: {node!r}")

    def compare(self, node: Compare) -> tuple[np.ndarray, np.ndarray]:
        pct = self.percent(node.left) or self.percent(node.right)
        if node.left.kind == NUMBER:
            left, right = self.side(node.left, pct), self.side(node.right, pct)
            reasons = _join(self.text(node.left)[1], self.text(node.right)[1], ";")
        else:
            (left, r1), (right, r2) = self.fact(node.left), self.fact(node.right)
            reasons = _join(r1, r2, ";")
        holds, _, blank = self.truths(node)
        sign = np.where(holds, f" {_HOLDS[node.op]} ", f" {_FAILS[node.op]} ")
        out = np.where(blank, left + " 与 " + right + " 无法比较(有空值)", left + sign + right)
        return out.astype(object), reasons


def explain(
    formula: Formula,
    run: Run,
    labels: Mapping[str, str],
    ratios: Collection[str],
    *,
    as_percent: bool = False,
    unit: str = "",
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """One sentence per row (`rows`: positions to explain, default all)."""
    at = np.arange(run.length) if rows is None else np.asarray(rows)
    ex = _Explainer(run, at, labels, ratios, formula.tables)
    root = formula.ast
    if root.kind == NUMBER:
        text, reasons = ex.text(root)
        result = ex.numbers(root, as_percent)
        if unit:
            result = np.where(ex.v(root).na[at], result, result + unit).astype(object)
        plain = text == ex.numbers(root, as_percent)
        core = np.where(plain, result, text + " = " + result).astype(object)
        because = "因为" + reasons + ",所以" + np.where(plain, "得" + result, core)
        return np.where(reasons == "", core, because).astype(object)
    facts, reasons = ex.fact(root)
    holds, _, blank = ex.truths(root)
    value = np.where(blank, "空", np.where(holds, "是", "否"))
    why = _join(reasons, facts, ";")
    return np.where(why == "", "为" + value, "因为" + why + ",所以为" + value).astype(object)
