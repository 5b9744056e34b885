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
