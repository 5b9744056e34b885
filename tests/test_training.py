"""app/components/training.py: background runs interleave their chunks on the shared worker and stop when
cancelled."""

import contextlib
import threading
import time

from app.components import training


def test_background_runs_are_cancelled_and_share_the_worker():
    got = {"a": [], "b": []}
    done = threading.Event()

    def gen(name, n):
        for i in range(n):
            time.sleep(0.01)
            yield (name, i)
        if name == "b":
            done.set()

    a = training.BackgroundRun(None, lambda item: got["a"].append(item), lambda exc: None)
    b = training.BackgroundRun(None, lambda item: got["b"].append(item), lambda exc: None)
    a.start(lambda: gen("a", 1000))
    b.start(lambda: gen("b", 5))
    assert done.wait(10), "run b starved behind run a: chunks must interleave"
    a.cancel()
    time.sleep(0.1)
    n = len(got["a"])
    time.sleep(0.2)
    assert len(got["a"]) == n < 1000  # the cancelled run stopped
    assert [i for _, i in got["b"]] == list(range(5))


def test_a_callback_on_the_loop_waits_for_the_lock_until_the_browser_has_loaded_the_session():
    """Until BokehJS reports the session loaded, Panel leaves sending to Bokeh, which needs the document lock (it
    raised "_pending_writes should be non-None" from an unlocked callback): the call goes to a locked coroutine on
    the next tick instead of running unlocked."""

    class Document:  # a served session's document that the browser has not loaded yet
        session_context = object()

        def __init__(self):
            self.scheduled = []

        def add_next_tick_callback(self, fn):
            self.scheduled.append(fn)

    doc, calls = Document(), []
    callback = training.on_loop_unlocked(doc, lambda: calls.append("ran"))
    assert getattr(callback, "nolock", False)  # Bokeh runs it without its lock
    run(callback())
    assert calls == [] and len(doc.scheduled) == 1
    locked = doc.scheduled[0]
    assert not getattr(locked, "nolock", False)
    run(locked())
    assert calls == ["ran"]


def run(coroutine) -> None:
    """Run a coroutine that awaits nothing (one step)."""
    with contextlib.suppress(StopIteration):
        coroutine.send(None)
