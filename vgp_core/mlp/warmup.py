"""Compiling every program the app uses for given shapes ahead of time, so that later control changes never
compile (the app's warm-up lane calls :func:`warm_up` one capacity bucket at a time).

References:
  JAX documentation, "Persistent compilation cache".
"""

from __future__ import annotations

from .. import activations, theory
from .config import CAPACITY_BUCKETS, MLPConfig
from .params import _config_draws
from .profile import gain_sweep, gradient_profile
from .training import train_iter


def warm_up(
    widths=(128,),
    batch_size: int = 128,
    input_dim: int = 64,
    n_classes: int = 10,
    optimizers=("sgd",),
    chunk: int = 10,
    gains=None,
    capacities=CAPACITY_BUCKETS,
    critical_lines: bool = True,
) -> None:
    """Compile every program the app uses for these shapes, so that later control changes never compile.

    Each capacity bucket, both Jacobian modes, the sweep and the training chunk. Costs seconds once; the persistent
    compilation cache makes later processes fast.

    Args:
      widths, batch_size, input_dim, n_classes, optimizers, chunk: the shapes and training settings to compile.
      gains: the gain sweep's gains (its length fixes the sweep's shape).
      capacities: the capacity buckets to compile (default: all); the app warms one bucket per step.
      critical_lines: also tabulate every activation's edge-of-chaos line (cached after the first call).

    Returns:
      None.

    References:
      JAX documentation, "Persistent compilation cache".
    """
    for width in widths:
        for capacity in capacities:
            cfg = MLPConfig(
                depth=capacity, width=width, batch_size=batch_size, input_dim=input_dim, n_classes=n_classes
            )
            _config_draws(cfg.replace(init="orthogonal"))  # the QR variant of the draws
            gradient_profile(cfg)
            gain_sweep(cfg, gains if gains is not None else [1.0])
            for opt in optimizers:
                for _ in train_iter(cfg, chunk, optimizer=opt, chunk=chunk):
                    pass
    if critical_lines:
        for name in activations.names():  # the edge-of-chaos line of every activation (cached)
            theory.critical_sigma_w2(name, 0.0)
