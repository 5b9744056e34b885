"""Per-layer gradient norms of deep tanh MLPs: vgp_core against eager PyTorch, with pass/fail against the targets.

vgp_core: ``mlp.gradient_profile(cfg, with_jacobian=False)`` (one jit-compiled program for every depth: forward
``while_loop`` storing each layer's input in a donated, reused buffer; reverse ``while_loop`` of per-layer VJPs;
per-layer norms of ∂L/∂h_l and ∂L/∂W_l, activation statistics). PyTorch: the same network in eager mode,
‖∂L/∂h_l‖ captured with tensor hooks (``register_hook``) and ‖∂L/∂W_l‖ read from ``.grad`` after ``backward()``.
Same device for both (CPU here; CUDA when run on a GPU machine).

Targets (issue 12): PyTorch time / vgp_core time >= 1.5 at every configuration, and >= 50 % of the measured float32
matmul peak at the largest. The peak is the larger of a 2048^3 product in JAX and in PyTorch (the fairer bound).

Timing: rounds interleave the two implementations configuration by configuration (machine load drifts; both see
the same drift), with a pause between them because PyTorch's OpenMP workers keep spinning for a while after a run
and would steal the cores from XLA. Each figure is the median over all rounds. The load average is printed: on a
shared machine the figures are only comparable within one run.

Usage: python bench/bench_vs_torch.py [--rounds N] [--repeats N] [--omp-passive]
(PyTorch is benchmark-only: pip install torch)
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
from vgp_core import initializers, mlp  # noqa: E402

vgp_core.enable_compilation_cache()

#: (depth, width, batch) of issue 12; input_dim = width, 10 classes.
CONFIGS = ((50, 128, 128), (200, 64, 64), (100, 256, 256))
CLASSES = 10
TARGET_SPEEDUP = 1.5
TARGET_PEAK_SHARE = 0.5
#: Seconds between switching implementations: PyTorch's OpenMP workers spin after a run (GNU libgomp: a few ms;
#: generous here), XLA's Eigen pool likewise.
SWITCH_PAUSE_S = 0.3


def config(depth: int, width: int, batch: int) -> mlp.MLPConfig:
    return mlp.MLPConfig(
        depth=depth,
        width=width,
        batch_size=batch,
        input_dim=width,
        n_classes=CLASSES,
        activation="tanh",
        init="glorot_normal",
    )


def flops(cfg: mlp.MLPConfig) -> int:
    """Matmul FLOPs of one forward + backward pass: per layer 2·B·n_in·n_out forward, the same again for ∂L/∂h and
    for ∂L/∂W (layer 1's ∂L/∂x is not needed but vgp_core and PyTorch both skip it, so it is not counted)."""
    b, w = cfg.batch_size, cfg.width
    per_layer = 2 * b * w * w
    return 3 * per_layer * (cfg.depth - 1) + 2 * 2 * b * cfg.input_dim * w


def times(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def jax_matmul_peak(repeats: int, n: int = 2048) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    return 2 * n**3 / float(np.median(times(lambda: f(a).block_until_ready(), repeats)))


def torch_matmul_peak(torch, device, sync, repeats: int, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device)
    (a @ a, sync())
    return 2 * n**3 / float(np.median(times(lambda: (a @ a, sync()), repeats)))


def torch_profile(torch, device, cfg):
    """Eager PyTorch, same weights and batch as vgp_core (tanh, glorot_normal, gain 1, biases 0)."""
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
        return bp, wg, loss.item()

    return run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median over all)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per implementation per round")
    ap.add_argument(
        "--omp-passive",
        action="store_true",
        help="OMP_WAIT_POLICY=PASSIVE for PyTorch: its idle workers sleep instead of spinning (on a machine that other "
        "processes load, spinning workers can slow PyTorch many-fold; unloaded, passive waits add wake-up latency)",
    )
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read when PyTorch's OpenMP runtime starts (on import)
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}), jax {jax.__version__}, {os.cpu_count()} CPUs")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch not installed: pip install torch (benchmark only); vgp_core figures only")
    tdev = "cuda" if torch is not None and device.platform == "gpu" and torch.cuda.is_available() else "cpu"
    sync = (lambda: torch.cuda.synchronize()) if tdev == "cuda" else (lambda: None)

    cfgs = [config(*c) for c in CONFIGS]
    ours = {c: [] for c in CONFIGS}
    theirs = {c: [] for c in CONFIGS}
    runs = {}
    for key, cfg in zip(CONFIGS, cfgs):
        mlp.gradient_profile(cfg, with_jacobian=False)  # compile
        if torch is not None:
            runs[key] = torch_profile(torch, tdev, cfg)
            (runs[key](), sync())
    for _ in range(args.rounds):
        for key, cfg in zip(CONFIGS, cfgs):
            ours[key] += times(lambda cfg=cfg: mlp.gradient_profile(cfg, with_jacobian=False), args.repeats)
            if torch is not None:
                time.sleep(SWITCH_PAUSE_S)
                theirs[key] += times(lambda run=runs[key]: (run(), sync()), args.repeats)
                time.sleep(SWITCH_PAUSE_S)
    jax_peak = jax_matmul_peak(3 * args.repeats)
    peaks = [jax_peak]
    line = f"float32 matmul peak (2048^3): JAX {jax_peak / 1e9:.1f} GFLOP/s"
    if torch is not None:
        time.sleep(SWITCH_PAUSE_S)
        torch_peak = torch_matmul_peak(torch, tdev, sync, 3 * args.repeats)
        peaks.append(torch_peak)
        line += f", PyTorch {torch.__version__} {torch_peak / 1e9:.1f} GFLOP/s"
    peak = max(peaks)
    print(line + f"; peak used: {peak / 1e9:.1f} GFLOP/s")

    print(
        f"{'depth':>5} {'width':>5} {'batch':>5} | {'vgp_core ms':>11} {'PyTorch ms':>10} {'speed-up':>8} "
        f"{'% of peak':>9} | {'norms rel. diff':>15} | verdicts"
    )
    all_ok = True
    largest = max(cfgs, key=flops)
    for key, cfg in zip(CONFIGS, cfgs):
        t_ours = float(np.median(ours[key]))
        share = flops(cfg) / t_ours / peak
        row = f"{key[0]:5d} {key[1]:5d} {key[2]:5d} | {t_ours * 1e3:11.2f} "
        verdicts = []
        if torch is not None:
            t_theirs = float(np.median(theirs[key]))
            speedup = t_theirs / t_ours
            prof = mlp.gradient_profile(cfg, with_jacobian=False)
            bp, wg, _ = runs[key]()
            # float32 in a different summation order: relative differences of a few 1e-6 expected
            err = max(
                float(np.max(np.abs(bp - prof.backprop_norm) / prof.backprop_norm)),
                float(np.max(np.abs(wg - prof.weight_grad_norm) / prof.weight_grad_norm)),
            )
            ok = speedup >= TARGET_SPEEDUP
            all_ok &= ok
            verdicts.append(f"speed-up >= {TARGET_SPEEDUP}: {verdict(ok)}")
            row += f"{t_theirs * 1e3:10.2f} {speedup:7.2f}x {100 * share:8.1f}% | {err:15.1e} | "
        else:
            row += f"{'-':>10} {'-':>8} {100 * share:8.1f}% | {'-':>15} | "
        if cfg is largest:
            ok = share >= TARGET_PEAK_SHARE
            all_ok &= ok
            verdicts.append(f">= {100 * TARGET_PEAK_SHARE:.0f} % of peak: {verdict(ok)}")
        print(row + ", ".join(verdicts))
    print(f"load average at end: {os.getloadavg()[0]:.2f}; all targets: {verdict(all_ok)}")


if __name__ == "__main__":
    main()
