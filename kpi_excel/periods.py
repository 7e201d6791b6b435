"""Assessment periods (RULES.md §2): parse `2026Q3`, `2026-Q3`, `Q3`, `2026FY` and know their months."""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass

from .errors import UsageError

_PERIOD_RE = re.compile(r"^(?:(\d{4})\s*[-_/ ]?\s*)?(Q[1-4]|FY)$")


@dataclass(frozen=True, order=True)
class Period:
    """One period of one year; `kind` is `Q1`..`Q4` or `FY`."""

    year: int
    kind: str

    @property
    def code(self) -> str:
        return f"{self.year}{self.kind}"

    @property
    def is_annual(self) -> bool:
        return self.kind == "FY"

    def __str__(self) -> str:
        return self.code


def normalise_text(value: str) -> str:
    """NFKC-fold (full-width to half-width), strip spaces of both widths."""
    return unicodedata.normalize("NFKC", value).strip()


def parse_period(text: object, default_year: int | None = None) -> Period:
    """Parse a period as written by a clerk or a workbook; raise UsageError if it is not one."""
    if not isinstance(text, str):
        raise UsageError(f"考核期「{text}」格式不正确,应为 2026Q3、2026-Q3、Q3 或 2026FY")
    cleaned = normalise_text(text).upper().replace(" ", "")
    match = _PERIOD_RE.match(cleaned)
    if not match:
        raise UsageError(f"考核期「{text}」格式不正确,应为 2026Q3、2026-Q3、Q3 或 2026FY")
    year = int(match.group(1)) if match.group(1) else (default_year or _dt.date.today().year)
    return Period(year, match.group(2))


def period_months(period: Period, months_by_kind: dict[str, list[int]]) -> list[int]:
    """The calendar months of a period, from the rulebook's table."""
    return list(months_by_kind[period.kind])


def previous_period(period: Period) -> Period:
    """The quarter before a quarter (Q1 -> previous year's Q4); the previous year for FY."""
    if period.kind == "FY":
        return Period(period.year - 1, "FY")
    q = int(period.kind[1])
    return Period(period.year - 1, "Q4") if q == 1 else Period(period.year, f"Q{q - 1}")
