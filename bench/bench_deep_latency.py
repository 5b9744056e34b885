"""Server-side latency of the deep-network page: control change -> data sources updated (p50/p95 per control).

Builds the page in-process with the default settings (depth 50, width 128, batch 128), moves every control back
and forth and times the synchronous update (profile, theory, and the 64-gain sweep where the control affects it).
The layer-Jacobian SVDs run after the controls rest (250 ms) and the training runs in the background; their costs
are printed separately. Usage: python bench/bench_deep_latency.py [--moves N]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("VGP_WARMUP", "0")

from app.pages.deep import SWEEP_GAINS, DeepNetworkModel, DeepNetworkPage  # noqa: E402
from vgp_core import mlp  # noqa: E402

MOVES = {
    "gain": [1.05, 1.0],
    "depth": [51, 50],
    "activation": ["relu", "tanh"],
    "init": ["he_normal", "glorot_normal"],
    "bias_std": [0.05, 0.0],
    "residual": [True, False],
    "batchnorm": [True, False],
    "shown_step": [1, 0],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    mlp.warm_up(widths=(128,), gains=SWEEP_GAINS)
    print(f"warm-up (compile all programs, or load them from the persistent cache): {time.perf_counter() - t0:.1f} s")
    model = DeepNetworkModel(auto_train=False)
    page = DeepNetworkPage(model, query={}, defer=True)
    page.panel()
    print("server-side, control change -> data sources updated (ms); 'views' = profile, activations, theory;")
    print("'sweep' = the 64-gain heatmap, sent right after (next tick); Jacobian SVDs follow when the controls rest")
    print(f"{'control':<12} {'views p50':>10} {'views p95':>10} {'sweep p50':>10} {'sweep p95':>10}")
    for name, values in MOVES.items():
        views, sweeps = [], []
        for i in range(args.moves):
            page.pending.clear()
            t = time.perf_counter()
            setattr(model, name, values[i % 2])
            views.append((time.perf_counter() - t) * 1e3)
            for fn in list(page.pending):
                if fn == page._update_sweep:
                    t = time.perf_counter()
                    fn()
                    sweeps.append((time.perf_counter() - t) * 1e3)
        sw = (
            f"{np.percentile(sweeps, 50):10.1f} {np.percentile(sweeps, 95):10.1f}" if sweeps else f"{'-':>10} {'-':>10}"
        )
        print(f"{name:<12} {np.percentile(views, 50):10.1f} {np.percentile(views, 95):10.1f} {sw}")
    cfg = model.config()
    for label, fn in (
        ("gain sweep alone (64 gains)", lambda: mlp.gain_sweep(cfg, SWEEP_GAINS)),
        ("profile without Jacobians", lambda: mlp.gradient_profile(cfg, with_jacobian=False)),
        ("profile with Jacobian SVDs (after rest)", lambda: mlp.gradient_profile(cfg)),
        ("training, 10 steps", lambda: mlp.train(cfg, 10, chunk=10)),
    ):
        times = []
        for _ in range(10):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        print(f"{label:<40} p50 {np.percentile(times, 50):7.1f} ms   p95 {np.percentile(times, 95):7.1f} ms")
    # the cost follows the active depth (one compiled program per capacity bucket, a while_loop inside)
    for depth in (10, 50, 64, 65, 128, 256):
        c = cfg.replace(depth=depth)
        mlp.gradient_profile(c, with_jacobian=False)
        t = time.perf_counter()
        for _ in range(10):
            mlp.gradient_profile(c, with_jacobian=False)
        print(f"profile at depth {depth:>3} (capacity {c.capacity:>3}): {(time.perf_counter() - t) * 100:6.1f} ms")


if __name__ == "__main__":
    main()
