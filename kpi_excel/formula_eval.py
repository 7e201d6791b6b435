"""Exact, vectorised evaluation of a compiled formula over every row of a run at once.

Each node of the tree is computed once, as a whole column: numbers as `exact.Q`, booleans as
`Truth` (values and a blank mask). Blanks propagate: an arithmetic operation, MIN/MAX/CLIP,
ABS, ROUND, BAND with a blank operand is blank; a comparison with a blank side is blank; AND /
OR are three-valued (FALSE AND blank is FALSE, TRUE OR blank is TRUE); IF with a blank
condition is blank, else it takes the chosen branch row by row; COALESCE and ISBLANK see
blanks. A division by zero is blank for its row, and every value carries, per row, the index
of the divisor (in `Formula.divisors`) whose zero made it blank, so the result says where a
division by zero decided a blank and where a guard (IF, AND, COALESCE) made it irrelevant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .exact import Q
from .formula_ast import (
    BOOL,
    NUMBER,
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

if TYPE_CHECKING:
    from .formula import Formula


@dataclass(frozen=True)
class Truth:
    """A column of booleans with blanks: `values` is False where `na`."""

    values: np.ndarray
    na: np.ndarray

    def __len__(self) -> int:
        return len(self.na)

    @classmethod
    def of(cls, values: Any) -> Truth:
        v = np.asarray(values, dtype=bool)
        return cls(v, np.zeros(len(v), bool))


@dataclass(frozen=True)
class Result:
    """What a formula computed for every row.

    value: a Q (kind NUMBER, 0/1 where blank; in lowest terms unless huge) or a bool array (kind BOOL,
    False where blank); blank: the rows without a value; zero_division: the blank rows that are
    blank because of a division by zero; divisor: for those, the index in `Formula.divisors`
    of the divisor that was 0 (-1 elsewhere).
    """

    kind: str
    value: Q | np.ndarray
    blank: np.ndarray
    zero_division: np.ndarray
    divisor: np.ndarray


@dataclass(frozen=True)
class Value:
    """One node's column: `q` (number) or `t` (boolean), and `dz`, per row the divisor index
    whose zero made the value blank (-1: none)."""

    q: Q | None
    t: Truth | None
    dz: np.ndarray

    @property
    def na(self) -> np.ndarray:
        return self.q.na if self.q is not None else self.t.na  # type: ignore[union-attr]


@dataclass(frozen=True)
class Run:
    """An evaluation: every node's value by `id(node)`, and the result."""

    values: dict[int, Value]
    result: Result
    length: int


def _first(na: np.ndarray, *dzs: np.ndarray) -> np.ndarray:
    """The first divisor index of `dzs` per row, kept only where the value is blank."""
    out = dzs[0]
    for dz in dzs[1:]:
        out = np.where(out >= 0, out, dz)
    return np.where(na, out, -1)


def _blank_where(q: Q, na: np.ndarray) -> Q:
    return Q(q.n, q.d, np.asarray(na, dtype=bool))


SHORT = 2**256  # denominators below this are brought to lowest terms


def _reduce(q: Q) -> Q:
    """Lowest terms where the denominator is short. A gcd of huge integers costs quadratic
    time (a mean over hundreds of distinct ratios has a denominator of thousands of digits),
    and nothing needs lowest terms: such values are left as they are."""
    short = np.flatnonzero(np.asarray(q.d < SHORT, dtype=bool))
    if len(short) == len(q):
        return q.reduced()
    out = q.copy()
    if len(short):
        out.put(short, q.take(short).reduced())
    return out


def _clean(q: Q) -> Q:
    """Short fractions in lowest terms, and 0/1 in the blank rows."""
    r = _reduce(q)
    return Q(
        np.where(q.na, 0, r.n).astype(object), np.where(q.na, 1, r.d).astype(object), q.na.copy()
    )


def _length(env: Mapping[str, Any], members: Any, key_columns: Mapping[str, Any]) -> int:
    if members is not None:
        return len(members)
    for v in (*env.values(), *key_columns.values()):
        if isinstance(v, Q | Truth | np.ndarray | pd.Series | list):
            return len(v)
    raise ValueError("evaluate: cannot tell the number of rows; pass `members`")


def evaluate(
    formula: Formula,
    env: Mapping[str, Any],
    members: Any = None,
    key_columns: Mapping[str, Any] | None = None,
) -> Run:
    """Every node of `formula` over all rows.

    env: canonical key -> a Q (numbers), a bool array or Truth (是/否), or one scalar for every
    row (Decimal, int or decimal text for a number, bool for 是/否). members: the rows that
    take part in peer aggregates (default all). key_columns: key -> one value per row, for the
    aggregates' BY.
    """
    keys = dict(key_columns or {})
    n = _length(env, members, keys)
    member = np.ones(n, bool) if members is None else np.asarray(members, dtype=bool)
    ev = _Evaluator(formula, env, member, keys, n)
    top = ev.value(formula.ast)
    if top.q is not None:
        q = _clean(top.q)
        result = Result(NUMBER, q, q.na.copy(), top.dz >= 0, top.dz.copy())
    else:
        t = top.t
        assert t is not None
        result = Result(BOOL, t.values & ~t.na, t.na.copy(), top.dz >= 0, top.dz.copy())
    return Run(ev.memo, result, n)


