"""Registry of activation functions.

Each activation is an elementwise function ``fn(x, slope)``; ``slope`` is only used by PReLU (He et al. 2015,
learnable negative slope, 0.25 at initialization) and ignored by the others, so that every branch of
:func:`apply` has the same signature and a traced activation index can select the branch with ``lax.switch``
(changing the activation in the app then costs no XLA compilation).

``max_derivative`` is sup |phi'|: Pascanu et al. (2013) call it ``g`` (1 for tanh, 1/4 for sigmoid); a chain of
L layers is bounded by (||W|| g)^L. It also defines saturation: a unit counts as saturated when
|phi'(s)| < ``SATURATION_LEVEL`` * g (for ReLU that is a dead unit, for sigmoid an output near 0 or 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .errors import check_choice

#: a unit is saturated when |phi'(s)| is below this fraction of sup |phi'|.
SATURATION_LEVEL = 0.1
#: PReLU's negative slope at initialization (He et al. 2015).
PRELU_INIT_SLOPE = 0.25
LEAKY_RELU_SLOPE = 0.01
# SELU constants (Klambauer et al. 2017).
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


@dataclasses.dataclass(frozen=True)
class Activation:
    """One registered activation: ``fn(x, slope)`` and its properties."""

    name: str
    fn: Callable[[jax.Array, jax.Array], jax.Array]
    max_derivative: float
    formula: str  # LaTeX, shown in the app
    saturates: str  # "both", "negative", "none": which side(s) have vanishing derivative


def _sigmoid(x, a):
    return jax.nn.sigmoid(x)


def _tanh(x, a):
    return jnp.tanh(x)


def _relu(x, a):
    return jnp.maximum(x, 0.0)


def _leaky_relu(x, a):
    return jnp.where(x >= 0, x, LEAKY_RELU_SLOPE * x)


def _prelu(x, a):
    return jnp.where(x >= 0, x, a * x)


def _softsign(x, a):
    return x / (1.0 + jnp.abs(x))


def _elu(x, a):
    return jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0.0)))


def _selu(x, a):
    return _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0.0)))


def _gelu(x, a):
    return jax.nn.gelu(x, approximate=False)


def _swish(x, a):
    return x * jax.nn.sigmoid(x)


def _linear(x, a):
    return x


_REGISTRY: tuple[Activation, ...] = (
    Activation("sigmoid", _sigmoid, 0.25, r"\sigma(x) = 1/(1+e^{-x})", "both"),
    Activation("tanh", _tanh, 1.0, r"\tanh(x)", "both"),
    Activation("relu", _relu, 1.0, r"\max(0, x)", "negative"),
    Activation("leaky_relu", _leaky_relu, 1.0, r"\max(0.01x, x)", "none"),
    Activation("prelu", _prelu, 1.0, r"\max(ax, x),\ a_0 = 0.25", "none"),
    Activation("softsign", _softsign, 1.0, r"x/(1+|x|)", "both"),
    Activation("elu", _elu, 1.0, r"x \text{ if } x>0 \text{ else } e^x - 1", "negative"),
    Activation("selu", _selu, _SELU_SCALE * _SELU_ALPHA, r"\lambda\,\mathrm{elu}_\alpha(x)", "negative"),
    # sup phi' of GELU is 1.1289 (at x = 1.4142...), of swish 1.0998 (at x = 2.3994...).
    Activation("gelu", _gelu, 1.1289, r"x\,\Phi(x)", "negative"),
    Activation("swish", _swish, 1.0998, r"x\,\sigma(x)", "negative"),
    Activation("linear", _linear, 1.0, r"x", "none"),
)
_BY_NAME = {a.name: a for a in _REGISTRY}
_BRANCHES = tuple(a.fn for a in _REGISTRY)


def names() -> tuple[str, ...]:
    """The names of all registered activations, in registry order.

    Args:
      None.

    Returns:
      A tuple of names; position i is the traced index :func:`apply` switches on.

    References:
      JAX documentation, ``jax.lax.switch`` (branch i of a traced index).
    """
    return tuple(a.name for a in _REGISTRY)


def get(name: str) -> Activation:
    """The activation called ``name``.

    Args:
      name: a registered name (see :func:`names`).

    Returns:
      Its :class:`Activation` (function, sup |phi'| and description). Raises ``ConfigError`` listing the known names
      otherwise.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 2.1 (``max_derivative`` is their g).
    """
    return _BY_NAME[check_choice("activation", name, _BY_NAME)]


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


def apply(idx, x, slope=PRELU_INIT_SLOPE):
    """phi_idx(x) for a (possibly traced) registry index, via ``lax.switch`` (no recompilation per activation).

    Args:
      idx: the activation's registry index (an int or a traced int32).
      x: the pre-activations (any shape).
      slope: PReLU's negative slope (ignored by the other activations).

    Returns:
      phi(x), elementwise, of x's shape.

    References:
      JAX documentation, ``jax.lax.switch``; He et al. (2015), "Delving deep into rectifiers", arXiv:1502.01852,
      Eq. 1 (PReLU).
    """
    slope = jnp.asarray(slope, x.dtype)
    return jax.lax.switch(idx, _BRANCHES, x, slope)


def value_and_derivative(idx, x, slope=PRELU_INIT_SLOPE):
    """(phi(x), phi'(x)) elementwise, by forward-mode autodiff of the selected branch.

    Args:
      idx: the activation's registry index (an int or a traced int32).
      x: the pre-activations (any shape).
      slope: PReLU's negative slope (ignored by the other activations).

    Returns:
      The pair (phi(x), phi'(x)), each of x's shape.

    References:
      JAX documentation, ``jax.jvp`` (a Jacobian-vector product with a vector of ones gives an elementwise function's
      derivative).
    """
    return jax.jvp(lambda v: apply(idx, v, slope), (x,), (jnp.ones_like(x),))


def max_derivatives() -> jax.Array:
    """sup |phi'| of every activation, indexable by a traced registry index.

    Args:
      None.

    Returns:
      A float32 array of one value per registered activation.

    References:
      Pascanu, Mikolov & Bengio (2013), arXiv:1211.5063, Sec. 2.1 (g = sup |phi'|: 1 for tanh, 1/4 for sigmoid).
    """
    return jnp.asarray([a.max_derivative for a in _REGISTRY], jnp.float32)
