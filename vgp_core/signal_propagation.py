"""Signal propagation through wide random networks: the length and correlation maps and their depth scales.

Mean field (Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos", Eqs. 3
and 5; Schoenholz et al. 2017, "Deep information propagation", Sec. 2–3, Eqs. 2–9). A layer
h^l = W^l phi(h^{l-1}) + b^l with W_ij ~ N(0, sigma_w^2/N), b_i ~ N(0, sigma_b^2) maps

* the length  q^l = sigma_w^2 ∫Dz phi(sqrt(q^{l-1}) z)^2 + sigma_b^2                       (length map, Eq. 3)
* the correlation of two inputs at the fixed point q*:
  c^l = [sigma_w^2 ∫Dz1 Dz2 phi(u1) phi(u2) + sigma_b^2] / q*,  u1 = sqrt(q*) z1,
  u2 = sqrt(q*) (c^{l-1} z1 + sqrt(1 - (c^{l-1})^2) z2)                                  (correlation map, Eq. 5)

c = 1 is always a fixed point; its slope there is chi_1 = sigma_w^2 ∫Dz phi'(sqrt(q*) z)^2: stable (ordered
phase, every input pair becomes parallel) when chi_1 < 1, unstable (chaotic phase, a second fixed point c* < 1)
when chi_1 > 1. Depth scales (Schoenholz et al. 2017, Eqs. 7–9):

* xi_q^{-1} = -ln(chi_1 + sigma_w^2 ∫Dz phi''(sqrt(q*) z) phi(sqrt(q*) z))  (the length's approach to q*),
* xi_c^{-1} = -ln chi_c,  chi_c = sigma_w^2 ∫Dz1 Dz2 phi'(u1) phi'(u2) at c = c*  (= chi_1 when c* = 1),

so xi_c diverges at chi_1 = 1, the order-to-chaos line over (sigma_w^2, sigma_b^2).

The same quantities are measured on a random network drawn by ``vgp_core.mlp`` (``measure``), so the mean-field
limit can be compared with a finite width and depth. Gaussian integrals use the midpoint rule of
``vgp_core.theory`` in 1-D and a product midpoint rule on ``_N_2D``² nodes over [-8, 8]² in 2-D.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import activations, mlp, theory
from .errors import ConfigError, check_choice, check_float, check_int

#: re-exported: sigma_w^2 on the order-to-chaos line chi_1 = 1 (bisection in ``vgp_core.theory``).
critical_sigma_w2 = theory.critical_sigma_w2

_N_2D = 128  # 2-D midpoint nodes per axis: spacing 1/8 in z resolves tanh's phi' (width 1/sqrt(q*)) to q* ~ 10
#: the iterates programs run this many steps whatever the depth asked (one compiled program); callers slice
MAX_ITERATES = mlp.MAX_DEPTH
_Z2 = -8.0 + (np.arange(_N_2D) + 0.5) * (16.0 / _N_2D)
_W2 = np.exp(-0.5 * _Z2**2)
_Z1_GRID, _Z2_GRID = (jnp.asarray(a, jnp.float32) for a in np.meshgrid(_Z2, _Z2, indexing="ij"))
_W_GRID = jnp.asarray(np.outer(_W2, _W2) / np.outer(_W2, _W2).sum(), jnp.float32)
C_NEWTON_STEPS = 40  # Newton steps toward c*: quadratic convergence, linear (halving) at a double root (chi_1 = 1)
#: correlation values at which the correlation map is drawn
C_GRID = np.linspace(-1.0, 1.0, 81).astype(np.float32)


def _gauss_mean(f):
    return jnp.sum(theory._WEIGHTS * f(theory._NODES))


@jax.jit
def _length_map_jit(act_idx, q, sw2, sb2):
    def one(qv):
        return sw2 * _gauss_mean(lambda z: activations.apply(act_idx, jnp.sqrt(jnp.maximum(qv, 0.0)) * z) ** 2) + sb2

    return jax.vmap(one)(q)


@jax.jit
def _length_iterates_jit(act_idx, q0, sw2, sb2):
    """q^0..q^MAX_ITERATES (one program for every number of steps: the caller slices)."""

    def body(q, _):
        q_next = _length_map_jit(act_idx, q[None], sw2, sb2)[0]
        return q_next, q_next

    _, qs = jax.lax.scan(body, q0, None, length=MAX_ITERATES)
    return jnp.concatenate([q0[None], qs])


def _pair_integrals(act_idx, q, c):
    """(∫phi(u1)phi(u2), ∫phi'(u1)phi'(u2)) over the 2-D Gaussian measure at length q, correlation c."""
    s = jnp.sqrt(jnp.maximum(q, 0.0))
    c = jnp.clip(c, -1.0, 1.0)
    u1 = s * _Z1_GRID
    u2 = s * (c * _Z1_GRID + jnp.sqrt(jnp.maximum(1.0 - c * c, 0.0)) * _Z2_GRID)
    f1, d1 = activations.value_and_derivative(act_idx, u1)
    f2, d2 = activations.value_and_derivative(act_idx, u2)
    return jnp.sum(_W_GRID * f1 * f2), jnp.sum(_W_GRID * d1 * d2)


@jax.jit
def _correlation_map_jit(act_idx, c, q, sw2, sb2):
    """c -> c' (Eq. 5) and chi_c(c) = sigma_w^2 ∫phi'(u1)phi'(u2) for an array of c at the length q."""

    def one(cv):
        ff, dd = _pair_integrals(act_idx, q, cv)
        return (sw2 * ff + sb2) / jnp.maximum(q, 1e-30), sw2 * dd

    return jax.vmap(one)(c)


