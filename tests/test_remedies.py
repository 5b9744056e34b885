"""The remedies lab (vgp_core.experiments.remedies): registry, directions vs the literature, Veit's path view,
ranking, validation and compilation."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special
import scipy.stats

from vgp_core import mlp
from vgp_core.errors import ConfigError
from vgp_core.experiments import remedies as R

# The seeded short lab every direction test reads: the default shapes (width 64, batch 64, depth 20, so the compiled
# programs are the ones the app warms up) and one chunk of training; the directions are measured at initialization,
# where the number of steps plays no role.
LAB = R.LabConfig(steps=10, pretrain_updates=20)


@pytest.fixture(scope="module")
def lab():
    """{name: result} of every entry, run after warm_up, with the compilations counted (list) during the run."""
    from conftest import count_compiles

    R.warm_up(LAB)
    with count_compiles() as compiles:
        results = {r.name: r for r in R.run_lab_iter(LAB)}
        R.veit_analysis(LAB)
    return results, compiles


# ----------------------------------------------------------------------------------------------------------------
# Registry and validation


def test_registry_covers_the_issue_and_is_well_formed():
    names = R.names()
    assert names[0] == "baseline"
    issue = {
        "relu",
        "leaky_relu",
        "prelu",
        "softsign",
        "batchnorm",
        "residual",
        "glorot",
        "he",
        "orthogonal",
        "kumar",
        "yilmaz_poli",
        "clipping",
        "rprop",
        "pretraining",
        "evolution",
        "lstm",
    }
    assert issue <= set(names)
    assert len(set(names)) == len(names)
    for r in R.REMEDIES:
        assert r.group in R.GROUPS and r.expected in R.EXPECTED and r.reference and r.description and r.label
        assert R.remedy(r.name) is r
    assert R.remedy("kumar").expected == "none"  # mean-field chi_1 ≈ 0.36: Kumar's init does not fix the sigmoid net
    assert R.remedy("evolution").expected == R.remedy("lstm").expected == "n/a"
    assert R.remedy("lstm").link == "?page=recurrent"


def test_unknown_remedy_lists_the_valid_names():
    with pytest.raises(ConfigError) as err:
        R.remedy("dropout")
    assert "relu" in str(err.value) and "pretraining" in str(err.value)
    with pytest.raises(ConfigError):
        next(R.run_lab_iter(LAB, ["relu", "dropout"]))  # raised before the baseline runs


@pytest.mark.parametrize(
    "bad",
    [
        dict(depth=1),
        dict(depth=R.MAX_LAB_DEPTH + 1),
        dict(steps=15),
        dict(steps=0),
        dict(learning_rate=-0.1),
        dict(width="64"),
        dict(es_pairs=0),
        dict(clip_norm=0.0),
        dict(batch_size=4),
        dict(seed=-1),
    ],
)
def test_bad_lab_configs_raise(bad):
    with pytest.raises(ConfigError):
        R.LabConfig(**bad)


def test_bad_veit_arguments_raise():
    for bad in (-1, R.MAX_VEIT_BLOCKS + 1, 2.5):
        with pytest.raises(ConfigError):
            R.veit_path_counts(bad)
    with pytest.raises(ConfigError):
        R.veit_gradient_by_path_length(LAB, n_blocks=R.MAX_LAB_DEPTH)


# ----------------------------------------------------------------------------------------------------------------
# Directions against the literature (the must-show test)


def test_every_remedy_moves_the_input_gradient_as_the_literature_predicts_or_says_so(lab):
    results, _ = lab
    assert list(results) == list(R.names())  # baseline first, then every entry in registry order
    base = results["baseline"]
    # the hard baseline really vanishes: far more than LEVEL_DECADES from the top to the input layer
    assert base.spread < -10 * R.LEVEL_DECADES
    for name, res in results.items():
        r = R.remedy(name)
        assert res.expected == r.expected and res.group == r.group
        if r.expected in ("raise", "level"):
            assert res.input_grad_ratio >= R.FLAT_DECADES, (name, res.verdict)
            assert res.direction == "raise" and res.matches_literature, (name, res.verdict)
        if r.expected == "level":
            assert abs(res.spread) <= R.LEVEL_DECADES, (name, res.verdict)
        if r.expected == "none":
            assert res.spread < -R.LEVEL_DECADES and res.matches_literature, (name, res.verdict)
            assert "does NOT fix" in res.verdict
        if not res.matches_literature:  # none in this setting, but the page must then say so plainly
            assert "NOT" in res.verdict


def test_kumar_raises_the_gradient_but_does_not_fix_the_sigmoid_net(lab):
    res = lab[0]["kumar"]
    # Mean-field theory (Poole et al. 2016, chi_1 = σ_w² E[σ'(√q* z)²]): σ_w² = 3.6² = 12.96 (Kumar 2017) gives
    # chi_1 ≈ 0.36 for the logistic sigmoid (vanishing phase)
    assert res.chi_1 == pytest.approx(0.36, abs=0.01)
    assert res.direction == "raise"  # a larger weight variance than the standard init's 1/3 ...
    # ... but the gradient still decays by about chi_1^(1/2) per layer: (L - 1)/2 · log10(chi_1) = -4.2 decades at
    # L = 20; the measured finite-width profile must be within a decade of that
    assert res.spread == pytest.approx(19 / 2 * math.log10(res.chi_1), abs=1.0)
    assert "chi_1 = 0.36" in res.verdict and "mean-field theory" in res.verdict


def test_optimizer_remedies_leave_the_gradient_at_initialization_unchanged(lab):
    results, _ = lab
    for name in ("clipping", "rprop", "evolution"):
        # same network, same probe batch: identical arrays, not merely close
        np.testing.assert_array_equal(results[name].grad_init, results["baseline"].grad_init)
        assert results[name].input_grad_ratio == 0.0 and results[name].direction == "flat"


def test_flat_threshold_separates_update_rules_from_network_changes():
    """FLAT_DECADES must lie far from both groups on every seed: remedies that change the network (activation,
    normalization, architecture, initialization) against those that change only the update (ratio exactly 0)."""
    for seed in range(4):
        lab = LAB.replace(seed=seed)
        base = lab.mlp_config()
        g0 = np.log10(mlp.params_profile(base, mlp.init_params(base)).backprop_norm[0])
        for r in R.REMEDIES:
            if r.kind == "mlp" and r.changes:
                cfg = lab.mlp_config(**dict(r.changes))
                ratio = np.log10(mlp.params_profile(cfg, mlp.init_params(cfg)).backprop_norm[0]) - g0
                assert ratio > 4 * R.FLAT_DECADES, (seed, r.name, ratio)


def test_baseline_profile_is_the_deep_page_profile(lab):
    base = lab[0]["baseline"]
    want = mlp.gradient_profile(LAB.mlp_config(), with_jacobian=False).backprop_norm
    # same weights and probe batch; the page multiplies by the gain inside each layer, the lab folds it into the
    # weights (gain 1 here, so only float32 rounding differs, ~1e-6 per layer over 20 layers)
    np.testing.assert_allclose(base.grad_init, want, rtol=1e-4)


def test_results_are_complete_and_consistent(lab):
    results, _ = lab
    for name, res in results.items():
        if name == "lstm":
            continue
        assert res.layers.tolist() == list(range(1, LAB.depth + 1))
        assert res.grad_init.shape == res.grad_trained.shape == (LAB.depth,)
        assert res.loss.shape == (LAB.steps,) and np.all(np.isfinite(res.loss))
        assert np.isfinite(res.final_loss) and 0.0 <= res.final_accuracy <= 1.0 and res.wall_time_s > 0
        assert res.input_grad_ratio == pytest.approx(
            np.log10(res.grad_init[0] / results["baseline"].grad_init[0]), abs=1e-9
        )


def test_run_remedy_without_baseline_measures_the_same_ratio(lab):
    alone = R.run_remedy("he", LAB)
    assert alone.input_grad_ratio == pytest.approx(lab[0]["he"].input_grad_ratio, abs=1e-9)
    assert np.isnan(alone.trained_input_grad_ratio)  # needs the trained baseline


def test_lstm_entry_is_a_measured_link(lab):
    res = lab[0]["lstm"]
    assert res.link == "?page=recurrent" and "Recurrent page" in res.verdict
    assert np.all(np.isnan(res.grad_init)) and np.isnan(res.final_loss)  # no fake feed-forward numbers
    rec = res.recurrent
    assert rec.lag.shape == rec.log10_lstm.shape == (LAB.depth,)
    # the constant error carousel: the LSTM keeps many decades more gradient over T = 20 steps than a vanilla
    # sigmoid RNN, whose Jacobian shrinks by at least g = 1/4 per step at spectral radius 1 (Pascanu et al. 2013)
    assert rec.log10_lstm[-1] > rec.log10_vanilla[-1] + 5
    assert res.matches_literature


def test_ranking_rule(lab):
    ranked = R.rank(list(lab[0].values()))
    assert ranked[-1].name == "lstm"  # no loss: last
    losses = [round(r.final_loss, 3) for r in ranked[:-1]]
    assert losses == sorted(losses)
    for a, b in itertools.pairwise(ranked[:-1]):
        if round(a.final_loss, 3) == round(b.final_loss, 3):
            assert a.input_grad_ratio >= b.input_grad_ratio


def test_ranking_breaks_ties_by_input_gradient():
    def fake(name, loss, ratio):
        return R.RemedyResult(
            name, name, np.arange(1, 3), np.ones(2), np.ones(2), np.ones(10), loss, 0.5, ratio, "flat", True, "", 0.1
        )

    ranked = R.rank([fake("a", 1.0, 0.0), fake("b", 0.5, -1.0), fake("c", 1.0, 3.0), fake("d", float("nan"), 9.0)])
    assert [r.name for r in ranked] == ["b", "c", "a", "d"]


def test_no_compilation_after_warm_up(lab):
    _, compiles = lab
    assert compiles == [], f"{len(compiles)} compilations in a warmed-up lab"


def test_depth_and_steps_changes_do_not_compile(lab):
    from conftest import count_compiles

    with count_compiles() as compiles:
        for cfg in (LAB.replace(depth=7, steps=20), LAB.replace(depth=33, seed=3)):
            for _ in R.run_lab_iter(cfg, ["relu", "rprop", "pretraining", "evolution", "lstm"]):
                pass
            R.veit_gradient_by_path_length(cfg)
    assert compiles == []


# ----------------------------------------------------------------------------------------------------------------
# Veit et al. 2016: path lengths


@pytest.mark.parametrize("n", [0, 1, 2, 5, 19, 40, R.MAX_VEIT_BLOCKS])
def test_veit_path_counts_are_binomial_coefficients(n):
    counts = R.veit_path_counts(n)
    assert counts.tolist() == [scipy.special.comb(n, k, exact=True) for k in range(n + 1)]
    assert sum(int(c) for c in counts) == 2**n  # every subset of the n residual branches is one path


@pytest.mark.parametrize("n", [1, 2, 5, 19, 54, R.MAX_VEIT_BLOCKS])
def test_veit_path_distribution_is_binomial_half(n):
    pmf = R.veit_path_distribution(n)
    # C(n, k)/2^n in float64 against SciPy's independent Binomial(n, 1/2) pmf: a few ulps apart at most
    np.testing.assert_allclose(pmf, scipy.stats.binom.pmf(np.arange(n + 1), n, 0.5), rtol=1e-12, atol=0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)


def _residual_loss_from_h1(params, depth, x, y):
    """An independent, unrolled residual sigmoid net from h_1 on (Python loop, jax.nn.sigmoid)."""

    def loss(h1):
        h = h1
        for l in range(1, depth):
            h = h + jax.nn.sigmoid(h @ params.w[l] + params.b[l])
        logits = h @ params.w_out + params.b_out
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    h1 = jax.nn.sigmoid(x @ params.w_in + params.b_in)
    return loss, h1


def _veit_setup(cfg_lab):
    cfg = cfg_lab.mlp_config(residual=True)
    params = mlp.init_params(cfg)
    x, y = mlp._probe_batch(cfg.seed, cfg.batch_size, cfg.input_dim, cfg.n_classes)
    return cfg, params, x[: R.VEIT_BATCH], y[: R.VEIT_BATCH]


def test_veit_gradient_by_path_length_sums_to_the_full_gradient():
    cfg, params, x, y = _veit_setup(LAB)
    loss, h1 = _residual_loss_from_h1(params, cfg.depth, x, y)
    want = np.asarray(jax.grad(loss)(h1), np.float64)
    comps = R.veit_gradient_components(LAB).astype(np.float64)
    assert comps.shape == (LAB.depth, R.VEIT_BATCH, LAB.width)  # lengths 0..n, n = depth - 1 blocks
    # float32 sums of 20 terms in a different order than autodiff: relative error ~1e-6, allow 1e-4
    np.testing.assert_allclose(comps.sum(axis=0), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    by_len = R.veit_gradient_by_path_length(LAB)
    np.testing.assert_allclose(by_len, np.linalg.norm(comps.reshape(LAB.depth, -1), axis=1), rtol=1e-6)
    # the length-0 path is the identity chain: G_0 = ∂L/∂h_L exactly
    h = h1
    for l in range(1, cfg.depth):
        h = h + jax.nn.sigmoid(h @ params.w[l] + params.b[l])
    delta_top = jax.grad(
        lambda h: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(h @ params.w_out + params.b_out, y))
    )(h)
    np.testing.assert_allclose(comps[0], np.asarray(delta_top), rtol=1e-5, atol=1e-9)


def test_veit_components_match_explicit_path_enumeration():
    """For 4 blocks, sum the 2^4 paths' Jacobian products explicitly, grouped by length."""
    small = LAB.replace(depth=5)
    cfg, params, x, y = _veit_setup(small)
    h = jax.nn.sigmoid(x @ params.w_in + params.b_in)
    branch_vjps = []
    for l in range(1, cfg.depth):  # branch l: d -> (d · σ'(s_l)) W_lᵀ at the forward point
        s = h @ params.w[l] + params.b[l]
        dphi = jax.nn.sigmoid(s) * (1 - jax.nn.sigmoid(s))
        branch_vjps.append(lambda d, dphi=dphi, w=params.w[l]: (d * dphi) @ w.T)
        h = h + jax.nn.sigmoid(s)
    delta = jax.grad(
        lambda h: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(h @ params.w_out + params.b_out, y))
    )(h)
    n = cfg.depth - 1
    want = np.zeros((n + 1,) + delta.shape)
    for taken in itertools.product([False, True], repeat=n):  # one path per subset of branches
        d = delta
        for l in reversed(range(n)):  # backward from the top block
            if taken[l]:
                d = branch_vjps[l](d)
        want[sum(taken)] += np.asarray(d)
    got = R.veit_gradient_components(small)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


