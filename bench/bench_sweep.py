"""gain_sweep timings (64 gains, one vmapped jitted call, sharded over all devices) at several sizes.

Usage: python bench/bench_sweep.py   (prints the device and median ms per sweep after warm-up)
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

import vgp_core  # noqa: E402
from vgp_core import mlp  # noqa: E402

vgp_core.enable_compilation_cache()

GAINS = np.linspace(0.1, 4.0, 64)
SIZES = [dict(depth=50, width=128), dict(depth=200, width=128), dict(depth=256, width=512)]


def main():
    print(f"devices: {jax.devices()}")
    for size in SIZES:
        cfg = mlp.MLPConfig(activation="tanh", init="standard", **size)
        for batch in (mlp.SWEEP_BATCH, 128):
            mlp.gain_sweep(cfg, GAINS, batch=batch)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                mlp.gain_sweep(cfg, GAINS, batch=batch)
                times.append(time.perf_counter() - t)
            print(
                f"depth {size['depth']:>3} width {size['width']:>3} batch {batch:>3}: 64-gain sweep "
                f"{np.median(times) * 1e3:8.1f} ms"
            )


if __name__ == "__main__":
    main()
