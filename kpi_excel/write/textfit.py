"""How much room text takes in a cell: its width in Excel column units, the lines it wraps to in a
column of known width, and the row height that shows them all.

XlsxWriter cannot autofit, and LibreOffice keeps the height a row is written with, so every
writer sets the height of a row that holds wrapped text, and the width of a column that must
show its text on one line, from these measurements.

Widths are Excel's column units: the width of a digit of the workbook's font (Calibri 11 pt,
7 px). A full-width character (East Asian Width W or F, from the standard library's
`unicodedata`: Chinese characters, full-width punctuation) is drawn from a CJK font at 11 pt,
about 15 px: 2.15 units. Narrow characters are
taken at 1.1 units, a little more than Calibri's digits, because LibreOffice without Carlito
draws Calibri text in a wider font (DejaVu Sans); punctuation, capitals and a few broad letters
have widths of their own (ASCII_WIDTHS). A column of width w leaves its text 7w + 2 px in Excel, so
a line holds w units. The figures are upper bounds, computed from Excel's pixel sizes and
checked against LibreOffice 7.4's own row heights (with Carlito, as on Windows, and without it;
WenQuanYi Micro Hei) for the texts the outputs hold at every width they use: text is never
predicted to take fewer lines than it does, at the price of some spare room under rows in
LibreOffice, whose columns are a little wider and lines a little shorter than Excel's.

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
PIXEL = 0.75  # points: rows are whole pixels high (96 per inch)
MAX_ROW = 409.5  # Excel's tallest row; shorter than a printed A4 page under its header rows
MAX_LINES = int((MAX_ROW - ROW_PADDING) // LINE_POINTS)  # lines a row can show
# Characters of a text that are measured: more than MAX_LINES lines of the widest column of
# the narrowest characters (a row cannot show the rest), and memory stays small whatever a
# branch typed (a cell holds up to 32,767).
MEASURED = 5000

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


# Texts measured in one pass at most: the arrays of a pass take about 40 bytes per character, so
# a bank's summary (a million texts) is measured in blocks rather than in one go of gigabytes.
MEASURE_CHUNK = 20_000


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _measure(
    texts: Sequence[str], font: str = CALIBRI, breaks: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
    """For `texts` joined by line feeds: the cumulative widths before each position; with
    `breaks`, where a line may break (the last break position at or before each position);
    each paragraph's start and end, and the text each paragraph belongs to."""
    cps = _code_points("\n".join(t[:MEASURED] for t in texts))
    widths, kinds = _tables(font)
    index = np.minimum(cps, 0x10000)
    n = len(cps)
    cum = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(widths[index], out=cum[1:])
    last_break = None
    if breaks:  # may a line break before position i (i >= 1)?
        k = kinds[index]
        prev, cur = k[:-1], k[1:]
        brk = np.zeros(n, dtype=bool)
        brk[1:] = ((((prev | cur) & _BREAKS_AROUND) != 0) | ((prev & _SPACE) != 0)) & (
            ((cur & (_NO_START | _SPACE)) | (prev & _NO_END)) == 0
        )
        last_break = np.maximum.accumulate(np.where(brk, np.arange(n), -1)) if n else brk
    lf = np.flatnonzero(cps == 0x0A)
    starts = np.concatenate(([0], lf + 1))
    ends = np.concatenate((lf, [n]))
    text_ends = np.cumsum([min(len(t), MEASURED) + 1 for t in texts]) - 1  # each separator
    owner = np.searchsorted(text_ends, starts, side="left")
    return cum, last_break, starts, ends, owner


def line_counts(
    texts: Sequence[str], width: float | Sequence[float], font: str = CALIBRI
) -> list[int]:
    """How many lines each text takes when wrapped in a column `width` units wide (one width,
    or one per text); at least 1, and each line feed starts a new line."""
    if not texts:
        return []
    each = np.broadcast_to(np.asarray(width, dtype=float), (len(texts),))
    if len(texts) > MEASURE_CHUNK:  # each text's count is its own: measured a block at a time
        return [
            n
            for i in range(0, len(texts), MEASURE_CHUNK)
            for n in line_counts(texts[i : i + MEASURE_CHUNK], each[i : i + MEASURE_CHUNK], font)
        ]
    caps = np.maximum(np.round(each * 100).astype(np.int64), WIDE)
    cum, last_break, start, end, owner = _measure(texts, font)
    assert last_break is not None
    cap = caps[owner]  # of each paragraph
    lines = np.ones(len(owner), dtype=np.int64)
    # Every paragraph that does not fit is wrapped a line at a time, all of them at once: the
    # characters s..e-1 fit on a line, which breaks at the last chance up to e (or at e when
    # there is none: a run longer than the line is cut).
    active = np.flatnonzero(cum[end] - cum[start] > cap)
    s, stop, cap = start[active], end[active], cap[active]
    while len(active):
        e = np.minimum(np.searchsorted(cum, cum[s] + cap, side="right") - 1, stop)
        b = last_break[np.minimum(e, len(last_break) - 1)]
        s = np.where(b > s, b, np.maximum(e, s + 1))
        lines[active] += 1
        more = cum[stop] - cum[s] > cap
        active, s, stop, cap = active[more], s[more], stop[more], cap[more]
    return np.bincount(owner, weights=lines, minlength=len(texts)).astype(np.int64).tolist()


