"""The process's scheduler (issue "Every move instant"): views before training before warm-up, a move never waits
behind more than one chunk, the newest request of a runner replaces the queued older ones, the warm-up holds back
while students move."""

from __future__ import annotations

import threading
import time
import weakref

from app.components.scheduler import QUIET_S, TRAINING, VIEWS, WARMUP, Scheduler
from app.components.training import BackgroundRun


def test_a_view_does_not_wait_for_a_training_chunk_in_progress():
    sched = Scheduler(view_workers=1, background_workers=1)
    chunk_s, events = 0.5, []
    started = threading.Event()

    done_chunks = [0]

    def slow_chunk():  # a fake training run: 0.5 s chunks, re-queued at the back after each
        started.set()
        time.sleep(chunk_s)
        done_chunks[0] += 1
        events.append(("chunk", time.perf_counter()))
        if done_chunks[0] < 4:
            sched.submit(slow_chunk, TRAINING)

    sched.submit(slow_chunk, TRAINING)
    assert started.wait(5)
    t0 = time.perf_counter()
    done = threading.Event()
    sched.submit(lambda: (events.append(("view", time.perf_counter())), done.set()), VIEWS)
    assert done.wait(5)
    view_at = next(t for kind, t in events if kind == "view")
    assert view_at - t0 < chunk_s / 2  # answered while the chunk still runs, not after it
    assert not any(kind == "chunk" and t < view_at for kind, t in events)


def test_with_one_worker_a_view_runs_before_the_next_training_chunk():
    sched = Scheduler(view_workers=0, background_workers=1)
    order, started, finished = [], threading.Event(), threading.Event()

    def chunk(i):
        started.set()
        time.sleep(0.2)
        order.append(f"chunk{i}")
        if i < 2:
            sched.submit(lambda: chunk(i + 1), TRAINING)
        else:
            finished.set()

    sched.submit(lambda: chunk(0), TRAINING)
    assert started.wait(5)
    sched.submit(lambda: order.append("view"), VIEWS)
    assert finished.wait(5)
    assert order == ["chunk0", "view", "chunk1", "chunk2"]


def test_warmup_waits_for_quiet_and_for_other_work():
    sched = Scheduler(view_workers=0, background_workers=1)
    ran = threading.Event()
    sched.note_move()
    t0 = time.perf_counter()
    sched.submit(lambda: ran.set(), WARMUP)
    assert ran.wait(5)
    assert time.perf_counter() - t0 >= QUIET_S * 0.9  # not while a student moves

    order, done = [], threading.Event()
    gate = threading.Event()
    sched.submit(lambda: gate.wait(5), TRAINING)  # the worker is busy ...
    sched.submit(lambda: order.append("warmup") or done.set(), WARMUP)
    sched.submit(lambda: order.append("training"), TRAINING)  # ... and training queued after warm-up goes first
    gate.set()
    assert done.wait(5)
    assert order == ["training", "warmup"]


def test_a_dragged_slider_computes_the_newest_position_not_every_one():
    """20 requests at 20 ms intervals while each computation takes 100 ms: only a handful are computed, and the
    last result drawn is the last request's."""
    computed, drawn = [], []
    run = BackgroundRun(None, drawn.append, lambda exc: None, priority=VIEWS)

    def request(position):
        def compute():
            time.sleep(0.1)
            computed.append(position)
            return position

        run.start(lambda: iter([compute()]))

    for position in range(20):
        request(position)
        time.sleep(0.02)
    assert run.wait(10)
    assert drawn[-1] == 19
    assert len(computed) <= 6, computed


def test_a_closed_runner_lets_go_of_its_session():
    """A closed session's runner may still be queued on a busy scheduler: it must not keep the session's document
    and page alive until the queue drains (tests/test_session_memory.py found one under CI's load)."""

    class Stand:  # stands for the session's document and its page
        def on_item(self, item):
            pass

    doc, page = Stand(), Stand()
    run = BackgroundRun(doc, page.on_item, lambda exc: None)
    refs = weakref.ref(doc), weakref.ref(page)
    run.close()
    del doc, page
    assert [r() for r in refs] == [None, None]  # ``run`` (what a queued task holds) keeps neither
    assert run.idle
