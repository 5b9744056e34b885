"""Training recurrent networks on the memory tasks by back-propagation through time: a manual reverse loop of
per-step VJPs over the traced length (checkpointed segments), optional gradient-norm clipping, chunked programs.

References:
  Werbos (1990), "Backpropagation through time: what it does and how to do it", Proc. IEEE 78(10).
  Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 3.2 and Algorithm 1 (gradient-norm clipping).
  Hochreiter & Schmidhuber (1997), Neural Computation 9(8), Sec. 5 (the tasks and their success criteria).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import optimizers
from ..errors import check_choice, check_float, check_int
from .cells import _features, _forward_checkpoints, _rec, _reverse_over_states, _step, _vjp_full
from .config import (
    ADDING_TOLERANCE,
    EVAL_BATCH,
    MAX_T,
    MIN_TASK_LENGTH,
    OPTIMIZERS,
    TASKS,
    MemoryTaskTrace,
    RNNConfig,
    _bucket,
)
from .params import _VARIANTS, CellSettings, Draws, Knobs, Params, _build_params, _config_draws, _knobs, _settings
from .tasks import _baseline, _data_keys, _task_batch


def _head(s, task, z_last, w_out, b_out, y_reg, y_cls):
    feat, dfeat = _features(s, z_last)

    def loss_fn(feat, w_out, b_out):
        out = feat @ w_out + b_out
        mse = jnp.mean((out[:, 0] - y_reg) ** 2)
        ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, y_cls))
        adding = task == 0
        acc = jnp.where(
            adding, jnp.mean(jnp.abs(out[:, 0] - y_reg) < ADDING_TOLERANCE), jnp.mean(jnp.argmax(out, axis=-1) == y_cls)
        )
        return jnp.where(adding, mse, ce), acc

    loss, vjp, acc = jax.vjp(loss_fn, feat, w_out, b_out, has_aux=True)
    d_feat, d_w_out, d_b_out = vjp(jnp.float32(1.0))
    dz = jnp.stack([d_feat * dfeat, jnp.zeros_like(d_feat)], axis=1)
    return loss, acc, dz, d_w_out, d_b_out


def _bptt(p: Params, s: CellSettings, task, x, y_reg, y_cls, length):
    """Loss, accuracy, parameter gradients and ||∂L/∂z_t|| (t = 1..length at index t-1) for a batch x (B, cap, D),
    by back-propagation through time over checkpointed segments."""
    batch, capacity, _ = x.shape
    hidden = p.w_rec.shape[-1]

    def step_fn(t, z):
        return _step(p, s, z, x[:, t])

    z_last, ck = _forward_checkpoints(step_fn, jnp.zeros((batch, 2, hidden), jnp.float32), length, capacity)
    loss, acc, delta, d_w_out, d_b_out = _head(s, task, z_last, p.w_out, p.b_out, y_reg, y_cls)

    def body(t, z, carry):
        delta, grads, tg = carry
        tg = tg.at[t].set(jnp.sqrt(jnp.sum(delta * delta)))  # ||∂L/∂z_{t+1}||
        g, delta = _vjp_full(p, s, z, x[:, t], delta)
        return delta, jax.tree_util.tree_map(jnp.add, grads, g), tg

    zeros = jax.tree_util.tree_map(jnp.zeros_like, _rec(p))
    _, rec_grads, tg = _reverse_over_states(
        step_fn, ck, length, body, (delta, zeros, jnp.zeros((capacity,), jnp.float32))
    )
    return loss, acc, Params(*rec_grads, d_w_out, d_b_out), tg


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _init_training(draws: Draws, k: Knobs, learning_rate, optimizer):
    params = _build_params(draws, k, scaled=True)
    return params, optimizers.clipped(optimizer, learning_rate).init(params)


@functools.partial(jax.jit, static_argnames=("optimizer", "chunk", "batch", "capacity", "variant"))
def _train_chunk(
    params,
    opt_state,
    step0,
    total,
    k: Knobs,
    task,
    length,
    data_key,
    learning_rate,
    clip_norm,
    optimizer,
    chunk,
    batch,
    capacity,
    variant,
):
    """``chunk`` updates from step ``step0``; steps >= ``total`` are skipped (a shorter last chunk runs in the same
    program), their outputs are NaN."""
    tx = optimizers.clipped(optimizer, learning_rate, clip_norm)

    def run(cell, act):
        s = _settings(k, cell, act, scaled=True)

        def update(params, opt_state, step):
            x, y_reg, y_cls = _task_batch(task, jax.random.fold_in(data_key, step), batch, capacity, length)
            loss, acc, grads, tg = _bptt(params, s, task, x, y_reg, y_cls, length)
            grad_norm = optax.tree.norm(grads)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, opt_state), (loss, acc, grad_norm, grad_norm > clip_norm, tg)

        def skip(params, opt_state, step):
            nan = jnp.float32(jnp.nan)
            return (params, opt_state), (nan, nan, nan, jnp.bool_(False), jnp.full((capacity,), nan))

        def one_step(carry, step):
            return jax.lax.cond(step < total, update, skip, *carry, step)

        (p, o), out = jax.lax.scan(one_step, (params, opt_state), step0 + jnp.arange(chunk))
        return p, o, out

    return run(*_VARIANTS[variant])


@functools.partial(jax.jit, static_argnames=("batch", "capacity", "variant"))
def _evaluate(params, k: Knobs, task, length, key, batch, capacity, variant):
    x, y_reg, y_cls = _task_batch(task, key, batch, capacity, length)
    hidden = params.w_rec.shape[-1]

    def run(cell, act):
        s = _settings(k, cell, act, scaled=True)
        z_last = jax.lax.fori_loop(
            0, length, lambda t, z: _step(params, s, z, x[:, t]), jnp.zeros((batch, 2, hidden), jnp.float32)
        )
        loss, acc, *_ = _head(s, task, z_last, params.w_out, params.b_out, y_reg, y_cls)
        return loss, acc

    return run(*_VARIANTS[variant])


def train_memory_task_iter(
    config: RNNConfig,
    task: str = "adding",
    length: int | None = None,
    steps: int = 500,
    clip_norm: float | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    batch_size: int = 32,
    chunk: int = 50,
) -> Iterator[MemoryTaskTrace]:
    """Train ``config``'s network on a synthetic long-range task, yielding the trace after every ``chunk`` updates.

    The network is ``config``'s cell, activation, weight family and radius at initialisation; stop iterating to
    cancel. The last trace also holds the held-out evaluation; earlier ones have NaN there. Data come from the seed
    alone (a fresh batch per update, ``jax.random.fold_in(key, step)``), so runs that differ only in cell, activation,
    radius or clipping see exactly the same sequences. Gradients are exact back-propagation through time (a reverse
    loop of per-step VJPs over the traced length, on checkpointed segments). Every chunk runs in one compiled
    program; a shorter last chunk skips its extra steps, so exactly ``steps`` updates are made.

    Args:
      config: the network at initialisation (and the default length, ``config.T``).
      task: "adding", "temporal_order" or "copy_first".
      length: the task's sequence length (None: ``config.T``).
      steps: the number of updates.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      optimizer: "adam" or "sgd" (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      batch_size: sequences per update.
      chunk: updates per compiled program call (and per yielded trace).

    Returns:
      An iterator of :class:`MemoryTaskTrace`, each holding every update so far.

    References:
      Werbos (1990), "Backpropagation through time: what it does and how to do it", Proc. IEEE 78(10).
      Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks",
      arXiv:1211.5063, Sec. 3.2 and Algorithm 1 (clipping).
      Hochreiter & Schmidhuber (1997), Neural Computation 9(8), Sec. 5 (the tasks).
    """
    task = check_choice("task", task, TASKS)
    length = config.T if length is None else length
    length = check_int("length", length, MIN_TASK_LENGTH, MAX_T)
    steps = check_int("steps", steps, 1, 100_000)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = check_float("learning_rate", learning_rate, 0.0, 100.0)
    clip = math.inf if clip_norm is None else check_float("clip_norm", clip_norm, 1e-8, 1e12)
    batch_size = check_int("batch_size", batch_size, 1, 4096)
    chunk = min(check_int("chunk", chunk, 1, 10_000), steps)
    capacity = _bucket(length)
    k = _knobs(config)
    # Training compiles once per (cell, activation) variant it uses (a static argument): a training run is started
    # by a button, not a slider, and compiling all six variants into one program would cost about 10 s up front.
    variant = int(k.variant)
    params, opt_state = _init_training(_config_draws(config).draws, k, np.float32(learning_rate), optimizer)
    data_key, eval_key = _data_keys(config.seed)
    task_idx = np.int32(TASKS.index(task))
    base_loss, base_acc = _baseline(task)
    parts = []
    done = 0
    while done < steps:
        params, opt_state, out = _train_chunk(
            params,
            opt_state,
            np.int32(done),
            np.int32(steps),
            k,
            task_idx,
            np.int32(length),
            data_key,
            np.float32(learning_rate),
            np.float32(clip),
            optimizer=optimizer,
            chunk=chunk,
            batch=batch_size,
            capacity=capacity,
            variant=variant,
        )
        parts.append(jax.device_get(out))
        done += chunk
        ev_loss, ev_acc = math.nan, math.nan
        if done >= steps:
            ev = jax.device_get(
                _evaluate(
                    params,
                    k,
                    task_idx,
                    np.int32(length),
                    eval_key,
                    batch=EVAL_BATCH,
                    capacity=capacity,
                    variant=variant,
                )
            )
            ev_loss, ev_acc = float(ev[0]), float(ev[1])
        n = min(done, steps)

        def cat(i, n=n):
            return np.concatenate([p[i] for p in parts])[:n]

        yield MemoryTaskTrace(
            task=task,
            length=length,
            cell=config.cell,
            clip_norm=clip,
            loss=cat(0),
            accuracy=cat(1),
            grad_norm=cat(2),
            clipped=cat(3),
            time_grad_norm=cat(4)[:, :length],
            eval_loss=ev_loss,
            eval_accuracy=ev_acc,
            baseline_loss=base_loss,
            chance_accuracy=base_acc,
        )


def train_memory_task(
    config: RNNConfig,
    task: str = "adding",
    length: int | None = None,
    steps: int = 500,
    clip_norm: float | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.01,
    batch_size: int = 32,
    chunk: int = 50,
) -> MemoryTaskTrace:
    """The full training trace of :func:`train_memory_task_iter`.

    Args:
      config, task, length, steps, clip_norm, optimizer, learning_rate, batch_size, chunk: as for
        :func:`train_memory_task_iter`.

    Returns:
      The last :class:`MemoryTaskTrace` (with the held-out evaluation).

    References:
      Hochreiter & Schmidhuber (1997), Neural Computation 9(8), Sec. 5.
    """
    trace = None
    args = (config, task, length, steps, clip_norm, optimizer, learning_rate, batch_size, chunk)
    for trace in train_memory_task_iter(*args):  # noqa: B007 (the loop keeps the last item)
        pass
    return trace
