"""Per-layer gradient norms of a depth-100, width-256, batch-256 tanh MLP: vgp_core vs eager PyTorch.

vgp_core: ``mlp.gradient_profile(cfg, with_jacobian=False)`` (jit-compiled forward pass, reverse while_loop of
per-layer VJPs, per-layer norms of ∂L/∂h_l and ∂L/∂W_l). PyTorch: the same network in eager mode, per-layer
‖∂L/∂h_l‖ captured with tensor hooks (``register_hook``) and ‖∂L/∂W_l‖ read from ``.grad`` after ``backward()``.
Both on the same device (CPU here; CUDA when run on a GPU machine). Also prints achieved FLOP/s against the
measured float32 matmul peak of the device (a 2048^3 product in JAX).

Usage: python bench/bench_vs_torch.py [--repeats N]   (PyTorch is benchmark-only: pip install torch==2.13.0)
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import vgp_core  # noqa: E402
from vgp_core import mlp  # noqa: E402

vgp_core.enable_compilation_cache()

DEPTH, WIDTH, BATCH, INPUT, CLASSES = 100, 256, 256, 256, 10


def timeit(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_peak(repeats):
    n = 2048
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    t = timeit(lambda: f(a).block_until_ready(), repeats)
    return 2 * n**3 / t


def torch_profile(torch, device, cfg, repeats):
    """Eager PyTorch, same weights and batch as vgp_core (tanh, glorot_normal, biases 0)."""
    from vgp_core import initializers

    params = mlp._init_params(
        mlp._config_draws(cfg),
        jnp.int32(initializers.index(cfg.init)),
        jnp.float32(cfg.gain),
        jnp.float32(cfg.bias_std),
    )
    x, y = mlp._probe_batch(cfg.seed, cfg.batch_size, cfg.input_dim, cfg.n_classes)
    t = lambda a: torch.tensor(np.asarray(a), device=device)  # noqa: E731
    weights = [t(params.w_in)] + [t(params.w[l]) for l in range(1, cfg.depth)]
    for w in weights:
        w.requires_grad_(True)
    w_out = t(params.w_out).requires_grad_(True)
    xt, yt = t(x), torch.tensor(np.asarray(y), device=device, dtype=torch.long)

    def run():
        for w in weights + [w_out]:
            w.grad = None
        norms = [None] * cfg.depth
        h = xt
        for l, w in enumerate(weights):
            h = torch.tanh(h @ w)
            h.register_hook(lambda g, l=l: norms.__setitem__(l, g.norm()))
        loss = torch.nn.functional.cross_entropy(h @ w_out, yt)
        loss.backward()
        bp = torch.stack(norms).cpu().numpy()
        wg = torch.stack([w.grad.norm() for w in weights]).cpu().numpy()
        return bp, wg, float(loss)

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    cfg = mlp.MLPConfig(
        depth=DEPTH,
        width=WIDTH,
        batch_size=BATCH,
        input_dim=INPUT,
        n_classes=CLASSES,
        activation="tanh",
        init="glorot_normal",
    )
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}")
    ours = timeit(lambda: mlp.gradient_profile(cfg, with_jacobian=False), args.repeats)
    prof = mlp.gradient_profile(cfg, with_jacobian=False)
    # forward 2·B·n_in·n_out per layer; reverse: ∂L/∂h and ∂L/∂W, 2·B·n_in·n_out each
    flops = 6 * BATCH * (INPUT * WIDTH + (DEPTH - 1) * WIDTH * WIDTH)
    peak = matmul_peak(args.repeats)
    print(
        f"vgp_core gradient_profile: {ours * 1e3:8.2f} ms  ({flops / ours / 1e9:7.1f} GFLOP/s, "
        f"{100 * flops / ours / peak:5.1f} % of the measured matmul peak {peak / 1e9:.1f} GFLOP/s)"
    )
    try:
        import torch
    except ImportError:
        print("PyTorch not installed: pip install torch==2.13.0 (benchmark only)")
        return
    tdev = "cuda" if device.platform == "gpu" and torch.cuda.is_available() else "cpu"
    run = torch_profile(torch, tdev, cfg, args.repeats)
    sync = (lambda: torch.cuda.synchronize()) if tdev == "cuda" else (lambda: None)
    theirs = timeit(lambda: (run(), sync()), args.repeats)
    bp, wg, loss = run()
    # the two implementations agree (float32, different summation order)
    err = float(np.max(np.abs(bp - prof.backprop_norm) / prof.backprop_norm))
    err_w = float(np.max(np.abs(wg - prof.weight_grad_norm) / prof.weight_grad_norm))
    print(
        f"PyTorch {torch.__version__} eager + hooks ({tdev}): {theirs * 1e3:8.2f} ms  "
        f"({flops / theirs / 1e9:7.1f} GFLOP/s)"
    )
    print(
        f"ratio PyTorch / vgp_core: {theirs / ours:.2f}x   (max relative difference of the norms: "
        f"{err:.1e} backprop, {err_w:.1e} weight)"
    )


if __name__ == "__main__":
    main()
