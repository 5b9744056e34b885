"""Give the memory of closed sessions back, so a classroom server's footprint stays flat over a term of lessons.

Panel (1.9 and 1.10) keeps every closed session's document alive through a view registration it never removes;
when a session is destroyed we drop those registrations (``compat.forget_document_views``, which says why).

Then a closed session's page is a cyclic object graph (page ↔ model watchers ↔ Bokeh models), freed only by a full
garbage collection, which Python runs rarely; and glibc keeps freed heap pages in its arenas instead of returning
them. So after a session is destroyed (at most once per ``MIN_INTERVAL_S``, as a whole class may close at once)
the server collects garbage and asks glibc to ``malloc_trim(0)``. Elsewhere (no glibc) only the collection runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time

import panel as pn

from .compat import destroyed_session_document, forget_document_views

log = logging.getLogger(__name__)

#: seconds between two releases; a release blocks the event loop ~0.3 s (a full collection of a big heap)
MIN_INTERVAL_S = 5.0

_libc = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _libc.malloc_trim.argtypes = [ctypes.c_size_t]
    _libc.malloc_trim.restype = ctypes.c_int
except (OSError, AttributeError):  # not glibc (musl, macOS): garbage collection only
    _libc = None

_state = {"pending": False, "last": 0.0}


def freeze_long_lived_objects() -> None:
    """Leave the objects alive now out of every later garbage collection (``gc.freeze``): called once the warm-up
    is done, it takes the server's start-up objects (JAX's compiled programs and traces, the imported modules, the
    shared results so far) out of the full collections that free closed sessions, which then traverse the
    sessions' objects only: ~0.7 s -> ~0.1 s a collection on two cores. Objects frozen are never collected as
    cycles (freed by reference counting only): a session open at that moment keeps its document after it closes,
    which is why the server freezes once, when its warm-up ends (usually before any student joins).

    References:
      Python documentation, ``gc.freeze``: "... to avoid ... collections ... on long-lived objects".
    """
    gc.collect()
    gc.freeze()


def release_freed_memory() -> float:
    """Collect garbage, then return glibc's free heap pages to the OS. Returns the seconds it took."""
    start = time.perf_counter()
    gc.collect()
    if _libc is not None:
        _libc.malloc_trim(0)
    return time.perf_counter() - start


def _release() -> None:
    _state["pending"] = False
    _state["last"] = time.monotonic()
    try:
        log.debug("released freed memory in %.3f s", release_freed_memory())
    except Exception:  # never let housekeeping hurt a session
        log.exception("releasing memory failed")


def release_when_session_ends() -> None:
    """Register, for the current server session, that once it is destroyed Panel forgets its document and freed
    memory is released (no-op outside a server)."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return

    def destroyed(ctx) -> None:
        forget_document_views(destroyed_session_document(ctx))
        if _state["pending"]:
            return  # one release is already scheduled
        _state["pending"] = True
        from tornado.ioloop import IOLoop

        delay = max(0.0, MIN_INTERVAL_S - (time.monotonic() - _state["last"]))
        IOLoop.current().call_later(delay, _release)

    pn.state.on_session_destroyed(destroyed)
