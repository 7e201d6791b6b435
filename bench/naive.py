"""The straightforward approach: openpyxl, a Python loop scoring each row, save a copy.

What a user would write by hand from RULES.md §4-5: load each branch workbook with
openpyxl, score every row of `考核数据` in plain Python, append 15 result columns to the
same sheet and save an annotated copy. No validation beyond what the formulas need.

    python bench/naive.py INBOX OUTDIR
"""

from __future__ import annotations

import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from openpyxl import load_workbook

HEAD_ROLES = {"支行行长", "营业部总经理"}
ACCOUNT_TARGET = {"高级客户经理": 10, "中级客户经理": 7, "初级客户经理": 5}
PERIOD_FRACTION = 0.25  # a quarter
RESULT_HEADER = [
    "新增存款日均",
    "新增存款日均增幅",
    "不良率",
    "收贷收息率",
    "中间业务收入增幅",
    "存款得分",
    "不良率得分",
    "收贷收息得分",
    "中间业务/开户得分",
    "业务得分",
    "综合得分",
    "考核等级",
    "行内排名",
    "考核结论",
    "预警与处理",
]


def r2(x: float) -> float:
    """Excel's ROUND(x, 2): half away from zero, on the decimal the float shows."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def num(v: object) -> float:
    return float(v) if v not in (None, "") else 0.0  # type: ignore[arg-type]


def grade(total: float, head: bool) -> str:
    if total >= 110:
        return "优秀"
    if total >= 100:
        return "良好"
    if total > (90 if head else 85):
        return "合格"
    return "基本合格" if head or total > 70 else "不合格"


def score(v: dict[str, object]) -> list[object]:
    """The result columns (without the rank) for one row, keyed by header label."""
    role = str(v["岗位"])
    head = role in HEAD_ROLES
    base, avg = num(v["基数存款日均"]), num(v["本期存款日均"])
    loan, npl = num(v["贷款余额"]), num(v["不良贷款余额"])
    due, collected = num(v["应收贷款本息"]), num(v["实收贷款本息"])
    new_deposit = avg - base
    growth = new_deposit / base if base else None
    npl_ratio = npl / loan if loan else 0.0
    collection = collected / due if due else 1.0

    if role == "初级客户经理":
        s1 = 40 + 2 * (new_deposit / 100 * 100 - 100)
    else:
        s1 = 40 + 2 * ((growth or 0.0) * 100 - 30)
    s1 = r2(clip(s1, 0, 60))
    s2 = (
        30.0
        if npl_ratio == 0
        else 20.0
        if npl_ratio <= 0.01
        else 10.0
        if npl_ratio <= 0.05
        else 0.0
    )
    s3 = r2(clip(20 + 2 * (collection * 100 - 99.5) / 0.1, 0, 30))
    income_growth = None
    if head:
        mid_base = num(v["上年同期中间业务收入"])
        income_growth = (num(v["本期中间业务收入"]) - mid_base) / mid_base
        s4 = r2(clip(10 + (income_growth * 100 - 20) / 2, 0, 15))
    else:
        target = ACCOUNT_TARGET[role] * PERIOD_FRACTION
        s4 = r2(10 * min(num(v["新开对公基本账户"]) / target, 1))
    business = r2(s1 + s2 + s3 + s4)
    total = r2(business - num(v["行为规范扣分"]))

    # A few Article 14 flags, roughly; annual ones are warnings in a quarter.
    flags = []
    if v["重大违规违纪"] == "是" or num(v["行为规范扣分"]) >= 15:
        flags.append("解聘")
    if not head and collection < 0.99:
        flags.append("降级")
    if total <= (90 if head else 85):
        flags.append("预警")
    outcome = next((o for o in ("解聘", "降级", "预警") if o in flags), "正常")
    return [
        new_deposit,
        growth,
        npl_ratio,
        collection,
        income_growth,
        s1,
        s2,
        s3,
        s4,
        business,
        total,
        grade(total, head),
        outcome,
        ";".join(flags),
    ]


def score_workbook(src: Path, dst: Path) -> None:
    wb = load_workbook(src)
    ws = wb["考核数据"]
    # Header labels without the unit in brackets: "贷款余额(万元)" -> "贷款余额".
    labels = [re.sub(r"[(（].*", "", str(c.value or "")).strip() for c in ws[1]]
    first = len(labels) + 1
    for i, label in enumerate(RESULT_HEADER):
        ws.cell(row=1, column=first + i, value=label)

    results: list[tuple[int, bool, float]] = []  # (row, is_head, total) for ranking
    for row in ws.iter_rows(min_row=2, max_col=len(labels)):
        if all(c.value in (None, "") for c in row):
            continue
        values = dict(zip(labels, (c.value for c in row), strict=True))
        res = score(values)
        r = row[0].row
        for i, value in enumerate(res[:12]):
            ws.cell(row=r, column=first + i, value=value)
        ws.cell(row=r, column=first + 13, value=res[12])
        ws.cell(row=r, column=first + 14, value=res[13])
        results.append((r, values["岗位"] in HEAD_ROLES, float(res[10])))  # type: ignore[arg-type]

    # Competition rank (1, 2, 2, 4) by total within the branch, heads and managers apart.
    for r, head, total in results:
        better = sum(1 for _, h, t in results if h == head and t > total)
        ws.cell(row=r, column=first + 12, value=better + 1)
    wb.save(dst)


def run(inbox: str | Path, outdir: str | Path) -> int:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(Path(inbox).glob("*.xlsx")):
        score_workbook(path, out / path.name)
        count += 1
    return count


if __name__ == "__main__":
    print(f"naive: {run(sys.argv[1], sys.argv[2])} workbooks")
