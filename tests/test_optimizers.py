"""vgp_core.optimizers: each update rule against its equation, clipping against Pascanu et al. (2013), Algorithm 1."""

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vgp_core import optimizers
from vgp_core.errors import ConfigError


def _updates(tx, grads, params):
    """The updates of successive steps for a fixed parameter vector and a list of gradients."""
    state = tx.init(params)
    out = []
    for g in grads:
        u, state = tx.update(g, state, params)
        out.append(np.asarray(u, np.float64))
    return out


G = [jnp.array([3.0, -4.0]), jnp.array([1.0, 2.0])]  # ||G[0]|| = 5
P = jnp.zeros(2)


def test_sgd_and_momentum_follow_their_recursions():
    lr = 0.1
    (u0, u1) = _updates(optimizers.clipped("sgd", lr), G, P)
    np.testing.assert_allclose(u0, -lr * np.asarray(G[0]), rtol=1e-6)  # float32 arithmetic
    np.testing.assert_allclose(u1, -lr * np.asarray(G[1]), rtol=1e-6)
    # heavy ball (Polyak 1964): v_t = μ v_{t-1} + g_t, Δθ = -lr v_t
    (m0, m1) = _updates(optimizers.clipped("momentum", lr), G, P)
    v1 = optimizers.MOMENTUM * np.asarray(G[0]) + np.asarray(G[1])
    np.testing.assert_allclose(m0, -lr * np.asarray(G[0]), rtol=1e-6)
    np.testing.assert_allclose(m1, -lr * v1, rtol=1e-6)


def test_adam_first_step_is_the_learning_rate_times_the_sign():
    # Kingma & Ba (2015), Algorithm 1: after one step m̂ = g, v̂ = g², so Δθ = -lr·g/(|g| + ε) ≈ -lr·sign(g).
    (u0,) = _updates(optimizers.clipped("adam", 0.01), G[:1], P)
    # rtol: optax's bias correction divides by 1 - β2^t in float32, where 0.999 is not representable
    # (1 - fl32(0.999) = 9.99987e-4, 1.3e-5 relative off 1e-3); the square root halves it to 6.4e-6.
    np.testing.assert_allclose(u0, -0.01 * np.sign(np.asarray(G[0])), rtol=1e-5)


def test_clipping_rescales_to_the_threshold_and_inf_leaves_the_gradient():
    # Pascanu et al. (2013), Algorithm 1: ĝ ← threshold/||ĝ|| · ĝ when ||ĝ|| ≥ threshold.
    (u0,) = _updates(optimizers.clipped("sgd", 1.0, 2.5), G[:1], P)
    np.testing.assert_allclose(u0, -np.asarray(G[0]) * 2.5 / 5.0, rtol=1e-6)
    (u0,) = _updates(optimizers.clipped("sgd", 1.0, 10.0), G[:1], P)
    np.testing.assert_allclose(u0, -np.asarray(G[0]), rtol=1e-6)
    (u0,) = _updates(optimizers.clipped("sgd", 1.0, math.inf), G[:1], P)
    np.testing.assert_allclose(u0, -np.asarray(G[0]), rtol=1e-6)


def test_every_rule_is_the_optax_transformation_it_names():
    references = {
        "sgd": optax.sgd(0.05),
        "momentum": optax.sgd(0.05, momentum=optimizers.MOMENTUM),
        "adam": optax.adam(0.05),
        "rmsprop": optax.rmsprop(0.05),
        "rprop": optax.rprop(0.05),
    }
    assert set(references) == set(optimizers.OPTIMIZERS)
    for name, ref in references.items():
        got = _updates(optimizers.update_rule(name, 0.05), G, P)
        want = _updates(ref, G, P)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)  # the same transformation: bit for bit


def test_an_unknown_rule_is_refused():
    with pytest.raises(ConfigError):
        optimizers.clipped("lbfgs", 0.1)
