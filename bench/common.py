"""What the engine benchmarks share: a count of XLA compilations (a slider move after warm-up must cause none) and
the timing of repeated calls with a slider-like change between them."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

# the benchmarks run as scripts from a checkout: make `vgp_core` and `app` importable without installing
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vgp_core  # noqa: E402
from vgp_core.compilations import compile_durations  # noqa: E402

vgp_core.enable_compilation_cache()

#: the duration (s) of every XLA compilation since this module was imported; ``len`` counts them
COMPILES: list[float] = compile_durations()


def timed(fn, calls) -> np.ndarray:
    """Milliseconds of ``fn(*args)`` for each ``args`` tuple in ``calls`` (one call per simulated move)."""
    times = []
    for args in calls:
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1e3)
    return np.array(times)


def report(name: str, times: np.ndarray, target: float | None = None, width: int = 58) -> None:
    """One line: median, min and max; with ``target`` (ms), whether the median meets it."""
    line = f"{name:<{width}s} median {np.median(times):7.1f} ms   min {times.min():7.1f} ms   max {times.max():7.1f} ms"
    if target is not None:
        line += f"   (target < {target:.0f} ms: {'OK' if np.median(times) < target else 'MISSED'})"
    print(line)
