"""The mean-field quantities measured on a random network of finite width and depth (Gaussian or
orthogonal weights, ``vgp_core.mlp``'s draws): q^l, c^l of two inputs and the growth of a small perturbation per layer,
and ``warm_up``.

References:
  Poole et al. (2016), "Exponential expressivity in deep neural networks through transient chaos", NeurIPS, Eqs. 3
  and 5; Schoenholz et al. (2017), "Deep information propagation", ICLR, Secs. 2-3.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, bounds, mlp
from .maps import C_GRID, correlation_iterates, correlation_map, length_iterates, length_map
from .scales import fixed_points

#: weight distributions and the ``vgp_core.initializers`` name that draws them (gain sigma_w).
WEIGHTS = {"gaussian": "lecun_normal", "orthogonal": "orthogonal"}


@dataclasses.dataclass(frozen=True)
class PropagationConfig:
    """A random network h^l = W^l phi(h^{l-1}) + b^l (``depth`` layers of ``width`` units) probed with two inputs
    h^0 of length ``q0`` and correlation ``c0``. Gaussian weights of variance sigma_w^2/N (``vgp_core.mlp``'s
    lecun_normal init with gain sigma_w) or sigma_w times a Haar-orthogonal matrix; biases N(0, sigma_b^2)."""

    # Bounds declared once (vgp_core.bounds): ``soft`` is the range the Edge-of-chaos page's controls offer.
    activation: str = bounds.choice("tanh", activations.names())
    sigma_w2: float = bounds.real(1.5, 1e-6, 100.0, soft=(0.1, 4.0))
    sigma_b2: float = bounds.real(0.05, 0.0, 100.0, soft=(0.0, 0.5))
    depth: int = bounds.integer(50, 1, mlp.MAX_DEPTH)
    width: int = bounds.integer(256, 2, mlp.MAX_WIDTH)
    weights: str = bounds.choice("gaussian", tuple(WEIGHTS))
    q0: float = bounds.real(1.0, 1e-6, 1e4)
    c0: float = bounds.real(0.5, -1.0, 1.0)
    seed: int = bounds.integer(0, 0, 2**31 - 1)

    def __post_init__(self):
        bounds.validate(self)

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
