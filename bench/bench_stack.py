"""The engine and rendering costs that a dependency upgrade can change, through public APIs only, so that the same
script times any checkout of this project on any stack (Python, JAX, Panel, Bokeh).

Times, after one untimed call each: the Deep page's engine calls at its default network (depth 50, width 128,
batch 128; the lines of ``bench_deep_latency.py`` without the page), the Recurrent page's spectral sweep (128
radii, T = 1000, hidden 64, vanilla tanh: ``bench_rnn.py``'s first line), and Bokeh serialising a figure of the
size the Deep page sends on a move (a 64 × 50 heatmap and four 50-point lines, ``bokeh.embed.json_item``).

Usage: ``python bench/bench_stack.py [--repeats N]`` from the checkout to time (its ``vgp_core`` is imported from the
current directory). Prints one line per call: p50 and min in ms. To compare two stacks, run it alternately in
both environments (A, B, A, B) on the same machine and compare the medians of the rounds.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())

import bokeh  # noqa: E402
import jax  # noqa: E402
from bokeh.embed import json_item  # noqa: E402
from bokeh.plotting import figure  # noqa: E402

import vgp_core  # noqa: E402
from vgp_core import mlp, rnn  # noqa: E402

if hasattr(vgp_core, "enable_compilation_cache"):  # older checkouts switched the cache on at import
    vgp_core.enable_compilation_cache()

#: the Deep page's 64 gains (bench_deep_latency.py) and the Recurrent page's sweep (bench_rnn.py)
SWEEP_GAINS = np.linspace(0.1, 4.0, 64).astype(np.float32)
RNN_RADII = np.linspace(0.1, 2.0, 128)


def _bokeh_document() -> dict:
    heat = figure(width=600, height=300)
    heat.image(image=[np.random.default_rng(0).normal(size=(64, 50))], x=0, y=0, dw=50, dh=64, palette="Viridis256")
    lines = figure(width=600, height=300, y_axis_type="log")
    for k in range(4):
        lines.line(np.arange(50), np.logspace(-k, 1, 50))
    return json_item(heat), json_item(lines)


def _time(fn, repeats: int) -> np.ndarray:
    fn()  # untimed: compiles, or loads from the persistent compilation cache
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return np.asarray(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    print(
        f"python {platform.python_version()}, jax {jax.__version__}, bokeh {bokeh.__version__}, "
        f"vgp_core from {os.path.dirname(vgp_core.__file__)}"
    )
    cfg = mlp.MLPConfig()
    rcfg = rnn.RNNConfig(hidden_size=64, T=1000, cell="vanilla", activation="tanh")
    calls = (
        ("mlp.gain_sweep, 64 gains", lambda: mlp.gain_sweep(cfg, SWEEP_GAINS)),
        ("mlp.gradient_profile, no Jacobians", lambda: mlp.gradient_profile(cfg, with_jacobian=False)),
        ("mlp.gradient_profile, Jacobian SVDs", lambda: mlp.gradient_profile(cfg)),
        ("mlp.train, 10 steps", lambda: mlp.train(cfg, 10, chunk=10)),
        ("rnn.spectral_sweep, 128 radii", lambda: rnn.spectral_sweep(rcfg, RNN_RADII)),
        ("bokeh json_item, heatmap + lines", _bokeh_document),
    )
    for label, fn in calls:
        t = _time(fn, args.repeats)
        print(f"{label:<38} p50 {np.median(t):8.1f} ms   min {t.min():8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
