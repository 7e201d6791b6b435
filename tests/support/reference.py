"""A small reference scorer of RULES.md §3-§6 in `fractions.Fraction`, written apart from the
package (it shares no code with it), to check kpi-excel against on made-up and adversarial
inputs. It reads one person as the decimal texts a branch types; no history (one period).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import floor

ROLES = {
    "支行行长": ("branch_head", "heads"),
    "营业部总经理": ("branch_head", "heads"),
    "高级客户经理": ("senior", "managers"),
    "中级客户经理": ("mid", "managers"),
    "初级客户经理": ("junior", "managers"),
}
DEMOTED = {
    "branch_head": "降级聘用",
    "senior": "中级客户经理",
    "mid": "初级客户经理",
    "junior": "业务代办员",
}
ACCOUNT_TARGET = {"senior": 10, "mid": 7, "junior": 5}


def num(text: str | None) -> Fraction | None:
    if text is None or str(text).strip() == "":
        return None
    return Fraction(Decimal(str(text)))


def r2(x: Fraction) -> Fraction:
    """Half away from zero to 2 decimals."""
    sign = 1 if x >= 0 else -1
    return sign * Fraction(floor(abs(x) * 100 + Fraction(1, 2)), 100)


def clip(x: Fraction, lo: int, hi: int) -> Fraction:
    return max(Fraction(lo), min(Fraction(hi), x))


def show2(x: Fraction | None) -> str:
    if x is None:
        return ""
    cents = x * 100
    assert cents.denominator == 1, x
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents.numerator), 100)
    return f"{sign}{whole}.{part:02d}"


def ratio_text(x: Fraction | None) -> str:
    """The nearest double of x at full precision, as results.csv writes it."""
    if x is None:
        return ""
    text = repr(x.numerator / x.denominator)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def score(row: dict[str, str], annual: bool, months: int) -> dict[str, str]:
    """The results.csv figures of one person (status scored assumed)."""
    role, group = ROLES[row["role"]]
    head = group == "heads"
    base, avg = num(row["deposit_base"]), num(row["deposit_avg"])
    new = avg - base
    growth = new / base if base != 0 else None
    loan, npl = num(row["loan_balance"]), num(row["npl_balance"])
    npl_ratio = npl / loan if loan != 0 else Fraction(0)
    due, coll = num(row["due_amount"]), num(row["collected_amount"])
    rate = coll / due if due != 0 else Fraction(1)
    income_growth = None
    if head:
        mib, mi = num(row["mid_income_base"]), num(row["mid_income"])
        income_growth = (mi - mib) / mib

    if role == "junior":
        s1 = clip(40 + 2 * (new / 100 * 100 - 100), 0, 60)
    else:
        s1 = clip(40 + 2 * (growth * 100 - 30), 0, 60)
    if npl_ratio == 0:
        s2 = Fraction(30)
    elif npl_ratio <= Fraction(1, 100):
        s2 = Fraction(20)
    elif npl_ratio <= Fraction(5, 100):
        s2 = Fraction(10)
    else:
        s2 = Fraction(0)
    s3 = clip(20 + 2 * (rate * 100 - Fraction(995, 10)) / Fraction(1, 10), 0, 30)
    items = {"score_deposit": r2(s1), "score_npl": r2(s2), "score_collection": r2(s3)}
    if head:
        items["score_income"] = r2(clip(10 + (income_growth * 100 - 20) / 2, 0, 15))
    else:
        target = Fraction(ACCOUNT_TARGET[role]) * months / 12
        items["score_accounts"] = r2(10 * min(num(row["new_accounts"]) / target, Fraction(1)))
    business = sum(items.values())
    conduct = num(row.get("conduct_deduction")) or Fraction(0)
    total = business - conduct

    if total >= 110:
        grade = "优秀"
    elif total >= 100:
        grade = "良好"
    elif head:
        grade = "合格" if total > 90 else "基本合格"
    else:
        grade = "合格" if total > 85 else "基本合格" if total > 70 else "不合格"

    yes = {"是", "Y", "YES", "TRUE", "1"}
    violation = str(row.get("major_violation") or "").strip().upper() in yes
    accident = str(row.get("major_accident") or "").strip().upper() in yes
    loss = num(row.get("incident_loss")) or Fraction(0)
    raised: list[tuple[str, str, bool]] = []  # (code, action, annual)
    if head:
        if total <= 90:
            raised.append(("A14-1-SCORE", "demote", True))
        if npl_ratio > Fraction(10, 100):
            raised.append(("A14-1-NPL", "demote", True))
        if growth <= Fraction(30, 100) * Fraction(9, 10) or rate <= Fraction(995, 1000) * Fraction(
            9, 10
        ):
            raised.append(("A14-1-KEY", "demote", True))
        if accident:
            raised.append(("A14-1-ACCIDENT", "demote", False))
            if loss >= 100:
                raised.append(("A14-1-LOSS", "dismiss", False))
    else:
        below = 0
        for m in range(1, 13):
            value = num(row.get(f"deposit_m{m}"))
            below = below + 1 if value is not None and value < base * Fraction(9, 10) else 0
            if below >= 3:
                raised.append(("A14-2-DEPOSIT3M", "demote", False))
                break
        if rate < Fraction(99, 100):
            raised.append(("A14-2-COLLECTION", "demote", False))
        if total <= 85:
            raised.append(("A14-2-SCORE85", "demote", True))
        if total <= 70:
            raised.append(("A14-2-SCORE70", "dismiss", True))
    if violation:
        raised.append(("A14-3-VIOLATION", "dismiss", False))
    if conduct >= 15:
        raised.append(("A14-3-CONDUCT", "dismiss", False))
    codes = sorted(c + ("?" if is_annual and not annual else "") for c, _, is_annual in raised)
    decided = {a for _, a, is_annual in raised if annual or not is_annual}
    warned = any(is_annual and not annual for *_, is_annual in raised)
    if "dismiss" in decided:
        outcome, level = "解聘", "解除劳动合同"
    elif "demote" in decided:
        outcome, level = "降级", DEMOTED[role]
    else:
        outcome, level = ("预警" if warned else "正常"), row["role"]
    return {
        "new_deposit": ratio_text(new),
        "deposit_growth": ratio_text(growth),
        "npl_ratio": ratio_text(npl_ratio),
        "collection_rate": ratio_text(rate),
        "mid_income_growth": ratio_text(income_growth),
        **{k: show2(v) for k, v in items.items()},
        "business_score": show2(business),
        "total": show2(total),
        "grade": grade,
        "flags": ";".join(codes),
        "outcome": outcome,
        "recommended_level": level,
        "income_deduction": ratio_text(loss),
    }
