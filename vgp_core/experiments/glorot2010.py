"""Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks": the engine.

The paper's protocol (Sec. 2–3), on Shapeset-3x2 (:func:`vgp_core.data.shapeset`):

* an MLP with ``depth`` hidden layers of ``width`` units (paper: 5 × 1000), s^i = z^i W^i + b^i, z^{i+1} = f(s^i)
  (row vectors, their notation; z^0 = x the 32×32 image flattened), softmax output, negative log-likelihood;
* plain SGD on minibatches of 10, biases initialised to 0, weights from the *standard* initialization
  W ~ U[-1/√n, 1/√n] (their Eq. 1) or the *normalized* one W ~ U[±√6/√(n_j + n_{j+1})] (their Eq. 16; registry name
  ``glorot_uniform``), for the activations sigmoid, tanh and softsign x/(1+|x|);
* online learning: a fresh Shapeset minibatch every update (the same stream for every run, see ``_train``), the
  learning rate chosen on a validation set from a small grid;
* statistics on a fixed set of 300 test examples (the *probe* set): per hidden layer, the mean, standard deviation
  and 2nd/98th percentiles of the activations over training (their Fig. 2–3, 5), the variance of the
  back-propagated gradients ∂C/∂s^i (Eq. 12–13, Fig. 7) and of the weight gradients ∂C/∂W^i (Eq. 14, Fig. 8–9),
  normalized histograms of activations, back-propagated and weight gradients at initialization and after training
  (Fig. 6–8), the mean singular value of each layer's Jacobian J^i = ∂z^{i+1}/∂z^i (Sec. 4.2.1: ≈0.5 for standard,
  ≈0.8 for normalized init with tanh) and the test error (Table 1).

Every (activation, init) combination starts from the *same* random draws (``initializers`` maps one normal draw to
each initializer) and trains on the same data stream, so the comparison is paired.

Engineering: the network is a plain unrolled Python loop over the (fixed, small) depth; ``jax.grad`` gives the
update. Training runs in ``lax.scan`` chunks of ``chunk`` updates, one jitted call each, fed by one jitted call that
generates the chunk's Shapeset minibatches; the activation is a traced registry index (``lax.switch``), so one compiled
program serves every activation, initialization and learning rate. All jitted functions live at module level.

CLI: ``python -m vgp_core.experiments.glorot2010 --updates N --out DIR`` writes ``DIR/results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, data, initializers
from ..errors import ConfigError, check_choice, check_float, check_int

ACTIVATIONS = ("sigmoid", "tanh", "softsign")
#: the paper's two initializations; "normalized" (their name) is the registry's ``glorot_uniform``.
INITS = ("standard", "glorot_uniform")
INIT_ALIASES = {"standard": "standard", "normalized": "glorot_uniform", "glorot_uniform": "glorot_uniform"}
DEFAULT_LR_GRID = (0.01, 0.03, 0.1)
#: Glorot & Bengio 2010, Table 1, Shapeset-3x2 column, test error in %; "N" rows = normalized init.
#: The paper has no "Sigmoid N" row.
PAPER_TABLE1_SHAPESET = {
    ("softsign", "standard"): 16.27,
    ("softsign", "glorot_uniform"): 16.06,
    ("tanh", "standard"): 27.15,
    ("tanh", "glorot_uniform"): 15.60,
    ("sigmoid", "standard"): 82.61,
}
N_CLASSES = data.SHAPESET_N_CLASSES
#: validation / test sets are generated and evaluated in blocks of this many images (one compilation each).
EVAL_BLOCK = 500
#: gradient histograms span ±(this percentile of |value| over all layers), shared by the layers of one snapshot.
GRAD_HIST_PERCENTILE = 99.5
#: activation histograms span [-1, 1] for every activation (the sigmoid uses the right half).
ACT_HIST_RANGE = (-1.0, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# Configuration


def _init_name(name) -> str:
    return INIT_ALIASES[check_choice("init", name, INIT_ALIASES)]


@dataclasses.dataclass(frozen=True)
class Glorot2010Config:
    """One reproduction run; validated on construction (ConfigError). ``lr_search_updates=None`` means each
    learning rate of the grid is trained for the full budget and the best one (validation error) *is* the final run;
    a smaller value runs a shorter search first and then trains the chosen rate for ``updates``."""

    updates: int = 5000
    depth: int = 5
    width: int = 1000
    batch_size: int = 10
    activations: tuple = ACTIVATIONS
    inits: tuple = INITS
    lr_grid: tuple = DEFAULT_LR_GRID
    lr_search_updates: int | None = None
    checkpoints: int = 20
    probe_size: int = 300
    validation_size: int = 1000
    test_size: int = 5000
    image_size: int = 32
    hist_bins: int = 50
    #: probe examples whose layer Jacobians are SVD'd (0: skip). One suffices: the mean of a wide layer's 1000 singular
    #: values varies little between examples, and each SVD costs ~0.3 s at width 1000 on two cores.
    jacobian_examples: int = 1
    chunk: int = 50
    seed: int = 0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("updates", check_int("updates", self.updates, 1, 10**8))
        set_("depth", check_int("depth", self.depth, 1, 20))
        set_("width", check_int("width", self.width, 2, 4096))
        set_("batch_size", check_int("batch_size", self.batch_size, 1, 1000))
        for field, choices, norm in (
            ("activations", ACTIVATIONS, lambda a: check_choice("activation", a, ACTIVATIONS)),
            ("inits", INITS, _init_name),
        ):
            values = getattr(self, field)
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"{field} must be a non-empty list drawn from {', '.join(choices)}, got {values!r}")
            values = tuple(dict.fromkeys(norm(v) for v in values))
            set_(field, values)
        grid = self.lr_grid
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not 1 <= len(grid) <= 10:
            raise ConfigError(f"lr_grid must be a list of 1 to 10 learning rates, got {grid!r}")
        grid = tuple(check_float("learning rate", g, 1e-6, 10.0) for g in grid)
        if len(set(grid)) != len(grid):
            raise ConfigError(f"lr_grid has repeated values: {grid!r}")
        set_("lr_grid", grid)
        if self.lr_search_updates is not None:
            set_("lr_search_updates", check_int("lr_search_updates", self.lr_search_updates, 1, self.updates))
        set_("checkpoints", check_int("checkpoints", self.checkpoints, 1, 1000))  # capped at updates
        set_("test_size", check_int("test_size", self.test_size, 10, 10**6))
        set_("probe_size", check_int("probe_size", self.probe_size, max(10, self.batch_size), self.test_size))
        set_("validation_size", check_int("validation_size", self.validation_size, 10, 10**6))
        set_("image_size", check_int("image_size", self.image_size, 8, 128))
        set_("hist_bins", check_int("hist_bins", self.hist_bins, 2, 1000))
        set_("jacobian_examples", check_int("jacobian_examples", self.jacobian_examples, 0, self.probe_size))
        set_("chunk", check_int("chunk", self.chunk, 1, 10000))
        set_("seed", check_int("seed", self.seed, 0, 2**31 - 1))

    @property
    def search_updates(self) -> int:
        return self.updates if self.lr_search_updates is None else self.lr_search_updates

    @property
    def input_dim(self) -> int:
        return self.image_size * self.image_size

    def checkpoint_updates(self, updates: int | None = None) -> np.ndarray:
        """Update counts at which the probe statistics are taken: 0 and ``checkpoints`` evenly spaced ones."""
        updates = self.updates if updates is None else updates
        n = min(self.checkpoints, updates)
        return np.unique(np.round(np.linspace(0, updates, n + 1)).astype(np.int64))

    def replace(self, **changes) -> Glorot2010Config:
        return dataclasses.replace(self, **changes)


class _Keys(NamedTuple):
    init: jax.Array
    train: jax.Array
    validation: jax.Array
    test: jax.Array


def _keys(seed: int) -> _Keys:
    root = jax.random.PRNGKey(seed)
    return _Keys(*(jax.random.fold_in(root, i) for i in range(4)))


# ----------------------------------------------------------------------------------------------------------------
# Network


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


# ----------------------------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True)
class Histograms:
    """Normalized histograms, one per hidden layer (Glorot & Bengio 2010, Fig. 6–8): ``fraction[i, k]`` is the
    fraction of layer i+1's values that fall in bin k (values outside ``edges`` are not counted)."""

    edges: np.ndarray  # (bins + 1,)
    fraction: np.ndarray  # (depth, bins)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The network at initialization or after training, seen on the probe set."""

    updates: int
    activations: Histograms  # z^i
    backprop_gradients: Histograms  # ∂C/∂s^i, per example
    weight_gradients: Histograms  # ∂C/∂W^i on one minibatch
    jacobian_sv_mean: np.ndarray  # (depth,) mean singular value of ∂z^i/∂z^{i-1}


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Training of one (activation, init, learning rate). Arrays (n_checkpoints, depth) have row k measured on the
    probe set after ``checkpoint_updates[k]`` updates (row 0: at initialization); column i is hidden layer i+1."""

    activation: str
    init: str
    learning_rate: float
    updates: int
    checkpoint_updates: np.ndarray  # (C,)
    act_mean: np.ndarray  # Fig. 2
    act_std: np.ndarray  # Fig. 2–3
    act_p2: np.ndarray  # Fig. 3 (2nd percentile)
    act_p98: np.ndarray  # Fig. 3 (98th percentile)
    act_saturated: np.ndarray  # fraction of units with |f'(s)| < 0.1 sup|f'|
    backprop_var: np.ndarray  # Var[∂C/∂s^i] (Eq. 13, Fig. 7)
    weight_grad_var: np.ndarray  # Var[∂C/∂W^i] (Eq. 14, Fig. 9)
    probe_nll: np.ndarray  # (C,)
    probe_error: np.ndarray  # (C,)
    train_nll: np.ndarray  # (C,) mean minibatch NLL over the updates since the previous checkpoint (NaN at 0)
    initial: Snapshot
    final: Snapshot
    validation_error: float
    validation_nll: float
    test_error: float
    test_nll: float
    diverged: bool
    wall_time_s: float


@dataclasses.dataclass(frozen=True)
class CombinationResult:
    """One (activation, init): the learning-rate search and the run trained with the chosen rate."""

    activation: str
    init: str
    lr_grid: np.ndarray  # (k,)
    lr_validation_error: np.ndarray  # (k,) after ``lr_search_updates`` updates (1.0 when training diverged)
    lr_validation_nll: np.ndarray  # (k,) mean NLL on the validation set (NaN when training diverged)
    lr_search_updates: int
    run: RunResult
    paper_test_error: float | None  # %, Table 1 (None: no such row)

    @property
    def label(self) -> str:
        """The paper's row name, e.g. "Tanh N"."""
        return self.activation.capitalize() + (" N" if self.init == "glorot_uniform" else "")


