"""Per-layer training diagnostics practitioners read off deep nets: histograms, dead units, grad:data, update:data.

These are the four plots of Karpathy's "Building makemore part 3: activations & gradients, BatchNorm" (2022):
per-layer histograms of the activations h_l (with the saturated share) and of the back-propagated gradients
∂L/∂h_l, the weight-gradient std with the grad:data ratio std(∂L/∂W_l) / std(W_l), and the update:data ratio
log10(std(ΔW_l) / std(W_l)) over training, healthy near -3 (an update changes the weights by ~1/1000 per step).

All layers share fixed bin edges (one view of every layer; TensorBoard's per-tensor panels and all-time axis ranges
make healthy gradients look vanished). Gradients are binned by log10 |g| over every finite float32 magnitude, with
exact zeros (vanished below float32) and inf/NaN (overflowed) counted in bins of their own, so a histogram always
sums to the number of entries (batch × width for one layer).

The functions taking arrays are pure JAX and run inside the jitted profile and training programs of ``mlp``;
``densities`` and the edges are NumPy for the app.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import activations


@dataclasses.dataclass(frozen=True)
class BinEdges:
    """``n_bins`` equal bins over [lo, hi] (the last bin closed, as NumPy's); a histogram adds a bin below ``lo``,
    one above ``hi`` and one for inf/NaN.

    Histogram layout (length ``n_bins + 3``): ``[below, bin_1 .. bin_n, above, non_finite]``.
    """

    lo: float
    hi: float
    n_bins: int

    @property
    def edges(self) -> np.ndarray:
        """The ``n_bins + 1`` edges of the inner bins."""
        return np.linspace(self.lo, self.hi, self.n_bins + 1)

    @property
    def size(self) -> int:
        """Length of a histogram over these edges."""
        return self.n_bins + 3


#: log10 |∂L/∂h| in half-decade bins from 10^-46 to 10^39: every finite non-zero float32 magnitude (the smallest
#: subnormal is 1.4e-45, the largest float 3.4e38) falls in an inner bin, so "below" holds exactly the zeros.
GRAD_LOG10_BINS = BinEdges(-46.0, 39.0, 170)
#: activation values h_l: 64 bins over the activation's range (see :func:`value_range`).
VALUE_BINS = 64
#: Range of h_l for unbounded activations (and residual nets): values outside land in "below"/"above".
UNBOUNDED_RANGE = (-4.0, 4.0)
_BOUNDED = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0)}


def value_range(activation: str) -> tuple[float, float]:
    """(lo, hi) of the activation histogram's bins: the image of phi when it is bounded (its supremum, reached in
    float32 by saturated units, falls in the closed last bin), else UNBOUNDED_RANGE.

    Args:
      activation: a registered activation name (``vgp_core.activations.names``); an unknown one raises ``ConfigError``.

    Returns:
      (lo, hi) in the units of h_l = phi(s_l): (0, 1) for sigmoid, (-1, 1) for tanh and softsign, ``UNBOUNDED_RANGE``
      = (-4, 4) for every other activation.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        The activation histograms, where saturated units pile up at the bounds.
    """
    return _BOUNDED.get(activations.get(activation).name, UNBOUNDED_RANGE)


def value_range_table() -> np.ndarray:
    """(n_activations, 2) float32: :func:`value_range` of every activation, indexable by a traced registry index.

    Args:
      None.

    Returns:
      A NumPy float32 array of shape (len(activations.names()), 2); row i is (lo, hi) of the activation at registry
      index i (the index ``vgp_core.activations.apply`` switches on), so a jitted program can look its bins up by index.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
    """
    return np.asarray([value_range(name) for name in activations.names()], np.float32)


def value_bins(activation: str) -> BinEdges:
    """The activation histogram's bins for ``activation``.

    Args:
      activation: a registered activation name.

    Returns:
      ``BinEdges(lo, hi, VALUE_BINS)`` with (lo, hi) = :func:`value_range` (64 inner bins; a histogram over them has 67
      entries).

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
    """
    return BinEdges(*value_range(activation), VALUE_BINS)


class LayerDiagnostics(NamedTuple):
    """Per-layer diagnostics (leading axis = layer, index 0 = layer 1) of one batch."""

    act_hist: jax.Array  # (layers, VALUE_BINS + 3) int32: histogram of h_l over value_range(activation)
    grad_hist: jax.Array  # (layers, GRAD_LOG10_BINS.size) int32: histogram of log10 |∂L/∂h_l|
    dead_share: jax.Array  # (layers,) share of units whose phi(s_l) is 0 for every example of the batch
    weight_grad_std: jax.Array  # (layers,) std(∂L/∂W_l) of the effective weights gain·W_l
    weight_std: jax.Array  # (layers,) std(W_l) of the effective weights gain·W_l


def histogram(values: jax.Array, lo, hi, n_bins: int) -> jax.Array:
    """Counts of ``values`` in ``n_bins`` equal bins over [lo, hi] (the last one closed, as ``np.histogram``),
    with below / above / non-finite bins.

    Args:
      values: any shape; every entry is counted once.
      lo, hi: range of the inner bins (may be traced).
      n_bins: number of inner bins (static).

    Returns:
      int32 array ``[below lo, bin_1 .. bin_n, above hi, inf or NaN]`` (length ``n_bins + 3``) summing to
      ``values.size``.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        Per-layer histograms of activations and gradients.
    """
    v = jnp.ravel(values)
    inner = 1 + jnp.clip(jnp.floor((v - lo) / (hi - lo) * n_bins), 0, n_bins - 1).astype(jnp.int32)
    idx = jnp.where(v < lo, 0, jnp.where(v > hi, n_bins + 1, inner))
    idx = jnp.where(jnp.isfinite(v), idx, n_bins + 2)
    return jnp.zeros(n_bins + 3, jnp.int32).at[idx].add(1)


def log_magnitude_histogram(values: jax.Array, bins: BinEdges = GRAD_LOG10_BINS) -> jax.Array:
    """Histogram of log10 |values| (see :func:`histogram`); exact zeros are counted in "below", inf/NaN apart.

    Args:
      values: any shape, e.g. the (batch, width) gradient ∂L/∂h_l of one layer; every entry is counted once.
      bins: edges in log10 of the magnitude (default ``GRAD_LOG10_BINS``: half decades from 10^-46 to 10^39, which hold
        every finite non-zero float32 magnitude).

    Returns:
      int32 array of length ``bins.size`` = ``[zeros (and magnitudes below 10^lo), bin_1 .. bin_n, above 10^hi, inf or
      NaN]`` summing to ``values.size``.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        The gradient histograms, here in log10 |g| so that vanished (exactly 0) and exploded (inf)
        gradients stay visible.
    """
    v = jnp.ravel(values)
    magnitude = jnp.log10(jnp.abs(jnp.where(v == 0, 1.0, v)))  # log10 |inf| = inf and NaN stay non-finite
    return histogram(jnp.where(v == 0, bins.lo - 1.0, magnitude), bins.lo, bins.hi, bins.n_bins)


def dead_share(a: jax.Array) -> jax.Array:
    """Share of units (columns of the (batch, width) output ``a`` = phi(s_l)) that are 0 for every example.

    A dead ReLU unit passes no gradient for any input of the batch (Karpathy 2022; Lu et al. 2019, "Dying ReLU
    and initialization", Sec. 2). For activations that are 0 only at one point (tanh) the share is 0.

    Args:
      a: (batch, width) activations of one layer.

    Returns:
      A float scalar in [0, 1]: the fraction of the ``width`` units that are exactly 0 on the whole batch.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
      Lu, L., Shin, Y., Su, Y., & Karniadakis, G. E. (2019). Dying ReLU and initialization: theory and numerical
      examples. Sec. 2.
    """
    return jnp.mean(jnp.all(a == 0, axis=0))


def std(x: jax.Array) -> jax.Array:
    """Standard deviation over all entries, computed on x / max|x|: the squares of gradients below ~1e-19 would
    underflow float32 (and be flushed to 0 on CPU), giving std 0 for a gradient that is small but not zero.

    Args:
      x: any shape (a weight matrix, its gradient or its update).

    Returns:
      A scalar in the units of ``x``: the population standard deviation (ddof 0) of all its entries; 0 when ``x`` is all
      zeros.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        The weight-gradient std per layer.
    """
    scale = jnp.max(jnp.abs(x))
    return scale * jnp.std(x / jnp.where(scale > 0, scale, 1.0))


def std_ratio(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """std(numerator) / std(denominator) over all entries (the grad:data and update:data ratios).

    Args:
      numerator: any shape, e.g. ∂L/∂W_l or the update ΔW_l.
      denominator: any shape, e.g. W_l.

    Returns:
      A dimensionless scalar, both stds taken with :func:`std` (inf or NaN when std(denominator) is 0).

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        The grad:data ratio std(∂L/∂W) / std(W) and the update:data ratio std(ΔW) / std(W).
    """
    return std(numerator) / std(denominator)


def update_data_log10(update_in, update_hidden, weight_in, weight_hidden) -> jax.Array:
    """log10(std(ΔW_l) / std(W_l)) per layer, from the optimizer's actual update ΔW (optax ``updates``).

    Args:
      update_in, weight_in: (input_dim, width) update and weights of layer 1 (before the update).
      update_hidden, weight_hidden: (capacity, width, width); entry l is layer l + 1 for l >= 1 (entry 0 unused).

    Returns:
      (capacity,) float32: entry 0 is layer 1, entry l is layer l + 1. For plain SGD ΔW = -lr·g, so the value is
      log10(lr · std(g) / std(W)); Karpathy (2022) reads a healthy net off values near -3.

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
        The update:data ratio over training.
    """
    hidden = jax.vmap(std_ratio)(update_hidden, weight_hidden)
    return jnp.log10(hidden.at[0].set(std_ratio(update_in, weight_in)))


def densities(counts: np.ndarray) -> np.ndarray:
    """Counts (..., n) as shares of their row's total (rows of 0 entries stay 0).

    Args:
      counts: (..., n) histogram counts (e.g. ``LayerDiagnostics.act_hist`` or ``grad_hist``, one row per layer).

    Returns:
      float64 array of the same shape; each row along the last axis sums to 1 (or is all 0 where its counts are).

    References:
      Karpathy, A. (2022). Building makemore part 3: activations & gradients, BatchNorm.
    """
    counts = np.asarray(counts, np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
