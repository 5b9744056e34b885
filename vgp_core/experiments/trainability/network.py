"""The tanh network of the experiment: seeded standard-normal draws scaled by σ_w and σ_b, the forward pass
(a ``lax.scan`` over the stacked hidden weights), the jitted SGD chunks and the minibatch index stream.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5 (W_ij ~ N(0, σ_w²/N), b ~ N(0, σ_b²), plain SGD).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .config import N_CLASSES, TrainabilityConfig


class Params(NamedTuple):
    w_in: jax.Array  # (input_dim, width)
    b_in: jax.Array  # (width,)
    w_hidden: jax.Array  # (depth - 1, width, width)
    b_hidden: jax.Array  # (depth - 1, width)
    w_out: jax.Array  # (width, n_classes)
    b_out: jax.Array  # (n_classes,)


def standard_draws(key, depth: int, width: int, input_dim: int, n_classes: int = N_CLASSES) -> Params:
    """Standard-normal draws of every weight and bias of a ``depth``-layer net (shared by every σ_w² of a depth).

    Args:
      key: a JAX PRNG key.
      depth: hidden layers L (the net has depth - 1 hidden-to-hidden layers).
      width: units per hidden layer.
      input_dim: input features (64 for the digits).
      n_classes: outputs of the read-out.

    Returns:
      :class:`Params` of float32 N(0, 1) draws: w_in (input_dim, width), b_in (width,), w_hidden (depth - 1, width,
      width), b_hidden (depth - 1, width), w_out (width, n_classes), b_out (n_classes,).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment). Each σ_w² scales the same draws.
    """
    k = jax.random.split(key, 6)
    shapes = ((input_dim, width), (width,), (depth - 1, width, width), (depth - 1, width), (width, n_classes))
    draws = [jax.random.normal(kk, s, jnp.float32) for kk, s in zip(k, shapes)]
    return Params(*draws, jax.random.normal(k[5], (n_classes,), jnp.float32))


def scale_draws(draws: Params, sigma_w2, sigma_b2: float) -> Params:
    """W = σ_w/√fan_in · Z, b = σ_b · Z (Schoenholz et al. 2017, Sec. 2: W_ij ~ N(0, σ_w²/N), b_i ~ N(0, σ_b²)).

    Args:
      draws: standard-normal :class:`Params` (:func:`standard_draws`).
      sigma_w2: weight variance σ_w² (a scalar; traced under ``vmap``).
      sigma_b2: bias variance σ_b² (a Python float).

    Returns:
      :class:`Params` of the same shapes, every weight matrix scaled by σ_w/√fan_in (fan_in its first axis after any
      layer axis), every bias by σ_b.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2.
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Sec. 2 (the same random-network ensemble).
    """
    sw, sb = jnp.sqrt(jnp.float32(sigma_w2)), jnp.float32(math.sqrt(sigma_b2))
    return Params(
        draws.w_in * sw / math.sqrt(draws.w_in.shape[0]),
        draws.b_in * sb,
        draws.w_hidden * sw / math.sqrt(draws.w_hidden.shape[-2]),
        draws.b_hidden * sb,
        draws.w_out * sw / math.sqrt(draws.w_out.shape[0]),
        draws.b_out * sb,
    )


def init_params(key, sigma_w2: float, sigma_b2: float, depth: int, width: int, input_dim: int) -> Params:
    """One tanh net's initial parameters (see :func:`scale_draws`).

    Args:
      key: a JAX PRNG key (the run uses one per depth).
      sigma_w2: weight variance σ_w².
      sigma_b2: bias variance σ_b².
      depth: hidden layers L.
      width: units per hidden layer.
      input_dim: input features.

    Returns:
      :class:`Params` (shapes as in :func:`standard_draws`) with W_ij ~ N(0, σ_w²/fan_in), b_i ~ N(0, σ_b²).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2.
    """
    return scale_draws(standard_draws(key, depth, width, input_dim), sigma_w2, sigma_b2)


def _depth_key(seed: int, depth: int):
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), 0), depth)


def _data_key(seed: int):
    return jax.random.fold_in(jax.random.PRNGKey(seed), 1)


def forward(params: Params, x: jax.Array) -> jax.Array:
    """Logits of the tanh net: h¹ = tanh(x W_in + b_in), h^{l+1} = tanh(h^l W_l + b_l), logits = h^L W_out + b_out.

    Args:
      params: the net's :class:`Params`.
      x: (batch, input_dim) inputs.

    Returns:
      (batch, n_classes) logits (no softmax).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    h = jnp.tanh(x @ params.w_in + params.b_in)

    def layer(h, wb):
        return jnp.tanh(h @ wb[0] + wb[1]), None

    h, _ = jax.lax.scan(layer, h, (params.w_hidden, params.b_hidden))
    return h @ params.w_out + params.b_out


