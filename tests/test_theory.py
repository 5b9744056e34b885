import numpy as np
import pytest

from vgp_core import activations, theory


@pytest.mark.parametrize("sw2", [0.3, 0.7, 1.0])
def test_tanh_ordered_phase(sw2):
    # Mean field (Poole et al. 2016; Schoenholz et al. 2017): tanh with sigma_b = 0 has q* = 0 for sigma_w^2 <= 1,
    # so chi_1 = sigma_w^2 · tanh'(0)^2 = sigma_w^2.
    assert theory.q_star("tanh", sw2) < 1e-6
    assert theory.chi_1("tanh", sw2) == pytest.approx(sw2, rel=1e-5)  # float32 quadrature, 2048 nodes


@pytest.mark.parametrize("sw2", [0.5, 1.0, 2.0, 3.0])
def test_relu_chi(sw2):
    # ReLU chi_1 = sigma_w^2 · E[relu'(z)^2] = sigma_w^2 / 2 whatever q*; critical at 2 (He et al. 2015 init).
    assert theory.chi_1("relu", sw2) == pytest.approx(sw2 / 2, rel=1e-5)


def test_critical_points():
    assert theory.critical_sigma_w2("tanh") == pytest.approx(1.0, rel=1e-4)
    assert theory.critical_sigma_w2("relu") == pytest.approx(2.0, rel=1e-4)
    assert theory.critical_sigma_w2("linear") == pytest.approx(1.0, rel=1e-4)
    # standard init has sigma_w^2 = gain^2/3, so tanh is critical at gain sqrt(3)
    assert theory.critical_gain("tanh", "standard", 256, 256) == pytest.approx(np.sqrt(3), rel=1e-4)
    assert theory.critical_gain("relu", "he_normal", 256, 256) == pytest.approx(1.0, rel=1e-4)
    assert np.isnan(theory.critical_gain("sigmoid", "yilmaz_poli", 256, 256))  # mean field does not apply


def test_kumar_sigmoid_still_vanishes():
    # Kumar 2017's sigma_w^2 = 3.6^2 = 12.96 leaves the logistic net in the vanishing phase, chi_1 ≈ 0.36
    # (mean field, Poole et al. 2016).
    assert theory.chi_1("sigmoid", 12.96) == pytest.approx(0.36, abs=0.01)


def test_q_star_matches_monte_carlo_iteration():
    # Independent check: iterate the length map with a Monte-Carlo expectation over 2e6 normal samples
    # (standard error of E[tanh^2] ~ 3e-4, so 1 % is > 10 standard errors after 50 contractive iterations).
    z = np.random.default_rng(0).standard_normal(2_000_000)
    for sw2, sb2 in [(2.0, 0.0), (1.5, 0.05)]:
        q = 1.0
        for _ in range(50):
            q = sw2 * np.mean(np.tanh(np.sqrt(q) * z) ** 2) + sb2
        assert theory.q_star("tanh", sw2, sb2) == pytest.approx(q, rel=0.01)
        chi = sw2 * np.mean((1 - np.tanh(np.sqrt(q) * z) ** 2) ** 2)
        assert theory.chi_1("tanh", sw2, sb2) == pytest.approx(chi, rel=0.01)


def test_vectorised_and_depth_scale():
    chi = theory.chi_1("tanh", np.array([0.5, 0.9]))
    assert chi.shape == (2,)
    assert theory.depth_scale("tanh", 0.5) == pytest.approx(-1 / np.log(0.5), rel=1e-5)
    assert theory.depth_scale("linear", 1.0) > 1e5  # at criticality the depth scale diverges


@pytest.mark.parametrize("name", activations.names())
def test_every_activation_has_finite_theory(name):
    assert np.isfinite(theory.chi_1(name, 1.0, 0.01))


def test_a_single_setting_is_cached_and_equals_its_uncached_evaluation():
    """One setting (an app's move) goes through a cache; it must give exactly what evaluating it does, and what the
    array path gives up to float32 rounding (XLA lays a batch out differently: 1e-6 relative is a few float32 ulps)."""
    theory._evaluate_one.cache_clear()
    grid = np.array([0.5, 1.0, 2.0, 3.7], np.float32)
    chi_all = theory.chi_1("tanh", grid, 0.05)
    for k, sw2 in enumerate(grid):
        q, chi = theory._evaluate_many("tanh", np.asarray(sw2), float(np.float32(0.05)))
        assert theory.chi_1("tanh", float(sw2), 0.05) == float(chi)
        assert theory.q_star("tanh", float(sw2), 0.05) == float(q)
        assert theory.chi_1("tanh", float(sw2), 0.05) == pytest.approx(chi_all[k], rel=1e-6)
    misses = theory._evaluate_one.cache_info().misses
    assert theory.chi_1("tanh", 2.0, 0.05) == pytest.approx(chi_all[2], rel=1e-6)
    assert theory._evaluate_one.cache_info().misses == misses  # the second ask is a hit
    with pytest.raises(ValueError):
        theory.chi_1("no-such-activation", 1.0)
