"""Every cell of a workbook as a tuple, for comparing two ways of writing the same thing."""

from __future__ import annotations

from pathlib import Path

import openpyxl


def cells(path: Path) -> list[tuple]:
    """Each cell of each sheet: value, type and the parts of its style that show, row height."""
    wb = openpyxl.load_workbook(path)
    return [
        (ws.title, c.coordinate, c.value, c.data_type, c.number_format, c.fill.fgColor.rgb,
         c.font.b, c.font.color.rgb if c.font.color else None, c.border.left.style,
         c.alignment.wrap_text, ws.row_dimensions[c.row].height)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
    ]  # fmt: skip
