"""vgp_core.bounds: bounds declared once on a config dataclass, checked on construction, read by the app's controls."""

import dataclasses

import param
import pytest

from vgp_core import bounds, rnn
from vgp_core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Example:
    n: int = bounds.integer(3, 1, 10, soft=(1, 5))
    x: float = bounds.real(0.5, 0.0, 1.0)
    kind: str = bounds.choice("a", ("a", "b"), label="example kind")
    free: str = "anything"  # not bounded: left alone

    def __post_init__(self):
        bounds.validate(self)


def test_validate_converts_and_names_the_field():
    e = Example(n=4.0, x=1)
    assert e.n == 4 and type(e.n) is int and e.x == 1.0 and type(e.x) is float
    with pytest.raises(ConfigError, match=r"n must be in \[1, 10\], got 11"):
        Example(n=11)
    with pytest.raises(ConfigError, match="x must be a finite number"):
        Example(x=float("nan"))
    with pytest.raises(ConfigError, match="unknown example kind 'c'"):
        Example(kind="c")


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="soft range"):
        bounds.integer(1, 0, 5, soft=(0, 6))
    with pytest.raises(ValueError, match="default"):
        bounds.choice("z", ("a", "b"))


def test_of_lists_bounded_fields_with_their_offered_ranges():
    b = bounds.of(Example)
    assert set(b) == {"n", "x", "kind"}
    assert b["n"].offered == (1, 5) and b["x"].offered == (0.0, 1.0) and b["kind"].choices == ("a", "b")
    assert {f.name: f.default for f in dataclasses.fields(Example)}["n"] == b["n"].default == 3


def controls_within_config(model: type[param.Parameterized], config: type) -> list[str]:
    """The names of a page model's controls that share a name with a bounded config field, after checking that
    each control's default, range and options are valid for the config."""
    checked = []
    for name, bound in bounds.of(config).items():
        if name not in model.param:
            continue
        p = model.param[name]
        config(**{name: p.default})  # the control's default is a valid config value
        if isinstance(p, param.Selector):
            values = list(p.objects.values()) if isinstance(p.objects, dict) else list(p.objects)
            for v in values:
                bound.check(name, v)
        elif isinstance(p, param.Number):
            lo, hi = p.bounds
            assert bound.low <= lo <= hi <= bound.high, (name, p.bounds, bound)
        checked.append(name)
    return checked


def test_recurrent_page_controls_read_rnn_config_bounds():
    from app.pages.recurrent import RecurrentModel

    checked = controls_within_config(RecurrentModel, rnn.RNNConfig)
    assert set(checked) >= {"T", "spectral_radius", "activation", "family", "cell", "eps", "c", "seed", "hidden_size"}
    b = bounds.of(rnn.RNNConfig)
    for name in ("T", "spectral_radius", "eps", "c", "seed"):
        assert RecurrentModel.param[name].bounds == b[name].offered
        assert RecurrentModel.param[name].default == b[name].default


def test_remedies_page_controls_read_lab_config_bounds():
    from app.pages.remedies import RemediesModel
    from vgp_core.experiments import remedies as lab

    checked = controls_within_config(RemediesModel, lab.LabConfig)
    assert set(checked) >= {"depth", "width", "steps", "learning_rate", "seed"}
    b = bounds.of(lab.LabConfig)
    for name in ("depth", "steps", "seed"):
        assert RemediesModel.param[name].bounds == b[name].offered
        assert RemediesModel.param[name].default == b[name].default
    with pytest.raises(ConfigError, match="multiple"):
        lab.LabConfig(steps=lab.CHUNK + 1)


def test_deep_page_controls_lie_within_mlp_config_bounds():
    from app.pages.deep import DeepNetworkModel
    from vgp_core import mlp

    checked = controls_within_config(DeepNetworkModel, mlp.MLPConfig)
    assert set(checked) >= {"depth", "width", "activation", "init", "gain", "bias_std", "seed"}
    with pytest.raises(ConfigError, match="residual must be true or false"):
        mlp.MLPConfig(residual="yes")
    assert mlp.MLPConfig(batchnorm=1).batchnorm is True


@dataclasses.dataclass(frozen=True)
class Grid:
    depths: tuple = bounds.sequence((2, 1), bounds.integer(1, 1, 9, label="depth"), length=(1, 3), ordered=True)
    names: tuple = bounds.sequence(
        ("a",), bounds.choice("a", ("a", "b"), aliases={"alpha": "a"}, label="name"), repeats="drop"
    )

    def __post_init__(self):
        bounds.validate(self)


def test_a_sequence_checks_each_value_its_length_and_its_repeats():
    g = Grid(depths=[3.0, 1], names=["alpha", "b", "a"])
    assert g.depths == (1, 3) and type(g.depths[1]) is int  # a list becomes a sorted tuple of ints
    assert g.names == ("a", "b")  # the alias stands for "a", then kept once, first place
    assert Grid().depths == (1, 2)  # the default is validated too
    with pytest.raises(ConfigError, match=r"depth must be in \[1, 9\], got 10"):
        Grid(depths=(1, 10))
    with pytest.raises(ConfigError, match="repeated values"):
        Grid(depths=(2, 2))
    with pytest.raises(ConfigError, match="1 to 3 values"):
        Grid(depths=())
    with pytest.raises(ConfigError, match="must be a list"):
        Grid(depths="12")
    with pytest.raises(ConfigError, match="unknown name 'c'"):
        Grid(names=("c",))
    with pytest.raises(ValueError, match="aliases"):
        bounds.choice("a", ("a", "b"), aliases={"z": "zz"})


def test_edge_of_chaos_page_controls_read_propagation_config_bounds():
    from app.pages.edge_of_chaos import EdgeOfChaosModel
    from vgp_core import signal_propagation as sp

    checked = controls_within_config(EdgeOfChaosModel, sp.PropagationConfig)
    assert set(checked) >= {"activation", "weights", "sigma_w2", "sigma_b2", "depth", "width"}
    b = bounds.of(sp.PropagationConfig)
    for name in ("sigma_w2", "sigma_b2", "depth"):
        assert EdgeOfChaosModel.param[name].bounds == b[name].offered
        assert EdgeOfChaosModel.param[name].default == b[name].default


def test_experiment_configs_declare_their_bounds():
    from vgp_core.experiments.glorot2010 import Glorot2010Config
    from vgp_core.experiments.trainability import TrainabilityConfig

    t = TrainabilityConfig(depths=[20, 10])
    assert t.depths == (10, 20) and bounds.of(TrainabilityConfig)["width"].low == 2
    with pytest.raises(ConfigError, match="depths has repeated values"):
        TrainabilityConfig(depths=(10, 10))
    g = Glorot2010Config(inits=("normalized", "glorot_uniform"), activations=["tanh"])
    assert g.inits == ("glorot_uniform",) and g.activations == ("tanh",)
    # a bound that depends on another field: the probe set lies between the batch and the test set
    with pytest.raises(ConfigError, match=r"probe_size must be in \[20, 5000\]"):
        Glorot2010Config(batch_size=20, probe_size=10)
    with pytest.raises(ConfigError, match="learning rate must be"):
        Glorot2010Config(lr_grid=(0.1, -1.0))
