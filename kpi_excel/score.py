"""Vectorised Article 13 scores, grades and ranks over every person of the run at once.

Each item is computed for all rows of a role in one numpy expression, rounded per RULES.md §4,
and kept as an exact count of hundredths, so the business score is the exact sum of the shown
items and grades and ranks never depend on binary floating point.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from .numbers import compare, round_half_away, snap, to_units
from .periods import Period
from .rulebook import Rule, Rulebook

TOTAL_DECIMALS = 6  # the total is held exactly in millionths of a point


def derive(df: pd.DataFrame, rules: Rulebook) -> pd.DataFrame:
    """RULES §3 derived figures, in rulebook order; a zero denominator per `when_zero`."""
    for d in rules.derived:
        a = df[d.a].astype(float)
        b = df[d.b].astype(float)
        if d.kind == "difference":
            df[d.key] = snap(a - b)
            continue
        num = a if d.kind == "ratio" else pd.Series(snap(a - b), index=df.index)
        zero = b == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = num / b.where(~zero)
        if d.when_zero != "reject":
            value = value.where(~zero, float(d.when_zero))  # type: ignore[arg-type]
        df[d.key] = value
    return df


def period_fraction(period: Period, rules: Rulebook) -> float:
    return len(rules.months[period.kind]) / 12


def item_raw(rule: Rule, x: pd.Series, fraction: float) -> np.ndarray:
    """The unrounded points of one item for the input values `x`."""
    p = rule.params
    x = x.astype(float).to_numpy()
    if rule.kind == "linear":
        scaled = x / float(p["divisor"]) * float(p["scale"])
        raw = float(p["base"]) + float(p["points"]) * (scaled - float(p["target"])) / float(
            p["step"]
        )
        return np.clip(raw, float(p["min"]), float(p["max"]))
    if rule.kind == "bands":
        out = np.full(len(x), float(p["else"]))
        done = np.zeros(len(x), dtype=bool)
        for edge, inclusive, points in p["bands"]:
            hit = compare(x, "<=" if inclusive else "<", float(edge)) & ~done
            out[hit] = float(points)
            done |= hit
        return np.where(np.isnan(x), np.nan, out)
    # pro_rata
    target = float(p["target"]) * (fraction if p["scale_by_period"] else 1.0)
    return float(p["points"]) * np.minimum(x / target, 1.0)


def score(df: pd.DataFrame, rules: Rulebook, period: Period) -> pd.DataFrame:
    """Items, business score, total, grade and ranks for the scored rows of `df`."""
    fraction = period_fraction(period, rules)
    dec = rules.decimals
    business_units = np.zeros(len(df), dtype=np.int64)
    for item in rules.items:
        values = np.full(len(df), np.nan)
        for role, rule in item.by_role.items():
            mask = (df["role"] == role).to_numpy()
            if mask.any():
                values[mask] = round_half_away(
                    item_raw(rule, df.loc[mask, rule.input], fraction), dec
                )
        df[item.key] = values
        business_units += to_units(values, dec)
    df["business_score"] = business_units / 10**dec
    conduct_units = to_units(
        round_half_away(df["conduct_deduction"], TOTAL_DECIMALS), TOTAL_DECIMALS
    )
    total_units = business_units * 10 ** (TOTAL_DECIMALS - dec) - conduct_units
    df["total_units"] = total_units
    df["total"] = total_units / 10**TOTAL_DECIMALS
    df["grade"] = grade(df, rules)
    for column, keys in (("rank_branch", ["branch_code", "group"]), ("rank_bank", ["group"])):
        df[column] = (
            df.groupby(keys)["total_units"].rank(method="min", ascending=False).astype("Int64")
        )
    share = float(rules.income_share)
    df["income_deduction"] = df[rules.income_input].astype(float) * share
    return df


def to_total_units(value: Decimal) -> int:
    return int(value * 10**TOTAL_DECIMALS)


def grade(df: pd.DataFrame, rules: Rulebook) -> pd.Series:
    """The first grade row (per group) whose lower edge the exact total reaches."""
    out = pd.Series(None, index=df.index, dtype=object)
    units = df["total_units"]
    for group, rows in rules.grades.items():
        left = df["group"] == group
        for name, edge, inclusive in rows:
            if edge is None:
                hit = left
            else:
                e = to_total_units(edge)
                hit = left & ((units >= e) if inclusive else (units > e))
            out[hit] = name
            left = left & ~hit
    return out
