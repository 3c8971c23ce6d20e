"""Freed memory kept for reuse in a process that builds large hash tables one query after another.

glibc's malloc serves a block above its threshold (128 KiB, growing to at most 32 MiB) with a mapping of its own
and returns it to the kernel when it is freed, and gives the top of its heap back when more than the trim threshold
is free. Whole-catalog validation runs dozens of queries whose joins each build tables of hundreds of thousands of
rows: each table then faults in fresh pages. Measured with `valuemesh validate` at 100k products with an
organisation's 20 extra constraints, 4.0-4.2 s of the process's CPU was the kernel's; with the settings below
2.3-2.6 s. The command's time fell 8% and 12% in two of three alternating runs (within the machine's noise in the
third); with the packaged shapes alone it did not change.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt(3)'s parameters, and the values: blocks up to 1 GiB from the heap (a thread's heap holds at most 64 MiB,
# beyond which glibc maps a block all the same), and no trimming below 2 GiB free: a command's memory goes back to
# the system when it ends.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_SETTINGS = ((_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, (1 << 31) - 1), (_M_TOP_PAD, 64 << 20))


def keep_freed_memory() -> bool:
    """Ask the C library's malloc to keep freed memory for the next query; True when it took every setting (glibc),
    False where there is no such call (nothing changes). For commands that end, not for the long-running server,
    whose memory would stay at its peak."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(parameter, value) == 1 for parameter, value in _SETTINGS)