@jax.jit
def _correlation_iterates_jit(act_idx, c0, q, sw2, sb2):
    """c^0..c^MAX_ITERATES at the length q (the caller slices)."""

    def body(c, _):
        c_next = jnp.clip(_correlation_map_jit(act_idx, c[None], q, sw2, sb2)[0][0], -1.0, 1.0)
        return c_next, c_next

    _, cs = jax.lax.scan(body, c0, None, length=MAX_ITERATES)
    return jnp.concatenate([c0[None], cs])


@jax.jit
def _correlation_fixed_point_jit(act_idx, q, sw2, sb2):
    """The stable fixed point c* of the correlation map and chi_c there, by Newton's method on
    g(c) = c'(c) - c from c = 0, with g'(c) = chi_c(c) - 1 (Poole et al. 2016: dc'/dc = sigma_w^2 ∫phi'phi').
    g is convex on [0, 1] with g(0) = sigma_b^2/q* >= 0, so the steps increase monotonically to the first root."""

    def body(_, c):
        f, slope = _correlation_map_jit(act_idx, c[None], q, sw2, sb2)
        step = (f[0] - c) / jnp.minimum(slope[0] - 1.0, -1e-6)
        return jnp.clip(c - step, -1.0, 1.0)

    c = jax.lax.fori_loop(0, C_NEWTON_STEPS, body, jnp.float32(0.0))
    return c, _correlation_map_jit(act_idx, c[None], q, sw2, sb2)[1][0]


@jax.jit
def _xi_q_slope_jit(act_idx, q, sw2):
    """chi_1 + sigma_w^2 ∫phi''(sqrt(q) z) phi(sqrt(q) z): the slope of the length map at q* (Eq. 7)."""
    x = jnp.sqrt(jnp.maximum(q, 1e-30)) * theory._NODES

    def derivative(v):
        return activations.value_and_derivative(act_idx, v)[1]

    phi = activations.apply(act_idx, x)
    d1 = derivative(x)
    d2 = jax.jvp(derivative, (x,), (jnp.ones_like(x),))[1]
    return sw2 * jnp.sum(theory._WEIGHTS * (d1 * d1 + d2 * phi))


def _check(activation: str, sigma_w2: float, sigma_b2: float) -> tuple[int, float, float]:
    idx = activations.index(check_choice("activation", activation, activations.names()))
    return idx, check_float("sigma_w2", sigma_w2, 1e-6, 100.0), check_float("sigma_b2", sigma_b2, 0.0, 100.0)


def length_map(activation: str, q, sigma_w2: float, sigma_b2: float = 0.0) -> np.ndarray:
    """The length map q -> q' (Poole et al. 2016, Eq. 3) at each q of ``q`` (array of lengths >= 0).

    q' = sigma_w^2 ∫Dz phi(sqrt(q) z)^2 + sigma_b^2, by the midpoint rule of ``vgp_core.theory``.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      q: lengths q >= 0 (mean squared pre-activation per unit): a scalar or a 1-D array.
      sigma_w2: weight variance sigma_w^2 in [1e-6, 100] (W_ij ~ N(0, sigma_w^2/N)).
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      (len(q),) float64: q' at each q (a scalar ``q`` gives shape (1,)). Raises ``ConfigError`` for an unknown
      activation or an out-of-range variance.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eq. 3.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 3.
    """
    idx, sw2, sb2 = _check(activation, sigma_w2, sigma_b2)
    q = np.atleast_1d(np.asarray(q, np.float32))
    return np.asarray(_length_map_jit(jnp.int32(idx), jnp.asarray(q), jnp.float32(sw2), jnp.float32(sb2)), np.float64)


