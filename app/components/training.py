"""Background training that streams partial results into a Bokeh document and is cancelled by newer runs.

One worker thread per server process runs every session's training (XLA releases the GIL, so the server keeps
answering slider moves; two CPU cores cannot train many nets at once anyway). Runs advance one chunk per task and
go to the back of the queue after each chunk, so a class of students share the worker round-robin instead of
waiting for one long run. A run checks its token before every chunk; starting a new run or closing the session
invalidates the old token.
"""
from __future__ import annotations

import concurrent.futures
import functools
import itertools
import logging
import threading
import time
from typing import Callable, Iterable, Iterator

log = logging.getLogger(__name__)
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vgp-train")
#: A second worker for slow views (e.g. the Bifurcation page's sensitivity map), so that they never wait behind a
#: training run or the start-up warm-up: pass it as ``BackgroundRun(..., executor=VIEWS_POOL)``.
VIEWS_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vgp-views")


class BackgroundRun:
    """Runs ``make_iterator()`` on the worker and hands every item to ``on_item`` on the document's thread."""

    def __init__(self, doc, on_item: Callable[[object], None], on_error: Callable[[Exception], None],
                 executor: concurrent.futures.Executor | None = None):
        """``executor``: where runs execute (default: the training worker)."""
        self._doc = doc
        self._executor = executor or _POOL
        self._on_item = on_item
        self._on_error = on_error
        self._tokens = itertools.count(1)
        self._token = 0
        self._lock = threading.Lock()
        self._queued = 0  # tasks of this runner queued or running on the executor
        self._idle = threading.Condition(threading.Lock())

    def start(self, make_iterator: Callable[[], Iterator]) -> None:
        with self._lock:
            self._token = token = next(self._tokens)
        self._submit(self._run, token, make_iterator)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until none of this runner's work is queued or running (``True``), or ``timeout`` seconds pass
        (``False``). Without a server every result has then been handed to ``on_item``; in a server the last
        results may still wait for the document's next tick, so never call it on the event loop."""
        with self._idle:
            return self._idle.wait_for(lambda: self._queued == 0, timeout)

    @property
    def idle(self) -> bool:
        return self._queued == 0

    def _submit(self, fn, *args) -> None:
        with self._idle:
            self._queued += 1
        try:
            self._executor.submit(self._tracked, fn, *args)
        except BaseException:  # e.g. the executor shut down at interpreter exit
            self._done()
            raise

    def _tracked(self, fn, *args) -> None:
        try:
            fn(*args)
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._queued -= 1
            if self._queued == 0:
                self._idle.notify_all()

    def cancel(self) -> None:
        with self._lock:
            self._token = next(self._tokens)

    def is_current(self, token: int) -> bool:
        return token == self._token

    def _run(self, token: int, make_iterator) -> None:
        if not self.is_current(token):
            return  # superseded while queued
        try:
            iterator = iter(make_iterator())
        except Exception as exc:  # shown as a notice on the page, never a dead worker
            log.exception("background run failed to start")
            self._deliver(token, self._on_error, exc)
            return
        self._step(token, iterator)

    def _step(self, token: int, iterator) -> None:
        """Advance one chunk, hand it over, and queue the next chunk behind other sessions' work."""
        if not self.is_current(token):
            return
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            log.exception("background run failed")
            self._deliver(token, self._on_error, exc)
            return
        self._deliver(token, self._on_item, item)
        self._submit(self._step, token, iterator)

    def _deliver(self, token, fn, item):
        def apply():
            if self.is_current(token):
                fn(item)

        if self._doc is not None and self._doc.session_context is not None:
            self._doc.add_next_tick_callback(apply)
        else:  # notebook or plain Python: no server event loop to hand over to
            apply()


def settle_work(pending: list, runners: Iterable[BackgroundRun], timeout_s: float, what: str) -> None:
    """A page's ``settle`` outside a server: run the deferred calls in ``pending`` (in order, including any they
    queue), then wait for every runner to finish; repeat until nothing is left. ``TimeoutError`` after
    ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    runners = list(runners)
    while True:
        while pending:
            pending.pop(0)()
        for runner in runners:
            if not runner.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"{what}: background work still running after {timeout_s:g} s")
        if not pending:
            return


def submit(fn, *args, **kwargs) -> concurrent.futures.Future:
    """Run ``fn`` on the training worker (used by warm-up so it never competes with a training run)."""
    return _POOL.submit(functools.partial(fn, *args, **kwargs))
