"""The Bifurcation and Loss-cliff pages without a server: they build, every control changes their plots' data,
clicks on the plots set the start point, bad link values become a notice, overflow and underflow are named, and
moving the controls compiles nothing once the programs are warm."""

from __future__ import annotations

import hashlib

import numpy as np
import panel as pn
import pytest
from bokeh.events import Tap
from bokeh.models import ColumnDataSource

from app.pages import PAGES, bifurcation, cliff
from app.pages.bifurcation import BifurcationPage
from app.pages.cliff import LossCliffPage

# A new value for every control (applied in this order, each from the defaults' state so far).
BIFURCATION_MOVES = dict(w=5.5, b=-2.4, eps=0.2, x0=0.4, steps=300, u=0.1, w_in=0.5, method="continuous", map_shows="b")
CLIFF_MOVES = dict(
    b=-2.4,
    steps=300,
    start_w=5.0,
    start_b=-2.25,
    pascanu_steps=60,
    learning_rate=0.3,
    clip_norm=1.0,
    descent_steps=40,
    shown_step=10,
    surface="grad",
)


def _digest(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_digest(v) for v in value) + "]"
    a = np.asarray(value)
    if a.dtype == object:
        return repr(a.tolist())
    return f"{a.shape}:{hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()}"


def figures(layout) -> list:
    return [pane.object for pane in layout.select(pn.pane.Bokeh)]


def signature(figs) -> dict[str, str]:
    """Digest of every ColumnDataSource of the figures, by source id."""
    out = {}
    for fig in figs:
        for src in fig.select({"type": ColumnDataSource}):
            out[src.id] = ";".join(f"{k}={_digest(v)}" for k, v in sorted(src.data.items()))
    return out


def assert_every_move_changes_plots(page, figs, sig: dict, moves: dict, url_params) -> None:
    """Every control (each one mirrored in the URL) gets a move, and each move changes some plot's data."""
    for name in url_params:
        assert name in moves, name
    for name, value in moves.items():
        setattr(page.model, name, value)
        new = signature(figs)
        changed = [k for k in new if new[k] != sig.get(k)]
        assert changed, f"moving {name} changed no plot data"
        assert not page.notice.visible, (name, page.notices.text)
        sig = new


def test_pages_are_registered():
    slugs = {p.slug: p.title for p in PAGES}
    assert slugs["bifurcation"] == "Bifurcation" and slugs["cliff"] == "Loss cliff"


def test_bifurcation_page_builds_and_every_control_changes_the_plots():
    page = BifurcationPage(query={})
    figs = figures(page.panel())
    assert len(figs) == 4
    sig = signature(figs)
    assert len(page.stable_source.data["xs"]) == 2 and len(page.unstable_source.data["xs"]) == 1  # w = 5, b in range
    assert page.fold_source.data["b"].shape == (2,)
    assert page.sens_map.source.data["image"][0].shape == (bifurcation.MAP_N, bifurcation.MAP_N)
    assert "analytic at equilibrium" in page.values_text.object
    assert not page.notice.visible
    assert_every_move_changes_plots(page, figs, sig, BIFURCATION_MOVES, bifurcation.URL_PARAMS)


def test_bifurcation_b_and_x0_moves_keep_the_map():
    """Inside the plotted window, b and x(0) only move markers: the (b, x0) map is not recomputed."""
    page = BifurcationPage(query={})
    image = page.sens_map.source.data["image"][0]
    page.model.b = -2.45
    page.model.x0 = 0.55
    assert page.sens_map.source.data["image"][0] is image
    assert page.point_source.data["b"][0] == pytest.approx(-2.45)


def test_bifurcation_defers_the_map_when_asked():
    page = BifurcationPage(query={}, defer=True)
    assert page.sens_map.source.data["image"][0].shape == (1, 1) and len(page.pending) == 1
    page.pending.pop()()
    assert page.sens_map.source.data["image"][0].shape == (bifurcation.MAP_N, bifurcation.MAP_N)
    assert page.down_source.data["b"].shape == (bifurcation.HYSTERESIS_N,)


def test_bifurcation_map_click_picks_b_and_x0():
    page = BifurcationPage(query={})
    fig = page.sens_map.figure
    fig._trigger_event(Tap(fig, x=-2.7, y=0.25, sx=0, sy=0))
    assert (page.model.b, page.model.x0) == (pytest.approx(-2.7), pytest.approx(0.25))
    fig._trigger_event(Tap(fig, x=-99.0, y=99.0, sx=0, sy=0))  # clamped to the sliders' bounds
    assert (page.model.b, page.model.x0) == (page.model.param.b.bounds[0], page.model.param.x0.bounds[1])


def test_bifurcation_overflow_and_underflow_are_named():
    page = BifurcationPage(query={})
    page.model.param.update(**bifurcation.PRESETS["ε = 1 on the separatrix (overflow)"])
    assert page.overflow_notice.visible and "overflowed float32" in page.overflow_notice.object
    assert "overflowed float32" in page.values_text.object
    page.model.param.update(**bifurcation.PRESETS["long memory: ∂x(T)/∂x(0) vanishes (underflow)"])
    assert "underflowed float32" in page.values_text.object and "underflowed" in page.overflow_notice.object
    assert not page.notice.visible