def length_iterates(activation: str, q0: float, sigma_w2: float, sigma_b2: float, steps: int) -> np.ndarray:
    """q^0 = q0, q^1, ..., q^steps: the length map iterated ``steps`` times (a cobweb of the map).

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      q0: the input length q^0 in [0, 1e6].
      sigma_w2: weight variance sigma_w^2 in [1e-6, 100] (W_ij ~ N(0, sigma_w^2/N)).
      sigma_b2: bias variance sigma_b^2 in [0, 100].
      steps: number of layers, in [1, MAX_ITERATES].

    Returns:
      (steps + 1,) float64: q^0..q^steps (one compiled program runs MAX_ITERATES steps; the result is sliced).

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eq. 3 (iterated, the length approaches its fixed point q*).
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 3.
    """
    idx, sw2, sb2 = _check(activation, sigma_w2, sigma_b2)
    steps = check_int("steps", steps, 1, MAX_ITERATES)
    q0 = check_float("q0", q0, 0.0, 1e6)
    qs = _length_iterates_jit(jnp.int32(idx), jnp.float32(q0), jnp.float32(sw2), jnp.float32(sb2))
    return np.asarray(qs, np.float64)[: steps + 1]


def _finite_q_star(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    q = theory.q_star(activation, sigma_w2, sigma_b2)
    if not math.isfinite(q):
        raise ConfigError(
            f"the length map of {activation} has no finite fixed point at sigma_w^2 = {sigma_w2:g}, "
            f"sigma_b^2 = {sigma_b2:g} (q grows without bound), so there is no correlation map"
        )
    return q


def correlation_map(activation: str, c, sigma_w2: float, sigma_b2: float = 0.0) -> np.ndarray:
    """The correlation map c -> c' at the length's fixed point q* (Poole et al. 2016, Eq. 5), at each c of ``c``.
    Raises ConfigError where q* is infinite (e.g. ReLU with sigma_w^2 > 2).

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      c: correlations in [-1, 1] of two inputs at the length q*: a scalar or a 1-D array.
      sigma_w2: weight variance sigma_w^2 in [1e-6, 100] (W_ij ~ N(0, sigma_w^2/N)).
      sigma_b2: bias variance sigma_b^2 in [0, 100].

    Returns:
      (len(c),) float64: c' = [sigma_w^2 ∫Dz1 Dz2 phi(u1) phi(u2) + sigma_b^2] / q* at each c (2-D midpoint rule on
      ``_N_2D``² nodes).

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eq. 5.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2 (the correlation map at q* and its slope chi_1 at c = 1).
    """
    idx, sw2, sb2 = _check(activation, sigma_w2, sigma_b2)
    q = _finite_q_star(activation, sw2, sb2)
    c = jnp.asarray(np.atleast_1d(np.asarray(c, np.float32)))
    out, _ = _correlation_map_jit(jnp.int32(idx), c, jnp.float32(q), jnp.float32(sw2), jnp.float32(sb2))
    return np.asarray(out, np.float64)


def correlation_iterates(activation: str, c0: float, sigma_w2: float, sigma_b2: float, steps: int) -> np.ndarray:
    """c^0 = c0, ..., c^steps: the correlation map iterated at q* (inputs already at the fixed length).

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      c0: the inputs' correlation c^0 in [-1, 1].
      sigma_w2: weight variance sigma_w^2 in [1e-6, 100] (W_ij ~ N(0, sigma_w^2/N)).
      sigma_b2: bias variance sigma_b^2 in [0, 100].
      steps: number of layers, in [1, MAX_ITERATES].

    Returns:
      (steps + 1,) float64: c^0..c^steps, each clipped to [-1, 1]. Raises ``ConfigError`` where q* is infinite.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eq. 5.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 3 (the approach of c^l to c*).
    """
    idx, sw2, sb2 = _check(activation, sigma_w2, sigma_b2)
    steps = check_int("steps", steps, 1, MAX_ITERATES)
    c0 = check_float("c0", c0, -1.0, 1.0)
    q = _finite_q_star(activation, sw2, sb2)
    cs = _correlation_iterates_jit(jnp.int32(idx), jnp.float32(c0), jnp.float32(q), jnp.float32(sw2), jnp.float32(sb2))
    return np.asarray(cs, np.float64)[: steps + 1]


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


# ----------------------------------------------------------------------------------------------------------------
# The same, measured on a random network


@dataclasses.dataclass(frozen=True)
class PropagationConfig:
    """A random network h^l = W^l phi(h^{l-1}) + b^l (``depth`` layers of ``width`` units) probed with two inputs
    h^0 of length ``q0`` and correlation ``c0``. Gaussian weights of variance sigma_w^2/N (``vgp_core.mlp``'s
    lecun_normal init with gain sigma_w) or sigma_w times a Haar-orthogonal matrix; biases N(0, sigma_b^2)."""

    activation: str = "tanh"
    sigma_w2: float = 1.5
    sigma_b2: float = 0.05
    depth: int = 50
    width: int = 256
    weights: str = "gaussian"
    q0: float = 1.0
    c0: float = 0.5
    seed: int = 0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("activation", check_choice("activation", self.activation, activations.names()))
        set_("sigma_w2", check_float("sigma_w2", self.sigma_w2, 1e-6, 100.0))
        set_("sigma_b2", check_float("sigma_b2", self.sigma_b2, 0.0, 100.0))
        set_("depth", check_int("depth", self.depth, 1, mlp.MAX_DEPTH))
        set_("width", check_int("width", self.width, 2, mlp.MAX_WIDTH))
        set_("weights", check_choice("weights", self.weights, WEIGHTS))
        set_("q0", check_float("q0", self.q0, 1e-6, 1e4))
        set_("c0", check_float("c0", self.c0, -1.0, 1.0))
        set_("seed", check_int("seed", self.seed, 0, 2**31 - 1))

    def mlp_config(self) -> mlp.MLPConfig:
        """The ``vgp_core.mlp`` network whose hidden weights are drawn (input_dim = width: layer 1 is square)."""
        return mlp.MLPConfig(
            depth=self.depth,
            width=self.width,
            activation=self.activation,
            init=WEIGHTS[self.weights],
            gain=math.sqrt(self.sigma_w2),
            bias_std=math.sqrt(self.sigma_b2),
            input_dim=self.width,
            seed=self.seed,
        )


#: weight distributions and the ``vgp_core.initializers`` name that draws them (gain sigma_w).
WEIGHTS = {"gaussian": "lecun_normal", "orthogonal": "orthogonal"}


def network_layers(config: PropagationConfig) -> tuple[jax.Array, jax.Array]:
    """(W, b) of every layer, stacked to the capacity bucket: row l is layer l + 1 (``vgp_core.mlp``'s draws).

    Args:
      config: the network (activation, weights, sigma_w^2, sigma_b^2, depth, width, seed).

    Returns:
      (W, b): W of shape (capacity, width, width) in the row-vector convention h^l = phi(h^{l-1}) @ W + b, b of shape
      (capacity, width); capacity is ``vgp_core.mlp``'s bucket for ``config.depth`` (rows past the depth are unused).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2 (W_ij ~ N(0, sigma_w^2/N), b_i ~ N(0, sigma_b^2)).
      Saxe, A. M., McClelland, J. L., & Ganguli, S. (2014). Exact solutions to the nonlinear dynamics of learning
      in deep linear neural networks. ICLR 2014.
        Orthogonal weights.
    """
    params = mlp.init_params(config.mlp_config())
    w = params.w.at[0].set(params.w_in)  # W row-vector convention: h^l = phi(h^{l-1}) @ W + b
    b = params.b.at[0].set(params.b_in)
    return w, b


@jax.jit
def _measure_jit(w, b, act_idx, depth, x1, x2, probe):
    """Per layer: lengths q^l of both inputs, their correlation c^l, and the squared growth |D W v|^2/|v|^2 of an
    infinitesimal perturbation v of the first input (a fresh random direction ``probe[l]`` each layer, independent of
    that layer's W and D): its expectation is chi_1, the slope of the correlation map at c = 1."""

    def layer(carry, wbv):
        h1, h2, _, l = carry
        wl, bl, v = wbv
        active = l < depth
        f1, d1 = activations.value_and_derivative(act_idx, h1)
        g1 = f1 @ wl + bl
        g2 = activations.apply(act_idx, h2) @ wl + bl
        tangent = (d1 * v) @ wl
        growth = jnp.sum(tangent**2) / jnp.maximum(jnp.sum(v**2), 1e-30)
        tangent = tangent / jnp.maximum(jnp.sqrt(jnp.sum(tangent**2)), 1e-30)
        n = h1.shape[0]
        q1, q2 = jnp.sum(g1**2) / n, jnp.sum(g2**2) / n
        c = jnp.sum(g1 * g2) / n / jnp.sqrt(jnp.maximum(q1 * q2, 1e-30))
        new = (g1, g2, tangent, l + 1)
        carry = jax.tree_util.tree_map(lambda a, o: jnp.where(active, a, o), new, carry)
        return carry, (q1, q2, c, growth)

    _, out = jax.lax.scan(layer, (x1, x2, probe[0], jnp.int32(0)), (w, b, probe))
    return out


@dataclasses.dataclass(frozen=True)
class MeasuredPropagation:
    """Measured on one random network, layers 0..depth (entry 0: the inputs).

    Attributes: q (depth+1,) mean squared pre-activation of the first input, q_other of the second, c their
    correlation, chi_1 (depth,) squared growth of an infinitesimal perturbation per layer (its mean estimates
    mean field's chi_1, the slope of the correlation map at c = 1).
    """

    q: np.ndarray
    q_other: np.ndarray
    c: np.ndarray
    chi_1: np.ndarray


def _inputs(config: PropagationConfig, capacity: int):
    n = config.width
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 7)
    z = np.asarray(jax.random.normal(key, (2, n), jnp.float32), np.float64)
    probes = jax.random.normal(jax.random.fold_in(key, 1), (capacity, n), jnp.float32)
    # two exactly normalised vectors with exactly the requested correlation (Gram–Schmidt), and a probe
    e1 = z[0] / np.linalg.norm(z[0])
    e2 = z[1] - (z[1] @ e1) * e1
    e2 /= np.linalg.norm(e2)
    scale = math.sqrt(config.q0 * n)
    x1 = scale * e1
    x2 = scale * (config.c0 * e1 + math.sqrt(max(1.0 - config.c0**2, 0.0)) * e2)
    return jnp.asarray(x1, jnp.float32), jnp.asarray(x2, jnp.float32), probes


