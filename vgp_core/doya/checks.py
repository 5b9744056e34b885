"""Validation of the controls of Doya's network (scalars in range, step counts, grids, the method and RK4's
sub-step count), shared with :mod:`vgp_core.cliff`.

References:
  Doya (1993), "Bifurcations of recurrent neural networks in gradient descent learning";
  Wikipedia, "Vanishing gradient problem", section "Dynamical systems model".
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, check_choice, check_float, check_int
from .config import MAX_GRID, MAX_STEPS, METHODS, RK4_STEP_BOUND, U_RANGE


def _scalar(name, value, rng):
    return np.float32(check_float(name, value, *rng))


def _steps(name, value, hi=MAX_STEPS, lo=0):
    return np.int32(check_int(name, value, lo, hi))


def _grid(name, values, rng, max_size=MAX_GRID) -> np.ndarray:
    """A 1-D float array of finite values in ``rng`` (a scalar becomes a length-1 grid), else ConfigError."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number or a 1-D array of numbers, got {values!r}") from None
    a = a.reshape(-1) if a.ndim == 0 else a
    if a.ndim != 1 or not 1 <= a.size <= max_size:
        raise ConfigError(f"{name} must be a 1-D grid of 1 to {max_size} values, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} must be finite, got non-finite values")
    if a.min() < rng[0] or a.max() > rng[1]:
        raise ConfigError(f"{name} must lie in [{rng[0]}, {rng[1]}], got values in [{a.min():g}, {a.max():g}]")
    return a


def _range(name, value, rng):
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a pair (lo, hi), got {value!r}") from None
    lo, hi = check_float(f"{name}[0]", lo, *rng), check_float(f"{name}[1]", hi, *rng)
    if not lo < hi:
        raise ConfigError(f"{name} must have lo < hi, got ({lo:g}, {hi:g})")
    return lo, hi


def _method_index(method) -> np.int32:
    return np.int32(METHODS.index(check_choice("method", method, METHODS)))


def _n_sub(eps: float, w: float) -> np.int32:
    return np.int32(max(1, math.ceil(eps * (1.0 + abs(w) / 4.0) / RK4_STEP_BOUND - 1e-9)))


def _input_buffer(u, steps: int) -> np.ndarray:
    """u_t for t = 0..MAX_STEPS-1 (a constant, or an array of length >= steps whose first ``steps`` are used)."""
    if np.ndim(u) == 0:
        return np.full((MAX_STEPS,), _scalar("u", u, U_RANGE), np.float32)
    a = _grid("u", u, U_RANGE, max_size=MAX_STEPS)
    if a.size < steps:
        raise ConfigError(f"u must have at least steps = {steps} values, got {a.size}")
    buf = np.zeros((MAX_STEPS,), np.float32)
    buf[: a.size] = a
    return buf
