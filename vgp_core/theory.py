"""Mean-field signal propagation in wide random networks.

Poole et al. 2016, Schoenholz et al. 2017 ("Deep information propagation", Eqs. 3 and 5), Pennington et al. 2017.
Weights W_ij ~ N(0, sigma_w^2/N), biases ~ N(0, sigma_b^2), z ~ N(0, 1):

* length map     q^l = sigma_w^2 E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2, with fixed point q*;
* slope          chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]: the back-propagated gradient *variance* is multiplied
                 by chi_1 per layer (norm by sqrt(chi_1)); < 1 vanishing (ordered), > 1 exploding (chaotic);
* depth scale    xi = 1/|ln chi_1| layers (Schoenholz et al.: trainable to depth of about 6 xi).

Gaussian expectations use the midpoint rule on 2048 nodes over z in [-8, 8] (Gaussian mass outside: 1e-15).
Gauss–Hermite nodes are too sparse near 0 once q* is large (tanh' is then a spike of width 1/sqrt(q*) in z);
the fine uniform grid resolves it up to q* of a few hundred. The grid is symmetric with no node on the kink at 0
and the weights are normalised, so E[1{z>0}] = 1/2 exactly (ReLU's chi_1 = sigma_w^2/2).
q* is found by iterating the length map from q^0 = 1 (the input length of vgp_core.data), then polished by
Newton steps on q = L(q): near the edge of chaos the iteration alone approaches q* = 0 only like 1/l.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import activations, initializers
from .errors import check_float

_N_NODES, _Z_MAX = 2048, 8.0
_NODES_NP = -_Z_MAX + (np.arange(_N_NODES) + 0.5) * (2 * _Z_MAX / _N_NODES)
_WEIGHTS_NP = np.exp(-0.5 * _NODES_NP**2)
_NODES = jnp.asarray(_NODES_NP, jnp.float32)
_WEIGHTS = jnp.asarray(_WEIGHTS_NP / _WEIGHTS_NP.sum(), jnp.float32)
Q_ITERATIONS = 200
NEWTON_ITERATIONS = 60  # a double root at q* = 0 (sigma_w^2 = 1 for tanh) halves the error per step
Q_MAX = 1e12  # beyond this the length map has no finite fixed point (e.g. ReLU with sigma_w^2 > 2)


def _gauss_mean(f):
    return jnp.sum(_WEIGHTS * f(_NODES))


@jax.jit
def _fixed_point_and_chi(act_idx, sw2, sb2):
    """(q*, chi_1) for arrays of sigma_w^2 (vectorised) and scalar sigma_b^2."""

    def length_map(q, w2):
        return w2 * _gauss_mean(lambda z: activations.apply(act_idx, jnp.sqrt(q) * z) ** 2) + sb2

    length_map = jnp.vectorize(length_map)

    def body(_, q):
        return jnp.minimum(length_map(q, sw2), Q_MAX)

    q = jax.lax.fori_loop(0, Q_ITERATIONS, body, jnp.ones_like(sw2))

    def newton(_, q):
        f, df = jax.jvp(lambda v: length_map(v, sw2) - v, (q,), (jnp.ones_like(q),))
        step = jnp.where(jnp.abs(df) > 1e-12, f / jnp.where(df == 0, 1.0, df), 0.0)
        q_new = jnp.maximum(q - step, 0.0)
        return jnp.where(jnp.isfinite(q_new) & (q < Q_MAX), q_new, q)

    q = jax.lax.fori_loop(0, NEWTON_ITERATIONS, newton, q)

    def slope(q, w2):
        # q* = 0 (ordered phase of odd activations): take the limit q -> 0+, where ReLU's phi' is still 1{z > 0}.
        x = jnp.sqrt(jnp.maximum(q, 1e-30)) * _NODES
        return w2 * jnp.sum(_WEIGHTS * activations.value_and_derivative(act_idx, x)[1] ** 2)

    chi = jnp.vectorize(slope)(q, sw2)
    q = jnp.where(q >= Q_MAX, jnp.inf, q)
    return q, chi


def _evaluate(activation, sigma_w2, sigma_b2):
    activations.index(activation)  # an unknown name raises here, before the cache sees it
    sw2 = np.asarray(sigma_w2, np.float32)
    if not np.all(np.isfinite(sw2)) or np.any(sw2 < 0):
        raise ValueError(f"sigma_w2 must be finite and >= 0, got {sigma_w2!r}")
    sb2 = check_float("sigma_b2", sigma_b2, 0.0, 1e6)
    if sw2.ndim == 0:  # one setting (an app's move): cached, the same float32 inputs give the same result
        q, chi = _evaluate_one(activation, float(sw2), float(np.float32(sb2)))
        return np.asarray(q), np.asarray(chi)
    return _evaluate_many(activation, sw2, sb2)


def _evaluate_many(activation: str, sw2: np.ndarray, sb2: float) -> tuple[np.ndarray, np.ndarray]:
    q, chi = _fixed_point_and_chi(
        jnp.int32(activations.index(activation)), jnp.asarray(sw2.reshape(-1)), jnp.float32(sb2)
    )
    return np.asarray(q, np.float64).reshape(sw2.shape), np.asarray(chi, np.float64).reshape(sw2.shape)


@functools.lru_cache(maxsize=4096)
def _evaluate_one(activation: str, sw2: float, sb2: float) -> tuple[float, float]:
    """``_evaluate_many`` of one (float32) setting, remembered: a page asks for the same few settings on every move
    (the depth slider does not change them), and each evaluation is a device round trip (~5-20 ms on a busy CPU)."""
    q, chi = _evaluate_many(activation, np.asarray(sw2, np.float32), sb2)
    return float(q), float(chi)


def q_star(activation: str, sigma_w2, sigma_b2: float = 0.0):
    """Fixed point q* of the length map (inf where none is finite); scalar or array like ``sigma_w2``.

    q* solves q = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2, found by iterating the map from q^0 = 1 and polishing
    with Newton steps (see the module docstring).

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2 (W_ij ~ N(0, sigma_w^2/N)): a scalar or an array, finite and >= 0.
      sigma_b2: bias variance sigma_b^2 in [0, 1e6].

    Returns:
      q*, the mean squared pre-activation per unit: a float for a scalar ``sigma_w2``, else a float64 array of its
      shape; inf where the length grows without bound (e.g. ReLU with sigma_w^2 > 2). Raises ``ValueError`` for a
      negative or non-finite ``sigma_w2``.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Eq. 3 (the length map).
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 2, Eq. 3.
    """
    q, _ = _evaluate(activation, sigma_w2, sigma_b2)
    return q if q.ndim else float(q)


def chi_1(activation: str, sigma_w2, sigma_b2: float = 0.0):
    """chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]: per-layer factor of the back-propagated gradient variance.

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2 (W_ij ~ N(0, sigma_w^2/N)): a scalar or an array, finite and >= 0.
      sigma_b2: bias variance sigma_b^2 in [0, 1e6].

    Returns:
      chi_1 (dimensionless): a float for a scalar ``sigma_w2``, else a float64 array of its shape. < 1 is the ordered
      phase (vanishing gradients), > 1 the chaotic phase (exploding), 1 the edge of chaos. At q* = 0 the limit q -> 0+
      is taken (ReLU: sigma_w^2/2).

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        Chi_1, the slope of the correlation map at c = 1.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Eq. 5, and the section on gradient back-propagation.
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Eq. 5: the mean squared singular value of the input-output Jacobian is chi_1^L.
    """
    _, chi = _evaluate(activation, sigma_w2, sigma_b2)
    return chi if chi.ndim else float(chi)


def depth_scale(activation: str, sigma_w2, sigma_b2: float = 0.0):
    """xi = 1/|ln chi_1|: layers over which the gradient variance changes by a factor e (inf at criticality).

    Args:
      activation: a registered activation name (``vgp_core.activations``).
      sigma_w2: weight variance sigma_w^2 (W_ij ~ N(0, sigma_w^2/N)): a scalar or an array, finite and >= 0.
      sigma_b2: bias variance sigma_b^2 in [0, 1e6].

    Returns:
      xi in layers: a float for a scalar ``sigma_w2``, else a float64 array of its shape; inf where chi_1 = 1.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Gradient back-propagation (depth scale 1/|ln chi_1|); the correlation depth scale xi_c of Eq. 9
        is ``vgp_core.signal_propagation.correlation_depth_scale``.
    """
    chi = np.asarray(chi_1(activation, sigma_w2, sigma_b2))
    with np.errstate(divide="ignore"):
        xi = 1.0 / np.abs(np.log(chi))
    return xi if xi.ndim else float(xi)


@functools.lru_cache(maxsize=1024)
def critical_sigma_w2(activation: str, sigma_b2: float = 0.0, lo: float = 1e-3, hi: float = 100.0) -> float:
    """sigma_w^2 at which chi_1 = 1 (edge of chaos), by bisection on log sigma_w^2; NaN if none in [lo, hi].
    Cached: ~40 evaluations of chi_1, once per (activation, sigma_b^2).

    Args:
      activation: a registered activation name.
      sigma_b2: bias variance sigma_b^2.
      lo, hi: the sigma_w^2 bracket searched (chi_1 - 1 must change sign between them).

    Returns:
      The critical sigma_w^2 (a float; 2 for ReLU at sigma_b^2 = 0, 1 for tanh at sigma_b^2 = 0), or NaN.

    References:
      Poole, B., Lahiri, S., Raghu, M., Sohl-Dickstein, J., & Ganguli, S. (2016). Exponential expressivity in deep
      neural networks through transient chaos. NeurIPS 2016.
        The order-to-chaos transition at chi_1 = 1.
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Sec. 3 (the critical line chi_1 = 1 over (sigma_w^2, sigma_b^2)).
    """
    a, b = math.log(lo), math.log(hi)
    fa = chi_1(activation, lo, sigma_b2) - 1.0
    fb = chi_1(activation, hi, sigma_b2) - 1.0
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        return float("nan")
    for _ in range(40):  # 40 halvings of an interval of width 11.5 in log space: 1e-11, below float32 resolution
        m = 0.5 * (a + b)
        fm = chi_1(activation, math.exp(m), sigma_b2) - 1.0
        if fa * fm <= 0:
            b = m
        else:
            a, fa = m, fm
    return math.exp(0.5 * (a + b))


def critical_gain(activation: str, init: str, fan_in: int, fan_out: int, sigma_b2: float = 0.0) -> float:
    """The gain at which an ``init``-initialised layer of an ``activation`` net sits at chi_1 = 1 (NaN if none,
    or if the initializer has non-zero-mean weights where mean-field theory does not apply).

    Args:
      activation: a registered activation name.
      init: a registered initializer name (``vgp_core.initializers``).
      fan_in, fan_out: the layer's inputs and outputs (some initializers scale by both).
      sigma_b2: bias variance sigma_b^2.

    Returns:
      The gain g (a float) with sigma_w^2(init, fan_in, fan_out, g) = :func:`critical_sigma_w2`, i.e.
      sqrt(critical sigma_w^2 / sigma_w^2 at gain 1); NaN where there is none or the initializer is not mean-field.

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Initialise at the edge of chaos, chi_1 = 1.
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Criticality chi_1 = 1, Eq. 5.
    """
    if not initializers.get(init).mean_field:
        return float("nan")
    sw2_crit = critical_sigma_w2(activation, sigma_b2)
    per_unit_gain = initializers.sigma_w2(init, fan_in, fan_out, 1.0)
    return math.sqrt(sw2_crit / per_unit_gain) if np.isfinite(sw2_crit) else float("nan")


def predicted_backprop_norms(top_norm: float, chi: float, depth: int) -> np.ndarray:
    """Mean-field prediction of ||∂L/∂h_l|| for l = 1..depth anchored at the last layer:
    ||δ_l|| = ||δ_L|| · chi_1^((L-l)/2) (the variance, not the norm, is multiplied by chi_1 per layer).

    Args:
      top_norm: the measured gradient norm ||δ_L|| at the last layer L.
      chi: chi_1 of the network (e.g. :func:`chi_1`).
      depth: the number of layers L.

    Returns:
      (depth,) float64, in the units of ``top_norm``: entry l - 1 is the predicted ||δ_l||, the last equals
      ``top_norm`` (over- and underflow give inf and 0, not warnings).

    References:
      Schoenholz, S. S., Gilmer, J., Ganguli, S., & Sohl-Dickstein, J. (2017). Deep information propagation.
      ICLR 2017.
        Gradient back-propagation: the gradient variance grows or shrinks by chi_1 per layer.
    """
    layers = np.arange(1, depth + 1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return top_norm * np.power(float(chi), (depth - layers) / 2.0)
