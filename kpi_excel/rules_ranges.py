"""What each figure of a loaded rulebook can be, per role: exact intervals for the linter.

A `Span` is a closed interval that holds every value a figure can take for the people of one
role (an end of None: unbounded), whether the figure can be blank, and whether it is always
blank. It is an over-estimate: where this module cannot tell (a kind of rule it does not know,
a correlation between two inputs it does not track), it widens the interval, so that a check
that finds no value of the interval satisfying something is certain. Arithmetic is exact
(`Fraction`); items are rounded as the scorer rounds them (half away from zero).

Where the values come from:
- an input field: its `min`/`max` (a number field without `min` is >= 0), and its default; it
  can be blank unless every row must fill it, it has a default, or the role's group must fill
  it (`groups.<g>.required_fields`);
- a derived figure: interval arithmetic on its inputs; a ratio's zero denominator gives
  `when_zero`, or a refused row (roles in `reject_roles`) or a blank (the other roles); a
  field with `at_most` its denominator bounds the ratio by 1; `(a − b) / b` is `a / b − 1`;
- an item: its rule applied to the input's interval (clipped, rounded); a blank input scores 0
  (the scorer's rule) and leaves the item blank; a role without a rule has the item blank;
- the business score is the sum of the items (blank ones as 0), the total that less the
  deduction field (score.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from .rulebook import Derived, Rule, Rulebook

Number = Fraction | None  # None: unbounded on that side
_INF = math.inf


@dataclass(frozen=True)
class Span:
    lo: Number = None
    hi: Number = None
    blank: bool = False  # can be blank
    never: bool = False  # is always blank (lo and hi mean nothing then)

    @classmethod
    def point(cls, value: Decimal | Fraction | int) -> Span:
        v = Fraction(value)
        return cls(v, v)

    @classmethod
    def empty(cls) -> Span:
        return cls(blank=True, never=True)

    def holds(self, value: Fraction) -> bool:
        """Whether `value` lies in the interval (never for a figure always blank)."""
        return (
            not self.never
            and (self.lo is None or self.lo <= value)
            and (self.hi is None or value <= self.hi)
        )

    def join(self, other: Span) -> Span:
        """The interval holding both."""
        if self.never or other.never:
            one = other if self.never else self
            return replace(one, blank=True, never=self.never and other.never)
        return Span(
            None if self.lo is None or other.lo is None else min(self.lo, other.lo),
            None if self.hi is None or other.hi is None else max(self.hi, other.hi),
            self.blank or other.blank,
        )

    def with_blank(self, blank: bool) -> Span:
        return replace(self, blank=self.blank or blank)

    def map(self, fn, blank: bool = False) -> Span:  # noqa: ANN001 - a monotone rising fn
        """`fn` (rising, on Fraction or ±inf) applied to both ends."""
        if self.never:
            return self
        lo, hi = _ext(self.lo, -1), _ext(self.hi, 1)
        return Span(_num(fn(lo)), _num(fn(hi)), self.blank or blank)


def _ext(v: Number, side: int) -> Fraction | float:
    return (side * _INF) if v is None else v


def _num(v: Fraction | float) -> Number:
    if isinstance(v, float):
        if math.isinf(v):
            return None
        return Fraction(v)
    return v


def add(a: Span, b: Span) -> Span:
    if a.never or b.never:
        return Span.empty()
    lo = None if a.lo is None or b.lo is None else a.lo + b.lo
    hi = None if a.hi is None or b.hi is None else a.hi + b.hi
    return Span(lo, hi, a.blank or b.blank)


def neg(a: Span) -> Span:
    if a.never:
        return a
    return Span(None if a.hi is None else -a.hi, None if a.lo is None else -a.lo, a.blank)


def sub(a: Span, b: Span) -> Span:
    return add(a, neg(b))


def _quotient(a: Fraction | float, b: Fraction | float, side: int) -> float | Fraction | None:
    """a / b at a corner; b == 0 stands for a divisor tending to 0 from `side` (+1/-1).
    None where the limit is undefined (inf / inf)."""
    if b == 0:
        return Fraction(0) if a == 0 else math.copysign(_INF, a) * side
    if isinstance(b, float):  # ±inf
        return None if isinstance(a, float) else Fraction(0)
    if isinstance(a, float):
        return a * (1 if b > 0 else -1)
    return a / b


def divide(a: Span, b: Span) -> Span:
    """a / b over the non-zero values of b (what b == 0 gives is the caller's rule)."""
    if a.never or b.never:
        return Span.empty()
    parts = []
    if b.hi is None or b.hi > 0:  # the positive side of b
        parts.append((max(b.lo, Fraction(0)) if b.lo is not None else Fraction(0), b.hi, 1))
    if b.lo is None or b.lo < 0:  # the negative side
        parts.append((b.lo, min(b.hi, Fraction(0)) if b.hi is not None else Fraction(0), -1))
    corners = []
    for lo, hi, side in parts:
        for x in (_ext(a.lo, -1), _ext(a.hi, 1)):
            for y in (_ext(lo, -1), _ext(hi, 1)):
                corners.append(_quotient(x, y, side))
    known = [c for c in corners if c is not None]
    if not known:
        return Span(None, None, a.blank or b.blank) if parts else Span.empty()
    low, high = min(known), max(known)
    return Span(_num(low), _num(high), a.blank or b.blank)


def clip(s: Span, low: Fraction, high: Fraction) -> Span:
    return s.map(lambda v: min(max(v, low), high))


def round_half_away(v: Fraction | float, decimals: int) -> Fraction | float:
    if isinstance(v, float):
        return v
    scaled = abs(v) * 10**decimals
    units = math.floor(scaled + Fraction(1, 2))
    return Fraction(units if v >= 0 else -units, 10**decimals)


def intersect_hi(s: Span, hi: Fraction) -> Span:
    if s.never:
        return s
    return replace(s, hi=hi if s.hi is None else min(s.hi, hi))


class Ranges:
    """The spans of a rulebook's figures per role, computed on demand and kept."""

    def __init__(self, rules: Rulebook) -> None:
        self.rules = rules
        self.derived = {d.key: d for d in rules.derived}
        self.items = {i.key: i for i in rules.items}
        self._memo: dict[tuple[str, str], Span] = {}

    @cached_property
    def month_counts(self) -> list[int]:
        return sorted({len(m) for m in self.rules.months.values()})

    def span(self, key: str, role: str) -> Span:
        """What figure `key` (field, derived, item, business_score, total) can be for `role`."""
        memo = (key, role)
        if memo not in self._memo:
            self._memo[memo] = Span(blank=True)  # a cycle (refused at load) reads as unknown
            self._memo[memo] = self._compute(key, role)
        return self._memo[memo]

    def _compute(self, key: str, role: str) -> Span:
        if key in self.derived:
            return self.derived_span(self.derived[key], role)
        if key in self.items:
            rule = self.items[key].by_role.get(role)
            return Span.empty() if rule is None else self.rule_span(rule, role)
        if key == "business_score":
            total = Span.point(0)
            for item in self.rules.items:
                s = self.span(item.key, role)
                total = add(total, s.join(Span.point(0)) if s.blank else s)
            return replace(total, blank=False)
        if key == "total":
            deduction = self.rules.total.deduction
            if deduction is None:  # a formula: any value
                return Span(blank=True)
            return sub(self.span("business_score", role), self.span(deduction, role))
        return self.field_span(key, role)

    def field_span(self, key: str, role: str) -> Span:
        f = self.rules.contract.by_key.get(key)
        if f is None or not f.numeric:
            return Span(blank=True)  # unknown to this analysis: anything
        s = Span(
            None if f.minimum is None else Fraction(f.minimum),
            None if f.maximum is None else Fraction(f.maximum),
        )
        if f.default is not None:
            s = s.join(Span.point(f.default))  # type: ignore[arg-type]
        filled = (
            f.required
            or f.default is not None
            or key in self.rules.required_by_group.get(self.rules.roles[role].group, [])
        )
        return s.with_blank(not filled)

    def derived_span(self, d: Derived, role: str) -> Span:
        if d.roles is not None and role not in d.roles:
            return Span.empty()
        a, b = self.span(d.a, role), self.span(d.b, role)
        if d.kind == "difference":
            out = sub(a, b)
            if self._at_most(d.a, d.b):
                out = intersect_hi(out, Fraction(0))
            return out
        if d.kind not in ("ratio", "growth"):
            return Span(blank=True)  # a kind this analysis does not know (a formula …)
        numerator = self.derived.get(d.a)
        if (
            d.kind == "ratio"
            and numerator
            and numerator.kind == "difference"
            and numerator.b == d.b
        ):
            # (x − b) / b is x / b − 1: the same values, without losing that both hold b
            out = add(divide(self.span(numerator.a, role), b), Span.point(-1))
            out = Span.empty() if a.never else out.with_blank(a.blank)
        elif d.kind == "growth":
            out = add(divide(a, b), Span.point(-1))
        else:
            out = divide(a, b)
            if self._at_most(d.a, d.b) and a.lo is not None and a.lo >= 0:
                out = intersect_hi(out, Fraction(1))
        if b.holds(Fraction(0)):
            if d.when_zero == "reject":
                out = out.with_blank(role not in d.reject_roles)
            elif d.when_zero is not None:
                out = out.join(Span.point(Decimal(d.when_zero)))
            else:
                out = out.with_blank(True)
        return out

    def _at_most(self, a: str, b: str) -> bool:
        f = self.rules.contract.by_key.get(a)
        return f is not None and f.at_most == b

    def input_span(self, rule: Rule, role: str) -> Span:
        return self.span(rule.input, role)

    def rule_span(self, rule: Rule, role: str) -> Span:
        """The rounded score of one item rule for `role` (blank where its input is)."""
        x = self.input_span(rule, role)
        raw = self.raw_score(rule, x)
        dec = self.rules.decimals
        return raw.map(lambda v: round_half_away(v, dec))

    def raw_score(self, rule: Rule, x: Span) -> Span:
        """A rule's score before rounding over the input values `x`."""
        p = rule.params
        if x.never:
            return x
        if rule.kind == "linear":
            slope = Fraction(p["points"]) * Fraction(p["scale"]) / Fraction(p["divisor"])
            slope /= Fraction(p["step"])
            shift = Fraction(p["base"]) - Fraction(p["points"]) * Fraction(p["target"]) / Fraction(
                p["step"]
            )
            lo, hi = Fraction(p["min"]), Fraction(p["max"])
            if slope == 0:
                return clip(Span.point(shift), lo, hi).with_blank(x.blank)
            scaled = x.map(lambda v: v * slope) if slope >= 0 else neg(x).map(lambda v: -v * slope)
            return clip(scaled.map(lambda v: v + shift), lo, hi)
        if rule.kind == "bands":
            last = len(p["bands"])
            reached = [
                points
                for i, points in enumerate(band_points(rule))
                if self.band_reached(rule, x, -1 if i == last else i)
            ]
            if not reached:
                return Span.empty()
            return Span(min(reached), max(reached), x.blank)
        if rule.kind == "pro_rata":
            points = Fraction(p["points"])
            if points == 0:
                return Span.point(0).with_blank(x.blank)
            out = Span.empty()
            counts = self.month_counts if p["scale_by_period"] else [12]
            for n in counts:
                target = Fraction(p["target"]) * n / 12
                share = x.map(lambda v, t=target: min(v / t, 1))
                got = (
                    share.map(lambda v: v * points)
                    if points >= 0
                    else neg(share).map(lambda v: -v * points)
                )
                out = got if out.never else out.join(got)
            return out.with_blank(x.blank)
        return Span(blank=True)  # a kind this analysis does not know (a formula …)

    def band_reached(self, rule: Rule, x: Span, band: int) -> bool:
        """Whether some value of `x` falls in band `band` (-1: `else`, above every band)."""
        if x.never:
            return False
        bands = rule.params["bands"]
        last = len(bands) - 1
        j = last + 1 if band < 0 else band
        # the band holds values above the previous edge (from it, if that band excludes it) …
        if j > 0:
            edge, inclusive, _ = bands[j - 1]
            if x.hi is not None and (x.hi < edge or (x.hi == edge and inclusive)):
                return False
        # … and up to its own edge
        if j <= last:
            edge, inclusive, _ = bands[j]
            if x.lo is not None and (x.lo > edge or (x.lo == edge and not inclusive)):
                return False
        return True


def band_points(rule: Rule) -> list[Fraction]:
    """The points of each band, then `else`'s."""
    return [Fraction(b[2]) for b in rule.params["bands"]] + [Fraction(rule.params["else"])]
