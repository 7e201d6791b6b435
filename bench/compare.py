"""Benchmark of `kpi-excel compare`: re-score a whole period under another rulebook.

    python bench/compare.py --branches 667 --people 30 [--workdir bench/out] [--repeat 3]

Generates the period's workbooks once (bench/generate.py, cached like run.py's inputs), runs
`kpi-excel run 2026Q3` on them once into WORKDIR/compare/<inputs>/ (kept: its ledger is what
compare reads), writes a rulebook that differs from the main one in a deposit target, a grade
edge and a flag threshold, then measures, R times each, keeping the fastest:

- `kpi-excel compare 2026Q3 --rules …` as a process (Python start-up and imports included);
- the library call `kpi_excel.compare` in this process, phase by phase: reading the run from
  the ledger, the two scorings with their history, the comparison with its reasons, and
  writing the workbook and the page.

Prints a Markdown table (also written to WORKDIR/compare/results.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from generate import PERIOD
from run import inputs

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # this checkout's kpi_excel, as `python -m kpi_excel` below

# What the other rulebook changes (each text occurs once in the main rulebook).
EDITS = [
    ("        target: 30\n", "        target: 32\n"),
    ("- {grade: 合格, min: 85, inclusive: false}", "- {grade: 合格, min: 88, inclusive: false}"),
    (
        'condition: {field: collection_rate, op: "<", value: 0.99}',
        'condition: {field: collection_rate, op: "<", value: 0.995}',
    ),
]


def other_rulebook(path: Path) -> Path:
    from kpi_excel.rulebook import default_rulebook_path

    text = default_rulebook_path().read_text(encoding="utf-8")
    for old, new in EDITS:
        if text.count(old) != 1:
            raise SystemExit(f"the main rulebook no longer holds {old!r} once")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def kpi(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kpi_excel", *args], cwd=ROOT, capture_output=True, text=True
    )
    return time.perf_counter() - start, done


def ensure_run(inbox: Path, out: Path, jobs: int | None) -> None:
    if (out / PERIOD / "manifest.json").exists():
        return
    print(f"kpi-excel run {PERIOD} on {inbox} ...", file=sys.stderr)
    extra = ["--jobs", str(jobs)] if jobs else []
    seconds, done = kpi("run", PERIOD, "--inbox", str(inbox), "--output", str(out), *extra)
    if done.returncode not in (0, 1):
        raise SystemExit(f"kpi-excel run failed:\n{done.stdout}\n{done.stderr}")
    print(f"  ran in {seconds:.1f} s", file=sys.stderr)


def phases(out: Path, rules_path: Path) -> dict[str, float]:
    """The library call, phase by phase (wall seconds)."""
    from kpi_excel.compare_report import write_comparison
    from kpi_excel.comparison import LedgerAsOf, compare_stored, stored_run
    from kpi_excel.ledger import Ledger
    from kpi_excel.rulebook import load_rulebook
    from kpi_excel.write.compare_book import compare_name

    t: dict[str, float] = {}
    start = time.perf_counter()
    other = load_rulebook(rules_path)
    with Ledger(out / "ledger.sqlite") as ledger:
        stored = stored_run(ledger, PERIOD)
        t["read the run (ledger, its rulebook)"] = time.perf_counter() - start
        mark = time.perf_counter()
        c = compare_stored(stored, other, LedgerAsOf(ledger, stored.run))
        t["score twice, compare, reasons"] = time.perf_counter() - mark
    mark = time.perf_counter()
    write_comparison(c, out, compare_name(rules_path))
    t["write xlsx and html"] = time.perf_counter() - mark
    t["library total"] = time.perf_counter() - start
    t["_people"], t["_changed"] = c.compared, len(c.people)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--branches", type=int, default=667)
    ap.add_argument("--people", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=BENCH / "out")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
    inbox = inputs(args.workdir, args.branches, args.people, args.seed)
    root = args.workdir / "compare"
    out = root / inbox.name
    ensure_run(inbox, out, args.jobs)
    rules_path = other_rulebook(root / "rules_bench.yaml")

    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for key, value in phases(out, rules_path).items():
            best[key] = min(best.get(key, value), value)
        seconds, done = kpi("compare", PERIOD, "--rules", str(rules_path), "--output", str(out))
        if done.returncode != 0:
            raise SystemExit(f"kpi-excel compare failed:\n{done.stdout}\n{done.stderr}")
        best["kpi-excel compare (process)"] = min(
            best.get("kpi-excel compare (process)", seconds), seconds
        )

    people, changed = int(best.pop("_people")), int(best.pop("_changed"))
    lines = [
        f"`python bench/compare.py --branches {args.branches} --people {args.people}"
        f" --repeat {args.repeat}`: {people:,} people compared, {changed:,} change"
        f" (best of {args.repeat}; {os.cpu_count()} CPUs, Python {sys.version.split()[0]})",
        "",
        "| what | wall s |",
        "|---|--:|",
        *(f"| {k} | {v:.2f} |" for k, v in best.items()),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (root / "results.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
