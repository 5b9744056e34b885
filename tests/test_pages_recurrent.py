"""The Recurrent-network page without a server: every analysis control changes its plots' data, links with bad
values become a notice, and training fills the memory-task views."""

import time

import numpy as np

from app.pages.recurrent import RecurrentModel, RecurrentPage


def _data(page):
    out = {}
    for name, src in (
        ("sweep", page.sweep_map.source),
        ("curve", page.curve.source),
        ("cells", page.cells.source),
        ("note3", page.note3.source),
    ):
        out[name] = b"".join(
            np.asarray(v if k != "image" else v[0], dtype=float).tobytes() for k, v in sorted(src.data.items())
        )
    return out


def test_every_control_changes_its_views():
    model = RecurrentModel(hidden_size=16, T=40)
    page = RecurrentPage(model, query={})
    page.panel()
    expect = {
        "spectral_radius": ("curve", "cells"),
        "T": ("sweep", "curve", "note3"),
        "activation": ("sweep", "curve"),
        "family": ("sweep", "curve"),
        "cell": ("sweep", "curve"),
        "eps": ("note3",),
        "c": ("note3",),
        "seed": ("sweep", "curve"),
    }
    values = {
        "spectral_radius": 1.3,
        "T": 50,
        "activation": "sigmoid",
        "family": "orthogonal",
        "cell": "gru",
        "eps": 0.9,
        "c": 0.7,
        "seed": 4,
    }
    for name, views in expect.items():
        before = _data(page)
        setattr(model, name, values[name])
        after = _data(page)
        for view in views:
            assert after[view] != before[view], (name, view)
    assert page.radius_marker.location == 1.3
    assert not page.notice.visible


def test_bad_link_values_give_a_notice():
    page = RecurrentPage(RecurrentModel(hidden_size=16), query={"T": "5000", "cell": "transformer", "c": "abc"})
    assert page.model.T == 1000 and page.model.cell == "vanilla"
    assert "T=5000 is out of range" in page.notices.text and "cell='transformer'" in page.notices.text


def test_training_reports_held_out_accuracy():
    model = RecurrentModel(hidden_size=16, cell="lstm", train_length=10, train_steps=50)
    page = RecurrentPage(model, query={})
    page.train()
    deadline = time.time() + 120
    while time.time() < deadline and not page.results_source.data["length"]:
        time.sleep(0.2)
    assert page.results_source.data["length"] == [10]
    assert 0.0 <= page.results_source.data["accuracy"][0] <= 1.0
    assert "held-out accuracy" in page.progress_text.object


def test_sessions_pressing_train_on_the_same_settings_train_once(monkeypatch):
    """Two sessions train the same settings at once: one run, followed by both; a third session later is shown
    the finished run at once (``app/components/shared_runs.py``)."""
    from app.components import results_cache, shared_runs
    from app.pages import recurrent

    monkeypatch.setattr(recurrent, "RESULTS", results_cache.SharedResults())
    monkeypatch.setattr(shared_runs, "SHARED_RUNS", shared_runs.SharedRuns())
    chunks = []
    real = recurrent.rnn.train_memory_task_iter

    def counted(*args, **kwargs):
        for trace in real(*args, **kwargs):
            time.sleep(0.2)  # the second session presses Train while the first one's run is in progress
            chunks.append(trace.loss.shape[0])
            yield trace

    monkeypatch.setattr(recurrent.rnn, "train_memory_task_iter", counted)
    pages = [RecurrentPage(RecurrentModel(hidden_size=16, cell="lstm", train_length=10, train_steps=50), query={})]
    pages.append(RecurrentPage(RecurrentModel(hidden_size=16, cell="lstm", train_length=10, train_steps=50), query={}))
    for page in pages:
        page.train()
    for page in pages:
        page.settle(timeout_s=120)
    assert chunks == [25, 50]  # one run of 50 updates, in chunks of 25
    late = RecurrentPage(RecurrentModel(hidden_size=16, cell="lstm", train_length=10, train_steps=50), query={})
    late.train()
    late.settle(timeout_s=120)
    assert chunks == [25, 50]  # trained before on this server: shown, not trained
    for page in [*pages, late]:
        assert page.results_source.data["length"] == [10]
        assert page.results_source.data["accuracy"] == pages[0].results_source.data["accuracy"]
        page.close()
