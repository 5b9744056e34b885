"""Tests of vgp_core.diagnostics and the per-layer diagnostics of mlp's profile and training, against NumPy
forward passes, jax.grad of an unrolled network and the gradient-norm profile."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vgp_core import activations, data, diagnostics, mlp

SMALL = dict(width=16, input_dim=8, n_classes=4, batch_size=32)


def numpy_forward(params, config, x):
    """Hidden outputs (h_l) and activation outputs (phi(s_l)) of a plain net (no residual, no batch norm), in
    float64 NumPy, from the equations of mlp's docstring (gain already folded into ``params``)."""
    phi = {"tanh": np.tanh, "relu": lambda s: np.maximum(s, 0.0), "sigmoid": lambda s: 1 / (1 + np.exp(-s))}
    phi = phi[config.activation]
    p = [np.asarray(a, np.float64) for a in params]
    w_in, b_in, w, b = p[0], p[1], p[2], p[3]
    h = phi(np.asarray(x, np.float64) @ w_in + b_in)
    hs = [h]
    for l in range(1, config.depth):
        h = phi(h @ w[l] + b[l])
        hs.append(h)
    return hs


def step0_batch(config):
    """The batch that training step 0 draws (mlp._train_states: stream key fold_in(PRNGKey(seed), 3), step 0)."""
    task_key, _ = mlp._data_keys(config.seed)
    stream_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3)
    return data.gaussian_mixture(
        task_key, jax.random.fold_in(stream_key, 0), config.batch_size, config.input_dim, config.n_classes
    )


def test_histogram_matches_numpy_and_counts_every_entry():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(40, 30)).astype(np.float32)
    v[0, :3] = [np.inf, -np.inf, np.nan]
    v[1, :4] = [-5.0, 7.0, -3.0, 3.0]  # below and above the range, and both ends (inside: the last bin is closed)
    counts = np.asarray(diagnostics.histogram(jnp.asarray(v), -3.0, 3.0, 12))
    finite = v[np.isfinite(v)]
    inner, _ = np.histogram(finite, bins=np.linspace(-3, 3, 13))
    assert counts.sum() == v.size
    np.testing.assert_array_equal(counts[1:-2], inner)
    assert counts[0] == np.sum(finite < -3) and counts[-2] == np.sum(finite > 3)
    assert counts[-1] == 3  # inf, -inf, NaN: overflowed, drawn apart from the range


def test_log_magnitude_histogram_keeps_zeros_tiny_and_huge_values():
    v = jnp.asarray([0.0, 0.0, 1e-40, 1e-17, 1.0, 3e38, np.inf, np.nan], jnp.float32)
    bins = diagnostics.GRAD_LOG10_BINS
    counts = np.asarray(diagnostics.log_magnitude_histogram(v))
    # 1e-40 is subnormal: XLA on CPU flushes it to 0 (then it is counted with the zeros)
    flushed = counts[0] == 3
    assert counts.sum() == v.size and counts[0] in (2, 3) and counts[-1] == 2 and counts[-2] == 0
    centers = (bins.edges[:-1] + bins.edges[1:]) / 2
    filled = centers[counts[1:-2] > 0]
    expected = [-17, 0, 38.5] if flushed else [-40, -17, 0, 38.5]
    np.testing.assert_allclose(filled, expected, atol=bins_width(bins) / 2 + 1e-9)


def bins_width(bins):
    return (bins.hi - bins.lo) / bins.n_bins


