"""History from the ledger for Article 14's rules across periods (RULES §6).

A14-2-DEPOSIT3M counts months across the period boundary: the months just before this period
come from the current runs of earlier periods, judged against the deposit base reported with
them. A14-1-REPEAT needs the previous FY's decisions. Where an earlier period has no current
run, nothing is guessed: the person's explanation says the cross-period part was not judged.

For reading the ledger back (`kpi-excel history`, `explain`): the rulebook a run was scored
with, and a run's flag codes in words.
"""

from __future__ import annotations

from decimal import Decimal

from . import describe as D
from .errors import RulebookError
from .exact import Q
from .flags import WARNING_MARK, History, MonthFigure
from .ledger import Ledger
from .periods import Period, previous_period
from .rulebook import Rulebook, load_rulebook


def _months_before(period: Period, months: list[int], count: int) -> list[tuple[int, int]]:
    """The `count` calendar (year, month) pairs just before the period's first month."""
    year, month = period.year, months[0]
    out = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append((year, month))
    return list(reversed(out))


def build_history(
    ledger: Ledger, rules: Rulebook, period: Period, groups: dict[str, str]
) -> History:
    """What the ledger says of the people (`groups`: emp_id -> group) for the rules across
    periods; each flag looks at the people of its own groups only."""
    history = History()
    months = rules.months[period.kind]
    if period.is_annual:
        for d in rules.derived:
            if d.kind == "period_sum":
                _period_sum(ledger, rules, d.key, d.a, period, list(groups), history)
    for flag in rules.flags:
        emp_ids = [e for e, g in groups.items() if g in flag.groups]
        if not emp_ids:
            continue
        if flag.kind == "consecutive_months":
            _deposit_months(ledger, rules, flag.params, period, months, emp_ids, history)
        elif flag.kind == "repeat" and period.is_annual:
            previous = previous_period(period, rules.calendar).code
            _previous_fy(ledger, rules.id, flag.params["of"], previous, emp_ids, history)
    return history


def _deposit_months(
    ledger: Ledger,
    rules: Rulebook,
    p: dict,
    period: Period,
    months: list[int],
    emp_ids: list[str],
    history: History,
) -> None:
    wanted = _months_before(period, months, int(p["months"]) - 1)
    missing: list[str] = []
    seq: dict[str, list[MonthFigure]] = {e: [] for e in emp_ids}
    cache: dict[str, dict] = {}
    for year, month in wanted:
        source, source_code = None, ""
        # the run of the period holding the month, else of that year's annual period
        for kind in dict.fromkeys((rules.calendar.kind_of_month(month), rules.calendar.annual)):
            code = f"{year}{kind}"
            if code not in cache:
                run = ledger.current_run(code, rules.id)
                cache[code] = ledger.people_of(run.id, emp_ids) if run else None
            if cache[code] is not None:
                source, source_code = cache[code], code
                break
        if source is None:
            name = f"{year}{rules.calendar.kind_of_month(month)}"
            if name not in missing:
                missing.append(name)
            for e in emp_ids:
                seq[e] = []  # an unknown month breaks the run: start again after it
            continue
        amounts: list[float] = []
        bases: list[float] = []
        for e in emp_ids:
            person = source.get(e)
            scored = bool(person) and person["status"] == "scored"
            value = person["inputs"].get(f"{p['field']}{month}") if scored else None
            base = person["inputs"].get(p["of"]) if scored else None
            amounts.append(float("nan") if value is None else float(value))
            bases.append(float("nan") if base is None else float(base))
        amount_q = Q.from_floats(amounts)
        threshold = Q.from_floats(bases) * p["ratio"]
        below = amount_q.cmp(p["op"], threshold)
        limit = threshold.floats()
        for i, e in enumerate(emp_ids):
            blank = bool(amount_q.na[i] or threshold.na[i])
            seq[e].append(
                MonthFigure(
                    f"{year}年{month}月",
                    None if blank else amounts[i],
                    None if threshold.na[i] else float(limit[i]),
                    None if blank else bool(below[i]),
                    source_code,
                    None if threshold.na[i] else bases[i],
                )
            )
    history.months_before = seq
    if missing:
        note = f"无{'、'.join(missing)}数据,跨期连续月份未判断"
        for e in emp_ids:
            history.notes[e] = _join(history.notes.get(e), note)


def _previous_fy(
    ledger: Ledger,
    scheme: str,
    codes: list[str],
    previous: str,
    emp_ids: list[str],
    history: History,
) -> None:
    run = ledger.current_run(previous, scheme)
    if run is None:
        for e in emp_ids:
            history.notes[e] = _join(history.notes.get(e), f"无{previous}数据,连续两年降级未判断")
        return
    history.previous_fy_known = True
    for emp, person in ledger.people_of(run.id, emp_ids).items():
        decided = set(person["decided"].split(";")) if person["decided"] else set()
        if decided & set(codes):
            history.previous_fy_demoted.add(emp)


def _period_sum(
    ledger: Ledger,
    rules: Rulebook,
    key: str,
    figure: str,
    period: Period,
    emp_ids: list[str],
    history: History,
) -> None:
    """Each person's sum of `figure` over the current runs of the year's other periods (a
    period whose run has no scored row for the person counts 0); when a period was never run,
    no sum, and every person's explanation names the missing periods."""
    sums = dict.fromkeys(emp_ids, Decimal(0))
    missing = []
    for kind in rules.calendar.sub_annual:
        code = f"{period.year}{kind}"
        run = ledger.current_run(code, rules.id)
        if run is None:
            missing.append(code)
            continue
        for emp, person in ledger.people_of(run.id, emp_ids).items():
            value = person["results"].get(figure) if person["status"] == "scored" else None
            if value not in (None, ""):
                sums[emp] += Decimal(str(value))
    if missing:
        note = f"缺少{'、'.join(missing)}的考核结果,未清算"
        for e in emp_ids:
            history.notes[e] = _join(history.notes.get(e), note)
        return
    history.period_sums[key] = sums


def _join(a: str | None, b: str) -> str:
    return f"{a};{b}" if a else b


def run_rulebook(ledger: Ledger, run: int) -> Rulebook | None:
    """The rulebook a run was scored with (stored with it), or None when this kpi-excel cannot
    read it (written by an earlier version in a format it no longer reads)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rulebook.yaml"
        path.write_text(ledger.rulebook_text(run), encoding="utf-8")
        try:
            return load_rulebook(path)
        except RulebookError:
            return None


def flags_in_words(codes: str, rules: Rulebook | None) -> str:
    """A results row's flag codes (`A14-3-CONDUCT;A14-1-SCORE?`, CONTRACT.md) as a person reads
    them: each flag's Chinese name with its code beside it and what it means, a code marked
    `?` in words: `行长综合得分未达标(A14-1-SCORE):年度考核时将降级(本期仅预警)`. A code the
    rulebook does not know keeps its code, its mark in words."""
    out = []
    for code in filter(None, (c.strip() for c in (codes or "").split(";"))):
        warns = code.endswith(WARNING_MARK)
        bare = code.removesuffix(WARNING_MARK)
        flag = next((f for f in rules.flags if f.code == bare), None) if rules else None
        if flag is None or rules is None:
            out.append(f"{bare}(本期仅预警)" if warns else bare)
        else:
            out.append(f"{D.flag_name(flag)}:{D.flag_consequence(flag, rules, warns)}")
    return ";".join(out)
