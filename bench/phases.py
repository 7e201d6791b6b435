"""Time the pipeline phases in one process: python bench/phases.py N [JOBS] (inputs from
bench/run.py). With BENCH_CLOCK=cpu the phases are timed in CPU seconds of this process
(time.process_time), which a busy shared machine disturbs much less than wall time."""

import functools
import os
import shutil
import sys
import time
from pathlib import Path

import kpi_excel.pipeline as pl
import kpi_excel.write.outputs as wo

T = {}
clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter


def timed(mod, name, key=None):
    f = getattr(mod, name)

    @functools.wraps(f)
    def g(*a, **k):
        t = clock()
        r = f(*a, **k)
        T[key or name] = T.get(key or name, 0) + clock() - t
        return r

    setattr(mod, name, g)


timed(pl, "collect")
timed(pl, "validate")
timed(pl, "evaluate")
timed(pl, "build_history")
timed(pl, "write_outputs")
timed(wo, "write_summaries")
timed(wo, "write_report")
timed(wo, "write_csv")
timed(wo, "write_branch")
timed(wo, "prepare")
timed(wo, "ledger_rows")
timed(wo, "results_table")
timed(pl, "publish")
from kpi_excel.periods import parse_period  # noqa: E402 (after the timers are installed)
from kpi_excel.rulebook import load_rulebook  # noqa: E402

n = sys.argv[1]
shutil.rmtree("/tmp/ph", ignore_errors=True)
t = clock()
pl.run(
    parse_period("2026Q3", load_rulebook().calendar),
    Path(f"bench/out/inputs/n{n}_m30_s0"),
    Path("/tmp/ph"),
    load_rulebook(),
    jobs=int(sys.argv[2]) if len(sys.argv) > 2 else 1,
)
T["TOTAL"] = clock() - t
print({k: round(v, 2) for k, v in T.items()})
