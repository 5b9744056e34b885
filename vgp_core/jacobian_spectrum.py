"""Singular values of the input–output Jacobian of a random network at initialisation, and their prediction by free
probability.

The network is the one of ``vgp_core.signal_propagation.PropagationConfig``: h^l = W^l x^{l-1} + b^l,
x^l = phi(h^l), with Gaussian weights of variance sigma_w^2/N or sigma_w times Haar-orthogonal matrices
(``vgp_core.mlp``'s draws). Its input–output Jacobian (Pennington, Schoenholz & Ganguli 2017, "Resurrecting the
sigmoid in deep learning through dynamical isometry", Eq. 2) is

    J = ∂x^L/∂x^0 = D^L W^L ... D^1 W^1,   D^l = diag(phi'(h^l)),

measured at an input whose pre-activations sit at the length's fixed point q*. Its mean squared singular value is
mean field's chi_1^L (their Eq. 5); dynamical isometry is the whole spectrum of J J^T concentrating near 1.

Measurement: one ``lax.scan`` over the layers multiplies J by D^l W^l (N^3 per layer), renormalising J every layer
(its log scale carried apart, so that chi_1^200 neither overflows nor underflows float32), keeps J at the few
checkpoint depths asked for, and LAPACK takes their SVDs (one at the full depth, a few more for the curves).

Prediction (Pennington et al. 2017, Sec. 3; Pennington, Schoenholz & Ganguli 2018, "The emergence of spectral
universality in deep networks", Sec. 3): with psi_X(z) = sum_k m_k(X) z^k the moment generating function of a
spectrum, chi_X its functional inverse and S_X(psi) = chi_X(psi) (1 + psi)/psi its S-transform, freeness of the
layers gives

    S_{JJ^T} = S_{D^2}^L S_{WW^T}^L,  S_{WW^T} = sigma_w^-2 (orthogonal) or sigma_w^-2/(1 + psi) (Gaussian),

with D^2 distributed as phi'(sqrt(q*) z)^2. Parametrised by the argument y of psi_{D^2} (psi = psi_{D^2}(y) is a
quadrature, so S_{D^2}(psi) = y (1 + psi)/psi is explicit), the equation chi_{JJ^T}(psi) = 1/lambda becomes one
complex equation in y, solved by Newton's method along a decreasing grid of lambda (continuation from outside the
spectrum), slightly off the real axis (lambda (1 + i delta)). The density of the squared singular values is then
rho(lambda) = -Im G(lambda)/pi with G(zeta) = (1 + psi(1/zeta))/zeta. It applies where the theory's assumptions
hold: every D^l drawn from the same law (the input at q*, finite q*) and linear, tanh or ReLU units.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import activations, theory
from .signal_propagation import PropagationConfig, network_layers

#: activations for which the free-probability prediction is drawn (Pennington et al. 2017/2018 treat these)
PREDICTED_ACTIVATIONS = ("linear", "tanh", "relu")
#: activations whose phi' is scale-free (phi'(a x) = phi'(x), a > 0): D^l's law does not depend on the length
SCALE_FREE = ("linear", "relu")
#: relative distance from the real axis at which the Stieltjes transform is evaluated: a 1 % Cauchy smoothing of the
#: density in lambda, 0.2 % in log10 of the singular value, far below a histogram bin
DELTA = 0.01


#: the spectrum is measured at depth / 2^k, k = CHECKPOINTS - 1 .. 0 (an SVD each: they dominate the cost)
CHECKPOINTS = 6


def checkpoint_depths(depth: int) -> np.ndarray:
    """depth/32, depth/16, ..., depth (rounded, distinct, >= 1): where the full spectrum is measured.

    Args:
      depth: the network's depth L.

    Returns:
      int64 array, increasing, of at most ``CHECKPOINTS`` depths: round(depth / 2^k) for k = CHECKPOINTS - 1 .. 0,
      duplicates removed; the last is ``depth``.

    References:
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2018). The emergence of spectral universality in deep
      networks. AISTATS 2018.
        Sec. 3 (how the spectrum spreads with depth).
    """
    return np.unique([max(1, round(depth / 2**k)) for k in range(CHECKPOINTS)]).astype(np.int64)


@jax.jit
def _spectrum_jit(w, b, act_idx, depth, x0, slots):
    """Per layer l = 1..capacity: ln of the mean squared singular value of J_l (from its Frobenius norm); and the
    normalised J_l with its ln scale at the checkpoint layers (``slots[l-1]`` >= 0 names the row of the output
    buffer; -1 elsewhere). Layers beyond ``depth`` are skipped. The SVDs are left to LAPACK outside (NumPy's
    float32 gesdd: measured 8x faster than XLA's CPU SVD at 256 x 256)."""
    n = x0.shape[0]
    n_slots = CHECKPOINTS

    def layer(carry, inputs):
        jac, log_scale, x, l, buf, scales = carry
        wl, bl, slot = inputs
        active = l < depth

        def step(_):
            h = x @ wl + bl
            phi, d = activations.value_and_derivative(act_idx, h)
            j = d[:, None] * (wl.T @ jac)  # D W J in column-vector form; row-vector weights h = x W
            norm = jnp.sqrt(jnp.sum(j * j) / n)
            safe = jnp.where(norm > 0, norm, 1.0)
            return j / safe, log_scale + jnp.log(norm), phi, l + 1

        jac, log_scale, x, l = jax.lax.cond(active, step, lambda _: (jac, log_scale, x, l), None)
        keep = active & (slot >= 0)
        row = jnp.maximum(slot, 0)
        buf = jax.lax.dynamic_update_index_in_dim(buf, jnp.where(keep, jac, buf[row]), row, 0)
        scales = scales.at[row].set(jnp.where(keep, log_scale, scales[row]))
        return (jac, log_scale, x, l, buf, scales), 2.0 * log_scale

    eye = jnp.eye(n, dtype=jnp.float32)
    buf0 = jnp.zeros((n_slots, n, n), jnp.float32)
    init = (eye, jnp.float32(0.0), x0, jnp.int32(0), buf0, jnp.zeros((n_slots,), jnp.float32))
    (_, _, _, _, buf, scales), log_m1 = jax.lax.scan(layer, init, (w, b, slots))
    return log_m1, buf, scales


@dataclasses.dataclass(frozen=True)
class JacobianSpectrum:
    """The Jacobian of one random network at initialisation.

    Attributes:
      log10_sv: (width,) log10 of the singular values of J at the full depth, descending (-inf where exactly 0).
      log10_mean_sq: (depth,) log10 of the mean squared singular value of J_l = ∂x^l/∂x^0, l = 1..depth.
      checkpoint_depths: depths at which the whole spectrum was measured (the last is ``depth``).
      log10_max_sv, log10_condition: largest singular value and condition number (log10) at those depths
        (condition inf where some singular value is below the float32 floor, e.g. 0 for dead ReLU units).
      log10_floor: (checkpoints,) log10 of the float32 resolution floor, sigma_max · N · eps (the rank tolerance of
        ``numpy.linalg.matrix_rank``): smaller singular values are rounding noise of the product, not measured.
      q_in: the input's pre-activation length (mean field's q*, or 1 where q* is infinite).
    """

    log10_sv: np.ndarray
    log10_floor: np.ndarray
    log10_mean_sq: np.ndarray
    checkpoint_depths: np.ndarray
    log10_max_sv: np.ndarray
    log10_condition: np.ndarray
    q_in: float


def input_length(config: PropagationConfig) -> float:
    """q*, the length at which every layer's D^l has the law the prediction assumes (1 where q* is infinite, or
    for linear and ReLU units, whose D^l does not depend on the length).

    Args:
      config: the network (activation, sigma_w^2, sigma_b^2 are used).

    Returns:
      The pre-activation length (mean squared pre-activation per unit) of the input, a float.

    References:
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Sec. 3 (D^l drawn at the fixed point q*).
    """
    q = theory.q_star(config.activation, config.sigma_w2, config.sigma_b2)
    return float(q) if math.isfinite(q) and config.activation not in SCALE_FREE else 1.0


def _input(config: PropagationConfig, q: float) -> jax.Array:
    """x^0 = phi(h^0) with h^0 of length q: then h^1 has length q* (to sampling error) when q = q*."""
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 11)
    z = jax.random.normal(key, (config.width,), jnp.float32)
    h0 = z / jnp.sqrt(jnp.mean(z * z)) * jnp.sqrt(jnp.float32(q))
    return activations.apply(activations.index(config.activation), h0)


