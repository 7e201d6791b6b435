"""Regenerate sample_workbooks/<scheme>/<period>/ for the shipped schemes other than the main
policy: each branch's workbook is the scheme's own template (`kpi-excel template`), filled with
deterministic, realistic rows (one deliberately bad row per scheme, so that a run shows a refusal).

    python scripts/make_scheme_samples.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kpi_excel.periods import parse_period  # noqa: E402
from kpi_excel.rulebook import load_rulebook  # noqa: E402
from kpi_excel.template import build_template  # noqa: E402

BRANCHES = [("B001", "营业部", 6), ("B002", "城东支行", 5), ("B003", "城西支行", 4)]
NAMES = "王伟 李芳 张娜 刘敏 陈静 杨丽 黄强 赵磊 吴军 周洋 徐勇 孙艳 马杰 朱娟 胡涛".split()


def _loan_eva(rng: random.Random, emp: str, name: str) -> dict:
    loans = round(rng.uniform(2000, 9000), 2)
    return {
        "员工编号": emp, "姓名": name, "岗位": "贷款类客户经理",
        "日均存款余额(万元)": round(loans * rng.uniform(0.3, 1.2), 2),
        "日均贷款余额(万元)": loans,
        "日均存贷比基数": round(rng.uniform(0.3, 1.0), 4),
        "存量资产EVA(万元)": round(rng.uniform(-5, 40), 2),
        "增量资产EVA(万元)": round(rng.uniform(-2, 15), 2),
        "综合EVA(万元)": round(rng.uniform(10, 120), 2),
        "综合回报率基数": round(rng.uniform(0.002, 0.015), 4),
        "中间业务考核绩效(元)": round(rng.uniform(0, 3000), 2),
        "管理绩效(元)": round(rng.uniform(500, 1500), 2),
    }  # fmt: skip


def _mgmt(rng: random.Random, emp: str, name: str) -> dict:
    submitted = rng.randint(0, 8)
    return {
        "员工编号": emp, "姓名": name, "岗位": "客户经理",
        "授信报批笔数": submitted, "退回笔数": rng.randint(0, submitted),
        "材料虚假": "否", "档案缺漏项数": rng.choice([0, 0, 1, 2, 5]),
        "走访缺少次数": rng.choice([0, 0, 1, 3]), "走访记录缺少次数": rng.choice([0, 1]),
        "重大事项未报告": "否", "重大信息加分": rng.choice([0, 0, 0, 5, 12.5]),
        "逾期垫款笔数": rng.choice([0, 0, 0, 0, 1]), "形态下降笔数": 0,
        "日常工作评分": round(rng.uniform(15, 25), 1),
        "当天未及时录入次数": rng.choice([0, 0, 1]), "漏录次数": 0,
        "报表调查未完成次数": rng.choice([0, 0, 1]), "临时性工作次数": rng.choice([0, 1, 2]),
    }  # fmt: skip


SCHEMES = {
    # scheme: (period, row maker, the bad row's change)
    "loan-eva": ("2026M07", _loan_eva, {"日均贷款余额(万元)": 0}),
    "mgmt-monthly": ("2026M07", _mgmt, {"日常工作评分": 25.5}),
}


def main() -> None:
    for scheme, (period_text, make, bad) in SCHEMES.items():
        rules = load_rulebook(scheme)
        period = parse_period(period_text, rules.calendar)
        out = ROOT / "sample_workbooks" / scheme / period.code
        out.mkdir(parents=True, exist_ok=True)
        rng = random.Random(f"{scheme}-{period.code}")
        n = 0
        for code, branch, people in BRANCHES:
            path = build_template(out / f"{branch}.xlsx", period, rules)
            wb = openpyxl.load_workbook(path)
            info = wb["基本信息"]
            info["B1"], info["B2"] = code, branch
            ws = wb["考核数据"]
            labels = [c.value for c in ws[1]]
            for i in range(people):
                n += 1
                row = make(rng, f"{code}-{i + 1:02d}", NAMES[n % len(NAMES)])
                if code == "B002" and i == 0:
                    row.update(bad)
                for j, label in enumerate(labels, start=1):
                    if label in row:
                        ws.cell(i + 2, j, row[label])
            wb.save(path)
        print(f"{scheme}: {len(BRANCHES)} workbooks in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
