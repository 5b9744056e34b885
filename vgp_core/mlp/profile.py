"""Measurements without training: the per-layer gradient profile at initialisation, the gain sweep (vmapped,
sharded over devices) and the profile and probe accuracy of given parameters.

References:
  Glorot & Bengio (2010), AISTATS, Sec. 4.2; Poole et al. (2016), NeurIPS, Eqs. 3 and 5; Schoenholz et al. (2017),
  "Deep information propagation", ICLR.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import diagnostics, initializers, sharding
from ..errors import ConfigError, check_int
from . import workspace
from .config import SWEEP_BATCH, GainSweep, GradientProfile, MLPConfig
from .engine import _forward_backward, _forward_backward_into, saved_shape
from .params import Params, _config_draws, _lazy_params, _probe_batch, _settings, check_params


@functools.partial(jax.jit, donate_argnames=("saved",))
def _profile(saved, draws, init_idx, gain, bias_std, settings, x, y, with_jacobian, with_diagnostics):
    """(LayerStats, saved): ``saved`` is donated and returned, so that the next call reuses it (``workspace``)."""
    params, weight = _lazy_params(draws, init_idx, bias_std)
    _, stats, saved = _forward_backward_into(
        saved, params, gain, settings, x, y, with_jacobian, mode="profile", weight=weight, diagnose=with_diagnostics
    )
    return stats, saved


def _trim(a, depth):
    return np.asarray(a)[..., :depth]


def _profile_from_stats(stats, depth: int, layer_diagnostics=None) -> GradientProfile:
    """A :class:`GradientProfile` of the first ``depth`` layers of the engine's fetched ``LayerStats``."""
    return GradientProfile(
        _trim(stats.backprop_norm, depth),
        _trim(stats.weight_grad_norm, depth),
        _trim(stats.act_mean, depth),
        _trim(stats.act_std, depth),
        _trim(stats.saturation, depth),
        _trim(stats.jacobian_sv_mean, depth),
        float(stats.loss),
        layer_diagnostics,
    )


def gradient_profile(
    config: MLPConfig, with_jacobian: bool = True, with_diagnostics: bool | None = None
) -> GradientProfile:
    """Per-layer gradient and activation statistics of ``config``'s network at initialisation on a fixed batch.

    ``with_jacobian=False`` skips the per-layer SVDs (jacobian_sv_mean is then NaN); the app uses it while a slider is
    dragged. ``with_diagnostics`` (default: as ``with_jacobian``, the slower views together) measures
    ``layer_diagnostics`` (histograms, dead units, grad:data) in the same call; else it is None.

    Args:
      config: the network.
      with_jacobian: measure the layer Jacobians' mean singular values.
      with_diagnostics: measure the per-layer diagnostics (None: as ``with_jacobian``).

    Returns:
      A :class:`GradientProfile` (per layer: ||∂L/∂h_l||, ||∂L/∂W_l||, activation mean/std, saturation, Jacobian).

    References:
      Glorot & Bengio (2010), AISTATS, Sec. 4.2 (back-propagated gradients per layer) and Sec. 4.2.1 (Jacobians);
      Wikipedia, "Vanishing gradient problem", section "Prototypical models".
    """
    with_diagnostics = with_jacobian if with_diagnostics is None else with_diagnostics
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats, saved = _profile(
        workspace.take(saved_shape(config.capacity, config.batch_size, config.width)),
        _config_draws(config),
        jnp.int32(initializers.index(config.init)),
        jnp.float32(config.gain),
        jnp.float32(config.bias_std),
        _settings(config),
        x,
        y,
        jnp.bool_(with_jacobian),
        jnp.bool_(with_diagnostics),
    )
    workspace.give(saved)
    stats = jax.device_get(stats)
    d = config.depth
    layer_diagnostics = diagnostics.LayerDiagnostics(*(a[:d] for a in stats.diagnostics))
    return _profile_from_stats(stats, d, layer_diagnostics if with_diagnostics else None)


def _sweep_one(draws, init_idx, gain, bias_std, settings, x, y):
    params, weight = _lazy_params(draws, init_idx, bias_std)
    bp = _forward_backward(params, gain, settings, x, y, jnp.bool_(False), mode="sweep", weight=weight)[1].backprop_norm
    return jnp.log10(bp)


_sweep = jax.jit(jax.vmap(_sweep_one, in_axes=(None, None, 0, None, None, None, None)))


def gain_sweep(config: MLPConfig, gains, batch: int = SWEEP_BATCH) -> GainSweep:
    """log10 ||∂L/∂h_l|| at initialisation for every gain in ``gains``, in one vmapped, jitted call.

    The gain axis is sharded over all visible devices (``vgp_core.sharding``). Uses the first ``batch`` examples of the
    probe batch (the per-gain cost is a full forward and backward pass).

    Args:
      config: the network (its gain is replaced by each of ``gains``).
      gains: non-negative finite gains.
      batch: examples of the probe batch used, 1 to ``config.batch_size``.

    Returns:
      A :class:`GainSweep` (a (len(gains), depth) matrix).

    References:
      Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS,
      Eqs. 3 and 5 (the weight scale's order-to-chaos transition); Schoenholz et al. (2017), "Deep information
      propagation", ICLR (gradients grow or shrink per layer by χ_1, the slope at that transition).
    """
    gains = np.asarray(gains, np.float32).reshape(-1)
    if gains.size == 0 or not np.all(np.isfinite(gains)) or np.any(gains < 0):
        raise ConfigError(f"gains must be a non-empty list of finite numbers >= 0, got {gains!r}")
    batch = check_int("batch", batch, 1, config.batch_size)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    args = (_config_draws(config), jnp.int32(initializers.index(config.init)))
    rest = (jnp.float32(config.bias_std), _settings(config), x[:batch], y[:batch])
    out = sharding.sweep_over_devices(_sweep, args, gains, rest)
    return GainSweep(gains, out[:, : config.depth])


@jax.jit
def _params_stats(params, settings, x, y, with_jacobian):
    return _forward_backward(params, jnp.float32(1.0), settings, x, y, with_jacobian, mode="profile")[1]


def params_profile(config: MLPConfig, params: Params, with_jacobian: bool = False) -> GradientProfile:
    """Like :func:`gradient_profile`, for given parameters on the same fixed probe batch.

    Args:
      config: the network.
      params: e.g. trained or pre-trained parameters (:func:`init_params` layout, gain already folded in).
      with_jacobian: measure the layer Jacobians' mean singular values.

    Returns:
      A :class:`GradientProfile`.

    References:
      Glorot & Bengio (2010), AISTATS, Sec. 4.2.
    """
    params = check_params(config, params)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats = jax.device_get(_params_stats(params, _settings(config), x, y, jnp.bool_(with_jacobian)))
    return _profile_from_stats(stats, config.depth)


def probe_accuracy(config: MLPConfig, params: Params) -> tuple[float, float]:
    """(loss, accuracy) of ``params`` on the fixed probe batch (held out: training draws a separate stream).

    Args:
      config: the network and its task.
      params: the parameters (:func:`init_params` layout).

    Returns:
      (mean cross-entropy, accuracy in [0, 1]).

    References:
      None beyond this module (the probe batch of :func:`gradient_profile`).
    """
    params = check_params(config, params)
    x, y = _probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    stats = jax.device_get(_params_stats(params, _settings(config), x, y, jnp.bool_(False)))
    return float(stats.loss), float(stats.accuracy)
