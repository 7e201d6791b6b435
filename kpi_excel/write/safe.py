"""Text from a branch is data, never code, in every output.

Every text that goes into an xlsx we write passes through this module, whichever writer renders
it (XlsxWriter's own calls, or `fastsheet.FastSheet`, which writes the very XML XlsxWriter does):

- `cell_text`: cells, comments, headers and footers. XlsxWriter escapes what XML cannot hold in
  those parts the way Excel does (a control character as `_x0007_`, U+FFFE/U+FFFF as `_xFFFE_`,
  and text that merely looks like such an escape, `_x0041_`, as `_x005F_x0041_`), and Excel,
  LibreOffice and calamine read the text back as typed; so the text is kept as it is. It only
  changes what no writer can hold (see there).
- `xml_text`: places where XlsxWriter does not escape those characters or Excel does not read
  `_xHHHH_` (document properties, data-validation prompts and lists): there, the characters XML
  1.0 cannot hold at all become U+FFFD.
- `safe_sheet_name`: sheet names, which also have Excel's own rules.
- `write_text` / `SafeSheet`: the one way a string cell is written through XlsxWriter, which
  would copy text shaped like its rich-string XML ("<r>…</r>") into the XML unescaped.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from xlsxwriter.worksheet import Worksheet, convert_cell_args, convert_range_args

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EXCEL_MAX_TEXT = 32767  # UTF-16 code units in a cell or a comment
FILE_COMPONENT_BYTES = 90  # UTF-8 bytes: 30 Chinese characters; names stay far below 255 bytes
_PATH_BAD_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')

# Characters XML 1.0 cannot hold at all (its Char production): the C0 controls other than tab,
# LF and CR, the surrogates (a Python string can hold a lone one: a file name read with
# surrogateescape) and the non-characters U+FFFE and U+FFFF.
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# What XlsxWriter escapes as _xHHHH_ (it leaves tab and LF, and escapes CR), and Excel's escape.
EXCEL_ESCAPED_RE = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
EXCEL_ESCAPE_RE = re.compile("_x[0-9a-fA-F]{4}_")
RICH_OPEN, RICH_CLOSE = "<r>", "</r>"  # how XlsxWriter tells its rich-string XML from text
REPLACEMENT = "\ufffd"

SHEET_NAME_MAX = 31  # UTF-16 code units
_SHEET_BAD_RE = re.compile("[\\[\\]:*?/\\\\\x00-\x1f\ud800-\udfff\ufffe\uffff]")
SHEET_NAME_DEFAULT = "机构"
# An underscore that starts Excel's escape: spreadsheet programs read _xHHHH_ in a sheet name
# (LibreOffice shows "A_x0041_B" as "AAB"), while XlsxWriter escapes it in the sheet's defined
# names (its filter and print titles would then point at no sheet).
_SHEET_ESCAPE_RE = re.compile("_(?=x[0-9a-fA-F]{4}_)")
SHEET_ESCAPE_UNDERSCORE = "\uff3f"  # ＿ FULLWIDTH LOW LINE


def csv_text(value: Any) -> str:
    """OWASP CSV-injection rule: a field starting with = + - @ tab or CR is prefixed with '.
    Control characters (other than tab, CR, LF) become U+FFFD: a CSV has no way to escape them."""
    text = "" if value is None else _CONTROL_RE.sub(REPLACEMENT, str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_texts(values: list[Any]) -> list[str]:
    """`csv_text` of every value of a column; one scan for control characters for them all."""
    texts = ["" if v is None else v if v.__class__ is str else str(v) for v in values]
    if _CONTROL_RE.search("\n".join(texts)):
        return [csv_text(t) for t in texts]
    return ["'" + t if t.startswith(FORMULA_START) else t for t in texts]


def cut_utf16(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 code units, never inside a character."""
    if len(text) <= limit // 2:
        return text
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ch > "\uffff" else 1
        if units > limit:
            return text[:i]
    return text


def is_rich_lookalike(text: str) -> bool:
    """Text XlsxWriter would take for its own rich-string XML and copy into the XML as it is."""
    return text.startswith(RICH_OPEN) and text.endswith(RICH_CLOSE)


def cell_text(value: Any) -> str:
    """Text for a cell, a comment, a header or footer of any xlsx we write: the one escaping path.

    Written by XlsxWriter (or `FastSheet`, which writes the same XML), it yields well-formed XML
    that shows exactly this text. The text is kept as it is (control characters, U+FFFE, U+FFFF,
    `_xHHHH_` look-alikes: XlsxWriter escapes them as Excel does), except:

    - a lone surrogate, which cannot be encoded at all, becomes U+FFFD;
    - text beyond Excel's 32,767 UTF-16 units is cut there (XlsxWriter cuts cells so, but drops
      a comment that is too long);
    - in text shaped like rich-string XML ("<r>…</r>", written as plain runs by `write_text`),
      what XlsxWriter escapes as `_xHHHH_` (control characters, CR included, U+FFFE, U+FFFF)
      becomes U+FFFD: XlsxWriter escapes a rich string's runs twice, so their `_xHHHH_` would
      show as code. `FastSheet` does the same, so every writer shows the same text.

    Idempotent: `cell_text(cell_text(x)) == cell_text(x)`.
    """
    text = "" if value is None else value if value.__class__ is str else str(value)
    if _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub(REPLACEMENT, text)
    text = cut_utf16(text, EXCEL_MAX_TEXT)
    if is_rich_lookalike(text):
        text = EXCEL_ESCAPED_RE.sub(REPLACEMENT, text)
    return text


