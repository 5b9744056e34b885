"""Background runs (training, slow views) that stream partial results into a Bokeh document; a newer run of the
same runner replaces the older one.

Every run goes through the process's scheduler (``app.components.scheduler``) one item (a training chunk, a
view) per task; after each chunk a run re-queues itself at the back of its priority, so a class of students share
the workers round-robin instead of waiting for one long run. A run checks its token before every chunk: starting
a new run or closing the session invalidates the old token, so a dragged slider computes the latest position
only (the queued older request is dropped when its turn comes).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

import panel as pn
from panel.io.state import set_curdoc

from .scheduler import SCHEDULER, TRAINING, VIEWS, WARMUP

log = logging.getLogger(__name__)

__all__ = [
    "BackgroundRun",
    "document_hold",
    "hand_over",
    "on_loop",
    "settle_work",
    "submit",
    "TRAINING",
    "VIEWS",
    "WARMUP",
]

#: Without a server there is no event loop to hand results over to: the scheduler's workers (a views worker and a
#: background worker) apply them themselves, so two runs of one page (a training stream and a deferred view) could
#: change the same Bokeh document at once, and a redraw failed half-way under load. They take turns on this lock.
_OFFLINE_DELIVERY = threading.RLock()


def _ignore(_item) -> None:
    """What a closed runner hands its items to."""


@contextlib.contextmanager
def document_hold(doc):
    """Collect the changes made inside into one message to the browser (``doc``: the session's document, or
    ``None`` outside a server: nothing to hold).

    Panel's hold serialises every held change into a single PATCH-DOC when it is released on the event loop's
    thread; Bokeh's own ``hold``/``unhold`` — and any change made inside a locked Bokeh callback, which Bokeh 3.10
    runs on an executor thread — sends one message per changed property (measured on the Deep page: 9 messages for
    one slider move, arriving over 10 ms, each re-rendering in the browser). ``set_curdoc`` because Panel's hold
    resolves the session from ``pn.state.curdoc``, which a Bokeh next-tick callback does not set. Off the event
    loop (a ``--num-threads`` worker) Panel schedules the release on the loop itself."""
    if doc is None or doc.callbacks.hold_value is not None:
        yield  # no server, or an outer hold will send the changes
        return
    with set_curdoc(doc), pn.io.hold(doc):
        yield


def on_loop(fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """``fn`` as a Bokeh session callback that runs on the event loop's thread, under the document lock.

    Bokeh 3.10 runs a plain (locked) callback on an executor thread, where every changed property became a
    PATCH-DOC of its own (a training run streamed 100–190 messages, a deferred redraw 4 or more, each re-rendering
    the page); a coroutine runs on the loop's thread, where Panel's hold (``document_hold``) writes all of ``fn``'s
    changes as one message. Under the lock, because Bokeh skips a locked callback of a session destroyed meanwhile
    (an unlocked one-shot callback raised there, in Bokeh's own bookkeeping, when a class closed its sessions).

    References:
      Bokeh documentation, "Updating from threads" (``add_next_tick_callback``; coroutine callbacks); Panel's
      ``panel.io.document.hold``.
    """

    async def call():
        fn()

    return call


def hand_over(doc, fn: Callable[[], None]) -> bool:
    """Queue ``fn`` (``on_loop``) on the served document ``doc``'s event loop, from any thread; ``False`` when the
    session is closed, so there is nothing to draw.

    Bokeh destroys a closing session's document before it runs the session's "destroyed" hooks (which close its
    pages' runs), so a worker can meet a document that is already gone: its ``session_context`` is ``None`` and
    ``add_next_tick_callback`` raises ``AttributeError`` (``Document.destroy`` deletes the callback tables; it can
    happen between the check and the call, on the loop's thread)."""
    if doc.session_context is None:
        return False
    try:
        doc.add_next_tick_callback(on_loop(fn))
    except AttributeError:
        if doc.session_context is not None:
            raise  # a real error, not the race above
        return False
    return True


class BackgroundRun:
    """Runs ``make_iterator()`` on the scheduler's workers and hands every item to ``on_item`` on the document's
    thread.

    A runner is one view (or the training) of one session: it has at most one task queued or running. A new
    ``start`` while one is in progress replaces every older request — the older run stops before its next item and
    only the newest request runs next — so a dragged slider computes the latest position, not every position.

    Args:
      doc: the session's Bokeh document (None outside a server: items are handed over at once, on the worker).
      on_item: called with each item the run yields.
      on_error: called with the exception that stopped a run.
      priority: ``TRAINING`` (default) or ``VIEWS`` for the slower views of a move.
    """

    def __init__(
        self, doc, on_item: Callable[[object], None], on_error: Callable[[Exception], None], priority: int = TRAINING
    ):
        self._doc = doc
        self._priority = priority
        self._on_item = on_item
        self._on_error = on_error
        self._tokens = itertools.count(1)
        self._token = 0
        self._request: tuple[int, Callable[[], Iterator]] | None = None  # the newest start, not begun yet
        self._iterator: tuple[int, Iterator] | None = None  # the run in progress
        self._active = False  # a task of this runner is queued or running
        self._lock = threading.Condition(threading.Lock())

    def start(self, make_iterator: Callable[[], Iterator]) -> None:
        """Run ``make_iterator()`` next, replacing the run in progress and any request not begun yet."""
        with self._lock:
            self._token = token = next(self._tokens)
            self._request = (token, make_iterator)
            self._submit_locked()

    def cancel(self) -> None:
        """Stop the run in progress (before its next item) and drop a request not begun yet."""
        with self._lock:
            self._token = next(self._tokens)
            self._request = None

    def close(self) -> None:
        """Cancel for good and let go of the session: a task of this runner still queued on the scheduler (it runs
        once the workers get to it, and then only notices it was cancelled) holds an empty runner, not the
        session's document and page, so a closed session is freed at once, not when a busy queue drains."""
        with self._lock:
            self._token = next(self._tokens)
            self._request = None
            self._doc = None
            self._on_item = self._on_error = _ignore

    def wait(self, timeout: float | None = None) -> bool:
        """Block until none of this runner's work is queued or running (``True``), or ``timeout`` seconds pass
        (``False``). Without a server every result has then been handed to ``on_item``; in a server the last
        results may still wait for the document's next tick, so never call it on the event loop."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._active, timeout)

    @property
    def idle(self) -> bool:
        return not self._active

    def is_current(self, token: int) -> bool:
        return token == self._token

    def _submit_locked(self) -> None:
        if not self._active:
            self._active = True
            SCHEDULER.submit(self._advance, self._priority)

    def _advance(self) -> None:
        """One scheduler task: begin the newest request or advance the run in progress by one item, hand it over,
        and queue the next task behind other sessions' work of the same priority."""
        with self._lock:
            if self._request is not None:
                begin, self._request = self._request, None
                self._iterator = None
            else:
                begin = None
            running = self._iterator
        try:
            if begin is not None:
                token, make_iterator = begin
                running = (token, iter(make_iterator()))
            if running is not None and self.is_current(running[0]):
                item = next(running[1])
                self._deliver(running[0], self._on_item, item)
            else:
                running = None
        except StopIteration:
            running = None
        except Exception as exc:  # shown as a notice on the page, never a dead worker
            log.exception("background run failed")
            if running is not None or begin is not None:
                self._deliver((running or begin)[0], self._on_error, exc)
            running = None
        with self._lock:
            self._iterator = running if running is not None and self.is_current(running[0]) else None
            self._active = False
            if self._request is not None or self._iterator is not None:
                self._submit_locked()
            else:
                self._lock.notify_all()

    def _deliver(self, token, fn, item):
        """Hand ``item`` to ``fn`` on the document's event loop, every change it makes sent as one message
        (``on_loop``)."""
        doc = self._doc

        def apply():
            if self.is_current(token):
                with document_hold(doc):
                    fn(item)

        if doc is None:  # notebook or plain Python: no server event loop to hand over to
            with _OFFLINE_DELIVERY:
                apply()
        else:
            hand_over(doc, apply)  # a closed session's item is dropped


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


def submit(fn: Callable[[], None], priority: int = WARMUP) -> None:
    """Run ``fn()`` on the scheduler's workers (default: as warm-up, when nothing else waits)."""
    SCHEDULER.submit(fn, priority)
