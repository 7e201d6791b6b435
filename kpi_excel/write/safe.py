"""Text from a branch is data, never code, in every output."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EXCEL_MAX_TEXT = 32767
FILE_COMPONENT_BYTES = 90  # UTF-8 bytes: 30 Chinese characters; names stay far below 255 bytes
_PATH_BAD_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def csv_text(value: Any) -> str:
    """OWASP CSV-injection rule: a field starting with = + - @ tab or CR is prefixed with '.
    Control characters (other than tab, CR, LF) become U+FFFD, as in the workbooks."""
    text = "" if value is None else _CONTROL_RE.sub("\ufffd", str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_texts(values: list[Any]) -> list[str]:
    """`csv_text` of every value of a column; one scan for control characters for them all."""
    texts = ["" if v is None else v if v.__class__ is str else str(v) for v in values]
    if _CONTROL_RE.search("\n".join(texts)):
        return [csv_text(t) for t in texts]
    return ["'" + t if t.startswith(FORMULA_START) else t for t in texts]


def cell_text(value: Any) -> str:
    """Text safe for an xlsx cell: no control characters XML cannot hold, within Excel's length."""
    text = "" if value is None else str(value)
    return _CONTROL_RE.sub("\ufffd", text)[:EXCEL_MAX_TEXT]


def write_text(ws: Any, row: int, col: int, text: str, fmt: Any = None) -> int:
    """`ws.write_string`, except for text that XlsxWriter would copy into the XML unescaped.

    XlsxWriter takes a string that starts with "<r>" and ends with "</r>" for rich-string XML and
    writes it as it is: a branch typing such a name would corrupt the workbook. That text is
    written as a rich string of three plain runs instead, which shows exactly the same.
    """
    if text.startswith("<r>") and text.endswith("</r>"):
        runs = (text[:1], text[1:-1], text[-1:])
        return ws.write_rich_string(row, col, *runs, *([fmt] if fmt is not None else []))
    return ws.write_string(row, col, text, fmt)


def file_component(value: Any) -> str:
    """A 机构号 or 机构名称 made safe as one path component: no separators, no dot-dot, no
    invisible or direction-changing characters, at most FILE_COMPONENT_BYTES bytes of UTF-8."""
    text = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
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
