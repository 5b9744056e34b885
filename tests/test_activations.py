import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vgp_core import ConfigError, activations

REQUIRED = ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "softsign", "elu", "selu", "gelu", "swish", "linear"]


def test_registry_has_required_names():
    assert set(REQUIRED) <= set(activations.names())
    for n in REQUIRED:
        assert activations.get(n).name == n
    with pytest.raises(ConfigError, match="unknown activation 'nope'"):
        activations.get("nope")


@pytest.mark.parametrize("name", REQUIRED)
def test_switch_matches_direct_call_and_max_derivative(name):
    x = jnp.linspace(-6, 6, 20001)
    act = activations.get(name)
    direct = act.fn(x, jnp.float32(0.25))
    switched = activations.apply(activations.index(name), x)
    np.testing.assert_array_equal(np.asarray(direct), np.asarray(switched))
    _, d = activations.value_and_derivative(activations.index(name), x)
    # the grid has spacing 6e-4, where every phi' varies by < 1e-3 relative around its maximum
    assert float(jnp.max(jnp.abs(d))) == pytest.approx(act.max_derivative, rel=1e-3)


def test_known_values():
    idx = activations.index
    assert float(activations.apply(idx("sigmoid"), jnp.float32(0.0))) == 0.5
    assert float(activations.apply(idx("prelu"), jnp.float32(-2.0))) == pytest.approx(-0.5)  # slope 0.25 at init
    assert float(activations.apply(idx("prelu"), jnp.float32(-2.0), 0.1)) == pytest.approx(-0.2)
    assert float(activations.apply(idx("leaky_relu"), jnp.float32(-2.0))) == pytest.approx(-0.02)
    assert float(activations.apply(idx("softsign"), jnp.float32(3.0))) == pytest.approx(0.75)
    # Pascanu et al. 2013: g = 1/4 for sigmoid, 1 for tanh
    assert activations.get("sigmoid").max_derivative == 0.25
    assert activations.get("tanh").max_derivative == 1.0


def test_no_recompile_across_activations(compile_counter):
    f = jax.jit(activations.apply)
    x = jnp.ones(8)
    f(jnp.int32(0), x, jnp.float32(0.25))
    with compile_counter() as compiles:
        for i in range(len(activations.names())):
            f(jnp.int32(i), x, jnp.float32(0.25))
    assert compiles == []
