"""app/components/training.py: background runs interleave their chunks on the shared worker and stop when
cancelled."""

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


def test_items_of_a_session_destroyed_meanwhile_are_dropped(caplog):
    """Bokeh destroys a closing session's document before its "destroyed" hooks close the session's runs, so a run
    can still deliver an item to a destroyed document: the item is dropped, nothing is logged (the classroom load
    test found "'DocumentCallbackManager' object has no attribute '_change_callbacks'" in the server log)."""
    from bokeh.document import Document

    class Session:  # what Bokeh's document keeps of its session: only its identity matters here
        pass

    doc, session = Document(), Session()
    doc._session_context = lambda: session  # a served document (Bokeh keeps a weak reference)
    doc.on_change_dispatch_to(session)
    drawn = []
    run = training.BackgroundRun(doc, drawn.append, lambda exc: drawn.append(exc))
    doc.destroy(session)
    with caplog.at_level("ERROR"):
        run.start(lambda: iter([1, 2]))
        assert run.wait(10)
    assert drawn == []
    assert caplog.records == []
    assert training.hand_over(doc, lambda: drawn.append("late")) is False