def cell_texts_ready(values: list[str]) -> bool:
    """Whether every string of a column is already its own `cell_text` (one scan of them all):
    almost always, and then the column need not be rewritten."""
    joined = "\n".join(values)
    if _SURROGATE_RE.search(joined) or max(map(len, values), default=0) > EXCEL_MAX_TEXT // 2:
        return all(cell_text(v) == v for v in values)
    return RICH_OPEN not in joined or not any(
        is_rich_lookalike(v) and EXCEL_ESCAPED_RE.search(v) for v in values
    )


def xml_text(value: Any, limit: int = EXCEL_MAX_TEXT) -> str:
    """Text for the parts of an xlsx where XlsxWriter does not escape what XML cannot hold, or
    Excel does not read `_xHHHH_`: document properties, data-validation prompts and lists.
    Those characters become U+FFFD; the text is cut to `limit` UTF-16 units."""
    text = "" if value is None else str(value)
    return cut_utf16(_NOT_XML_RE.sub(REPLACEMENT, text), limit)


def safe_sheet_name(wanted: str, taken: set[str]) -> str:
    """An Excel sheet name: no []:*?/\\ and nothing XML cannot hold (those become _), nothing
    read as Excel's _xHHHH_ escape (its underscore becomes ＿), not starting or ending with ',
    not blank, not History, at most 31 UTF-16 units, unique.

    `taken` holds the casefolded names already used (Excel compares them case-insensitively);
    the returned name is added to it.
    """
    base = _SHEET_BAD_RE.sub("_", wanted).strip().strip("'").strip() or SHEET_NAME_DEFAULT
    base = _SHEET_ESCAPE_RE.sub(SHEET_ESCAPE_UNDERSCORE, base)
    if base.casefold() == "history":  # reserved by Excel
        base = "_history"
    name = cut_utf16(base, SHEET_NAME_MAX).rstrip("'")
    n = 1
    while name.casefold() in taken:
        n += 1
        suffix = f"~{n}"
        name = cut_utf16(base, SHEET_NAME_MAX - len(suffix)).rstrip("'") + suffix
    taken.add(name.casefold())
    return name


def write_text(ws: Worksheet, row: int, col: int, value: Any, fmt: Any = None) -> int:
    """Write `cell_text(value)` as a string cell through XlsxWriter, on any worksheet.

    XlsxWriter takes a string that starts with "<r>" and ends with "</r>" for rich-string XML and
    writes it as it is: a branch typing such a name would corrupt the workbook. That text is
    written as a rich string of plain runs in the cell's font instead, which shows exactly the
    same. XlsxWriter escapes each run's `_xHHHH_` look-alikes and then the whole rich string once
    more, so a run never holds a whole one: the runs are cut after every underscore.
    """
    text = cell_text(value)
    if is_rich_lookalike(text):
        return ws.write_rich_string(row, col, *_rich_tokens(text, fmt))
    return Worksheet.write_string(ws, row, col, text, fmt)


def _rich_tokens(text: str, fmt: Any) -> list[Any]:
    middle = text[1:-1]
    parts = [p for p in re.split("(?<=_)", middle) if p] if "_" in middle else [middle]
    runs = [text[0], *parts, text[-1]]
    if fmt is None:
        return runs
    return [token for run in runs for token in (fmt, run)] + [fmt]


class SafeSheet(Worksheet):
    """An XlsxWriter worksheet (its documented `worksheet_class` hook) whose text-taking calls
    put their text through this module: `write_string` (`write_text`), `write_comment` and
    `set_header`/`set_footer` (`cell_text`), `data_validation` (`xml_text`). Every worksheet we
    write is one (`fastsheet.add_sheet`, the template). XlsxWriter's generic `write`, `write_row`
    and `write_column` are not used."""

    @convert_cell_args
    def write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        return write_text(self, row, col, string, cell_format)

    @convert_cell_args
    def write_comment(self, row: int, col: int, comment: str, options: Any = None) -> int:
        return super().write_comment(row, col, cell_text(comment), options)

    def set_header(self, header: str = "", options: Any = None, margin: Any = None) -> None:
        super().set_header(cell_text(header), options, margin)

    def set_footer(self, footer: str = "", options: Any = None, margin: Any = None) -> None:
        super().set_footer(cell_text(footer), options, margin)

    @convert_range_args
    def data_validation(
        self, first_row: int, first_col: int, last_row: int, last_col: int, options: Any = None
    ) -> int:
        options = dict(options or {})
        for key, limit in _VALIDATION_TEXT.items():
            if isinstance(options.get(key), str):
                options[key] = xml_text(options[key], limit)
        if isinstance(options.get("source"), list):
            options["source"] = [
                xml_text(s) if isinstance(s, str) else s for s in options["source"]
            ]
        return super().data_validation(first_row, first_col, last_row, last_col, options)


# The data-validation texts and Excel's limits on them (UTF-16 units).
_VALIDATION_TEXT = {
    "input_title": 32,
    "input_message": 255,
    "error_title": 32,
    "error_message": 255,
}


def file_component(value: Any) -> str:
    """A 机构号 or 机构名称 made safe as one path component: no separators, no dot-dot, no
    invisible, direction-changing or unassigned characters (U+FFFE, U+FFFF), at most
    FILE_COMPONENT_BYTES bytes of UTF-8."""
    text = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp") else ch
        for ch in _PATH_BAD_RE.sub("_", str(value)[: FILE_COMPONENT_BYTES * 2])
    ).strip(" .")[:FILE_COMPONENT_BYTES]
    while len(text.encode("utf-8")) > FILE_COMPONENT_BYTES:
        text = text[:-1]
    return text.rstrip(" .") or "_"


def workbook_options() -> dict:
    """Never turn text into formulas, URLs or numbers."""
    return {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
        "in_memory": True,  # small workbooks: assemble in RAM, no temporary files
    }
