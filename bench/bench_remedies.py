"""Wall time of the remedies lab (vgp_core.experiments.remedies).

1. Cold: ``warm_up`` (every program the default lab uses, compiled; the persistent compilation cache is switched
   off for this process so that the figure is a real first start), with its compilation count and time.
2. Warm: the whole default lab (every entry, depth 20, 200 steps), per entry wall time and CPU time, then the total,
   repeated ``--repeats`` times with the seed changed between repeats; the script counts XLA compilations during
   the warm runs (must be 0) and reports the minimum and median totals. On a shared machine the minimum is the best
   estimate of the cost; the median shows the contention (the load average is printed).
3. The Veit path-length expansion at the default depth.

Target (issue): the whole default lab in well under a minute on this two-core machine, once compiled.
Usage: python bench/bench_remedies.py [--repeats N] [--steps S] [--depth D] [--width W]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("VGP_JAX_CACHE_DIR", "off")  # measure real compilations

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COMPILES  # noqa: E402  (first: it puts the checkout on the path)

from vgp_core.experiments import remedies as R  # noqa: E402

TARGET_S = 60.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=int, default=R.LabConfig().steps)
    ap.add_argument("--depth", type=int, default=R.LabConfig().depth)
    ap.add_argument("--width", type=int, default=R.LabConfig().width)
    args = ap.parse_args()
    config = R.LabConfig(steps=args.steps, depth=args.depth, width=args.width)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {config}")

    n0, t0 = len(COMPILES), time.perf_counter()
    R.warm_up(config)
    cold = time.perf_counter() - t0
    print(
        f"warm_up: {cold:.1f} s wall, {len(COMPILES) - n0} compilations "
        f"({sum(COMPILES[n0:]):.1f} s of XLA compile time)"
    )

    totals = []
    per_entry = {}
    n_warm = len(COMPILES)
    for rep in range(args.repeats):
        cfg = config.replace(seed=rep + 1)
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        for res in R.run_lab_iter(cfg):
            per_entry.setdefault(res.name, []).append(res.wall_time_s)
        totals.append(time.perf_counter() - t_wall)
        print(
            f"repeat {rep}: {totals[-1]:.2f} s wall, {time.process_time() - t_cpu:.2f} s CPU "
            f"(load {os.getloadavg()[0]:.1f})"
        )
    print(f"\n{'entry':14s} {'min s':>7s} {'median s':>9s}")
    for name, times in per_entry.items():
        print(f"{name:14s} {min(times):7.2f} {np.median(times):9.2f}")
    t = time.perf_counter()
    R.veit_analysis(config)
    veit = time.perf_counter() - t
    warmCOMPILES = len(COMPILES) - n_warm
    print(f"\nVeit expansion ({config.depth - 1} blocks): {1e3 * veit:.0f} ms")
    print(
        f"whole lab after warm-up: min {min(totals):.2f} s, median {np.median(totals):.2f} s "
        f"(target < {TARGET_S:.0f} s: {'met' if min(totals) < TARGET_S else 'MISSED'}); "
        f"compilations during warm runs: {warmCOMPILES}"
    )


if __name__ == "__main__":
    main()
