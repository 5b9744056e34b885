"""Singular values of the input–output Jacobian at initialisation (vgp_core.jacobian_spectrum) against exact results
(orthogonal linear nets, ReLU homogeneity), the Fuss–Catalan moments of Gaussian products, mean field's chi_1^L,
dynamical isometry (Pennington, Schoenholz & Ganguli 2017) and the free-probability density."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vgp_core import jacobian_spectrum as js
from vgp_core import signal_propagation as sp


def _config(activation, sw2, sb2, depth, width, weights, seed=0):
    return sp.PropagationConfig(activation, sw2, sb2, depth=depth, width=width, weights=weights, seed=seed)


def _squared(m: js.JacobianSpectrum) -> np.ndarray:
    return 10.0 ** (2.0 * m.log10_sv)


def test_linear_orthogonal_every_singular_value_is_gain_to_the_depth():
    # J = g^L O_L ... O_1 exactly, so every singular value is g^L. Each Haar matrix is orthogonal to float32
    # rounding (~1e-6 relative per layer, QR); after 20 layers 1e-4 in log10 s is about 20x that.
    gain2, depth = 1.21, 20
    m = js.measure(_config("linear", gain2, 0.0, depth, 64, "orthogonal"))
    np.testing.assert_allclose(m.log10_sv, depth * 0.5 * math.log10(gain2), atol=1e-4)
    np.testing.assert_allclose(m.log10_condition, 0.0, atol=1e-4)
    # the cheaper statistic (Frobenius norm layer by layer) is g^{2l} too
    np.testing.assert_allclose(m.log10_mean_sq, np.arange(1, depth + 1) * math.log10(gain2), atol=1e-4)


def test_linear_gaussian_moments_are_sigma_w_to_the_2L_and_fuss_catalan():
    # Square Gaussian factors of variance sigma_w^2/N: E[(1/N) tr JJ^T] = sigma_w^{2L} exactly at any N, and the
    # normalised second moment tends to the Fuss–Catalan value binom(2(L+1), 2)/(2L+1) = L + 1 (Pennington et al.
    # 2018, Sec. 3.1). The tolerance is four standard errors over 8 networks (measured scatter), plus, for the
    # second moment, the finite-N correction: 1/N for one factor (Wishart: E tr (WW^T)^2 / N = 2 + 1/N), at most
    # L(L+1)/(2N) for L factors (one 1/N term per pair of factors).
    sw2, depth, width = 1.2, 3, 128
    runs = [js.measure(_config("linear", sw2, 0.0, depth, width, "gaussian", seed=s)) for s in range(8)]
    m1 = np.array([_squared(r).mean() for r in runs]) / sw2**depth
    m2 = np.array([(_squared(r) ** 2).mean() for r in runs]) / sw2 ** (2 * depth)
    se1, se2 = m1.std(ddof=1) / math.sqrt(8), m2.std(ddof=1) / math.sqrt(8)
    assert se1 < 0.02 and se2 < 0.2  # the check has teeth: scatter small against the values compared
    assert m1.mean() == pytest.approx(1.0, abs=4 * se1)
    assert m2.mean() == pytest.approx(depth + 1, abs=4 * se2 + depth * (depth + 1) / (2 * width))


def test_mean_squared_singular_value_follows_chi_1_to_the_L():
    # Pennington et al. 2017, Eq. 5: (1/N) tr JJ^T = chi_1^L. For tanh at sigma_w^2 = 1.5, sigma_b^2 = 0.05
    # (chi_1 = 0.94) over 20 layers of width 256, ln of the measured value scatters by ~sqrt(2 L / N) = 0.4
    # between networks; the mean of four is good to ~0.2 in ln (0.09 in log10): 0.3 in log10 is > 3 errors.
    fp = sp.fixed_points("tanh", 1.5, 0.05)
    runs = [js.measure(_config("tanh", 1.5, 0.05, 20, 256, "gaussian", seed=s), full=False) for s in range(4)]
    measured = np.mean([r.log10_mean_sq[-1] for r in runs])
    assert measured == pytest.approx(20 * math.log10(fp.chi_1), abs=0.3)
    # Frobenius (cheap) and SVD (full) agree on the same network, to float32 rounding
    full = js.measure(_config("tanh", 1.5, 0.05, 20, 256, "gaussian", seed=0))
    assert math.log10(_squared(full).mean()) == pytest.approx(runs[0].log10_mean_sq[-1], abs=1e-4)


def _normalised_variance(m: js.JacobianSpectrum) -> float:
    lam = _squared(m)
    return float((lam**2).mean() / lam.mean() ** 2 - 1.0)


@pytest.mark.slow  # 200 layers: the capacity-256 draws and their QR, about a minute on two shared cores
def test_tanh_orthogonal_at_criticality_is_isometric_where_gaussian_is_not():
    # tanh, sigma_b^2 = 0, sigma_w^2 = 1.04: chi_1 = 1.0005 and q* = 0.02, the small-q* critical regime of
    # Pennington et al. 2017 (Fig. 2): with orthogonal weights the variance of the squared singular values stays
    # below 1 up to 200 layers; with Gaussian weights it grows with depth (Fuss–Catalan-like, ~L) and is > 10
    # already at 16 layers.
    fp = sp.fixed_points("tanh", 1.04, 0.0)
    assert abs(fp.chi_1 - 1.0) < 1e-3 and fp.q_star < 0.05
    orth = [_normalised_variance(js.measure(_config("tanh", 1.04, 0.0, d, 128, "orthogonal"))) for d in (16, 200)]
    gauss = [_normalised_variance(js.measure(_config("tanh", 1.04, 0.0, d, 128, "gaussian"))) for d in (16, 200)]
    assert max(orth) < 1.0
    assert gauss[0] > 10 and gauss[1] > 2 * gauss[0]


def test_relu_orthogonal_cannot_reach_isometry():
    # Pennington et al. 2017, Sec. 4: ReLU's phi' is 0 or 1, so about half the singular values are 0 (rank at most
    # the active units of the last layer: Binomial(N, 1/2), sd sqrt(N)/2 = 5.7 of 128, 0.044 as a fraction) and
    # the rest spread with depth whatever sigma_w: the positive homogeneity of ReLU (biases 0) scales every
    # singular value by (sigma_w'/sigma_w)^L and changes nothing else.
    shallow = js.measure(_config("relu", 2.0, 0.0, 4, 128, "orthogonal"))
    deep = js.measure(_config("relu", 2.0, 0.0, 64, 128, "orthogonal"))
    resolved = shallow.log10_sv >= shallow.log10_floor[-1]
    assert resolved.mean() < 0.5 + 3 * 0.044
    assert np.isinf(deep.log10_condition[-1])

    def spread(m):
        ok = m.log10_sv >= m.log10_floor[-1]
        return float(np.std(m.log10_sv[ok]))

    assert spread(deep) > 2 * spread(shallow)
    other = js.measure(_config("relu", 1.5, 0.0, 4, 128, "orthogonal"))
    shift = 4 * 0.5 * math.log10(1.5 / 2.0)
    # float32: 1e-4 in log10 for the singular values above the floor (4 layers of rounding)
    np.testing.assert_allclose(other.log10_sv[resolved], shallow.log10_sv[resolved] + shift, atol=1e-4)


def _total_variation(configs, bins=20, fine=400, predicted_for=None) -> float:
    """Half the L1 distance between the pooled histogram's bin masses and the density predicted for
    ``predicted_for`` (default: the measured setting)."""
    runs = [js.measure(c) for c in configs]
    values = np.concatenate([r.log10_sv for r in runs])
    floor = max(r.log10_floor[-1] for r in runs)
    edges = np.linspace(values[values >= floor].min(), values.max(), bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    grid = np.linspace(edges[0], edges[-1], fine)
    predicted = js.predicted_density(predicted_for or configs[0], grid)
    assert predicted.applies
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (predicted.density[1:] + predicted.density[:-1]) * np.diff(grid))])
    return 0.5 * float(np.abs(counts / values.size - np.diff(np.interp(edges, grid, cdf))).sum())


# Tolerance of the density checks: 1024 pooled singular values in 20 bins. Independent draws would put the
# histogram's total-variation distance from the true bin masses near 0.4 sqrt(bins/n) = 0.056; eigenvalues repel,
# so they fluctuate less (measured: 0.016–0.024 for the four cases below); 0.06 also covers the O(1/N) shift of
# the spectrum's edges at N = 256. A wrong law (e.g. orthogonal prediction for Gaussian weights) is off by > 0.3.


def test_predicted_density_matches_linear_gaussian_histogram():
    configs = [_config("linear", 1.0, 0.0, 4, 256, "gaussian", seed=s) for s in range(4)]
    assert _total_variation(configs) < 0.06
    # the same histogram against the law of orthogonal weights (all mass near s = 1) is far off
    orthogonal = _config("linear", 1.0, 0.0, 4, 256, "orthogonal")
    assert _total_variation(configs, predicted_for=orthogonal) > 0.3


@pytest.mark.slow  # three more settings at width 256 (about a minute on two cores)
@pytest.mark.parametrize(
    ("activation", "sw2", "sb2", "depth", "weights"),
    [("tanh", 1.05, 0.0, 64, "orthogonal"), ("relu", 2.0, 0.0, 2, "orthogonal"), ("tanh", 1.5, 0.05, 8, "gaussian")],
)
def test_predicted_density_matches_histogram(activation, sw2, sb2, depth, weights):
    configs = [_config(activation, sw2, sb2, depth, 256, weights, seed=s) for s in range(4)]
    assert _total_variation(configs) < 0.06


def test_prediction_says_where_it_does_not_apply():
    p = js.predicted_density(_config("sigmoid", 1.0, 0.0, 10, 64, "gaussian"))
    assert not p.applies and "sigmoid" in p.reason and p.density.size == 0
    relu = js.predicted_density(_config("relu", 2.0, 0.0, 10, 64, "gaussian"), np.linspace(-2, 1, 50))
    assert relu.applies and relu.zero_mass == pytest.approx(0.5)  # the atom of dead units, 1{z > 0} exactly
