"""Results shared by every session of a server process, keyed by the full configuration that produced them.

A class mostly looks at the same defaults and presets: thirty students opening the default page compute its
views once, and a preset is computed once per server. Entries are evicted least recently used first when their
NumPy arrays exceed ``max_bytes``. A result being computed is not computed again by a second session asking at
the same moment: that session waits for the first one's result.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

#: the default bound: a deep-page profile is ~10 kB, a 64-gain sweep ~60 kB, a 2,000-step trace ~10 MB at depth 256
DEFAULT_MAX_BYTES = 256 * 2**20


def result_nbytes(value: Any) -> int:
    """The bytes held by a result's NumPy arrays (a dataclass of arrays, an array, or a tuple/list of them)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(result_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list)):
        return sum(result_nbytes(v) for v in value)
    return 64  # a scalar or small object: a nominal size, so that the entry still counts


class SharedResults:
    """A thread-safe LRU cache bounded in bytes; ``computed`` counts the computations it ran (for tests)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.computed = 0
        self._items: collections.OrderedDict[Hashable, tuple[Any, int]] = collections.OrderedDict()
        self._bytes = 0
        self._running: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The cached result for ``key``, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        size = result_nbytes(value)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The result for ``key``: cached, or computed once (a concurrent request for the same key waits for it)."""
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
                running = self._running.get(key)
                if running is None:
                    self._running[key] = threading.Event()
                    break
            running.wait()  # another session computes it; a failure there leaves us to compute it ourselves
        try:
            value = compute()
            with self._lock:
                self.computed += 1
            self.put(key, value)
            return value
        finally:
            with self._lock:
                self._running.pop(key).set()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


#: the process's shared results (every session, every page)
RESULTS = SharedResults()
