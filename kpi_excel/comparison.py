"""What if the rules change? Re-score a period's stored inputs under another rulebook.

    import kpi_excel
    result = kpi_excel.compare("2026Q3", "rulebook_2027.yaml", ledger="output/ledger.sqlite")
    result.people    # one row per person whose total, grade, outcome or flags change
    result.tallies   # per branch, then the bank: how many moved up or down, newly flagged …
    result.rules     # what changed between the two rulebooks (rules_diff.RuleChange)

No workbook is read. The period's current run (of the other rulebook's scheme, or of the main
policy when the period has no run of it) is taken from the ledger, which keeps every person's inputs: they are scored again, through
the library's `api.score` exactly as a run scores them, once under the rulebook the run was
scored by (kept in the ledger with the run) and once under the other rulebook. Both scorings get
the history the run had (rules across periods: the months before the period, the previous FY's
decisions, the year's period sums), read from the ledger as it was when the run was made
(`LedgerAsOf`), so that the two differ only by their rules. The people the run could not score
are not compared. The re-scoring under the run's own rulebook is checked against what the run
stored; people who differ are listed (`mismatched`), e.g. after kpi-excel itself changed.

The steps are separate so that an adjustments layer can come in between: `stored_run` gives
the run's input frame (`StoredRun.frame`, one row per person as `api.score` takes it), which a
later step may correct before `compare_stored` scores it under both rulebooks.

Only a rulebook of the same scheme can be compared: the same input fields (keys and types).
Otherwise `IncompatibleRules` (a UsageError) says which fields differ.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import describe as D
from .api import Scored, score
from .appeal import reapply_overrides
from .errors import FrameRefused, NotFound, RulebookError, UsageError
from .explain import explain_frame, fixed_texts
from .flags import WARNING_MARK, History, MonthFigure
from .history import build_history
from .ledger import DEFAULT_SCHEME, Ledger, RunRecord, exists
from .ledger_db import is_url
from .numbers import fmt_number
from .periods import Period, parse_period, split_period
from .rulebook import Flag, Rulebook, load_rulebook
from .rules_diff import RuleChange, diff_rules
from .schema import Field

OUTCOME_ORDER = ("none", "warning", "demote", "dismiss")  # mildest first
IDENTITY = ("emp_id", "name", "role", "branch_code", "branch_name")

# The columns of `Comparison.people` and their Chinese headers (the workbook's and the page's).
PEOPLE_COLUMNS = {
    "branch_code": "机构号", "branch_name": "机构名称", "emp_id": "员工编号", "name": "姓名",
    "role_label": "岗位", "total_before": "原综合得分", "total_after": "新综合得分",
    "total_change": "得分变化", "grade_before": "原等级", "grade_after": "新等级",
    "grade_move": "等级变化", "outcome_before": "原考核结论", "outcome_after": "新考核结论",
    "outcome_move": "结论变化", "flags_before": "原预警与处理", "flags_after": "新预警与处理",
    "changed": "变化项目", "reason": "原因",
}  # fmt: skip
# The columns of `Comparison.tallies` and their headers: people counted in each.
TALLY_COLUMNS = {
    "branch_code": "机构号", "branch_name": "机构名称", "compared": "比较人数",
    "changed": "有变化", "total_up": "得分上升", "total_down": "得分下降",
    "grade_up": "等级上升", "grade_down": "等级下降", "flag_new": "新增预警",
    "flag_cleared": "解除预警", "outcome_worse": "结论加重", "outcome_better": "结论减轻",
    "not_scored": "新规则下未计分",
}  # fmt: skip
COUNT_KEYS = [k for k in TALLY_COLUMNS if k not in ("branch_code", "branch_name")]
BANK_LABEL = "全行合计"
UP, DOWN, WORSE, BETTER = "上升", "下降", "加重", "减轻"
NOT_SCORED = "未计分"


class IncompatibleRules(UsageError):
    """The other rulebook is not of the run's scheme (other input fields): nothing to compare."""


