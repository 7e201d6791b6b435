"""Vectorised, exact Article 13 scores, grades and ranks over every person of the run at once.

Every figure is computed as an exact rational (`exact.Q`) from the decimals the clerk sees, in
one pass per rule over all the rows it applies to. What the scorer decides is the results
layer: besides each figure (as the nearest double, for display and export) it leaves, per
item, what the explanation needs to show the computation without redoing it (the input as
shown, the unclipped score, whether the score was capped, the band, the target), and per
person the grade row that was reached. Writers and explanations render these columns; they
never compute a score again.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from .exact import Q, units_to_floats
from .formula import Formula
from .periods import Period
from .rulebook import Rule, Rulebook

# Per item, the columns of the results layer that explain how its score came about.
SHOWN = "{key}:shown"  # the item's input as the sentence shows it (rounded, see _shown)
SHOWN_PLACES = "{key}:shown_places"  # the decimals it is shown with
UNCLIPPED = "{key}:unclipped"  # linear: the score before the cap and floor
DELTA = "{key}:delta"  # linear: the unclipped score less the base
CAPPED = "{key}:capped"  # linear: 1 above the cap, -1 below the floor, 0 otherwise
BAND = "{key}:band"  # bands: the index of the band reached, -1 for `else`
REACHED = "{key}:reached"  # pro_rata: 1 where the input reached the target
GRADE_ROW = "grade_row"  # the index of the grade row reached, in the person's group


class Figures:
    """The exact value of every input and computed figure of the scored people, by key.

    Inputs are taken from the people table: a number cell's value is the decimal its double
    shows at 15 significant digits; a number typed as text with more digits than that keeps
    its text (column `_exact:<key>`, filled by the row checks only where needed).
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.values: dict[str, Q | _Packed] = {}
        self.read: set[str] = set()  # the keys whose values were read from `df`

    def __getitem__(self, key: str) -> Q:
        if key not in self.values:
            self[key] = self._read(key)
            self.read.add(key)
        value = self.values[key]
        return value.unpack() if isinstance(value, _Packed) else value

    def __setitem__(self, key: str, value: Q) -> None:
        self.values[key] = _Packed.of(value) or value
        self.read.discard(key)

    def __contains__(self, key: str) -> bool:
        return key in self.values or key in self.df

    def forget_read(self) -> None:
        """Drop the values read from the table (they are read again, the same, when asked for);
        those computed and set are kept: only they cannot be read back from the table's
        floats."""
        for key in self.read:
            self.values.pop(key, None)
        self.read.clear()

    def _read(self, key: str) -> Q:
        if key not in self.df:
            return Q.blank(len(self.df))
        q = Q.from_floats(pd.to_numeric(self.df[key], errors="coerce").to_numpy(dtype=float))
        texts = f"_exact:{key}"
        if texts in self.df:
            column = self.df[texts].to_numpy(dtype=object)
            at = np.flatnonzero(pd.notna(column))
            if len(at):
                q.put(at, Q.from_decimals(column[at].tolist()))
        return q


class _Packed:
    """An exact column kept as int64 numerators and denominators (17 bytes a value instead of
    some 60 as Python ints in object arrays): every figure of a national bank's people is held
    until the flags are decided, and Python ints made them the largest thing a run holds."""

    __slots__ = ("n", "d", "na")

    def __init__(self, n: np.ndarray, d: np.ndarray, na: np.ndarray) -> None:
        self.n, self.d, self.na = n, d, na

    @classmethod
    def of(cls, q: Q) -> _Packed | None:
        """`q` packed, or None when a numerator or denominator does not fit in int64."""
        try:
            return cls(q.n.astype(np.int64), q.d.astype(np.int64), q.na)
        except (OverflowError, TypeError):
            return None

    def unpack(self) -> Q:
        """The column as the exact arithmetic takes it: Python ints, a new Q each time (a Q is
        changed in place by `put`; what is kept here is not)."""
        return Q(self.n.astype(object), self.d.astype(object), self.na.copy())


