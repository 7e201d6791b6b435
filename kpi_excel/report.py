"""The run report: one self-contained `report.html` (inline CSS, inline SVG, no network).

All figures and chart geometry are computed here; the template (templates/report.html.j2) only
lays them out. Jinja autoescaping is on, so everything a branch typed (file names, names,
messages) is escaped; the template never marks such text as safe.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from . import __version__
from .describe import flag_consequence
from .flags import flag_mask, flag_warns, raised_flags
from .ledger_db import is_url, shown
from .rulebook import Rulebook
from .timefmt import local_time
from .write.atomic import write_atomic
from .write.fastsheet import text_of, texts
from .write.summary import BranchTally, grade_names, outcome_names, tallies

TEMPLATE = "report.html.j2"

# Chart geometry (SVG user units = CSS px).
BAR_W, BAR_GAP, PLOT_H = 56, 24, 180  # vertical bars: grade distribution
ROW_H, ROW_GAP, MAX_LABEL_W, PLOT_W = 22, 8, 320, 420  # horizontal bars: average total per branch
MARGIN = 30


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, already placed: rectangle, category label and value label."""

    x: float
    y: float
    w: float
    h: float
    label: str
    value: str
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    bars: list[Bar]
    axis: tuple[float, float, float, float]  # x1, y1, x2, y2 of the base line
    title: str
    vertical: bool  # vertical bars (labels under them) or horizontal bars (labels left of them)
    color: str


def grade_chart(counts: dict[str, int]) -> Chart:
    """Vertical bars, one per grade, height proportional to the count."""
    top = max(counts.values(), default=0) or 1
    base_y = MARGIN + PLOT_H
    bars = []
    for i, (grade, n) in enumerate(counts.items()):
        x = MARGIN + BAR_GAP + i * (BAR_W + BAR_GAP)
        h = PLOT_H * n / top
        bars.append(
            Bar(
                x,
                base_y - h,
                BAR_W,
                h,
                grade,
                str(n),
                x + BAR_W / 2,
                base_y + 18,
                x + BAR_W / 2,
                base_y - h - 6,
            )
        )
    width = MARGIN * 2 + BAR_GAP + len(counts) * (BAR_W + BAR_GAP)
    return Chart(
        width,
        base_y + 30,
        bars,
        (MARGIN, base_y, width - MARGIN, base_y),
        "全行考核等级分布(人数)",
        True,
        "#4472C4",
    )


def average_chart(branches: list[BranchTally], total_label: str = "综合得分") -> Chart:
    """Horizontal bars, one per branch, length proportional to the average total."""
    top = max((b.average for b in branches if b.average is not None), default=0.0)
    top = max(top, 1.0)
    labels = [f"{b.name}({b.code})" if b.name else b.code for b in branches]
    x0 = min(max((len(t) for t in labels), default=4) * 13 + 16, MAX_LABEL_W)
    bars = []
    for i, (b, label) in enumerate(zip(branches, labels, strict=True)):
        y = MARGIN + i * (ROW_H + ROW_GAP)
        avg = b.average if b.average is not None and b.average > 0 else 0.0
        w = PLOT_W * avg / top
        value = b.average_text or "无计分人员"
        bars.append(
            Bar(x0, y, w, ROW_H, label, value, x0 - 6, y + ROW_H * 0.7, x0 + w + 6, y + ROW_H * 0.7)
        )
    height = MARGIN * 2 + len(branches) * (ROW_H + ROW_GAP)
    return Chart(
        x0 + PLOT_W + 90,
        height,
        bars,
        (x0, MARGIN - 4, x0, height - MARGIN),
        f"各机构平均{total_label}",
        False,
        "#70AD47",
    )


def _person(emp: str, name: str) -> str:
    return f"{name}({emp})" if emp and name else emp or name


def _where(sheets: list[str], cells: list[str]) -> list[str]:
    """'sheet!cell' (or whichever of the two is given) for each pair."""
    return ["!".join(x for x in pair if x) for pair in zip(sheets, cells, strict=True)]


def _column(frame: pd.DataFrame, key: str) -> list[str]:
    """`text_of` of each value of a column ('' for all if the column is missing)."""
    return texts(frame[key]).tolist() if key in frame else [""] * len(frame)


def refused_rows(people: pd.DataFrame, problems: pd.DataFrame) -> list[dict[str, str]]:
    """One line per reason a person was refused: file, sheet!cell, person, reason."""
    if not len(people):
        return []
    by_row: dict[Any, list[dict[str, str]]] = {}
    if "level" in problems:
        refusals = problems[problems["level"] == "refuse_row"]
        wheres = _where(_column(refusals, "sheet"), _column(refusals, "cell"))
        messages = _column(refusals, "message")
        for row, where, message in zip(refusals["row"], wheres, messages, strict=True):
            by_row.setdefault(row, []).append({"where": where, "reason": message})
    refused = people[people["refused"].astype(bool)]
    lines = []
    for idx, file, branch, emp, name, row, errors in zip(
        refused.index,
        *(
            _column(refused, k)
            for k in ("_file", "branch_name", "emp_id", "name", "_row", "errors")
        ),
        strict=True,
    ):
        base = {"file": file, "branch": branch, "person": _person(emp, name)}
        found = by_row.get(idx)
        if found:
            lines.extend({**base, **p} for p in found)
        else:
            lines.append({**base, "where": f"第{row}行" if row else "", "reason": errors})
    return lines


def notes(problems: pd.DataFrame) -> list[dict[str, str]]:
    if "level" not in problems:
        return []
    found = problems[problems["level"] == "note"]
    wheres = _where(_column(found, "sheet"), _column(found, "cell"))
    return [
        {"file": file, "where": where, "message": message}
        for file, where, message in zip(
            _column(found, "file"), wheres, _column(found, "message"), strict=True
        )
    ]