@dataclass(frozen=True)
class StoredRun:
    """A period's current run as the ledger keeps it."""

    run: RunRecord
    rules: Rulebook  # the rulebook the run was scored by
    period: Period
    frame: pd.DataFrame  # the inputs of each person the run scored, as `api.score` takes them
    stored: pd.DataFrame  # what the run stored of them: total, grade, outcome, flags (text)
    not_scored: int  # people of the run it could not score (not compared)


@dataclass(frozen=True)
class Comparison:
    """The outcome of `compare`: see the module's docstring."""

    period: Period
    run: RunRecord
    base: Rulebook  # the run's own rulebook
    other: Rulebook
    people: pd.DataFrame  # PEOPLE_COLUMNS, one row per person who changes
    tallies: pd.DataFrame  # TALLY_COLUMNS, one row per branch, then the bank (BANK_LABEL)
    rules: list[RuleChange]
    compared: int
    not_scored: int
    mismatched: list[str] = field(default_factory=list)  # emp_ids: re-score ≠ the run's result
    before: Scored | None = None  # the full scorings, for a caller who wants more
    after: Scored | None = None

    @property
    def bank(self) -> dict[str, int]:
        """The bank's tallies: count key -> people."""
        row = self.tallies.iloc[-1]
        return {k: int(row[k]) for k in COUNT_KEYS}


# --- the stored run -------------------------------------------------------------------------


def run_rulebook(ledger: Ledger, run: RunRecord) -> Rulebook:
    """The rulebook a run was scored by, from the text the ledger kept with it."""
    text = ledger.rulebook_text(run.id)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rulebook.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_rulebook(path)
        except RulebookError:
            raise UsageError(
                f"运行 {run.run_id} 所用的规则由较早版本的 kpi-excel 记录,本版本无法读取,不能比较"
            ) from None


def stored_run(
    ledger: Ledger, period: str | Period, scheme: str = DEFAULT_SCHEME, year: int | None = None
) -> StoredRun:
    """The period's current run of `scheme`, with the inputs of everyone it scored.

    Raises NotFound (Chinese) when the period has no run."""
    code = _code(period, year)
    run = ledger.current_run(code, scheme)
    if run is None:
        where = "" if scheme == DEFAULT_SCHEME else f"方案 {scheme} 的"
        raise NotFound(
            f"台账中没有{where}考核期 {code} 的运行记录,无法比较;请先运行 kpi-excel run {code}"
        )
    rules = run_rulebook(ledger, run)
    people = [p for p in ledger.run_people(run.id) if p["status"] == "scored"]
    role = [p["results"].get("role_label") for p in people]
    branch = [p["results"].get("branch_name") for p in people]
    identity = {k: [p[k] for p in people] for k in ("emp_id", "name", "branch_code")}
    identity |= {"role": role, "branch_name": branch}
    frame = pd.DataFrame({k: list(identity[k]) for k in IDENTITY})
    keys = [f.key for f in rules.contract.fields if f.numeric or f.kind == "yesno"]
    records = [p["inputs"] for p in people]
    inputs = pd.DataFrame.from_records(records, columns=None if records else keys)
    frame = pd.concat([frame, inputs.drop(columns=list(IDENTITY), errors="ignore")], axis=1)
    results = ("total", "grade", "outcome", "flags")
    stored = pd.DataFrame({k: [p[k] for p in people] for k in results})
    stored.insert(0, "emp_id", frame["emp_id"])
    not_scored = run.people_scored + run.people_refused - len(people)
    return StoredRun(run, rules, parse_period(code, rules.calendar), frame, stored, not_scored)


def _code(period: str | Period, year: int | None) -> str:
    """A period's code; until the run's rulebook is read, the text is only split into a year
    and a kind (which periods exist is that rulebook's to say)."""
    if isinstance(period, Period):
        return period.code
    y, kind = split_period(period, default_year=year)
    return f"{y}{kind}"


