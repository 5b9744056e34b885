"""Time of the Recurrent-network page's engine work after warm-up (issue 3).

* ``spectral_sweep`` over 128 spectral radii at T = 1000, hidden size 64: the lag × radius heatmap, one vmapped,
  jitted call. Issue 3's target: < 150 ms on this (two-core) machine, for the vanilla cell; LSTM and GRU cost
  more (4 and 3 recurrent matrices per step) and are reported for reference.
* ``jacobian_norms`` (the current radius's exact curve, full H×H product; power iteration and SVD per lag) and
  ``parameter_gradient_terms`` at the same size.

Each figure is the median, min and max over repeated calls with a slider-like change between calls (the
activation's or the config's radius alternates), after one warm-up compile that must not recur: the script counts
XLA compilations during the timed calls and reports them. On a shared machine the minimum is the best estimate of
the cost; the median shows the contention.
Usage: python bench/bench_rnn.py [--repeats N]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COMPILES, report, timed  # noqa: E402  (first: it puts the checkout on the path)

from vgp_core import rnn  # noqa: E402

N_RADII = 128
T = 1000
HIDDEN = 64
TARGET_MS = 150.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores; "
        f"{N_RADII} radii, T = {T}, hidden = {HIDDEN}"
    )
    radii = np.linspace(0.1, 2.0, N_RADII)

    t0 = time.perf_counter()
    rnn.warm_up(hidden_sizes=(HIDDEN,), n_radii=N_RADII)
    print(
        f"warm-up (compile, or load from the persistent cache): {time.perf_counter() - t0:.2f} s, "
        f"{len(COMPILES)} compilations"
    )
    start = len(COMPILES)

    def moves(**kw):  # one (config,) argument tuple per simulated slider move
        base = rnn.RNNConfig(hidden_size=HIDDEN, T=T, **kw)
        return [(base.replace(spectral_radius=r),) for r in np.resize([0.9, 1.1, 1.5], args.repeats)]

    for cell, act in (("vanilla", "tanh"), ("vanilla", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")):
        cfgs = moves(cell=cell, activation=act)
        rnn.spectral_sweep(cfgs[0][0], radii)  # first call of this variant: no compile, but warms caches
        report(
            f"spectral_sweep {cell} {act}",
            timed(lambda c: rnn.spectral_sweep(c, radii), cfgs),
            TARGET_MS if cell == "vanilla" else None,
        )
    for cell, act in (("vanilla", "tanh"), ("lstm", "tanh"), ("gru", "tanh")):
        cfgs = moves(cell=cell, activation=act)
        report(f"jacobian_norms {cell} (power iteration)", timed(rnn.jacobian_norms, cfgs))
    report(
        "jacobian_norms vanilla (SVD per lag)",
        timed(lambda c: rnn.jacobian_norms(c, exact=True), moves(activation="tanh")),
    )
    report("parameter_gradient_terms vanilla", timed(rnn.parameter_gradient_terms, moves(activation="tanh")))
    print(f"compilations during the timed calls: {len(COMPILES) - start}")


if __name__ == "__main__":
    main()
