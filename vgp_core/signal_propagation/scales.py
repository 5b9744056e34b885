"""The fixed points of the maps (q*, c*), the slope χ₁ of the correlation map at c = 1 (order: χ₁ < 1, chaos:
χ₁ > 1), the depth scales ξ_q and ξ_c over σ_w² and the phase diagram over (σ_w², σ_b²).

References:
  Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS, Eqs. 3
  and 5; Schoenholz et al. (2017), "Deep information propagation", ICLR, Sec. 3, Eqs. 7-9.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, theory
from ..errors import ConfigError, check_choice, check_float
from .maps import _check, _correlation_fixed_point_jit, _xi_q_slope_jit


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """Mean-field fixed points and depth scales at one (activation, sigma_w^2, sigma_b^2).

    Attributes: q_star (inf if none), c_star (stable fixed point of the correlation map; 1 in the ordered phase),
    chi_1 (slope of the correlation map at c = 1), chi_c (its slope at c*), xi_q and xi_c (depth scales in layers;
    inf at a marginal fixed point).
    """

    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_q: float
    xi_c: float


def _depth_scale_from_slope(slope: float) -> float:
    """-1/ln(slope) for a contracting map (0 < slope < 1); inf at slope >= 1 (no exponential approach)."""
    if not math.isfinite(slope) or slope <= 0.0:
        return 0.0 if slope == 0.0 else float("nan")
    return float("inf") if slope >= 1.0 else -1.0 / math.log(slope)


#: |chi_1 - 1| below this counts as the order-to-chaos line itself (float32 quadrature of chi_1 = 1 exactly, as for
#: ReLU at sigma_w^2 = 2, comes out 1 ± 1e-7)
MARGINAL = 1e-5


@jax.jit
def _scales_jit(act_idx, q, chi1, sw2, sb2):
    """c*, chi_c and the slope of the length map at q* for arrays of (q*, chi_1, sigma_w^2)."""

    def one(qv, chi, w2):
        c, chi_c = _correlation_fixed_point_jit(act_idx, qv, w2, sb2)
        ordered = chi <= 1.0 + MARGINAL  # c* = 1 exactly; Newton only approaches a double root like 2^-k
        return jnp.where(ordered, 1.0, c), jnp.where(ordered, chi, chi_c), _xi_q_slope_jit(act_idx, qv, w2)

    return jax.vmap(one)(q, chi1, sw2)


def fixed_points_curve(activation: str, sigma_w2, sigma_b2: float = 0.0) -> dict[str, np.ndarray]:
    """``fixed_points`` for an array of sigma_w^2 in one call: arrays q_star, c_star, chi_1, chi_c, xi_q, xi_c.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2: a scalar or an array of values, each finite and > 0.
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      A dict of float64 arrays, each of shape (sigma_w2.size,): ``q_star`` (inf where none is finite), ``c_star`` (1 in
      the ordered phase), ``chi_1``, ``chi_c``, and the depth scales ``xi_q`` and ``xi_c`` in layers (inf at a marginal
      fixed point). Where q* is infinite, c_star, chi_c and the depth scales are NaN.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eqs. 3 and 5.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eqs. 3-9.
    """
    idx = activations.index(check_choice("activation", activation, activations.names()))
    sw2 = np.atleast_1d(np.asarray(sigma_w2, np.float64))
    if not np.all(np.isfinite(sw2)) or np.any(sw2 <= 0):
        raise ConfigError(f"sigma_w2 must be finite and > 0, got {sigma_w2!r}")
    sb2 = check_float("sigma_b2", sigma_b2, 0.0, 100.0)
    q = np.atleast_1d(theory.q_star(activation, sw2, sb2))
    chi1 = np.atleast_1d(theory.chi_1(activation, sw2, sb2))
    finite = np.isfinite(q)
    c, chi_c, slope_q = (
        np.asarray(a, np.float64)
        for a in _scales_jit(
            jnp.int32(idx),
            jnp.asarray(np.where(finite, q, 1.0), jnp.float32),
            jnp.asarray(chi1, jnp.float32),
            jnp.asarray(sw2, jnp.float32),
            jnp.float32(sb2),
        )
    )
    nan = np.full(sw2.shape, np.nan)
    c, chi_c, slope_q = (np.where(finite, a, nan) for a in (c, chi_c, slope_q))
    chi_c = np.where(np.abs(chi_c - 1.0) <= MARGINAL, 1.0, chi_c)
    return dict(
        q_star=q,
        c_star=c,
        chi_1=chi1,
        chi_c=chi_c,
        xi_q=np.array([_depth_scale_from_slope(v) for v in slope_q]),
        xi_c=np.array([_depth_scale_from_slope(v) for v in chi_c]),
    )


@functools.lru_cache(maxsize=4096)
def fixed_points(activation: str, sigma_w2: float, sigma_b2: float = 0.0) -> FixedPoints:
    """q*, c*, chi_1, chi_c, xi_q and xi_c (Schoenholz et al. 2017, Eqs. 3–9); cached per setting.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2 in [1e-6, 100] (W_ij ~ N(0, sigma_w^2/N)).
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      :class:`FixedPoints` (floats; see :func:`fixed_points_curve` for the values at an infinite q*).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eqs. 3-9.
    """
    _, sw2, sb2 = _check(activation, sigma_w2, sigma_b2)
    curve = fixed_points_curve(activation, sw2, sb2)
    return FixedPoints(**{k: float(v[0]) for k, v in curve.items()})


def correlation_depth_scale(activation: str, sigma_w2, sigma_b2: float = 0.0):
    """xi_c = -1/ln chi_c (Schoenholz et al. 2017, Eq. 9): the depth over which the correlation of two inputs
    approaches c*; inf on the order-to-chaos line. Scalar or array like ``sigma_w2``; NaN where q* is infinite.
    Schoenholz et al. (Sec. 5) find that networks train when their depth is below about 6 xi_c.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2: a scalar or an array of values, each finite and > 0.
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      xi_c in layers: a float for a scalar ``sigma_w2``, else a float64 array of its shape.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 9, and Sec. 5 (trainable depth about 6 xi_c).
    """
    sw2 = np.asarray(sigma_w2, np.float64)
    out = fixed_points_curve(activation, sw2.reshape(-1), sigma_b2)["xi_c"]
    return float(out[0]) if sw2.ndim == 0 else out.reshape(sw2.shape)


def length_depth_scale(activation: str, sigma_w2, sigma_b2: float = 0.0):
    """xi_q (Schoenholz et al. 2017, Eq. 7), scalar or array like ``sigma_w2``.

    xi_q^{-1} = -ln(chi_1 + sigma_w^2 ∫Dz phi''(sqrt(q*) z) phi(sqrt(q*) z)): the depth over which the length q^l
    approaches q*.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2: a scalar or an array of values, each finite and > 0.
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      xi_q in layers: a float for a scalar ``sigma_w2``, else a float64 array of its shape; inf where the length map's
      slope at q* is >= 1, NaN where q* is infinite.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 7.
    """
    sw2 = np.asarray(sigma_w2, np.float64)
    out = fixed_points_curve(activation, sw2.reshape(-1), sigma_b2)["xi_q"]
    return float(out[0]) if sw2.ndim == 0 else out.reshape(sw2.shape)


@dataclasses.dataclass(frozen=True)
class PhaseDiagram:
    """chi_1 over a grid of (sigma_w^2, sigma_b^2) and the order-to-chaos line chi_1 = 1.

    Attributes: sigma_w2 (n_w,), sigma_b2 (n_b,), chi_1 (n_b, n_w), critical_sigma_w2 (n_b,): the line, NaN
    where chi_1 does not cross 1 inside the grid's sigma_w^2 range.
    """

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    chi_1: np.ndarray
    critical_sigma_w2: np.ndarray


def phase_diagram(activation: str, sigma_w2: np.ndarray, sigma_b2: np.ndarray) -> PhaseDiagram:
    """chi_1 on the grid and the chi_1 = 1 line, interpolated linearly in ln chi_1 between the two grid columns
    where chi_1 crosses 1 in each row (chi_1 is increasing in sigma_w^2; the grid spacing bounds the error).

    Args:
      activation: a registered activation name.
      sigma_w2: (n_w,) increasing grid of weight variances sigma_w^2.
      sigma_b2: (n_b,) grid of bias variances sigma_b^2.

    Returns:
      :class:`PhaseDiagram` with chi_1 of shape (n_b, n_w) and the critical sigma_w^2 (n_b,), NaN in rows where chi_1
      does not cross 1 inside the grid.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        The order-to-chaos transition at chi_1 = 1.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 3 (the critical line over (sigma_w^2, sigma_b^2)).
    """
    sw2 = np.asarray(sigma_w2, np.float64)
    sb2 = np.asarray(sigma_b2, np.float64)
    chi = np.stack([np.asarray(theory.chi_1(activation, sw2, float(b)), np.float64) for b in sb2])
    line = np.full(sb2.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_chi = np.log(chi)
    for i, row in enumerate(log_chi):
        above = np.nonzero(row >= 0.0)[0]
        if above.size and above[0] > 0 and np.isfinite(row[above[0] - 1]):
            j = above[0]
            t = -row[j - 1] / (row[j] - row[j - 1])
            line[i] = sw2[j - 1] + t * (sw2[j] - sw2[j - 1])
    return PhaseDiagram(sw2, sb2, chi, line)