class LedgerAsOf:
    """The ledger as it was when run `before` was made: each period's current run is as
    `Ledger.current_run` says of the runs and approvals recorded before it. `history.build_history` reads it as it
    reads a Ledger; `people_of` answers are kept, as both scorings ask for the same people."""

    def __init__(self, ledger: Ledger, before: RunRecord) -> None:
        self.ledger, self.before = ledger, before
        self._people: dict[tuple[int, frozenset[str] | None], dict] = {}

    def current_run(self, period: str, scheme: str | None = None) -> RunRecord | None:
        return self.ledger.current_run(period, self.before.scheme, before=self.before.id)

    def people_of(self, run: int, emp_ids: Iterable[str] | None = None) -> dict[str, dict]:
        key = (run, None if emp_ids is None else frozenset(emp_ids))
        if key not in self._people:
            self._people[key] = self.ledger.people_of(run, key[1])
        return self._people[key]


def run_history(view: LedgerAsOf, stored: StoredRun, rules: Rulebook) -> History:
    """The history of the stored run's people for `rules` (its cross-period rules' own
    parameters), from the ledger as it was when the run was made."""
    role_of = rules.role_of_label()
    groups = {}
    for emp, label in zip(stored.frame["emp_id"], stored.frame["role"], strict=True):
        role = role_of.get(str(label))
        if role is not None:
            groups[emp] = rules.roles[role].group
    return build_history(view, rules, stored.period, groups)  # type: ignore[arg-type]


def check_same_scheme(base: Rulebook, other: Rulebook, run: RunRecord) -> None:
    """Refuse a rulebook whose input fields (keys and types) are not the run's."""
    mine = {f.key: f for f in base.contract.fields}
    theirs = {f.key: f for f in other.contract.fields}
    lines = []
    missing = _labels(mine[k] for k in mine if k not in theirs)
    extra = _labels(theirs[k] for k in theirs if k not in mine)
    retyped = [
        f"{label}({mine[k].kind}→{theirs[k].kind})"
        for k in mine
        if k in theirs and mine[k].kind != theirs[k].kind
        for label in _labels([theirs[k]])
    ]
    retyped = list(dict.fromkeys(retyped))
    if missing:
        lines.append(f"缺少字段:{_few(missing)}")
    if extra:
        lines.append(f"多出字段:{_few(extra)}")
    if retyped:
        lines.append(f"类型不同:{_few(retyped)}")
    if lines:
        raise IncompatibleRules(
            f"规则文件 {other.path.name}(方案 {other.id})与考核期 {run.period} 的运行"
            f"(运行 {run.run_id},方案 {run.scheme})的输入字段不同,不是同一方案的规则,不能比较:"
            + ";".join(lines)
        )


def _labels(fields: Iterable[Field]) -> list[str]:
    """Fields by their labels, a field filled in per month once (各月存款日均(万元))."""
    out = (
        f.label if f.month is None else f.label.replace(f"{f.month}月", "各月", 1) for f in fields
    )
    return list(dict.fromkeys(out))


def _few(names: list[str], most: int = 8) -> str:
    more = f" 等 {len(names)} 个" if len(names) > most else ""
    return "、".join(names[:most]) + more


# --- comparing ------------------------------------------------------------------------------


def compare(
    period: str | Period,
    rules: Rulebook | str | Path,
    *,
    ledger: Ledger | str | Path,
    scheme: str | None = None,
    year: int | None = None,
    adjust: Callable[[StoredRun], StoredRun] | None = None,
) -> Comparison:
    """Re-score the period's current run under `rules` (a Rulebook, a shipped scheme's id or a
    rulebook file) and say who changes and why.

    `ledger`: a Ledger or the ledger file; `scheme`: whose run (default: the scheme of `rules`
    (its id) if the period has a run of it, else the main policy's, so that a renamed copy of a
    rulebook compares with the run of the rulebook it was copied from);
    `year`: the year of a period written without one; `adjust`: called with the stored run
    before it is scored (the hook for a layer that corrects inputs, e.g. accepted appeals),
    returns the run to score. Raises NotFound (no such run or ledger), IncompatibleRules,
    UsageError or RulebookError, with Chinese messages."""
    other = rules if isinstance(rules, Rulebook) else load_rulebook(rules)
    if isinstance(ledger, Ledger):
        return _compare(ledger, period, other, scheme, year, adjust)
    path = ledger if is_url(ledger) else Path(ledger)
    if not exists(path):
        raise NotFound(f"找不到台账 {path},请先运行 kpi-excel run,或用 --ledger 指定台账文件")
    with Ledger(path) as opened:
        return _compare(opened, period, other, scheme, year, adjust)


