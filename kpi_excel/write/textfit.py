"""How much room text takes in a cell: its width in Excel column units, the lines it wraps to in a
column of known width, and the row height that shows them all.

XlsxWriter cannot autofit, and LibreOffice keeps the height a row is written with (Excel only
refits rows it is told nothing about, and not when it prints), so every writer sets the height
of a row that holds wrapped text from these measurements.

Widths are Excel's column units: the width of a digit of the workbook's font (Calibri 11 pt,
7 px). A full-width character (East Asian Width W or F: Chinese characters, full-width
punctuation) is drawn from a CJK font at 11 pt, about 15 px: 2.15 units. Narrow characters are
taken at 1.1 units, a little more than Calibri's digits, because LibreOffice without Carlito
draws Calibri text in a wider font (DejaVu Sans); punctuation, capitals and a few broad letters
have widths of their own (ASCII_WIDTHS). A column of width w leaves its text 7w + 2 px in Excel, so
a line holds w units. The figures are upper bounds checked with LibreOffice 7.4 (with Carlito,
as on Windows, and without it; WenQuanYi Micro Hei) and Excel's Calibri: text is never
predicted to take fewer lines than it does, at the price of a little spare room under some rows.

Lines are broken as spreadsheet programs break them (Unicode line breaking, UAX #14, in brief):
between two Chinese characters, after a space, never inside a run of letters and digits
(`99.12%`, `A14-2-DEPOSIT3M`), never before closing punctuation (`,` `)` `」` `%`) nor after
opening punctuation or a sign (`(` `「` `±` `¥`); a run longer than a line is cut anywhere.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

# Widths in hundredths of a column unit (integers: exact sums).
WIDE = 215  # a full-width character
AMBIGUOUS = 150  # East Asian "ambiguous" punctuation and signs (± × ≥ “ ”): narrow in Calibri
NARROW = 110  # digits, most lowercase letters, other narrow characters
# ASCII characters narrower or wider than a digit (the larger of Calibri's and DejaVu Sans's)
ASCII_WIDTHS = {75: " !'(),-./:;[\\]`{|}Iijlfrt", 140: "ABCDEFGHJKLNOPQRSTUVXYZ&", 180: "MWmw%@"}
FIT_MARGIN = 0.5  # column units to spare when a column is fitted to its longest text
LINE_POINTS = 15.5  # one line of 11-point text: 15 in Excel (Calibri), 13.4 to 15.4 in LibreOffice
ROW_PADDING = 3.0  # points above and below the lines of a row
DEFAULT_ROW = 15.0  # Excel's default row height (one line of 11-point text)
MAX_ROW = 409.5  # Excel's tallest row; shorter than a printed A4 page under its header rows
MAX_LINES = int((MAX_ROW - ROW_PADDING) // LINE_POINTS)  # lines a row can show

_SPACE, _NO_START, _NO_END, _BREAKS_AROUND = 1, 2, 4, 8
# Closing marks that never start a line, opening marks and signs that never end one.
_CLOSING = set(",.:;!?%)]}»›、。，．：；！？％）］｝」』】〕〉》〗〙〛”’…‥〜～ー")
_OPENING = set("([{«‹（［｛「『【〔〈《〖〘〚“‘±+$¥£€＄￥＋")


CALIBRI, SIMSUN = "calibri", "simsun"  # the fonts text is measured for (see ASCII_WIDTHS)


@functools.cache
def _tables(font: str = CALIBRI) -> tuple[np.ndarray, np.ndarray]:
    """(width, line-break class) of every character of the Basic Multilingual Plane, and one
    entry more for all characters beyond it. In 宋体 (SimSun) every ASCII character is half a
    Chinese character wide: none is narrower than a digit."""
    widths = [NARROW] * 0x10000
    kinds = [0] * 0x10000
    eaw, category = unicodedata.east_asian_width, unicodedata.category
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        wide = eaw(ch)
        if wide in ("W", "F"):
            widths[cp], kinds[cp] = WIDE, _BREAKS_AROUND
        elif wide == "A":
            # Circled numbers, box drawing and shapes are drawn from the CJK font.
            widths[cp] = WIDE if cp >= 0x2460 else AMBIGUOUS
        elif category(ch) in ("Mn", "Me", "Cf", "Cc", "Cs"):
            widths[cp] = 0  # combining marks, format and control characters take no room
    for cp in range(0x20):
        widths[cp] = 0
    for width, chars in ASCII_WIDTHS.items():
        for ch in chars:
            widths[ord(ch)] = max(width, NARROW) if font == SIMSUN else width
    for cp in range(0x10000):
        ch = chr(cp)
        if ch.isspace():
            kinds[cp] |= _SPACE
    for ch in _CLOSING:
        kinds[ord(ch)] |= _NO_START
    for ch in _OPENING:
        kinds[ord(ch)] |= _NO_END
    for cp in range(0x2000, 0x3100):  # general and CJK punctuation: opening and closing marks
        cat = category(chr(cp))
        if cat in ("Pe", "Pf"):
            kinds[cp] |= _NO_START
        elif cat in ("Ps", "Pi"):
            kinds[cp] |= _NO_END
    widths.append(WIDE)  # one more entry for every character beyond the BMP (emoji, rare CJK)
    kinds.append(_BREAKS_AROUND)
    return np.array(widths, dtype=np.int16), np.array(kinds, dtype=np.uint8)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _measure(
    texts: Sequence[str], font: str = CALIBRI
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For `texts` joined by line feeds: the cumulative widths before each position, where a
    line may break (the last break position at or before each position), each paragraph's
    (start, end) and the text each paragraph belongs to."""
    joined = "\n".join(texts)
    cps = _code_points(joined)
    widths, kinds = _tables(font)
    index = np.minimum(cps, 0x10000)
    k = kinds[index]
    cum = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(widths[index], out=cum[1:])
    n = len(cps)
    # may a line break before position i (i >= 1)?
    brk = np.zeros(n, dtype=bool)
    if n > 1:
        prev, cur = k[:-1], k[1:]
        around = ((prev | cur) & _BREAKS_AROUND) != 0
        after_space = (prev & _SPACE) != 0
        brk[1:] = (
            (around | after_space) & ((cur & (_NO_START | _SPACE)) == 0) & ((prev & _NO_END) == 0)
        )
    last_break = np.maximum.accumulate(np.where(brk, np.arange(n), -1)) if n else brk
    lf = np.flatnonzero(cps == 0x0A)
    starts = np.concatenate(([0], lf + 1))
    ends = np.concatenate((lf, [n]))
    text_ends = np.cumsum([len(t) + 1 for t in texts]) - 1  # position of each separator
    owner = np.searchsorted(text_ends, starts, side="left")
    return cum, last_break, np.stack([starts, ends], axis=1), owner