def measure(config: PropagationConfig, full: bool = True) -> JacobianSpectrum:
    """The Jacobian's spectrum at ``config.depth`` (and the curves over depth). ``full=False`` skips every SVD:
    only ``log10_mean_sq`` is measured (the cheaper statistic a page shows first); the rest is empty.

    Args:
      config: the network (see ``vgp_core.signal_propagation.PropagationConfig``).
      full: also take the SVDs at :func:`checkpoint_depths`.

    Returns:
      :class:`JacobianSpectrum`: log10 singular values (width,) at the full depth, log10 mean squared singular value
      (depth,) for J_1..J_L, and at the checkpoint depths the largest singular value, condition number and float32
      floor (all log10). With ``full=False`` every field but ``log10_mean_sq`` and ``q_in`` is empty.

    References:
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Eq. 2 (J = D^L W^L ... D^1 W^1) and Eq. 5 (its mean squared singular value is chi_1^L).
    """
    w, b = network_layers(config)
    capacity = w.shape[0]
    slots = np.full(capacity, -1, np.int32)
    depths = checkpoint_depths(config.depth) if full else np.zeros(0, np.int64)
    slots[depths - 1] = np.arange(depths.size)
    q = input_length(config)
    log_m1, buf, scales = _spectrum_jit(
        w,
        b,
        jnp.int32(activations.index(config.activation)),
        jnp.int32(config.depth),
        _input(config, q),
        jnp.asarray(slots),
    )
    to10 = 1.0 / math.log(10.0)
    log10_m1 = np.asarray(log_m1, np.float64)[: config.depth] * to10
    if not full:
        empty = np.zeros(0)
        return JacobianSpectrum(empty, empty, log10_m1, depths, empty, empty, q)
    buf, scales = np.asarray(buf), np.asarray(scales, np.float64)
    with np.errstate(divide="ignore"):
        sv = np.stack(
            [
                np.log10(np.linalg.svd(buf[k], compute_uv=False).astype(np.float64)) + scales[k] * to10
                for k in range(depths.size)
            ]
        )
    floor = sv[:, 0] + math.log10(config.width * float(np.finfo(np.float32).eps))
    with np.errstate(invalid="ignore"):
        cond = np.where(sv[:, -1] >= floor, sv[:, 0] - sv[:, -1], np.inf)
    return JacobianSpectrum(sv[-1], floor, log10_m1, depths, sv[:, 0], cond, q)


