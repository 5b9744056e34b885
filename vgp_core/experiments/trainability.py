"""The trainability phase diagram of Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information
propagation", Sec. 5 and Fig. 5: deep tanh networks train only when their depth L is below about 6 ξ_c, where ξ_c is
the mean-field correlation depth scale (their Eq. 9), which diverges at the order-to-chaos transition χ₁ = 1.

The experiment:

* fully connected tanh networks, ``depth`` hidden layers of ``width`` units, a softmax read-out and the mean negative
  log-likelihood; every weight W_ij ~ N(0, σ_w²/fan_in) and every bias ~ N(0, σ_b²) with σ_b² = 0.05 (their setup);
* a grid of σ_w² (≈ 1–4) × depth (≈ 10–300), each network trained with plain SGD for a fixed budget of steps;
* the data: scikit-learn's bundled 8×8 handwritten digits (``sklearn.datasets.load_digits``: 1,797 images in 10
  classes, shipped inside the wheel, nothing downloaded), each pixel standardized on the training split;
* the result: the accuracy on the training split after the budget (their Fig. 5 plots training accuracy) and on a
  held-out split, beside L = 6 ξ_c(σ_w²) and the critical σ_w² where χ₁ = 1.

Every network of one depth starts from the *same* standard-normal draws scaled by σ_w and σ_b, and every network
sees the same minibatch stream, so the σ_w² axis is a paired comparison.

Engineering: the networks of one depth are trained together as one batch of nets (one compiled program per depth),
the net axis sharded over ``jax.devices()`` with a ``NamedSharding``, so the same command uses one CPU, a GPU or
several. On accelerators the batch is one ``jax.vmap`` (batched matmuls); on the CPU it is a ``lax.map``, a loop of the
single-net program inside one compiled call, because that loop is bit-identical to :func:`train_one` (which trains one
configuration with the single-net program, chunk by chunk: the page retrains a tapped cell and streams its loss
curve), so a retrained cell reproduces its committed curve exactly, chaotic deep nets included. The vmapped program
agrees with it only to float32 rounding (~1e-7) where training is stable; deep nets in the chaotic phase amplify that
rounding as they amplify any perturbation (measured: 45 % apart in loss at depth 60, σ_w² = 4, after 50 steps). On
this project's shared 2-core CPU neither is consistently faster (``bench/bench_trainability.py``: vmap 1.2× faster at
depth 10 and 1.6× at depth 300, lax.map 1.8× faster at depth 60). Training runs in
``lax.scan`` chunks of ``chunk`` steps; the layers are a ``lax.scan`` over the stacked hidden weights.

CLI: ``python -m vgp_core.experiments.trainability --out DIR`` writes ``DIR/results.json``.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017.
  Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
  neural networks through transient chaos. NIPS 2016.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import signal_propagation
from ..errors import ConfigError, check_float, check_int

ACTIVATION = "tanh"
N_CLASSES = 10
#: Schoenholz et al. 2017, Fig. 5: σ_b² = 0.05 for every network of the phase diagram.
SIGMA_B2 = 0.05
#: Schoenholz et al. 2017, Sec. 5: networks are trainable when L ≲ 6 ξ_c.
XI_C_FACTOR = 6.0
DEFAULT_SIGMA_W2 = tuple(np.round(np.linspace(1.0, 4.0, 13), 4).tolist())
DEFAULT_DEPTHS = (10, 20, 40, 60, 80, 100, 150, 200, 250, 300)


# ----------------------------------------------------------------------------------------------------------------
# Mean-field boundary (Schoenholz et al. 2017, Eq. 9 and Sec. 5)


def trainable_depth(sigma_w2, sigma_b2: float = SIGMA_B2) -> np.ndarray:
    """The boundary L = 6 ξ_c(σ_w²) of the trainable region (Schoenholz et al. 2017, Sec. 5), with the correlation
    depth scale ξ_c of their Eq. 9 from :func:`vgp_core.signal_propagation.correlation_depth_scale` (inf at χ₁ = 1).

    Args:
      sigma_w2: weight variance(s) σ_w².
      sigma_b2: bias variance σ_b².

    Returns:
      6 ξ_c in layers, an array shaped like ``sigma_w2``.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 9 (ξ_c) and Sec. 5 (trainable when L ≲ 6 ξ_c).
    """
    sw2 = np.asarray(sigma_w2, np.float64)
    return XI_C_FACTOR * np.asarray(signal_propagation.correlation_depth_scale(ACTIVATION, sw2, sigma_b2))


# ----------------------------------------------------------------------------------------------------------------
# Configuration and data


@dataclasses.dataclass(frozen=True)
class TrainabilityConfig:
    """One phase-diagram run; validated on construction (ConfigError)."""

    sigma_w2: tuple = DEFAULT_SIGMA_W2
    depths: tuple = DEFAULT_DEPTHS
    sigma_b2: float = SIGMA_B2
    width: int = 64
    steps: int = 300
    batch_size: int = 64
    learning_rate: float = 0.01
    test_size: int = 497  # 1797 - 497 = 1300 training images
    chunk: int = 50
    seed: int = 0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        for field, lo, hi, conv in (("sigma_w2", 0.01, 100.0, check_float), ("depths", 1, 2000, check_int)):
            values = getattr(self, field)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"{field} must be a non-empty list, got {values!r}")
            values = tuple(conv(field, v, lo, hi) for v in values)
            if len(set(values)) != len(values):
                raise ConfigError(f"{field} has repeated values: {values!r}")
            set_(field, tuple(sorted(values)))
        set_("sigma_b2", check_float("sigma_b2", self.sigma_b2, 0.0, 10.0))
        set_("width", check_int("width", self.width, 2, 4096))
        set_("steps", check_int("steps", self.steps, 1, 10**7))
        set_("batch_size", check_int("batch_size", self.batch_size, 1, 1000))
        set_("learning_rate", check_float("learning_rate", self.learning_rate, 1e-6, 10.0))
        set_("test_size", check_int("test_size", self.test_size, 10, 1000))
        set_("chunk", check_int("chunk", self.chunk, 1, 10**5))
        set_("seed", check_int("seed", self.seed, 0, 2**31 - 1))

    def chunk_ends(self) -> np.ndarray:
        """Step counts at which a chunk ends (the loss curve's x values): chunk, 2·chunk, ..., steps."""
        return np.unique(np.minimum(np.arange(1, -(-self.steps // self.chunk) + 1) * self.chunk, self.steps))

    def replace(self, **changes) -> TrainabilityConfig:
        return dataclasses.replace(self, **changes)


class Digits(NamedTuple):
    x_train: np.ndarray  # (n_train, 64) float32, standardized on the training split
    y_train: np.ndarray  # (n_train,) int32
    x_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=4)
def load_digits(test_size: int = 497, seed: int = 0) -> Digits:
    """scikit-learn's bundled 8×8 digits (no download), split by a seeded permutation; each pixel standardized by the
    training split's mean and standard deviation (pixels constant on it stay 0), so the input length q⁰ ≈ 1.

    Cached (the last 4 (test_size, seed) pairs).

    Args:
      test_size: images held out for the test split (the rest of the 1,797 train).
      seed: seed of the permutation that splits the images.

    Returns:
      :class:`Digits`: x_train (1797 - test_size, 64) and x_test (test_size, 64) float32 standardized pixels, y_train
      and y_test int32 labels in 0..9.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # imported here: no import-time cost

    bunch = _sk_load_digits()
    x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:test_size], order[test_size:]
    mean, std = x[train].mean(0), x[train].std(0)
    std = np.where(std > 0, std, 1.0)

    def norm(a):
        return ((a - mean) / std).astype(np.float32)

    return Digits(norm(x[train]), y[train], norm(x[test]), y[test])


# ----------------------------------------------------------------------------------------------------------------
# Network


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


# ----------------------------------------------------------------------------------------------------------------
# One configuration (the page's live retraining)


@dataclasses.dataclass(frozen=True)
class TrainProgress:
    """The state of :func:`train_one_chunks` after a chunk: loss per step so far and the current accuracies."""

    sigma_w2: float
    depth: int
    steps_done: int
    loss: np.ndarray  # (steps_done,) minibatch NLL of each step
    train_accuracy: float
    test_accuracy: float
    diverged: bool
    done: bool


def train_one_chunks(sigma_w2: float, depth: int, config: TrainabilityConfig | None = None) -> Iterator[TrainProgress]:
    """Train the network of grid cell (σ_w², depth) of ``config`` exactly as :func:`run` does (same draws, same
    minibatches), one net with the un-vmapped program, yielding the progress after every chunk of ``config.chunk``
    steps.

    Args:
      sigma_w2: weight variance σ_w².
      depth: hidden layers L.
      config: the run's configuration (default ``TrainabilityConfig()``); its grids are not used.

    Returns:
      An iterator that yields :class:`TrainProgress` after each chunk, the last with ``done=True``.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    config = config or TrainabilityConfig()
    sigma_w2 = check_float("sigma_w2", sigma_w2, 0.01, 100.0)
    depth = check_int("depth", depth, 1, 2000)
    data = load_digits(config.test_size, config.seed)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    params = init_params(_depth_key(config.seed, depth), sigma_w2, config.sigma_b2, depth, config.width, x.shape[1])
    losses = []
    lr = jnp.float32(config.learning_rate)
    for start, stop in _chunks(config):
        params, loss = _train_chunk_one(params, x, y, _chunk_indices(config, start, stop, len(data.y_train)), lr)
        losses.append(np.asarray(loss, np.float64))
        curve = np.concatenate(losses)
        yield TrainProgress(
            sigma_w2=float(sigma_w2),
            depth=int(depth),
            steps_done=stop,
            loss=curve,
            train_accuracy=float(_accuracy_one(params, x, y)),
            test_accuracy=float(_accuracy_one(params, jnp.asarray(data.x_test), jnp.asarray(data.y_test))),
            diverged=not bool(np.all(np.isfinite(curve))),
            done=stop == config.steps,
        )


def train_one(sigma_w2: float, depth: int, config: TrainabilityConfig | None = None) -> TrainProgress:
    """:func:`train_one_chunks` run to the end; returns the final progress (the whole loss curve).

    Args:
      sigma_w2: weight variance σ_w².
      depth: hidden layers L.
      config: the run's configuration (default ``TrainabilityConfig()``).

    Returns:
      The last :class:`TrainProgress` (``done=True``): loss of shape (config.steps,) and the final accuracies.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    *_, last = train_one_chunks(sigma_w2, depth, config)
    return last


def warm_up(config: TrainabilityConfig | None = None, depths: Sequence[int] | None = None) -> None:
    """Compile :func:`train_one_chunks`'s programs for every depth of ``config`` (or ``depths``), without training.

    Args:
      config: the configuration (default ``TrainabilityConfig()``).
      depths: the depths to compile for (default ``config.depths``).

    Returns:
      None.

    References:
      None: compilation only.
    """
    config = config or TrainabilityConfig()
    data = load_digits(config.test_size, config.seed)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    lengths = {b - a for a, b in _chunks(config)}
    for depth in depths if depths is not None else config.depths:
        params = init_params(_depth_key(config.seed, depth), 1.0, config.sigma_b2, depth, config.width, x.shape[1])
        for n in lengths:
            idx = jnp.zeros((n, config.batch_size), jnp.int32)
            _train_chunk_one.lower(params, x, y, idx, jnp.float32(0.0)).compile()
        _accuracy_one.lower(params, x, y).compile()
        _accuracy_one.lower(params, jnp.asarray(data.x_test), jnp.asarray(data.y_test)).compile()
        for n in lengths:
            _batch_indices.lower(
                _data_key(config.seed),
                jnp.int32(0),
                jnp.arange(n, dtype=jnp.int32),
                n_train=len(data.y_train),
                batch_size=config.batch_size,
            ).compile()


# ----------------------------------------------------------------------------------------------------------------
# The grid


@dataclasses.dataclass(frozen=True)
class TrainabilityResult:
    """The phase diagram: arrays indexed (σ_w², depth), plus the theory and the run's record.

    ``loss_curve[i, j, k]`` is the mean minibatch loss over chunk k (ending at ``chunk_ends[k]`` steps)."""

    config: TrainabilityConfig
    sigma_w2: np.ndarray  # (S,)
    depths: np.ndarray  # (D,)
    train_accuracy: np.ndarray  # (S, D)
    test_accuracy: np.ndarray  # (S, D)
    final_loss: np.ndarray  # (S, D) mean minibatch NLL over the last chunk (NaN where diverged)
    diverged: np.ndarray  # (S, D) bool: a non-finite loss during training
    chunk_ends: np.ndarray  # (K,)
    loss_curve: np.ndarray  # (S, D, K)
    xi_c: np.ndarray  # (S,) correlation depth scale at each σ_w²
    critical_sigma_w2: float  # χ₁ = 1
    boundary_sigma_w2: np.ndarray  # (B,) a fine σ_w² grid over the run's range, for drawing L = 6 ξ_c
    boundary_depth: np.ndarray  # (B,) 6 ξ_c there (inf at χ₁ = 1)
    chance: float  # 1 / n_classes
    wall_time_s: float
    nets_per_second: float
    device: str
    jax_version: str
    command: str | None = None
    date: str | None = None
    vectorized: bool | None = None  # the nets of a depth ran as one vmap (True) or a lax.map loop (False)

    def trainable_depth(self) -> np.ndarray:
        """6 ξ_c at each σ_w² of the grid."""
        return XI_C_FACTOR * self.xi_c

    def to_dict(self) -> dict:
        d = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        d["config"] = _jsonable(dataclasses.asdict(self.config))
        return d

    def to_json(self, indent: int | None = None) -> str:
        """JSON text (NaN and ±inf become null); :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> TrainabilityResult:
        d = json.loads(text)
        kw = {}
        for f in dataclasses.fields(cls):
            v = d.get(f.name)
            if f.name == "config":
                v = TrainabilityConfig(**{k: tuple(x) if isinstance(x, list) else x for k, x in v.items()})
            elif f.name == "diverged":
                v = np.asarray(v, bool)
            elif f.name in ("depths", "chunk_ends"):
                v = np.asarray(v, np.int64)
            elif isinstance(v, list):
                v = np.asarray(v, np.float64)  # null (a non-finite value) becomes NaN
            elif f.name == "vectorized":
                v = None if v is None else bool(v)
            elif f.name in ("critical_sigma_w2", "chance", "wall_time_s", "nets_per_second"):
                v = math.nan if v is None else float(v)
            kw[f.name] = v
        return cls(**kw)


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype == bool:
            return obj.tolist()
        if np.issubdtype(obj.dtype, np.integer):
            return obj.astype(np.int64).tolist()
        return np.where(np.isfinite(obj), obj, None).tolist() if obj.size else []
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def _net_sharding(n_nets: int):
    """(padded net count, NamedSharding of the net axis over every device)."""
    devices = jax.devices()
    padded = -(-n_nets // len(devices)) * len(devices)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("nets",))
    return padded, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("nets"))


def train_depth(
    config: TrainabilityConfig,
    depth: int,
    on_chunk: Callable[[int], None] | None = None,
    vectorize: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train every σ_w² of ``config`` at one ``depth`` as one batch of nets (sharded over the devices).

    Args:
      config: the grid and budget (its ``depths`` are not used).
      depth: hidden layers of every net.
      on_chunk: called with the number of steps after every chunk (the progress bar).
      vectorize: one ``jax.vmap`` over the nets (True) or a ``lax.map`` loop (False); default
        :func:`vectorize_default`.

    Returns:
      (train accuracy (S,), test accuracy (S,), per-step loss (S, steps), diverged (S,)).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    vectorize = vectorize_default() if vectorize is None else vectorize
    program = _train_chunk_vmapped if vectorize else _train_chunk_mapped
    data = load_digits(config.test_size, config.seed)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    n = len(config.sigma_w2)
    padded, sharding = _net_sharding(n)
    sw2 = np.concatenate([config.sigma_w2, np.full(padded - n, config.sigma_w2[-1])]).astype(np.float32)
    draws = standard_draws(_depth_key(config.seed, depth), depth, config.width, x.shape[1])
    params = jax.device_put(_scale_many(draws, jnp.asarray(sw2), config.sigma_b2), sharding)
    lr = jnp.float32(config.learning_rate)
    losses = []
    for start, stop in _chunks(config):
        params, loss = program(params, x, y, _chunk_indices(config, start, stop, len(data.y_train)), lr)
        losses.append(np.asarray(loss, np.float64)[:n])
        if on_chunk is not None:
            on_chunk(stop - start)
    loss = np.concatenate(losses, axis=1)
    train_acc = np.asarray(_accuracy_many(params, x, y), np.float64)[:n]
    test_acc = np.asarray(_accuracy_many(params, jnp.asarray(data.x_test), jnp.asarray(data.y_test)), np.float64)[:n]
    return train_acc, test_acc, loss, ~np.all(np.isfinite(loss), axis=1)


#: points of the fine σ_w² grid on which the boundary 6 ξ_c is stored for drawing
BOUNDARY_POINTS = 121


def theory_fields(config: TrainabilityConfig) -> dict:
    """The mean-field fields of a :class:`TrainabilityResult` for ``config``: ξ_c on the grid, the critical σ_w²
    (χ₁ = 1, :func:`vgp_core.theory.critical_sigma_w2`) and 6 ξ_c on a fine σ_w² grid spanning the run's range
    (plus the critical point itself, where it is infinite).

    Args:
      config: the run's configuration (its σ_w² grid and σ_b² are used).

    Returns:
      A dict: ``xi_c`` (S,) in layers, ``critical_sigma_w2`` (float), ``boundary_sigma_w2`` (B,) and
      ``boundary_depth`` (B,) = 6 ξ_c there, B = ``BOUNDARY_POINTS`` (+ 1 when the critical point is inside the range).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 9 (ξ_c), Sec. 5 (L = 6 ξ_c).
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        The order-to-chaos transition χ₁ = 1.
    """
    lo, hi = min(config.sigma_w2), max(config.sigma_w2)
    critical = float(signal_propagation.critical_sigma_w2(ACTIVATION, config.sigma_b2))
    fine = np.linspace(lo, hi, BOUNDARY_POINTS)
    if lo < critical < hi:
        fine = np.unique(np.append(fine, critical))
    return dict(
        xi_c=trainable_depth(config.sigma_w2, config.sigma_b2) / XI_C_FACTOR,
        critical_sigma_w2=critical,
        boundary_sigma_w2=fine,
        boundary_depth=trainable_depth(fine, config.sigma_b2),
    )


class _Progress:
    """A text progress bar on stderr (net·steps done of the grid's total)."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.t0 = total, 0, time.perf_counter()
        self.stream = stream if stream is not None else sys.stderr

    def advance(self, n: int, label: str = "") -> None:
        self.done += n
        frac = self.done / self.total
        elapsed = time.perf_counter() - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else math.inf
        bar = "#" * int(30 * frac)
        self.stream.write(f"\r[{bar:<30s}] {100 * frac:5.1f} % {elapsed:6.0f} s, ETA {eta:5.0f} s {label:<24s}")
        self.stream.flush()
        if self.done >= self.total:
            self.stream.write("\n")


def _device_name() -> str:
    devices = jax.devices()
    kind = devices[0].device_kind if devices[0].platform != "cpu" else f"CPU ({os.cpu_count()} cores)"
    return f"{len(devices)} × {kind}" if len(devices) > 1 else kind


def run(
    config: TrainabilityConfig, progress: bool = True, command: str | None = None, vectorize: bool | None = None
) -> TrainabilityResult:
    """The whole grid: every depth trained as one batch over σ_w² (deepest first).

    Args:
      config: the grid and the training budget.
      progress: draw a progress bar on stderr.
      command: the command line to record.
      vectorize: as in :func:`train_depth` (default: vmap on accelerators, a lax.map loop on the CPU).

    Returns:
      :class:`TrainabilityResult`.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    t0 = time.perf_counter()
    n_s, n_d = len(config.sigma_w2), len(config.depths)
    total = sum(n_s * config.steps * d for d in config.depths)  # net·layer·steps: the work, for the bar
    bar = _Progress(total) if progress else None
    train_acc, test_acc = np.zeros((n_s, n_d)), np.zeros((n_s, n_d))
    diverged = np.zeros((n_s, n_d), bool)
    ends = config.chunk_ends()
    curve = np.zeros((n_s, n_d, len(ends)))
    final = np.zeros((n_s, n_d))
    for j in sorted(range(n_d), key=lambda j: -config.depths[j]):
        depth = config.depths[j]
        tick = (lambda k, d=depth: bar.advance(n_s * k * d, f"depth {d}")) if bar else None
        tr, te, loss, div = train_depth(config, depth, tick, vectorize)
        train_acc[:, j], test_acc[:, j], diverged[:, j] = tr, te, div
        starts = np.concatenate([[0], ends[:-1]])
        with np.errstate(invalid="ignore"):
            curve[:, j] = np.stack([loss[:, a:b].mean(axis=1) for a, b in zip(starts, ends)], axis=1)
        final[:, j] = curve[:, j, -1]
    wall = time.perf_counter() - t0
    return TrainabilityResult(
        config=config,
        sigma_w2=np.asarray(config.sigma_w2, np.float64),
        depths=np.asarray(config.depths, np.int64),
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        final_loss=final,
        diverged=diverged,
        chunk_ends=ends.astype(np.int64),
        loss_curve=curve,
        **theory_fields(config),
        chance=1.0 / N_CLASSES,
        wall_time_s=wall,
        nets_per_second=n_s * n_d / wall,
        device=_device_name(),
        jax_version=jax.__version__,
        command=command,
        vectorized=vectorize_default() if vectorize is None else bool(vectorize),
    )


# ----------------------------------------------------------------------------------------------------------------
# Agreement with the 6 ξ_c boundary


@dataclasses.dataclass(frozen=True)
class BoundaryAgreement:
    """How the trainable cells (accuracy > chance + margin) sit against L = 6 ξ_c.

    ``precision``: share of the trainable cells that lie inside the boundary (the paper: nearly all).
    ``recall``: share of the cells inside the boundary that trained (below 1 at a finite budget: deep nets near the
    boundary need more steps)."""

    margin: float
    inside_trainable: int
    inside_total: int
    outside_trainable: int
    outside_total: int
    #: the largest L / (6 ξ_c) over the trainable cells: how far past the boundary training reached (NaN if none)
    max_depth_ratio: float

    @property
    def precision(self) -> float:
        n = self.inside_trainable + self.outside_trainable
        return self.inside_trainable / n if n else math.nan

    @property
    def recall(self) -> float:
        return self.inside_trainable / self.inside_total if self.inside_total else math.nan


def boundary_agreement(result: TrainabilityResult, margin: float = 0.2, which: str = "train") -> BoundaryAgreement:
    """Count trainable cells inside (L ≤ 6 ξ_c) and outside the boundary.

    Args:
      result: a phase diagram.
      margin: a cell is trainable when its accuracy exceeds chance + ``margin``.
      which: "train" (the paper's training accuracy) or "test".

    Returns:
      :class:`BoundaryAgreement`.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    acc = result.train_accuracy if which == "train" else result.test_accuracy
    trainable = acc > result.chance + margin
    ratio = result.depths[None, :] / result.trainable_depth()[:, None]
    inside = ratio <= 1.0
    return BoundaryAgreement(
        margin=float(margin),
        inside_trainable=int(np.sum(trainable & inside)),
        inside_total=int(np.sum(inside)),
        outside_trainable=int(np.sum(trainable & ~inside)),
        outside_total=int(np.sum(~inside)),
        max_depth_ratio=float(np.max(ratio[trainable])) if np.any(trainable) else math.nan,
    )


# ----------------------------------------------------------------------------------------------------------------
# The committed run


ASSET_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "assets", "trainability", "results.json")


@functools.lru_cache(maxsize=2)
def load_committed(path: str = ASSET_PATH) -> TrainabilityResult:
    """The committed phase diagram (read on first use, then cached).

    Args:
      path: the results JSON (default ``assets/trainability/results.json``).

    Returns:
      :class:`TrainabilityResult`. Raises ``OSError`` when the file is missing.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    with open(path) as f:
        return TrainabilityResult.from_json(f.read())


# ----------------------------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    d = TrainabilityConfig()
    p = argparse.ArgumentParser(
        prog="python -m vgp_core.experiments.trainability",
        description="Schoenholz et al. (2017) trainability phase diagram on the 8x8 digits; writes DIR/results.json.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--budget", type=int, default=d.steps, help="SGD steps per network")
    p.add_argument("--sigma-w2", nargs="+", type=float, default=list(d.sigma_w2))
    p.add_argument("--depths", nargs="+", type=int, default=list(d.depths))
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--chunk", type=int, default=d.chunk)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--batching",
        choices=("auto", "vmap", "map"),
        default="auto",
        help="the nets of a depth as one jax.vmap or a lax.map loop (auto: vmap except on the CPU)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: run the grid and write ``--out``/results.json (see ``--help``).

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      The exit status, 0 (argparse exits with 2 on bad arguments or an invalid configuration).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 5 and Fig. 5 (the trainability experiment).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = TrainabilityConfig(
            sigma_w2=tuple(args.sigma_w2),
            depths=tuple(args.depths),
            width=args.width,
            steps=args.budget,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            chunk=args.chunk,
            seed=args.seed,
        )
    except ConfigError as e:
        parser.error(str(e))
    command = "python -m vgp_core.experiments.trainability " + shlex.join(argv)
    print(command, flush=True)
    print(f"{len(config.sigma_w2)} × {len(config.depths)} nets on {_device_name()}", flush=True)
    vectorize = {"auto": None, "vmap": True, "map": False}[args.batching]
    result = run(config, progress=not args.no_progress, command=command, vectorize=vectorize)
    result = dataclasses.replace(result, date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(result.to_json())
    os.replace(tmp, path)
    agree = boundary_agreement(result)
    print(
        f"wrote {path} ({result.wall_time_s:.0f} s, {result.nets_per_second:.2f} nets/s); trainable cells inside "
        f"6 xi_c: {agree.inside_trainable}/{agree.inside_trainable + agree.outside_trainable}, cells inside that "
        f"trained: {agree.inside_trainable}/{agree.inside_total}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