def _nll(params: Params, x, y) -> jax.Array:
    logits = forward(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def _sgd_chunk(params: Params, x, y, batch_idx, lr):
    """Plain SGD over the minibatches ``batch_idx`` (steps, batch) of (x, y); returns (params, per-step loss)."""

    def step(p, idx):
        loss, g = jax.value_and_grad(_nll)(p, x[idx], y[idx])
        return jax.tree.map(lambda a, b: a - lr * b, p, g), loss

    return jax.lax.scan(step, params, batch_idx)


def _accuracy(params: Params, x, y) -> jax.Array:
    """Fraction of correct argmax predictions; an example whose logits are not all finite counts as wrong."""
    logits = forward(params, x)
    ok = jnp.all(jnp.isfinite(logits), axis=1) & (jnp.argmax(logits, axis=1) == y)
    return jnp.mean(ok.astype(jnp.float32))


_train_chunk_one = jax.jit(_sgd_chunk)
_train_chunk_vmapped = jax.jit(jax.vmap(_sgd_chunk, in_axes=(0, None, None, None, None)))


@jax.jit
def _train_chunk_mapped(params: Params, x, y, batch_idx, lr):
    """:func:`_sgd_chunk` for every net of ``params`` (leading axis), one after another in one compiled loop."""
    return jax.lax.map(lambda p: _sgd_chunk(p, x, y, batch_idx, lr), params)


def vectorize_default() -> bool:
    """Whether the grid trains its nets as one ``vmap`` (accelerators) or a ``lax.map`` loop (CPU; see the module's
    docstring).

    Args:
      None.

    Returns:
      True unless JAX's default backend is the CPU.

    References:
      None: an engineering choice of this project (bit-identical retraining on the CPU).
    """
    return jax.default_backend() != "cpu"


_accuracy_one = jax.jit(_accuracy)
_accuracy_many = jax.jit(jax.vmap(_accuracy, in_axes=(0, None, None)))
_scale_many = jax.jit(jax.vmap(scale_draws, in_axes=(None, 0, None)), static_argnums=2)


@functools.partial(jax.jit, static_argnames=("n_train", "batch_size"))
def _batch_indices(key, first, steps_idx, *, n_train: int, batch_size: int):
    """Minibatch indices of steps ``first + steps_idx`` (drawn with replacement, one key per step): the same
    stream for every network of a run and for :func:`train_one`."""
    return jax.vmap(lambda t: jax.random.randint(jax.random.fold_in(key, first + t), (batch_size,), 0, n_train))(
        steps_idx
    )


def _chunk_indices(config: TrainabilityConfig, start: int, stop: int, n_train: int) -> jax.Array:
    # a fixed-length index array (padded with the chunk's own steps) keeps one compiled program per chunk length
    return _batch_indices(
        _data_key(config.seed),
        jnp.int32(start),
        jnp.arange(stop - start, dtype=jnp.int32),
        n_train=n_train,
        batch_size=config.batch_size,
    )


def _chunks(config: TrainabilityConfig) -> list[tuple[int, int]]:
    starts = np.concatenate([[0], config.chunk_ends()[:-1]])
    return [(int(a), int(b)) for a, b in zip(starts, config.chunk_ends())]
