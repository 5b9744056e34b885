"""The Edge of chaos page without a server: it builds, is registered and linked from the Deep page, every control
changes its plots, the presets apply, non-finite values are named, bad link values become a notice, the deferred
views wait for ``settle``, and moving the controls compiles nothing once the programs are warm."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.pages import PAGES, deep, edge_of_chaos
from app.pages.edge_of_chaos import EdgeOfChaosPage
from tests.page_moves import assert_every_move_changes_plots, figures, signature
from vgp_core import signal_propagation as sp

# small networks keep the page test fast: the spectrum's cost is width^3 per layer
SMALL = dict(depth=12, width=32)
MOVES = dict(sigma_w2=2.2, sigma_b2=0.1, depth=20, width=64, weights="orthogonal", activation="relu")


def test_page_is_registered_and_linked_from_the_deep_page():
    assert {p.slug: p.title for p in PAGES}["edge-of-chaos"] == "Edge of chaos"
    assert any("?page=edge-of-chaos" in body for _, body in deep.EXPLANATION)


def test_page_builds_and_every_control_changes_the_plots():
    page = EdgeOfChaosPage(query={k: str(v) for k, v in SMALL.items()})
    figs = figures(page.panel())
    own = ["length-map", "correlation-map", "phase-diagram", "depth-scales", "measured-vs-theory"]
    own += ["singular-values", "mean-squared-singular-value", "extreme-singular-values"]
    assert len(figs) == len(page.figures()) and set(own) <= set(page.figures())
    # theory drawn at once: q* on the length map is the engine's fixed point
    fp = sp.fixed_points("tanh", 1.5, 0.05)
    assert page.q_fixed.data["x"][0] == pytest.approx(fp.q_star)
    assert "ordered" in page.theory_text.object
    # the spectrum: one bar per bin, and its prediction
    assert len(page.hist.data["top"]) == edge_of_chaos.HISTOGRAM_BINS and len(page.predicted.data["y"]) > 0
    assert len(page.m1.data["measured"]) == SMALL["depth"]
    sig = signature(figs)
    assert_every_move_changes_plots(page, figs, sig, MOVES, page.URL_PARAMS)


def test_presets_apply_without_errors():
    page = EdgeOfChaosPage(query={"width": "32"})
    for label, values in edge_of_chaos.PRESETS.items():
        page.model.param.update(**dict(values, depth=min(values["depth"], 40)))
        assert not page.notice.visible, (label, page.notices.text)
        assert page.spectrum_text.object.startswith("**Spectrum")
    # the last preset is ReLU: its prediction is drawn and half its singular values are below the float32 floor
    assert "below it" in page.spectrum_text.object


def test_linear_orthogonal_preset_shows_one_value():
    page = EdgeOfChaosPage(query={"width": "32"})
    page.model.param.update(**dict(edge_of_chaos.PRESETS["linear + orthogonal (isometry)"], depth=16))
    counts = np.asarray(page.hist.data["top"])
    assert np.count_nonzero(counts) == 1  # every singular value equal: one bin
    assert np.allclose(page.extremes.data["condition"], 0.0, atol=1e-4)


def test_no_prediction_is_said_plainly_and_overflow_is_named():
    page = EdgeOfChaosPage(query={"width": "32", "depth": "12", "activation": "sigmoid"})
    assert "no free-probability prediction" in page.spectrum_text.object
    assert len(page.predicted.data["y"]) == 0
    # ReLU with sigma_w^2 = 4 over 256 layers: lengths grow as 2^l, past float32 (inf), and there is no q*
    page.model.param.update(activation="relu", sigma_w2=4.0, sigma_b2=0.1, depth=256)
    assert not page.notice.visible, page.notices.text
    assert "not finite" in page.overflow.text
    assert "n/a" in page.theory_text.object or "∞" in page.theory_text.object
    assert len(page.c_map.data["x"]) == 0  # no correlation map without a finite q*


def test_bad_link_values_give_a_notice():
    page = EdgeOfChaosPage(query={"sigma_w2": "99", "activation": "<script>", "width": "32", "depth": "8"})
    assert page.notice.visible
    text = page.notices.text
    assert "Link settings adjusted" in text and "sigma_w2=99 is out of range" in text
    assert page.model.activation == "tanh" and page.model.sigma_w2 == edge_of_chaos.SIGMA_W2_RANGE[1]


def test_deferred_views_wait_for_settle():
    page = EdgeOfChaosPage(query={"width": "32", "depth": "8"}, defer=True)
    assert len(page.hist.data["top"]) == 0 and page.pending  # the spectrum waits
    assert len(page.length_figure.renderers) and len(page.q_map.data["x"])  # theory is drawn at once
    page.settle(60)
    assert len(page.hist.data["top"]) == edge_of_chaos.HISTOGRAM_BINS and len(page.phase_line.data["x"])


def test_phase_line_is_the_critical_sigma_w2():
    page = EdgeOfChaosPage(query={"width": "32", "depth": "8"})
    line = np.asarray(page.phase_line.data["x"])
    sb2 = np.asarray(page.phase_line.data["y"])
    i = int(np.argmin(np.abs(sb2 - 0.0)))
    # grid spacing of sigma_w^2 is 0.083: interpolating ln chi_1 linearly is good to ~1e-2 here
    assert line[i] == pytest.approx(sp.critical_sigma_w2("tanh", float(sb2[i])), abs=0.02)
    assert math.isfinite(page.critical_marker.location)


def test_moving_controls_compiles_nothing_after_warm_up(compile_counter):
    # Panel hands integral slider values as Python ints: the page casts them (sigma_w2=2, sigma_b2=0 below).
    moves = dict(sigma_w2=2, sigma_b2=0, depth=10, weights="orthogonal", activation="relu")

    def exercise():
        page = EdgeOfChaosPage(query={"width": "32", "depth": "8"})
        for name, value in moves.items():
            setattr(page.model, name, value)
            assert not page.notice.visible, (name, page.notices.text)

    exercise()  # the first page of a process compiles (the server warms up at start-up instead)
    with compile_counter() as compiles:
        exercise()
    assert compiles == []