def _compare(
    ledger: Ledger,
    period: str | Period,
    other: Rulebook,
    scheme: str | None,
    year: int | None,
    adjust: Callable[[StoredRun], StoredRun] | None,
) -> Comparison:
    if scheme is None:  # the rulebook's own scheme, else the main policy's run (a renamed copy)
        code = _code(period, year)
        ran = [s for s in (other.id, DEFAULT_SCHEME) if ledger.current_run(code, s) is not None]
        scheme = ran[0] if ran else other.id
    stored = stored_run(ledger, period, scheme, year)
    if adjust is not None:
        stored = adjust(stored)
    # the run's inputs are stored corrected; its accepted appeals' outcomes apply under both
    overrides = ledger.adjustments_of(stored.run.id)
    return compare_stored(stored, other, LedgerAsOf(ledger, stored.run), overrides)


def compare_stored(
    stored: StoredRun,
    other: Rulebook,
    view: LedgerAsOf | None = None,
    adjustments: list[dict] | None = None,
) -> Comparison:
    """Score `stored.frame` under the run's rulebook and under `other`, and compare.

    `view`: the ledger as of the run, for the rules across periods (None: judged on this
    period alone, as `api.score` does without history); `adjustments`: the run's (ledger rows),
    whose outcome overrides apply to both scorings (appeal.py)."""
    base = stored.rules
    check_same_scheme(base, other, stored.run)
    period = parse_period(stored.period.code, other.calendar)
    source = f"运行 {stored.run.run_id}"
    histories = [run_history(view, stored, r) if view else None for r in (base, other)]
    try:
        before = score(stored.frame, stored.period, base, history=histories[0], source=source)
        after = score(stored.frame, period, other, history=histories[1], source=source)
    except FrameRefused as exc:
        raise UsageError(f"无法按规则 {other.path.name} 重算{source}的人员:{exc}") from None
    if adjustments:
        reapply_overrides(before.people, adjustments, base)
        reapply_overrides(after.people, adjustments, other)
    people, moves = _changes(before, after, base, other, stored.period, period)
    return Comparison(
        period=stored.period,
        run=stored.run,
        base=base,
        other=other,
        people=people,
        tallies=_tallies(before, moves),
        rules=diff_rules(base, other),
        compared=len(stored.frame),
        not_scored=stored.not_scored,
        mismatched=_mismatched(stored.stored, before, base),
        before=before,
        after=after,
    )