def line_counts(texts: Sequence[str], width: float, font: str = CALIBRI) -> list[int]:
    """How many lines each text takes when wrapped in a column `width` units wide (at least 1;
    each line feed starts a new line)."""
    if not texts:
        return []
    cap = max(int(round(width * 100)), WIDE)
    cum, last_break, bounds, owner = _measure(texts, font)
    start, end = bounds[:, 0], bounds[:, 1]
    lines = np.ones(len(owner), dtype=np.int64)
    # Every paragraph that does not fit is wrapped a line at a time, all of them at once: the
    # characters s..e-1 fit on a line, which breaks at the last chance up to e (or at e when
    # there is none: a run longer than the line is cut).
    active = np.flatnonzero(cum[end] - cum[start] > cap)
    s, stop = start[active], end[active]
    while len(active):
        e = np.minimum(np.searchsorted(cum, cum[s] + cap, side="right") - 1, stop)
        b = last_break[np.minimum(e, len(last_break) - 1)]
        s = np.where(b > s, b, np.maximum(e, s + 1))
        lines[active] += 1
        more = cum[stop] - cum[s] > cap
        active, s, stop = active[more], s[more], stop[more]
    return np.bincount(owner, weights=lines, minlength=len(texts)).astype(np.int64).tolist()


def text_widths(texts: Sequence[str], font: str = CALIBRI) -> list[float]:
    """The width of each text in column units: its longest line, unwrapped."""
    if not texts:
        return []
    cum, _, bounds, owner = _measure(texts, font)
    widths = cum[bounds[:, 1]] - cum[bounds[:, 0]]
    out = np.zeros(len(texts), dtype=np.int64)
    np.maximum.at(out, owner, widths)
    return (out / 100).tolist()


def fit_width(texts: Iterable[str], minimum: float, maximum: float, font: str = CALIBRI) -> float:
    """A column width that shows the longest of `texts` on one line, within [minimum, maximum]."""
    texts = [t for t in texts if t]
    widest = max(text_widths(texts, font), default=0.0) + FIT_MARGIN
    return round(min(maximum, max(minimum, widest)), 2)


def number_texts(values: Iterable[float], decimals: int | None, percent: bool = False) -> list[str]:
    """The widest texts Excel shows for `values` (floats; NaN for blank) in a format of
    `decimals` places (`0.00`, `0.00%` with `percent`), or General (None: up to 11 characters):
    with fixed places, those of the largest and the smallest value."""
    finite = [v for v in values if v == v and v not in (math.inf, -math.inf)]
    if not finite:
        return []
    if decimals is None:
        return [f"{v:.10G}" for v in finite]
    scale, sign = (100, "%") if percent else (1, "")
    return [f"{v * scale:.{decimals}f}{sign}" for v in (max(finite), min(finite))]


def height_of(lines: int) -> float | None:
    """The row height of `lines` lines of 11-point text, at most MAX_ROW; None for one (the
    default height)."""
    return min(LINE_POINTS * lines + ROW_PADDING, MAX_ROW) if lines > 1 else None


def widen(texts: Sequence[str], width: float, maximum: float, font: str = CALIBRI) -> float:
    """The width, from `width` up to `maximum`, at which none of `texts` needs more than
    MAX_LINES lines (a row cannot be taller): `width` itself for the usual texts, more for a
    column holding a very long one. Only a text too long even at `maximum` is cut."""
    texts = [t for t in texts if t]
    if not texts:
        return width
    while width < maximum:
        most = max(line_counts(texts, width, font))
        if most <= MAX_LINES:
            break
        width = min(maximum, max(width + 2, round(width * most / MAX_LINES)))
    return width


def row_heights(columns: Iterable[tuple[Sequence[str], float]], rows: int) -> list[float | None]:
    """The height of each of `rows` rows that shows every line of the given wrapped columns
    ((each row's text, '' for none; the column's width)); None where one line is enough."""
    most = [1] * rows
    for texts, width in columns:
        if len(texts) != rows:
            raise ValueError("row_heights: one text per row")
        at = [i for i, t in enumerate(texts) if t]
        for i, n in zip(at, line_counts([texts[i] for i in at], width), strict=True):
            if n > most[i]:
                most[i] = n
    return [height_of(n) for n in most]


def row_height(cells: Iterable[tuple[str, float]], font: str = CALIBRI) -> float | None:
    """The height of one row that shows every line of `cells` ((text, column width) pairs)."""
    most = 1
    for text, width in cells:
        if text:
            most = max(most, line_counts([text], width, font)[0])
    return height_of(most)
