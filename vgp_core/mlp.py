"""Deep feedforward networks: per-layer gradient profiles, gain sweeps and training traces.

Network (Glorot & Bengio 2010 notation, row vectors): h_0 = x, and for hidden layers l = 1..L

    s_l = gain · h_{l-1} W_l + b_l        (optionally batch-normalised over the batch, Ioffe & Szegedy 2015)
    h_l = phi(s_l)                        (or h_{l-1} + phi(s_l) with residual connections, l >= 2; He et al. 2016)

followed by a softmax output layer and the mean cross-entropy loss L. Layer 1 maps input_dim -> width, the others
width -> width.

Engineering (measured on a 2-core machine: 20 slider settings passed as static arguments cost 20 compiles, 23 s,
against one compile of 0.36 s with traced integers): one compiled program per (width, batch, input_dim, n_classes,
capacity) serves every depth, activation, initializer, gain, bias scale, residual and batch-norm setting. Depth
is a traced integer bound of a ``lax.while_loop``, so the work follows the active depth (not the capacity), and the
backward pass is written as a reverse ``while_loop`` of per-layer VJPs (``jax.vjp``) over the activations stored
by the forward pass — reverse-mode ``jax.grad`` cannot differentiate a loop with a traced trip count. The same
per-layer VJPs give the back-propagated gradient ∂L/∂h_l, the weight gradient ∂L/∂W_l and the parameter gradients
for training; tests check them against ``jax.grad`` of an unrolled network and against finite differences.

Weights are an elementwise function of standard-normal draws fixed by the seed (``initializers``), so changing
the initializer or gain re-scales the *same* random network.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import activations, bounds, data, diagnostics, initializers, optimizers, sharding, theory
from .errors import ConfigError, check_choice, check_float, check_int

MAX_DEPTH = 256
MAX_WIDTH = 512
#: Parameter capacity buckets: a net of depth L uses the smallest bucket >= L (memory follows the depth).
CAPACITY_BUCKETS = (64, MAX_DEPTH)
BN_EPS = 1e-5
#: Examples whose layer Jacobians' singular values are averaged in ``jacobian_sv_mean``. One SVD of a 128x128
#: matrix costs ~1 ms here, per layer; the mean over the width singular values of one example is already a
#: low-variance estimate for wide layers.
JACOBIAN_EXAMPLES = 1
#: Examples per gain in ``gain_sweep`` (a vmapped forward+backward per gain). 64 gains x depth 50 x width 128 at
#: batch 8 is ~1.7 GFLOP, ~40 ms on two cores (bench/); each norm still averages 8 x width entries, a few % noise,
#: invisible on the log10 heatmap.
SWEEP_BATCH = 8
#: In training, the Jacobian SVDs are measured every this many steps (they cost more than the step itself).
JACOBIAN_EVERY = 10
OPTIMIZERS = optimizers.OPTIMIZERS


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """A deep feedforward network and the batch it is probed with. Validated on construction (ConfigError)."""

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Deep network page's controls offer.
    depth: int = bounds.integer(50, 1, MAX_DEPTH)
    width: int = bounds.integer(128, 2, MAX_WIDTH)
    activation: str = bounds.choice("tanh", activations.names())
    init: str = bounds.choice("glorot_normal", initializers.names(), label="initializer")
    gain: float = bounds.real(1.0, 0.0, 100.0, soft=(0.1, 4.0))
    bias_std: float = bounds.real(0.0, 0.0, 100.0, soft=(0.0, 1.0))
    residual: bool = bounds.flag(False)
    batchnorm: bool = bounds.flag(False)
    batch_size: int = bounds.integer(128, 2, 4096)
    seed: int = bounds.integer(0, 0, 2**31 - 1, soft=(0, 9999))
    input_dim: int = bounds.integer(64, 1, 4096)
    n_classes: int = bounds.integer(10, 2, 1000)

    def __post_init__(self):
        bounds.validate(self)

    @property
    def capacity(self) -> int:
        return next(c for c in CAPACITY_BUCKETS if c >= self.depth)

    def replace(self, **changes) -> MLPConfig:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class GradientProfile:
    """Per-layer quantities at initialisation for one batch; every array has shape (depth,), index 0 = layer 1
    (input side). Norms are Frobenius norms over the batch (L is the batch-mean loss)."""

    backprop_norm: np.ndarray  # ||∂L/∂h_l||
    weight_grad_norm: np.ndarray  # ||∂L/∂W_l||
    act_mean: np.ndarray  # mean of h_l
    act_std: np.ndarray  # std of h_l
    saturation: np.ndarray  # fraction of units with |phi'(s_l)| < SATURATION_LEVEL · sup|phi'|
    jacobian_sv_mean: np.ndarray  # mean singular value of ∂h_l/∂h_{l-1} (JACOBIAN_EXAMPLES examples); NaN if skipped
    loss: float
    #: histograms, dead-unit share, weight-gradient and weight std per layer (``diagnostics``); None if skipped
    layer_diagnostics: diagnostics.LayerDiagnostics | None = None


@dataclasses.dataclass(frozen=True)
class GainSweep:
    gains: np.ndarray  # (n_gains,)
    log10_backprop_norm: np.ndarray  # (n_gains, depth); -inf where float32 underflowed to 0, inf/NaN on overflow


@dataclasses.dataclass(frozen=True)
class TrainTrace:
    """Per-step trace of training; per-layer arrays have shape (steps, depth), measured on the step's batch
    before its update (row 0 is the network at initialisation)."""

    loss: np.ndarray  # (steps,)
    accuracy: np.ndarray  # (steps,) on the training batch
    grad_norm: np.ndarray  # (steps,) global norm of all parameter gradients, before clipping
    clipped: np.ndarray  # (steps,) bool: clipping changed the update
    backprop_norm: np.ndarray
    weight_grad_norm: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    saturation: np.ndarray
    jacobian_sv_mean: np.ndarray  # measured every JACOBIAN_EVERY steps (from step 0), NaN in between
    prelu_slope: np.ndarray  # (steps, depth): PReLU's learned slope (0.25 at init; unused by other activations)
    #: (steps, depth): log10(std(ΔW_l) / std(W_l)) of the optimizer's update at each step (``diagnostics``)
    update_data_log10: np.ndarray | None = None
    #: per-layer diagnostics measured every JACOBIAN_EVERY steps (from step 0): row k is step k·JACOBIAN_EVERY
    layer_diagnostics: diagnostics.LayerDiagnostics | None = None

    @property
    def steps(self) -> int:
        return int(self.loss.shape[0])


# ----------------------------------------------------------------------------------------------------------------
# Traced settings and parameters (pytrees)


class Settings(NamedTuple):
    """The controls that must not trigger a compilation, as traced scalars."""

    depth: jax.Array  # int32
    activation: jax.Array  # int32 registry index
    residual: jax.Array  # bool
    batchnorm: jax.Array  # bool


class Params(NamedTuple):
    """Network parameters with a fixed capacity of hidden layers; entry 0 of ``w``/``b`` is unused (layer 1 uses
    ``w_in``/``b_in``); ``gamma``/``beta``/``slope`` index all hidden layers."""

    w_in: jax.Array  # (input_dim, width)
    b_in: jax.Array  # (width,)
    w: jax.Array  # (capacity, width, width)
    b: jax.Array  # (capacity, width)
    gamma: jax.Array  # (capacity, width) batch-norm scale
    beta: jax.Array  # (capacity, width) batch-norm shift
    slope: jax.Array  # (capacity,) PReLU slope
    w_out: jax.Array  # (width, n_classes)
    b_out: jax.Array  # (n_classes,)


class LayerStats(NamedTuple):
    backprop_norm: jax.Array
    weight_grad_norm: jax.Array
    act_mean: jax.Array
    act_std: jax.Array
    saturation: jax.Array
    jacobian_sv_mean: jax.Array
    loss: jax.Array
    accuracy: jax.Array
    diagnostics: diagnostics.LayerDiagnostics | None = None


def _settings(config: MLPConfig) -> Settings:
    # Explicit dtypes: a Python int where a float was traced before would compile a second version.
    return Settings(
        depth=jnp.int32(config.depth),
        activation=jnp.int32(activations.index(config.activation)),
        residual=jnp.bool_(config.residual),
        batchnorm=jnp.bool_(config.batchnorm),
    )


# ----------------------------------------------------------------------------------------------------------------
# Random draws (cached per seed and shape) and parameters


class Draws(NamedTuple):
    z_in: jax.Array
    q_in: jax.Array
    z: jax.Array
    q: jax.Array
    z_b: jax.Array  # (capacity + 1, width): bias draws, row 0 for layer 1
    z_out: jax.Array
    q_out: jax.Array


@functools.partial(jax.jit, static_argnames=("input_dim", "width", "n_classes", "capacity", "orthogonal"))
def _draws(key, *, input_dim, width, n_classes, capacity, orthogonal):
    k_in, k_hidden, k_b, k_out = jax.random.split(key, 4)
    z_in = jax.random.normal(k_in, (input_dim, width), jnp.float32)
    # Layer l's draw depends on l only, not on the capacity bucket: a depth change keeps the first layers.
    z = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(k_hidden, i), (width, width), jnp.float32))(
        jnp.arange(capacity)
    )
    z_b = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(k_b, i), (width,), jnp.float32))(jnp.arange(capacity))
    z_out = jax.random.normal(k_out, (width, n_classes), jnp.float32)
    orth = initializers.orthogonal_from_normal if orthogonal else (lambda m: m)
    return Draws(z_in, orth(z_in), z, orth(z), z_b, z_out, orth(z_out))


@functools.lru_cache(maxsize=8)
def _cached_draws(seed, input_dim, width, n_classes, capacity, orthogonal) -> Draws:
    # QR of every layer is only paid for when the orthogonal initializer is selected.
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
    return _draws(key, input_dim=input_dim, width=width, n_classes=n_classes, capacity=capacity, orthogonal=orthogonal)


def _config_draws(config: MLPConfig) -> Draws:
    return _cached_draws(
        config.seed, config.input_dim, config.width, config.n_classes, config.capacity, config.init == "orthogonal"
    )


def _params_from_draws(draws: Draws, init_idx, gain, bias_std) -> Params:
    """Parameters at initialisation. ``gain`` may be 1 (the sweep applies its own gains inside the layers)."""
    capacity, width = draws.z_b.shape
    return Params(
        w_in=initializers.apply(init_idx, draws.z_in, draws.q_in, gain),
        b_in=bias_std * draws.z_b[0],
        w=jax.vmap(lambda z, q: initializers.apply(init_idx, z, q, gain))(draws.z, draws.q),
        b=bias_std * draws.z_b,
        gamma=jnp.ones((capacity, width), jnp.float32),
        beta=jnp.zeros((capacity, width), jnp.float32),
        slope=jnp.full((capacity,), activations.PRELU_INIT_SLOPE, jnp.float32),
        w_out=initializers.apply(init_idx, draws.z_out, draws.q_out, gain),
        b_out=jnp.zeros((draws.z_out.shape[1],), jnp.float32),
    )


@functools.lru_cache(maxsize=16)
def _probe_batch(seed: int, batch: int, input_dim: int, n_classes: int):
    """The fixed batch that ``gradient_profile`` and ``gain_sweep`` probe the network with."""
    task_key, batch_key = _data_keys(seed)
    return data.gaussian_mixture(task_key, batch_key, batch, input_dim, n_classes)


def _data_keys(seed: int):
    root = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)


# ----------------------------------------------------------------------------------------------------------------
# One hidden layer, the forward pass and the manual reverse pass


def _batchnorm(s_lin, gamma, beta, settings: Settings):
    """(s, bn_scale): batch-normalised pre-activation (Ioffe & Szegedy 2015) when enabled, else s_lin and 1."""

    def normalize(s_lin, gamma, beta):
        mean = jnp.mean(s_lin, axis=0)
        inv = jax.lax.rsqrt(jnp.var(s_lin, axis=0) + BN_EPS)
        return (s_lin - mean) * inv * gamma + beta, inv * gamma

    def identity(s_lin, gamma, beta):
        return s_lin, jnp.ones_like(gamma)

    # lax.cond, not jnp.where: without batch norm the batch statistics are not computed at all.
    return jax.lax.cond(settings.batchnorm, normalize, identity, s_lin, gamma, beta)


def _normalize_activate(s_lin, gamma, beta, slope, settings: Settings):
    """The elementwise part of a layer, from s_lin = gain·h W + b to a = phi(BN(s_lin)).

    Returns (a, s, phi'(s), bn_scale): s is the pre-activation after batch norm, and the per-example layer
    Jacobian is ∂h_out/∂h_in = gain · W · diag(phi'(s) · bn_scale) (+ I), batch statistics held fixed.
    """
    s, scale = _batchnorm(s_lin, gamma, beta, settings)
    a, da = activations.value_and_derivative(settings.activation, s, slope)
    return a, s, da, scale


def _layer_stats(h, d_act, act_idx):
    sat_level = activations.SATURATION_LEVEL * activations.max_derivatives()[act_idx]
    return jnp.mean(h), jnp.std(h), jnp.mean(jnp.abs(d_act) < sat_level)


def _mean_singular_value(measure, w, d, residual):
    """Mean singular value of W diag(d_e) (+ I) over the first JACOBIAN_EXAMPLES examples e; NaN unless
    ``measure`` (a traced bool: ``lax.cond`` skips the SVDs at run time without a second program)."""

    def svd_mean(w, d):
        jac = w[None, :, :] * d[:JACOBIAN_EXAMPLES, None, :]
        if residual is not None:
            jac = jac + jnp.where(residual, jnp.eye(w.shape[0], dtype=w.dtype), 0.0)
        return jnp.mean(jnp.linalg.svd(jac, compute_uv=False))

    return jax.lax.cond(measure, svd_mean, lambda w, d: jnp.float32(jnp.nan), w, d)


def _forward_backward(
    params: Params, gain, settings: Settings, x, y, with_jacobian, mode: str = "train", weight=None, diagnose=None
):
    """Gradients (a Params pytree, or None) and LayerStats for one batch; loops follow ``settings.depth``.

    The forward loop stores each layer's input h_{l-1} and linear output s_lin = gain·h_{l-1} W_l + b_l; the
    reverse loop takes the VJP of the elementwise part only (batch norm and phi) and does the two matrix
    products itself, ∂L/∂h_{l-1} = gain·(∂L/∂s_lin) W_l^T (+ ∂L/∂h_l with residuals) and
    ∂L/∂W_l = gain·h_{l-1}^T (∂L/∂s_lin), so no forward matmul is recomputed.

    ``with_jacobian`` is a traced bool: measure the layer Jacobians' singular values. ``mode`` (static) says what
    the reverse pass must produce: "train" all parameter gradients, "profile" only the per-layer norms of
    ∂L/∂h_l and ∂L/∂W_l, "sweep" only ∂L/∂h_l (the gain sweep's vmapped reverse pass then carries no
    per-gain weight gradients). ``weight(l)`` gives W_l for l >= 1 (default ``params.w[l]``; at initialisation
    the weights are made from the random draws layer by layer, so only the active layers are ever built).
    ``diagnose`` (a traced bool, or None for programs that never measure them) adds ``diagnostics.LayerDiagnostics``
    to the stats (not in "sweep" mode).
    """
    if weight is None:
        weight = lambda l: params.w[l]  # noqa: E731
    capacity, width = params.b.shape
    batch = x.shape[0]
    depth = settings.depth
    zeros = jnp.zeros((capacity,), jnp.float32)

    # Layer 1 (input_dim -> width, no residual).
    s_lin1 = gain * (x @ params.w_in) + params.b_in
    h1, _, d_act1, scale1 = _normalize_activate(s_lin1, params.gamma[0], params.beta[0], params.slope[0], settings)
    m, sd, sat = _layer_stats(h1, d_act1, settings.activation)
    jac1 = _mean_singular_value(with_jacobian, params.w_in, gain * d_act1 * scale1, None)
    diag = None if diagnose is None else _record_forward(_diagnostics_buffers(capacity), 0, diagnose, h1, h1, settings)

    # Forward through layers 2..depth, keeping each layer's input and linear output for the reverse pass.
    saved = jnp.zeros((2, capacity, batch, width), jnp.float32)
    stats0 = (zeros.at[0].set(m), zeros.at[0].set(sd), zeros.at[0].set(sat), zeros.at[0].set(jac1))

    def fwd_body(c):
        l, h, saved, (ms, sds, sats, jacs), diag = c
        w_l = weight(l)
        s_lin = gain * (h @ w_l) + params.b[l]
        a, _, d_act, scale = _normalize_activate(s_lin, params.gamma[l], params.beta[l], params.slope[l], settings)
        h_new = jnp.where(settings.residual, h + a, a)
        saved = saved.at[0, l].set(h).at[1, l].set(s_lin)
        m, sd, sat = _layer_stats(h_new, d_act, settings.activation)
        jac = _mean_singular_value(with_jacobian, w_l, gain * d_act * scale, settings.residual)
        stats = (ms.at[l].set(m), sds.at[l].set(sd), sats.at[l].set(sat), jacs.at[l].set(jac))
        if diag is not None:
            diag = _record_forward(diag, l, diagnose, h_new, a, settings)
        return l + 1, h_new, saved, stats, diag

    _, h_last, saved, (ms, sds, sats, jacs), diag = jax.lax.while_loop(
        lambda c: c[0] < depth, fwd_body, (jnp.int32(1), h1, saved, stats0, diag)
    )

    # Output layer and loss.
    def head(h, w_out, b_out):
        logits = gain * (h @ w_out) + b_out
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y)), logits

    loss, head_vjp, logits = jax.vjp(head, h_last, params.w_out, params.b_out, has_aux=True)
    delta, g_w_out, g_b_out = head_vjp(jnp.float32(1.0))
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)

    is_prelu = settings.activation == activations.index("prelu")

    def elementwise_vjp(s_lin, l, delta):
        """∂L/∂s_lin (and, in training, ∂L/∂gamma, ∂L/∂beta, ∂L/∂slope) from delta = ∂L/∂a.

        phi' comes from the forward-mode derivative of the selected branch; reverse-mode differentiation
        through ``lax.switch`` would make every one of its branches emit (zero-filled) residuals, several times
        slower than this. Only batch norm, which has no switch, goes through ``jax.vjp``.
        """
        (s, _), bn_vjp = jax.vjp(
            lambda sl, g, b: _batchnorm(sl, g, b, settings), s_lin, params.gamma[l], params.beta[l]
        )
        _, da = activations.value_and_derivative(settings.activation, s, params.slope[l])
        d_pre = delta * da
        d_s_lin, d_gamma, d_beta = bn_vjp((d_pre, jnp.zeros_like(params.gamma[l])))
        if mode != "train":
            return d_s_lin, None, None, None
        # PReLU a = slope·s for s < 0: ∂a/∂slope = min(s, 0); the other activations ignore the slope.
        d_slope = jnp.where(is_prelu, jnp.sum(delta * jnp.minimum(s, 0.0)), 0.0)
        return d_s_lin, d_gamma, d_beta, d_slope

    # Reverse pass: layer l = depth-1 .. 1 (0-based), delta = ∂L/∂h_l on entry.
    def bwd_body(c):
        l, delta, g, bp, wg, diag = c
        h_in, s_lin = saved[0, l], saved[1, l]
        bp = bp.at[l].set(jnp.linalg.norm(delta))
        d_s, d_gamma, d_beta, d_slope = elementwise_vjp(s_lin, l, delta)
        d_h = gain * (d_s @ weight(l).T) + jnp.where(settings.residual, delta, 0.0)
        if mode == "sweep":
            return l - 1, d_h, g, bp, wg, diag
        d_w = gain * (h_in.T @ d_s)
        wg = wg.at[l].set(jnp.linalg.norm(d_w))
        if diag is not None:
            diag = _record_backward(diag, l, diagnose, delta, d_w, weight(l), gain)
        if mode == "train":
            g = g._replace(
                w=g.w.at[l].set(d_w),
                b=g.b.at[l].set(jnp.sum(d_s, axis=0)),
                gamma=g.gamma.at[l].set(d_gamma),
                beta=g.beta.at[l].set(d_beta),
                slope=g.slope.at[l].set(d_slope),
            )
        return l - 1, d_h, g, bp, wg, diag

    grads0 = None
    if mode == "train":
        grads0 = Params(
            w_in=jnp.zeros_like(params.w_in),
            b_in=jnp.zeros_like(params.b_in),
            w=jnp.zeros_like(params.w),
            b=jnp.zeros_like(params.b),
            gamma=jnp.zeros_like(params.gamma),
            beta=jnp.zeros_like(params.beta),
            slope=jnp.zeros_like(params.slope),
            w_out=g_w_out,
            b_out=g_b_out,
        )
    _, delta1, grads, bp, wg, diag = jax.lax.while_loop(
        lambda c: c[0] >= 1, bwd_body, (depth - 1, delta, grads0, zeros, zeros, diag)
    )

    # Layer 1.
    bp = bp.at[0].set(jnp.linalg.norm(delta1))
    d_s1, d_gamma0, d_beta0, d_slope0 = elementwise_vjp(s_lin1, 0, delta1)
    d_w_in = gain * (x.T @ d_s1)
    wg = wg.at[0].set(jnp.linalg.norm(d_w_in))
    if diag is not None:
        diag = _record_backward(diag, 0, diagnose, delta1, d_w_in, params.w_in, gain)
    if mode == "train":
        grads = grads._replace(
            w_in=d_w_in,
            b_in=jnp.sum(d_s1, axis=0),
            gamma=grads.gamma.at[0].set(d_gamma0),
            beta=grads.beta.at[0].set(d_beta0),
            slope=grads.slope.at[0].set(d_slope0),
        )
    stats = LayerStats(bp, wg, ms, sds, sats, jacs, loss, accuracy, diag)
    return grads, stats


def _diagnostics_buffers(capacity: int) -> diagnostics.LayerDiagnostics:
    """Empty per-layer diagnostics (NaN = not measured) for ``capacity`` layers."""
    nan = jnp.full((capacity,), jnp.nan, jnp.float32)
    return diagnostics.LayerDiagnostics(
        act_hist=jnp.zeros((capacity, diagnostics.VALUE_BINS + 3), jnp.int32),
        grad_hist=jnp.zeros((capacity, diagnostics.GRAD_LOG10_BINS.size), jnp.int32),
        dead_share=nan,
        weight_grad_std=nan,
        weight_std=nan,
    )


def _record_forward(diag, l, diagnose, h, a, settings: Settings):
    """``diag`` with layer l's histogram of h_l and dead share of a = phi(s_l), measured only when ``diagnose``
    (``lax.cond``: an unmeasured training step does not pay for the histogram)."""

    def measure(h, a):
        lo, hi = jnp.asarray(diagnostics.value_range_table())[settings.activation]
        return diagnostics.histogram(h, lo, hi, diagnostics.VALUE_BINS), diagnostics.dead_share(a)

    def skip(h, a):
        return diag.act_hist[l], diag.dead_share[l]

    hist, dead = jax.lax.cond(diagnose, measure, skip, h, a)
    return diag._replace(act_hist=diag.act_hist.at[l].set(hist), dead_share=diag.dead_share.at[l].set(dead))


def _record_backward(diag, l, diagnose, delta, d_w, w, gain):
    """``diag`` with layer l's histogram of log10 |∂L/∂h_l| and the std of the effective weights V = gain·W_l and
    of their gradient ∂L/∂V = (∂L/∂W_l) / gain (training folds the gain into the weights: gain = 1 there)."""

    def measure(delta, d_w, w):
        g = jnp.abs(gain)
        return diagnostics.log_magnitude_histogram(delta), diagnostics.std(d_w) / g, diagnostics.std(w) * g

    def skip(delta, d_w, w):
        return diag.grad_hist[l], diag.weight_grad_std[l], diag.weight_std[l]

    hist, g_std, w_std = jax.lax.cond(diagnose, measure, skip, delta, d_w, w)
    return diag._replace(
        grad_hist=diag.grad_hist.at[l].set(hist),
        weight_grad_std=diag.weight_grad_std.at[l].set(g_std),
        weight_std=diag.weight_std.at[l].set(w_std),
    )


# ----------------------------------------------------------------------------------------------------------------
# Public API: profile at initialisation


@jax.jit
def _profile(draws, init_idx, gain, bias_std, settings, x, y, with_jacobian, with_diagnostics):
    params, weight = _lazy_params(draws, init_idx, bias_std)
    return _forward_backward(
        params, gain, settings, x, y, with_jacobian, mode="profile", weight=weight, diagnose=with_diagnostics
    )[1]


def _lazy_params(draws: Draws, init_idx, bias_std):
    """Parameters at initialisation with gain 1, except the hidden weights, which ``weight(l)`` builds from the
    draws when layer l runs (``params.w`` holds the raw draws only as a placeholder of the right shape)."""
    params = _params_from_draws(
        draws._replace(z=draws.z[:1], q=draws.q[:1]), init_idx, jnp.float32(1.0), bias_std
    )._replace(w=draws.z)
    return params, lambda l: initializers.apply(init_idx, draws.z[l], draws.q[l], jnp.float32(1.0))


def _trim(a, depth):
    return np.asarray(a)[..., :depth]


def gradient_profile(
    config: MLPConfig, with_jacobian: bool = True, with_diagnostics: bool | None = None
) -> GradientProfile:
    """Per-layer gradient and activation statistics of ``config``'s network at initialisation on a fixed batch.

    ``with_jacobian=False`` skips the per-layer SVDs (jacobian_sv_mean is then NaN); the app uses it while a slider is
    dragged. ``with_diagnostics`` (default: as ``with_jacobian``, the slower views together) measures
    ``layer_diagnostics`` (histograms, dead units, grad:data) in the same call; else it is None.

    Args:
      config: the network.
      with_jacobian: measure the layer Jacobians' mean singular values.
      with_diagnostics: measure the per-layer diagnostics (None: as ``with_jacobian``).

    Returns:
      A :class:`GradientProfile` (per layer: ||∂L/∂h_l||, ||∂L/∂W_l||, activation mean/std, saturation, Jacobian).

    References:
      Glorot & Bengio (2010), AISTATS, Sec. 4.2 (back-propagated gradients per layer) and Sec. 4.2.1 (Jacobians);
      Wikipedia, "Vanishing gradient problem", section "Prototypical models".
    """
    with_diagnostics = with_jacobian if with_diagnostics is None else with_diagnostics
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats = _profile(
        _config_draws(config),
        jnp.int32(initializers.index(config.init)),
        jnp.float32(config.gain),
        jnp.float32(config.bias_std),
        _settings(config),
        x,
        y,
        jnp.bool_(with_jacobian),
        jnp.bool_(with_diagnostics),
    )
    stats = jax.device_get(stats)
    d = config.depth
    layer_diagnostics = diagnostics.LayerDiagnostics(*(a[:d] for a in stats.diagnostics))
    return GradientProfile(
        _trim(stats.backprop_norm, d),
        _trim(stats.weight_grad_norm, d),
        _trim(stats.act_mean, d),
        _trim(stats.act_std, d),
        _trim(stats.saturation, d),
        _trim(stats.jacobian_sv_mean, d),
        float(stats.loss),
        layer_diagnostics if with_diagnostics else None,
    )


# ----------------------------------------------------------------------------------------------------------------
# Public API: gain sweep (vmapped, sharded over devices)


def _sweep_one(draws, init_idx, gain, bias_std, settings, x, y):
    params, weight = _lazy_params(draws, init_idx, bias_std)
    bp = _forward_backward(params, gain, settings, x, y, jnp.bool_(False), mode="sweep", weight=weight)[1].backprop_norm
    return jnp.log10(bp)


_sweep = jax.jit(jax.vmap(_sweep_one, in_axes=(None, None, 0, None, None, None, None)))


def gain_sweep(config: MLPConfig, gains, batch: int = SWEEP_BATCH) -> GainSweep:
    """log10 ||∂L/∂h_l|| at initialisation for every gain in ``gains``, in one vmapped, jitted call.

    The gain axis is sharded over all visible devices (``vgp_core.sharding``). Uses the first ``batch`` examples of the
    probe batch (the per-gain cost is a full forward and backward pass).

    Args:
      config: the network (its gain is replaced by each of ``gains``).
      gains: non-negative finite gains.
      batch: examples of the probe batch used, 1 to ``config.batch_size``.

    Returns:
      A :class:`GainSweep` (a (len(gains), depth) matrix).

    References:
      Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS,
      Eqs. 3 and 5 (the weight scale's order-to-chaos transition); Schoenholz et al. (2017), "Deep information
      propagation", ICLR (gradients grow or shrink per layer by χ_1, the slope at that transition).
    """
    gains = np.asarray(gains, np.float32).reshape(-1)
    if gains.size == 0 or not np.all(np.isfinite(gains)) or np.any(gains < 0):
        raise ConfigError(f"gains must be a non-empty list of finite numbers >= 0, got {gains!r}")
    batch = check_int("batch", batch, 1, config.batch_size)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    args = (_config_draws(config), jnp.int32(initializers.index(config.init)))
    rest = (jnp.float32(config.bias_std), _settings(config), x[:batch], y[:batch])
    out = sharding.sweep_over_devices(_sweep, args, gains, rest)
    return GainSweep(gains, out[:, : config.depth])


# ----------------------------------------------------------------------------------------------------------------
# Public API: training


@jax.jit
def _init_params(draws, init_idx, gain, bias_std):
    return _params_from_draws(draws, init_idx, gain, bias_std)


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _init_opt_state(params, learning_rate, optimizer):
    # Rprop keeps its per-parameter step sizes in the state, starting at the learning rate.
    return optimizers.clipped(optimizer, learning_rate).init(params)


@functools.partial(jax.jit, static_argnames=("optimizer", "chunk", "batch"))
def _train_chunk(
    params,
    opt_state,
    step0,
    settings,
    task_key,
    stream_key,
    learning_rate,
    clip_norm,
    optimizer,
    chunk,
    batch,
    jacobians=True,
):
    tx = optimizers.clipped(optimizer, learning_rate, clip_norm)
    n_classes = params.w_out.shape[1]
    input_dim = params.w_in.shape[0]

    def one_step(carry, step):
        params, opt_state = carry
        x, y = data.gaussian_mixture(task_key, jax.random.fold_in(stream_key, step), batch, input_dim, n_classes)
        measure = step % JACOBIAN_EVERY == 0
        grads, stats = _forward_backward(
            params, jnp.float32(1.0), settings, x, y, jnp.logical_and(jacobians, measure), diagnose=measure
        )
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        # the optimizer's actual update against the weights it changes (Karpathy 2022's update:data ratio)
        update_ratio = diagnostics.update_data_log10(updates.w_in, updates.w, params.w_in, params.w)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (stats, grad_norm, grad_norm > clip_norm, params.slope, update_ratio)

    (params, opt_state), out = jax.lax.scan(one_step, (params, opt_state), step0 + jnp.arange(chunk))
    return params, opt_state, out


def _check_training(steps, optimizer, learning_rate, clip_norm, chunk):
    steps = check_int("steps", steps, 1, 100_000)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = check_float("learning_rate", learning_rate, 0.0, 100.0)
    clip = math.inf if clip_norm is None else check_float("clip_norm", clip_norm, 1e-8, 1e12)
    chunk = check_int("chunk", chunk, 1, 10_000)
    return steps, optimizer, learning_rate, clip, chunk


def train_iter(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
    params: Params | None = None,
    jacobians: bool = True,
) -> Iterator[TrainTrace]:
    """Train ``config``'s network on its task, yielding the trace so far after every ``chunk`` steps.

    A fresh seeded batch per step; the app streams these traces (stop iterating to cancel). Every chunk has the same
    length (one compiled program); the last one is trimmed to ``steps``. ``jacobians=False`` skips the layer-Jacobian
    SVDs (``jacobian_sv_mean`` is then NaN throughout): on CPU they cost several times the training step itself.

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.
      params: parameters to start from (e.g. pre-trained; :func:`init_params` layout; None: the initialisation).
      jacobians: measure the layer Jacobians every JACOBIAN_EVERY steps.

    Returns:
      An iterator of :class:`TrainTrace`, each holding every step so far.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping); optax documentation, "Optimizers".
    """
    for trace, _ in _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params, jacobians):
        yield trace


def check_params(config: MLPConfig, params: Params) -> Params:
    """``params`` as float32 arrays of the shapes :func:`init_params` gives ``config``.

    Args:
      config: the network.
      params: parameters in the :class:`Params` layout.

    Returns:
      The parameters as float32 arrays. Raises ``ConfigError`` naming the first mismatching field otherwise.

    References:
      None beyond this module (the :class:`Params` layout).
    """
    c, w, k = config.capacity, config.width, config.n_classes
    want = Params(
        w_in=(config.input_dim, w),
        b_in=(w,),
        w=(c, w, w),
        b=(c, w),
        gamma=(c, w),
        beta=(c, w),
        slope=(c,),
        w_out=(w, k),
        b_out=(k,),
    )
    if not isinstance(params, Params):
        raise ConfigError(f"params must be an mlp.Params, got {type(params).__name__}")
    for name, shape, got in zip(Params._fields, want, params):
        if tuple(np.shape(got)) != shape:
            raise ConfigError(f"params.{name} must have shape {shape} for this config, got {tuple(np.shape(got))}")
    return Params(*(jnp.asarray(a, jnp.float32) for a in params))


def _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params=None, jacobians=True):
    """Yields (trace so far, parameters after it) after every chunk; the engine of :func:`train_iter`."""
    steps, optimizer, learning_rate, clip, chunk = _check_training(steps, optimizer, learning_rate, clip_norm, chunk)
    chunk = min(chunk, steps)
    if params is None:
        params = init_params(config)
    else:
        params = check_params(config, params)
    opt_state = _init_opt_state(params, jnp.float32(learning_rate), optimizer)
    settings = _settings(config)
    task_key, _ = _data_keys(config.seed)
    stream_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3)
    parts = []
    done = 0
    while done < steps:
        # The last chunk runs in full (one compiled length) and is trimmed in the trace; with ``steps`` not a
        # multiple of ``chunk`` the parameters yielded have seen those extra steps too (train_with_params refuses
        # such step counts).
        params, opt_state, out = _train_chunk(
            params,
            opt_state,
            jnp.int32(done),
            settings,
            task_key,
            stream_key,
            jnp.float32(learning_rate),
            jnp.float32(clip),
            optimizer=optimizer,
            chunk=chunk,
            batch=config.batch_size,
            jacobians=jnp.bool_(jacobians),
        )
        parts.append(_keep_measured_diagnostics(jax.device_get(out), done))
        done += chunk
        yield _assemble(parts, config.depth, min(done, steps)), params


def init_params(config: MLPConfig) -> Params:
    """The parameters ``config``'s network starts training from (gain folded into the weights).

    Args:
      config: the network.

    Returns:
      A :class:`Params` of float32 arrays.

    References:
      The initializers' sources (``vgp_core.initializers``, e.g. Glorot & Bengio 2010, Eq. 16; He et al. 2015).
    """
    return _init_params(
        _config_draws(config),
        jnp.int32(initializers.index(config.init)),
        jnp.float32(config.gain),
        jnp.float32(config.bias_std),
    )


def train_with_params(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
    params: Params | None = None,
    jacobians: bool = True,
) -> tuple[TrainTrace, Params]:
    """(trace, trained parameters) after exactly ``steps`` updates from ``params``.

    ``steps`` must be a multiple of ``chunk`` (ConfigError otherwise), so the parameters have seen exactly the steps in
    the trace.

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.
      params: parameters to start from (None: the initialisation).
      jacobians: measure the layer Jacobians every JACOBIAN_EVERY steps.

    Returns:
      (:class:`TrainTrace`, the trained :class:`Params`).

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping).
    """
    steps = check_int("steps", steps, 1, 100_000)
    chunk = check_int("chunk", chunk, 1, 10_000)
    if steps % min(chunk, steps):
        raise ConfigError(f"steps ({steps}) must be a multiple of chunk ({chunk}) in train_with_params")
    out = None
    for out in _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params, jacobians):  # noqa: B007 (the loop keeps the last item)
        pass
    return out


@jax.jit
def _params_stats(params, settings, x, y, with_jacobian):
    return _forward_backward(params, jnp.float32(1.0), settings, x, y, with_jacobian, mode="profile")[1]


def params_profile(config: MLPConfig, params: Params, with_jacobian: bool = False) -> GradientProfile:
    """Like :func:`gradient_profile`, for given parameters on the same fixed probe batch.

    Args:
      config: the network.
      params: e.g. trained or pre-trained parameters (:func:`init_params` layout, gain already folded in).
      with_jacobian: measure the layer Jacobians' mean singular values.

    Returns:
      A :class:`GradientProfile`.

    References:
      Glorot & Bengio (2010), AISTATS, Sec. 4.2.
    """
    params = check_params(config, params)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats = jax.device_get(_params_stats(params, _settings(config), x, y, jnp.bool_(with_jacobian)))
    d = config.depth
    return GradientProfile(
        _trim(stats.backprop_norm, d),
        _trim(stats.weight_grad_norm, d),
        _trim(stats.act_mean, d),
        _trim(stats.act_std, d),
        _trim(stats.saturation, d),
        _trim(stats.jacobian_sv_mean, d),
        float(stats.loss),
    )


def probe_accuracy(config: MLPConfig, params: Params) -> tuple[float, float]:
    """(loss, accuracy) of ``params`` on the fixed probe batch (held out: training draws a separate stream).

    Args:
      config: the network and its task.
      params: the parameters (:func:`init_params` layout).

    Returns:
      (mean cross-entropy, accuracy in [0, 1]).

    References:
      None beyond this module (the probe batch of :func:`gradient_profile`).
    """
    params = check_params(config, params)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats = jax.device_get(_params_stats(params, _settings(config), x, y, jnp.bool_(False)))
    return float(stats.loss), float(stats.accuracy)


def _keep_measured_diagnostics(out, step0: int):
    """A chunk's output with the layer diagnostics of the measured steps only (every JACOBIAN_EVERY-th; the others
    are placeholders), so that a long run does not hold ten times the histograms it measured."""
    stats = out[0]
    measured = (step0 + np.arange(stats.loss.shape[0])) % JACOBIAN_EVERY == 0
    kept = diagnostics.LayerDiagnostics(*(a[measured] for a in stats.diagnostics))
    return (stats._replace(diagnostics=kept), *out[1:])


def _assemble(parts, depth, steps) -> TrainTrace:
    def cat(get):
        return np.concatenate([get(p) for p in parts])[:steps]

    def layers(field):
        return cat(lambda p: getattr(p[0], field))[:, :depth]

    return TrainTrace(
        loss=cat(lambda p: p[0].loss),
        accuracy=cat(lambda p: p[0].accuracy),
        grad_norm=cat(lambda p: p[1]),
        clipped=cat(lambda p: p[2]),
        backprop_norm=layers("backprop_norm"),
        weight_grad_norm=layers("weight_grad_norm"),
        act_mean=layers("act_mean"),
        act_std=layers("act_std"),
        saturation=layers("saturation"),
        jacobian_sv_mean=layers("jacobian_sv_mean"),
        prelu_slope=cat(lambda p: p[3])[:, :depth],
        update_data_log10=cat(lambda p: p[4])[:, :depth],
        layer_diagnostics=diagnostics.LayerDiagnostics(
            *(
                np.concatenate([p[0].diagnostics[i] for p in parts])[: -(-steps // JACOBIAN_EVERY), :depth].copy()
                for i in range(len(diagnostics.LayerDiagnostics._fields))
            )
        ),
    )


def train(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
) -> TrainTrace:
    """The full training trace (see :func:`train_iter`).

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.

    Returns:
      The last :class:`TrainTrace`.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping).
    """
    trace = None
    for trace in train_iter(config, steps, optimizer, learning_rate, clip_norm, chunk):  # noqa: B007 (the loop keeps the last item)
        pass
    return trace


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
