"""The evolution strategy (vgp_core.evolution): its search gradient estimates the true gradient, it lowers the loss
of a small problem without any back-propagation, validation and compilation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vgp_core import activations, mlp
from vgp_core import evolution as E
from vgp_core.errors import ConfigError

SMALL = mlp.MLPConfig(
    depth=2, width=16, activation="tanh", init="glorot_normal", batch_size=64, input_dim=8, n_classes=3
)
ES = E.ESConfig(generations=200, pairs=16, sigma=0.05, learning_rate=0.03)


def _static(cfg):
    return E._Static(jnp.int32(activations.index(cfg.activation)), jnp.bool_(cfg.residual), jnp.int32(cfg.depth))


def test_noise_is_the_same_in_the_evaluation_and_in_the_update():
    """With raw (unranked) antithetic differences, Σ_p (F(θ+σε_p) - F(θ-σε_p)) / (2Pσ) ε_p is an unbiased estimate
    of ∇F for small σ (Salimans et al. 2017, Eq. 2 with mirrored sampling). If the update read other noise than the
    evaluation (a wrong table offset or tensor number), its correlation with jax.grad would be ~0."""
    cfg = SMALL
    params = mlp.init_params(cfg)
    s = _static(cfg)
    x, y = mlp._probe_batch(cfg.seed, cfg.batch_size, cfg.input_dim, cfg.n_classes)
    table = E._noise_table(0)
    gen_key = jax.random.PRNGKey(5)
    pairs, sigma = 4096, 1e-3

    def member(pair, sign):
        return E._loss(params, s, x, y, lambda j, shape: sign * sigma * E._noise(table, gen_key, pair, j, shape))[0]

    ids = jnp.arange(pairs)
    f_plus = jax.jit(jax.vmap(lambda p: member(p, 1.0)))(ids)
    f_minus = jax.jit(jax.vmap(lambda p: member(p, -1.0)))(ids)
    est = E._search_gradient(params, table, gen_key, (f_plus - f_minus) / (2 * pairs * sigma), s.depth)

    def loss(p):  # the same net unrolled (reverse mode cannot go through _loss's traced-depth while_loop)
        h = jnp.tanh(x @ p.w_in + p.b_in)
        for l in range(1, cfg.depth):
            h = jnp.tanh(h @ p.w[l] + p.b[l])
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(h @ p.w_out + p.b_out, y))

    assert float(loss(params)) == pytest.approx(float(E._loss(params, s, x, y, lambda j, shape: 0.0)[0]), rel=1e-5)

    true = jax.grad(loss)(params)
    fields = ("w_in", "b_in", "w_out", "b_out")
    a = np.concatenate([np.ravel(getattr(est, f)) for f in fields] + [np.ravel(est.w[1]), np.ravel(est.b[1])])
    b = np.concatenate([np.ravel(getattr(true, f)) for f in fields] + [np.ravel(true.w[1]), np.ravel(true.b[1])])
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    # D = 8·16 + 16 + 16·16 + 16 + 16·3 + 3 = 467 parameters, P = 4096 pairs: the estimate's cosine with the true
    # gradient is about sqrt(P / (P + D)) ≈ 0.95 in expectation; noise-free directions would give 1, mismatched
    # noise ≈ 0 ± 0.05
    assert cos > 0.8, cos
    # the idle capacity and the non-weight parameters are never perturbed, so they get no update
    assert np.all(np.asarray(est.w[cfg.depth :]) == 0) and np.all(np.asarray(est.gamma) == 0)


def test_es_lowers_the_loss_of_a_small_problem():
    trace, params = E.evolve(SMALL, ES)
    assert trace.loss.shape == trace.accuracy.shape == trace.population_min_loss.shape == (ES.generations,)
    assert np.all(trace.population_min_loss <= trace.population_mean_loss)
    start, end = trace.loss[:10].mean(), trace.loss[-10:].mean()
    # 3 classes, loss starts near ln 3 = 1.10; plain SGD on the same net and batches reaches 0.55 in 200 steps, the ES
    # 0.6 (measured): demand a drop of at least 0.2 nats, far beyond the ±0.05 batch-to-batch noise
    assert end < start - 0.2, (start, end)
    loss0, acc0 = mlp.probe_accuracy(SMALL, mlp.init_params(SMALL))
    loss1, acc1 = mlp.probe_accuracy(SMALL, params)
    assert loss1 < loss0 - 0.2 and acc1 > acc0 + 0.2  # held-out probe batch (chance accuracy 1/3)


def test_generation_k_uses_training_step_ks_batch():
    """ES generation k and SGD step k see the same minibatch, so the mean's loss at generation 0 is the training
    trace's loss at step 0 (same network, same batch; forward-only vs forward-backward float32 paths)."""
    es_trace, _ = E.evolve(SMALL, E.ESConfig(generations=10, pairs=16, sigma=0.05, learning_rate=0.03))
    sgd_trace, _ = mlp.train_with_params(SMALL, 10, learning_rate=0.1, jacobians=False)
    assert es_trace.loss[0] == pytest.approx(float(sgd_trace.loss[0]), rel=1e-5)


def test_bad_configs_raise():
    for bad in (dict(generations=0), dict(pairs=0), dict(sigma=0.0), dict(learning_rate=-1.0), dict(batch_size=0)):
        with pytest.raises(ConfigError):
            E.ESConfig(**bad)
    with pytest.raises(ConfigError):
        E.evolve(SMALL.replace(batchnorm=True), ES)
    with pytest.raises(ConfigError):
        E.evolve(SMALL, E.ESConfig(generations=15))  # not a multiple of CHUNK
    with pytest.raises(ConfigError):
        E.evolve(SMALL, ES, params=mlp.init_params(SMALL.replace(width=8)))


def test_depth_and_hyperparameters_do_not_compile(compile_counter):
    E.evolve(SMALL, E.ESConfig(generations=10, pairs=16))
    with compile_counter() as compiles:
        E.evolve(
            SMALL.replace(depth=5, activation="sigmoid", residual=True),
            E.ESConfig(generations=20, pairs=16, sigma=0.3, learning_rate=0.1, seed=2),
        )
    assert compiles == []
