"""Exact rational arithmetic over whole columns (RULES.md §0).

A number cell is the decimal Excel shows for it: the stored double rounded to 15 significant
digits. From there every figure, band edge, threshold, comparison and rounding is exact. `Q`
holds a column of rationals as two object arrays of Python integers, numerator and (positive)
denominator, plus a mask of blank values. numpy applies the integer operators element by
element in C loops, so a whole run is computed at once, with no tolerance anywhere and no
floating point in any decision.

Fractions are not reduced after each step (that is what makes `fractions.Fraction` slow): the
formulas of a rulebook are a few operations deep, so the integers stay a few dozen digits long.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

Scalar = int | Decimal | Fraction | str
_DIGITS = 15  # what Excel and WPS show of a double


def _ints(values: Any, n: int) -> np.ndarray:
    """An object array of n Python ints."""
    return np.fromiter(values, dtype=object, count=n)


def _int64(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(int64 copy, largest magnitude) of an object array of ints when every one fits in int64,
    else None: the fast paths below use it and fall back to Python ints for the rest."""
    if values.dtype.kind not in "iuO":  # a float array would be truncated silently
        return None
    try:
        small = values.astype(np.int64)
    except (OverflowError, TypeError):
        return None
    return small, int(np.abs(small).max()) if len(small) else 0


def decimal_ratio(value: Scalar) -> tuple[int, int]:
    """(numerator, denominator) of an exact decimal or fraction."""
    if isinstance(value, Fraction):
        return value.numerator, value.denominator
    n, d = Decimal(value).as_integer_ratio()
    return n, d


def _float_ratio(v: float) -> tuple[int, int]:
    """(numerator, power of ten) of the double `v` rounded to 15 significant digits."""
    mantissa, exponent = f"{v:.{_DIGITS - 1}e}".split("e")
    digits = int(mantissa.replace(".", ""))
    e = int(exponent) - (_DIGITS - 1)
    return (digits * 10**e, 1) if e >= 0 else (digits, 10**-e)


