"""Text from a branch is data, never code, in every output."""

from __future__ import annotations

import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
EXCEL_MAX_TEXT = 32767


def csv_text(value: Any) -> str:
    """OWASP CSV-injection rule: a field starting with = + - @ tab or CR is prefixed with '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def cell_text(value: Any) -> str:
    """Text safe for an xlsx cell: no control characters XML cannot hold, within Excel's length."""
    text = "" if value is None else str(value)
    return _CONTROL_RE.sub("\ufffd", text)[:EXCEL_MAX_TEXT]


def file_component(value: Any) -> str:
    """A 机构号 or 机构名称 made safe as one path component: no separators, no dot-dot."""
    text = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", str(value)).strip(" .")
    return text[:80] or "_"
