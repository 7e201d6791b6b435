"""The I/O floor: read every data sheet with python-calamine, write every output with XlsxWriter.

No scoring, no validation, no styling: each output holds the input rows plus 15 result
columns filled with placeholders of the right types. Any tool that reads every input
workbook and writes one result workbook per branch does at least this much work.

    python bench/floor.py INBOX OUTDIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import xlsxwriter
from python_calamine import CalamineWorkbook

# The 15 result columns, and a placeholder of the type each one holds.
RESULT_COLUMNS: list[tuple[str, object]] = [
    ("新增存款日均", 123.45),
    ("新增存款日均增幅", 0.3125),
    ("不良率", 0.0042),
    ("收贷收息率", 0.9981),
    ("中间业务收入增幅", 0.18),
    ("存款得分", 45.5),
    ("不良率得分", 20.0),
    ("收贷收息得分", 19.62),
    ("中间业务/开户得分", 10.0),
    ("业务得分", 95.12),
    ("综合得分", 94.12),
    ("考核等级", "合格"),
    ("行内排名", 3),
    ("考核结论", "正常"),
    ("预警与处理", "A14-2-SCORE85?"),
]


def run(inbox: str | Path, outdir: str | Path) -> int:
    """Copy the data sheet of every `*.xlsx` in `inbox` to `outdir`, plus 15 columns."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    extra_header = [name for name, _ in RESULT_COLUMNS]
    extra_values = [value for _, value in RESULT_COLUMNS]
    count = 0
    for path in sorted(Path(inbox).glob("*.xlsx")):
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("考核数据").to_python()
        # in_memory: assemble the small XML parts in RAM (faster than constant_memory's temp files).
        wb = xlsxwriter.Workbook(str(out / path.name), {"in_memory": True})
        ws = wb.add_worksheet("考核结果")
        ws.write_row(0, 0, [*rows[0], *extra_header])
        for r, row in enumerate(rows[1:], start=1):
            # calamine gives "" for an empty cell; XlsxWriter skips blank strings.
            ws.write_row(r, 0, [*row, *extra_values])
        wb.close()
        count += 1
    return count


if __name__ == "__main__":
    print(f"floor: {run(sys.argv[1], sys.argv[2])} workbooks")
