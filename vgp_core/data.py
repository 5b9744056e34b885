"""Synthetic, seeded training data (no downloads).

``gaussian_mixture``: the classification task that the deep-network page trains on. Each of ``n_classes``
classes has a random centre mu_c ~ N(0, I) (fixed by ``task_key``); an example of class y is
x = a·mu_y + sqrt(1 - a^2)·eps with eps ~ N(0, I), so every input coordinate has unit variance (the mean-field
input length q^0 = 1) whatever the separation ``a``. Fresh batches are drawn per step from ``batch_key``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

#: weight of the class centre in each example (0: pure noise, 1: no noise).
DEFAULT_SEPARATION = 0.5


def gaussian_mixture(task_key, batch_key, n: int, input_dim: int, n_classes: int, separation=DEFAULT_SEPARATION):
    """(x, y): ``n`` examples, x of shape (n, input_dim) with unit-variance coordinates, integer labels y."""
    centres = jax.random.normal(task_key, (n_classes, input_dim), jnp.float32)
    k_y, k_eps = jax.random.split(batch_key)
    y = jax.random.randint(k_y, (n,), 0, n_classes)
    eps = jax.random.normal(k_eps, (n, input_dim), jnp.float32)
    x = separation * centres[y] + jnp.sqrt(1.0 - separation**2) * eps
    return x, y
