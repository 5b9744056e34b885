"""Synthetic long-range memory tasks: the adding problem, temporal order and copy-the-first-symbol, as batches of
one-hot (or valued) sequences in a buffer of the T-capacity bucket, generated inside the training program.

References:
  Hochreiter & Schmidhuber (1997), "Long short-term memory", Neural Computation 9(8), Sec. 5: Experiment 4 (adding)
  and Experiment 6a (temporal order).
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model" (remembering the first input).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import check_choice, check_int
from .config import ADDING_TOLERANCE, INPUT_DIM, MAX_T, MIN_TASK_LENGTH, TASKS, _bucket


def _adding(key, batch, capacity, length):
    """Adding problem (H&S 1997, Exp. 4): channel 0 holds values U[-1, 1], channel 1 marks two of them, the first
    among the first 10 % of the positions, the second elsewhere in the first half; target 0.5 + (X1 + X2)/4."""
    k_v, k_1, k_2 = jax.random.split(key, 3)
    vals = jax.random.uniform(k_v, (batch, capacity), jnp.float32, -1.0, 1.0)
    n1 = jnp.maximum(1, length // 10)
    n2 = jnp.maximum(2, length // 2)
    m1 = jax.random.randint(k_1, (batch,), 0, n1)
    m2 = jax.random.randint(k_2, (batch,), 0, n2 - 1)
    m2 = m2 + (m2 >= m1)
    pos = jnp.arange(capacity)[None, :]
    active = pos < length
    marks = (pos == m1[:, None]) | (pos == m2[:, None])
    x = jnp.zeros((batch, capacity, INPUT_DIM), jnp.float32)
    x = x.at[:, :, 0].set(jnp.where(active, vals, 0.0)).at[:, :, 1].set(marks.astype(jnp.float32))
    rows = jnp.arange(batch)
    y = 0.5 + (vals[rows, m1] + vals[rows, m2]) / 4.0
    return x, y, jnp.zeros((batch,), jnp.int32)


def _one_hot_sequence(symbols, length, capacity):
    pos = jnp.arange(capacity)[None, :]
    return jax.nn.one_hot(symbols, INPUT_DIM, dtype=jnp.float32) * (pos < length)[:, :, None]


def _temporal_order(key, batch, capacity, length):
    """Temporal order (H&S 1997, Exp. 6a): distractors a-d (channels 0-3), B at the start (4), E at the end (5),
    X or Y (6, 7) at t1 in [10 %, 20 %) and t2 in [50 %, 60 %) of the sequence; 4 classes XX, XY, YX, YY."""
    k_d, k_1, k_2, k_s = jax.random.split(key, 4)
    sym = jax.random.randint(k_d, (batch, capacity), 0, 4)
    n10 = jnp.maximum(1, length // 10)
    n20 = jnp.maximum(n10 + 1, length // 5)
    n50 = jnp.maximum(n20, length // 2)
    n60 = jnp.minimum(jnp.maximum(n50 + 1, (6 * length) // 10), length - 1)
    t1 = jax.random.randint(k_1, (batch,), n10, n20)
    t2 = jax.random.randint(k_2, (batch,), n50, n60)
    xy = jax.random.randint(k_s, (batch, 2), 0, 2)
    pos = jnp.arange(capacity)[None, :]
    sym = jnp.where(pos == 0, 4, sym)
    sym = jnp.where(pos == length - 1, 5, sym)
    sym = jnp.where(pos == t1[:, None], 6 + xy[:, :1], sym)
    sym = jnp.where(pos == t2[:, None], 6 + xy[:, 1:], sym)
    return _one_hot_sequence(sym, length, capacity), jnp.zeros((batch,), jnp.float32), 2 * xy[:, 0] + xy[:, 1]


def _copy_first(key, batch, capacity, length):
    """Copy the first symbol (Wikipedia, "Dynamical systems model": "outputting the first input it sees at the very
    end"): one of 4 symbols (channels 0-3) at t = 1, then distractors (channels 4-7); the class is the first symbol."""
    k_s, k_d = jax.random.split(key)
    first = jax.random.randint(k_s, (batch,), 0, 4)
    sym = jax.random.randint(k_d, (batch, capacity), 4, 8)
    sym = jnp.where(jnp.arange(capacity)[None, :] == 0, first[:, None], sym)
    return _one_hot_sequence(sym, length, capacity), jnp.zeros((batch,), jnp.float32), first


_TASK_FNS = (_adding, _temporal_order, _copy_first)


def _task_batch(task, key, batch, capacity, length):
    branches = [lambda key, length, f=f: f(key, batch, capacity, length) for f in _TASK_FNS]
    return jax.lax.switch(task, branches, key, length)


@dataclasses.dataclass(frozen=True)
class MemoryTaskBatch:
    """One batch of a synthetic task, as the training loop sees it at ``step``."""

    task: str
    inputs: np.ndarray  # (batch, length, INPUT_DIM) float32
    target: np.ndarray  # (batch,) float32 regression target (adding problem; zeros otherwise)
    label: np.ndarray  # (batch,) int32 class (temporal order, copy first; zeros for adding)


@functools.partial(jax.jit, static_argnames=("batch", "capacity"))
def _task_program(task, key, length, batch, capacity):
    return _task_batch(task, key, batch, capacity, length)


def _data_keys(seed: int):
    root = jax.random.fold_in(jax.random.PRNGKey(seed), 11)
    data_key, eval_key = jax.random.split(root)
    return data_key, eval_key


def memory_task_batch(
    task: str = "adding", length: int = 100, batch_size: int = 32, seed: int = 0, step: int = 0
) -> MemoryTaskBatch:
    """The batch that :func:`train_memory_task` trains on at update ``step`` (same seed, length and batch size).

    Args:
      task: "adding", "temporal_order" or "copy_first".
      length: the sequence length, MIN_TASK_LENGTH to MAX_T.
      batch_size: sequences per batch, 1 to 4096.
      seed: the data seed.
      step: the training update whose batch to return.

    Returns:
      A :class:`MemoryTaskBatch` (inputs (batch, length, INPUT_DIM), regression target, class label).

    References:
      Hochreiter & Schmidhuber (1997), "Long short-term memory", Neural Computation 9(8), Sec. 5: Experiment 4
      (adding) and Experiment 6a (temporal order); Wikipedia, "Vanishing gradient problem", section "Dynamical
      systems model" (copying the first input).
    """
    task = check_choice("task", task, TASKS)
    length = check_int("length", length, MIN_TASK_LENGTH, MAX_T)
    batch_size = check_int("batch_size", batch_size, 1, 4096)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    step = check_int("step", step, 0, 2**31 - 1)
    data_key, _ = _data_keys(seed)
    x, y, label = jax.device_get(
        _task_program(
            np.int32(TASKS.index(task)),
            jax.random.fold_in(data_key, step),
            np.int32(length),
            batch=batch_size,
            capacity=_bucket(length),
        )
    )
    return MemoryTaskBatch(task, np.asarray(x)[:, :length], np.asarray(y), np.asarray(label))


def _baseline(task: str) -> tuple[float, float]:
    """(loss, accuracy) of the best constant output."""
    if task == "adding":
        # target 0.5 + S/4, S = X1 + X2 triangular on [-2, 2]: Var = (2/3)/16; P(|S|/4 < a) = 4a - 4a².
        a = ADDING_TOLERANCE
        return 2.0 / 3.0 / 16.0, 4 * a - 4 * a * a
    return math.log(4.0), 0.25
