"""Server-side latency of the Bifurcation and Loss-cliff pages: control change -> data sources updated (p50/p95 per
control). Issue 4's target: p95 < 50 ms.

Builds each page in-process with its default settings, moves every control back and forth and times the
synchronous update. On the Bifurcation page that is the diagram, trajectory, equilibria and derivative values; the
(b, x0) sensitivity map and the hysteresis sweep are then computed off the request path (a worker thread when
served) — their time is printed separately ('map'; '-' where the control does not change them: b and x(0) only move
markers inside the plotted window). The Loss-cliff page does everything synchronously. The script also counts XLA
compilations after warm-up (must be 0). Usage: python bench/bench_doya_cliff_latency.py [--moves N]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COMPILES  # noqa: E402  (first: it puts the checkout on the path)

os.environ.setdefault("VGP_WARMUP", "0")

from app.pages.bifurcation import BifurcationModel, BifurcationPage  # noqa: E402
from app.pages.cliff import LossCliffModel, LossCliffPage  # noqa: E402
from app.warmup import warmup_steps  # noqa: E402

BIFURCATION_MOVES = {
    "b": [-2.49, -2.5],
    "x0": [0.61, 0.6],
    "w": [5.1, 5.0],
    "eps": [0.11, 0.1],
    "steps": [501, 500],
    "u": [0.01, 0.0],
    "w_in": [1.05, 1.0],
    "method": ["continuous", "discrete"],
    "map_shows": ["b", "x0"],
}
CLIFF_MOVES = {
    "b": [-2.505, -2.51],
    "steps": [201, 200],
    "start_w": [4.55, 4.5],
    "start_b": [-1.7, -1.75],
    "pascanu_steps": [51, 50],
    "learning_rate": [0.3, 1.0],
    "clip_norm": [1.0, 0.1],
    "descent_steps": [51, 50],
    "shown_step": [10, 50],
    "surface": ["grad", "loss"],
}
TARGET_P95_MS = 50.0


def pct(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def row(name, views, slow=None, with_slow=True):
    ok = "OK" if pct(views, 95) < TARGET_P95_MS else "MISSED"
    sw = f"{pct(slow, 50):10.1f} {pct(slow, 95):10.1f}" if slow else f"{'-':>10} {'-':>10}"
    print(f"{name:<15} {pct(views, 50):10.1f} {pct(views, 95):10.1f} {ok:>7}" + (f" {sw}" if with_slow else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=20)
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores")
    t0 = time.perf_counter()
    for step in warmup_steps():  # the two pages' own warm-up steps, as the server runs them
        if step.page in ("bifurcation", "cliff"):
            for _ in step.run() or ():
                pass
    print(f"warm-up (compile, or load from the persistent cache): {time.perf_counter() - t0:.1f} s")

    bif = BifurcationPage(BifurcationModel(), query={}, defer=True)
    bif.panel()
    for fn in list(bif.pending):
        fn()
    cl = LossCliffPage(LossCliffModel(), query={})
    cl.panel()
    n_before = len(COMPILES)

    print("\nBifurcation page (defaults: w = 5, b = -2.5, eps = 0.1, T = 500, 200 x 200 map), server-side ms;")
    print("'views' = diagram, trajectory, equilibria, derivatives (sent at once); 'map' = (b, x0) map + hysteresis")
    print(f"{'control':<15} {'views p50':>10} {'views p95':>10} {'<50 ms':>7} {'map p50':>10} {'map p95':>10}")
    for name, values in BIFURCATION_MOVES.items():
        views, slow = [], []
        for i in range(args.moves):
            bif.pending.clear()
            t = time.perf_counter()
            setattr(bif.model, name, values[i % 2])
            views.append((time.perf_counter() - t) * 1e3)
            for fn in list(bif.pending):
                t = time.perf_counter()
                fn()
                slow.append((time.perf_counter() - t) * 1e3)
            assert not bif.notice.visible, bif.notice.object
        row(name, views, slow)

    print("\nLoss-cliff page (defaults: T = 200, 2-D T = 50, 50 descent steps, 160 x 160 surface), server-side ms")
    print(f"{'control':<15} {'p50':>10} {'p95':>10} {'<50 ms':>7}")
    for name, values in CLIFF_MOVES.items():
        times = []
        for i in range(args.moves):
            t = time.perf_counter()
            setattr(cl.model, name, values[i % 2])
            times.append((time.perf_counter() - t) * 1e3)
            assert not cl.notice.visible, cl.notice.object
        row(name, times, with_slow=False)
    print(f"\ncompilations while moving controls: {len(COMPILES) - n_before} (must be 0)")


if __name__ == "__main__":
    main()
