"""Benchmark runner: the I/O floor, the straightforward openpyxl loop and `kpi-excel run`.

    python bench/run.py --sizes 100,600,2000 --people 30 [--workdir bench/out]
                        [--only floor,naive,kpi] [--jobs N] [--seed 0] [--repeat 1]

Inputs are generated once per size and cached under WORKDIR/inputs/. Each approach runs
as its own process, wrapped by a fresh bench/measure.py process (wall time and peak
memory; with --repeat R, the fastest of R runs and the highest peaks). The Markdown
table is printed and written to WORKDIR/results.md; each run's output goes to
WORKDIR/logs/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from generate import PERIOD, generate

BENCH = Path(__file__).resolve().parent
APPROACHES = ("floor", "naive", "kpi")


@dataclass
class Result:
    n: int
    people: int
    approach: str
    status: str
    wall_s: float = float("nan")
    cpu_s: float = float("nan")
    maxrss_mb: float = float("nan")
    tree_mb: float = float("nan")
    outputs: int = 0
    sizes: tuple[str, ...] = ("–",) * 4  # kpi: ledger B/person, summary, report, summaries/
    rerun: str = "–"  # kpi with --rerun: the ledger's growth on a second run of the same inputs
    note: str = ""


def inputs(workdir: Path, n: int, people: int, seed: int) -> Path:
    """The cached inbox of `n` workbooks; generated on first use."""
    inbox = workdir / "inputs" / f"n{n}_m{people}_s{seed}"
    done = inbox / ".complete"
    if not done.exists():
        shutil.rmtree(inbox, ignore_errors=True)
        print(f"generating {n} workbooks x {people} people in {inbox} ...", file=sys.stderr)
        generate(inbox, n, people, seed)
        done.touch()
    return inbox


def kpi_excel() -> str | None:
    """The kpi-excel console script next to this Python, else on PATH."""
    local = Path(sys.executable).parent / "kpi-excel"
    return str(local) if local.exists() else shutil.which("kpi-excel")


def command(approach: str, inbox: Path, outdir: Path, jobs: int | None) -> list[str] | None:
    if approach in ("floor", "naive"):
        return [sys.executable, str(BENCH / f"{approach}.py"), str(inbox), str(outdir)]
    # `python -m kpi_excel` with this checkout first on the path (see _run): the code measured
    # is the code of the checkout the benchmark is in, not whatever kpi-excel is installed.
    exe = [sys.executable, "-m", "kpi_excel"] if (BENCH.parent / "kpi_excel").is_dir() else None
    if exe is None and (script := kpi_excel()) is not None:
        exe = [script]
    if exe is None:
        return None
    cmd = [*exe, "run", PERIOD, "--inbox", str(inbox), "--output", str(outdir)]
    return cmd + ["--jobs", str(jobs)] if jobs else cmd


def measure(
    approach: str,
    src: Path,
    workdir: Path,
    n: int,
    people: int,
    jobs: int | None,
    rerun: bool = False,
) -> Result:
    """Run one approach on a fresh copy of the inbox (so no tool can spoil the cache)."""
    scratch = workdir / "scratch"
    inbox, outdir = scratch / "inbox", scratch / "output"
    cmd = command(approach, inbox, outdir, jobs)
    if cmd is None:
        return Result(n, people, approach, "not found", note="kpi-excel console script not found")
    log = workdir / "logs" / f"n{n}_m{people}_{approach}.log"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        shutil.copytree(src, inbox, ignore=shutil.ignore_patterns(".*"))
        outdir.mkdir()
        result = _run(cmd, approach, outdir, log, n, people)
        if rerun and approach == "kpi" and result.status == "ok":
            result.rerun = _rerun_growth(cmd, outdir, log)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _env() -> dict[str, str]:
    """The environment of a measured command: this checkout first on the path (see command)."""
    path = os.pathsep.join(filter(None, [str(BENCH.parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _rerun_growth(cmd: list[str], outdir: Path, log: Path) -> str:
    """How much a second run of unchanged inputs adds to the ledger, in % of the first run's."""
    ledger = outdir / "ledger.sqlite"
    before = ledger.stat().st_size
    with log.with_suffix(".rerun.log").open("w") as out:
        subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, check=False, cwd=outdir.parent, env=_env()
        )
    return f"+{(ledger.stat().st_size - before) / before * 100:.1f}%"