def formula_env(
    formula: Formula, df: pd.DataFrame, rules: Rulebook, fig: Figures | None = None
) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """What a formula reads, for every row of `df`: its names' exact values (是/否 fields as
    booleans, parameters as constants), the members of its peer aggregates (every row: the
    frame holds the scored people) and the key columns it groups by."""
    fig = fig if fig is not None else Figures(df)
    env: dict[str, Any] = {}
    for key in formula.refs:
        field = rules.contract.by_key.get(key)
        if key in rules.parameters:
            env[key] = rules.parameters[key].value
        elif field is not None and field.kind == "yesno":
            column = df[key] if key in df else pd.Series(False, index=df.index)
            env[key] = column.fillna(False).astype(bool).to_numpy()
        else:
            env[key] = fig[key]
    keys = {k: df[k].to_numpy(dtype=object) for k in formula.by_keys}
    return env, np.ones(len(df), dtype=bool), keys


def derive(
    df: pd.DataFrame, rules: Rulebook, fig: Figures, sums: dict | None = None
) -> pd.DataFrame:
    """Derived figures, in rulebook order; a zero denominator per `when_zero`; a period sum
    from `sums` (History.period_sums: blank where the history has none)."""
    for d in rules.derived:
        if d.kind == "period_sum":
            found = (sums or {}).get(d.key)
            values = [None if found is None else found.get(e) for e in df["emp_id"].tolist()]
            value = Q.from_decimals(["" if v is None else v for v in values])
            fig[d.key] = value
            df[d.key] = value.floats()
            continue
        if d.formula is not None:
            value = d.formula.evaluate(*formula_env(d.formula, df, rules, fig)).value
            if d.roles is not None:
                value = value.where(df["role"].isin(d.roles).to_numpy(), Q.blank(len(df)))
            fig[d.key] = value
            df[d.key] = value.floats()
            continue
        a, b = fig[d.a], fig[d.b]
        if d.kind == "difference":
            value = a - b
        else:
            num = a if d.kind == "ratio" else a - b
            zero = b.is_zero()
            value = num / b  # blank where b is 0
            if d.when_zero != "reject":
                value = value.where(~zero, Decimal(d.when_zero))  # type: ignore[arg-type]
        if d.roles is not None:
            value = value.where(df["role"].isin(d.roles).to_numpy(), Q.blank(len(df)))
        fig[d.key] = value
        df[d.key] = value.floats()
    return df


def period_fraction(period: Period, rules: Rulebook) -> Fraction:
    """The share of a year in the period (months / 12), exact."""
    return Fraction(len(rules.months[period.kind]), 12)


def period_target(rule: Rule, period: Period, rules: Rulebook) -> Fraction:
    """A pro-rata rule's target in this period: scaled by the period's share of the year when
    the rule says so."""
    target = Fraction(rule.params["target"])
    return target * period_fraction(period, rules) if rule.params["scale_by_period"] else target


SHOWN_EXTRA = 6  # at most this many decimals more than a score's, to show an input faithfully


def _linear(p: dict, x: Q) -> Q:
    return (x - p["target"]) * p["points"] / p["step"] + p["base"]


def _shown(p: dict, scaled: Q, unclipped: np.ndarray, dec: int) -> tuple[Q, np.ndarray]:
    """The input as the sentence shows it: with a score's decimals, or with as many more as it
    takes for the shown figure to give the same unclipped score by hand (收贷收息率98.467%,
    not 98.47%, where 98.47 would give 20-20.60 but the item is 20-20.66)."""
    shown = scaled.rounded(dec + SHOWN_EXTRA)
    places = np.full(len(scaled), dec + SHOWN_EXTRA)
    pending = ~scaled.na
    for d in range(dec, dec + SHOWN_EXTRA):
        if not pending.any():
            break
        candidate = scaled.rounded(d)
        same = pending & (_linear(p, candidate).round_units(dec) == unclipped)
        shown.put(same, candidate.take(same))
        places[same] = d
        pending &= ~same
    return shown, places


