"""Deterministic generator of a synthetic bank: one 2026Q3 KPI workbook per branch.

Every workbook follows CONTRACT.md (sheets `基本信息` and `考核数据`) and every row is
valid, with realistic 2-decimal amounts in 万元. The same (n_branches, people, seed)
always gives byte-identical files.

    python bench/generate.py OUTDIR --branches 100 --people 30 [--seed 0] [--parents 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

import xlsxwriter

PERIOD = "2026Q3"
DATA_HEADER = [
    "员工编号",
    "姓名",
    "岗位",
    "基数存款日均(万元)",
    "本期存款日均(万元)",
    "7月存款日均(万元)",
    "8月存款日均(万元)",
    "9月存款日均(万元)",
    "贷款余额(万元)",
    "不良贷款余额(万元)",
    "应收贷款本息(万元)",
    "实收贷款本息(万元)",
    "上年同期中间业务收入(万元)",
    "本期中间业务收入(万元)",
    "新开对公基本账户(个)",
    "行为规范扣分",
    "重大违规违纪",
    "案件事故损失及罚款(万元)",
    "重大安全责任事故",
    "备注",
]
MANAGER_ROLES = ["高级客户经理", "中级客户经理", "初级客户经理"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文玲斌宇浩凯鹏辉晨欣怡"
CITIES = "杭州宁波温州嘉兴湖州绍兴金华衢州舟山台州丽水"
REMARKS = ["", "", "", "", "", "", "", "", "新调入", "产假", "兼管个贷", "季度中转岗"]
# Fixed document date, so that the files are byte-identical from run to run.
CREATED = dt.datetime(2026, 10, 8, 9, 0, 0)


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _money(x: float) -> float:
    return round(max(x, 0.0), 2)


def _yes_no(rng: random.Random, p_yes: float) -> str:
    return "是" if rng.random() < p_yes else "否"


def _person(rng: random.Random, emp_id: str, role: str) -> list[object]:
    """One valid data row for `role`; amounts in 万元 with 2 decimals."""
    head = role == "支行行长"
    junior = role == "初级客户经理"
    scale = {"支行行长": 60000, "高级客户经理": 12000, "中级客户经理": 6000}.get(role, 1200)

    base = _money(scale * rng.uniform(0.4, 1.6))
    if junior:  # juniors are scored on new deposits against a 100 万元 target
        avg = _money(base + rng.gauss(100, 70))
    else:  # others on growth against a 30% target
        avg = _money(base * (1 + rng.gauss(0.27, 0.15)))
    months = [_money(avg * rng.uniform(0.93, 1.07)) for _ in range(3)]
    if rng.random() < 0.02:  # a manager whose deposits sag all quarter
        months = [_money(base * rng.uniform(0.7, 0.88)) for _ in range(3)]

    loan = 0.0 if rng.random() < (0.25 if junior else 0.05) else _money(scale * rng.uniform(0.3, 2))
    r = rng.random()
    npl_ratio = 0.0 if r < 0.45 else rng.uniform(0, 0.01) if r < 0.8 else rng.uniform(0.01, 0.08)
    npl = _money(min(loan * npl_ratio, loan))
    due = _money(loan * rng.uniform(0.01, 0.06))
    rate = 1.0 if rng.random() < 0.4 else rng.uniform(0.985, 1.0)
    collected = _money(due * rate)

    mid_base = _money(rng.uniform(80, 600)) if head else None
    mid = _money(mid_base * (1 + rng.gauss(0.18, 0.12))) if mid_base else None
    accounts = None if head else min(int(rng.expovariate(1 / 2.2)), 15)

    deduction = 0 if rng.random() < 0.85 else rng.choice((0.5, 1, 1, 2, 2, 3, 5, 8))
    if rng.random() < 0.003:  # a rare dismissal for conduct (15 points or more)
        deduction = 15
    loss = _money(rng.uniform(0.5, 150)) if rng.random() < 0.01 else None
    return [
        emp_id,
        _name(rng),
        role,
        base,
        avg,
        *months,
        loan,
        npl,
        due,
        collected,
        mid_base,
        mid,
        accounts,
        deduction or None,
        _yes_no(rng, 0.003),
        loss,
        _yes_no(rng, 0.002),
        rng.choice(REMARKS) or None,
    ]


def write_branch(path: Path, branch: int, people: int, seed: int, parent: str = "") -> None:
    """Write the workbook of branch number `branch` (1-based) with `people` rows (and the row
    上级机构 of 基本信息 when `parent` is given)."""
    rng = random.Random(f"{seed}:{branch}")
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({"created": CREATED, "author": "kpi-excel bench"})
    info = wb.add_worksheet("基本信息")
    city = rng.choice([CITIES[i : i + 2] for i in range(0, len(CITIES), 2)])
    facts = [
        ("机构号", f"B{branch:04d}"),
        ("机构名称", f"{city}第{branch}支行"),
        ("考核期", PERIOD),
        ("填报人", _name(rng)),
        ("联系电话", f"0571-8{rng.randrange(10**6, 10**7)}"),
        ("模板版本", "1"),
        *([("上级机构", parent)] if parent else []),
    ]
    for row, (label, value) in enumerate(facts):
        info.write_string(row, 0, label)
        info.write_string(row, 1, value)

    data = wb.add_worksheet("考核数据")
    data.write_row(0, 0, DATA_HEADER)
    for i in range(1, people + 1):
        role = "支行行长" if i == 1 else rng.choices(MANAGER_ROLES, (2, 4, 3))[0]
        row = _person(rng, f"E{branch:04d}{i:03d}", role)
        for col, value in enumerate(row):
            if value is not None:  # blank cells stay blank
                data.write(i, col, value)
    wb.close()


def generate(
    outdir: str | Path, n_branches: int, people: int = 30, seed: int = 0, parents: int = 0
) -> list[Path]:
    """Write `n_branches` workbooks `B0001.xlsx` … into `outdir`; return their paths. With
    `parents` > 0 the branches name that many parents (第1分行 …), in consecutive blocks."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for branch in range(1, n_branches + 1):
        path = out / f"B{branch:04d}.xlsx"
        parent = f"第{(branch - 1) * parents // n_branches + 1}分行" if parents else ""
        write_branch(path, branch, people, seed, parent)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--branches", type=int, default=100)
    ap.add_argument("--people", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parents", type=int, default=0, help="number of parents (上级机构), 0: none")
    args = ap.parse_args()
    paths = generate(args.outdir, args.branches, args.people, args.seed, args.parents)
    print(f"wrote {len(paths)} workbooks to {args.outdir}")


if __name__ == "__main__":
    main()
