"""Time per control move of the Edge of chaos page at depth 200, width 256 (the issue's benchmark): the theory views
(computed on the move itself), the cheaper measured statistics (views lane) and the Jacobian's full spectrum with its
free-probability density (views lane, once the controls rest).

Each move changes sigma_w^2 by a slider step (a new setting every time: nothing comes from a cache) and runs what
the page computes for it: ``theory`` = fixed points, both maps with their cobwebs and the critical sigma_w^2;
``statistics`` = the signal-propagation measurement and the per-layer mean squared singular value (no SVD);
``spectrum`` = the SVDs at the checkpoint depths and the predicted density on the histogram's grid.
Usage: python bench/bench_jacobian_spectrum.py [--moves N] [--weights gaussian|orthogonal]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("VGP_WARMUP", "0")

from app.pages import edge_of_chaos as eoc  # noqa: E402
from bench.common import COMPILES, report, timed  # noqa: E402
from vgp_core import jacobian_spectrum as js  # noqa: E402
from vgp_core import signal_propagation as sp  # noqa: E402

DEPTH, WIDTH = 200, 256
#: the page's budget for what a move computes before answering (README, "instant")
INSTANT_MS = 100


def theory(config: sp.PropagationConfig) -> None:
    act, sw2, sb2 = config.activation, config.sigma_w2, config.sigma_b2
    fp = sp.fixed_points(act, sw2, sb2)
    sp.length_map(act, np.linspace(0.0, 2.0 * fp.q_star + 1.0, 81), sw2, sb2)
    sp.length_iterates(act, 1.0, sw2, sb2, eoc.COBWEB_STEPS)
    sp.correlation_map(act, sp.C_GRID, sw2, sb2)
    sp.correlation_iterates(act, 0.0, sw2, sb2, eoc.COBWEB_STEPS)
    sp.critical_sigma_w2(act, sb2)


def statistics(config: sp.PropagationConfig) -> None:
    sp.measure(config)
    js.measure(config, full=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--weights", default="orthogonal", choices=list(sp.WEIGHTS))
    args = ap.parse_args()
    base = sp.PropagationConfig("tanh", 1.5, 0.05, depth=DEPTH, width=WIDTH, weights=args.weights)
    t0 = time.perf_counter()
    eoc.warm_up(WIDTH, 256, with_theory=True)
    print(f"warm-up (compile, or load from the persistent cache): {time.perf_counter() - t0:.1f} s")
    compiled = len(COMPILES)

    def moves(offset):
        return [(base.__class__(**{**base.__dict__, "sigma_w2": 1.5 + offset + 0.01 * i}),) for i in range(args.moves)]

    print(f"depth {DEPTH}, width {WIDTH}, {args.weights} weights, tanh, sigma_b^2 = 0.05; {args.moves} moves each")
    report("theory (on the move)", timed(theory, moves(0.0)), INSTANT_MS)
    report("statistics: measured q, c, mean squared s (views lane)", timed(statistics, moves(0.3)))
    report("spectrum: SVDs + predicted density (when controls rest)", timed(eoc.spectrum_and_prediction, moves(0.6)))
    print(f"XLA compilations during the moves: {len(COMPILES) - compiled}")


if __name__ == "__main__":
    main()
