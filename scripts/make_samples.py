"""Regenerate sample_workbooks/2026Q3/: eight realistic branch workbooks for a 2026Q3 run.

Deterministic (fixed seed). A few rows are deliberately bad so that a run shows errors;
they are listed in BAD_ROWS and printed at the end.

    /work/venv/bin/python scripts/make_samples.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.workbooks import write_branch_workbook  # noqa: E402

PERIOD = "2026Q3"
OUT_DIR = ROOT / "sample_workbooks" / PERIOD
SEED = 20260930

# (file/branch name, branch code, number of account managers, messy layout?)
BRANCHES: list[tuple[str, str, int, bool]] = [
    ("营业部", "B001", 15, False),
    ("城东支行", "B002", 11, False),
    ("城西支行", "B003", 9, False),
    ("城南支行", "B004", 8, True),
    ("城北支行", "B005", 7, False),
    ("高新区支行", "B006", 12, False),
    ("经开区支行", "B007", 6, False),
    ("滨江支行", "B008", 10, False),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢"
GIVEN = [
    *"伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华慧",
    *["建华", "晓东", "丽娟", "海燕", "志强", "雪梅", "文博", "思远", "雨欣", "子涵"],
    *["佳怡", "俊杰", "浩然", "梓萱", "国庆", "红梅", "春燕", "立新", "宇航", "欣怡"],
]
REMARKS = ["", "", "", "", "", "", "7月调入", "产假1个月", "兼管普惠条线", "9月轮岗"]

# Role label -> (deposit base range, growth range, loan range) in 万元.
MANAGER_PROFILES: dict[str, tuple[tuple[int, int], tuple[float, float], tuple[int, int]]] = {
    "高级客户经理": ((4000, 12000), (0.18, 0.50), (3000, 15000)),
    "中级客户经理": ((1500, 6000), (0.12, 0.45), (1000, 8000)),
    "初级客户经理": ((500, 1500), (0.08, 0.30), (0, 2500)),
}

Row = dict[str, str]


def money(x: float) -> str:
    return f"{x:.2f}"


def person_name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if name not in used:
            used.add(name)
            return name


def loans(rng: random.Random, lo: int, hi: int) -> dict[str, str]:
    """Loan balance, NPL (mostly 0-2%), amounts due and collected (98%-100%)."""
    balance = 0.0 if lo == 0 and rng.random() < 0.15 else rng.uniform(max(lo, 200), hi)
    band = rng.random()
    npl_ratio = (
        0.0
        if band < 0.45
        else rng.uniform(0.001, 0.01)
        if band < 0.80
        else rng.uniform(0.01, 0.02)
        if band < 0.93
        else rng.uniform(0.02, 0.06)
    )
    due = balance * rng.uniform(0.04, 0.20)
    band = rng.random()
    rate = (
        1.0
        if band < 0.45
        else rng.uniform(0.995, 1.0)
        if band < 0.80
        else rng.uniform(0.99, 0.995)
        if band < 0.93
        else rng.uniform(0.98, 0.99)
    )
    return {
        "loan_balance": money(balance),
        "npl_balance": money(balance * npl_ratio),
        "due_amount": money(due),
        "collected_amount": money(due * rate),
    }


def deposits(rng: random.Random, base: float, growth: float) -> dict[str, str]:
    """Base, period average and the three monthly averages (their mean is the average)."""
    avg = round(base * (1 + growth), 2)
    m7 = round(avg * rng.uniform(0.92, 1.0), 2)
    m8 = round(avg * rng.uniform(0.97, 1.04), 2)
    m9 = round(3 * avg - m7 - m8, 2)
    return {
        "deposit_base": money(base),
        "deposit_avg": money(avg),
        "deposit_m7": money(m7),
        "deposit_m8": money(m8),
        "deposit_m9": money(m9),
    }


def conduct(rng: random.Random) -> dict[str, str]:
    r = rng.random()
    return {"conduct_deduction": rng.choice(["2", "3.5", "5"]) if r < 0.10 else ""}


def head_row(rng: random.Random, emp_id: str, name: str, role: str) -> Row:
    base = rng.uniform(8000, 20000)
    income_base = rng.uniform(200, 1500)
    return {
        "emp_id": emp_id,
        "name": name,
        "role": role,
        **deposits(rng, base, rng.uniform(0.15, 0.45)),
        **loans(rng, 20000, 80000),
        "mid_income_base": money(income_base),
        "mid_income": money(income_base * (1 + rng.uniform(-0.05, 0.45))),
        **conduct(rng),
        "remarks": "",
    }


def manager_row(rng: random.Random, emp_id: str, name: str, role: str) -> Row:
    (b_lo, b_hi), (g_lo, g_hi), (l_lo, l_hi) = MANAGER_PROFILES[role]
    accounts_hi = {"高级客户经理": 12, "中级客户经理": 9, "初级客户经理": 6}[role]
    return {
        "emp_id": emp_id,
        "name": name,
        "role": role,
        **deposits(rng, rng.uniform(b_lo, b_hi), rng.uniform(g_lo, g_hi)),
        **loans(rng, l_lo, l_hi),
        "new_accounts": str(rng.randint(0, accounts_hi)),
        **conduct(rng),
        "remarks": rng.choice(REMARKS),
    }


def build() -> dict[str, list[Row]]:
    rng = random.Random(SEED)
    used_names: set[str] = set()
    next_id = 10001
    workbooks: dict[str, list[Row]] = {}
    for branch, _code, n_managers, _messy in BRANCHES:
        head_role = "营业部总经理" if branch == "营业部" else "支行行长"
        rows = [head_row(rng, f"E{next_id}", person_name(rng, used_names), head_role)]
        next_id += rng.randint(1, 9)
        roles = ["高级客户经理"] * 2 + ["中级客户经理"] * 3 + ["初级客户经理"] * 3
        for _ in range(n_managers):
            role = rng.choice(roles)
            rows.append(manager_row(rng, f"E{next_id}", person_name(rng, used_names), role))
            next_id += rng.randint(1, 9)
        workbooks[branch] = rows
    return workbooks


# Deliberate problems: (branch, row index (0 = head), key, value, what).
BAD_ROWS: list[tuple[str, int, str, str, str]] = [
    ("城东支行", 4, "deposit_avg", "约100", "text '约100' in a number column"),
    ("城西支行", 3, "collected_amount", "-35.20", "negative amount"),
    ("高新区支行", 7, "role", "业务代办员", "unknown 岗位"),
    ("滨江支行", 5, "new_accounts", "2.5", "non-whole 新开对公基本账户"),
]
# Rare but legal events, so that a run shows Article 14 flags.
EVENTS: list[tuple[str, int, dict[str, str]]] = [
    ("城北支行", 2, {"major_violation": "是", "conduct_deduction": "5"}),
    ("经开区支行", 0, {"major_accident": "是", "incident_loss": "12.50"}),
    ("营业部", 6, {"major_violation": "否", "major_accident": "否"}),
]


def main() -> None:
    workbooks = build()
    report: list[str] = []
    for branch, index, key, value, what in BAD_ROWS:
        row = workbooks[branch][index]
        row[key] = value
        report.append(f"{branch}.xlsx  {row['emp_id']}  {what}: {key}={value}")
    for branch, index, values in EVENTS:
        workbooks[branch][index].update(values)
    # The same 员工编号 in two branches: a 城南支行 manager takes one from 城东支行.
    src, dst = workbooks["城东支行"][2], workbooks["城南支行"][4]
    dst["emp_id"] = src["emp_id"]
    report.append(f"城东支行.xlsx + 城南支行.xlsx  {src['emp_id']}  duplicated 员工编号")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.xlsx"):
        old.unlink()
    filler = random.Random(SEED + 1)
    for seed, (branch, code, _n, messy) in enumerate(BRANCHES):
        info = {
            "填报人": person_name(filler, set()),
            "联系电话": f"0571-8{filler.randint(1000000, 9999999)}",
        }
        write_branch_workbook(
            OUT_DIR / f"{branch}.xlsx",
            branch_code=code,
            branch_name=branch,
            period=PERIOD,
            rows=workbooks[branch],
            style="messy" if messy else "tidy",
            extra_info=info,
            seed=seed,
        )
    total = sum(len(rows) for rows in workbooks.values())
    print(f"wrote {len(BRANCHES)} workbooks, {total} persons, to {OUT_DIR.relative_to(ROOT)}")
    print("deliberately bad rows:")
    for line in report:
        print("  " + line)


if __name__ == "__main__":
    main()
