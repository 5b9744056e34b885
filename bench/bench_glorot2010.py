"""Throughput of the Glorot & Bengio (2010) reproduction (issue 5's benchmark).

1. Training loop: plain SGD updates per second of the paper's network (5 hidden layers of 1000 units, minibatch 10,
   tanh), timed over whole ``lax.scan`` chunks of 50 updates, data generation excluded and included.
2. Shapeset-3x2 generation: images per second of ``vgp_core.data.shapeset`` (blocks of 500 and of 10).
3. The committed run: its command, budget and wall time, read from ``assets/glorot2010/results.json``.

Figures are medians over repeats after a warm-up call (compilation, or loading from the persistent cache); the
machine is shared, so the max is printed too. Usage: python bench/bench_glorot2010.py [--repeats N]
"""

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import vgp_core  # noqa: E402
from vgp_core import activations, data  # noqa: E402

vgp_core.enable_compilation_cache()
from vgp_core.experiments import glorot2010 as g  # noqa: E402

RESULTS = os.path.join(ROOT, "assets", "glorot2010", "results.json")


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPU cores")

    chunk, batch = 50, 10
    params = [g.init_params(jax.random.PRNGKey(0), "glorot_uniform", 5, 1000, 1024)]
    act = jnp.int32(activations.index("tanh"))
    key = jax.random.PRNGKey(1)
    xs, ys = g._stream_block(key, jnp.int32(0), chunk=chunk, batch_size=batch, image_size=32)

    def train_only():
        params[0], loss = g._train_chunk(params[0], act, jnp.float32(0.01), xs, ys, jnp.int32(0), jnp.int32(chunk))
        loss.block_until_ready()

    def train_with_data():
        x, y = g._stream_block(key, jnp.int32(1), chunk=chunk, batch_size=batch, image_size=32)
        params[0], loss = g._train_chunk(params[0], act, jnp.float32(0.01), x, y, jnp.int32(0), jnp.int32(chunk))
        loss.block_until_ready()

    for name, fn in (
        ("training (5x1000 tanh, minibatch 10), data excluded", train_only),
        ("training incl. streaming fresh Shapeset minibatches", train_with_data),
    ):
        t = timed(fn, args.repeats)
        print(f"{name:<58s} {chunk / np.median(t):8.1f} updates/s (slowest chunk {chunk / t.max():.1f})")

    for n in (500, 10):
        t = timed(lambda n=n: data.shapeset(jax.random.PRNGKey(2), n)[0].block_until_ready(), args.repeats)
        print(
            f"{'Shapeset-3x2 generation, blocks of ' + str(n):<58s} {n / np.median(t):8.0f} images/s "
            f"(slowest {n / t.max():.0f})"
        )

    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            doc = json.load(f)
        cfg = doc["config"]
        print(f"committed run: {doc['command']}")
        print(
            f"  budget {cfg['updates']} updates per final run (lr search: {len(cfg['lr_grid'])} rates x "
            f"{cfg['lr_search_updates'] or cfg['updates']} updates), seed {cfg['seed']}, "
            f"{len(doc['combinations'])} combinations, wall time {doc['wall_time_s']:.0f} s "
            f"(jax {doc['jax_version']}, {doc['meta'].get('cpu_count')} CPU cores)"
        )
    else:
        print(f"no committed run at {RESULTS}")


if __name__ == "__main__":
    main()
