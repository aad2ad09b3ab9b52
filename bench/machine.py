"""What the machine was doing during a benchmark: a CPU speed probe and the load of other processes."""

from __future__ import annotations

import os
import time
from pathlib import Path


def busy_s() -> float:
    """CPU seconds all cores spent busy so far (Linux /proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 5): on a shared or throttled VM
    the same code runs slower when this is higher, so it puts the figures in context."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i
        best = min(best, time.perf_counter() - start)
    return best * 1000
