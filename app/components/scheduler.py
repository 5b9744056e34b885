"""One scheduler per server process for all work that does not answer a move directly.

A move's own views are computed on the session's event loop as soon as the move arrives (a few milliseconds of
XLA). Everything else — a move's slower views (gain sweeps, Jacobian spectra, sensitivity maps), training runs,
the start-up warm-up — goes through ``SCHEDULER`` in small tasks with a priority:

* ``VIEWS``: the slower views of a move. Served first, by a worker of their own and by the background worker
  (so a view never waits behind more than one chunk of other work).
* ``TRAINING``: one chunk of a training run per task; a run re-queues its next chunk at the back, so the runs of
  a whole class share the worker round-robin.
* ``WARMUP``: one group of programs to compile per task, only when nothing else is queued and no move arrived in
  the last ``QUIET_S`` seconds: a student's first moves and training never wait behind the warm-up.

Workers are daemon threads: stopping the server (SIGTERM, Ctrl-C) never waits for a compilation to finish. At
interpreter exit the queue is dropped and a running task gets a few seconds to end (``Scheduler.shutdown``): a
daemon thread still inside XLA when Python finalises is torn down in C++ code that cannot unwind, and the process
aborts ("terminate called after throwing an instance of ''", exit status 134).
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

VIEWS, TRAINING, WARMUP = 0, 1, 2
#: the warm-up waits this long after the last move before it takes the CPU for its next group of programs
QUIET_S = 0.5


class Scheduler:
    """A priority queue of tasks served by daemon worker threads.

    Args:
      view_workers: threads that serve only ``VIEWS`` tasks.
      background_workers: threads that serve every priority, highest first.
    """

    def __init__(self, view_workers: int = 1, background_workers: int = 1):
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._last_move = 0.0
        self._busy = 0  # tasks running now
        self._threads = [
            threading.Thread(target=self._serve, args=(VIEWS,), daemon=True, name=f"vgp-views-{i}")
            for i in range(view_workers)
        ]
        self._threads += [
            threading.Thread(target=self._serve, args=(WARMUP,), daemon=True, name=f"vgp-work-{i}")
            for i in range(background_workers)
        ]
        self._started = False
        self._stopping = False

    def submit(self, fn: Callable[[], None], priority: int = TRAINING) -> None:
        """Queue ``fn()`` behind every queued task of the same or a higher priority."""
        with self._cond:
            if self._stopping:
                return
            if not self._started:
                self._started = True
                for thread in self._threads:
                    thread.start()
            heapq.heappush(self._queue, (priority, next(self._seq), fn))
            self._cond.notify_all()

    def note_move(self) -> None:
        """A session's control moved: hold the warm-up back for ``QUIET_S`` seconds."""
        self._last_move = time.monotonic()

    def pending(self, priority: int | None = None) -> int:
        """Tasks queued (of ``priority``, or all)."""
        with self._cond:
            return sum(1 for p, _, _ in self._queue if priority is None or p == priority)

    def shutdown(self, wait_s: float = 10.0, exit_status: int = 1) -> None:
        """Drop the queued tasks, end the idle workers and wait up to ``wait_s`` for running tasks (chunks of
        work, so normally well under a second). A task still running then (a long compilation) is not waited for:
        the process ends at once with ``exit_status`` (at interpreter exit the intended status is unknown, so 1),
        instead of aborting in XLA's threads while Python finalises."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
            deadline = time.monotonic() + wait_s
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            busy = self._busy
        if busy:
            log.warning("exiting while %d background task(s) still run", busy)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit_status)

    def _next(self, lowest: int) -> Callable[[], None] | None:
        """The first task this worker may run now, removed from the queue (under the lock)."""
        if not self._queue or self._queue[0][0] > lowest:
            return None
        priority, _, fn = self._queue[0]
        if priority == WARMUP and (time.monotonic() - self._last_move < QUIET_S or self._busy):
            return None  # the warm-up runs alone, and not while students move
        heapq.heappop(self._queue)
        return fn

    def _serve(self, lowest: int) -> None:
        while True:
            with self._cond:
                fn = self._next(lowest)
                while fn is None:
                    if self._stopping:
                        return
                    self._cond.wait(timeout=QUIET_S / 2)  # re-check the warm-up's quiet period
                    fn = self._next(lowest)
                self._busy += 1
            try:
                fn()
            except Exception:  # a task reports its own errors; this only keeps the worker alive
                log.exception("background task failed")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()


#: the scheduler of this server process (every session shares it)
SCHEDULER = Scheduler()
atexit.register(SCHEDULER.shutdown)
