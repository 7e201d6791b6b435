"""Numbers as a branch types them (cells, text numbers) and as outputs show them.

Nothing here decides a score: scores, comparisons and rounding are exact (`exact.py`). The
formatters show values that are already exact decimals (the nearest doubles of them), so
fixed-point formatting of them shows the decimal itself. Python's `round`, `numpy.round` and
`DataFrame.round` round half to even and are never used for scores.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

_NUMBER_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[+-]?\.\d+$")


def clean_number_text(value: str) -> str | None:
    """The decimal a text cell shows (`1,234.5`, `１２３`, ` 12 `), or None if it shows none."""
    text = unicodedata.normalize("NFKC", value).strip(" \t\r\n")
    if _NUMBER_RE.match(text):
        return text.replace(",", "")
    return None


# Cell kinds, as `_kind` names them: decided for a whole column in one pass over the value types
# (only the strings and floats are looked at further, and only text cells are ever parsed).
BLANK, NUMBER, TEXT, OTHER, UNKNOWN, _FLOAT = 0, 1, 2, 3, 4, 5
_TYPE_KIND = {
    type(None): BLANK, float: _FLOAT, int: NUMBER, str: TEXT, bool: OTHER,
    dt.datetime: OTHER, dt.date: OTHER, dt.time: OTHER, dt.timedelta: OTHER,
}  # fmt: skip
_BLANK_CHARS = " \u3000\t\r\n"


def _objects(values: Any) -> np.ndarray:
    """A 1-d object array of the values, as a Series or list holds them."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.fromiter(values, dtype=object, count=len(values))


def value_kinds(values: Any) -> np.ndarray:
    """`_kind` of every value as an int8 code (BLANK, NUMBER, TEXT, OTHER), in one pass."""
    arr = _objects(values)
    n = len(arr)
    kinds = np.fromiter(map(_TYPE_KIND.get, map(type, arr), repeat(UNKNOWN)), np.int8, n)
    odd = np.flatnonzero(kinds == UNKNOWN)  # subclasses, numpy scalars...: the exact rule
    if len(odd):
        kinds[odd] = [_KIND_CODE[_kind(v)] for v in arr[odd]]
    floats = np.flatnonzero(kinds == _FLOAT)
    if len(floats):
        kinds[floats] = NUMBER
        kinds[floats[np.isnan(arr[floats].astype(float))]] = BLANK
    texts = np.flatnonzero(kinds == TEXT)
    if len(texts):
        empty = np.fromiter(
            map(_not, map(str.strip, arr[texts], repeat(_BLANK_CHARS))), bool, len(texts)
        )
        kinds[texts[empty]] = BLANK
    return kinds


def _array(items: Any, n: int) -> np.ndarray:
    """An object array of n Python objects (never a fixed-width numpy string array)."""
    return np.fromiter(items, dtype=object, count=n)


def _not(v: Any) -> bool:
    return not v


def parse_numbers(
    s: pd.Series,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, pd.Series | None]:
    """Parse a column of raw cell values.

    Returns (value, blank, invalid, from_text, long_text): the float value (NaN if blank or
    invalid), masks for blank cells, cells that show no number, and numbers that arrived as
    text, and the text of the numbers typed as text with more significant digits than a double
    keeps (None elsewhere; None as a whole when there are none), so that the exact figures
    take the decimal the text shows. Cells that are already numbers are taken as they are;
    only text cells are cleaned and parsed.
    """
    arr = s.to_numpy(dtype=object)
    kinds = value_kinds(arr)
    value = np.full(len(arr), np.nan)
    numeric = kinds == NUMBER
    if numeric.any():
        value[numeric] = arr[numeric].astype(float)
    text = kinds == TEXT
    invalid = (kinds == OTHER) | (numeric & ~np.isfinite(value))
    at = np.flatnonzero(text)
    if len(at):
        cleaned: list[str | None] = [clean_number_text(v) for v in arr[at]]
        if len(at) < len(arr):
            cleaned.append(None)  # the column as a whole has missing cells: parse it as such
        parsed = pd.to_numeric(pd.Series(cleaned), errors="coerce").to_numpy(dtype=float)
        parsed = parsed[: len(at)]
        value[at] = parsed
        invalid[at[np.isnan(parsed)]] = True
        long = [
            i
            for i, c, v in zip(at.tolist(), cleaned, parsed.tolist(), strict=False)
            if c and not _round_trips(c, v)
        ]
    else:
        long = []
    value[invalid] = np.nan
    index = s.index
    long_text = None
    if long:
        texts = np.full(len(arr), None, dtype=object)
        for i in long:
            texts[i] = clean_number_text(arr[i])
        long_text = pd.Series(texts, index=index, dtype=object)
    return (
        pd.Series(value, index=index),
        pd.Series(kinds == BLANK, index=index),
        pd.Series(invalid, index=index),
        pd.Series(text & ~invalid, index=index),
        long_text,
    )


def _round_trips(text: str, value: float) -> bool:
    """Whether the double read from a number text shows, at 15 significant digits, exactly the
    decimal the text shows (false for more digits, and for values beyond the double's range)."""
    if value != value or value in (float("inf"), float("-inf")):
        return False
    return Decimal(text) == Decimal(f"{value:.14e}")


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


_KIND_CODE = {"blank": BLANK, "number": NUMBER, "text": TEXT, "other": OTHER}


def show_values(values: Any) -> np.ndarray:
    """`show` of every value (an object array of str), looking at each type once: only the
    strings are stripped in bulk; numbers and other values go through `show` one by one."""
    arr = _objects(values)
    out = np.empty(len(arr), dtype=object)
    kinds = np.fromiter(map(_TYPE_KIND.get, map(type, arr), repeat(UNKNOWN)), np.int8, len(arr))
    strs = kinds == TEXT
    if strs.any():
        out[strs] = _array(map(str.strip, arr[strs]), int(strs.sum()))
    out[kinds == BLANK] = ""
    rest = np.flatnonzero(~strs & (kinds != BLANK))
    if len(rest):
        out[rest] = _array(map(show, arr[rest]), len(rest))
    return out


def show(v: Any) -> str:
    """A raw cell value as a clerk would recognise it in a message ('' for blank)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float):
        return fmt_number(v)  # as Excel shows it: 15 significant digits
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


def fmt_exact(v: float) -> str:
    """A computed figure at full precision: the shortest text that reads back as the same
    double (for the nearest double of an exact decimal of up to 15 digits, that decimal
    itself), no exponent, integers without '.0'; '' for NaN."""
    if v is None or np.isnan(v):
        return ""
    text = repr(float(v))
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text in ("-0", "0") else text


def fmt_fixed(v: float, decimals: int) -> str:
    """A rounded score with exactly `decimals` places, '' for NaN."""
    if v is None or np.isnan(v):
        return ""
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text
