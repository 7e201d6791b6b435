"""The compare page `compare_<name>.html`: the compare workbook's content for a browser.

Self-contained (inline CSS and SVG, no network), autoescaped like the run report: a name or a
reason quoting a branch's text is escaped, never marked safe. The template is
templates/compare.html.j2; every figure and chart geometry is computed here.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from .comparison import BANK_LABEL, COUNT_KEYS, PEOPLE_COLUMNS, TALLY_COLUMNS, Comparison
from .report import Bar, Chart
from .rules_diff import DIFF_COLUMNS
from .write.atomic import write_atomic
from .write.compare_book import CHART_KEYS, NO_PEOPLE, NO_RULES, info_rows, write_compare_book

TEMPLATE = "compare.html.j2"
MAX_PEOPLE_SHOWN = 2000  # rows of the people table on the page; the workbook has them all
ROW_H, ROW_GAP, LABEL_W, PLOT_W, MARGIN = 22, 8, 130, 360, 20


def counts_chart(counts: dict[str, int], title: str) -> Chart:
    """Horizontal bars, one per count, length proportional to it."""
    top = max(counts.values(), default=0) or 1
    bars = []
    for i, (label, n) in enumerate(counts.items()):
        y = MARGIN + i * (ROW_H + ROW_GAP)
        w = PLOT_W * n / top
        x = LABEL_W
        bars.append(
            Bar(x, y, w, ROW_H, label, str(n), x - 6, y + ROW_H * 0.7, x + w + 6, y + ROW_H * 0.7)
        )
    height = MARGIN * 2 + len(counts) * (ROW_H + ROW_GAP)
    axis = (LABEL_W, MARGIN - 4, LABEL_W, height - MARGIN)
    return Chart(LABEL_W + PLOT_W + 70, height, bars, axis, title, False, "#4472C4")


def context(c: Comparison, workbook: str = "") -> dict[str, Any]:
    """Everything the template shows, as plain values."""
    tallies = c.tallies
    bank = tallies.iloc[-1]
    branches = tallies.iloc[:-1]
    moved = branches[branches["changed"] > 0]
    people = c.people.iloc[:MAX_PEOPLE_SHOWN]
    return {
        "period": c.period.code,
        "info": info_rows(c),
        "rules": [{k: getattr(r, k) for k in DIFF_COLUMNS} for r in c.rules],
        "rule_headers": list(DIFF_COLUMNS.values()),
        "rule_keys": list(DIFF_COLUMNS),
        "no_rules": NO_RULES,
        "tally_headers": [TALLY_COLUMNS[k] for k in TALLY_COLUMNS],
        "tally_keys": list(TALLY_COLUMNS),
        "count_keys": COUNT_KEYS,
        "branches": moved.to_dict("records"),
        "branches_unchanged": len(branches) - len(moved),
        "bank": {**bank.to_dict(), "branch_name": BANK_LABEL},
        "chart": counts_chart(
            {TALLY_COLUMNS[k]: int(bank[k]) for k in CHART_KEYS}, "全行变化人数(按新规则重算)"
        ),
        "people_headers": [PEOPLE_COLUMNS[k] for k in PEOPLE_COLUMNS],
        "people_keys": list(PEOPLE_COLUMNS),
        "people": people.astype(str).to_dict("records"),
        "people_total": len(c.people),
        "people_cut": len(c.people) > MAX_PEOPLE_SHOWN,
        "no_people": NO_PEOPLE,
        "workbook": workbook,
    }


@functools.cache
def _template() -> jinja2.Template:
    source = resources.files("kpi_excel.templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(source)


def render_compare(c: Comparison, workbook: str = "") -> str:
    return _template().render(**context(c, workbook))


def write_compare_page(path: Path, c: Comparison, workbook: str = "") -> Path:
    """Write the compare page (atomically); `workbook`: the compare workbook's file name, which
    the page names for the rows it leaves out. Returns where it ended up."""
    html = render_compare(c, workbook)
    return write_atomic(path, lambda tmp: tmp.write_text(html, encoding="utf-8", newline="\n"))


def write_comparison(c: Comparison, output: Path, name: str) -> tuple[Path, Path]:
    """The compare workbook and page, `compare_<name>.xlsx` and `.html`, in the period's output
    folder (`output/<period>/`, `output/<scheme>/<period>/` for a scheme other than main),
    under the output folder's lock so that no run swaps the folder meanwhile. Returns where
    they ended up."""
    from .lock import OutputLock
    from .pipeline import scheme_root

    folder = scheme_root(output, c.base) / c.period.code
    with OutputLock(output):
        book = write_compare_book(folder / f"compare_{name}.xlsx", c)
        page = write_compare_page(folder / f"compare_{name}.html", c, book.name)
    return book, page


def print_summary(c: Comparison, paths: tuple[Path, Path], echo: Any) -> None:
    """What `kpi-excel compare` prints: what was compared, the bank's tallies, the files."""
    echo(
        f"考核期 {c.period.code}(运行 {c.run.run_id})按规则「{c.other.name}」"
        f"({c.other.path.name})重算:比较 {c.compared} 人,有变化 {len(c.people)} 人"
    )
    if c.not_scored:
        echo(f"该运行中未计分的 {c.not_scored} 人未参与比较")
    bank = c.bank
    moved = [f"{TALLY_COLUMNS[k]} {bank[k]} 人" for k in CHART_KEYS if bank[k]]
    if moved:
        echo("全行: " + ", ".join(moved))
    echo(f"规则变化 {len(c.rules)} 项" if c.rules else "两个规则文件的规则相同")
    if c.mismatched:
        echo(
            f"注意: {len(c.mismatched)} 人按原规则重算的结果与该运行的记录不一致"
            "(可能因程序版本不同),比较以重算结果为准"
        )
    echo(f"输出: {paths[0]}")
    echo(f"      {paths[1]}")
