"""Vectorised, exact Article 14 flags, outcome and recommended level (RULES.md §6).

Each flag of the rulebook becomes one boolean column `flag:<code>` over all scored rows,
decided with the exact figures of the scorer. An annual flag decides only in an FY run; in a
quarter it is raised as a warning (`flag_warns`). These columns are the flags as data: the
export's code list, the ledger's decided codes, the summary and the explanations are all
rendered from them. A flag over consecutive months also leaves, per person, the months that
raised it (`flag_months:<code>`: MonthFigure tuples: month, amount, threshold, source period,
base).
History (months of earlier periods, the previous FY's decisions) comes in as optional frames
from the ledger; without it, the parts that need it are not judged and the explanation says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .memory import one_object_per_value
from .periods import Period
from .rulebook import Flag, Rulebook
from .score import Figures

WARNING_MARK = "?"  # CONTRACT.md: a code raised as a warning is written with `?`


@dataclass
class MonthFigure:
    """One calendar month of a consecutive-months flag: its amount, the threshold it is
    compared with, whether it is below, the period whose run it comes from and the figure the
    threshold is a share of (the base reported with that run; None in ledgers written before
    it was kept)."""

    label: str  # 2026年7月
    amount: float | None
    threshold: float | None
    below: bool | None
    source: str  # the period code, e.g. 2026Q2
    base: float | None = None


@dataclass
class History:
    """What earlier periods say about the people of this run (from the ledger)."""

    # emp_id -> the months immediately before this period's first month, oldest first
    months_before: dict[str, list[MonthFigure]] = field(default_factory=dict)
    # emp_ids whose A14-1 demotion flags decided in the previous FY's current run
    previous_fy_demoted: set[str] = field(default_factory=set)
    previous_fy_known: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # emp_id -> note for the explanation
    # period sums (annual runs): figure key -> emp_id -> the exact sum over the year's other
    # periods; a figure is absent when one of those periods was never run (nothing is guessed)
    period_sums: dict[str, dict[str, Decimal]] = field(default_factory=dict)


def flag_warns(flag: Flag, period: Period) -> bool:
    """Whether the flag is only a warning in this period (an annual flag outside FY)."""
    return flag.annual and not period.is_annual


def _condition(df: pd.DataFrame, fig: Figures, cond: dict[str, Any]) -> np.ndarray:
    if "all" in cond:
        return np.logical_and.reduce([_condition(df, fig, c) for c in cond["all"]])
    if "any" in cond:
        return np.logical_or.reduce([_condition(df, fig, c) for c in cond["any"]])
    value = cond["value"]
    if isinstance(value, bool):
        column = df[cond["field"]].fillna(False).astype(bool).to_numpy()
        return column == value if cond["op"] == "==" else column != value
    return fig[cond["field"]].cmp(cond["op"], value)


def _consecutive(
    df: pd.DataFrame,
    fig: Figures,
    flag: Flag,
    period: Period,
    months: list[int],
    history: History,
) -> tuple[np.ndarray, np.ndarray]:
    """Who has `months` calendar months in a row below the threshold, and, for them, those
    months (a tuple of MonthFigure; None for the others)."""
    p = flag.params
    need = int(p["months"])
    n = len(df)
    base = fig[p["of"]]
    threshold = base * p["ratio"]
    run = np.zeros(n, dtype=np.int64)
    hit = np.zeros(n, dtype=bool)
    emp = df["emp_id"].to_numpy(dtype=object)
    if history.months_before:
        # months of earlier periods, aligned right so the last one touches this period
        width = max(len(v) for v in history.months_before.values())
        table = pd.DataFrame.from_dict(
            {
                e: [False] * (width - len(v)) + [bool(m.below) for m in v]
                for e, v in history.months_before.items()
            },
            orient="index",
            columns=range(width),
        )
        prior = table.reindex(emp).fillna(False).to_numpy(dtype=np.int8)
        for j in range(width):
            run = (run + 1) * prior[:, j]
            hit |= run >= need
    # One month's exact values at a time (a national bank's months at once as exact numbers:
    # hundreds of MB). A blank month is never below: it breaks the run.
    below: dict[int, np.ndarray] = {}
    for m in months:
        below[m] = fig[f"{p['field']}{m}"].cmp(p["op"], threshold)
        run = (run + 1) * below[m]
        hit |= run >= need
    found = np.full(n, None, dtype=object)
    at = np.flatnonzero(hit)
    if len(at):
        limit, bases = threshold.take(at).floats(), base.take(at).floats()
        amounts = {m: fig[f"{p['field']}{m}"].take(at).floats() for m in months}
        below = {m: below[m][at] for m in months}
        for k, i in enumerate(at.tolist()):
            seq = list(history.months_before.get(emp[i], []))
            for m in months:
                amount = float(amounts[m][k])
                seq.append(
                    MonthFigure(
                        f"{period.year}年{m}月",
                        None if amount != amount else amount,
                        float(limit[k]),
                        bool(below[m][k]),
                        period.code,
                        None if bases[k] != bases[k] else float(bases[k]),
                    )
                )
            streak: list[MonthFigure] = []
            for month in seq:
                streak = [*streak, month] if month.below else []
                if len(streak) >= need:
                    found[i] = tuple(streak[-need:])
                    break
    return hit, found


def apply_flags(
    df: pd.DataFrame,
    rules: Rulebook,
    period: Period,
    fig: Figures,
    history: History | None = None,
) -> pd.DataFrame:
    """Add one boolean column per flag code, `flags` (the export's code list), `decided`,
    `outcome`, `action` and `recommended_level`."""
    history = history or History()
    months = rules.months[period.kind]
    n = len(df)
    decided = {"dismiss": np.zeros(n, bool), "demote": np.zeros(n, bool)}
    warned = np.zeros(n, bool)
    raised: dict[str, np.ndarray] = {}
    for flag in rules.flags:
        applies = df["group"].isin(flag.groups).to_numpy()
        if flag.kind == "condition":
            mask = _condition(df, fig, flag.condition or {})
        elif flag.kind == "consecutive_months":
            mask, found = _consecutive(df, fig, flag, period, months, history)
            df[f"flag_months:{flag.code}"] = np.where(mask & applies, found, None)
        else:  # repeat: needs this FY's decision and the previous FY's
            this_year = np.logical_or.reduce(
                [raised.get(c, np.zeros(n, bool)) for c in flag.params["of"]]
            )
            before = df["emp_id"].isin(history.previous_fy_demoted).to_numpy()
            mask = this_year & before if period.is_annual else np.zeros(n, bool)
        mask = mask & applies
        raised[flag.code] = mask
        df[f"flag:{flag.code}"] = mask
        if flag_warns(flag, period):
            warned |= mask
        else:
            decided[flag.action] |= mask
    df["flags"] = one_object_per_value(flag_codes(df, rules, period))
    df["decided"] = one_object_per_value(flag_codes(df, rules, period, decided_only=True))
    o = rules.outcomes
    df["outcome"] = one_object_per_value(
        np.where(
            decided["dismiss"],
            o["dismiss"],
            np.where(decided["demote"], o["demote"], np.where(warned, o["warning"], o["none"])),
        )
    )
    df["action"] = one_object_per_value(
        np.where(decided["dismiss"], "dismiss", np.where(decided["demote"], "demote", ""))
    )
    demoted = df["role"].map(rules.demote_level)
    df["recommended_level"] = np.where(
        decided["dismiss"],
        rules.dismiss_level,
        np.where(decided["demote"], demoted, df["role_label"]),
    )
    return df


def raised_flags(rules: Rulebook, people: pd.DataFrame) -> list[Flag]:
    """The rulebook's flags that have a column in `people`, in code order."""
    return sorted((f for f in rules.flags if f"flag:{f.code}" in people), key=lambda f: f.code)


def flag_mask(people: pd.DataFrame, flag: Flag) -> np.ndarray:
    """Who raised the flag (False for people not scored)."""
    return people[f"flag:{flag.code}"].fillna(False).to_numpy(dtype=bool)


def flag_codes(
    people: pd.DataFrame, rules: Rulebook, period: Period, decided_only: bool = False
) -> np.ndarray:
    """Per person, the raised codes sorted and `;`-separated, a warning with `?` (CONTRACT.md);
    with `decided_only`, the codes that decide (no warnings)."""
    text = np.full(len(people), "", dtype=object)
    for flag in raised_flags(rules, people):
        warning = flag_warns(flag, period)
        if decided_only and warning:
            continue
        mask = flag_mask(people, flag)
        code = flag.code + (WARNING_MARK if warning else "")
        text[mask] = np.where(text[mask] == "", code, text[mask] + ";" + code)
    return text
