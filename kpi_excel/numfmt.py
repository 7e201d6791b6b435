"""Number formats: which cells Excel shows as a percentage, a date or a time.

python-calamine reads a percent-formatted cell as the number it holds (5% typed into a cell is
0.05) and never says it was a percentage, so an amount typed as 5% would be read as 0.05 万元.
A cell's `s` attribute is an index into styles.xml's `cellXfs`; each `xf` names a number format
by `numFmtId`: a built-in one (9 and 10 are percentages; 14-22, 27-36, 45-47 and 50-58 dates and
times) or one of the workbook's own `numFmts`, classified here from its format code.

`cell_styles` reads styles.xml (as `guard._elements` gives its elements) into the styles whose
format is a percentage, a date or a time; the container scan then records the cells of those
styles (`sheetxml.SheetScanner`). `shown` renders a value as such a cell shows it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

PERCENT, DATE, TIME = "percent", "date", "time"
WORDS = {PERCENT: "百分比", DATE: "日期", TIME: "时间"}

# The built-in formats that are percentages, dates or times, with their codes (ECMA-376 Part 1,
# 18.8.30; 27-36 and 50-58 as the Chinese, Japanese and Korean editions of Excel define them).
_ZH_DATE = 'yyyy"年"m"月"d"日"'
_ZH_TIME = 'h"时"mm"分"ss"秒"'
BUILTIN: dict[int, str] = {
    9: "0%", 10: "0.00%",
    14: "m/d/yyyy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "m/d/yyyy h:mm",
    27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: "m-d-yy", 31: _ZH_DATE,
    32: 'h"时"mm"分"', 33: _ZH_TIME, 34: '上午/下午h"时"mm"分"', 35: '上午/下午h"时"mm"分"ss"秒"',
    36: 'yyyy"年"m"月"',
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mmss.0",
    50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
    55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"',
    58: 'm"月"d"日"',
}  # fmt: skip

# What a format code shows literally or only pads with: "text", \x, _x (a space as wide as x),
# *x (x repeated to fill the cell), and [...] (colours, conditions, locales) except the
# elapsed-time tokens [h] [mm] [ss], which are kept.
_LITERAL = re.compile(r'"[^"]*"?|\\.|_.|\*.|\[(?![hms]+\])[^\]]*\]?', re.IGNORECASE | re.DOTALL)
_NOT_TOKENS = re.compile(r"general|e[+-]|am/pm|a/p", re.IGNORECASE)
_CLOCK = re.compile(r"am/pm|a/p|\[[hms]+\]", re.IGNORECASE)  # a time of day, or elapsed time


def classify(code: str) -> str | None:
    """PERCENT, DATE or TIME for a format code that shows its number as such, else None.

    Date tokens (y, d, e, g, aaa, or m without h or s: a month) make a date; h, s, [h] and
    AM/PM without them a time; a % outside quotes, escapes and brackets a percentage."""
    bare = _LITERAL.sub(" ", code)
    clock = bool(_CLOCK.search(bare))
    letters = set(_NOT_TOKENS.sub(" ", bare).lower())
    if letters & set("ydega"):
        return DATE
    if clock or letters & set("hs"):
        return TIME
    if "m" in letters:
        return DATE  # mmm-yy without the y: a month
    if "%" in bare:
        return PERCENT
    return None


def _decimals(code: str) -> int:
    """The decimals a percent format shows: the digit places after its first '.'."""
    section = _LITERAL.sub(" ", code).split(";")[0]
    _, dot, tail = section.partition(".")
    if not dot:
        return 0
    return len(re.match(r"[0#?]*", tail).group(0))  # type: ignore[union-attr]


# The top-level sections of styles.xml: an `xf` counts only in cellXfs, a `numFmt` only in
# numFmts (dxfs hold numFmt elements of their own; cellStyleXfs hold xf elements).
_SECTIONS = frozenset(
    ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
     "tableStyles", "colors", "extLst")
)  # fmt: skip


_FORMAT_ID = re.compile(rb"numFmtId\s*=\s*[\"']\s*(\d+)")
_PLAIN_IDS = frozenset((*range(9), 11, 12, 13, *range(37, 45), 48, 49))  # numbers and text


def may_have_styles(xml: bytes) -> bool:
    """Whether a styles part names any number format other than the built-in number and text
    ones (a quick look at the bytes: when not, no cell can be a percentage, date or time)."""
    return any(int(i) not in _PLAIN_IDS for i in set(_FORMAT_ID.findall(xml)))


def cell_styles(elements: list[tuple[str, dict[str, str]]]) -> dict[int, tuple[str, str]]:
    """Style index (a cell's `s`) -> (kind, format code) of every cell style whose number
    format is a percentage, a date or a time, from styles.xml's elements in document order."""
    codes: dict[int, str] = {}
    xfs: list[str] = []  # each cellXfs xf's numFmtId, in order
    section = ""
    for tag, attrs in elements:
        if tag in _SECTIONS:
            section = tag
        elif tag == "numFmt" and section == "numFmts":
            fmt_id = _int(attrs.get("numFmtId"))
            if fmt_id is not None:
                codes[fmt_id] = attrs.get("formatCode", "")
        elif tag == "xf" and section == "cellXfs":
            xfs.append(attrs.get("numFmtId", "0"))
    kinds: dict[int, tuple[str, str] | None] = {}
    out: dict[int, tuple[str, str]] = {}
    for index, raw in enumerate(xfs):
        fmt_id = _int(raw)
        if fmt_id is None:
            continue
        if fmt_id not in kinds:
            code = codes.get(fmt_id, BUILTIN.get(fmt_id, ""))
            kind = classify(code) if code else None
            kinds[fmt_id] = (kind, code) if kind else None
        found = kinds[fmt_id]
        if found is not None:
            out[index] = found
    return out


def _int(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text)


_EPOCH = dt.datetime(1899, 12, 30)  # Excel's day 0 (1900 system, after its 1900-02-29)


def shown(value: Any, kind: str, code: str) -> str:
    """A cell's value as Excel shows it in a format of `kind`: 5.00% for 0.05 in 0.00%,
    2026-03-15 for a date (calamine's date, or the day number it did not take as one)."""
    if kind == PERCENT and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            places = Decimal(1).scaleb(-_decimals(code))
            percent = (Decimal(repr(float(value))) * 100).quantize(places, ROUND_HALF_UP)
        except (InvalidOperation, ValueError, OverflowError):
            return str(value)
        return f"{percent}%"
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            value = _EPOCH + dt.timedelta(days=float(value))
        except (OverflowError, ValueError):
            return str(value)
        if kind == TIME:
            value = value.time()
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


def is_date_value(value: Any) -> bool:
    """A value calamine read as a date, a time or a duration (the cell had such a format)."""
    return isinstance(value, dt.date | dt.time | dt.timedelta)


def is_time_value(value: Any) -> bool:
    """A time of day or a duration (not a date)."""
    return isinstance(value, dt.time | dt.timedelta)
