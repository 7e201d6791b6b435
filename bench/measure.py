"""Run one command and report its wall time and peak memory as one JSON line on stdout.

Started afresh for every measurement, so that RUSAGE_CHILDREN covers that command only:

    python bench/measure.py LOGFILE -- CMD [ARG ...]

- `wall_s`: time.perf_counter around the whole process (start-up and imports included).
- `cpu_s`: user + system CPU seconds of the command and its descendants (less disturbed than
  wall time by other work on a shared machine).
- `maxrss_mb`: getrusage(RUSAGE_CHILDREN).ru_maxrss, the peak resident set of the largest
  single process among the command and all its descendants (those that were waited for,
  as multiprocessing workers are). It is a maximum, not a sum over worker processes.
- `tree_mb`: the largest sum over the live process tree of PSS (proportional set size, so
  pages shared between a parent and its forked workers count once), sampled every
  `SAMPLE_S`, or less often when a sample costs more than `MAX_SHARE` of the time between
  two (large processes); a short spike between two samples can be missed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

SAMPLE_S = 0.1
MAX_SHARE = 0.02  # of one core the sampling may take: it samples less often if it costs more


def _descendants(root: int) -> list[int]:
    """`root` and every live process below it, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after "(comm)" and state
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _pss_kb(pid: int) -> int:
    """Proportional set size of one process in kB (its RSS if smaps_rollup is missing)."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def measure(cmd: list[str], log: Path) -> dict[str, float | int]:
    tree_kb = 0
    done = threading.Event()

    def sample(pid: int) -> None:  # in a thread, so that wait() below ends the clock at once
        nonlocal tree_kb
        pause = SAMPLE_S
        while not done.wait(pause):
            start = time.process_time()
            tree_kb = max(tree_kb, sum(_pss_kb(p) for p in _descendants(pid)))
            # Reading PSS walks the page tables: for a process of a few GB it takes tens of
            # ms, which every 0.1 s would take a third of a core from the run measured.
            pause = max(SAMPLE_S, (time.process_time() - start) / MAX_SHARE)

    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    maxrss_kb = usage.ru_maxrss  # kB on Linux
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": maxrss_kb / 1024,
        "tree_mb": tree_kb / 1024,
    }


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: measure.py LOGFILE -- CMD [ARG ...]")
    print(json.dumps(measure(sys.argv[3:], Path(sys.argv[1]))))
