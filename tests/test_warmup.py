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


def test_the_glorot_step_makes_every_committed_combination_once_for_all_sessions():
    """After the warm-up's Glorot step, a session's move to another committed run, activation or initialization
    finds the browser tables, their encoding and the figure summaries made (the first move to a combination took
    80–250 ms of server time to make them)."""
    from app import warmup
    from app.pages.glorot import page as glorot_page
    from app.pages.glorot import views

    (step,) = [s for s in warmup.warmup_steps() if s.what == warmup.GLOROT_TABLES]
    combinations = sum(1 for _ in step.run())
    assert combinations == len(glorot_page._COMMITTED_SUMMARIES) >= 12  # 2 committed runs x 3 activations x 2 inits
    for run, activation, init in glorot_page._COMMITTED_SUMMARIES:
        drawn, _ = views.committed_tables(run, activation, init)
        assert drawn._js, (run, activation, init)  # encoded for the browser
