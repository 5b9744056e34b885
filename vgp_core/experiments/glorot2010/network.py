"""The network of the reproduction and its jitted programs: parameters, forward pass, the training chunk
(``lax.scan`` of SGD updates on a generated Shapeset stream) and the probe statistics of the paper's figures.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Eqs. 1 and 16 (initializations), Eqs. 12-14 (gradient variances), Sec. 4.2.1 (Jacobian singular values).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ... import activations, data, initializers
from ...errors import check_choice
from .config import ACTIVATIONS, N_CLASSES, _init_name


def init_params(key, init: str, depth: int, width: int, input_dim: int, n_classes: int = N_CLASSES):
    """The network's parameters ((W^1, b^1), ..., (W^{depth+1}, b^{depth+1})) at initialization.

    Weights from ``init`` (standard, Eq. 1, or normalized, Eq. 16), biases 0 (as in the paper). Layer l's weights come
    from ``fold_in(key, l)``, so both inits rescale the same draws.

    Args:
      key: a JAX PRNG key.
      init: "standard" or "glorot_uniform".
      depth: the number of hidden layers.
      width: units per hidden layer.
      input_dim: the input dimension.
      n_classes: the outputs (softmax classes).

    Returns:
      A tuple of depth + 1 (W, b) pairs.

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Eq. 1 and Eq. 16.
    """
    init = _init_name(init)
    dims = [input_dim] + [width] * depth + [n_classes]
    return tuple(
        (
            initializers.sample(init, jax.random.fold_in(key, l), dims[l], dims[l + 1]),
            jnp.zeros((dims[l + 1],), jnp.float32),
        )
        for l in range(depth + 1)
    )


def _forward(params, act_idx, x, shifts=None):
    """(logits, [s^1..s^L], [z^1..z^L]); ``shifts`` (one zero array per hidden layer) are added to s^i so that the
    gradient with respect to them is the back-propagated gradient ∂C/∂s^i."""
    h, ss, hs = x, [], []
    for l, (w, b) in enumerate(params[:-1]):
        s = h @ w + b
        if shifts is not None:
            s = s + shifts[l]
        h = activations.apply(act_idx, s)
        ss.append(s)
        hs.append(h)
    w, b = params[-1]
    return h @ w + b, ss, hs


def _nll(logits, y):
    """Per-example negative log-likelihood of the softmax output."""
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


def _batch_loss(params, act_idx, x, y):
    return jnp.mean(_nll(_forward(params, act_idx, x)[0], y))


@functools.partial(jax.jit, static_argnames=("chunk", "batch_size", "image_size"))
def _stream_block(data_key, block, *, chunk: int, batch_size: int, image_size: int):
    """Fresh Shapeset minibatches for updates [block·chunk, (block+1)·chunk): (chunk, batch_size, input_dim) images
    and (chunk, batch_size) labels, from ``fold_in(data_key, block)`` — one vectorised call per chunk (generating
    inside the training scan under ``vmap`` compiled 10x slower)."""
    b = data._shapeset_batch(jax.random.fold_in(data_key, block), chunk * batch_size, image_size)
    return b.images.reshape(chunk, batch_size, -1), b.labels.reshape(chunk, batch_size)


@functools.partial(jax.jit, donate_argnums=(0,))
def _train_chunk(params, act_idx, lr, xs, ys, first, stop):
    """Plain SGD updates W <- W - lr ∂C/∂W (C = mean NLL of the minibatch) over the minibatches ``xs[first:stop]``,
    in one ``lax.scan`` over all of ``xs`` where the other steps apply no update (traced bounds: one compilation).
    Returns the new params and the minibatch losses (NaN for the steps outside [first, stop))."""

    def step(p, inp):
        x, y, i = inp
        loss, g = jax.value_and_grad(_batch_loss)(p, act_idx, x, y)
        active = (i >= first) & (i < stop)
        rate = jnp.where(active, lr, 0.0)
        return jax.tree.map(lambda w, gw: w - rate * gw, p, g), jnp.where(active, loss, jnp.nan)

    return jax.lax.scan(step, params, (xs, ys, jnp.arange(xs.shape[0])))


@jax.jit
def _eval_block(params, act_idx, x, y, valid):
    """(number of errors, summed NLL) over the rows of one block where ``valid``."""
    logits = _forward(params, act_idx, x)[0]
    wrong = (jnp.argmax(logits, axis=1) != y) & valid
    return jnp.sum(wrong), jnp.sum(jnp.where(valid, _nll(logits, y), 0.0))


class _ProbeStats(NamedTuple):
    act_mean: jax.Array  # (depth,)
    act_std: jax.Array
    act_p2: jax.Array
    act_p98: jax.Array
    act_saturated: jax.Array
    backprop_var: jax.Array
    weight_grad_var: jax.Array
    nll: jax.Array  # ()
    error: jax.Array


def _probe_forward_backward(params, act_idx, x, y):
    """Pre-activations, activations, their derivatives and the per-example back-propagated gradients
    δ^i = ∂C_e/∂s^i (C_e the NLL of example e; summing the NLL over the probe set keeps the rows per-example)."""
    shifts = [jnp.zeros((x.shape[0], w.shape[1]), jnp.float32) for w, _ in params[:-1]]

    def total(shifts):
        logits, ss, hs = _forward(params, act_idx, x, shifts)
        nll = _nll(logits, y)
        return jnp.sum(nll), (logits, ss, hs, nll)

    deltas, (logits, ss, hs, nll) = jax.grad(total, has_aux=True)(shifts)
    return logits, ss, hs, deltas, nll


@functools.partial(jax.jit, static_argnames=("batch_size",))
def _probe(params, act_idx, x, y, *, batch_size: int) -> _ProbeStats:
    """Per-layer statistics on the probe set (Glorot & Bengio 2010, Fig. 2–3, 7, 9).

    ``weight_grad_var[i]`` is the variance over entries of ∂C/∂W^i for C the mean NLL of a minibatch of
    ``batch_size`` probe examples (an actual SGD gradient), averaged over the probe set's minibatches. It uses
    ∂C/∂W = Z^T Δ (Z: the minibatch's inputs to the layer, Δ: its δ rows / batch_size) and
    ||Z^T Δ||_F^2 = <Z Z^T, Δ Δ^T>, so no n_in × n_out matrix per minibatch is formed.
    """
    logits, ss, hs, deltas, nll = _probe_forward_backward(params, act_idx, x, y)
    n_mb = x.shape[0] // batch_size
    sat_level = activations.SATURATION_LEVEL * activations.max_derivatives()[act_idx]
    rows = {k: [] for k in _ProbeStats._fields[:7]}
    inputs = [x] + hs[:-1]
    for s, h, d, z in zip(ss, hs, deltas, inputs):
        rows["act_mean"].append(jnp.mean(h))
        rows["act_std"].append(jnp.std(h))
        rows["act_p2"].append(jnp.percentile(h, 2.0))
        rows["act_p98"].append(jnp.percentile(h, 98.0))
        _, dphi = activations.value_and_derivative(act_idx, s)
        rows["act_saturated"].append(jnp.mean(jnp.abs(dphi) < sat_level))
        rows["backprop_var"].append(jnp.var(d))
        zb = z[: n_mb * batch_size].reshape(n_mb, batch_size, -1)
        db = d[: n_mb * batch_size].reshape(n_mb, batch_size, -1) / batch_size
        n_entries = z.shape[1] * d.shape[1]
        sum_sq = jnp.sum(jnp.einsum("mbi,mci->mbc", zb, zb) * jnp.einsum("mbi,mci->mbc", db, db), axis=(1, 2))
        total = jnp.einsum("mb,mb->m", jnp.sum(zb, axis=2), jnp.sum(db, axis=2))
        rows["weight_grad_var"].append(jnp.mean(sum_sq / n_entries - (total / n_entries) ** 2))
    error = jnp.mean(jnp.argmax(logits, axis=1) != y)
    return _ProbeStats(**{k: jnp.stack(v) for k, v in rows.items()}, nll=jnp.mean(nll), error=error)


@functools.partial(jax.jit, static_argnames=("batch_size",))
def _snapshot_values(params, act_idx, x, y, *, batch_size: int):
    """Raw values for the histograms: activations z^i and δ^i on the probe set, and the weight gradients ∂C/∂W^i of
    the first minibatch (C its mean NLL)."""
    _, _, hs, deltas, _ = _probe_forward_backward(params, act_idx, x, y)
    inputs = [x] + hs[:-1]
    wgrads = [z[:batch_size].T @ (d[:batch_size] / batch_size) for z, d in zip(inputs, deltas)]
    return hs, deltas, wgrads


@jax.jit
def _jacobian_sv_means(params, act_idx, x):
    """Mean singular value of J^i = ∂z^i/∂z^{i-1} = W^i diag(f'(s^i)) (row-vector convention) for every hidden
    layer, averaged over the examples in ``x`` (Glorot & Bengio 2010, Sec. 4.2.1)."""
    _, ss, _ = _forward(params, act_idx, x)
    out = []
    for (w, _), s in zip(params[:-1], ss):
        _, dphi = activations.value_and_derivative(act_idx, s)
        jac = w[None, :, :] * dphi[:, None, :]
        out.append(jnp.mean(jnp.linalg.svd(jac, compute_uv=False)))
    return jnp.stack(out)


def jacobian_sv_mean(params, activation: str, x) -> np.ndarray:
    """The mean singular value of each layer's Jacobian ∂z^{i+1}/∂z^i, averaged over examples ``x``.

    Args:
      params: the network's parameters (:func:`init_params` layout).
      activation: "sigmoid", "tanh" or "softsign".
      x: examples of shape (n, input_dim).

    Returns:
      A float64 array of one value per hidden layer.

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Sec. 4.2.1 (0.8 for the normalized init, 0.5 for the standard one, tanh).
    """
    act_idx = jnp.int32(activations.index(check_choice("activation", activation, ACTIVATIONS)))
    return np.asarray(_jacobian_sv_means(params, act_idx, jnp.asarray(x, jnp.float32)))