def _item(rule: Rule, x: Q, period: Period, rules: Rulebook, dec: int) -> dict[str, np.ndarray]:
    """The score of one item for the input values `x`, in units of 10**-dec, and its details."""
    p = rule.params
    if rule.kind == "linear":
        scaled = x / p["divisor"] * p["scale"]
        raw = _linear(p, scaled)
        capped = np.where(raw.cmp(">", p["max"]), 1, np.where(raw.cmp("<", p["min"]), -1, 0))
        unclipped = raw.round_units(dec)
        shown, places = _shown(p, scaled, unclipped, dec)
        return {
            "units": raw.clip(p["min"], p["max"]).round_units(dec),
            SHOWN: shown.floats(),
            SHOWN_PLACES: places,
            UNCLIPPED: Q.from_units(unclipped, dec).floats(),
            DELTA: (Q.from_units(unclipped, dec) - p["base"]).floats(),
            CAPPED: capped,
        }
    if rule.kind == "bands":
        band = np.full(len(x), -1)
        points = Q.full(len(x), p["else"])
        done = np.zeros(len(x), dtype=bool)
        for i, (edge, inclusive, value) in enumerate(p["bands"]):
            hit = x.cmp("<=" if inclusive else "<", edge) & ~done
            band[hit] = i
            points = points.where(~hit, value)
            done |= hit
        return {"units": points.round_units(dec), BAND: band}
    # pro_rata
    target = period_target(rule, period, rules)
    raw = (x / target).minimum(1) * p["points"]
    return {
        "units": raw.round_units(dec),
        REACHED: x.cmp(">=", target).astype(int),
    }


def score(df: pd.DataFrame, rules: Rulebook, period: Period, fig: Figures) -> pd.DataFrame:
    """Items, business score, total, grade and ranks for the scored rows of `df`."""
    dec = rules.decimals
    n = len(df)
    business_units = np.zeros(n, dtype=np.int64)
    role = df["role"].to_numpy(dtype=object)
    for item in rules.items:
        units = np.zeros(n, dtype=np.int64)
        blank = np.ones(n, dtype=bool)
        details: dict[str, np.ndarray] = {}
        for role_key, rule in item.by_role.items():
            at = np.flatnonzero(role == role_key)
            if not len(at):
                continue
            if rule.kind == "formula":
                f = rule.params["formula"]
                x = f.evaluate(*formula_env(f, df, rules, fig)).value.take(at)
                units[at] = np.where(x.na, 0, x.round_units(dec))
                blank[at] = x.na
                continue
            x = fig[rule.input].take(at)
            got = _item(rule, x, period, rules, dec)
            units[at] = np.where(x.na, 0, got.pop("units"))
            blank[at] = x.na
            for name, values in got.items():
                column = details.setdefault(
                    name.format(key=item.key), np.full(n, np.nan, dtype=float)
                )
                column[at] = np.where(x.na, np.nan, values)
        fig[item.key] = Q.from_units(units, dec, blank)
        df[item.key] = units_to_floats(units, dec, blank)
        for name, values in details.items():
            df[name] = values
        business_units += units
    business = Q.from_units(business_units, dec)
    fig["business_score"] = business
    df["business_score"] = units_to_floats(business_units, dec)
    if rules.total.formula is not None:
        total = rules.total.formula.evaluate(
            *formula_env(rules.total.formula, df, rules, fig)
        ).value
    else:
        total = business - fig[rules.total.deduction or ""]
    fig["total"] = total
    total_decimals = rules.total_decimals
    units = total.round_units(total_decimals)
    if total.na.any():  # a blank total (a formula over a blank figure) is neither 0 nor ranked
        units = pd.array(units, dtype="Int64")
        units[total.na] = pd.NA
    df["total_units"] = units
    df["total"] = total.floats()
    df["grade"], df[GRADE_ROW] = grade(df, rules, total)
    for column, keys in (("rank_branch", ["branch_code", "group"]), ("rank_bank", ["group"])):
        df[column] = (
            df.groupby(keys)["total_units"].rank(method="min", ascending=False).astype("Int64")
        )
    if rules.income_input:
        deduction = fig[rules.income_input] * rules.income_share
        fig["income_deduction"] = deduction
        df["income_deduction"] = deduction.floats()
    return df


def grade(df: pd.DataFrame, rules: Rulebook, total: Q) -> tuple[np.ndarray, np.ndarray]:
    """The first grade row (per group) whose lower edge the exact total reaches, and its index."""
    out = np.full(len(df), None, dtype=object)
    row = np.full(len(df), -1, dtype=np.int64)
    group = df["group"].to_numpy(dtype=object)
    for g, rows in rules.grades.items():
        left = group == g
        for i, (name, edge, inclusive) in enumerate(rows):
            hit = left if edge is None else left & total.cmp(">=" if inclusive else ">", edge)
            out[hit] = name
            row[hit] = i
            left = left & ~hit
    return out, row
