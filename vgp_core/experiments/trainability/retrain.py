"""One configuration trained chunk by chunk with the single-net program (the page retrains a tapped cell and
streams its loss curve; bit-identical to the grid's CPU path), and the warm-up of those programs.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5 and Fig. 5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import jax.numpy as jnp
import numpy as np

from ...errors import check_float, check_int
from .config import TrainabilityConfig, load_digits
from .network import (
    _accuracy_one,
    _batch_indices,
    _chunk_indices,
    _chunks,
    _data_key,
    _depth_key,
    _train_chunk_one,
    init_params,
)


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