def test_bifurcation_bad_link_values_give_a_notice():
    page = BifurcationPage(query={"w": "999", "method": "nope", "x0": "abc", "b": "-2.4"})
    assert page.notice.visible
    text = page.notices.text
    assert "Link settings adjusted" in text and "w=999 is out of range" in text and "method='nope'" in text
    assert "x0='abc'" in text
    assert page.model.b == pytest.approx(-2.4) and page.model.w == page.model.param.w.bounds[1]


def test_cliff_page_builds_and_every_control_changes_the_plots():
    page = LossCliffPage(query={})
    figs = figures(page.panel())
    assert len(figs) == 5
    sig = signature(figs)
    assert page.curve_source.data["b"].shape == (cliff.LOSS_N,)
    assert page.wall1.location == pytest.approx(-2.5, abs=0.01)  # the wall, found from the engine's |dL/db|
    assert "jumped over the wall" in page.summary.object and "catapulted off the map" in page.summary.object
    assert_every_move_changes_plots(page, figs, sig, CLIFF_MOVES, cliff.URL_PARAMS)


def test_cliff_clicks_set_the_start_points():
    page = LossCliffPage(query={})
    before = page.path2["plain"].data["w"].copy()
    fig = page.surface_map.figure
    fig._trigger_event(Tap(fig, x=6.0, y=-3.0, sx=0, sy=0))
    assert (page.model.start_w, page.model.start_b) == (pytest.approx(6.0), pytest.approx(-3.0))
    assert page.path2["plain"].data["w"][0] == pytest.approx(6.0) and not np.array_equal(
        page.path2["plain"].data["w"], before
    )
    curve = page.curve_figure
    curve._trigger_event(Tap(curve, x=-2.45, y=0.1, sx=0, sy=0))
    assert page.model.b == pytest.approx(-2.45)
    assert page.path1["plain"].data["b"][0] == pytest.approx(-2.45)


def test_cliff_replay_and_step_bounds():
    page = LossCliffPage(query={})
    page.model.shown_step = 3
    assert page.path1["plain"].data["b"].shape == (4,) and page.path2["clipped"].data["w"].shape == (4,)
    page.model.descent_steps = 20  # the replay step stays inside the new path
    assert page.model.param.shown_step.bounds == (0, 20) and page.model.shown_step == 3
    page.model.shown_step = 20
    page.model.descent_steps = 30  # a replay at the end follows the end
    assert page.model.shown_step == 30 and page.path1["plain"].data["b"].shape == (31,)


def test_cliff_clipped_steps_are_controlled_on_the_page():
    """The default (start next to the wall): the plain 1-D step jumps far, every clipped step is <= lr * threshold."""
    page = LossCliffPage(query={})
    d1 = page._d1
    cap = page.model.learning_rate * page.model.clip_norm
    assert np.nanmax(d1.plain.update_norm) > 10 * cap
    assert np.nanmax(d1.clipped.update_norm) <= cap * (1 + 1e-5)
    steps = page.step_profile.source.data
    assert np.nanmax(steps["clipped_1d"]) <= cap * (1 + 1e-5) and np.nanmax(steps["plain_1d"]) > 10 * cap


def test_cliff_bad_link_values_give_a_notice():
    page = LossCliffPage(query={"learning_rate": "5", "descent_steps": "99999", "surface": "nope", "b": "-2.45"})
    text = page.notices.text
    assert page.notice.visible and "learning_rate='5'" in text and "descent_steps=99999 is out of range" in text
    assert "surface='nope'" in text
    assert page.model.b == pytest.approx(-2.45) and page.model.descent_steps == cliff.MAX_DESCENT_STEPS


def test_presets_apply_without_errors():
    for page_cls, presets in ((BifurcationPage, bifurcation.PRESETS), (LossCliffPage, cliff.PRESETS)):
        page = page_cls(query={})
        for label, values in presets.items():
            page.model.param.update(**values)
            assert not page.notice.visible, (label, page.notices.text)


def test_moving_controls_compiles_nothing_after_warm_up(compile_counter):
    # Panel hands integral slider values over as Python ints: the page must cast them at the engine boundary.
    int_moves = (dict(w=6, b=-2, x0=1, eps=1, u=0, w_in=2), dict(b=-2, start_w=6, start_b=-3))
    runs = list(zip((BifurcationPage, LossCliffPage), (BIFURCATION_MOVES, CLIFF_MOVES), int_moves))

    def exercise():
        for page_cls, moves, ints in runs:
            page = page_cls(query={})
            for name, value in list(moves.items()) + list(ints.items()):
                setattr(page.model, name, value)
                assert not page.notice.visible, (name, page.notices.text)

    exercise()  # warm-up: the first pages of a process compile (the server warms up at start-up instead)
    with compile_counter() as compiles:
        exercise()
    assert compiles == []


def test_link_round_trip_of_float_choices():
    """The URL mirror writes 1.0 as "1": reading it back selects 1.0 (no "ignored" notice)."""
    page = LossCliffPage(query={"clip_norm": "1", "learning_rate": "0.3"})
    assert page.model.clip_norm == 1.0 and page.model.learning_rate == 0.3
    assert not page.notice.visible, page.notices.text


def test_bifurcation_on_the_separatrix_explains_the_explosion():
    page = BifurcationPage(query={})
    page.model.param.update(**bifurcation.PRESETS["start on the separatrix: ∂x(T)/∂x(0) explodes"])
    assert "rests on the unstable equilibrium" in page.values_text.object
