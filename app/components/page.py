"""The base class of every page: notices, and display in a Jupyter notebook.

In a notebook, ``pn.extension()`` and then a page object on the last line of a cell shows the live page (its
figures update in place as in the served app); ``pn.panel(page)`` works too (Panel's ``__panel__`` protocol).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Callable

import panel as pn

from .notices import NoticeMixin
from .scheduler import SCHEDULER


def session_document():
    """The served session's Bokeh document, or ``None`` (a notebook, plain Python, tests without a server)."""
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def on_event_loop() -> bool:
    """Whether this thread runs an event loop (the server's), as opposed to a ``--num-threads`` worker."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def on_session_loop(doc, fn: Callable) -> Callable:
    """``fn``, moved onto the server's event loop when called elsewhere. With ``panel serve --num-threads N``
    Panel runs widget events (and so the watchers and click handlers of every page) on a worker thread; pages change
    Bokeh models there, which only the loop's thread may do (Bokeh raises "_pending_writes should be non-None ...").
    ``add_next_tick_callback`` is Bokeh's thread-safe hand-over; calls keep their order. Without a server (``doc``
    None) or on the loop, ``fn`` runs at once."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if doc is None or on_event_loop():
            return fn(*args, **kwargs)
        doc.add_next_tick_callback(functools.partial(fn, *args, **kwargs))
        return None

    return call


@contextlib.contextmanager
def document_hold(doc):
    """Collect the changes made inside into one message to the browser, using Bokeh's hold on ``doc`` (the
    session's document, or ``None`` outside a server: nothing to hold).

    On the server's event loop (next-tick and timeout callbacks, watchers) this is Bokeh's plain hold/unhold, not
    ``pn.io.hold()``, which resolves the document from ``pn.state`` and drops the model changes of a document it
    has not marked connected (assuming a later full serialisation carries them). Under Panel's hold the remedies
    page lost its drawn results once other sessions had run on the server (the browser kept "Measured 5/5" and
    empty plots); under this one it never did. Off the loop (a watcher on a ``--num-threads`` worker) Bokeh's
    ``unhold`` must not send from that thread, so Panel's thread-safe hold on the same ``doc`` is used there."""
    if doc is None or doc.callbacks.hold_value is not None:
        yield  # no server, or an outer hold will send the changes
        return
    if not on_event_loop():  # a worker thread: Panel schedules the unhold on the loop
        with pn.io.hold(doc):
            yield
        return
    doc.hold("combine")
    try:
        yield
    finally:
        doc.unhold()


def _noting_moves(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def call(*args, **kwargs):
        SCHEDULER.note_move()
        return fn(*args, **kwargs)

    return call


class Page(NoticeMixin):
    """Subclasses implement ``panel()`` (the layout, built once per page object: widgets are created there)."""

    _layout: pn.viewable.Viewable | None = None
    _doc = None  # the session's Bokeh document (``session_document()``), set by pages that are served

    def _watch(self, fn: Callable, names: list[str], obj=None) -> None:
        """Call ``fn(*events)`` when ``names`` of ``obj`` (default: the page's model) change, on the session's
        event loop (see ``on_session_loop``). Every such move first tells the scheduler, which then holds the
        warm-up back (``SCHEDULER.note_move``)."""
        (obj if obj is not None else self.model).param.watch(on_session_loop(self._doc, _noting_moves(fn)), names)

    def _on_click(self, button, fn: Callable) -> None:
        button.on_click(on_session_loop(self._doc, _noting_moves(fn)))

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is None:
            self._layout = self.panel()
        return self._layout

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.__panel__()._repr_mimebundle_(include, exclude)

    def servable(self, title: str | None = None) -> pn.viewable.Viewable:
        return self.__panel__().servable(title=title)