def _numbers(texts: pd.Series) -> np.ndarray:
    return pd.to_numeric(texts.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def _codes(text: str) -> dict[str, bool]:
    """A flags cell (`A;B?`) as code -> raised as a warning only."""
    out = {}
    for part in filter(None, str(text).split(";")):
        out[part.rstrip(WARNING_MARK)] = part.endswith(WARNING_MARK)
    return out


def _outcome_level(rules: Rulebook) -> dict[str, int]:
    return {rules.outcomes[k]: i for i, k in enumerate(OUTCOME_ORDER) if rules.outcomes.get(k)}


def _grade_rank(grade: str, group: str, rules: Rulebook) -> int | None:
    names = [g for g, _, _ in rules.grades.get(group, [])]
    return names.index(grade) if grade in names else None


def _grade_move(before: str, after: str, group: str, base: Rulebook, other: Rulebook) -> str:
    """上升 / 下降 between two grade names: compared in the new rulebook's order where it
    knows both, else in the old one's."""
    if before == after or not before or not after:
        return ""
    for rules in (other, base):
        b, a = _grade_rank(before, group, rules), _grade_rank(after, group, rules)
        if b is not None and a is not None:
            return UP if a < b else DOWN if a > b else ""
    return ""


@dataclass(frozen=True)
class _Result:
    """What a scoring says of each person, as compared: the total (a float and its text), the
    grade, outcome and flags (text, '' when none), and whether the person was scored."""

    total: np.ndarray
    total_text: np.ndarray
    grade: np.ndarray
    outcome: np.ndarray
    flags: np.ndarray
    scored: np.ndarray

    @classmethod
    def of(cls, scored: Scored, rules: Rulebook) -> _Result:
        people = scored.people
        total = pd.to_numeric(people["total"], errors="coerce").to_numpy(dtype=float)
        text = fixed_texts(total, rules.total_decimals)

        def column(key: str) -> np.ndarray:
            if key not in people:
                return np.full(len(people), "", dtype=object)
            return (
                people[key]
                .astype(object)
                .where(people[key].notna(), "")
                .astype(str)
                .to_numpy(dtype=object)
            )

        ok = ~people["refused"].astype(bool).to_numpy()
        return cls(total, text, column("grade"), column("outcome"), column("flags"), ok)


@dataclass
class _Moves:
    """Per compared person (positions of the scored frames): what moved which way."""

    changed: np.ndarray
    total_up: np.ndarray
    total_down: np.ndarray
    grade_up: np.ndarray
    grade_down: np.ndarray
    flag_new: np.ndarray
    flag_cleared: np.ndarray
    outcome_worse: np.ndarray
    outcome_better: np.ndarray
    not_scored: np.ndarray


def _changes(
    before: Scored, after: Scored, base: Rulebook, other: Rulebook, p0: Period, p1: Period
) -> tuple[pd.DataFrame, _Moves]:
    b, a = _Result.of(before, base), _Result.of(after, other)
    n = len(b.total)
    total_diff = ~((b.total == a.total) | (np.isnan(b.total) & np.isnan(a.total)))
    refused = b.scored & ~a.scored
    grade_diff, outcome_diff = b.grade != a.grade, b.outcome != a.outcome
    flags_b, flags_a = list(map(_codes, b.flags)), list(map(_codes, a.flags))
    pairs = list(zip(flags_b, flags_a, strict=True))
    flags_diff = np.fromiter((x != y for x, y in pairs), bool, n)
    changed = total_diff | grade_diff | outcome_diff | flags_diff | refused
    groups = before.people["group"].astype(str).to_numpy(dtype=object)
    levels_b, levels_a = _outcome_level(base), _outcome_level(other)
    grade_moves = np.full(n, "", dtype=object)
    outcome_moves = np.full(n, "", dtype=object)
    for i in np.flatnonzero(changed & ~refused).tolist():
        grade_moves[i] = _grade_move(b.grade[i], a.grade[i], groups[i], base, other)
        lb, la = levels_b.get(b.outcome[i]), levels_a.get(a.outcome[i])
        if lb is not None and la is not None and la != lb:
            outcome_moves[i] = WORSE if la > lb else BETTER
    moves = _Moves(
        changed=changed,
        total_up=total_diff & (a.total > b.total),
        total_down=total_diff & (a.total < b.total),
        grade_up=grade_moves == UP,
        grade_down=grade_moves == DOWN,
        flag_new=np.fromiter((bool(y.keys() - x.keys()) for x, y in pairs), bool, n),
        flag_cleared=np.fromiter((bool(x.keys() - y.keys()) for x, y in pairs), bool, n),
        outcome_worse=outcome_moves == WORSE,
        outcome_better=outcome_moves == BETTER,
        not_scored=refused,
    )
    at = np.flatnonzero(changed)
    reasons = _Reasons(before, after, b, a, base, other, p1, at).lines()
    pb = before.people

    def take(key: str) -> np.ndarray:
        return pb[key].astype(object).to_numpy(dtype=object)[at]

    after_total = np.where(a.scored, a.total_text, NOT_SCORED)
    out = pd.DataFrame(
        {
            "branch_code": take("branch_code"),
            "branch_name": take("branch_name"),
            "emp_id": take("emp_id"),
            "name": take("name"),
            "role_label": take("role_label"),
            "total_before": b.total_text[at],
            "total_after": after_total[at],
            "total_change": [_delta(b.total_text[i], a.total_text[i]) for i in at.tolist()],
            "grade_before": b.grade[at],
            "grade_after": a.grade[at],
            "grade_move": grade_moves[at],
            "outcome_before": b.outcome[at],
            "outcome_after": a.outcome[at],
            "outcome_move": outcome_moves[at],
            "flags_before": b.flags[at],
            "flags_after": a.flags[at],
            "changed": _what(at, total_diff, grade_diff, outcome_diff, flags_diff, refused),
            "reason": reasons,
        },
        columns=list(PEOPLE_COLUMNS),
        index=pb.index[at],
    )
    return out.sort_values("branch_code", kind="stable"), moves


def _delta(before: str, after: str) -> str:
    """after − before, exactly, with a sign ('' when either is blank)."""
    if not before or not after:
        return ""
    d = Decimal(after) - Decimal(before)
    return f"+{d}" if d > 0 else str(d)


def _what(at: np.ndarray, *masks: np.ndarray) -> list[str]:
    names = ("综合得分", "等级", "考核结论", "预警", NOT_SCORED)
    return ["、".join(n for n, m in zip(names, masks, strict=True) if m[i]) for i in at.tolist()]


def _tallies(before: Scored, moves: _Moves) -> pd.DataFrame:
    people = before.people
    counts = pd.DataFrame({k: getattr(moves, k) for k in COUNT_KEYS if k != "compared"})
    counts.insert(0, "compared", True)
    counts = counts.astype(int)
    counts["branch_code"] = people["branch_code"].astype(str).to_numpy()
    names = people.groupby("branch_code", sort=True)["branch_name"].first()
    per = counts.groupby("branch_code", sort=True)[COUNT_KEYS].sum()
    per.insert(0, "branch_name", names.reindex(per.index).astype(str))
    per = per.reset_index()
    bank = {"branch_code": "", "branch_name": BANK_LABEL, **counts[COUNT_KEYS].sum().to_dict()}
    out = pd.concat([per, pd.DataFrame([bank])], ignore_index=True)
    out[COUNT_KEYS] = out[COUNT_KEYS].astype(int)
    return out[list(TALLY_COLUMNS)]


def _mismatched(stored: pd.DataFrame, before: Scored, rules: Rulebook) -> list[str]:
    """People whose re-score under the run's own rulebook is not what the run stored."""
    mine = _Result.of(before, rules)
    total = _numbers(stored["total"].fillna("").astype(str))
    same = (total == mine.total) | (np.isnan(total) & np.isnan(mine.total))
    for key in ("grade", "outcome", "flags"):
        same &= stored[key].fillna("").astype(str).to_numpy(dtype=object) == getattr(mine, key)
    return stored["emp_id"].to_numpy(dtype=object)[~same].tolist()


# --- reasons in words -----------------------------------------------------------------------


class _Reasons:
    """The reason of each changed person, one line per cause, from the rules' phrases
    (describe.py, the explanations of explain.py) and the person's own figures.

    Every figure and sentence is made for all changed people at once (one column each); the
    loop over people only picks and joins them."""

    def __init__(
        self,
        before: Scored,
        after: Scored,
        b: _Result,
        a: _Result,
        base: Rulebook,
        other: Rulebook,
        period: Period,
        at: np.ndarray,
    ) -> None:
        self.base, self.other, self.at = base, other, at
        self.pb, self.pa = before.people.iloc[at], after.people.iloc[at]
        self.b, self.a = b, a
        self.changes = diff_rules(base, other, merge_roles=False)
        self.scored = a.scored[at]
        self.role = self.pa["role"].astype(str).to_numpy(dtype=object)
        self.group = self.pa["group"].astype(str).to_numpy(dtype=object)
        self.explained: dict[str, np.ndarray] = {}
        if self.scored.any():
            frame = explain_frame(self.pa[self.scored], other, period)
            for key in frame.columns:
                column = np.full(len(at), "", dtype=object)
                column[self.scored] = frame[key].fillna("").astype(str).to_numpy(dtype=object)
                self.explained[key] = column
        self._about: dict[tuple, list[str]] = {}
        self._figures: dict[str, np.ndarray] = {}
        self._scores: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def lines(self) -> list[str]:
        out = []
        errors = self.pa["errors"] if "errors" in self.pa else pd.Series([""] * len(self.at))
        errors = errors.astype(object).where(errors.notna(), "").astype(str).to_numpy()
        for j in range(len(self.at)):
            if self.scored[j]:
                out.append("\n".join(self.person(j)))
            else:
                out.append(f"按新规则未计分:{errors[j]}" if errors[j] else "按新规则未计分")
        return out

    def about(self, *prefix: Any, full: bool = False) -> list[str]:
        """The rule changes under a key path of the rulebook, each in a few words (`full`:
        naming what they change, for a path whose owner the line does not name)."""
        key = (full, *prefix)
        if key not in self._about:
            self._about[key] = [
                c.sentence if full else c.short
                for c in self.changes
                if c.path[: len(prefix)] == prefix
            ]
        return list(self._about[key])

    def scores(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """An item's scores before and after (floats) and as text, for every changed person."""
        if key not in self._scores:
            sb, sa = _column(self.pb, key), _column(self.pa, key)
            tb = np.where(np.isnan(sb), "无", fixed_texts(sb, self.base.decimals)).astype(object)
            ta = np.where(np.isnan(sa), "无", fixed_texts(sa, self.other.decimals)).astype(object)
            self._scores[key] = (sb, sa, tb, ta)
        return self._scores[key]

    def person(self, j: int) -> list[str]:
        """The lines of the j-th changed person."""
        i = int(self.at[j])
        b, a = self.b, self.a
        role, group = self.role[j], self.group[j]
        lines: list[str] = []
        for item in self.other.items:
            sb, sa, tb, ta = self.scores(item.key)
            if _same_number(sb[j], sa[j]):
                continue
            causes = self.about("items", item.key, "by_role", role)
            rule = item.by_role.get(role)
            if rule is not None and rule.input:
                causes += self.about("derived", rule.input, full=True)
            sentence = self.explained.get(item.key, np.full(j + 1, ""))[j]
            lines.append(
                f"{item.label}得分{tb[j]}→{ta[j]}{_because(causes)}"
                + (f";按新规则:{sentence}" if sentence else "")
            )
        if not _same_number(b.total[i], a.total[i]):
            causes = [*self.about("total", full=True), *self.about("rounding", full=True)]
            if not lines:  # no item says why: the figures the total is computed from
                causes += [*self.about("parameters", full=True), *self.about("derived", full=True)]
            if causes or not lines:
                label = self.other.total.label
                lines.append(f"{label}{b.total_text[i]}→{a.total_text[i]}{_because(causes)}")
        if b.grade[i] != a.grade[i]:
            sentence = self.explained.get("grade", np.full(j + 1, ""))[j]
            lines.append(
                f"考核等级{b.grade[i] or '无'}→{a.grade[i] or '无'}"
                + (f":按新规则{sentence}" if sentence else "")
                + _because(self.about("grades", group, full=True))
            )
        lines += self.flags(j, i)
        if b.outcome[i] != a.outcome[i]:
            causes = self.about("outcomes", full=True)
            for code in _codes(a.flags[i]):
                causes += self.about("flags", code, "action", full=True)
            lines.append(f"考核结论{b.outcome[i] or '无'}→{a.outcome[i] or '无'}{_because(causes)}")
        return lines

    def flags(self, j: int, i: int) -> list[str]:
        before, after = _codes(self.b.flags[i]), _codes(self.a.flags[i])
        lines = []
        for code in sorted(before.keys() | after.keys()):
            causes = _because(self.about("flags", code))
            new_flag, old_flag = _flag(self.other, code), _flag(self.base, code)
            if code in after and code not in before and new_flag is not None:
                mark = f"({self.other.outcomes['warning']})" if after[code] else ""
                lines.append(
                    f"新增「{new_flag.label}」{mark}:{D.flag_text(new_flag, self.other)}"
                    f"({new_flag.article}){self.figures(new_flag)[j]}{causes}"
                )
            elif code in before and code not in after:
                label = old_flag.label if old_flag is not None else code
                if new_flag is None:
                    lines.append(f"不再触发「{label}」:新规则已删除该情形")
                    continue
                lines.append(
                    f"不再触发「{label}」:新规则为{D.flag_text(new_flag, self.other)}"
                    f"{self.figures(new_flag)[j]}{causes}"
                )
            elif code in before and before[code] != after[code] and new_flag is not None:
                now = self.other.outcomes["warning"] if after[code] else "认定"
                lines.append(
                    f"「{new_flag.label}」改为{now}({D.flag_when(new_flag, self.other)}){causes}"
                )
        return lines

    def figures(self, flag: Flag) -> np.ndarray:
        """Every changed person's figures the flag compares, under the new rules
        (,本人收贷收息率98.80%), '' where there are none."""
        if flag.code in self._figures:
            return self._figures[flag.code]
        n = len(self.at)
        out = np.full(n, "", dtype=object)
        if flag.kind == "consecutive_months":
            months = self.pa.get(f"flag_months:{flag.code}")
            unit, op = D.unit(flag.params["of"], self.other), flag.params["op"]
            for j, seq in enumerate(months.tolist() if months is not None else []):
                if isinstance(seq, tuple | list) and seq:
                    out[j] = ",本人" + "、".join(_month(m, unit, op) for m in seq)
        elif flag.kind == "condition":
            edges: dict[str, list[Any]] = {}
            for key, values in _leaves(flag.condition or {}):
                edges.setdefault(key, []).extend(values)
            parts = [
                D.label(key, self.other) + self.figure(key, values)
                for key, values in edges.items()
                if key in self.pa
            ]
            if parts:
                out = ",本人" + np.array(["、".join(p) for p in zip(*parts, strict=True)], object)
        self._figures[flag.code] = out
        return out

    def figure(self, key: str, edges: list[Any]) -> np.ndarray:
        """A figure of every changed person as a reader reads it (98.80%, 1300万元, 为是),
        never shown as a threshold it is not equal to."""
        rules = self.other
        spec = rules.contract.by_key.get(key)
        if spec is not None and spec.kind == "yesno":
            yes = ("true", "1", "是")
            values = self.pa[key].astype(str).str.strip().str.lower().isin(yes).to_numpy()
            return np.where(values, "为是", "为否").astype(object)
        x = _column(self.pa, key)
        if D.is_score(key, rules):
            return fixed_texts(x, rules.decimals, edges=edges) + "分"
        if D.is_ratio(key, rules):
            return fixed_texts(x, rules.decimals, 100, edges) + "%"
        return np.array([fmt_number(v) for v in x.tolist()], dtype=object) + D.unit(key, rules)


def _because(causes: list[str]) -> str:
    return f"(规则调整:{'、'.join(causes)})" if causes else ""


def _column(frame: pd.DataFrame, key: str) -> np.ndarray:
    """A figure column as floats (NaN where blank or missing)."""
    if key not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[key], errors="coerce").to_numpy(dtype=float)


def _same_number(x: float, y: float) -> bool:
    return x == y or (x != x and y != y)


def _flag(rules: Rulebook, code: str) -> Flag | None:
    return next((f for f in rules.flags if f.code == code), None)


def _leaves(cond: dict[str, Any]) -> list[tuple[str, tuple]]:
    """(field, the thresholds it is compared with) of each comparison of a condition."""
    if "all" in cond or "any" in cond:
        return [x for c in cond.get("all", cond.get("any", [])) for x in _leaves(c)]
    value = cond.get("value")
    edges = () if isinstance(value, bool) or value is None else (value,)
    return [(cond["field"], edges)] if "field" in cond else []


def _month(m: MonthFigure, unit: str, op: str) -> str:
    amount = fmt_number(m.amount) if m.amount is not None else ""
    limit = fmt_number(m.threshold) if m.threshold is not None else ""
    bound = "低于" if op == "<" else "不高于"
    return f"{m.label}{amount}{unit}({bound}{limit}{unit})"
