"""app/pages/cliff.py without a server (Pascanu, Mikolov & Bengio 2013, Sec. 3 and Fig. 6): it builds, every
control changes its plots' data, clicks set the start points, the replay and clipped steps are bounded, and bad link
values become a notice."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.events import Tap

from app.pages import cliff
from app.pages.cliff import LossCliffPage
from tests.page_moves import CLIFF_MOVES, assert_every_move_changes_plots, figures, signature


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


def test_link_round_trip_of_float_choices():
    """The URL mirror writes 1.0 as "1": reading it back selects 1.0 (no "ignored" notice)."""
    page = LossCliffPage(query={"clip_norm": "1", "learning_rate": "0.3"})
    assert page.model.clip_norm == 1.0 and page.model.learning_rate == 0.3
    assert not page.notice.visible, page.notices.text
