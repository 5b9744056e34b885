"""One hidden layer, the forward pass and the manual reverse pass: ``_forward_backward`` is the single engine
behind the profile, the gain sweep and training.

Depth is a traced integer bound of a ``lax.while_loop``; the backward pass is a reverse ``while_loop`` of per-layer
VJPs over the activations stored by the forward pass (reverse-mode ``jax.grad`` cannot differentiate a loop with a
traced trip count).

References:
  Glorot & Bengio (2010), AISTATS, Sec. 4.2 (back-propagated gradients and layer Jacobians);
  Ioffe & Szegedy (2015), arXiv:1502.03167, Algorithm 1 (batch normalisation);
  He et al. (2016), arXiv:1512.03385, Eq. 1 (residual connections).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import activations, diagnostics
from .config import BN_EPS, JACOBIAN_EXAMPLES
from .params import Params, Settings


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


#: hidden layers whose Jacobian SVDs run as one batched call. One 128 x 128 SVD at a time inside the forward
#: loop cost ~25 ms of CPU each (1.2 s per measured training step at depth 50, ten times the step itself); in
#: batches of 16 after the loop the LAPACK calls run back to back, and at most 15 layers past ``depth`` are
#: measured for nothing.
SVD_BLOCK = 16


def _hidden_jacobian_means(measure, weight, derivs, depth, residual):
    """Mean singular value of layer l's Jacobian W_l diag(d_{l,e}) (+ I with residuals), for l = 1 .. depth-1
    (0-based hidden layers; entry 0 and entries from ``depth`` on are NaN); all NaN unless ``measure``.

    Args:
      measure: traced bool, measure at all (``lax.cond``: an unmeasured step pays nothing).
      weight: ``weight(l)``, W_l for a traced layer index l.
      derivs: (capacity, JACOBIAN_EXAMPLES, width) the scaled elementwise derivatives gain·phi'(s_l)·bn scale of
        each layer's first examples, recorded by the forward loop.
      depth: traced number of hidden layers.
      residual: traced bool, add the identity (residual blocks).

    Returns:
      (capacity,) float32 means.

    References:
      Pennington, Schoenholz & Ganguli (2017), "Resurrecting the sigmoid", §2: the input-output Jacobian is the
      product of the layers' W_l D_l; its singular values decide whether a deep net is dynamically isometric.
    """
    capacity, _, width = derivs.shape
    assert capacity % SVD_BLOCK == 0, (capacity, SVD_BLOCK)  # every capacity bucket is a multiple of the block
    layers = jnp.arange(SVD_BLOCK)
    eye = jnp.where(residual, jnp.eye(width, dtype=derivs.dtype), 0.0)

    def block(i, means):
        ls = i * SVD_BLOCK + layers
        w = jax.vmap(weight)(ls)  # (block, width, width)
        d = jax.lax.dynamic_slice_in_dim(derivs, i * SVD_BLOCK, SVD_BLOCK)
        jac = w[:, None, :, :] * d[:, :, None, :] + eye
        sv = jnp.mean(jnp.linalg.svd(jac, compute_uv=False), axis=(-2, -1))
        return jax.lax.dynamic_update_slice_in_dim(means, sv, i * SVD_BLOCK, 0)

    def measured(derivs):
        blocks = (depth + SVD_BLOCK - 1) // SVD_BLOCK
        means = jax.lax.fori_loop(0, blocks, block, jnp.full((capacity,), jnp.nan, jnp.float32))
        all_layers = jnp.arange(capacity)
        return jnp.where((all_layers >= 1) & (all_layers < depth), means, jnp.nan)

    return jax.lax.cond(measure, measured, lambda d: jnp.full((capacity,), jnp.nan, jnp.float32), derivs)


def saved_shape(capacity: int, batch: int, width: int) -> tuple[int, int, int, int]:
    """Shape of the buffer in which the forward pass keeps every layer's input and linear output.

    Args:
      capacity: the parameter capacity (hidden layers).
      batch: examples per batch.
      width: units per hidden layer.

    Returns:
      (2, capacity, batch, width): index 0 holds h_{l-1}, index 1 holds s_lin of layer l.

    References:
      Glorot & Bengio (2010), AISTATS, Sec. 4.2 (the per-layer activations and gradients these buffers feed).
    """
    return (2, capacity, batch, width)


def _forward_backward(
    params: Params, gain, settings: Settings, x, y, with_jacobian, mode: str = "train", weight=None, diagnose=None
):
    """Gradients (a Params pytree, or None) and LayerStats for one batch, with a fresh zero-filled activation buffer
    (see :func:`_forward_backward_into`, which also returns the buffer)."""
    capacity, width = params.b.shape
    saved = jnp.zeros(saved_shape(capacity, x.shape[0], width), jnp.float32)
    return _forward_backward_into(saved, params, gain, settings, x, y, with_jacobian, mode, weight, diagnose)[:2]


def _forward_backward_into(
    saved,
    params: Params,
    gain,
    settings: Settings,
    x,
    y,
    with_jacobian,
    mode: str = "train",
    weight=None,
    diagnose=None,
):
    """Gradients (a Params pytree, or None), LayerStats and the activation buffer for one batch; loops follow
    ``settings.depth``.

    ``saved`` (shape :func:`saved_shape`) receives each layer's input and linear output. Its initial contents are
    never read: layer l's slots are written by the forward loop before the reverse loop reads them, so a caller
    may pass a buffer left over from an earlier call and donate it (``jax.jit(donate_argnames=...)``). Measured on
    2 cores at depth 100, width 256, batch 256 (capacity 256): a fresh zero-filled 128 MiB buffer per call costs
    about a third of the profile's CPU time (memset and page faults), a donated one nothing.

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
    capacity = params.b.shape[0]
    depth = settings.depth
    zeros = jnp.zeros((capacity,), jnp.float32)

    # Layer 1 (input_dim -> width, no residual).
    s_lin1 = gain * (x @ params.w_in) + params.b_in
    h1, _, d_act1, scale1 = _normalize_activate(s_lin1, params.gamma[0], params.beta[0], params.slope[0], settings)
    m, sd, sat = _layer_stats(h1, d_act1, settings.activation)
    jac1 = _mean_singular_value(with_jacobian, params.w_in, gain * d_act1 * scale1, None)
    diag = None if diagnose is None else _record_forward(_diagnostics_buffers(capacity), 0, diagnose, h1, h1, settings)

    # Forward through layers 2..depth, keeping each layer's input and linear output for the reverse pass.
    derivs0 = jnp.zeros((capacity, JACOBIAN_EXAMPLES, params.b.shape[1]), jnp.float32)
    stats0 = (zeros.at[0].set(m), zeros.at[0].set(sd), zeros.at[0].set(sat), derivs0)

    def fwd_body(c):
        l, h, saved, (ms, sds, sats, derivs), diag = c
        s_lin = gain * (h @ weight(l)) + params.b[l]
        a, _, d_act, scale = _normalize_activate(s_lin, params.gamma[l], params.beta[l], params.slope[l], settings)
        h_new = jnp.where(settings.residual, h + a, a)
        saved = saved.at[0, l].set(h).at[1, l].set(s_lin)
        m, sd, sat = _layer_stats(h_new, d_act, settings.activation)
        # The Jacobian's diagonal factor, kept for the batched SVDs after the loop (_hidden_jacobian_means).
        derivs = derivs.at[l].set((gain * d_act * scale)[:JACOBIAN_EXAMPLES])
        stats = (ms.at[l].set(m), sds.at[l].set(sd), sats.at[l].set(sat), derivs)
        if diag is not None:
            diag = _record_forward(diag, l, diagnose, h_new, a, settings)
        return l + 1, h_new, saved, stats, diag

    _, h_last, saved, (ms, sds, sats, derivs), diag = jax.lax.while_loop(
        lambda c: c[0] < depth, fwd_body, (jnp.int32(1), h1, saved, stats0, diag)
    )
    hidden = _hidden_jacobian_means(with_jacobian, weight, derivs, depth, settings.residual)
    jacs = jnp.where(jnp.arange(capacity) == 0, jac1, jnp.where(jnp.arange(capacity) < depth, hidden, 0.0))

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
    return grads, stats, saved


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
