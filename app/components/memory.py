"""Give the memory of closed sessions back, so a classroom server's footprint stays flat over a term of lessons.

Panel 1.9 registers each session's notification area in ``pn.state._views`` (``Viewable.get_root``) but never
unregisters it: its ``_server_destroy`` returns early for a root it did not serve itself. That entry holds the
session's whole Bokeh document, so every closed tab stayed in memory (~0.5 MB each: +143 MB over 300 sessions).
When a session is destroyed we drop every registration that still points at its document.

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


def forget_document_views(doc) -> int:
    """Drop Panel's view registrations (``pn.state._views``) that belong to ``doc``; returns how many."""
    stale = [ref for ref, view in list(pn.state._views.items()) if view[2] is doc]
    for ref in stale:
        pn.state._views.pop(ref, None)
    return len(stale)


def release_when_session_ends() -> None:
    """Register, for the current server session, that once it is destroyed Panel forgets its document and freed
    memory is released (no-op outside a server)."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return

    def destroyed(ctx) -> None:
        forget_document_views(ctx._document)
        if _state["pending"]:
            return  # one release is already scheduled
        _state["pending"] = True
        from tornado.ioloop import IOLoop

        delay = max(0.0, MIN_INTERVAL_S - (time.monotonic() - _state["last"]))
        IOLoop.current().call_later(delay, _release)

    pn.state.on_session_destroyed(destroyed)
