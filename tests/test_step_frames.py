"""Step frames (app/components/step_frames.py): what the browser picks for a step is what the server draws for it,
each frame is sent once, and the Deep page's frames hold the trace's numbers at every trained step."""

from __future__ import annotations

import json

import numpy as np
import panel as pn
import pytest
from bokeh.models import ColumnDataSource, Title

from app.components.browser_views import browser_only
from app.components.step_frames import ALSO, BASE, StepFrames, relative, step_key


def make_frames():
    source, title = ColumnDataSource(data=dict(x=[], y=[])), Title(text="")
    slider = browser_only(pn.widgets.IntSlider)(start=0, end=30, value=0)
    frames = StepFrames("shown_step", slider, {"line": (source, "data"), "title": (title, "text")})
    return frames, source, title


def test_a_step_resolves_to_its_frame_over_the_base_and_an_unknown_step_to_the_base():
    frames, source, title = make_frames()
    x = np.arange(3.0)
    base = {"line": dict(x=x, y=np.array([1.0, np.nan, 3.0])), "title": "at init"}
    hist = {"title": "measured at step 10"}
    step = {"line": dict(x=x.copy(), y=np.array([2.0, 2.0, np.nan])), ALSO: ["d10"]}
    frames.reset({BASE: base, step_key(12): step, "d10": hist})
    # x equals the base's: sent once, in the base only
    assert list(frames.frames[step_key(12)]["line"]) == ["y"]
    got = frames.resolve(12)
    np.testing.assert_array_equal(got["line"]["x"], x)
    np.testing.assert_array_equal(got["line"]["y"], step["line"]["y"])
    assert got["title"] == "measured at step 10"
    assert frames.resolve(13) == frames.resolve(0) and frames.resolve(0)["title"] == "at init"

    frames.draw(12)
    np.testing.assert_array_equal(source.data["y"], [2.0, 2.0, np.nan])
    assert title.text == "measured at step 10"
    assert not source.syncable and not title.syncable  # the browser's writes stay in the browser


def test_extend_streams_only_the_new_frames_and_draw_skips_what_it_drew(monkeypatch):
    frames, source, title = make_frames()
    base = {"line": dict(x=np.arange(2.0), y=np.zeros(2)), "title": "init"}
    frames.reset({BASE: base, step_key(1): {"title": "one"}})
    streamed = []
    original = ColumnDataSource.stream

    def spy(self, data, *args, **kwargs):
        streamed.append(list(data["key"]))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(ColumnDataSource, "stream", spy)
    frames.extend({step_key(1): {"title": "one"}, step_key(2): {"title": "two"}, step_key(3): {"title": "three"}})
    assert streamed == [[step_key(2), step_key(3)]]  # step 1 is held already
    assert list(frames.store.data["key"]) == [BASE, step_key(1), step_key(2), step_key(3)]

    frames.draw(2)
    assert title.text == "two"
    version = frames.version.value
    title.text = "changed elsewhere"
    frames.draw(2)  # the same frames: nothing set again, but the browser is told to re-apply its step
    assert title.text == "changed elsewhere" and frames.version.value == version + 1


def test_relative_keeps_differing_columns_with_nan_equal_to_nan():
    attrs = {"line": "data", "title": "text"}
    base = {"line": dict(x=[1, 2], y=np.array([np.nan, 1.0]), kind=["a", "b"]), "title": "t"}
    frame = {"line": dict(x=[1, 2], y=np.array([np.nan, 1.0]), kind=["a", "c"]), "title": "t"}
    assert list(relative(frame, base, attrs)["line"]) == ["kind"]


def test_the_browser_step_watcher_reads_json_and_ignores_anything_else():
    frames, _, _ = make_frames()
    got = []
    frames.on_step(got.append)
    for text in ('{"step": 7, "seq": 1}', "not json", '{"step": "7"}', '{"step": true}', '{"other": 1}', "null"):
        frames.carrier.value = text  # as the browser writes it
    assert got == [7]
    assert json.loads('{"step": 7.4}')["step"] == 7.4
    frames.carrier.value = '{"step": 7.4}'
    assert got == [7, 7]


@pytest.fixture(scope="module")
def trained_page():
    from app.pages.deep import DeepNetworkModel, DeepNetworkPage

    page = DeepNetworkPage(DeepNetworkModel(depth=6, width=16, steps=20, activation="tanh"), query={})
    page.panel()
    page.settle()
    return page