@dataclasses.dataclass(frozen=True)
class Glorot2010Result:
    config: Glorot2010Config
    combinations: tuple  # of CombinationResult
    wall_time_s: float
    jax_version: str
    command: str | None = None

    def get(self, activation: str, init: str) -> CombinationResult:
        init = _init_name(init)
        for c in self.combinations:
            if (c.activation, c.init) == (activation, init):
                return c
        raise ConfigError(f"no result for activation={activation!r}, init={init!r}")

    def table(self) -> list[dict]:
        """Rows of our test error beside the paper's Table 1 (Shapeset-3x2 column), in %."""
        return [
            {
                "label": c.label,
                "activation": c.activation,
                "init": c.init,
                "learning_rate": c.run.learning_rate,
                "updates": c.run.updates,
                "test_error_pct": 100.0 * c.run.test_error,
                "paper_test_error_pct": c.paper_test_error,
            }
            for c in self.combinations
        ]

    def to_dict(self) -> dict:
        d = _jsonable(self)
        d["table"] = _jsonable(self.table())
        d["meta"] = {
            "budget_updates": self.config.updates,
            "seed": self.config.seed,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        }
        return d

    def to_json(self, indent: int | None = None) -> str:
        """JSON text (NaN and ±inf become null); :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Glorot2010Result:
        return _from_dict(cls, json.loads(text))


def _jsonable(obj):
    if dataclasses.is_dataclass(obj):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    return obj


_NESTED = {
    "config": Glorot2010Config,
    "combinations": CombinationResult,
    "run": RunResult,
    "initial": Snapshot,
    "final": Snapshot,
    "activations": Histograms,
    "backprop_gradients": Histograms,
    "weight_gradients": Histograms,
}


def _from_dict(cls, d: dict):
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        sub = _NESTED.get(f.name)
        if cls is Glorot2010Config:
            v = tuple(v) if isinstance(v, list) else v
        elif f.name == "combinations":
            v = tuple(_from_dict(CombinationResult, c) for c in v)
        elif sub is not None and isinstance(v, dict):
            v = _from_dict(sub, v)
        elif "np.ndarray" in str(f.type):
            v = np.asarray([np.nan if e is None else e for e in np.ravel(np.asarray(v, object))], float).reshape(
                np.shape(np.asarray(v, object))
            )
            if f.name == "checkpoint_updates":
                v = v.astype(np.int64)
        elif v is None and "float" in str(f.type) and "None" not in str(f.type):
            v = float("nan")
        kwargs[f.name] = v
    return cls(**kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Driver


class _Data(NamedTuple):
    x: jax.Array
    y: jax.Array


def _dataset(key, n: int, image_size: int) -> _Data:
    """``n`` Shapeset examples, made in blocks of EVAL_BLOCK (block b from ``fold_in(key, b)``)."""
    xs, ys = [], []
    for b in range(math.ceil(n / EVAL_BLOCK)):
        images, labels = data.shapeset(jax.random.fold_in(key, b), EVAL_BLOCK, image_size)
        xs.append(images.reshape(EVAL_BLOCK, -1))
        ys.append(labels)
    return _Data(jnp.concatenate(xs)[:n], jnp.concatenate(ys)[:n])


@functools.lru_cache(maxsize=4)
def _datasets(seed: int, validation_size: int, test_size: int, image_size: int):
    keys = _keys(seed)
    return _dataset(keys.validation, validation_size, image_size), _dataset(keys.test, test_size, image_size)


def evaluate(params, activation: str, dataset: _Data) -> tuple[float, float]:
    """(error rate, mean negative log-likelihood) of the network on ``dataset``, evaluated in blocks of EVAL_BLOCK.

    Args:
      params: the network's parameters.
      activation: the hidden layers' activation.
      dataset: the images and labels.

    Returns:
      (error rate in [0, 1], mean NLL).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Table 1 (test errors).
    """
    act_idx = jnp.int32(activations.index(activation))
    n = int(dataset.y.shape[0])
    errors, nll = 0.0, 0.0
    for start in range(0, n, EVAL_BLOCK):
        x, y = dataset.x[start : start + EVAL_BLOCK], dataset.y[start : start + EVAL_BLOCK]
        m = int(y.shape[0])
        valid = jnp.arange(EVAL_BLOCK) < m
        if m < EVAL_BLOCK:
            x = jnp.pad(x, ((0, EVAL_BLOCK - m), (0, 0)))
            y = jnp.pad(y, (0, EVAL_BLOCK - m))
        e, l = _eval_block(params, act_idx, x, y, valid)
        errors += float(e)
        nll += float(l)
    return errors / n, nll / n


def _histograms(values, edges) -> Histograms:
    rows = []
    for v in values:
        counts, _ = np.histogram(np.asarray(v).ravel(), bins=edges)
        rows.append(counts / max(1, np.asarray(v).size))
    return Histograms(np.asarray(edges, np.float64), np.asarray(rows, np.float64))


def _grad_edges(values, bins: int) -> np.ndarray:
    finite = [np.abs(np.asarray(v)).ravel() for v in values]
    finite = np.concatenate([f[np.isfinite(f)] for f in finite])
    r = float(np.percentile(finite, GRAD_HIST_PERCENTILE)) if finite.size else 1.0
    r = r if r > 0 and math.isfinite(r) else 1.0
    return np.linspace(-r, r, bins + 1)


def snapshot(config: Glorot2010Config, params, activation: str, updates: int, probe: _Data) -> Snapshot:
    """Histograms and Jacobian singular values of ``params`` on the probe set, after ``updates`` updates.

    Args:
      config: the experiment's configuration (bins, probe size).
      params: the network's parameters.
      activation: the hidden layers' activation.
      updates: the number of updates made so far (recorded in the snapshot).
      probe: the probe images and labels.

    Returns:
      A :class:`Snapshot` (activation and gradient histograms per layer, the Jacobians' mean singular values).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Figs. 6-7 (histograms) and Sec. 4.2.1 (singular values).
    """
    act_idx = jnp.int32(activations.index(activation))
    hs, deltas, wgrads = _snapshot_values(params, act_idx, probe.x, probe.y, batch_size=config.batch_size)
    bins = config.hist_bins
    if config.jacobian_examples:
        sv = np.asarray(_jacobian_sv_means(params, act_idx, probe.x[: config.jacobian_examples]), np.float64)
    else:  # skipped: one SVD per layer and example costs ~0.3 s at width 1000 on two cores
        sv = np.full(config.depth, np.nan)
    return Snapshot(
        updates=int(updates),
        activations=_histograms(hs, np.linspace(*ACT_HIST_RANGE, bins + 1)),
        backprop_gradients=_histograms(deltas, _grad_edges(deltas, bins)),
        weight_gradients=_histograms(wgrads, _grad_edges(wgrads, bins)),
        jacobian_sv_mean=sv,
    )


def _train(
    config: Glorot2010Config,
    params,
    act_idx,
    lr: float,
    updates: int,
    at: Sequence[int],
    on_checkpoint: Callable | None,
):
    """Trains ``params`` (consumed) for ``updates`` SGD steps; calls ``on_checkpoint(step, params, mean_loss)`` at
    every step count in ``at`` (step 0 included if present). Returns the final params.

    Update t uses row t mod chunk of data block t // chunk, so the stream is the same for every run of a config.
    A segment that does not cover a whole block still runs the whole scan (the other steps do no update); choose
    checkpoint spacings that are multiples of ``chunk`` to waste nothing."""
    data_key = _keys(config.seed).train
    step, losses, block = 0, [], None
    lr32 = jnp.float32(lr)
    c = config.chunk
    for target in sorted(set(int(a) for a in at) | {updates}):
        while step < target:
            b, first = divmod(step, c)
            stop = min(c, first + target - step)
            if block is None or block[0] != b:
                block = (
                    b,
                    _stream_block(
                        data_key, jnp.int32(b), chunk=c, batch_size=config.batch_size, image_size=config.image_size
                    ),
                )
            xs, ys = block[1]
            params, loss = _train_chunk(params, act_idx, lr32, xs, ys, jnp.int32(first), jnp.int32(stop))
            losses.append(np.asarray(loss)[first:stop])
            step += stop - first
        if on_checkpoint is not None and target in at:
            seg = np.concatenate(losses) if losses else np.zeros(0)
            on_checkpoint(step, params, float(np.mean(seg)) if seg.size else float("nan"))
            losses = []
    return params


def _finite(params) -> bool:
    return all(bool(jnp.all(jnp.isfinite(w))) for w, _ in params)


def train_run(
    config: Glorot2010Config, activation: str, init: str, learning_rate: float, updates: int | None = None
) -> RunResult:
    """Train one (activation, init, learning rate) with all the per-layer statistics of the paper.

    Args:
      config: the experiment's configuration.
      activation: "sigmoid", "tanh" or "softsign".
      init: "standard" or "glorot_uniform".
      learning_rate: SGD's step size.
      updates: the number of updates (None: ``config.updates``).

    Returns:
      A :class:`RunResult` (statistics at every checkpoint, snapshots at initialization and after training, errors).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Sec. 3 and Figs. 2-9.
    """
    t0 = time.perf_counter()
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _init_name(init)
    learning_rate = check_float("learning_rate", learning_rate, 1e-6, 10.0)
    updates = config.updates if updates is None else check_int("updates", updates, 1, 10**8)
    keys = _keys(config.seed)
    act_idx = jnp.int32(activations.index(activation))
    validation, test = _datasets(config.seed, config.validation_size, config.test_size, config.image_size)
    probe = _Data(test.x[: config.probe_size], test.y[: config.probe_size])
    params = init_params(keys.init, init, config.depth, config.width, config.input_dim)
    initial = snapshot(config, params, activation, 0, probe)
    at = config.checkpoint_updates(updates)
    rows, train_nll = [], []

    def record(step, p, mean_loss):
        rows.append(jax.device_get(_probe(p, act_idx, probe.x, probe.y, batch_size=config.batch_size)))
        train_nll.append(mean_loss)

    params = _train(config, params, act_idx, learning_rate, updates, at, record)
    final = snapshot(config, params, activation, updates, probe)
    diverged = not _finite(params)
    val_err, val_nll = (1.0, math.nan) if diverged else evaluate(params, activation, validation)
    test_err, test_nll = (1.0, math.nan) if diverged else evaluate(params, activation, test)
    stack = {k: np.asarray([getattr(r, k) for r in rows], np.float64) for k in _ProbeStats._fields}
    return RunResult(
        activation=activation,
        init=init,
        learning_rate=float(learning_rate),
        updates=int(updates),
        checkpoint_updates=np.asarray(at, np.int64),
        act_mean=stack["act_mean"],
        act_std=stack["act_std"],
        act_p2=stack["act_p2"],
        act_p98=stack["act_p98"],
        act_saturated=stack["act_saturated"],
        backprop_var=stack["backprop_var"],
        weight_grad_var=stack["weight_grad_var"],
        probe_nll=stack["nll"],
        probe_error=stack["error"],
        train_nll=np.asarray(train_nll, np.float64),
        initial=initial,
        final=final,
        validation_error=float(val_err),
        validation_nll=float(val_nll),
        test_error=float(test_err),
        test_nll=float(test_nll),
        diverged=bool(diverged),
        wall_time_s=time.perf_counter() - t0,
    )


def validation_error(
    config: Glorot2010Config, activation: str, init: str, learning_rate: float, updates: int
) -> tuple[float, float]:
    """(error, mean NLL) on the validation set after ``updates`` updates, without statistics.

    The learning-rate search's measure; (1.0, NaN) if training diverged.

    Args:
      config: the experiment's configuration.
      activation: the hidden layers' activation.
      init: the initialization.
      learning_rate: SGD's step size.
      updates: the number of updates.

    Returns:
      (validation error, mean NLL).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Sec. 2.3 (the learning rate optimized on a validation set).
    """
    act_idx = jnp.int32(activations.index(check_choice("activation", activation, ACTIVATIONS)))
    validation, _ = _datasets(config.seed, config.validation_size, config.test_size, config.image_size)
    params = init_params(_keys(config.seed).init, init, config.depth, config.width, config.input_dim)
    params = _train(config, params, act_idx, learning_rate, updates, (), None)
    return (1.0, math.nan) if not _finite(params) else evaluate(params, activation, validation)


def _best(errors, nlls) -> int:
    """Lowest validation error; ties (likely at tiny budgets, where every rate is near chance) go to the lower
    validation NLL, then to the first rate of the grid."""
    nll = [math.inf if not math.isfinite(v) else v for v in nlls]
    return min(range(len(errors)), key=lambda i: (errors[i], nll[i], i))


def run_combination(
    config: Glorot2010Config, activation: str, init: str, progress: Callable[[str], None] | None = None
) -> CombinationResult:
    """Choose the learning rate on the validation set, then report the run trained with that rate.

    Args:
      config: the experiment's configuration (learning-rate grid, budgets).
      activation: the hidden layers' activation.
      init: the initialization.
      progress: called with a line of text after each step (None: silent).

    Returns:
      A :class:`CombinationResult`.

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Sec. 2.3 ("the learning rate was optimized on a validation set" for each combination).
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    init = _init_name(init)
    say = progress or (lambda s: None)
    errors, nlls, runs = [], [], []
    full = config.search_updates == config.updates
    for lr in config.lr_grid:
        if full:
            run = train_run(config, activation, init, lr)
            runs.append(run)
            err, nll = run.validation_error, run.validation_nll
        else:
            err, nll = validation_error(config, activation, init, lr, config.search_updates)
        errors.append(err)
        nlls.append(nll)
        say(f"  {activation}/{init} lr={lr:g}: validation error {100 * err:.2f} %, NLL {nll:.4f}")
    best = _best(errors, nlls)
    run = runs[best] if full else train_run(config, activation, init, config.lr_grid[best])
    say(
        f"  {activation}/{init}: chose lr={config.lr_grid[best]:g}, test error {100 * run.test_error:.2f} % "
        f"({run.wall_time_s:.0f} s for the final run)"
    )
    return CombinationResult(
        activation=activation,
        init=init,
        lr_grid=np.asarray(config.lr_grid, np.float64),
        lr_validation_error=np.asarray(errors, np.float64),
        lr_validation_nll=np.asarray(nlls, np.float64),
        lr_search_updates=config.search_updates,
        run=run,
        paper_test_error=PAPER_TABLE1_SHAPESET.get((activation, init)),
    )


def run(
    config: Glorot2010Config, progress: Callable[[str], None] | None = None, command: str | None = None
) -> Glorot2010Result:
    """Every (activation, init) of ``config``: learning-rate search, then the full statistics of the chosen run.

    Args:
      config: the experiment's configuration.
      progress: called with a line of text after each step (None: silent).
      command: the command line that produced the run (recorded in the result).

    Returns:
      A :class:`Glorot2010Result` (written to ``assets/glorot2010/`` by :func:`main`).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS, Sec. 2-4, Figs. 2-9 and Table 1.
    """
    t0 = time.perf_counter()
    combos = []
    for activation in config.activations:
        for init in config.inits:
            if progress:
                progress(f"{activation} / {init} ({time.perf_counter() - t0:.0f} s)")
            combos.append(run_combination(config, activation, init, progress))
    return Glorot2010Result(
        config=config,
        combinations=tuple(combos),
        wall_time_s=time.perf_counter() - t0,
        jax_version=jax.__version__,
        command=command,
    )


# ----------------------------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    d = Glorot2010Config()
    p = argparse.ArgumentParser(
        prog="python -m vgp_core.experiments.glorot2010",
        description="Reproduce Glorot & Bengio (2010) on Shapeset-3x2; writes DIR/results.json.",
    )
    p.add_argument("--updates", type=int, required=True, help="SGD updates per final run (the budget)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--activations", nargs="+", default=list(d.activations), choices=ACTIVATIONS)
    p.add_argument("--inits", nargs="+", default=["standard", "normalized"], choices=sorted(INIT_ALIASES))
    p.add_argument("--lr-grid", nargs="+", type=float, default=list(d.lr_grid))
    p.add_argument(
        "--lr-search-updates",
        type=int,
        default=None,
        help="updates per learning rate in the search (default: the full budget, best run kept)",
    )
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--checkpoints", type=int, default=d.checkpoints)
    p.add_argument("--validation-size", type=int, default=d.validation_size)
    p.add_argument("--test-size", type=int, default=d.test_size)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The command line of the reproduction: parse ``argv``, run, write the JSON results.

    Args:
      argv: the arguments (None: ``sys.argv[1:]``); ``--help`` lists them.

    Returns:
      The process's exit status (0 on success).

    References:
      Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks",
      AISTATS.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = Glorot2010Config(
            updates=args.updates,
            depth=args.depth,
            width=args.width,
            seed=args.seed,
            activations=tuple(args.activations),
            inits=tuple(args.inits),
            lr_grid=tuple(args.lr_grid),
            lr_search_updates=args.lr_search_updates,
            checkpoints=args.checkpoints,
            validation_size=args.validation_size,
            test_size=args.test_size,
        )
    except ConfigError as e:
        parser.error(str(e))
    command = "python -m vgp_core.experiments.glorot2010 " + shlex.join(argv)
    print(command, flush=True)
    result = run(config, progress=lambda s: print(s, flush=True), command=command)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    doc = result.to_dict()
    doc["meta"]["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with open(path, "w") as f:
        json.dump(doc, f, allow_nan=False)
    print(f"wrote {path} ({result.wall_time_s:.0f} s)")
    for row in result.table():
        paper = "—" if row["paper_test_error_pct"] is None else f"{row['paper_test_error_pct']:.2f}"
        print(
            f"{row['label']:12s} lr={row['learning_rate']:<6g} test error {row['test_error_pct']:6.2f} %  "
            f"(paper {paper} %)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