def test_veit_analysis_shows_short_paths_carry_the_gradient():
    a = R.veit_analysis(LAB)
    n = LAB.depth - 1
    assert a.n_blocks == n and a.lengths.tolist() == list(range(n + 1))
    np.testing.assert_array_equal(a.counts, R.veit_path_counts(n))
    # Veit et al. 2016 (Sec. 5, Fig. 6): the gradient comes from paths far shorter than the mean length n/2 —
    # each sigmoid branch multiplies by at most ‖W‖/4, so per-path contributions shrink with length
    assert int(np.argmax(a.grad_by_length)) < n / 2
    assert np.all(np.diff(np.log10(a.per_path)) < 0)


# ----------------------------------------------------------------------------------------------------------------
# The deep-net engine's additions the lab relies on (vgp_core.mlp)


def test_training_from_given_params_is_training_from_the_initialization():
    cfg = mlp.MLPConfig(depth=6, width=16, activation="tanh", batch_size=16, input_dim=8)
    want = mlp.train(cfg, 20, learning_rate=0.05)
    trace, params = mlp.train_with_params(cfg, 20, learning_rate=0.05, params=mlp.init_params(cfg))
    np.testing.assert_array_equal(trace.loss, want.loss)  # same program, same numbers
    np.testing.assert_array_equal(trace.backprop_norm, want.backprop_norm)
    no_jac, params2 = mlp.train_with_params(cfg, 20, learning_rate=0.05, jacobians=False)
    np.testing.assert_array_equal(no_jac.loss, want.loss)  # skipping the SVDs changes nothing else
    assert np.all(np.isnan(no_jac.jacobian_sv_mean)) and not np.all(np.isnan(want.jacobian_sv_mean))
    # the returned parameters do not depend on whether the SVDs were measured
    np.testing.assert_array_equal(np.asarray(params.w), np.asarray(params2.w))
    prof = mlp.params_profile(cfg, params)
    assert prof.loss == pytest.approx(mlp.probe_accuracy(cfg, params)[0])
    assert prof.loss < mlp.params_profile(cfg, mlp.init_params(cfg)).loss  # 20 updates lowered held-out loss
    with pytest.raises(ConfigError):
        mlp.train_with_params(cfg, 25, chunk=10)  # parameters would have seen 30 steps
    with pytest.raises(ConfigError):
        mlp.train_with_params(cfg, 20, params=mlp.init_params(cfg.replace(width=8)))
