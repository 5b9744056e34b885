"""Running the protocol: the validation and test sets, snapshots at the checkpoints, one training run, the
learning-rate search on the validation set and the whole grid of (activation, initialization) combinations.

References:
  Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural networks", AISTATS,
  Sec. 2-3 (online learning, learning rate chosen on a validation set).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ... import activations, data
from ...errors import check_choice, check_float, check_int
from .config import (
    ACT_HIST_RANGE,
    ACTIVATIONS,
    EVAL_BLOCK,
    GRAD_HIST_PERCENTILE,
    PAPER_TABLE1_SHAPESET,
    Glorot2010Config,
    _init_name,
    _keys,
)
from .network import (
    _eval_block,
    _jacobian_sv_means,
    _probe,
    _ProbeStats,
    _snapshot_values,
    _stream_block,
    _train_chunk,
    init_params,
)
from .results import CombinationResult, Glorot2010Result, Histograms, RunResult, Snapshot


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
