"""What keeps a national bank's run small in memory (docs/performance.md has the figures).

- `release_large_blocks`: glibc's malloc serves a block of 128 KB or more from its own pages
  (mmap) only until such a block is freed; from then on it raises that threshold, up to 32 MB,
  and serves the columns of every table of the run (a few hundred KB to a few MB each) from
  its heap, where a column that stays (the typed table's) keeps the freed ones around it from
  going back to the system. A run holds tables of hundreds of thousands of rows one after
  another (cells as read, typed, scored), so the process grew by what it had freed, some
  150-300 MB at 15,000 workbooks. Fixing the threshold keeps large blocks on their own pages,
  given back when freed.
- `one_object_per_value`: a column made by `np.where` of words (已计分, an outcome's name) holds
  a separate Python string per person once pandas takes it, some 60-80 bytes each.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numpy as np

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
LARGE_BLOCK = 128 * 1024  # glibc's default threshold, kept fixed
_done = False


def release_large_blocks() -> bool:
    """Keep glibc's mmap threshold fixed at its default for this process (see the module's
    docstring); whether it was set. Elsewhere (Windows, macOS, musl) nothing is done: their
    allocators give large blocks back without it."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
    return _done


def one_object_per_value(values: np.ndarray) -> np.ndarray:
    """`values` (any 1-d array) as an object array holding one Python object per distinct
    value (the first of the equal ones)."""
    items, seen = values.tolist(), {}
    return np.fromiter(map(seen.setdefault, items, items), object, len(items))
