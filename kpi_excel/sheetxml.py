"""A streaming scan of one worksheet's XML, before python-calamine parses it.

calamine builds a dense grid from A1 to the farthest cell holding a value (one value at
XFD1048576 makes it ask for hundreds of gigabytes and abort the process), and reads a formula
without a cached value or an error cell (`#DIV/0!`) as ''. This scan records the farthest cell
holding a value (from `r`, or by position when `r` is missing), the number of cells, formulas
without a value, error cells, hidden rows and columns and merged ranges, and raises
`SheetLimit` as soon as a limit is passed. Only cells with a value count towards the limits: a
declared `<dimension>` and styled empty cells (`<c r="XFD1" s="3"/>`, as LibreOffice writes a
formatted row) are not read by calamine and cannot sink a sheet. Each chunk
is cut before its last cell, so segments hold whole cells; a segment without error cells, cells
lacking `r` or formulas lacking a cached value needs only a few regex passes (C speed) and counts
that prove the passes saw every cell; the others a tag walk. Given the workbook's percent, date
and time styles (numfmt.py), it also records the cells holding a value in one of them: one
more regex pass per segment, only for a workbook that has such styles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import itemgetter

MAX_ROW_ELEMENTS = 1_048_576  # Excel's last row: a sheet cannot hold more <row> elements
MAX_CARRY = 1 << 20  # bytes kept between chunks while waiting for a cell to end
MAX_MERGES = 10_000  # merged ranges kept (more are counted, not kept)
MAX_STYLED_RUNS = 1_000_000  # runs of percent/date cells kept (the rest are not recorded)

_END = rb"(?=[\s/>])"
_ANY_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"  # x:c as well as c


class _Patterns:
    """The element patterns for one namespace prefix. Without a prefix each starts with a
    literal, which Python's re searches several times faster."""

    def __init__(self, p: bytes) -> None:
        self.row = re.compile(rb"<" + p + rb"row" + _END + rb"([^>]*)>")
        self.open = re.compile(rb"<" + p + rb"c" + _END)
        # greedy: the last r= of a tag, as calamine takes it when a tag repeats the attribute
        self.ref = re.compile(rb"<" + p + rb"c\s[^>]*(?<![\w:])r\s*=\s*[\"']([A-Za-z]+)(\d+)[\"']")
        self.formula = re.compile(rb"<" + p + rb"f" + _END)
        self.empty = re.compile(rb"<" + p + rb"c\s[^>]*/>")  # a cell without content
        self.token = re.compile(rb"<(/?)" + p + rb"(row|c|f|v|is)" + _END + rb"([^>]*)>([^<]*)")
        self.col = re.compile(rb"<" + p + rb"col" + _END + rb"([^>]*)>")
        self.merge = re.compile(
            rb"<" + p + rb"mergeCell" + _END + rb"[^>]*?\bref\s*=\s*[\"']([^\"']+)[\"']"
        )


_PLAIN = _Patterns(b"")
_ANY = _Patterns(_ANY_PREFIX)
_PREFIXED = re.compile(rb":(?:c|row|f|v|is|col|mergeCell)[\s/>]")
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet" + _END)
_ERROR_TYPE = re.compile(rb"(?<![\w:])t\s*=\s*[\"']e[\"']")
_ATTR_R = re.compile(rb"(?<![\w:])r\s*=\s*[\"']([^\"']*)[\"']")
_ATTR_T = re.compile(rb"(?<![\w:])t\s*=\s*[\"']([^\"']*)[\"']")
_ATTR_S = re.compile(rb"(?<![\w:])s\s*=\s*[\"']\s*(\d{1,9})\s*[\"']")
_NUMBER_TYPES = (b"n", b"d")  # a cell without `t` is a number too
_ATTR_MIN = re.compile(rb"\bmin\s*=\s*[\"'](\d{1,9})[\"']")
_ATTR_MAX = re.compile(rb"\bmax\s*=\s*[\"'](\d{1,9})[\"']")
_HIDDEN = re.compile(rb"\bhidden\s*=\s*[\"'](?:1|true)[\"']")
_REF = re.compile(rb"^\$?([A-Za-z]+)\$?(\d+)$")
_TOO_FAR = 1 << 40


