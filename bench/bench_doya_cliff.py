"""Time of the Bifurcation page's engine work after warm-up: the bifurcation diagram (exact equilibria, folds,
float64 NumPy) plus the sensitivity map log10|∂x(T)/∂x(0)| over a 200 × 200 (b, x0) grid at T = 200 (one vmapped,
jitted call). Issue 4's target: < 100 ms. Also times the Loss-cliff page's pieces (L(b) over 200 values, Pascanu's
100 × 100 surface, plain + clipped descents) for reference.

Each figure is the median (and max) of repeated recomputations with a slider-like change of b, w, ε or T between
calls, after one warm-up compile (which must not recur: the script counts XLA compilations and reports them).
Usage: python bench/bench_doya_cliff.py [--repeats N]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COMPILES, report, timed  # noqa: E402  (first: it puts the checkout on the path)

from vgp_core import cliff, doya  # noqa: E402

GRID = 200
T = 200
TARGET_MS = 100.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores")
    b_grid = np.linspace(-3.0, -2.0, GRID)
    x0_grid = np.linspace(0.0, 1.0, GRID)

    t0 = time.perf_counter()
    doya.warm_up(map_shape=(GRID, GRID))
    cliff.warm_up(loss_grid=200, surface_shape=(100, 100))
    print(
        f"warm-up (compile, or load from the persistent cache): {time.perf_counter() - t0:.2f} s, "
        f"{len(COMPILES)} compilations"
    )
    n_before = len(COMPILES)

    rng = np.random.default_rng(0)
    settings = [
        (5.0 + 0.1 * rng.standard_normal(), 0.1 * (1 + 0.05 * rng.standard_normal())) for _ in range(args.repeats)
    ]

    def diagram_and_map(w, eps):
        doya.bifurcation_diagram(w, (-3.0, -2.0), GRID, eps=eps)
        doya.sensitivity_map(b_grid, x0_grid, w=w, eps=eps, steps=T)

    def diagram(w, eps):
        doya.bifurcation_diagram(w, (-3.0, -2.0), GRID, eps=eps)

    def smap(w, eps):
        doya.sensitivity_map(b_grid, x0_grid, w=w, eps=eps, steps=T)

    report(f"bifurcation diagram + sensitivity map ({GRID}x{GRID}, T={T})", timed(diagram_and_map, settings), TARGET_MS)
    report("  bifurcation diagram alone", timed(diagram, settings))
    report("  sensitivity map alone", timed(smap, settings))
    report(
        "  sensitivity map, continuous-time limit (RK4)",
        timed(
            lambda w, eps: doya.sensitivity_map(b_grid, x0_grid, w=w, eps=eps, steps=T, method="continuous"), settings
        ),
    )
    report(
        "trajectory + sensitivity at one point (T=200)",
        timed(lambda w, eps: (doya.simulate(0.5, -2.5, w, eps, T), doya.sensitivity(0.5, -2.5, w, eps, T)), settings),
    )
    report(
        "hysteresis sweep (2 x 200 values of b, 200 steps each)",
        timed(lambda w, eps: doya.hysteresis(w, (-3.0, -2.0), 200, eps=eps, steps_per_b=200), settings),
    )
    report(
        "loss cliff L(b), dL/db over 200 values (T=200)",
        timed(lambda w, eps: cliff.loss(np.linspace(-3.0, -2.0, 200), steps=T, eps=eps, w=w), settings),
    )
    report(
        "Pascanu surface 100x100 (T=50)",
        timed(lambda w, eps: cliff.pascanu_loss(np.linspace(-2.0, 12.0, 100), np.linspace(-8.0, 2.0, 100)), settings),
    )
    report(
        "descents, plain + clipped, 1-D (100 steps, T=200)",
        timed(lambda w, eps: cliff.descend(-2.56, 0.01, 100, clip_norm=1.0, loss_steps=T, eps=eps), settings),
    )
    report(
        "descents, plain + clipped, 2-D (100 steps, T=50)",
        timed(lambda w, eps: cliff.descend((w + 3.0, -4.0), 0.1, 100, clip_norm=1.0, problem="pascanu"), settings),
    )
    print(f"compilations after warm-up: {len(COMPILES) - n_before} (must be 0)")


if __name__ == "__main__":
    main()
