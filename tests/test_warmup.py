"""The warm-up's results for the running server's shared cache (``app/warmup.py``): the Deep page's default training
run is trained once, and every session at the default settings then shows it without training."""

from __future__ import annotations

import param

from app import warmup
from app.components.results_cache import SharedResults
from app.pages import deep


class SmallDefaults(deep.DeepNetworkModel):
    """The default page, small enough for the fast suite (the same code path: ``train_default_run`` trains whatever
    ``DeepNetworkModel()`` is)."""

    depth = param.Integer(4, bounds=(1, 200))
    width = param.Selector(default=16, objects=[16, 32])
    steps = param.Integer(20, bounds=(10, 2000), step=10)


def test_the_default_run_is_trained_once_and_a_default_session_shows_it_without_training(monkeypatch):
    monkeypatch.setattr(deep, "RESULTS", SharedResults())
    monkeypatch.setattr(deep, "DeepNetworkModel", SmallDefaults)
    chunks = list(deep.train_default_run())
    assert len(chunks) == 20 // deep.mlp.JACOBIAN_EVERY  # one warm-up task per chunk: moves interleave
    trace = deep.RESULTS.get(deep.training_key(SmallDefaults()))
    assert trace is not None and trace.steps == 20
    assert list(deep.train_default_run()) == []  # already there: nothing is trained again

    page = deep.DeepNetworkPage(SmallDefaults(), query={})
    assert page._trace is trace and page._runner.idle  # shown at once; no run started
    assert len(page.loss_source.data["step"]) == 20
    page.close()


def test_the_default_run_follows_its_programs_and_is_no_compilation_step():
    whats = [step.what for step in warmup.warmup_steps(widths=(128,))]
    run = whats.index(warmup.DEFAULT_DEEP_RUN)
    assert run > max(i for i, what in enumerate(whats) if what.startswith("deep network, width 128, up to"))
    assert run < whats.index("bifurcation maps")  # before the other pages: the first class opens the default page


def test_sessions_showing_the_same_finished_run_make_its_step_frames_once(monkeypatch):
    """A class opening the default page: the first session makes the run's step frames, the others reuse them
    (``deep.SHARED_FRAMES``) and send the same frames."""
    monkeypatch.setattr(deep, "RESULTS", SharedResults())
    monkeypatch.setattr(deep, "DeepNetworkModel", SmallDefaults)
    monkeypatch.setattr(deep, "SHARED_FRAMES", deep.SharedFrames())
    list(deep.train_default_run())
    made = []
    row_frames = deep.DeepNetworkPage._row_frames
    monkeypatch.setattr(
        deep.DeepNetworkPage, "_row_frames", lambda self, row, m: made.append(row) or row_frames(self, row, m)
    )

    first = deep.DeepNetworkPage(SmallDefaults(), query={})
    assert sorted(made) == list(range(1, 20))  # rows 1..19 (row 0 is the base)
    second = deep.DeepNetworkPage(SmallDefaults(), query={})
    assert sorted(made) == list(range(1, 20))  # none made again
    assert second.step_frames.store.data == first.step_frames.store.data
    assert second.step_frames.resolve(7) == first.step_frames.resolve(7)

    second.model.depth = 5  # another network: its own base, no run yet
    assert second.step_frames.store.data["key"] == ["init"]
    first.close()
    second.close()