def measure(config: PropagationConfig) -> MeasuredPropagation:
    """Lengths and correlation of two inputs, layer by layer, through ``config``'s random network.

    Args:
      config: the network and its two inputs (length ``q0``, correlation ``c0``).

    Returns:
      :class:`MeasuredPropagation`: q, q_other and c of shape (depth + 1,) (entry 0 the inputs), chi_1 of shape
      (depth,), the squared growth of an infinitesimal perturbation at each layer.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eqs. 3 and 5 (what is measured is their finite-width counterpart).
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2-3.
    """
    w, b = network_layers(config)
    x1, x2, probe = _inputs(config, w.shape[0])
    q1, q2, c, growth = (
        np.asarray(a, np.float64)[: config.depth]
        for a in _measure_jit(
            w, b, jnp.int32(activations.index(config.activation)), jnp.int32(config.depth), x1, x2, probe
        )
    )
    return MeasuredPropagation(
        q=np.concatenate([[config.q0], q1]),
        q_other=np.concatenate([[config.q0], q2]),
        c=np.concatenate([[config.c0], c]),
        chi_1=growth,
    )


def warm_up(widths: tuple[int, ...], capacities: tuple[int, ...] = mlp.CAPACITY_BUCKETS) -> None:
    """Compile the theory programs and the measurement at each width and capacity bucket.

    Args:
      widths: network widths to compile :func:`measure` for.
      capacities: capacity buckets (depths) to compile for; default every ``vgp_core.mlp.CAPACITY_BUCKETS``.

    Returns:
      None. Clears and refills the :func:`fixed_points` cache as a side effect.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eqs. 3-9 (the quantities compiled).
    """
    fixed_points.cache_clear()
    fp = fixed_points("tanh", 1.5, 0.05)
    length_map("tanh", C_GRID + 1.0, 1.5, 0.05)
    length_iterates("tanh", 1.0, 1.5, 0.05, 2)
    correlation_map("tanh", C_GRID, 1.5, 0.05)
    correlation_iterates("tanh", 0.5, 1.5, 0.05, 2)
    assert math.isfinite(fp.q_star)
    for width in widths:
        for cap in capacities:
            for weights in WEIGHTS:
                measure(PropagationConfig(depth=cap, width=width, weights=weights))