def _size(n: Any) -> str:
    """Exact byte count, for an audit trail ('12,345 字节')."""
    try:
        return f"{int(n):,} 字节"
    except (TypeError, ValueError):
        return text_of(n)


def _flags(result, rules: Rulebook) -> dict[str, Any]:
    """How many flags were raised, and per flag (code order) its name, code, what it means
    this period and how many scored people raised it: counted from the scorer's flag columns
    (the summary's 预警与处理 lists the same rows, one per person and flag)."""
    people = result.people
    scored = ~people["refused"].astype(bool).to_numpy() if len(people) else None
    rows = []
    for flag in raised_flags(rules, people) if len(people) else []:
        count = int((flag_mask(people, flag) & scored).sum())
        if count:
            action = flag_consequence(flag, rules, flag_warns(flag, result.period))
            rows.append(
                {"label": text_of(flag.label), "code": text_of(flag.code), "action": text_of(action),
                 "count": count}
            )  # fmt: skip
    return {"flag_count": sum(r["count"] for r in rows), "flag_rows": rows}


# What the report says for the command line of a run started from Python rather than the CLI.
VIA_LIBRARY = "无(由 Python 程序通过 kpi_excel 库调用运行,不是在命令行中输入的命令)"


def run_facts(result) -> dict[str, str]:
    """What an auditor needs to place the run: its id, start and end (local time), the tool's
    version, the ledger it was recorded in, and the command that started it."""
    ledger = getattr(result, "ledger_path", None)
    command = getattr(result, "command_line", None)
    return {
        "id": getattr(result, "run_id", "") or "",
        "started": local_time(getattr(result, "started_at", "")),
        "finished": local_time(getattr(result, "finished_at", "")),
        "version": __version__,
        "ledger": (shown(ledger) if is_url(ledger) else os.path.abspath(ledger)) if ledger else "",
        "command": command if command is not None else VIA_LIBRARY,
    }


def context(result, rules: Rulebook, inputs: list[dict] | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    per_branch, bank = tallies(result.people, rules)
    copies = list(getattr(result, "files_duplicate", []))
    problems = result.problems if result.problems is not None else pd.DataFrame()
    out_dir = Path(result.out_dir)
    written = []
    for p in result.written:
        try:
            written.append(str(Path(p).relative_to(out_dir)))
        except ValueError:
            written.append(str(p))
    limit = rules.list_rows
    lists = {
        "files_duplicate": [{"file": c, "original": o} for c, o in copies],
        "files_refused": [{"file": f, "reason": r} for f, r in result.files_refused],
        "refused_rows": refused_rows(result.people, problems),
        "notes": notes(problems),
        "branches": per_branch,
        "inputs": [
            {
                "name": text_of(i.get("name")),
                "size": _size(i.get("size")),
                "sha256": text_of(i.get("sha256")),
            }
            for i in (inputs or [])
        ],
        "written": written,
    }
    # Long lists are cut short; `more` says how many there are in all (0: shown whole).
    more = {k: len(v) if len(v) > limit else 0 for k, v in lists.items()}
    return {
        **{k: v[:limit] for k, v in lists.items()},
        "more": more,
        "limit": limit,
        "period": result.period.code,
        "files_total": result.files_total,
        "files_read": result.files_read,
        "files_accepted": max(result.files_total - len(result.files_refused) - len(copies), 0),
        "replaces": getattr(result, "replaces", ""),
        "missing_branches": list(getattr(result, "missing_branches", [])),
        "files_skipped": list(result.files_skipped),
        "people": bank.people,
        "scored": bank.scored,
        "refused_people": bank.refused,
        "bank": bank,
        "grades": grade_names(rules),
        "outcomes": outcome_names(rules),
        **_flags(result, rules),
        "grade_chart": grade_chart(bank.grades),
        "average_chart": average_chart(per_branch, rules.total.label)
        if not more["branches"]
        else None,
        "rules": {
            "name": rules.name,
            "id": rules.id,
            "path": str(rules.path),
            "sha256": rules.sha256,
        },
        "run": run_facts(result),
        "has_flags": bool(rules.flags),
        "total_label": rules.total.label,
        "moved_aside": [(str(a), str(b)) for a, b in result.moved_aside],
        **_adjustments(result),
    }


def _adjustments(result) -> dict[str, Any]:
    """The adjustments the run read (appeal.py), applied or not."""
    from .appeal import table_rows

    adjustments = getattr(result, "adjustments", None)
    if adjustments is None:
        return {"adjustments": [], "adjustments_applied": 0, "adjustments_refused": 0}
    return {
        "adjustments": table_rows(adjustments, result.people),
        "adjustments_applied": len(adjustments.applied),
        "adjustments_refused": len(adjustments.reasons()),
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


@functools.cache
def _template() -> jinja2.Template:
    """The compiled template (compiling it costs more than rendering it)."""
    source = resources.files("kpi_excel.templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return _environment().from_string(source)


def render_report(result, rules: Rulebook, inputs: list[dict] | None = None) -> str:
    return _template().render(**context(result, rules, inputs))


def write_report(path: Path, result, rules: Rulebook, inputs: list[dict] | None = None) -> Path:
    """Write `report.html` (atomically); return where it ended up.

    `inputs`: one {'name', 'size', 'sha256'} per input file, shown as given; None shows none.
    """
    html = render_report(result, rules, inputs)
    return write_atomic(path, lambda tmp: tmp.write_text(html, encoding="utf-8", newline="\n"))
