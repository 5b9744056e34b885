"""The whole σ_w² × depth grid: every network of one depth trained together as one batch of nets, sharded over
``jax.devices()``, with a progress line; the result and its JSON round trip.

References:
  Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation. ICLR 2017,
  Sec. 5 and Fig. 5 (the phase diagram of training accuracy).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .boundary import theory_fields
from .config import N_CLASSES, XI_C_FACTOR, TrainabilityConfig, load_digits
from .network import (
    _accuracy_many,
    _chunk_indices,
    _chunks,
    _depth_key,
    _scale_many,
    _train_chunk_mapped,
    _train_chunk_vmapped,
    standard_draws,
    vectorize_default,
)


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
