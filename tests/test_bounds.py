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