class Q:
    """A column of exact rationals `n / d` (d > 0); `na` marks blank values (n = 0, d = 1)."""

    __slots__ = ("n", "d", "na")

    def __init__(self, n: np.ndarray, d: np.ndarray, na: np.ndarray) -> None:
        self.n, self.d, self.na = n, d, na

    def __len__(self) -> int:
        return len(self.na)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_floats(cls, values: Any) -> Q:
        """The decimals Excel shows for these doubles (15 significant digits); NaN is blank.

        Most amounts are typed with a few decimals: a value v for which some k gives an integer
        m below 10**15 with m / 10**k == v (IEEE division is correctly rounded, so v is the
        double nearest to m / 10**k, and a decimal of at most 15 digits is the nearest such
        decimal to its own double) is m / 10**k. The rest are formatted one by one.
        """
        x = np.asarray(values, dtype=float)
        n = len(x)
        na = ~np.isfinite(x)
        num = np.zeros(n, dtype=object)
        den = np.ones(n, dtype=object)
        left = ~na
        for k in (0, 2, 4, 6):
            if not left.any():
                break
            scale = 10.0**k
            with np.errstate(invalid="ignore", over="ignore"):
                m = np.rint(x * scale)
                ok = left & (np.abs(m) < 1e15) & (m / scale == x)
            at = np.flatnonzero(ok)
            if len(at):
                num[at] = _ints(map(int, m[at].tolist()), len(at))
                den[at] = 10**k
                left &= ~ok
        rest = np.flatnonzero(left)
        if len(rest):
            pairs = [_float_ratio(v) for v in x[rest].tolist()]
            num[rest] = _ints((p[0] for p in pairs), len(rest))
            den[rest] = _ints((p[1] for p in pairs), len(rest))
        return cls(num, den, na)

    @classmethod
    def from_decimals(cls, values: Any) -> Q:
        """Exact decimals given as text or Decimal (None or '' is blank)."""
        items = list(values)
        na = np.fromiter((v is None or v == "" for v in items), bool, len(items))
        pairs = [(0, 1) if blank else decimal_ratio(v) for v, blank in zip(items, na, strict=True)]
        return cls(
            _ints((p[0] for p in pairs), len(items)),
            _ints((p[1] for p in pairs), len(items)),
            na,
        )

    @classmethod
    def full(cls, length: int, value: Scalar) -> Q:
        n, d = decimal_ratio(value)
        return cls(
            np.full(length, n, dtype=object),
            np.full(length, d, dtype=object),
            np.zeros(length, bool),
        )

    @classmethod
    def blank(cls, length: int) -> Q:
        return cls(
            np.zeros(length, dtype=object), np.ones(length, dtype=object), np.ones(length, bool)
        )

    def take(self, at: np.ndarray) -> Q:
        return Q(self.n[at], self.d[at], self.na[at])

    def put(self, at: np.ndarray, other: Q) -> None:
        """Set the values at positions (or mask) `at` from `other` (of matching length)."""
        self.n[at], self.d[at], self.na[at] = other.n, other.d, other.na

    def copy(self) -> Q:
        return Q(self.n.copy(), self.d.copy(), self.na.copy())

    # -- arithmetic ------------------------------------------------------------------------

    @staticmethod
    def _parts(other: Q | Scalar) -> tuple[Any, Any, Any]:
        if isinstance(other, Q):
            return other.n, other.d, other.na
        n, d = decimal_ratio(other)
        return n, d, False

    def __add__(self, other: Q | Scalar) -> Q:
        n, d, na = self._parts(other)
        if not isinstance(d, np.ndarray) and d == 1:
            return Q(self.n + n * self.d, self.d, self.na | na)
        return Q(self.n * d + n * self.d, self.d * d, self.na | na)

    def __sub__(self, other: Q | Scalar) -> Q:
        return self + (-other if isinstance(other, Q) else -Decimal(other))

    def __neg__(self) -> Q:
        return Q(-self.n, self.d, self.na)

    def __mul__(self, other: Q | Scalar) -> Q:
        n, d, na = self._parts(other)
        return Q(self.n * n, self.d * d, self.na | na)

    def __truediv__(self, other: Q | Scalar) -> Q:
        """Elementwise quotient; a zero divisor gives a blank (callers decide zeros first)."""
        n, d, na = self._parts(other)
        if not isinstance(n, np.ndarray):
            if n == 0:
                return Q.blank(len(self))
            sign = -1 if n < 0 else 1
            return Q(self.n * d * sign, self.d * abs(n), self.na | na)
        zero = (n == 0).astype(bool)
        sign = np.where((n < 0).astype(bool), -1, 1).astype(object)
        safe = np.where(zero, 1, n).astype(object)
        return Q(
            np.where(zero, 0, self.n * d * sign).astype(object),
            np.where(zero, 1, self.d * np.abs(safe)).astype(object),
            self.na | na | zero,
        )

    # -- comparisons (blank compares False) ------------------------------------------------

    def _cross(self, other: Q | Scalar) -> tuple[np.ndarray, np.ndarray, Any]:
        n, d, na = self._parts(other)
        return self.n * d, n * self.d, self.na | na

    def cmp(self, op: str, other: Q | Scalar) -> np.ndarray:
        """`self op other` elementwise, op one of < <= > >= ==; False where either is blank."""
        left, right, na = self._cross(other)
        out = _OPS[op](left, right)
        return np.asarray(out, dtype=bool) & ~np.asarray(na, dtype=bool)

    def is_zero(self) -> np.ndarray:
        return np.asarray(self.n == 0, dtype=bool) & ~self.na

    # -- selection -------------------------------------------------------------------------

    def where(self, mask: np.ndarray, other: Q | Scalar) -> Q:
        """self where mask holds, else other."""
        n, d, na = self._parts(other)
        return Q(
            np.where(mask, self.n, n).astype(object),
            np.where(mask, self.d, d).astype(object),
            np.where(mask, self.na, na).astype(bool),
        )

    def clip(self, lo: Scalar, hi: Scalar) -> Q:
        out = self.where(~self.cmp("<", lo), lo)
        return out.where(~out.cmp(">", hi), hi)

    def minimum(self, other: Q | Scalar) -> Q:
        """The smaller of the two, elementwise; blank where either is blank."""
        out = self.where(~self.cmp(">", other), other)
        _, _, na = self._parts(other)
        out.na = out.na | self.na | np.asarray(na, dtype=bool)
        return out

    def maximum(self, other: Q | Scalar) -> Q:
        """The larger of self and other; like `minimum`, a blank `other` keeps self."""
        return self.where(~self.cmp("<", other), other)

    def __abs__(self) -> Q:
        return Q(np.abs(self.n), self.d, self.na)

    def reduced(self) -> Q:
        """The same values in lowest terms (keeps the integers short after long sums)."""
        g = np.gcd(self.n, self.d)
        return Q(self.n // g, self.d // g, self.na)

    # -- rounding to a Q ---------------------------------------------------------------------

    def round(self, decimals: int) -> Q:
        """Half away from zero to `decimals` places (negative: tens, hundreds...), exact, as a
        Q of Python ints (no int64 limit); blank stays blank."""
        if decimals >= 0:
            num, den = 10**decimals, 1
        else:
            num, den = 1, 10**-decimals
        mag = (2 * np.abs(self.n) * num + self.d * den) // (2 * self.d * den)
        units = np.where((self.n < 0).astype(bool), -mag, mag)
        units = np.where(self.na, 0, units).astype(object)
        if den == 1:
            return Q(units, np.full(len(self), num, dtype=object), self.na.copy())
        return Q(units * den, np.ones(len(self), dtype=object), self.na.copy())

    def floor(self, decimals: int = 0) -> Q:
        """The largest multiple of 10**-decimals not above each value, exact."""
        return self._toward(decimals, up=False)

    def ceil(self, decimals: int = 0) -> Q:
        """The smallest multiple of 10**-decimals not below each value, exact."""
        return self._toward(decimals, up=True)

    def _toward(self, decimals: int, up: bool) -> Q:
        num, den = (10**decimals, 1) if decimals >= 0 else (1, 10**-decimals)
        n = -self.n if up else self.n
        units = (n * num) // (self.d * den)  # Python's // floors
        if up:
            units = -units
        units = np.where(self.na, 0, units).astype(object)
        if den == 1:
            return Q(units, np.full(len(self), num, dtype=object), self.na.copy())
        return Q(units * den, np.ones(len(self), dtype=object), self.na.copy())

    # -- sums by group -----------------------------------------------------------------------

    def group_sum(self, groups: np.ndarray, size: int) -> Q:
        """The exact sum of the non-blank values of each group `0 … size-1` (`groups[i]` is row
        i's group, -1 for none), as a Q of `size` values (0 for a group with no value).

        Pairwise: each step adds neighbours within a group over all groups at once (one
        vectorised addition), so a group of k values takes log2(k) steps and the integers of
        the partial sums stay balanced; each addition divides out the denominators' common
        factor (values with equal denominators keep theirs).
        """
        keep = ~self.na & (np.asarray(groups) >= 0)
        g = np.asarray(groups)[keep]
        order = np.argsort(g, kind="stable")
        g, n, d = g[order], self.n[keep][order], self.d[keep][order]
        while len(g) > 1:
            start = np.r_[True, g[1:] != g[:-1]]
            if start.all():
                break
            first = np.maximum.accumulate(np.where(start, np.arange(len(g)), 0))
            even = (np.arange(len(g)) - first) % 2 == 0
            partner = np.r_[g[1:] == g[:-1], False] & even  # i + 1 is in i's group
            at = np.flatnonzero(partner)
            nn, dd = n.copy(), d.copy()
            # Knuth's addition (as fractions.Fraction): the gcd of the denominators only
            common = np.gcd(d[at], d[at + 1])
            left, right = d[at] // common, d[at + 1] // common
            nn[at] = n[at] * right + n[at + 1] * left
            dd[at] = left * d[at + 1]
            g, n, d = g[even], nn[even], dd[even]
        out_n = np.zeros(size, dtype=object)
        out_d = np.ones(size, dtype=object)
        out_n[g], out_d[g] = n, d
        return Q(out_n, out_d, np.zeros(size, bool))

    # -- results ---------------------------------------------------------------------------

    def round_units(self, decimals: int) -> np.ndarray:
        """Half away from zero to `decimals` places (Excel's ROUND, 四舍五入), as a count of
        10**-decimals units (0 where blank): int64 when every count fits, else Python ints."""
        scale = 10**decimals
        n, d = _int64(self.n), _int64(self.d)
        if n is not None and d is not None and 2 * n[1] * scale + d[1] < 2**63:
            mag = (2 * np.abs(n[0]) * scale + d[0]) // (2 * d[0])  # the same, in int64
            return np.where(self.na, 0, np.where(n[0] < 0, -mag, mag))
        mag = (2 * np.abs(self.n) * scale + self.d) // (2 * self.d)
        units = np.where((self.n < 0).astype(bool), -mag, mag)
        units = np.where(self.na, 0, units).astype(object)
        if len(units) and max(map(abs, units.tolist())) >= 2**62:
            return units
        return units.astype(np.int64)

    def rounded(self, decimals: int) -> Q:
        """Rounded half away from zero to `decimals` places, as exact values."""
        return Q.from_units(self.round_units(decimals), decimals, self.na)

    def is_multiple_of(self, decimals: int) -> np.ndarray:
        """Whether each value has at most `decimals` decimal places (blank: True)."""
        return np.asarray((self.n * 10**decimals) % self.d == 0, dtype=bool) | self.na

    def floats(self) -> np.ndarray:
        """The nearest double of each value (Python's int / int is correctly rounded); NaN
        where blank."""
        out = np.full(len(self), np.nan)
        ok = np.flatnonzero(~self.na)
        n, d = _int64(self.n[ok]), _int64(self.d[ok])
        if n is not None and d is not None and max(n[1], d[1]) <= 2**53:
            out[ok] = n[0].astype(float) / d[0].astype(float)  # both exact: IEEE rounds once
        elif len(ok):
            out[ok] = np.fromiter(
                map(_to_float, self.n[ok].tolist(), self.d[ok].tolist()), float, len(ok)
            )
        return out

    @classmethod
    def from_units(cls, units: np.ndarray, decimals: int, na: np.ndarray | None = None) -> Q:
        n = len(units)
        return cls(
            _ints(map(int, np.asarray(units).tolist()), n),
            np.full(n, 10**decimals, dtype=object),
            np.zeros(n, bool) if na is None else np.asarray(na, dtype=bool),
        )


def _to_float(n: int, d: int) -> float:
    """n / d correctly rounded; ±inf beyond the largest double."""
    try:
        return n / d
    except OverflowError:
        return float("inf") if n > 0 else float("-inf")


_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def units_to_floats(units: np.ndarray, decimals: int, na: np.ndarray | None = None) -> np.ndarray:
    """Counts of 10**-decimals units as the nearest doubles (NaN where `na`)."""
    small = _int64(np.asarray(units))
    if small is not None and small[1] <= 2**53 and 10**decimals <= 2**53:
        out = small[0] / float(10**decimals)  # both exact: IEEE rounds once
        return out if na is None else np.where(na, np.nan, out)
    return Q.from_units(units, decimals, na).floats()
