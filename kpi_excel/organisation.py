"""The organisation: which parent (上级机构, e.g. a 分行) each branch belongs to.

A branch names its parent in 基本信息 (the optional row 上级机构), or HR gives an organisation
table (`kpi-excel run --org FILE`: CSV or xlsx with the columns 机构号 and 上级机构), which
wins over what a workbook says. The summary groups branches by parent (write/summary.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import UsageError
from .numbers import show
from .schema import BRANCH_CODE_RE

ORG_WHAT = "机构对照表"  # how messages name the organisation table
ORG_COLUMNS = {"机构号": "branch_code", "上级机构": "parent"}
NO_PARENT = "未指定上级机构"  # the group of the branches that name no parent


def read_org(path: Path) -> dict[str, str]:
    """机构号 -> 上级机构 of an organisation table (CSV in UTF-8/GBK, or an xlsx's first
    sheet). Raises UsageError naming the file and row for a missing column, a bad 机构号 or
    a 机构号 given two different parents."""
    from .template import table_rows

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"找不到{ORG_WHAT} {path},请检查 --org 后的文件路径")
    rows = table_rows(path, ORG_WHAT)
    header = [show(v) for v in rows[0]] if rows else []
    index: dict[str, int] = {}
    for label, key in ORG_COLUMNS.items():
        if label not in header:
            need = "、".join(ORG_COLUMNS)
            raise UsageError(f"{ORG_WHAT} {path.name} 缺少列「{label}」(需要:{need})")
        index[key] = header.index(label)
    out: dict[str, str] = {}
    for n, row in enumerate(rows[1:], start=2):
        rec = {key: show(row[j]) if j < len(row) else "" for key, j in index.items()}
        code, parent = rec["branch_code"], rec["parent"]
        if not code and not parent:
            continue
        if not BRANCH_CODE_RE.match(code):
            raise UsageError(
                f"{ORG_WHAT} {path.name} 第{n}行机构号「{code}」应为1至32位字母、数字、-、_"
            )
        if code in out and out[code] != parent:
            raise UsageError(
                f"{ORG_WHAT} {path.name} 第{n}行:机构号「{code}」的上级机构「{parent}」"
                f"与前面所写的「{out[code]}」不同"
            )
        out[code] = parent
    return out


def parents_of(books: Iterable[Any], org: dict[str, str] | None = None) -> dict[str, str]:
    """机构号 -> 上级机构 of each accepted workbook: the organisation table's, else the
    workbook's own 基本信息 row ('' when neither names one)."""
    out: dict[str, str] = {}
    for wb in books:
        code = show(wb.info["branch_code"][0])
        own = wb.info.get("parent")
        out[code] = show(own[0]) if own is not None else ""
    for code, parent in (org or {}).items():
        if code in out and parent:
            out[code] = parent
    return out
