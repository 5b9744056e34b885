"""A server process's CPU time, read from ``/proc`` (Linux), and a wait until the server is idle: the load test
opens its 300 sessions once the class's background work (trainings, deferred views) has finished, so what it
measures is the sessions' memory, not a queue behind that work; ``bench/bench_session.py`` times sessions the same
way."""

from __future__ import annotations

import os
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: the server counts as idle once it used less than this share of one core over ``IDLE_WINDOW_S``: its open
#: sessions' timers and the summaries' poll use well under 1 % (``bench/bench_session.py`` prints them).
IDLE_SHARE = 0.05
IDLE_WINDOW_S = 2.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until_idle(pid: int, timeout_s: float = 300.0, share: float = IDLE_SHARE) -> float:
    """Wait until process ``pid`` used less than ``share`` of a core over ``IDLE_WINDOW_S``; returns the seconds
    waited. ``TimeoutError`` after ``timeout_s``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        before = cpu_seconds(pid)
        time.sleep(IDLE_WINDOW_S)
        if cpu_seconds(pid) - before < share * IDLE_WINDOW_S:
            return time.perf_counter() - start
    raise TimeoutError(f"process {pid} stayed busy for {timeout_s:.0f} s")