_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "==", "<>": "!="}


class _Evaluator:
    def __init__(
        self,
        formula: Formula,
        env: Mapping[str, Any],
        members: np.ndarray,
        keys: Mapping[str, Any],
        n: int,
    ) -> None:
        self.env, self.members, self.keys, self.n = env, members, keys, n
        self.divisor = {id(d): i for i, d in enumerate(formula.divisors)}
        self.tables = formula.tables
        self.memo: dict[int, Value] = {}
        self.groups: dict[tuple[str, ...], tuple[np.ndarray, int]] = {}
        self.none = np.full(n, -1, dtype=np.int64)

    def value(self, node: Node) -> Value:
        got = self.memo.get(id(node))
        if got is None:
            got = self.memo[id(node)] = self._value(node)
        return got

    def num(self, q: Q, dz: np.ndarray | None = None) -> Value:
        return Value(q, None, self.none if dz is None else dz)

    def truth(self, values: np.ndarray, na: np.ndarray, dz: np.ndarray | None = None) -> Value:
        na = np.asarray(na, dtype=bool)
        t = Truth(np.asarray(values, dtype=bool) & ~na, na)
        return Value(None, t, self.none if dz is None else dz)

    def _value(self, node: Node) -> Value:  # noqa: C901 - one branch per node type
        if isinstance(node, Num):
            return self.num(Q.full(self.n, node.value))
        if isinstance(node, Bool):
            return self.truth(np.full(self.n, node.value), np.zeros(self.n, bool))
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary):
            v = self.value(node.operand)
            if node.op == "-":
                return self.num(-v.q, v.dz)  # type: ignore[operator]
            t = v.t
            return self.truth(~t.values, t.na, v.dz)  # type: ignore[union-attr]
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Logic):
            return self.logic(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, BandOf):
            return self.band(node)
        if isinstance(node, Aggregate):
            return self.aggregate(node)
        raise TypeError(f"unknown node {node!r}")

    def name(self, node: Name) -> Value:
        if node.key not in self.env:
            raise ValueError(f"evaluate: no value for {node.key!r}")
        v = self.env[node.key]
        if node.kind == BOOL:
            if isinstance(v, Truth):
                t = v
            elif isinstance(v, bool | np.bool_):
                t = Truth.of(np.full(self.n, bool(v)))
            else:
                t = Truth.of(v)
            self._check(node, len(t))
            return self.truth(t.values, t.na)
        if isinstance(v, Q):
            self._check(node, len(v))
            return self.num(v)
        if isinstance(v, int | Decimal | str) and not isinstance(v, bool):
            return self.num(Q.full(self.n, v))
        raise TypeError(f"evaluate: {node.key!r} must be a Q or a decimal, not {type(v)}")

    def _check(self, node: Name, length: int) -> None:
        if length != self.n:
            raise ValueError(f"evaluate: {node.key!r} has {length} rows, not {self.n}")

    def binary(self, node: Binary) -> Value:
        a, b = self.value(node.left), self.value(node.right)
        if node.op == "+":
            q = a.q + b.q  # type: ignore[operator]
        elif node.op == "-":
            q = a.q - b.q  # type: ignore[operator]
        elif node.op == "*":
            q = a.q * b.q  # type: ignore[operator]
        else:
            zero = b.q.is_zero()  # type: ignore[union-attr]
            q = _reduce(a.q / b.q)  # type: ignore[operator]
            here = np.where(zero, self.divisor[id(node.right)], -1)
            return self.num(q, _first(q.na, a.dz, b.dz, here))
        return self.num(q, _first(q.na, a.dz, b.dz))

    def compare(self, node: Compare) -> Value:
        a, b = self.value(node.left), self.value(node.right)
        na = a.na | b.na
        if a.q is not None:
            hit = a.q.cmp(_CMP[node.op], b.q)  # type: ignore[arg-type]
        else:
            same = a.t.values == b.t.values  # type: ignore[union-attr]
            hit = same if node.op == "=" else ~same
        return self.truth(hit, na, _first(na, a.dz, b.dz))

    def logic(self, node: Logic) -> Value:
        a, b = self.value(node.left), self.value(node.right)
        ta, tb = a.t, b.t
        assert ta is not None and tb is not None
        yes_a, yes_b = ta.values & ~ta.na, tb.values & ~tb.na
        no_a, no_b = ~ta.values & ~ta.na, ~tb.values & ~tb.na
        if node.op == "AND":
            values, known = yes_a & yes_b, no_a | no_b | (yes_a & yes_b)
        else:
            values, known = yes_a | yes_b, yes_a | yes_b | (no_a & no_b)
        return self.truth(values, ~known, _first(~known, a.dz, b.dz))

    def call(self, node: Call) -> Value:  # noqa: C901 - one branch per function
        f = node.func
        args = [self.value(a) for a in node.args]
        if f == "IF":
            c, then, other = args
            ct = c.t
            assert ct is not None
            pick = ct.values & ~ct.na
            na = ct.na | np.where(pick, then.na, other.na)
            dz = np.where(ct.na, c.dz, np.where(pick, then.dz, other.dz))
            if then.q is not None:
                q = then.q.where(pick, other.q)  # type: ignore[arg-type]
                return self.num(_blank_where(q, na), np.where(na, dz, -1))
            v = np.where(pick, then.t.values, other.t.values)  # type: ignore[union-attr]
            return self.truth(v, na, np.where(na, dz, -1))
        if f == "COALESCE":
            out = args[0]
            for nxt in args[1:]:
                use = out.na
                dz = np.where(use, nxt.dz, out.dz)
                if out.q is not None:
                    out = self.num(out.q.where(~use, nxt.q), dz)  # type: ignore[arg-type]
                else:
                    t, u = out.t, nxt.t
                    out = self.truth(
                        np.where(use, u.values, t.values),  # type: ignore[union-attr]
                        np.where(use, u.na, t.na),  # type: ignore[union-attr]
                        dz,
                    )
            return out
        if f == "ISBLANK":
            return self.truth(args[0].na, np.zeros(self.n, bool))
        qs = [a.q for a in args]
        na = np.logical_or.reduce([a.na for a in args])
        dz = _first(na, *(a.dz for a in args))
        x = qs[0]
        assert x is not None
        if f in ("MIN", "MAX"):
            for other in qs[1:]:
                x = x.minimum(other) if f == "MIN" else x.maximum(other)  # type: ignore[arg-type]
        elif f == "CLIP":
            x = x.maximum(qs[1]).minimum(qs[2])  # type: ignore[arg-type]
        elif f == "ABS":
            x = abs(x)
        elif f == "ROUND":
            x = x.round(node.digits or 0)
        elif f == "FLOOR":
            x = x.floor(node.digits or 0)
        elif f == "CEIL":
            x = x.ceil(node.digits or 0)
        else:
            raise TypeError(f"unknown function {f}")
        return self.num(_blank_where(x, na), dz)

    def band(self, node: BandOf) -> Value:
        x = self.value(node.arg)
        table = self.tables[node.table]
        out = Q.full(self.n, table.otherwise)
        done = np.zeros(self.n, bool)
        for edge, inclusive, value in table.rows:
            hit = x.q.cmp("<=" if inclusive else "<", edge) & ~done  # type: ignore[union-attr]
            out = out.where(~hit, value)
            done |= hit
        return self.num(_blank_where(out, x.na), x.dz)

    def group_ids(self, by: tuple[str, ...]) -> tuple[np.ndarray, int]:
        got = self.groups.get(by)
        if got is not None:
            return got
        if not by:
            got = (np.zeros(self.n, dtype=np.int64), 1)
        else:
            codes = []
            for key in by:
                if key not in self.keys:
                    raise ValueError(f"evaluate: no key column {key!r}")
                column = np.asarray(self.keys[key], dtype=object)
                if len(column) != self.n:
                    raise ValueError(f"evaluate: key column {key!r} has {len(column)} rows")
                codes.append(pd.factorize(column, use_na_sentinel=False)[0])
            if len(codes) == 1:
                ids = codes[0].astype(np.int64)
            else:
                _, ids = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
                ids = ids.reshape(-1).astype(np.int64)
            got = (ids, int(ids.max()) + 1 if len(ids) else 0)
        self.groups[by] = got
        return got

    def aggregate(self, node: Aggregate) -> Value:
        ids, size = self.group_ids(node.by)
        if node.func == "COUNT":
            counts = np.bincount(ids[self.members], minlength=size)
            return self.num(Q.from_units(counts[ids], 0))
        x = self.value(node.arg)  # type: ignore[arg-type]
        q = x.q
        assert q is not None
        taking = self.members & ~q.na
        sums = q.group_sum(np.where(taking, ids, -1), size)
        if node.func == "SUM":
            return self.num(sums.take(ids))
        counts = np.bincount(ids[taking], minlength=size)
        empty = counts == 0
        d = sums.d * np.where(empty, 1, counts).astype(object)
        return self.num(Q(sums.n, d, empty).reduced().take(ids))  # one gcd per group
