"""The network's traced settings and parameters (pytrees), the seeded random draws they are made from, and the
fixed probe batch: changing the initializer or gain re-scales the *same* random network.

References:
  Glorot & Bengio (2010), AISTATS, Eq. 16 (normalised initialisation); He et al. (2015), arXiv:1502.01852, Eq. 10;
  Saxe, McClelland & Ganguli (2014), arXiv:1312.6120 (orthogonal initialisation), via ``vgp_core.initializers``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, data, initializers
from ..errors import ConfigError
from .config import MLPConfig


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


def _settings(config: MLPConfig) -> Settings:
    # Explicit dtypes: a Python int where a float was traced before would compile a second version.
    return Settings(
        depth=jnp.int32(config.depth),
        activation=jnp.int32(activations.index(config.activation)),
        residual=jnp.bool_(config.residual),
        batchnorm=jnp.bool_(config.batchnorm),
    )


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


def _lazy_params(draws: Draws, init_idx, bias_std):
    """Parameters at initialisation with gain 1, except the hidden weights, which ``weight(l)`` builds from the
    draws when layer l runs (``params.w`` holds the raw draws only as a placeholder of the right shape)."""
    params = _params_from_draws(
        draws._replace(z=draws.z[:1], q=draws.q[:1]), init_idx, jnp.float32(1.0), bias_std
    )._replace(w=draws.z)
    return params, lambda l: initializers.apply(init_idx, draws.z[l], draws.q[l], jnp.float32(1.0))


@jax.jit
def _init_params(draws, init_idx, gain, bias_std):
    return _params_from_draws(draws, init_idx, gain, bias_std)


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
