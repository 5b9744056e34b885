"""Mean-field signal propagation (vgp_core.signal_propagation) against analytic results, Monte Carlo, finite
differences and measurements on random networks (Poole et al. 2016; Schoenholz et al. 2017)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgp_core import ConfigError, theory
from vgp_core import signal_propagation as sp


@pytest.mark.parametrize(("activation", "sw2", "sb2"), [("tanh", 1.5, 0.05), ("tanh", 2.5, 0.1), ("relu", 1.5, 0.1)])
def test_correlation_map_fixes_one(activation, sw2, sb2):
    # c' (1) = (sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2) / q* = q*/q* = 1 exactly (Poole et al. 2016, Eq. 5);
    # the 2-D midpoint rule (128^2 nodes) and the 1-D one for q* agree to float32 rounding, 1e-5.
    assert sp.correlation_map(activation, [1.0], sw2, sb2)[0] == pytest.approx(1.0, abs=1e-5)


def test_correlation_map_matches_monte_carlo():
    # Independent check with 2e6 Gaussian pairs: the standard error of E[tanh(u1) tanh(u2)] is below 5e-4, so
    # 3e-3 is six standard errors after dividing by q* ≈ 1.06.
    rng = np.random.default_rng(1)
    z1, z2 = rng.standard_normal((2, 2_000_000))
    sw2, sb2 = 2.5, 0.05
    q = theory.q_star("tanh", sw2, sb2)
    for c in (-0.5, 0.0, 0.5, 0.9):
        u1 = math.sqrt(q) * z1
        u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
        expected = (sw2 * np.mean(np.tanh(u1) * np.tanh(u2)) + sb2) / q
        assert sp.correlation_map("tanh", [c], sw2, sb2)[0] == pytest.approx(expected, abs=3e-3)


def test_length_iterates_reach_q_star_and_xi_q_is_the_maps_slope():
    sw2, sb2 = 1.5, 0.05
    fp = sp.fixed_points("tanh", sw2, sb2)
    qs = sp.length_iterates("tanh", 2.0, sw2, sb2, 60)
    assert qs[0] == 2.0 and qs[-1] == pytest.approx(fp.q_star, rel=1e-4)
    # xi_q^-1 = -ln(chi_1 + sigma_w^2 E[phi'' phi]) (Schoenholz et al., Eq. 7) is -ln of the length map's slope at
    # q* (Gaussian integration by parts); central difference with h = 1e-2: truncation error h^2 |L'''| ~ 1e-4,
    # float32 rounding of the map eps/h ~ 1e-5, so 1e-3 on the slope.
    h = 1e-2
    lo, hi = sp.length_map("tanh", [fp.q_star - h, fp.q_star + h], sw2, sb2)
    slope = (hi - lo) / (2 * h)
    assert math.exp(-1.0 / fp.xi_q) == pytest.approx(slope, abs=1e-3)


@pytest.mark.parametrize("sw2", [0.5, 0.8])
def test_tanh_without_bias_is_ordered_with_analytic_depth_scale(sw2):
    # sigma_b = 0, sigma_w^2 < 1: q* = 0, chi_1 = sigma_w^2, c* = 1 and xi_c = -1/ln sigma_w^2 (Schoenholz Eq. 9).
    fp = sp.fixed_points("tanh", sw2, 0.0)
    assert fp.c_star == 1.0 and fp.chi_1 == pytest.approx(sw2, rel=1e-5)
    assert fp.xi_c == pytest.approx(-1.0 / math.log(sw2), rel=1e-4)


def test_chaotic_fixed_point_is_a_fixed_point_of_the_map_and_chi_c_its_slope():
    sw2, sb2 = 2.5, 0.05
    fp = sp.fixed_points("tanh", sw2, sb2)
    assert fp.chi_1 > 1 and 0 < fp.c_star < 1
    assert sp.correlation_map("tanh", [fp.c_star], sw2, sb2)[0] == pytest.approx(fp.c_star, abs=1e-5)
    # chi_c = dc'/dc at c*: central difference, h = 1e-2 (the map is smooth; rounding 1e-7/h, truncation h^2)
    h = 1e-2
    lo, hi = sp.correlation_map("tanh", [fp.c_star - h, fp.c_star + h], sw2, sb2)
    assert fp.chi_c == pytest.approx((hi - lo) / (2 * h), abs=2e-3)
    # iterating the map from 0 converges to the same c*
    assert sp.correlation_iterates("tanh", 0.0, sw2, sb2, 200)[-1] == pytest.approx(fp.c_star, abs=1e-4)


def test_critical_line_and_xi_c_diverges_toward_it():
    crit = sp.critical_sigma_w2("tanh", 0.05)
    # the value Schoenholz et al.'s Fig. 5 puts the tanh, sigma_b^2 = 0.05 transition at (sigma_w^2 ≈ 1.76)
    assert crit == pytest.approx(1.761, abs=2e-3)
    assert sp.fixed_points("tanh", crit - 1e-3, 0.05).chi_1 < 1 < sp.fixed_points("tanh", crit + 1e-3, 0.05).chi_1
    below = crit - np.array([0.5, 0.2, 0.05, 0.01, 0.002])
    above = crit + np.array([0.5, 0.2, 0.05, 0.01, 0.002])
    xi_below = sp.correlation_depth_scale("tanh", below, 0.05)
    xi_above = sp.correlation_depth_scale("tanh", above, 0.05)
    assert np.all(np.diff(xi_below) > 0) and np.all(np.diff(xi_above) > 0)  # grows on both sides toward it
    assert xi_below[-1] > 100 and xi_above[-1] > 100 and xi_below[0] < 20 and xi_above[0] < 20
    # in the ordered phase xi_c = -1/ln chi_1 (c* = 1)
    assert xi_below[0] == pytest.approx(-1.0 / math.log(theory.chi_1("tanh", below[0], 0.05)), rel=1e-5)


def test_phase_diagram_line_matches_bisection():
    sw2 = np.linspace(0.5, 4.0, 141)  # spacing 0.025: linear interpolation in ln chi_1 is good to ~1e-3
    sb2 = np.array([0.0, 0.05, 0.2])
    pd = sp.phase_diagram("tanh", sw2, sb2)
    assert pd.chi_1.shape == (3, 141)
    for b, line in zip(sb2, pd.critical_sigma_w2, strict=True):
        assert line == pytest.approx(sp.critical_sigma_w2("tanh", float(b)), abs=2e-3)


@pytest.mark.slow  # 18 networks of width 512: about 10 s on two cores
def test_measured_transition_agrees_with_theory():
    # The order-to-chaos transition measured on random tanh networks (sigma_b^2 = 0.05): the squared growth of an
    # infinitesimal perturbation per layer (the correlation map's slope at c = 1), averaged over layers 9..64 and
    # three networks of width 512, crosses 1 where mean field says chi_1 = 1. Each layer's estimate has a relative
    # standard deviation of about sqrt(2/N) = 6 %, so the average over ~170 layers is good to ~0.5 % in chi_1, and
    # chi_1 rises by ~2 % per 0.1 of sigma_w^2 here: 0.1 in sigma_w^2 is several standard errors (plus the O(1/N)
    # finite-width shift of q^l).
    grid = np.array([1.5, 1.6, 1.7, 1.8, 1.9, 2.0])
    measured = []
    for sw2 in grid:
        runs = [
            sp.measure(sp.PropagationConfig("tanh", float(sw2), 0.05, depth=64, width=512, seed=s)) for s in range(3)
        ]
        measured.append(np.mean([r.chi_1[8:].mean() for r in runs]))
    measured = np.asarray(measured)
    assert np.all(np.diff(measured) > 0)
    j = int(np.nonzero(measured >= 1.0)[0][0])
    crossing = grid[j - 1] + (1.0 - measured[j - 1]) / (measured[j] - measured[j - 1]) * (grid[j] - grid[j - 1])
    assert crossing == pytest.approx(sp.critical_sigma_w2("tanh", 0.05), abs=0.1)


def test_measured_lengths_and_correlations_follow_mean_field():
    # tanh, sigma_w^2 = 2.5, sigma_b^2 = 0.05 (chaotic: q* = 1.064, c* = 0.447, xi_c = 11.8), width 512, four
    # networks. One layer's q^l fluctuates by sqrt(2/N) = 6 % and the length map carries part of it to the next
    # layer (slope e^{-1/xi_q} = 0.43); measured here, the average over layers 41..64 of one network scatters by
    # ~2 % between seeds, so the four-network mean is good to ~1 %: 3 % is three standard errors. c^l scatters by
    # ~1/sqrt(N) = 0.045 per layer; averaged likewise, 0.03 is several standard errors. Layers 41..64 are past the
    # transient from c^0 = 0.2 (it decays like e^{-l/xi_c}: below 0.01 by layer 40).
    runs = [sp.measure(sp.PropagationConfig("tanh", 2.5, 0.05, depth=64, width=512, c0=0.2, seed=s)) for s in range(4)]
    fp = sp.fixed_points("tanh", 2.5, 0.05)
    assert np.mean([r.q[41:].mean() for r in runs]) == pytest.approx(fp.q_star, rel=0.03)
    assert np.mean([r.c[41:].mean() for r in runs]) == pytest.approx(fp.c_star, abs=0.03)
    # ordered at sigma_w^2 = 1.3 (chi_1 = 0.87, xi_c = 7): every pair becomes parallel, c -> 1
    ordered = sp.measure(sp.PropagationConfig("tanh", 1.3, 0.05, depth=64, width=512, c0=0.2))
    assert ordered.c[-1] > 0.99


def test_invalid_settings_raise_config_error():
    with pytest.raises(ConfigError):
        sp.PropagationConfig(activation="nope")
    with pytest.raises(ConfigError):
        sp.correlation_map("relu", [0.5], 3.0, 0.1)  # no finite q*: the length explodes
    assert math.isnan(sp.fixed_points("relu", 3.0, 0.1).c_star)
