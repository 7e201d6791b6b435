"""Assessment periods (RULES.md §2): parse `2026Q3`, `2026-Q3`, `Q3`, `2026FY` and know their months.

Which periods exist comes from the rulebook's `periods.months` table (a `Calendar`): each kind
names its calendar months. The kind whose months are all twelve is the annual one (`FY` in the
shipped rulebook); the other kinds split the year into consecutive runs of months (`Q1`..`Q4`),
so each month belongs to exactly one of them and each has a previous one.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass

from .errors import UsageError

ALL_MONTHS = tuple(range(1, 13))
# A period as written: an optional year, an optional separator, a kind code (checked later
# against the calendar). Kind codes start with a letter, so the year never runs into them.
_PERIOD_RE = re.compile(r"^(?:(\d{4})\s*[-_/]?\s*)?([A-Z][A-Z0-9]*)$")
# A month as written: 2026M07, 2026M7, 2026-07, 2026/7, 2026年7月 (the kind is then M07).
_MONTH_RE = re.compile(r"^(\d{4})(?:M|[-_/.]|年)(\d{1,2})月?$")


@dataclass(frozen=True, order=True)
class Period:
    """One period of one year; `kind` is a key of the rulebook's `periods.months` (`Q3`, `FY`).

    `is_annual` is set from the calendar when the period is made (`Calendar.period`).
    """

    year: int
    kind: str
    is_annual: bool

    @property
    def code(self) -> str:
        return f"{self.year}{self.kind}"

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class Calendar:
    """The periods of a rulebook: kind -> calendar months, in rulebook order.

    `load_rulebook` checks that exactly one kind (`annual`) holds all twelve months and that the
    other kinds split the year into consecutive runs; this class relies on it.
    """

    months: dict[str, tuple[int, ...]]
    annual: str

    @property
    def kinds(self) -> list[str]:
        return list(self.months)

    @property
    def sub_annual(self) -> list[str]:
        """The kinds other than the annual one, in calendar order (Q1, Q2, Q3, Q4)."""
        return sorted((k for k in self.months if k != self.annual), key=lambda k: self.months[k])

    def period(self, year: int, kind: str) -> Period:
        return Period(year, kind, kind == self.annual)

    def kind_of_month(self, month: int) -> str:
        """The sub-annual kind holding a calendar month (the annual kind if there is none)."""
        return next((k for k in self.sub_annual if month in self.months[k]), self.annual)

    def example(self) -> str:
        """How a period is written, for messages: `2026Q1、2026-Q1、Q1 或 2026FY`, or for a
        calendar of months `2026M07、2026-07、2026年7月 或 2026FY`."""
        k = (self.sub_annual or [self.annual])[0]
        if re.fullmatch(r"M\d\d", k):
            m = int(k[1:])
            return f"2026{k}、2026-{m:02d}、2026年{m}月 或 2026{self.annual}"
        return f"2026{k}、2026-{k}、{k} 或 2026{self.annual}"


def normalise_text(value: str) -> str:
    """NFKC-fold (full-width to half-width), strip spaces of both widths."""
    return unicodedata.normalize("NFKC", value).strip()


def split_period(text: object, default_year: int | None = None) -> tuple[int, str]:
    """(year, kind code) of a period as written, without checking the kind against a calendar.

    For looking a period up where its rulebook is not known yet (the ledger of `explain`).
    """
    cleaned = normalise_text(text).upper().replace(" ", "") if isinstance(text, str) else ""
    month = _MONTH_RE.match(cleaned)
    if month and 1 <= int(month.group(2)) <= 12:
        return int(month.group(1)), f"M{int(month.group(2)):02d}"
    match = _PERIOD_RE.match(cleaned)
    if not match:
        raise UsageError(f"考核期「{text}」格式不正确,应为年份加考核期代码,如 2026Q3、2026-Q3")
    year = int(match.group(1)) if match.group(1) else (default_year or _dt.date.today().year)
    kind = match.group(2)
    if re.fullmatch(r"M\d", kind):  # M7 is M07
        kind = f"M0{kind[1]}"
    return year, kind


def parse_period(text: object, calendar: Calendar, default_year: int | None = None) -> Period:
    """Parse a period as written by a clerk or a workbook; raise UsageError if it is not one of
    the calendar's."""
    try:
        year, kind = split_period(text, default_year)
    except UsageError:
        kind = ""
    if kind not in calendar.months:
        kinds = "、".join(calendar.months)
        raise UsageError(
            f"考核期「{text}」格式不正确,应为 {calendar.example()}(考核期代码为 {kinds} 之一)"
        )
    return calendar.period(year, kind)


def previous_period(period: Period, calendar: Calendar) -> Period:
    """The period just before: the previous year's for the annual kind; otherwise the kind whose
    months end where this one's begin (the first of the year follows the previous year's last)."""
    if period.is_annual:
        return calendar.period(period.year - 1, calendar.annual)
    order = calendar.sub_annual
    i = order.index(period.kind)
    if i == 0:
        return calendar.period(period.year - 1, order[-1])
    return calendar.period(period.year, order[i - 1])
