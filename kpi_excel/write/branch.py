"""The scored workbook of one branch, for its head: `branches/<机构号>_<机构名称>.xlsx`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xlsxwriter

from .atomic import write_atomic
from .safe import cell_text, file_component

# (column key in the people table, Chinese header, kind)
RESULT_SHEET_COLUMNS = [
    ("emp_id", "员工编号", "text"),
    ("name", "姓名", "text"),
    ("role_label", "岗位", "text"),
    ("status_label", "状态", "text"),
    ("deposit_growth", "新增存款日均增幅", "pct"),
    ("npl_ratio", "不良率", "pct"),
    ("collection_rate", "收贷收息率", "pct"),
    ("score_deposit", "存款得分", "score"),
    ("score_npl", "不良率得分", "score"),
    ("score_collection", "收贷收息率得分", "score"),
    ("score_income", "中间业务收入得分", "score"),
    ("score_accounts", "新开对公基本账户得分", "score"),
    ("business_score", "业务得分", "score"),
    ("conduct_deduction", "行为规范扣分", "score"),
    ("total", "综合得分", "score"),
    ("grade", "考核等级", "text"),
    ("rank_branch", "支行内排名", "int"),
    ("rank_bank", "全行排名", "int"),
    ("outcome", "考核结论", "text"),
    ("recommended_level", "建议职级", "text"),
    ("flags_text", "预警与处理", "text"),
    ("errors", "未计分原因", "text"),
]


def branch_file_name(code: str, name: str) -> str:
    return f"{file_component(code)}_{file_component(name)}.xlsx"


def workbook_options() -> dict:
    """Never turn text into formulas, URLs or numbers."""
    return {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
    }


def write_value(ws, row: int, col: int, value, kind: str, fmt=None) -> None:
    """One cell: text always as a string cell, numbers as numbers, blanks left blank."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        ws.write_blank(row, col, None, fmt)
    elif kind == "text":
        ws.write_string(row, col, cell_text(value), fmt)
    else:
        ws.write_number(row, col, float(value), fmt)


def write_branch(path: Path, people: pd.DataFrame, title: str) -> Path:
    """A plain scored workbook of one branch's people (see write/rich.py for the full one)."""

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), workbook_options())
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        fmts = {
            "pct": wb.add_format({"num_format": "0.00%"}),
            "score": wb.add_format({"num_format": "0.00"}),
            "int": wb.add_format({"num_format": "0"}),
            "text": None,
        }
        ws = wb.add_worksheet("考核结果")
        ws.write_string(0, 0, cell_text(title), wb.add_format({"bold": True, "font_size": 14}))
        for c, (_, label, _) in enumerate(RESULT_SHEET_COLUMNS):
            ws.write_string(1, c, label, head)
        for r, rec in enumerate(people.to_dict("records"), start=2):
            for c, (key, _, kind) in enumerate(RESULT_SHEET_COLUMNS):
                write_value(ws, r, c, rec.get(key), kind, fmts[kind])
        ws.freeze_panes(2, 2)
        ws.set_column(0, len(RESULT_SHEET_COLUMNS) - 1, 12)
        wb.close()

    return write_atomic(path, write)