def _run(cmd: list[str], approach: str, outdir: Path, log: Path, n: int, people: int) -> Result:
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"N={n} {approach}: {' '.join(cmd)}", file=sys.stderr)
    wrapper = [sys.executable, str(BENCH / "measure.py"), str(log), "--", *cmd]
    # cwd = scratch, so that a tool writing beside --output cannot touch the repository.
    proc = subprocess.run(
        wrapper, capture_output=True, text=True, check=False, cwd=outdir.parent, env=_env()
    )
    try:
        m = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return Result(n, people, approach, "wrapper failed", note=proc.stderr.strip()[-300:])
    result = Result(
        n, people, approach, "ok", m["wall_s"], m["cpu_s"], m["maxrss_mb"], m["tree_mb"]
    )
    result.outputs = sum(1 for _ in outdir.rglob("*.xlsx"))
    if approach == "kpi":
        result.sizes = _sizes(outdir, n * people)
    if m["rc"] != 0:
        result.status = f"failed (rc={m['rc']})"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        result.note = f"{tail[0][:200]} (see {log})"
    return result


def _sizes(outdir: Path, persons: int) -> tuple[str, ...]:
    """What a kpi-excel run leaves: ledger bytes per person, summary.xlsx and report.html in MB,
    and the per-parent summaries/ (when the bank is above the branch-sheet cap)."""

    def mb(path: Path) -> str:
        if path.is_dir():
            return f"{sum(f.stat().st_size for f in path.rglob('*') if f.is_file()) / 1e6:.2f}"
        return f"{path.stat().st_size / 1e6:.2f}" if path.exists() else "–"

    ledger = outdir / "ledger.sqlite"
    per_person = f"{ledger.stat().st_size / persons:.0f}" if ledger.exists() else "–"
    period = outdir / PERIOD
    return (
        per_person,
        mb(period / "summary.xlsx"),
        mb(period / "report.html"),
        mb(period / "summaries"),
    )


def ratio(a: Result | None, b: Result | None) -> str:
    if a is None or b is None or a.status != "ok" or b.status != "ok":
        return "–"
    return f"{a.wall_s / b.wall_s:.2f}"


def table(results: list[Result], jobs: int | None, repeat: int) -> str:
    lines = [
        f"Run {dt.datetime.now():%Y-%m-%d %H:%M} on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}; period {PERIOD}; "
        f"kpi-excel --jobs {jobs or 'default'}; best wall of {repeat} run(s).",
        "",
        "| N | M | approach | status | wall s | s/workbook | CPU s/workbook | peak MB | tree MB |"
        " xlsx out |"
        " ledger B/person | rerun | summary.xlsx MB | report.html MB | summaries/ MB |",
        "|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        lines.append(
            f"| {r.n} | {r.people} | {r.approach} | {r.status} | {r.wall_s:.2f} | "
            f"{r.wall_s / r.n:.4f} | {r.cpu_s / r.n:.4f} | {r.maxrss_mb:.0f} | "
            f"{r.tree_mb:.0f} | {r.outputs} | "
            f"{r.sizes[0]} | {r.rerun} | {' | '.join(r.sizes[1:])} |"
        )
    lines += ["", "| N | kpi / floor | naive / kpi | naive / floor |", "|--:|--:|--:|--:|"]
    for n in sorted({r.n for r in results}):
        by = {r.approach: r for r in results if r.n == n}
        f, nv, k = by.get("floor"), by.get("naive"), by.get("kpi")
        lines.append(f"| {n} | {ratio(k, f)} | {ratio(nv, k)} | {ratio(nv, f)} |")
    lines += [
        "",
        "Ratios are of wall time. peak MB: largest single process (ru_maxrss of the command "
        "and its descendants); tree MB: largest sampled sum of PSS over the process tree "
        "(counts kpi-excel's worker processes together).",
    ]
    lines += [f"- N={r.n} {r.approach}: {r.note}" for r in results if r.note]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="kpi-excel benchmark")
    ap.add_argument("--sizes", default="100,600,2000", help="numbers of branch workbooks")
    ap.add_argument("--people", type=int, default=30, help="people per workbook")
    ap.add_argument("--workdir", type=Path, default=BENCH / "out")
    ap.add_argument("--only", default=",".join(APPROACHES), help="floor,naive,kpi")
    ap.add_argument("--jobs", type=int, default=None, help="passed to kpi-excel run --jobs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; best wall kept")
    ap.add_argument(
        "--rerun", action="store_true", help="kpi: run again on the same inputs (ledger growth)"
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    only = [a.strip() for a in args.only.split(",")]
    if unknown := set(only) - set(APPROACHES):
        ap.error(f"unknown approach(es): {', '.join(sorted(unknown))}")

    workdir = args.workdir.resolve()
    results = []
    for n in sizes:
        src = inputs(workdir, n, args.people, args.seed)
        for approach in (a for a in APPROACHES if a in only):
            runs = [
                measure(approach, src, workdir, n, args.people, args.jobs, args.rerun)
                for _ in range(max(args.repeat, 1))
            ]
            best = min(runs, key=lambda r: (r.status != "ok", r.wall_s))
            best.maxrss_mb = max(r.maxrss_mb for r in runs)
            best.tree_mb = max(r.tree_mb for r in runs)
            results.append(best)
    text = table(results, args.jobs, max(args.repeat, 1))
    print(text)
    (workdir / "results.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
