"""Vectorised Article 14 flags, outcome and recommended level (RULES.md §6).

Each flag of the rulebook becomes one boolean mask over all scored rows. An annual flag decides
only in an FY run; in a quarter it is raised as a warning (its code written with `?`).
History (months of earlier periods, the previous FY's decisions) comes in as optional frames
from the ledger; without it, the parts that need it are not judged and the explanation says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .numbers import compare
from .periods import Period
from .rulebook import Flag, Rulebook
from .score import to_total_units


@dataclass
class History:
    """What earlier periods say about the people of this run (from the ledger)."""

    # emp_id -> list of (month label, below threshold: True/False/None), oldest first,
    # the months immediately before this period's first month
    months_before: dict[str, list[tuple[str, bool | None]]] = field(default_factory=dict)
    # emp_ids whose A14-1 demotion flags decided in the previous FY's current run
    previous_fy_demoted: set[str] = field(default_factory=set)
    previous_fy_known: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # emp_id -> note for the explanation


def _condition(df: pd.DataFrame, cond: dict[str, Any]) -> np.ndarray:
    if "all" in cond:
        return np.logical_and.reduce([_condition(df, c) for c in cond["all"]])
    if "any" in cond:
        return np.logical_or.reduce([_condition(df, c) for c in cond["any"]])
    value = cond["value"]
    if isinstance(value, bool):
        column = df[cond["field"]].fillna(False).astype(bool).to_numpy()
        return column == value if cond["op"] == "==" else column != value
    if cond["field"] == "total":  # exact, in millionths
        units = df["total_units"].to_numpy()
        return _int_compare(units, cond["op"], to_total_units(Decimal(value)))
    return compare(df[cond["field"]].to_numpy(dtype=float), cond["op"], float(value))


def _int_compare(a: np.ndarray, op: str, b: int) -> np.ndarray:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op]


def _consecutive(df: pd.DataFrame, flag: Flag, months: list[int], history: History) -> np.ndarray:
    p = flag.params
    need = int(p["months"])
    threshold = df[p["of"]].to_numpy(dtype=float) * float(p["ratio"])
    run = np.zeros(len(df), dtype=np.int64)
    hit = np.zeros(len(df), dtype=bool)
    if history.months_before:
        # months of earlier periods, aligned right so the last one touches this period
        width = max(len(v) for v in history.months_before.values())
        table = pd.DataFrame.from_dict(
            {
                e: [False] * (width - len(v)) + [bool(b) for _, b in v]
                for e, v in history.months_before.items()
            },
            orient="index",
            columns=range(width),
        )
        prior = table.reindex(df["emp_id"]).fillna(False).to_numpy(dtype=np.int8)
        for j in range(width):
            run = (run + 1) * prior[:, j]
            hit |= run >= need
    for m in months:
        column = f"{p['field']}{m}"
        values = df[column].to_numpy(dtype=float) if column in df else np.full(len(df), np.nan)
        below = compare(
            values, p["op"], threshold
        )  # a blank month is never below: it breaks the run
        run = (run + 1) * below
        hit |= run >= need
    return hit


def apply_flags(
    df: pd.DataFrame, rules: Rulebook, period: Period, history: History | None = None
) -> pd.DataFrame:
    """Add `flags`, `outcome`, `recommended_level` and one boolean column per flag code."""
    history = history or History()
    months = rules.months[period.kind]
    decided = {"dismiss": np.zeros(len(df), bool), "demote": np.zeros(len(df), bool)}
    warned = np.zeros(len(df), bool)
    labels: dict[str, np.ndarray] = {}
    raised: dict[str, np.ndarray] = {}
    for flag in rules.flags:
        applies = df["group"].isin(flag.groups).to_numpy()
        if flag.kind == "condition":
            mask = _condition(df, flag.condition or {})
        elif flag.kind == "consecutive_months":
            mask = _consecutive(df, flag, months, history)
        else:  # repeat: needs this FY's decision and the previous FY's
            this_year = np.logical_or.reduce(
                [raised.get(c, np.zeros(len(df), bool)) for c in flag.params["of"]]
            )
            before = df["emp_id"].isin(history.previous_fy_demoted).to_numpy()
            mask = this_year & before if period.is_annual else np.zeros(len(df), bool)
        mask = mask & applies
        raised[flag.code] = mask
        warning = flag.annual and not period.is_annual
        df[f"flag:{flag.code}"] = mask
        if warning:
            warned |= mask
        else:
            decided[flag.action] |= mask
        labels[flag.code] = np.where(mask, flag.code + ("?" if warning else "") + ";", "")
    text = pd.Series("", index=df.index, dtype=object)
    for code in sorted(labels):
        text = text + labels[code]
    df["flags"] = text.str.rstrip(";")
    o = rules.outcomes
    outcome = np.where(
        decided["dismiss"],
        o["dismiss"],
        np.where(decided["demote"], o["demote"], np.where(warned, o["warning"], o["none"])),
    )
    df["outcome"] = outcome
    df["action"] = np.where(
        decided["dismiss"], "dismiss", np.where(decided["demote"], "demote", "")
    )
    demoted = df["role"].map(rules.demote_level)
    df["recommended_level"] = np.where(
        decided["dismiss"],
        rules.dismiss_level,
        np.where(decided["demote"], demoted, df["role_label"]),
    )
    return df


def flags_text(people: pd.DataFrame, rules: Rulebook, period: Period) -> pd.Series:
    """Each raised flag in plain Chinese with its article and what it means this period."""
    text = pd.Series("", index=people.index, dtype=object)
    actions = {"dismiss": rules.outcomes["dismiss"], "demote": rules.outcomes["demote"]}
    for flag in rules.flags:
        col = f"flag:{flag.code}"
        if col not in people:
            continue
        warning = flag.annual and not period.is_annual
        what = (
            f"{rules.outcomes['warning']}:年度将{actions[flag.action]}"
            if warning
            else actions[flag.action]
        )
        line = f"{flag.label}({flag.article},{what})"
        hit = people[col].fillna(False).astype(bool)
        text = text.where(~hit, text + np.where(text == "", "", ";") + line)
    return text
