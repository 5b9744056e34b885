"""app/pages/bifurcation.py without a server (Doya 1993): it builds, every control changes its plots' data, a click
on the map sets the start point, bad link values become a notice, overflow and underflow are named; and, with the
Loss-cliff page, presets apply and moving the controls compiles nothing once the programs are warm."""

from __future__ import annotations

import pytest
from bokeh.events import Tap

from app.pages import PAGES, bifurcation, cliff
from app.pages.bifurcation import BifurcationPage
from app.pages.cliff import LossCliffPage
from tests.page_moves import BIFURCATION_MOVES, CLIFF_MOVES, assert_every_move_changes_plots, figures, signature


def test_pages_are_registered():
    slugs = {p.slug: p.title for p in PAGES}
    assert slugs["bifurcation"] == "Bifurcation" and slugs["cliff"] == "Loss cliff"


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


def test_bifurcation_on_the_separatrix_explains_the_explosion():
    page = BifurcationPage(query={})
    page.model.param.update(**bifurcation.PRESETS["start on the separatrix: ∂x(T)/∂x(0) explodes"])
    assert "rests on the unstable equilibrium" in page.values_text.object
