"""Throughput of the trainability phase diagram (Schoenholz et al. 2017, Fig. 5; issue 14's benchmark).

1. The grid: networks trained per second when every σ_w² of one depth trains as one batch
   (``vgp_core.experiments.trainability.train_depth``), as one ``jax.vmap`` and as a ``lax.map`` loop, at a few
   depths of the committed run's configuration, on every device JAX sees (CPU here; a GPU or several when present:
   the net axis is sharded over them).
2. The page's live retraining: seconds to retrain one cell (``train_one``) at the same depths.
3. The committed run: its command, budget, device and wall time, read from ``assets/trainability/results.json``.

Figures are medians over repeats after a warm-up call (compilation); the machine is shared, so the max is printed
too. Usage: python bench/bench_trainability.py [--repeats N] [--depths 10 100 300] [--steps 100]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vgp_core  # noqa: E402

vgp_core.enable_compilation_cache()
from vgp_core.experiments import trainability as tr  # noqa: E402


def timed(fn, repeats: int) -> np.ndarray:
    fn()  # warm-up: compilation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.array(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--depths", type=int, nargs="+", default=[10, 100, 300])
    p.add_argument("--steps", type=int, default=100, help="SGD steps per timed call (the committed run: 300)")
    args = p.parse_args()
    try:
        base = tr.load_committed().config
    except OSError:
        base = tr.TrainabilityConfig()
    config = base.replace(steps=args.steps, chunk=min(base.chunk, args.steps))
    n = len(config.sigma_w2)
    print(f"devices: {jax.devices()}; {n} nets per depth, width {config.width}, batch {config.batch_size}")
    scale = base.steps / args.steps
    for depth in args.depths:
        for vectorize, name in ((True, "vmap"), (False, "lax.map")):
            grid = timed(lambda d=depth, v=vectorize: tr.train_depth(config, d, vectorize=v), args.repeats)
            print(
                f"depth {depth:4d}, grid as {name:7s}: {n / np.median(grid):8.2f} nets/s at {args.steps} steps "
                f"({n / np.median(grid) / scale:7.2f} nets/s at the committed {base.steps}; max {grid.max():.2f} s)"
            )
        one = timed(lambda d=depth: tr.train_one(config.sigma_w2[0], d, config), args.repeats)
        print(f"depth {depth:4d}, one net (the page's retraining): {np.median(one) * scale:6.2f} s, {base.steps} steps")
    try:
        r = tr.load_committed()
        print(
            f"committed run: {r.command}\n  {len(r.sigma_w2)} × {len(r.depths)} nets, {r.config.steps} steps, "
            f"{r.wall_time_s:.0f} s on {r.device} ({r.nets_per_second:.2f} nets/s)"
        )
    except OSError:
        print("no committed run")


if __name__ == "__main__":
    main()