def text_widths(texts: Sequence[str], font: str = CALIBRI) -> list[float]:
    """The width of each text in column units: its longest line, unwrapped."""
    if not texts:
        return []
    if len(texts) > MEASURE_CHUNK:  # each text's width is its own: measured a block at a time
        return [
            w
            for i in range(0, len(texts), MEASURE_CHUNK)
            for w in text_widths(texts[i : i + MEASURE_CHUNK], font)
        ]
    cum, _, start, end, owner = _measure(texts, font, breaks=False)
    widths = cum[end] - cum[start]
    out = np.zeros(len(texts), dtype=np.int64)
    np.maximum.at(out, owner, widths)
    return (out / 100).tolist()


def fit_widths(
    columns: Sequence[tuple[Iterable[str], float, float]], font: str = CALIBRI
) -> list[float]:
    """For each column (its texts, the least and the most width): a width that shows its
    longest text on one line, within those bounds. All columns are measured at once."""
    texts: list[str] = []
    owner: list[int] = []
    for c, (column, _, _) in enumerate(columns):
        mine = [t for t in column if t]
        texts += mine
        owner += [c] * len(mine)
    widest = [0.0] * len(columns)
    for c, w in zip(owner, text_widths(texts, font), strict=True):
        if w > widest[c]:
            widest[c] = w
    return [
        round(min(maximum, max(minimum, w + FIT_MARGIN)), 2)
        for w, (_, minimum, maximum) in zip(widest, columns, strict=True)
    ]


def fit_width(texts: Iterable[str], minimum: float, maximum: float, font: str = CALIBRI) -> float:
    """A column width that shows the longest of `texts` on one line, within [minimum, maximum]."""
    return fit_widths([(texts, minimum, maximum)], font)[0]


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
    if lines <= 1:
        return None
    points = min(LINE_POINTS * lines + ROW_PADDING, MAX_ROW)
    return math.ceil(points / PIXEL) * PIXEL  # whole pixels: XlsxWriter rounds heights down


def wrap_rows(
    columns: Sequence[tuple[Sequence[str], float]], rows: int, maximum: float = 0.0
) -> tuple[list[float], list[float | None]]:
    """The widths and row heights of wrapped columns ((each row's text, '' for none; the
    column's width)): a column is widened, up to `maximum`, where one of its texts would need
    more than MAX_LINES lines (a row cannot be taller; only a text too long even at `maximum`
    is cut); each row as tall as its tallest text (None where one line is enough). All texts
    are measured at once."""
    texts: list[str] = []
    at: list[int] = []
    owner: list[int] = []
    widths = [float(width) for _, width in columns]
    for c, (column, _) in enumerate(columns):
        if len(column) != rows:
            raise ValueError("wrap_rows: one text per row")
        mine = [i for i, t in enumerate(column) if t]
        texts += [column[i] for i in mine]
        at += mine
        owner += [c] * len(mine)
    pending = list(range(len(texts)))  # the texts to measure (again)
    counts = [1] * len(texts)
    while pending:
        measured = line_counts([texts[j] for j in pending], [widths[owner[j]] for j in pending])
        most = [0] * len(columns)
        for j, n in zip(pending, measured, strict=True):
            counts[j] = n
            most[owner[j]] = max(most[owner[j]], n)
        wider = {
            c: min(maximum, max(widths[c] + 2, round(widths[c] * n / MAX_LINES)))
            for c, n in enumerate(most)
            if n > MAX_LINES and widths[c] < maximum
        }
        for c, w in wider.items():
            widths[c] = w
        pending = [j for j in pending if owner[j] in wider]
    tallest = [1] * rows
    for i, n in zip(at, counts, strict=True):
        if n > tallest[i]:
            tallest[i] = n
    return widths, [height_of(n) for n in tallest]


def widen(texts: Sequence[str], width: float, maximum: float) -> float:
    """The width, from `width` up to `maximum`, at which none of `texts` needs more than
    MAX_LINES lines (see wrap_rows)."""
    return wrap_rows([(texts, width)], len(texts), maximum)[0][0]


def row_heights(columns: Iterable[tuple[Sequence[str], float]], rows: int) -> list[float | None]:
    """The height of each of `rows` rows that shows every line of the given wrapped columns
    ((each row's text, '' for none; the column's width)); None where one line is enough."""
    return wrap_rows(list(columns), rows)[1]


def row_height(cells: Iterable[tuple[str, float]], font: str = CALIBRI) -> float | None:
    """The height of one row that shows every line of `cells` ((text, column width) pairs)."""
    cells = [(text, width) for text, width in cells if text]
    if not cells:
        return None
    counts = line_counts([t for t, _ in cells], [w for _, w in cells], font)
    return height_of(max(counts))
