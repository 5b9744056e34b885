"""The mean-field length map q^l = σ_w² ∫Dz φ(√q^(l-1) z)² + σ_b² and correlation map c^l of two inputs at the
fixed length q*, and their iterates over depth (one compiled program each, ``MAX_ITERATES`` steps).

References:
  Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS, Eqs. 3
  and 5; Schoenholz et al. (2017), "Deep information propagation", ICLR, Sec. 2, Eqs. 2-5.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, mlp, theory
from ..errors import ConfigError, check_choice, check_float, check_int

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