def _show(raw: bytes) -> str:
    return raw[:20].decode("utf-8", "replace")


# A cell as Excel, openpyxl and XlsxWriter write it: `<c r="B7"` first, no namespace prefix, and
# no other "r" in the rest of its tag (so no second `r` attribute: this ref is the one `ref` takes;
# a tag like `<c r="B7" t="str">` just sends the segment down the general path).
_QUICK_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,9})"[^>r]*>')
_ODD_OPEN = re.compile(rb"<c[\t\n\r\x0b\x0c/>]")  # a cell start tag not followed by a space
# The quick refs of the cells with content (not `<c r="D1" s="3"/>`, a styled empty cell): the
# cells that may hold a value.
_QUICK_VALUED = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,9})"[^>r]*(?<!/)>')


_digits = itemgetter(1)


def _quick_refs(seg: bytes) -> list[tuple[bytes, bytes]] | None:
    """The refs of a segment's cells, as `_Patterns.ref` gives them, when every cell start tag
    of the segment has the quick form (the counts prove it), else None."""
    refs = _QUICK_REF.findall(seg)
    if seg.count(b"<c ") != len(refs) or _ODD_OPEN.search(seg):
        return None
    return refs


# A formula cell as Excel saves it: a plain cell (see _QUICK_REF), its <f> (or <f .../>), then one
# <v> holding a non-blank cached value, then </c>. The walk would record nothing for it.
_VALUED_FORMULA = re.compile(
    rb'<c r="[A-Z]{1,3}[0-9]{1,9}"[^>r]*><f(?:\s[^>]*)?(?:/>|>[^<]*</f>)<v>[^<]*?\S[^<]*</v></c>'
)


_WALK, _VALUED, _PLAIN_CELLS = "walk", "valued", "plain"


def _content(seg: bytes, rx: _Patterns) -> str:
    """How much the cells' content matters. _WALK: error cells, or formulas that may lack a
    cached value: the tag walk must see them. _VALUED: formulas, each in a cell of the saved form
    above (the counts prove it), so the walk would record none of them. _PLAIN_CELLS: neither."""
    if (b'"e"' in seg or b"'e'" in seg) and _ERROR_TYPE.search(seg):
        return _WALK
    if not rx.formula.search(seg):
        return _PLAIN_CELLS
    if rx is _PLAIN and len(rx.formula.findall(seg)) == len(_VALUED_FORMULA.findall(seg)):
        return _VALUED
    return _WALK


class SheetLimit(Exception):
    """A worksheet passes a limit; `args[0]` is the Chinese reason."""


@dataclass
class SheetScan:
    part: str
    name: str = ""
    max_row: int = 0
    max_col: int = 0
    far_row: str = ""  # the cell that set max_row, e.g. A100001
    far_col: str = ""
    cells: int = 0
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, col): no cached value
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> '#N/A'
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: list[tuple[int, int]] = field(default_factory=list)  # (first, last)
    merged: list[str] = field(default_factory=list)  # 'A1:B1'
    # the workbook's cell styles (a cell's `s`) shown as a percentage, date or time: (kind, code)
    formats: dict[int, tuple[str, str]] = field(default_factory=dict)
    # column -> runs [first row, last row, style] of the cells with a number in one of them
    styled: dict[int, list[list[int]]] = field(default_factory=dict)

    def col_hidden(self, col: int) -> bool:
        return any(a <= col <= b for a, b in self.hidden_cols)


def col_number(letters: bytes | str) -> int:
    """'A' -> 1, 'XFD' -> 16384; anything longer than 3 letters is beyond every limit."""
    if isinstance(letters, str):
        letters = letters.encode()
    if len(letters) > 3:
        return _TOO_FAR
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def col_letters(n: int) -> str:
    out = ""
    while n > 0 and len(out) < 8:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out or "?"


def parse_ref(ref: bytes | str) -> tuple[int, int] | None:
    """'B7' -> (7, 2); None if not a cell reference."""
    if isinstance(ref, str):
        ref = ref.encode()
    m = _REF.match(ref.strip())
    if not m or len(m.group(2)) > 12:
        return None
    return int(m.group(2)), col_number(m.group(1))


