"""Tests of vgp_core.mlp against an independent unrolled reference, finite differences and published results."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vgp_core import ConfigError, activations, initializers, mlp, theory


def reference_loss(params, config, x, y, probes):
    """Plain unrolled network (no while loops, no manual VJPs) written from the module docstring's equations.
    ``probes`` (depth, batch, width) are added to each h_l so that ∂L/∂probe_l = ∂L/∂h_l."""
    act = activations.get(config.activation)

    def layer(h, w, b, gamma, beta, slope, residual):
        s = h @ w + b
        if config.batchnorm:
            s = (s - s.mean(0)) / jnp.sqrt(s.var(0) + mlp.BN_EPS) * gamma + beta
        a = act.fn(s, slope)
        return h + a if residual else a

    h = layer(x, params.w_in, params.b_in, params.gamma[0], params.beta[0], params.slope[0], False) + probes[0]
    for l in range(1, config.depth):
        h = (
            layer(h, params.w[l], params.b[l], params.gamma[l], params.beta[l], params.slope[l], config.residual)
            + probes[l]
        )
    logits = h @ params.w_out + params.b_out
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def engine_params(config):
    return mlp._init_params(
        mlp._config_draws(config),
        jnp.int32(initializers.index(config.init)),
        jnp.float32(config.gain),
        jnp.float32(config.bias_std),
    )


SMALL = [
    mlp.MLPConfig(depth=4, width=6, input_dim=5, n_classes=3, batch_size=8, activation="tanh", bias_std=0.3),
    mlp.MLPConfig(
        depth=5,
        width=6,
        input_dim=5,
        n_classes=3,
        batch_size=8,
        activation="prelu",
        init="he_normal",
        residual=True,
        gain=0.8,
    ),
    mlp.MLPConfig(
        depth=3,
        width=6,
        input_dim=5,
        n_classes=3,
        batch_size=8,
        activation="sigmoid",
        batchnorm=True,
        init="orthogonal",
        bias_std=0.1,
    ),
]


@pytest.mark.parametrize("config", SMALL, ids=["tanh", "prelu-residual", "sigmoid-bn-orthogonal"])
def test_gradients_match_unrolled_reference_and_finite_differences(config):
    params = engine_params(config)
    x, y = mlp._probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    grads, stats = jax.jit(mlp._forward_backward)(
        params, jnp.float32(1.0), mlp._settings(config), x, y, jnp.bool_(True)
    )
    probes = jnp.zeros((config.depth, config.batch_size, config.width))
    ref_loss, (ref_grads, ref_probe) = jax.value_and_grad(reference_loss, argnums=(0, 4))(params, config, x, y, probes)
    # Same float32 arithmetic in a different order: agreement to a few ulps of the largest entry.
    assert float(stats.loss) == pytest.approx(float(ref_loss), rel=1e-5)
    d = config.depth
    np.testing.assert_allclose(stats.backprop_norm[:d], jnp.linalg.norm(ref_probe.reshape(d, -1), axis=1), rtol=1e-4)
    ref_wg = [jnp.linalg.norm(ref_grads.w_in)] + [jnp.linalg.norm(ref_grads.w[l]) for l in range(1, d)]
    np.testing.assert_allclose(stats.weight_grad_norm[:d], ref_wg, rtol=1e-4)
    for field in mlp.Params._fields:
        np.testing.assert_allclose(
            getattr(grads, field), getattr(ref_grads, field), rtol=1e-4, atol=1e-7, err_msg=field
        )

    # Central finite differences of the engine's own loss along a random direction of all parameters.
    # float32 loss ~2, eps = 1e-2: truncation O(eps^2 |L'''|) ~ 1e-5, rounding 1e-7·2/eps ~ 2e-5,
    # against a directional derivative of order 0.1-1: 2 % relative is a safe bound, still far below a wrong sign
    # or a missing term.
    keys = jax.random.split(jax.random.PRNGKey(1), len(mlp.Params._fields))
    direction = mlp.Params(*[jax.random.normal(k, p.shape) for k, p in zip(keys, params)])
    # idle capacity beyond the depth does not affect the loss; restrict to used entries for a meaningful test
    fb = jax.jit(mlp._forward_backward)

    def loss_at(t):
        p = jax.tree.map(lambda a, v: a + t * v, params, direction)
        return float(fb(p, jnp.float32(1.0), mlp._settings(config), x, y, jnp.bool_(False))[1].loss)

    eps = 1e-2
    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    analytic = sum(float(jnp.vdot(g, v)) for g, v in zip(grads, direction))
    assert fd == pytest.approx(analytic, rel=0.02)


def test_linear_orthogonal_keeps_every_layer_equal():
    # Saxe et al. 2014: orthogonal weights on a linear net are an isometry, ∂L/∂h_l has equal norm
    # in every layer. float32 over 50 orthogonal products: ~50 · 1e-7 · sqrt(width) relative drift, 1e-4 is ample.
    cfg = mlp.MLPConfig(depth=50, width=64, input_dim=64, activation="linear", init="orthogonal", gain=1.0)
    p = mlp.gradient_profile(cfg)
    np.testing.assert_allclose(p.backprop_norm, p.backprop_norm[-1], rtol=1e-4)
    np.testing.assert_allclose(p.jacobian_sv_mean[1:], 1.0, rtol=1e-4)


def per_layer_ratio(bp, skip=5):
    """Geometric mean of ||δ_l|| / ||δ_{l+1}|| (going down one layer) over the layers after ``skip``."""
    logs = np.log(bp[skip:])
    return float(np.exp(-(logs[-1] - logs[0]) / (len(logs) - 1)))


def test_tanh_standard_init_shrinks_by_sqrt3_glorot_keeps_level():
    # Glorot & Bengio 2010: in the linear regime the back-propagated gradient variance is
    # multiplied by n·Var(W) per layer: 1/3 for the standard init (std by 1/sqrt(3)), 1 for the normalised one.
    # Width 512 x batch 256: each norm averages 131k entries; the ratio over 24 layers is good to ~1 %.
    base = mlp.MLPConfig(depth=30, width=512, input_dim=512, batch_size=256, activation="tanh")
    std = per_layer_ratio(mlp.gradient_profile(base.replace(init="standard"), with_jacobian=False).backprop_norm)
    assert std == pytest.approx(1 / np.sqrt(3), rel=0.03)
    glorot = per_layer_ratio(
        mlp.gradient_profile(base.replace(init="glorot_uniform"), with_jacobian=False).backprop_norm
    )
    # At sigma_w^2 = 1 q^l -> 0 only like 1/l, so tanh' < 1 slightly: the std loses at most a few % per layer.
    assert 0.95 < glorot <= 1.01


@pytest.mark.parametrize(
    "activation,init,gain",
    [
        ("tanh", "lecun_normal", np.sqrt(1.5)),
        ("tanh", "lecun_normal", np.sqrt(3.0)),
        ("relu", "he_normal", 1.0),
        ("relu", "he_normal", 0.9),
    ],
)
def test_chi1_matches_measured_ratio(activation, init, gain):
    # Mean field (Schoenholz et al. 2017): the back-propagated variance is multiplied by chi_1 per layer once q^l
    # has reached q* (a few layers). The measured squared-norm ratio over 20 layers of a 512-wide net, batch 256,
    # deviates from the infinite-width value by O(1/width) per layer: 3 % covers it.
    cfg = mlp.MLPConfig(
        depth=30, width=512, input_dim=512, batch_size=256, activation=activation, init=init, gain=float(gain)
    )
    bp = mlp.gradient_profile(cfg, with_jacobian=False).backprop_norm
    measured = per_layer_ratio(bp, skip=8) ** 2
    predicted = theory.chi_1(activation, initializers.sigma_w2(init, 512, 512, gain))
    assert measured == pytest.approx(predicted, rel=0.03)


def test_glorot_jacobian_singular_values():
    # Glorot & Bengio 2010: average singular value of the layer Jacobian ≈ 0.8 (normalised) vs ≈ 0.5 (standard)
    # for tanh nets of 1000-unit layers. Our 512-wide tanh net (after the first layers) lands in the same places;
    # 0.1 absolute is the precision of the paper's reported values (one decimal).
    base = mlp.MLPConfig(depth=5, width=512, input_dim=512, batch_size=64, activation="tanh")
    normed = mlp.gradient_profile(base.replace(init="glorot_uniform")).jacobian_sv_mean
    standard = mlp.gradient_profile(base.replace(init="standard")).jacobian_sv_mean
    assert normed[1:].mean() == pytest.approx(0.8, abs=0.1)
    assert standard[1:].mean() == pytest.approx(0.5, abs=0.1)


JACOBIAN_CONFIGS = [
    mlp.MLPConfig(depth=20, width=16, input_dim=12, batch_size=8, activation="tanh", bias_std=0.3, gain=1.2),
    # capacity 256: five blocks of batched SVDs, the last one partly past the depth
    mlp.MLPConfig(depth=70, width=8, input_dim=8, batch_size=8, activation="prelu", init="he_normal", residual=True),
]


@pytest.mark.parametrize("config", JACOBIAN_CONFIGS, ids=["tanh-20", "prelu-residual-70"])
def test_jacobian_singular_values_match_numpy_svd_of_autodiff_jacobians(config):
    # Independent reference: the Jacobian ∂h_l/∂h_{l-1} of the unrolled network's layer l for the first example,
    # by forward-mode autodiff, and NumPy's SVD (float64) of it.
    prof = mlp.gradient_profile(config)
    params = engine_params(config)
    x, _ = mlp._probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    act = activations.get(config.activation)

    def layer(l):
        w, b = (params.w_in, params.b_in) if l == 0 else (params.w[l], params.b[l])
        residual = config.residual and l > 0
        return lambda h: act.fn(h @ w + b, params.slope[l]) + (h if residual else 0.0)

    h = x[0]
    expected = []
    for l in range(config.depth):
        jac = np.asarray(jax.jacfwd(layer(l))(h), np.float64)
        expected.append(np.linalg.svd(jac, compute_uv=False).mean())
        h = layer(l)(h)
    # float32 products of at most 70 layers (the Jacobian's own entries are exact up to a few ulps) against a
    # float64 SVD: 1e-4 relative is well above float32's SVD error (~width · 1e-7) and far below any real change.
    np.testing.assert_allclose(prof.jacobian_sv_mean, expected, rtol=1e-4)


def test_profile_shapes_and_statistics():
    cfg = mlp.MLPConfig(depth=20, width=64, activation="sigmoid", init="standard")
    p = mlp.gradient_profile(cfg)
    for f in ("backprop_norm", "weight_grad_norm", "act_mean", "act_std", "saturation", "jacobian_sv_mean"):
        assert getattr(p, f).shape == (20,), f
    assert np.all((p.saturation >= 0) & (p.saturation <= 1))
    assert np.all(p.act_mean > 0)  # sigmoid outputs are positive
    # vanishing: the input-side layer gets a much smaller gradient than the output side
    assert p.backprop_norm[0] < 1e-3 * p.backprop_norm[-1]
    assert np.isnan(mlp.gradient_profile(cfg, with_jacobian=False).jacobian_sv_mean).all()


def test_overflow_is_reported_not_raised():
    cfg = mlp.MLPConfig(depth=256, width=64, activation="relu", init="he_normal", gain=4.0)
    p = mlp.gradient_profile(cfg, with_jacobian=False)
    assert not np.all(np.isfinite(p.backprop_norm))  # (2·16/2)^128 overflows float32
    sweep = mlp.gain_sweep(cfg, [0.5, 4.0])
    assert np.isneginf(sweep.log10_backprop_norm[0, 0]) or sweep.log10_backprop_norm[0, 0] < -30
    assert not np.isfinite(sweep.log10_backprop_norm[1]).all()


def test_gain_sweep_matches_profiles():
    cfg = mlp.MLPConfig(depth=12, width=32, activation="tanh", init="standard", batch_size=mlp.SWEEP_BATCH)
    gains = [0.5, 1.0, 1.7, 3.0]
    sweep = mlp.gain_sweep(cfg, gains)
    assert sweep.log10_backprop_norm.shape == (4, 12)
    for i, g in enumerate(gains):
        bp = mlp.gradient_profile(cfg.replace(gain=g), with_jacobian=False).backprop_norm
        np.testing.assert_allclose(sweep.log10_backprop_norm[i], np.log10(bp), atol=1e-4)  # same float32 program


def test_depth_change_keeps_the_first_layers():
    # Layer l's weights depend on l only: a deeper net starts with the same layers (also across capacity buckets).
    a = mlp.gradient_profile(mlp.MLPConfig(depth=10), with_jacobian=False)
    b = mlp.gradient_profile(mlp.MLPConfig(depth=100), with_jacobian=False)
    np.testing.assert_allclose(a.act_std, b.act_std[:10], rtol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [
        dict(depth=0),
        dict(depth=10**6),
        dict(width=-1),
        dict(activation="nope"),
        dict(gain=float("nan")),
        dict(init="?"),
        dict(depth="ten"),
        dict(gain="1e400"),
        dict(residual="yes"),
        dict(batch_size=1),
    ],
)
def test_bad_values_raise_clear_errors(bad):
    with pytest.raises(ConfigError) as e:
        mlp.MLPConfig(**bad)
    field = next(iter(bad))
    assert field.split("_")[0] in str(e.value) or "initializer" in str(e.value)


def test_bad_training_arguments():
    cfg = mlp.MLPConfig(depth=3, width=8)
    with pytest.raises(ConfigError, match="optimizer"):
        mlp.train(cfg, 5, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="learning_rate"):
        mlp.train(cfg, 5, learning_rate=float("nan"))
    with pytest.raises(ConfigError, match="steps"):
        mlp.train(cfg, 0)
    with pytest.raises(ConfigError, match="gains"):
        mlp.gain_sweep(cfg, [])


# ---------------------------------------------------------------------------------------------------------------
# Training (mlp.train, mlp.train_iter)
# ---------------------------------------------------------------------------------------------------------------
def test_trace_shapes_and_streaming():
    cfg = mlp.MLPConfig(depth=6, width=32, batch_size=32)
    parts = list(mlp.train_iter(cfg, 25, chunk=10))
    assert [p.steps for p in parts] == [10, 20, 25]
    tr = parts[-1]
    assert tr.backprop_norm.shape == (25, 6) and tr.loss.shape == (25,)
    # Jacobian measured at steps 0, 10, 20 only
    measured = np.where(np.isfinite(tr.jacobian_sv_mean[:, 0]))[0]
    assert list(measured) == [0, 10, 20]
    # row 0 is the network at initialisation
    np.testing.assert_allclose(tr.prelu_slope[0], 0.25)


def test_healthy_net_learns_and_sigmoid_standard_does_not():
    # ReLU + He init learns the Gaussian-mixture task; a 20-layer sigmoid net with the standard init barely
    # moves (its first layers get ~1e-6 of the top layer's gradient): the vanishing-gradient story in numbers.
    healthy = mlp.train(mlp.MLPConfig(depth=20, width=64, activation="relu", init="he_normal"), 150, learning_rate=0.05)
    stuck = mlp.train(mlp.MLPConfig(depth=20, width=64, activation="sigmoid", init="standard"), 150, learning_rate=0.05)
    # chance level is ln 10 = 2.30; measured here: 1.27 after 150 steps (accuracy 0.58), the sigmoid net 2.30
    assert healthy.loss[-10:].mean() < 0.65 * healthy.loss[:5].mean()
    assert healthy.accuracy[-10:].mean() > 0.4
    assert stuck.loss[-10:].mean() > 0.9 * np.log(10)  # still at chance: cross-entropy of 10 classes = ln 10
    assert stuck.backprop_norm[-1, 0] < 1e-4 * stuck.backprop_norm[-1, -1]


def test_clipping_bounds_the_update():
    # Pascanu et al. 2013, Algorithm 1: with clipping, the SGD update has norm <= learning_rate · threshold.
    cfg = mlp.MLPConfig(depth=10, width=32, activation="tanh", init="glorot_normal", gain=3.0)
    tr = mlp.train(cfg, 20, learning_rate=0.5, clip_norm=0.1)
    assert tr.clipped.all() and (tr.grad_norm > 0.1).all()
    free = mlp.train(cfg, 20, learning_rate=0.5)
    assert not free.clipped.any()


@pytest.mark.parametrize("optimizer", mlp.OPTIMIZERS)
def test_every_optimizer_runs(optimizer):
    tr = mlp.train(mlp.MLPConfig(depth=4, width=16, activation="prelu"), 20, optimizer=optimizer, learning_rate=0.01)
    assert np.isfinite(tr.loss).all()
    assert tr.loss[-5:].mean() < tr.loss[:5].mean()
    assert not np.allclose(tr.prelu_slope[-1], 0.25)  # PReLU's slope is learned


@pytest.mark.parametrize("config", SMALL, ids=["tanh", "prelu-residual", "sigmoid-bn-orthogonal"])
def test_profile_with_a_reused_buffer_matches_unrolled_reference(config):
    # gradient_profile donates its activation buffer and reuses it on the next call (vgp_core.mlp.workspace): a
    # deeper net of the same capacity first fills the buffer with other values, which must never be read.
    mlp.workspace.clear()
    mlp.gradient_profile(config.replace(depth=config.capacity, gain=1.3), with_jacobian=False)
    prof = mlp.gradient_profile(config, with_jacobian=False)
    params = engine_params(config)
    x, y = mlp._probe_batch(config.seed, config.batch_size, config.input_dim, config.n_classes)
    probes = jnp.zeros((config.depth, config.batch_size, config.width))
    loss, (grads, probe) = jax.value_and_grad(reference_loss, argnums=(0, 4))(params, config, x, y, probes)
    d = config.depth
    # Same float32 arithmetic in a different order (as in the test above): a few ulps, 1e-4 relative is ample.
    assert prof.loss == pytest.approx(float(loss), rel=1e-5)
    np.testing.assert_allclose(prof.backprop_norm, jnp.linalg.norm(probe.reshape(d, -1), axis=1), rtol=1e-4)
    ref_wg = [jnp.linalg.norm(grads.w_in)] + [jnp.linalg.norm(grads.w[l]) for l in range(1, d)]
    # The profile differentiates w.r.t. the unit-gain weights W of s = gain·h W + b; the reference folds the gain
    # into V = gain·W, and ∂L/∂W = gain · ∂L/∂V.
    np.testing.assert_allclose(prof.weight_grad_norm, config.gain * np.asarray(ref_wg), rtol=1e-4)


def test_workspace_hands_each_buffer_to_one_caller_and_bounds_its_bytes(monkeypatch):
    mlp.workspace.clear()
    first = mlp.workspace.take((2, 3))
    second = mlp.workspace.take((2, 3))
    assert first is not second
    mlp.workspace.give(first)
    assert mlp.workspace.take((2, 3)) is first
    assert mlp.workspace.take((2, 3)) is not first  # taken once, not handed out twice
    # Room for one float32 (2, 3) buffer only: a second one is dropped; a new shape evicts the older shape.
    monkeypatch.setattr(mlp.workspace, "MAX_POOL_BYTES", 4 * 6)
    mlp.workspace.give(first)
    mlp.workspace.give(second)
    assert mlp.workspace._idle_bytes() == 4 * 6
    third = jnp.zeros((3, 2), jnp.float32)
    mlp.workspace.give(third)
    assert mlp.workspace.take((3, 2)) is third
    assert mlp.workspace._idle_bytes() == 0
    mlp.workspace.give(jnp.zeros((7,), jnp.float32))  # larger than the bound: not kept
    assert mlp.workspace._idle_bytes() == 0
    mlp.workspace.clear()
