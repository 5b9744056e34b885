"""The base class of every page: notices, and display in a Jupyter notebook.

In a notebook, ``pn.extension()`` and then a page object on the last line of a cell shows the live page (its
figures update in place as in the served app); ``pn.panel(page)`` works too (Panel's ``__panel__`` protocol).
"""
from __future__ import annotations

import contextlib

import panel as pn

from .notices import NoticeMixin


@contextlib.contextmanager
def document_hold(doc):
    """Collect the changes made inside into one message to the browser, using Bokeh's hold on ``doc`` (the
    session's document, or ``None`` outside a server: nothing to hold). Unlike ``pn.io.hold()`` it never looks the
    document up in ``pn.state``. Call it on the document's own thread (a next-tick or timeout callback)."""
    if doc is None or doc.callbacks.hold_value is not None:
        yield  # no server, or an outer hold will send the changes
        return
    doc.hold("combine")
    try:
        yield
    finally:
        doc.unhold()


class Page(NoticeMixin):
    """Subclasses implement ``panel()`` (the layout, built once per page object: widgets are created there)."""

    _layout: pn.viewable.Viewable | None = None

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is None:
            self._layout = self.panel()
        return self._layout

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.__panel__()._repr_mimebundle_(include, exclude)

    def servable(self, title: str | None = None) -> pn.viewable.Viewable:
        return self.__panel__().servable(title=title)
