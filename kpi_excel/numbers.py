"""Numbers as a branch types them, and numbers as the policy rounds them (RULES.md §4).

Scores are rounded half away from zero (Excel's ROUND, 四舍五入), immune to binary floating
point: 20.025 is held as 20.02499999999999857891... yet must round to 20.03. Every value here
comes from decimal inputs with a few decimals through a few arithmetic steps, so its binary
error is below 1e-12 relative, while two different exact results that matter differ by far more
(inputs have cents, denominators stay below 1e12). A value within `REL_TOL` (relative) of a
half-way point is therefore that half-way point. Python's `round`, `numpy.round` and
`DataFrame.round` round half to even and are never used for scores.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

REL_TOL = 1e-9

_NUMBER_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[+-]?\.\d+$")


def _tol(*arrays: Any) -> np.ndarray:
    scale = np.ones(1)
    for a in arrays:
        scale = np.fmax(scale, np.abs(np.asarray(a, dtype=float)))
    return scale * REL_TOL


def round_half_away(x: Any, decimals: int) -> np.ndarray:
    """Round half away from zero to `decimals` places, snapping binary artefacts (see module doc)."""
    x = np.asarray(x, dtype=float)
    factor = 10.0**decimals
    scaled = np.abs(x) * factor
    rounded = np.floor(scaled + 0.5 + _tol(scaled))
    return np.sign(x) * rounded / factor


def snap(x: Any, places: int = 9) -> np.ndarray:
    """Remove binary noise from a sum or difference of decimal inputs (amounts have <= 9 places)."""
    x = np.asarray(x, dtype=float)
    factor = 10.0**places
    return np.sign(x) * np.floor(np.abs(x) * factor + 0.5) / factor


def to_units(x: Any, decimals: int) -> np.ndarray:
    """Exact integer count of 10**-decimals units of an already-rounded value (NaN -> 0)."""
    x = np.nan_to_num(np.asarray(x, dtype=float))
    return (np.sign(x) * np.floor(np.abs(x) * 10.0**decimals + 0.5)).astype(np.int64)


def compare(a: Any, op: str, b: Any) -> np.ndarray:
    """`a op b` elementwise, where values within REL_TOL (relative) count as equal. NaN -> False."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    t = _tol(a, b)
    with np.errstate(invalid="ignore"):
        if op == "<":
            out = a < b - t
        elif op == "<=":
            out = a <= b + t
        elif op == ">":
            out = a > b + t
        elif op == ">=":
            out = a >= b - t
        elif op == "==":
            out = np.abs(a - b) <= t
        else:  # pragma: no cover - the rulebook loader refuses other operators
            raise ValueError(op)
    return out & ~np.isnan(a) & ~np.isnan(b)


def clean_number_text(value: str) -> str | None:
    """The decimal a text cell shows (`1,234.5`, `１２３`, ` 12 `), or None if it shows none."""
    text = unicodedata.normalize("NFKC", value).strip(" \t\r\n")
    if _NUMBER_RE.match(text):
        return text.replace(",", "")
    return None


def parse_numbers(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Parse a column of raw cell values.

    Returns (value, blank, invalid, from_text): the float value (NaN if blank or invalid), and
    masks for blank cells, cells that show no number, and numbers that arrived as text.
    """
    kind = s.map(_kind)
    blank = kind == "blank"
    text = kind == "text"
    cleaned = s.where(text).map(lambda v: clean_number_text(v) if isinstance(v, str) else None)
    parsed_text = pd.to_numeric(cleaned, errors="coerce")
    numeric = kind == "number"
    value = pd.Series(np.nan, index=s.index, dtype=float)
    if numeric.any():
        value[numeric] = s[numeric].astype(float)
    value[text] = parsed_text[text]
    invalid = (kind == "other") | (text & parsed_text.isna()) | (numeric & ~np.isfinite(value))
    value[invalid] = np.nan
    return value, blank, invalid, text & ~invalid


def _kind(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "blank"
    if isinstance(v, bool):
        return "other"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "blank" if not v.strip(" \u3000\t\r\n") else "text"
    return "other"  # dates, times, errors


def show(v: Any) -> str:
    """A raw cell value as a clerk would recognise it in a message ('' for blank)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, str):
        return v.strip()
    return str(v)


def fmt_number(v: float) -> str:
    """Shortest text of a float, with no binary noise (15 significant digits), '' for NaN."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    text = f"{v:.15g}"
    if "e" in text:
        text = format(Decimal(text), "f")
    return "0" if text in ("-0", "0") else text


def fmt_ratio(v: float) -> str:
    """A ratio at full precision (shortest repr), '' for NaN, integers without '.0'."""
    if v is None or np.isnan(v):
        return ""
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def fmt_fixed(v: float, decimals: int) -> str:
    """A rounded score with exactly `decimals` places, '' for NaN."""
    if v is None or np.isnan(v):
        return ""
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text
