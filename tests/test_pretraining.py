"""Greedy layer-wise pre-training (vgp_core.pretraining): CD-1 against a NumPy transcription, reconstruction error
going down, fine-tuning from the pre-trained weights, validation and compilation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vgp_core import mlp
from vgp_core import pretraining as P
from vgp_core.errors import ConfigError

CFG = mlp.MLPConfig(depth=4, width=32, activation="sigmoid", init="standard", batch_size=32, input_dim=16, n_classes=4)
PC = P.PretrainConfig(updates=200, learning_rate=0.05, n_examples=512, batch_size=32)


@pytest.fixture(scope="module")
def rbm():
    return P.pretrain(CFG, PC)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("gaussian", [True, False])
def test_one_cd1_step_matches_the_textbook_rule(gaussian):
    """Hinton 2002 / Hinton 2010 guide, CD-1 with probabilities for the reconstruction, written out in NumPy."""
    rng = np.random.default_rng(0)
    n_vis, n_hid, batch = 6, 5, 8
    w = rng.normal(0, 0.3, (n_vis, n_hid)).astype(np.float32)
    b = rng.normal(0, 0.1, n_hid).astype(np.float32)
    a = rng.normal(0, 0.1, n_vis).astype(np.float32)
    v0 = (rng.normal(size=(batch, n_vis)) if gaussian else rng.uniform(size=(batch, n_vis))).astype(np.float32)
    key = jax.random.PRNGKey(3)
    (w1, b1, a1), err = P._rbm_step(
        jnp.asarray(w), jnp.asarray(b), jnp.asarray(a), jnp.asarray(v0), key, jnp.float32(0.1), jnp.bool_(gaussian)
    )
    p0 = _sigmoid(v0 @ w + b)
    h0 = np.asarray(jax.random.bernoulli(key, jnp.asarray(p0)), np.float32)  # the same Bernoulli draw
    v1_lin = h0 @ w.T + a
    v1 = v1_lin if gaussian else _sigmoid(v1_lin)
    p1 = _sigmoid(v1 @ w + b)
    # float32 arithmetic in a different order: agreement to ~1e-6 relative, allow 1e-5
    np.testing.assert_allclose(w1, w + 0.1 * (v0.T @ p0 - v1.T @ p1) / batch, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b + 0.1 * (p0 - p1).mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a1, a + 0.1 * (v0 - v1).mean(0), rtol=1e-5, atol=1e-6)
    assert float(err) == pytest.approx(float(np.mean((v0 - v1) ** 2)), rel=1e-5)


def test_cd1_lowers_every_layers_reconstruction_error(rbm):
    params, trace = rbm
    assert trace.error_before.shape == trace.error_after.shape == (CFG.depth,)
    assert trace.curve.shape == (CFG.depth, P.CURVE_POINTS)
    # each layer's error over its whole training set, measured with one fresh Gibbs sample before and after its 200
    # updates: at least 10 % lower (the measured drops are 25-95 %; one sample's noise is a few %)
    assert np.all(trace.error_after < 0.9 * trace.error_before), (trace.error_before, trace.error_after)
    # and the minibatch errors fall over the updates (first bin vs last bin)
    assert np.all(trace.curve[:, -1] < trace.curve[:, 0])


def test_autoencoder_lowers_every_layers_reconstruction_error():
    _, trace = P.pretrain(
        CFG, P.PretrainConfig(method="autoencoder", updates=200, learning_rate=0.5, n_examples=512, batch_size=32)
    )
    # deterministic error (no sampling): any decrease is real; require 5 % (measured 10-60 %)
    assert np.all(trace.error_after < 0.95 * trace.error_before), (trace.error_before, trace.error_after)


def test_pretraining_changes_only_the_hidden_layers(rbm):
    params, _ = rbm
    init = mlp.init_params(CFG)
    np.testing.assert_array_equal(params.w_out, init.w_out)  # the supervised layer is left for fine-tuning
    np.testing.assert_array_equal(params.b_out, init.b_out)
    np.testing.assert_array_equal(params.w[CFG.depth :], init.w[CFG.depth :])  # idle capacity untouched
    assert not np.allclose(params.w_in, init.w_in)
    for l in range(1, CFG.depth):
        assert not np.allclose(params.w[l], init.w[l]), l


def test_the_pretrained_layers_are_the_rbms_hidden_units(rbm):
    """h_l = σ(h_(l-1) W_l + b_l) of the MLP is the RBM's p(h = 1 | v): fine-tuning starts from exactly what was
    pre-trained, so the MLP's activations at the probe batch are those mean-field representations."""
    params, _ = rbm
    x, y = mlp._probe_batch(CFG.seed, CFG.batch_size, CFG.input_dim, CFG.n_classes)
    h = _sigmoid(np.asarray(x) @ np.asarray(params.w_in) + np.asarray(params.b_in))
    for l in range(1, CFG.depth):
        h = _sigmoid(h @ np.asarray(params.w[l]) + np.asarray(params.b[l]))
    prof = mlp.params_profile(CFG, params)
    assert prof.act_mean[-1] == pytest.approx(h.mean(), rel=1e-4)  # float32 vs float64 forward


def test_fine_tuning_from_pretrained_weights_runs_and_learns(rbm):
    params, _ = rbm
    trace, tuned = mlp.train_with_params(CFG, 300, learning_rate=2.0, params=params, jacobians=False)
    assert trace.loss.shape == (300,) and np.all(np.isfinite(trace.loss))
    # 4 classes (chance loss ln 4 = 1.39). Measured: the training loss falls from 1.47 (first 20 steps) to 1.09 (last
    # 20); the same 300 steps from the random initialization end at 1.34. Demand a 0.1-nat drop (batch noise of a
    # 20-step mean is ~0.02) and a better end than the randomly initialized net (Hinton et al. 2006's claim).
    assert trace.loss[-20:].mean() < trace.loss[:20].mean() - 0.1
    from_init, _ = mlp.train_with_params(CFG, 300, learning_rate=2.0, jacobians=False)
    assert trace.loss[-20:].mean() < from_init.loss[-20:].mean()
    assert mlp.probe_accuracy(CFG, tuned)[0] < mlp.probe_accuracy(CFG, params)[0]  # held-out loss lower too


def test_bad_configs_raise():
    for bad in (
        dict(method="dbn"),
        dict(updates=0),
        dict(learning_rate=0.0),
        dict(batch_size=600, n_examples=512),
        dict(seed=-1),
    ):
        with pytest.raises(ConfigError):
            P.PretrainConfig(**bad)
    for cfg in (
        CFG.replace(activation="tanh"),
        CFG.replace(batchnorm=True),
        CFG.replace(residual=True),
        CFG.replace(gain=2.0),
    ):
        with pytest.raises(ConfigError):
            P.pretrain(cfg, PC)
    with pytest.raises(ConfigError):
        P.pretrain(CFG, PC, params=mlp.init_params(CFG.replace(width=16)))


def test_depth_updates_and_method_do_not_compile(rbm, compile_counter):
    with compile_counter() as compiles:
        P.pretrain(CFG.replace(depth=7), PC)
        P.pretrain(
            CFG.replace(depth=2),
            P.PretrainConfig(
                updates=13, learning_rate=0.01, n_examples=512, batch_size=32, method="autoencoder", seed=4
            ),
        )
    assert compiles == []
