"""app/components/url_state.py: query values parsed, clamped or refused one by one, and written back exactly."""

import param
import pytest

from app.components.url_state import apply_query, format_query_value, parse_value


class Model(param.Parameterized):
    depth = param.Integer(50, bounds=(1, 256))
    gain = param.Number(1.0, bounds=(0.1, 4.0))
    act = param.Selector(default="tanh", objects=["tanh", "relu"])
    width = param.Selector(default=128, objects=[64, 128])
    residual = param.Boolean(False)


def test_query_values_are_clamped_or_ignored_one_by_one():
    m = Model()
    notices = apply_query(
        m,
        ["depth", "gain", "act", "width", "residual"],
        {"depth": "999", "gain": "nan", "act": "relu", "width": "64", "residual": "maybe"},
    )
    assert m.depth == 256 and m.act == "relu" and m.width == 64  # valid values apply despite the bad ones
    assert m.gain == 1.0 and m.residual is False
    assert any("depth=999 is out of range" in n for n in notices)
    assert any("gain='nan'" in n for n in notices)
    assert any("residual='maybe'" in n for n in notices)
    assert parse_value(Model.param.depth, "12.6") == (13, "depth=12.6 is not a whole number: using 13")
    assert parse_value(Model.param.depth, "12") == (12, None)
    assert parse_value(Model.param.gain, "abc")[0] is None


@pytest.mark.parametrize("value", [1.01, 1.0099999999999998, 0.1 + 0.2, 2.0, 1e-7, 0.75, 1.9999999999999998])
def test_url_floats_read_back_to_the_same_double(value):
    """A shared link reproduces the exact state: what the URL mirror writes parses back to the very same float
    (short when that is exact: 1.01 stays "1.01"; a keyboard-stepped 1.0099999999999998 is written in full)."""

    class Model(param.Parameterized):
        x = param.Number(1.0, bounds=(0.0, 2.0))

    text = format_query_value(value)
    assert parse_value(Model.param.x, text) == (value, None)
    assert len(text) <= 8 or float(f"{value:.6g}") != value  # short wherever short is exact


def test_url_lists_and_booleans():
    assert format_query_value(["relu", "kumar"]) == "relu,kumar"
    assert format_query_value(True) == "true" and format_query_value(False) == "false"
