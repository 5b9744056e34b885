"""Training runs shared by the sessions of a server process: a run that one session has started is streamed to
every other session asking for the same configuration, not computed again.

A class mostly trains the same presets at the same moment. Each session's ``BackgroundRun`` still runs its own
iterator (its own token, its own cancellation, its own place in the scheduler's round-robin); that iterator
*follows* the process's one run of its key (``SharedRuns.follow``): it hands over the newest item the run has
made, and only the follower that reaches the end of what is made computes the next item. The run goes on as long
as one follower does — a session that moves on or closes leaves the others' run untouched — and it is dropped
(its generator closed) when the last follower is.

The items must be cumulative (each holds the whole run so far, as the training traces of ``vgp_core`` do): a
follower that joins late, or lags behind, is handed the newest item only.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any

__all__ = ["SHARED_RUNS", "SharedRun", "SharedRuns", "run_once"]


class SharedRun:
    """One run's items as they are made, for its followers.

    Args:
      make_iterator: makes the run's iterator (called by the first follower that asks for an item).
    """

    def __init__(self, make_iterator: Callable[[], Iterator]):
        self._make_iterator = make_iterator
        self._source: Iterator | None = None
        self._latest: Any = None
        self._made = 0  # items made so far
        self._ended = False
        self._error: BaseException | None = None
        # held while an item is computed: a second follower on another worker thread waits for that item
        # (at most one chunk) instead of computing it again
        self._lock = threading.Lock()

    def item_after(self, seen: int) -> tuple[int, Any]:
        """The newest item if more than ``seen`` items are made, else the next item, made now.

        Returns:
          (how many items are made, the newest item).

        Raises:
          StopIteration: the run has ended and ``seen`` items (all of them) have been handed over.
          Exception: the one that stopped the run, to every follower.
        """
        with self._lock:
            if self._made > seen:
                return self._made, self._latest
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopIteration
            if self._source is None:
                self._source = iter(self._make_iterator())
            try:
                self._latest = next(self._source)
            except StopIteration:
                self._ended = True
                raise
            except Exception as exc:
                self._error = exc
                raise
            self._made += 1
            return self._made, self._latest


class SharedRuns:
    """The runs in progress in this process, by key; a run lives while a follower holds it."""

    def __init__(self):
        self._runs: weakref.WeakValueDictionary[Hashable, SharedRun] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def follow(self, key: Hashable, make_iterator: Callable[[], Iterator]) -> Iterator:
        """An iterator over the run of ``key``: the one in progress, or one started by ``make_iterator``.

        Args:
          key: the run's full configuration (equal keys: equal runs; ``vgp_core``'s training is deterministic).
          make_iterator: starts the run where none of ``key`` is in progress.

        Returns:
          A generator yielding the run's newest item each time (cumulative items: see the module's docstring).
        """
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                run = self._runs[key] = SharedRun(make_iterator)
        return _follower(run)

    def running(self, key: Hashable) -> SharedRun | None:
        """The run of ``key`` if a follower holds it."""
        with self._lock:
            return self._runs.get(key)


def _follower(run: SharedRun) -> Iterator:
    seen = 0
    while True:
        try:
            seen, item = run.item_after(seen)
        except StopIteration:
            return
        yield item


#: the process's shared runs (a server process: every session)
SHARED_RUNS = SharedRuns()


def run_once(key: Hashable, make_iterator: Callable[[], Iterator], results, runs: SharedRuns | None = None) -> Iterator:
    """The run of ``key`` computed once per process: its final item alone where ``results`` holds it (trained on
    this server before), else the run in progress followed, else a new run, whose last item goes into
    ``results`` when it ends.

    Args:
      key: the run's full configuration.
      make_iterator: starts the run (cumulative items).
      results: the process's shared results (``app.components.results_cache.SharedResults``).
      runs: the shared runs (default: ``SHARED_RUNS``).

    Returns:
      An iterator over the run's items.
    """
    finished = results.get(key)
    if finished is not None:
        return iter([finished])

    def stored():
        last = None
        for last in make_iterator():
            yield last
        if last is not None:
            results.put(key, last)

    return (runs or SHARED_RUNS).follow(key, stored)
