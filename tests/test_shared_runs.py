"""Training runs shared by sessions (``app/components/shared_runs.py``): a run in progress is followed by every
session asking for its configuration, computed once, and dropped with its last follower."""

from __future__ import annotations

import gc
import threading
import time

import param
import pytest

from app.components import shared_runs
from app.components.results_cache import SharedResults
from app.components.shared_runs import SharedRuns
from app.pages import deep


def counting_run(made: list, n: int = 5, pause_s: float = 0.0):
    """A cumulative run of ``n`` items (item k: the list 0..k), appending to ``made`` as it computes each."""

    def run():
        try:
            for k in range(n):
                time.sleep(pause_s)
                made.append(k)
                yield list(range(k + 1))
        finally:
            made.append("closed")

    return run


def test_followers_of_one_key_share_every_item_and_a_late_one_gets_the_newest():
    runs, made = SharedRuns(), []
    a = runs.follow("key", counting_run(made))
    b = runs.follow("key", counting_run(made))
    assert next(a) == [0] and next(b) == [0]  # b is handed a's item
    assert next(b) == [0, 1] and next(a) == [0, 1]  # a is handed b's
    late = runs.follow("key", counting_run(made))
    assert next(late) == [0, 1]  # the newest item at once, not the first
    assert list(a) == [[0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]]
    assert list(b) == [[0, 1, 2, 3, 4]] and list(late) == [[0, 1, 2, 3, 4]]  # lagging: the newest only
    assert made == [0, 1, 2, 3, 4, "closed"]  # each item computed once


def test_a_run_goes_on_when_one_follower_leaves_and_ends_with_the_last():
    runs, made = SharedRuns(), []
    a, b = runs.follow("key", counting_run(made)), runs.follow("key", counting_run(made))
    next(a)
    del a  # a session moved on: its iterator is dropped
    assert next(b) == [0] and next(b) == [0, 1]
    assert runs.running("key") is not None
    del b
    gc.collect()
    assert runs.running("key") is None and made[-1] == "closed"  # the run's generator is closed with it
    again = runs.follow("key", counting_run(made))  # a new request starts a new run
    assert next(again) == [0]


def test_the_error_that_stops_a_run_reaches_every_follower():
    def failing():
        yield [0]
        raise FloatingPointError("NaN loss")

    runs = SharedRuns()
    a, b = runs.follow("key", failing), runs.follow("key", failing)
    assert next(a) == [0] and next(b) == [0]
    with pytest.raises(FloatingPointError):
        next(a)
    with pytest.raises(FloatingPointError):
        next(b)


def test_followers_on_two_threads_compute_each_item_once():
    runs, made = SharedRuns(), []
    seen: dict[str, list] = {}

    def follow(name):
        seen[name] = list(runs.follow("key", counting_run(made, n=8, pause_s=0.02)))

    threads = [threading.Thread(target=follow, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert made == [*range(8), "closed"]
    assert seen["a"][-1] == seen["b"][-1] == list(range(8))


class Small(deep.DeepNetworkModel):
    depth = param.Integer(4, bounds=(1, 200))
    width = param.Selector(default=16, objects=[16, 32])
    steps = param.Integer(40, bounds=(10, 2000), step=10)


def test_two_deep_sessions_training_the_same_settings_train_once(monkeypatch):
    """The second session asks while the first one's run is in progress: it follows that run."""
    monkeypatch.setattr(deep, "RESULTS", SharedResults())
    monkeypatch.setattr(shared_runs, "SHARED_RUNS", SharedRuns())
    monkeypatch.setattr(deep, "SHARED_FRAMES", deep.SharedFrames())
    chunks = []
    real = deep.training_run

    def slow_training_run(key):
        for trace in real(key):
            time.sleep(0.3)  # the second session starts while the first one trains
            chunks.append(trace.steps)
            yield trace

    monkeypatch.setattr(deep, "training_run", slow_training_run)
    first = deep.DeepNetworkPage(Small(), query={})
    second = deep.DeepNetworkPage(Small(), query={})
    first.settle(timeout_s=120)
    second.settle(timeout_s=120)
    assert chunks == [10, 20, 30, 40]  # one run of 40 steps, in chunks of 10
    for page in (first, second):
        assert page._trace.steps == 40 and len(page.loss_source.data["step"]) == 40
    assert second.step_frames.resolve(33) == first.step_frames.resolve(33)
    first.close()
    second.close()