def test_std_of_tiny_values_does_not_underflow():
    x = jnp.asarray(np.random.default_rng(1).normal(size=1000) * 1e-25, jnp.float32)
    # relative error of a float32 std over 1000 entries: a few ulps, 1e-5 leaves room
    np.testing.assert_allclose(float(diagnostics.std(x)), np.std(np.asarray(x, np.float64)), rtol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_profile_histograms_match_a_numpy_forward_pass(activation):
    init = "he_normal" if activation == "relu" else "glorot_normal"
    config = mlp.MLPConfig(depth=6, activation=activation, init=init, **SMALL)
    profile = mlp.gradient_profile(config, with_jacobian=False, with_diagnostics=True)
    d = profile.layer_diagnostics
    entries = config.batch_size * config.width
    np.testing.assert_array_equal(d.act_hist.sum(axis=1), entries)
    np.testing.assert_array_equal(d.grad_hist.sum(axis=1), entries)
    x, _ = mlp._probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    hs = numpy_forward(mlp.init_params(config), config, x)
    bins = diagnostics.value_bins(activation)
    for l, h in enumerate(hs):
        inner, _ = np.histogram(h, bins=bins.edges)
        # float32 vs float64 forward passes: a value within ~1e-6 of an edge may change bins (none did in these
        # seeded nets; a count of 2 moved entries per layer would still be correct binning of float32 values)
        assert np.abs(d.act_hist[l, 1:-2] - inner).sum() <= 2, l
    if activation == "tanh":
        np.testing.assert_array_equal(d.dead_share, 0.0)  # tanh is 0 only at s = 0 exactly


def test_dead_units_of_relu_with_negative_bias_match_a_direct_count():
    config = mlp.MLPConfig(depth=5, activation="relu", init="he_normal", **SMALL)
    params = mlp.init_params(config)
    params = params._replace(b_in=params.b_in - 1.0, b=params.b - 1.0)  # bias -1: many units never fire
    trace, _ = mlp.train_with_params(config, 10, learning_rate=0.0, chunk=10, params=params)
    x, _ = step0_batch(config)
    direct = [np.mean(np.all(h == 0, axis=0)) for h in numpy_forward(params, config, x)]
    assert max(direct) > 0.2  # the configuration does kill units
    np.testing.assert_array_equal(trace.layer_diagnostics.dead_share[0], direct)
    assert trace.layer_diagnostics.dead_share.shape == (1, config.depth)  # measured every JACOBIAN_EVERY steps


def unrolled_grads(params, config, x, y):
    """jax.grad of a plain unrolled network (no loops, no manual VJPs): the weight gradients of every layer."""
    act = activations.get(config.activation)

    def loss(w_in, w):
        h = act.fn(x @ w_in + params.b_in, params.slope[0])
        for l in range(1, config.depth):
            h = act.fn(h @ w[l] + params.b[l], params.slope[l])
        logits = h @ params.w_out + params.b_out
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    return jax.grad(loss, argnums=(0, 1))(params.w_in, params.w)


@pytest.mark.parametrize("activation,init", [("tanh", "glorot_normal"), ("sigmoid", "standard")])
def test_sgd_update_data_ratio_is_lr_times_grad_over_data(activation, init):
    config = mlp.MLPConfig(depth=6, activation=activation, init=init, **SMALL)
    lr = 0.03
    params = mlp.init_params(config)
    trace, _ = mlp.train_with_params(config, 1, optimizer="sgd", learning_rate=lr, chunk=1)
    g_in, g = unrolled_grads(params, config, *step0_batch(config))
    grads = [g_in] + [g[l] for l in range(1, config.depth)]
    weights = [params.w_in] + [params.w[l] for l in range(1, config.depth)]
    expected = [np.log10(lr * np.std(np.float64(gl)) / np.std(np.float64(wl))) for gl, wl in zip(grads, weights)]
    # float32 gradients from two different programs agree to ~1e-5 relative: 1e-4 in log10 is 2e-4 relative
    np.testing.assert_allclose(trace.update_data_log10[0], expected, atol=1e-4)


def test_grad_data_ratio_at_init_matches_weight_gradients():
    config = mlp.MLPConfig(depth=5, activation="tanh", gain=1.3, **SMALL)
    d = mlp.gradient_profile(config, with_jacobian=False, with_diagnostics=True).layer_diagnostics
    params = mlp.init_params(config)  # gain folded in: the effective weights gain·W_l
    x, y = mlp._probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    g_in, g = unrolled_grads(params, config, x, y)
    grads = [g_in] + [g[l] for l in range(1, config.depth)]
    weights = [params.w_in] + [params.w[l] for l in range(1, config.depth)]
    # float32 std of a few hundred entries: ~1e-6 relative; 1e-4 covers the two programs' rounding
    np.testing.assert_allclose(d.weight_grad_std, [np.std(np.float64(a)) for a in grads], rtol=1e-4)
    np.testing.assert_allclose(d.weight_std, [np.std(np.float64(a)) for a in weights], rtol=1e-4)


def test_sigmoid_standard_gradient_histogram_sits_16_decades_lower_at_layer_1():
    config = mlp.MLPConfig(activation="sigmoid", depth=20, init="standard")
    profile = mlp.gradient_profile(config, with_jacobian=False, with_diagnostics=True)
    bins = diagnostics.GRAD_LOG10_BINS
    centers = (bins.edges[:-1] + bins.edges[1:]) / 2

    def mean_log10(layer):
        counts = profile.layer_diagnostics.grad_hist[layer, 1:-2]
        return float((counts * centers).sum() / counts.sum())

    shift = mean_log10(19) - mean_log10(0)
    profile_shift = float(np.log10(profile.backprop_norm[19] / profile.backprop_norm[0]))
    assert profile.layer_diagnostics.grad_hist[:, 0].sum() == 0  # small, not zero: nothing underflowed
    assert 15 < shift < 18
    # the norm follows the largest entries, the histogram's mean the typical one: the two shifts differ by the
    # change in the distribution's shape across layers (0.7 decades in this net), far below the 16-decade drop
    assert abs(shift - profile_shift) < 1.0


def test_training_keeps_the_diagnostics_of_every_tenth_step():
    config = mlp.MLPConfig(depth=4, activation="tanh", **SMALL)
    trace = mlp.train(config, 25, chunk=10)  # the last chunk runs 30 steps and is trimmed to 25
    d = trace.layer_diagnostics
    assert d.act_hist.shape[:2] == (3, config.depth) == d.grad_hist.shape[:2]  # steps 0, 10, 20
    entries = config.batch_size * config.width
    np.testing.assert_array_equal(d.act_hist.sum(axis=2), entries)
    np.testing.assert_array_equal(d.grad_hist.sum(axis=2), entries)
    assert trace.update_data_log10.shape == (25, config.depth) and np.isfinite(trace.update_data_log10).all()


def test_deep_page_draws_the_diagnostics_and_names_the_backend():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    model = DeepNetworkModel(auto_train=False, depth=5, width=16, activation="relu", init="he_normal")
    page = DeepNetworkPage(model, query={})
    page.panel()
    page.settle()
    assert jax.default_backend() in page.device_line.object and "ms of server time" in page.device_line.object
    assert page.act_hist.source.data["image"][0].shape == (5, diagnostics.VALUE_BINS)
    assert page.grad_hist.source.data["image"][0].shape == (5, diagnostics.GRAD_LOG10_BINS.n_bins)
    profile = mlp.gradient_profile(model.config(), with_jacobian=False, with_diagnostics=True)
    np.testing.assert_array_equal(page.stats.source.data["dead"], profile.layer_diagnostics.dead_share)
    figures = page.figures()
    for name in ("activation-histograms", "gradient-histograms", "grad-data", "update-data"):
        assert name in figures
    before = np.asarray(page.grad_hist.source.data["image"][0]).copy()
    model.gain = 0.5  # vanishing: the gradient histograms move
    assert not np.array_equal(np.asarray(page.grad_hist.source.data["image"][0]), before, equal_nan=True)