def test_deep_frames_hold_the_trace_at_every_trained_step(trained_page):
    from vgp_core import mlp

    page, trace = trained_page, trained_page._trace
    assert trace is not None and trace.steps == 20
    frames = page.step_frames
    assert all(frames.has(step_key(s)) for s in range(1, 20)) and not frames.has(step_key(20))
    for s in (1, 9, 10, 19):
        got = frames.resolve(s)
        # the trained line and the statistics are the trace's own row s (float32 values, drawn as float64)
        np.testing.assert_array_equal(got["profile"]["trained"], trace.backprop_norm[s].astype(np.float64))
        np.testing.assert_array_equal(got["stats"]["mean"], trace.act_mean[s].astype(np.float64))
        jac = trace.jacobian_sv_mean[s - s % mlp.JACOBIAN_EVERY]
        np.testing.assert_array_equal(got["stats"]["jacobian"], jac.astype(np.float64))
        assert got["stats_title"] == f"Activations per layer at step {s}"
        # the histogram image: log10 share of each bin among all of a layer's entries, from NumPy on the counts
        k = s // mlp.JACOBIAN_EVERY
        counts = np.asarray(trace.layer_diagnostics.grad_hist[k], np.float64)
        with np.errstate(divide="ignore"):
            expected = np.log10(counts / counts.sum(axis=1, keepdims=True))[:, 1:-2]
        image = np.asarray(got["grad_hist"]["image"][0], np.float64)
        filled = np.isfinite(expected)
        assert np.array_equal(np.isfinite(image), filled)
        # float32 image (see LayerHistogramMap.drawn): 1e-6 relative, far below one of the 256 colour steps
        np.testing.assert_allclose(image[filled], np.maximum(expected[filled], -5.0), rtol=1e-6, atol=1e-6)
        assert got["grad_title"].endswith(f"at step {k * mlp.JACOBIAN_EVERY} (training batch)")
    assert frames.resolve(0)["stats_title"] == "Activations per layer at initialization"
    assert np.isnan(frames.resolve(0)["profile"]["trained"]).all()  # no trained line at initialisation


def test_the_server_draws_the_frame_the_browser_picks(trained_page):
    page = trained_page
    for s in (13, 0, 5):
        page.model.shown_step = s
        want = page.step_frames.resolve(s)
        for target, value in want.items():
            obj, attr = page.step_frames.targets[target]
            drawn = getattr(obj, attr)
            if attr == "data":
                assert set(drawn) == set(value), target
                for column in value:
                    np.testing.assert_array_equal(np.asarray(drawn[column]), np.asarray(value[column]))
            else:
                assert drawn == value, target
    page.step_frames.carrier.value = '{"step": 500, "seq": 1}'  # the browser's step, sent before a download
    assert page.model.shown_step == 19  # the browser's step, clamped to the trained steps' bounds


def test_a_finished_run_from_the_shared_results_gets_its_frames_a_few_at_a_time(trained_page, monkeypatch):
    """Served (``defer``), a page that shows a finished run of the shared results shows it after its own views (a
    later tick), then builds the frames of the server's own step and of the first FRAMES_PER_TICK steps at once,
    and the rest on later ticks (here: ``settle``)."""
    from app.pages import deep

    monkeypatch.setattr(deep, "FRAMES_PER_TICK", 5)
    model = deep.DeepNetworkModel(depth=6, width=16, steps=20, activation="tanh", shown_step=15)
    page = deep.DeepNetworkPage(model, query={}, defer=True)  # the trained page's run: shown on a later tick
    assert page._trace is None and not page.step_frames.has(step_key(1))
    while page._trace is None:  # the ticks before it: the sweep and the Jacobian measurement
        page.pending.pop(0)()
    assert page._trace.steps == 20
    held = {s for s in range(1, 20) if page.step_frames.has(step_key(s))}
    assert held == {1, 2, 3, 4, 5, 15}
    page.settle()
    assert all(page.step_frames.has(step_key(s)) for s in range(1, 20))
    np.testing.assert_array_equal(
        page.step_frames.resolve(12)["stats"]["mean"], trained_page.step_frames.resolve(12)["stats"]["mean"]
    )


def test_each_frame_holds_the_summary_the_server_makes_of_its_step(trained_page):
    """A move in the browser shows the summary of the step it draws (WCAG 1.1.1): each step's frame holds every
    step figure's summary, the very text the server's own summary makes once it draws that step (so the server's
    refresh sends nothing that would overwrite the browser's)."""
    from app.components.figure_text import FigureText, paragraph
    from app.pages.deep import STEP_FIGURES, _summary_target

    page = trained_page
    figures = page.figures()
    for s in (0, 7, 13):
        page.model.shown_step = s
        want = page.step_frames.resolve(s)
        for name in STEP_FIGURES:
            assert paragraph(FigureText.of(figures[name]).sentence()) == want[_summary_target(name)], (s, name)
    stats = _summary_target("activation-stats")
    assert "at step 7:" in page.step_frames.resolve(7)[stats]
    assert page.step_frames.resolve(7)[stats] != page.step_frames.resolve(13)[stats]


def test_frames_made_anew_keep_the_diagnostics_they_show(trained_page):
    """Frames sent anew (a new base: here a new profile object, as when the Jacobian measurement arrives after a
    finished run was shown from the shared results) hold the diagnostics' frames again: the histograms of step 12
    are those measured at step 10, not the initialisation's (they were dropped as "already sent")."""
    import dataclasses

    page = trained_page
    assert page.step_frames.resolve(12)["act_title"].endswith("at step 10 (training batch)")
    page._profile = dataclasses.replace(page._profile)
    page._draw_profile()
    assert page.step_frames.resolve(12)["act_title"].endswith("at step 10 (training batch)")
    assert page.step_frames.resolve(3)["grad_title"].endswith("at step 0 (training batch)")