class SheetScanner:
    """Feed the raw chunks of one worksheet part, then call close()."""

    def __init__(
        self,
        scan: SheetScan,
        limits: dict[str, int],
        styles: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        self.s = scan
        self.lim = limits
        scan.formats = styles or {}
        self.style_rx: re.Pattern[bytes] | None = None
        self.style_prefixed = False
        self.runs = 0
        self.buf = b""
        self.prefix: bytes | None = None
        self.row = 0  # current row number (from r, or counting <row> elements)
        self.col = 0  # column of the last cell seen in the current row
        self.cur: list | None = None  # open cell: [row, col, type, has_formula, value, inline]
        self.rows_seen = 0
        self.rx = _PLAIN

    def feed(self, chunk: bytes) -> None:
        buf = self.buf + chunk
        if self.prefix is None:
            m = _ROOT.search(buf)
            if m is None and len(buf) < 8192:
                self.buf = buf
                return
            self.prefix = (m.group(1) or b"") if m else b""
            if self.prefix:
                self.rx = _ANY
        cut, fallback = self._cut(buf)
        if cut <= 0:
            self.buf = buf
            return
        self.buf = buf[cut:]
        self._segment(buf[:cut], fallback)

    def close(self) -> SheetScan:
        if self.buf:
            self._segment(self.buf, True)
            self.buf = b""
        self._cell_end()
        self._check()
        return self.s

    def _cut(self, buf: bytes) -> tuple[int, bool]:
        """Where to end this segment: just before the last cell or row start, so that every cell
        in it is whole; else before the last tag (the walk then carries the open cell)."""
        p = b"<" + (self.prefix or b"")
        cut = max(buf.rfind(p + b"c "), buf.rfind(p + b"row"))
        cut = max(cut, buf.rfind(p + b"c>", max(cut, 0)))  # only after those: the same max
        if cut > 0:
            return cut, False
        lt = buf.rfind(b"<")
        if lt != 0:
            return (lt if lt > 0 else len(buf)), True  # text only: nothing to wait for
        if buf.find(b">") >= 0:
            return len(buf), True
        if len(buf) > MAX_CARRY:
            raise SheetLimit(f"工作表「{self._name()}」含有超过 1 MB 的单个 XML 标记,文件异常")
        return 0, False

    def _segment(self, seg: bytes, fallback: bool) -> None:
        s, rx = self.s, self.rx
        if rx is _PLAIN and b":" in seg and _PREFIXED.search(seg):
            self.rx = rx = _ANY  # prefixed elements: from now on, match any prefix
        if b"col" in seg:
            self._cols(seg)
        if b"mergeCell" in seg:
            for m in rx.merge.finditer(seg):
                if len(s.merged) < MAX_MERGES:
                    s.merged.append(m.group(1).decode("ascii", "replace"))
        content = _content(seg, rx) if not fallback and self.cur is None else _WALK
        empties = b"/>" in seg and rx.empty.search(seg) is not None
        if content == _VALUED:
            refs = _quick_refs(seg)
            if refs and self._as_walked(seg, refs, empties):
                self._styled(seg)
                self._check()
                return
        elif content == _PLAIN_CELLS:
            quick = _quick_refs(seg) if rx is _PLAIN else None
            if quick is not None:
                refs, opened = quick, len(quick)
            elif empties:  # the walk tells the cells with a value from the empty ones
                refs, opened = [], -1
            else:
                refs = rx.ref.findall(seg)
                opened = len(rx.open.findall(seg))
            if opened == len(refs):
                self._rows(rx.row.findall(seg))
                if refs:
                    s.cells += opened
                    valued = _QUICK_VALUED.findall(seg) if empties else refs
                    if valued:
                        self._extend_refs(valued)
                    self.col = col_number(refs[-1][0])
                    self._styled(seg)
                self._check()
                return
        self._walk(seg)
        self._check()

    def _as_walked(self, seg: bytes, refs: list[tuple[bytes, bytes]], empties: bool) -> bool:
        """Account for a segment whose cells all have the quick form and whose formulas all have
        cached values exactly as `_walk` would (rows one by one, the first cell reaching a new
        farthest row or column, `self.col`), without walking its tags; False (nothing done) when
        its last cell is not closed, as the walk would then carry it into the next segment."""
        last = seg.rfind(b"<c ")
        end = seg.find(b">", last)
        if end < 0 or (seg[end - 1 : end] != b"/" and seg.find(b"</c>", end) < 0):
            return False
        rows = list(self.rx.row.finditer(seg))
        for m in rows:
            self._row_start(m.group(1))
        s = self.s
        s.cells += len(refs)
        valued = _QUICK_VALUED.findall(seg) if empties else refs
        if valued:
            letters, digits = zip(*valued, strict=True)
            cols = {a: col_number(a) for a in set(letters)}
            numbers = {b: int(b) for b in set(digits)}
            col, row = max(cols.values()), max(numbers.values())
            if col > s.max_col:
                i = min(letters.index(a) for a, n in cols.items() if n == col)
                s.max_col, s.far_col = col, f"{col_letters(col)}{numbers[digits[i]]}"
            if row > s.max_row:
                i = min(digits.index(b) for b, n in numbers.items() if n == row)
                s.max_row, s.far_row = row, f"{col_letters(cols[letters[i]])}{row}"
        self.col = 0 if rows and rows[-1].start() > last else col_number(refs[-1][0])
        return True

    def _cols(self, seg: bytes) -> None:
        for m in self.rx.col.finditer(seg):
            if _HIDDEN.search(m.group(1)):
                lo, hi = _ATTR_MIN.search(m.group(1)), _ATTR_MAX.search(m.group(1))
                if lo:
                    first = int(lo.group(1))
                    self.s.hidden_cols.append(
                        (first, min(int(hi.group(1)) if hi else first, 16384))
                    )

    def _walk(self, seg: bytes) -> None:
        for m in self.rx.token.finditer(seg):
            close, name, attrs, text = m.groups()
            if name == b"row":
                if not close:
                    self._cell_end()
                    self._row_start(attrs)
            elif name == b"c":
                self._cell_end()
                if not close:
                    self._cell_start(attrs)
            elif self.cur is not None and not close:
                if name == b"f":
                    self.cur[3] = True
                elif name == b"is":  # an inline string: a value
                    self.cur[5] = True
                else:  # <v>text or <v/>
                    value = b"" if attrs.rstrip().endswith(b"/") else text
                    self.cur[4] = value if self.cur[4] is None else self.cur[4] + value

    def _rows(self, rows: list[bytes]) -> None:
        """The <row> start tags of a segment whose cells all carry `r`: only hidden rows matter,
        and the current row number for what follows."""
        if not rows:
            return
        if any(b"hidden" in a for a in rows):
            for attrs in rows:
                self._row_start(attrs)
            return
        self.rows_seen += len(rows) - 1
        self._row_start(rows[-1])
        if not _ATTR_R.findall(rows[-1]):
            self.row += len(rows) - 1  # rows without r count on from the previous one

    def _row_start(self, attrs: bytes) -> None:
        self.rows_seen += 1
        if self.rows_seen > MAX_ROW_ELEMENTS:
            raise SheetLimit(
                f"工作表「{self._name()}」的行记录超过 {MAX_ROW_ELEMENTS:,} 个,文件异常"
            )
        r = _ATTR_R.findall(attrs)
        if r and not r[-1].isdigit():
            raise SheetLimit(f"工作表「{self._name()}」的行号「{_show(r[-1])}」无法识别,文件异常")
        self.row = int(r[-1]) if r else self.row + 1
        self.col = 0
        if _HIDDEN.search(attrs) and self.row <= self.lim["max_rows"]:
            self.s.hidden_rows.add(self.row)

    def _cell_start(self, attrs: bytes) -> None:
        self.s.cells += 1
        r = _ATTR_R.findall(attrs)
        pos = parse_ref(r[-1]) if r else None
        if r and pos is None:
            raise SheetLimit(
                f"工作表「{self._name()}」的单元格引用「{_show(r[-1])}」无法识别,文件异常"
            )
        row, col = pos if pos else (max(self.row, 1), self.col + 1)
        self.col = col
        if not attrs.rstrip().endswith(b"/"):  # a self-closed cell holds no value
            t = _ATTR_T.findall(attrs)
            self.cur = [row, col, t[-1] if t else b"n", False, None, False]
            if self.s.formats:
                self._style(row, col, attrs, t)

    def _styled(self, seg: bytes) -> None:
        """Record the cells of a segment whose cells all carry `r` (the quick paths) that hold
        a value in a percent, date or time style: one regex pass, for their start tags only."""
        if not self.s.formats:
            return
        if self.style_rx is None or (self.rx is _ANY) != self.style_prefixed:
            wanted = b"|".join(str(i).encode() for i in sorted(self.s.formats))
            p = _ANY_PREFIX if self.rx is _ANY else b""
            if 0 in self.s.formats:  # the default style: a cell without `s` has it too
                self.style_rx = re.compile(rb"<" + p + rb"c\s([^>]*)>")
            else:
                self.style_rx = re.compile(
                    rb"<" + p + rb"c\s([^>]*?(?<![\w:])s\s*=\s*[\"']\s*(?:" + wanted
                    + rb")\s*[\"'][^>]*)>"
                )  # fmt: skip
            self.style_prefixed = self.rx is _ANY
        for m in self.style_rx.finditer(seg):
            attrs = m.group(1)
            if attrs.rstrip().endswith(b"/"):
                continue  # no value
            r = _ATTR_R.findall(attrs)
            pos = parse_ref(r[-1]) if r else None
            if pos is not None:
                self._style(pos[0], pos[1], attrs, _ATTR_T.findall(attrs))

    def _style(self, row: int, col: int, attrs: bytes, t: list[bytes]) -> None:
        """Record one cell (with a value) if its style is a percent, date or time one and it
        holds a number (not text, a boolean or an error); a run per column of such rows."""
        if t and t[-1] not in _NUMBER_TYPES:
            return
        found = _ATTR_S.findall(attrs)
        style = int(found[-1]) if found else 0
        if style not in self.s.formats:
            return
        runs = self.s.styled.setdefault(col, [])
        if runs and runs[-1][1] == row - 1 and runs[-1][2] == style:
            runs[-1][1] = row
        elif self.runs < MAX_STYLED_RUNS:
            self.runs += 1
            runs.append([row, row, style])

    def _cell_end(self) -> None:
        if self.cur is None:
            return
        row, col, kind, has_formula, value, inline = self.cur
        self.cur = None
        if value is not None or inline:  # a value calamine reads: the cell counts to the limits
            s = self.s
            if row > s.max_row:
                s.max_row, s.far_row = row, f"{col_letters(col)}{row}"
            if col > s.max_col:
                s.max_col, s.far_col = col, f"{col_letters(col)}{row}"
        if kind == b"e":
            self.s.errors[(row, col)] = (
                (value or b"#VALUE!").strip()[:40].decode("utf-8", "replace")
            )
        elif has_formula and (value is None or (not value.strip() and kind != b"str")):
            self.s.formulas.add((row, col))

    def _extend_refs(self, refs: list[tuple[bytes, bytes]]) -> None:
        s = self.s
        cols = dict(refs)  # each column's letters once (C speed)
        col = max(map(col_number, cols))
        row = max(map(int, set(map(_digits, refs))))
        if col > s.max_col:
            s.max_col = col
            s.far_col = next((a + b).decode() for a, b in refs if col_number(a) == col)
        if row > s.max_row:
            s.max_row = row
            s.far_row = next((a + b).decode() for a, b in reversed(refs) if int(b) == row)

    def _name(self) -> str:
        return self.s.name or self.s.part

    def _check(self) -> None:
        s, lim, name = self.s, self.lim, self._name()
        if s.max_row > lim["max_rows"]:
            raise SheetLimit(
                f"工作表「{name}」的单元格 {s.far_row} 位于第 {s.max_row:,} 行,"
                f"超过上限 {lim['max_rows']:,} 行"
            )
        if s.max_col > lim["max_columns"]:
            raise SheetLimit(
                f"工作表「{name}」的单元格 {s.far_col} 位于第 {s.max_col:,} 列,"
                f"超过上限 {lim['max_columns']:,} 列"
            )
        if s.max_row * s.max_col > lim["max_cells"]:
            raise SheetLimit(
                f"工作表「{name}」有数据的区域 A1:{col_letters(s.max_col)}{s.max_row}"
                f"({s.max_row * s.max_col:,} 个单元格)超过上限 {lim['max_cells']:,} 个单元格"
            )
