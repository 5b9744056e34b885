"""Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
NeurIPS: a residual net of n blocks unravels into 2^n paths, C(n, k) of length k; the gradient reaching the input is a
sum over path lengths, measured here by propagating one cotangent per length through every block.

References:
  Veit, Wilber & Belongie (2016), NeurIPS, Sec. 3 (the unraveled view: 2^n paths) and Fig. 6 (the distribution of
  path lengths and the gradient by path length).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ... import mlp
from ...errors import check_int
from .config import LabConfig
from .registry import MAX_LAB_DEPTH, remedy

#: Largest number of residual blocks for the path counts (C(66, 33) < 2^63 still fits an int64).
MAX_VEIT_BLOCKS = 66
#: Examples of the probe batch used by the path-length expansion: it propagates one (examples × width) cotangent per
#: path length (n + 1 of them) through every block, so its cost is n² matmuls; 32 examples keep the default
#: (19 blocks, width 128) at ~1 GFLOP, and the norms average 32 × width entries.
VEIT_BATCH = 32


@dataclasses.dataclass(frozen=True)
class VeitAnalysis:
    """Veit et al. (2016) on the lab's residual net (n = depth - 1 residual blocks h_l = h_(l-1) + σ(s_l)).

    ``counts[k]`` = C(n, k) paths of length k (k residual branches taken, n - k identity shortcuts);
    ``distribution`` = counts / 2^n = Binomial(n, 1/2) pmf (their Fig. 6a). ``grad_by_length[k]`` = ‖G_k‖, where
    ∂L/∂h_1 = Σ_k G_k is the exact split of the gradient at the first block's input by path length (the coefficient
    of t^k in δ_L Π_l (I + t J_l)); ``per_path[k]`` = ‖G_k‖ / C(n, k), the mean contribution of one path of length k
    (their Fig. 6b shows the per-path magnitude, 6c the total); ``full_grad_norm`` = ‖Σ_k G_k‖.
    """

    lengths: np.ndarray
    counts: np.ndarray
    distribution: np.ndarray
    grad_by_length: np.ndarray
    per_path: np.ndarray
    full_grad_norm: float
    n_blocks: int


def _check_blocks(n_blocks) -> int:
    return check_int("n_blocks", n_blocks, 0, MAX_VEIT_BLOCKS)


def veit_path_counts(n_blocks: int) -> np.ndarray:
    """The number of paths of each length k = 0..n through n residual blocks: C(n, k).

    Args:
      n_blocks: n, 0 to MAX_VEIT_BLOCKS.

    Returns:
      An int64 array of shape (n + 1,) (exact).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 (the unraveled view: 2^n paths).
    """
    n = _check_blocks(n_blocks)
    return np.array([math.comb(n, k) for k in range(n + 1)], np.int64)


def veit_path_distribution(n_blocks: int) -> np.ndarray:
    """The fraction of the 2^n paths with length k: C(n, k) / 2^n, the Binomial(n, 1/2) pmf.

    Args:
      n_blocks: n, 0 to MAX_VEIT_BLOCKS.

    Returns:
      A float64 array of shape (n + 1,) summing to 1.

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Fig. 6(a).
    """
    n = _check_blocks(n_blocks)
    return np.array([math.comb(n, k) / 2.0**n for k in range(n + 1)], np.float64)


def _residual_forward(params: mlp.Params, act_idx, depth, x):
    """h_1 and the pre-activations s_l (rows 1..depth-1 of a (capacity, batch, width) buffer) of the residual net
    h_1 = φ(x W_in + b_in), h_l = h_(l-1) + φ(h_(l-1) W_l + b_l) (vgp_core.mlp's residual layout, no batch norm)."""
    from ... import activations

    h1 = activations.apply(act_idx, x @ params.w_in + params.b_in, params.slope[0])
    capacity = params.w.shape[0]
    pre = jnp.zeros((capacity,) + h1.shape, h1.dtype)

    def body(c):
        l, h, pre = c
        s = h @ params.w[l] + params.b[l]
        return l + 1, h + activations.apply(act_idx, s, params.slope[l]), pre.at[l].set(s)

    _, h_last, pre = jax.lax.while_loop(lambda c: c[0] < depth, body, (jnp.int32(1), h1, pre))
    return h1, h_last, pre


@jax.jit
def _veit_program(params: mlp.Params, act_idx, depth, x, y):
    """Coefficients G_k (capacity, batch, width) of δ_L Π_(l=L..2) (I + t J_l), J_l = diag(φ'(s_l)) W_l^T acting on
    row vectors; the last layer's δ_L = ∂L/∂h_L (L = mean cross-entropy over the batch)."""
    import optax

    from ... import activations

    _, h_last, pre = _residual_forward(params, act_idx, depth, x)

    def head(h):
        logits = h @ params.w_out + params.b_out
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    delta = jax.grad(head)(h_last)
    capacity = params.w.shape[0]
    coef = jnp.zeros((capacity,) + delta.shape, delta.dtype).at[0].set(delta)

    def body(c):
        l, coef = c
        _, dphi = activations.value_and_derivative(act_idx, pre[l], params.slope[l])
        branch = (coef[:-1] * dphi) @ params.w[l].T  # one residual branch more on every path
        return l - 1, coef.at[1:].add(branch)

    _, coef = jax.lax.while_loop(lambda c: c[0] >= 1, body, (depth - 1, coef))
    return coef


def _veit_inputs(config: LabConfig, n_blocks, params):
    if n_blocks is not None:
        n = check_int("n_blocks", n_blocks, 1, MAX_LAB_DEPTH - 1)
        config = config.replace(depth=n + 1)
    cfg = config.mlp_config(**dict(remedy("residual").changes))
    params = mlp.init_params(cfg) if params is None else mlp.check_params(cfg, params)
    x, y = mlp._probe_batch(cfg.seed, cfg.batch_size, cfg.input_dim, cfg.n_classes)
    from ... import activations

    return cfg, params, jnp.int32(activations.index(cfg.activation)), x[:VEIT_BATCH], y[:VEIT_BATCH]


def veit_gradient_components(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> np.ndarray:
    """G_k for k = 0..n: the part of ∂L/∂h_1 carried by the paths that take exactly k residual branches.

    In the lab's residual net (``remedy("residual")`` on ``config``; n = depth - 1, or ``n_blocks`` blocks when given).
    Σ_k G_k = ∂L/∂h_1. L is the mean loss over the first VEIT_BATCH probe examples.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (``mlp.init_params`` layout), e.g. trained weights (None: the initialization).

    Returns:
      A float32 array of shape (n + 1, VEIT_BATCH, width).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 (the unraveled view) and Fig. 6 (here the expansion is exact instead of
      sampled).
    """
    cfg, params, act, x, y = _veit_inputs(config, n_blocks, params)
    coef = _veit_program(params, act, jnp.int32(cfg.depth), x, y)
    return np.asarray(coef)[: cfg.depth]


def veit_gradient_by_path_length(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> np.ndarray:
    """‖G_k‖ for k = 0..n: the gradient magnitude that paths of length k contribute at the first block's input.

    An exact expansion instead of the paper's path sampling; see :func:`veit_gradient_components`.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (None: the initialization).

    Returns:
      A float64 array of shape (n + 1,).

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Fig. 6(b).
    """
    comps = veit_gradient_components(config, n_blocks, params)
    return np.linalg.norm(comps.reshape(comps.shape[0], -1).astype(np.float64), axis=1)


def veit_analysis(
    config: LabConfig = LabConfig(), n_blocks: int | None = None, params: mlp.Params | None = None
) -> VeitAnalysis:
    """Path counts, their Binomial(n, 1/2) distribution and the measured gradient by path length, side by side.

    Args:
      config: the lab's shared settings.
      n_blocks: the number of residual blocks (None: depth - 1).
      params: the parameters (None: the initialization).

    Returns:
      A :class:`VeitAnalysis`.

    References:
      Veit, Wilber & Belongie (2016), "Residual networks behave like ensembles of relatively shallow networks",
      NeurIPS, Sec. 3 and Fig. 6.
    """
    comps = veit_gradient_components(config, n_blocks, params).astype(np.float64)
    n = comps.shape[0] - 1
    by_len = np.linalg.norm(comps.reshape(n + 1, -1), axis=1)
    counts = veit_path_counts(n)
    return VeitAnalysis(
        np.arange(n + 1),
        counts,
        veit_path_distribution(n),
        by_len,
        by_len / counts,
        float(np.linalg.norm(comps.sum(axis=0))),
        n,
    )
