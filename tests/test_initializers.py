import jax
import numpy as np
import pytest

from vgp_core import ConfigError, initializers

REQUIRED = [
    "standard",
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "lecun_normal",
    "orthogonal",
    "kumar",
    "yilmaz_poli",
]
KEY = jax.random.PRNGKey(0)


def test_registry():
    assert set(REQUIRED) <= set(initializers.names())
    with pytest.raises(ConfigError):
        initializers.get("xavier_magic")


# For n samples the relative standard error of a variance estimate is sqrt(2/n) (Gaussian) or smaller
# (uniform); 1000x500 = 5e5 entries give 0.2 %, so 2 % is > 9 standard errors.
N_IN, N_OUT = 1000, 500


@pytest.mark.parametrize(
    "name,expected_var",
    [
        ("standard", 1.0 / (3 * N_IN)),  # Glorot & Bengio 2010 Eq. 1: n·Var = 1/3
        ("glorot_uniform", 2.0 / (N_IN + N_OUT)),  # Eq. 16
        ("glorot_normal", 2.0 / (N_IN + N_OUT)),
        ("he_normal", 2.0 / N_IN),
        ("lecun_normal", 1.0 / N_IN),
        ("kumar", 3.6**2 / N_IN),
    ],
)
def test_variances(name, expected_var):
    w = np.asarray(initializers.sample(name, KEY, N_IN, N_OUT))
    assert w.shape == (N_IN, N_OUT)
    assert abs(w.mean()) < 5 * np.sqrt(expected_var / w.size)
    assert w.var() == pytest.approx(expected_var, rel=0.02)
    # the mean-field variance that theory.py uses agrees with the draw
    assert initializers.sigma_w2(name, N_IN, N_OUT) == pytest.approx(N_IN * expected_var, rel=1e-12)


def test_uniform_bounds():
    w = np.asarray(initializers.sample("standard", KEY, N_IN, N_OUT))
    assert np.abs(w).max() <= 1 / np.sqrt(N_IN)
    assert np.abs(w).max() > 0.99 / np.sqrt(N_IN)  # a uniform draw of 5e5 values reaches the edge


def test_gain_multiplies():
    w1 = initializers.sample("he_normal", KEY, 64, 64, 1.0)
    w3 = initializers.sample("he_normal", KEY, 64, 64, 3.0)
    np.testing.assert_allclose(np.asarray(w3), 3 * np.asarray(w1), rtol=1e-6)


@pytest.mark.parametrize("shape", [(128, 128), (200, 50), (50, 200)])
def test_orthogonal(shape):
    w = np.asarray(initializers.sample("orthogonal", KEY, *shape, gain=2.0), np.float64)
    sv = np.linalg.svd(w, compute_uv=False)
    np.testing.assert_allclose(sv, 2.0, rtol=1e-5)  # float32 QR: singular values exact to ~1e-6


def test_yilmaz_poli_mean_and_std():
    w = np.asarray(initializers.sample("yilmaz_poli", KEY, N_IN, N_OUT))
    assert w.mean() == pytest.approx(-8.0 / N_IN, abs=5 * 0.1 / np.sqrt(w.size))
    assert w.std() == pytest.approx(0.1, rel=0.02)
    assert not initializers.get("yilmaz_poli").mean_field


def test_bad_arguments():
    with pytest.raises(ConfigError):
        initializers.sample("standard", KEY, 0, 5)
    with pytest.raises(ConfigError):
        initializers.sample("standard", KEY, 5, 5, gain=float("nan"))
