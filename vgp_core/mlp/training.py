"""Training the network by mini-batch gradient descent on its task: chunked, jitted ``lax.scan`` programs of the
manual reverse pass and an optax optimizer with optional gradient-norm clipping, streamed as growing traces.

References:
  Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (gradient-norm clipping);
  Karpathy (2022), "Building makemore Part 3" (the update:data ratio); optax documentation, "Optimizers".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import data, diagnostics, optimizers
from ..errors import ConfigError, check_choice, check_float, check_int
from .config import JACOBIAN_EVERY, OPTIMIZERS, MLPConfig, TrainTrace
from .engine import _forward_backward
from .params import Params, _data_keys, _settings, check_params, init_params


@functools.partial(jax.jit, static_argnames=("optimizer",))
def _init_opt_state(params, learning_rate, optimizer):
    # Rprop keeps its per-parameter step sizes in the state, starting at the learning rate.
    return optimizers.clipped(optimizer, learning_rate).init(params)


@functools.partial(jax.jit, static_argnames=("optimizer", "chunk", "batch"))
def _train_chunk(
    params,
    opt_state,
    step0,
    settings,
    task_key,
    stream_key,
    learning_rate,
    clip_norm,
    optimizer,
    chunk,
    batch,
    jacobians=True,
):
    tx = optimizers.clipped(optimizer, learning_rate, clip_norm)
    n_classes = params.w_out.shape[1]
    input_dim = params.w_in.shape[0]

    def one_step(carry, step):
        params, opt_state = carry
        x, y = data.gaussian_mixture(task_key, jax.random.fold_in(stream_key, step), batch, input_dim, n_classes)
        measure = step % JACOBIAN_EVERY == 0
        grads, stats = _forward_backward(
            params, jnp.float32(1.0), settings, x, y, jnp.logical_and(jacobians, measure), diagnose=measure
        )
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        # the optimizer's actual update against the weights it changes (Karpathy 2022's update:data ratio)
        update_ratio = diagnostics.update_data_log10(updates.w_in, updates.w, params.w_in, params.w)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (stats, grad_norm, grad_norm > clip_norm, params.slope, update_ratio)

    (params, opt_state), out = jax.lax.scan(one_step, (params, opt_state), step0 + jnp.arange(chunk))
    return params, opt_state, out


def _check_training(steps, optimizer, learning_rate, clip_norm, chunk):
    steps = check_int("steps", steps, 1, 100_000)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = check_float("learning_rate", learning_rate, 0.0, 100.0)
    clip = math.inf if clip_norm is None else check_float("clip_norm", clip_norm, 1e-8, 1e12)
    chunk = check_int("chunk", chunk, 1, 10_000)
    return steps, optimizer, learning_rate, clip, chunk


def train_iter(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
    params: Params | None = None,
    jacobians: bool = True,
) -> Iterator[TrainTrace]:
    """Train ``config``'s network on its task, yielding the trace so far after every ``chunk`` steps.

    A fresh seeded batch per step; the app streams these traces (stop iterating to cancel). Every chunk has the same
    length (one compiled program); the last one is trimmed to ``steps``. ``jacobians=False`` skips the layer-Jacobian
    SVDs (``jacobian_sv_mean`` is then NaN throughout): on CPU they cost several times the training step itself.

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.
      params: parameters to start from (e.g. pre-trained; :func:`init_params` layout; None: the initialisation).
      jacobians: measure the layer Jacobians every JACOBIAN_EVERY steps.

    Returns:
      An iterator of :class:`TrainTrace`, each holding every step so far.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping); optax documentation, "Optimizers".
    """
    for trace, _ in _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params, jacobians):
        yield trace


def _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params=None, jacobians=True):
    """Yields (trace so far, parameters after it) after every chunk; the engine of :func:`train_iter`."""
    steps, optimizer, learning_rate, clip, chunk = _check_training(steps, optimizer, learning_rate, clip_norm, chunk)
    chunk = min(chunk, steps)
    if params is None:
        params = init_params(config)
    else:
        params = check_params(config, params)
    opt_state = _init_opt_state(params, jnp.float32(learning_rate), optimizer)
    settings = _settings(config)
    task_key, _ = _data_keys(config.seed)
    stream_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3)
    parts = []
    done = 0
    while done < steps:
        # The last chunk runs in full (one compiled length) and is trimmed in the trace; with ``steps`` not a
        # multiple of ``chunk`` the parameters yielded have seen those extra steps too (train_with_params refuses
        # such step counts).
        params, opt_state, out = _train_chunk(
            params,
            opt_state,
            jnp.int32(done),
            settings,
            task_key,
            stream_key,
            jnp.float32(learning_rate),
            jnp.float32(clip),
            optimizer=optimizer,
            chunk=chunk,
            batch=config.batch_size,
            jacobians=jnp.bool_(jacobians),
        )
        parts.append(_keep_measured_diagnostics(jax.device_get(out), done))
        done += chunk
        yield _assemble(parts, config.depth, min(done, steps)), params


def train_with_params(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
    params: Params | None = None,
    jacobians: bool = True,
) -> tuple[TrainTrace, Params]:
    """(trace, trained parameters) after exactly ``steps`` updates from ``params``.

    ``steps`` must be a multiple of ``chunk`` (ConfigError otherwise), so the parameters have seen exactly the steps in
    the trace.

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.
      params: parameters to start from (None: the initialisation).
      jacobians: measure the layer Jacobians every JACOBIAN_EVERY steps.

    Returns:
      (:class:`TrainTrace`, the trained :class:`Params`).

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping).
    """
    steps = check_int("steps", steps, 1, 100_000)
    chunk = check_int("chunk", chunk, 1, 10_000)
    if steps % min(chunk, steps):
        raise ConfigError(f"steps ({steps}) must be a multiple of chunk ({chunk}) in train_with_params")
    out = None
    for out in _train_states(config, steps, optimizer, learning_rate, clip_norm, chunk, params, jacobians):  # noqa: B007 (the loop keeps the last item)
        pass
    return out


def _keep_measured_diagnostics(out, step0: int):
    """A chunk's output with the layer diagnostics of the measured steps only (every JACOBIAN_EVERY-th; the others
    are placeholders), so that a long run does not hold ten times the histograms it measured."""
    stats = out[0]
    measured = (step0 + np.arange(stats.loss.shape[0])) % JACOBIAN_EVERY == 0
    kept = diagnostics.LayerDiagnostics(*(a[measured] for a in stats.diagnostics))
    return (stats._replace(diagnostics=kept), *out[1:])


def _assemble(parts, depth, steps) -> TrainTrace:
    def cat(get):
        return np.concatenate([get(p) for p in parts])[:steps]

    def layers(field):
        return cat(lambda p: getattr(p[0], field))[:, :depth]

    return TrainTrace(
        loss=cat(lambda p: p[0].loss),
        accuracy=cat(lambda p: p[0].accuracy),
        grad_norm=cat(lambda p: p[1]),
        clipped=cat(lambda p: p[2]),
        backprop_norm=layers("backprop_norm"),
        weight_grad_norm=layers("weight_grad_norm"),
        act_mean=layers("act_mean"),
        act_std=layers("act_std"),
        saturation=layers("saturation"),
        jacobian_sv_mean=layers("jacobian_sv_mean"),
        prelu_slope=cat(lambda p: p[3])[:, :depth],
        update_data_log10=cat(lambda p: p[4])[:, :depth],
        layer_diagnostics=diagnostics.LayerDiagnostics(
            *(
                np.concatenate([p[0].diagnostics[i] for p in parts])[: -(-steps // JACOBIAN_EVERY), :depth].copy()
                for i in range(len(diagnostics.LayerDiagnostics._fields))
            )
        ),
    )


def train(
    config: MLPConfig,
    steps: int,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clip_norm: float | None = None,
    chunk: int = 10,
) -> TrainTrace:
    """The full training trace (see :func:`train_iter`).

    Args:
      config: the network and its task.
      steps: the number of updates.
      optimizer: one of ``OPTIMIZERS`` (``vgp_core.optimizers``).
      learning_rate: the optimizer's step size.
      clip_norm: the gradient-norm clipping threshold (None: no clipping).
      chunk: updates per compiled program call.

    Returns:
      The last :class:`TrainTrace`.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Algorithm 1 (clipping).
    """
    trace = None
    for trace in train_iter(config, steps, optimizer, learning_rate, clip_norm, chunk):  # noqa: B007 (the loop keeps the last item)
        pass
    return trace
