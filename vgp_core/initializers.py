"""Registry of weight initializations (sources in the table below), each multiplied by a ``gain``.

Every initializer is an elementwise transform of one standard-normal draw ``z`` (and, for ``orthogonal``, of the
orthogonal matrix ``q`` obtained from it by QR), so that

* ``lax.switch`` on a traced index picks the initializer without recompiling, and
* the network's random draws do not change when the user switches initializer or gain: the app compares
  initializations on the *same* random network.

Uniform draws come from the normal ones through the probability integral transform, u = erf(z/√2) ~ U[-1, 1].

| name | W | n_in·Var(W) / gain² | source |
|---|---|---|---|
| standard | U[-1/√n_in, 1/√n_in] | 1/3 | Glorot & Bengio 2010, Eq. 1 |
| glorot_uniform | U[±√(6/(n_in+n_out))] | 2 n_in/(n_in+n_out) | Glorot & Bengio 2010, Eq. 16 |
| glorot_normal | N(0, 2/(n_in+n_out)) | 2 n_in/(n_in+n_out) | Glorot & Bengio 2010 |
| he_normal | N(0, 2/n_in) | 2 | He et al. 2015 |
| lecun_normal | N(0, 1/n_in) | 1 | LeCun et al. 1998 |
| orthogonal | Q from QR of a Gaussian matrix | n_in/max(n_in, n_out) | Saxe et al. 2014 |
| kumar | N(0, (3.6/√n_in)²) | 12.96 | Kumar 2017 (for the logistic sigmoid) |
| yilmaz_poli | N(max(-1, -8/n_in), 0.1²) | n_in(0.01 + mean²) | Yilmaz & Poli 2022 |
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from .errors import check_choice, check_float, check_int

#: Kumar (2017): sigma = 3.6/sqrt(N) for the logistic sigmoid. The author's own code is reported to pass 3.6 as a
#: variance; we follow the paper's formula, and mean-field theory (:func:`vgp_core.theory.chi_1`: chi_1 ≈ 0.36)
#: shows it still leaves the sigmoid net vanishing.
KUMAR_SCALE = 3.6
#: Yilmaz & Poli (2022): weights N(max(-1, -8/N), 0.1^2); the std 0.1 follows public implementations.
YILMAZ_POLI_STD = 0.1


@dataclasses.dataclass(frozen=True)
class Initializer:
    name: str
    label: str
    source: str
    mean_field: bool  # zero-mean i.i.d. weights, so that the mean-field theory of theory.py applies


def _standard(z, q, n_in, n_out):
    return jax.scipy.special.erf(z / math.sqrt(2.0)) / jnp.sqrt(n_in)


def _glorot_uniform(z, q, n_in, n_out):
    return jax.scipy.special.erf(z / math.sqrt(2.0)) * jnp.sqrt(6.0 / (n_in + n_out))


def _glorot_normal(z, q, n_in, n_out):
    return z * jnp.sqrt(2.0 / (n_in + n_out))


def _he_normal(z, q, n_in, n_out):
    return z * jnp.sqrt(2.0 / n_in)


def _lecun_normal(z, q, n_in, n_out):
    return z / jnp.sqrt(n_in)


def _orthogonal(z, q, n_in, n_out):
    return q


def _kumar(z, q, n_in, n_out):
    return z * (KUMAR_SCALE / jnp.sqrt(n_in))


def _yilmaz_poli(z, q, n_in, n_out):
    return jnp.maximum(-1.0, -8.0 / n_in) + YILMAZ_POLI_STD * z


_REGISTRY = (
    (Initializer("standard", "standard U[±1/√n]", "Glorot & Bengio 2010, Eq. 1", True), _standard),
    (Initializer("glorot_uniform", "Glorot/Xavier uniform", "Glorot & Bengio 2010, Eq. 16", True), _glorot_uniform),
    (Initializer("glorot_normal", "Glorot/Xavier normal", "Glorot & Bengio 2010", True), _glorot_normal),
    (Initializer("he_normal", "He/Kaiming normal", "He et al. 2015", True), _he_normal),
    (Initializer("lecun_normal", "LeCun normal", "LeCun et al. 1998", True), _lecun_normal),
    (Initializer("orthogonal", "orthogonal", "Saxe et al. 2014", True), _orthogonal),
    (Initializer("kumar", "Kumar (sigmoid)", "Kumar 2017", True), _kumar),
    (Initializer("yilmaz_poli", "Yilmaz & Poli (negative mean)", "Yilmaz & Poli 2022", False), _yilmaz_poli),
)
_BY_NAME = {init.name: init for init, _ in _REGISTRY}
_BRANCHES = tuple(fn for _, fn in _REGISTRY)


def names() -> tuple[str, ...]:
    """The names of all registered initializers, in registry order.

    Args:
      None.

    Returns:
      A tuple of names; position i is the traced index :func:`apply` switches on.

    References:
      The table of this module's docstring (one source per initializer).
    """
    return tuple(init.name for init, _ in _REGISTRY)


def get(name: str) -> Initializer:
    """The initializer called ``name``.

    Args:
      name: a registered name (see :func:`names`).

    Returns:
      Its :class:`Initializer`. Raises ``ConfigError`` listing the known names otherwise.

    References:
      The table of this module's docstring.
    """
    return _BY_NAME[check_choice("initializer", name, _BY_NAME)]


def index(name: str) -> int:
    """The position of ``name`` in the registry: the traced index that :func:`apply` switches on.

    Args:
      name: a registered name.

    Returns:
      Its index, an int.

    References:
      JAX documentation, ``jax.lax.switch``.
    """
    return names().index(get(name).name)


def orthogonal_from_normal(z: jax.Array) -> jax.Array:
    """The (semi-)orthogonal factor of a Gaussian matrix, sign-corrected so it is Haar-distributed.

    Works on a trailing (n_in, n_out) matrix, batched over leading axes; the result has orthonormal columns when
    n_in >= n_out and orthonormal rows otherwise.

    Args:
      z: standard-normal draws of shape (..., n_in, n_out).

    Returns:
      Q of z's shape: Q diag(sign(diag R)) from the QR factorisation z = QR.

    References:
      Mezzadri (2007), "How to generate random matrices from the classical compact groups", Notices of the AMS 54(5),
      Sec. 5; Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning in deep linear
      neural networks", ICLR (orthogonal initialization).
    """
    n_in, n_out = z.shape[-2:]
    flip = n_in < n_out
    a = jnp.swapaxes(z, -1, -2) if flip else z
    qm, r = jnp.linalg.qr(a)
    qm = qm * jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    return jnp.swapaxes(qm, -1, -2) if flip else qm


def apply(idx, z, q, gain):
    """gain × initializer_idx(z, q): a (possibly traced) registry index selected with ``lax.switch``.

    Args:
      idx: the initializer's registry index (an int or a traced int32).
      z: standard-normal draws of the weight matrix's shape (fan_in, fan_out).
      q: the orthogonal factor of z (:func:`orthogonal_from_normal`), used by ``orthogonal``.
      gain: the factor every weight is multiplied by.

    Returns:
      The weight matrix, of z's shape.

    References:
      The table of this module's docstring; uniform draws by the probability integral transform u = erf(z/√2)
      (Casella & Berger 2002, "Statistical Inference", 2nd ed., Theorem 2.1.10).
    """
    n_in, n_out = z.shape[-2:]
    return gain * jax.lax.switch(idx, _BRANCHES, z, q, jnp.float32(n_in), jnp.float32(n_out))


def sample(name: str, key: jax.Array, fan_in: int, fan_out: int, gain: float = 1.0) -> jax.Array:
    """A (fan_in, fan_out) weight matrix drawn from initializer ``name``, times ``gain``.

    Args:
      name: a registered initializer.
      key: a JAX PRNG key.
      fan_in: rows (inputs of the layer).
      fan_out: columns (outputs of the layer).
      gain: the factor every weight is multiplied by.

    Returns:
      A float32 array of shape (fan_in, fan_out).

    References:
      The table of this module's docstring.
    """
    idx = index(name)
    fan_in = check_int("fan_in", fan_in, 1, 1 << 16)
    fan_out = check_int("fan_out", fan_out, 1, 1 << 16)
    gain = check_float("gain", gain, 0.0, 100.0)
    z = jax.random.normal(key, (fan_in, fan_out), jnp.float32)
    q = orthogonal_from_normal(z) if name == "orthogonal" else z
    return apply(idx, z, q, jnp.float32(gain))


def sigma_w2(name: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Mean-field weight variance sigma_w^2 = n_in · E[W_ij^2] of initializer ``name`` (the table above).

    For ``yilmaz_poli`` this is the second moment including the mean, but mean-field theory (zero-mean weights)
    does not apply to it; check ``get(name).mean_field``.

    Args:
      name: a registered initializer.
      fan_in: the layer's inputs n_in.
      fan_out: the layer's outputs n_out.
      gain: the factor every weight is multiplied by.

    Returns:
      sigma_w^2 as a float.

    References:
      Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS, Eq. 3
      (sigma_w^2 / N is the weights' variance); the table of this module's docstring.
    """
    n_in, n_out, g2 = float(fan_in), float(fan_out), float(gain) ** 2
    per_init = {
        "standard": 1.0 / 3.0,
        "glorot_uniform": 2.0 * n_in / (n_in + n_out),
        "glorot_normal": 2.0 * n_in / (n_in + n_out),
        "he_normal": 2.0,
        "lecun_normal": 1.0,
        "orthogonal": n_in / max(n_in, n_out),
        "kumar": KUMAR_SCALE**2,
        "yilmaz_poli": n_in * (YILMAZ_POLI_STD**2 + max(-1.0, -8.0 / n_in) ** 2),
    }
    return g2 * per_init[get(name).name]