# ----------------------------------------------------------------------------------------------------------------
# Free-probability prediction


@dataclasses.dataclass(frozen=True)
class PredictedDensity:
    """Density of log10 of the singular values predicted by free probability, or why there is none.

    Attributes:
      applies: whether the theory describes this setting; ``reason`` says why not (empty when it applies).
      log10_sv: grid of log10 singular values; density: p(log10 s) on it (the continuous part; an atom at s = 0,
        e.g. ReLU's dead units, is ``zero_mass``).
      mean_sq: mean field's chi_1^L, the spectrum's first moment.
    """

    applies: bool
    reason: str
    log10_sv: np.ndarray
    density: np.ndarray
    zero_mass: float
    mean_sq: float


def _d2_law(activation: str, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights of D^2 = phi'(sqrt(q) z)^2, z ~ N(0, 1) (``vgp_core.theory``'s grid)."""
    idx = activations.index(activation)
    x = jnp.sqrt(jnp.float32(max(q, 1e-30))) * theory._NODES
    d = np.asarray(activations.value_and_derivative(idx, x)[1], np.float64) ** 2
    return d, np.asarray(theory._WEIGHTS, np.float64) / float(np.sum(np.asarray(theory._WEIGHTS, np.float64)))


def _not_applicable(reason: str, mean_sq: float) -> PredictedDensity:
    return PredictedDensity(False, reason, np.zeros(0), np.zeros(0), 0.0, mean_sq)


def predicted_density(
    config: PropagationConfig, log10_sv: np.ndarray | None = None, points: int = 200
) -> PredictedDensity:
    """The free-probability density of log10 of J's singular values for ``config`` (see the module docstring).

    Args:
      config: the network (activation, weights, sigma_w^2, sigma_b^2, depth; width and seed are not used).
      log10_sv: the grid to evaluate on (default: ``points`` values around the predicted support).
      points: number of grid points when ``log10_sv`` is None.

    Returns:
      A ``PredictedDensity``; ``applies`` False with a plain reason where the theory does not apply (an activation
      other than linear, tanh and ReLU, or an infinite q*). ``density`` is p(log10 s) on ``log10_sv`` (the continuous
      part; an atom at s = 0 is ``zero_mass``), ``mean_sq`` is chi_1^L.

    References:
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Sec. 3 (S-transforms, S_{JJ^T} = S_{D^2}^L S_{WW^T}^L).
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2018). The emergence of spectral universality in deep
      networks. AISTATS 2018.
        Sec. 3.
    """
    chi1 = theory.chi_1(config.activation, config.sigma_w2, config.sigma_b2)
    depth = config.depth
    with np.errstate(over="ignore", under="ignore"):
        mean_sq = float(np.float64(chi1) ** depth)
    if config.activation not in PREDICTED_ACTIVATIONS:
        return _not_applicable(
            f"the free-probability prediction is drawn for linear, tanh and ReLU networks "
            f"(Pennington et al. 2017/2018); {config.activation} is not among them",
            mean_sq,
        )
    q = theory.q_star(config.activation, config.sigma_w2, config.sigma_b2)
    if config.activation in SCALE_FREE:
        q = 1.0  # phi'(sqrt(q) z)^2 has the same law at every q > 0
    elif not math.isfinite(q):
        return _not_applicable(
            "the length grows without bound (no finite q*), so the layers' D^l do not share one law", mean_sq
        )
    d, wts = _d2_law(config.activation, q)
    zero_mass = float(np.sum(wts[d == 0.0]))
    log_s_w = math.log(config.sigma_w2)
    gaussian = config.weights == "gaussian"
    # ln of the spectrum's scale: the grid runs from far above the support (where psi is small and real) down
    log_scale = depth * math.log(max(chi1, 1e-300))
    if log10_sv is None:
        spread = 0.5 * math.log10(math.e * (depth + 1)) if gaussian else 0.5
        centre = 0.5 * log_scale / math.log(10.0)
        log10_sv = np.linspace(centre - 4.0 - 2.0 * spread * (1 + depth / 50), centre + 1.0 + spread, points)
    log10_sv = np.asarray(log10_sv, np.float64)
    lam = 10.0 ** (2.0 * log10_sv)
    order = np.argsort(-lam)

    def log_chi_j(y):
        """ln chi_{JJ^T}(psi(y)) (= ln(1/lambda) at a solution) and psi(y)."""
        psi = np.sum(wts * y * d / (1.0 - y * d))
        log_s_d = np.log(y) + np.log1p(psi) - np.log(psi)
        log_s_w_psi = -log_s_w - (np.log1p(psi) if gaussian else 0.0)
        return np.log(psi) - np.log1p(psi) + depth * (log_s_d + log_s_w_psi), psi

    # Start far above the support: psi ≈ m1 z small and real, y ≈ psi / E[D^2].
    mean_d2 = float(np.sum(wts * d))
    lam0 = math.exp(log_scale) * 1e4 * (depth + 2)
    y = complex(1e-4 / (depth + 2) / mean_d2 / 1.0, 0.0)
    path = np.concatenate([np.geomspace(lam0, lam[order[0]] * 1.01, 60), lam[order]])
    psi_out = np.full(lam.shape, np.nan + 0j)
    for k, lv in enumerate(path):
        target = -np.log(lv * (1.0 + 1j * DELTA))
        for _ in range(50):
            f, _psi = log_chi_j(y)
            h = 1e-7 * abs(y)
            fp = (log_chi_j(y + h)[0] - f) / h
            step = (f - target) / fp
            y_new = y - step
            if not np.isfinite(y_new) or abs(y_new) > 1e300:
                break
            y = y_new
            if abs(step) < 1e-12 * abs(y):
                break
        if k >= 60:
            psi_out[order[k - 60]] = log_chi_j(y)[1]
    zeta = lam * (1.0 + 1j * DELTA)
    g = (1.0 + psi_out) / zeta
    rho = np.clip(-g.imag / np.pi, 0.0, None)  # density of lambda = s^2
    density = rho * lam * 2.0 * math.log(10.0)  # p(log10 s) = rho(lambda) dlambda/dlog10 s
    density = np.where(np.isfinite(density), density, 0.0)
    return PredictedDensity(True, "", log10_sv, density, zero_mass, mean_sq)


def warm_up(widths: tuple[int, ...], capacities: tuple[int, ...]) -> None:
    """Compile the spectrum program at each width and capacity bucket (one program serves both weight laws).

    Args:
      widths: network widths to compile for.
      capacities: capacity buckets (depths) to compile for.

    Returns:
      None.

    References:
      Pennington, J., Schoenholz, S. S., & Ganguli, S. (2017). Resurrecting the sigmoid in deep learning through
      dynamical isometry: theory and practice. NeurIPS 2017.
        Eq. 2 (the Jacobian compiled).
    """
    for width in widths:
        for cap in capacities:
            measure(PropagationConfig(depth=cap, width=width), full=True)
