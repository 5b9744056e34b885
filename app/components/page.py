"""The base class of every page: its lifecycle, written once.

A page is a ``param.Parameterized`` model (every control, with its bounds) and the views that draw it, in the
spirit of Panel's ``Viewer`` and its DataStore/View pattern. ``Page.__init__`` does what every page needs, in this
order: the model, the notices, the session's document, the URL query applied to the model (bad values clamped or
ignored, each reported), the page's own ``setup`` (figures, background runs, first draw), the views wired to the
parameters they depend on (``REDRAWS``), the model mirrored in the URL, and the background runs cancelled when the
session ends. Pages keep only what is theirs.

In a notebook, ``pn.extension()`` and then a page object on the last line of a cell shows the live page (its
figures update in place as in the served app); ``pn.panel(page)`` works too (Panel's ``__panel__`` protocol).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import panel as pn
import param

from vgp_core import ConfigError

from . import latency_debug
from .browser_views import browser_layout
from .compat import release_js_callbacks
from .notices import NoticeMixin, Notices
from .page_layout import controls_of
from .scheduler import SCHEDULER
from .training import TRAINING, BackgroundRun, document_hold, hand_over, on_loop, settle_work
from .url_state import apply_query, mirror_to_url, session_query


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
    ``add_next_tick_callback`` is Bokeh's thread-safe hand-over; calls keep their order; the call runs on the loop's
    thread (``on_loop``: a plain callback would run on Bokeh's executor threads), its changes sent as one
    message. Without a server (``doc`` None) or on the loop, ``fn`` runs at once."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if doc is None or on_event_loop():
            return fn(*args, **kwargs)

        def held():
            with document_hold(doc):
                fn(*args, **kwargs)

        hand_over(doc, held)  # dropped if the session closed meanwhile
        return None

    return call


def _noting_moves(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def call(*args, **kwargs):
        SCHEDULER.note_move()
        return fn(*args, **kwargs)

    return call


class Page(NoticeMixin):
    """The lifecycle every page shares (see the module's docstring). A subclass declares:

    * ``Model``: its ``param.Parameterized`` class; ``URL_PARAMS``: the parameters mirrored in the URL;
    * ``title`` and ``REDRAWS``: ``{method name: parameter names}``, each method called (under one document hold)
      when any of its parameters change;
    * ``setup()``: figures, background runs (``self.background_run``) and the first draw; ``panel()`` and
      ``figures()`` as in the page protocol (``app/pages/__init__.py``).

    Args:
      model: the model to show (default: a new ``Model()``).
      query: URL arguments, name → raw string (default: the server session's query).
      defer: send a move's own views first and compute slower views afterwards (default: when served; without a
        server, deferred work waits in ``self.pending`` until ``settle``).
    """

    Model: ClassVar[type[param.Parameterized]]
    URL_PARAMS: ClassVar[Sequence[str]] = ()
    REDRAWS: ClassVar[Mapping[str, Sequence[str]]] = {}
    title: ClassVar[str] = ""
    SETTLE_TIMEOUT_S: ClassVar[float] = 120.0

    _layout: pn.viewable.Viewable | None = None

    def __init__(
        self,
        model: param.Parameterized | None = None,
        query: Mapping[str, str] | None = None,
        defer: bool | None = None,
    ):
        self.model = model or self.Model()
        self._make_notice()
        self.overflow = Notices(alert_type="danger")  # inf/NaN and underflow counts of the figures
        self.overflow_notice = self.overflow.pane
        self._doc = session_document()
        self._defer = self._doc is not None if defer is None else defer
        self.pending: list[Callable[[], None]] = []
        self._runs: list[BackgroundRun] = []
        self._later: dict[str, object] = {}  # key -> the token of its latest ``call_later``
        query = session_query() if query is None else query
        #: ``?debug=latency``: the last move's stages on the page (``app.components.latency_debug``)
        self.latency = latency_debug.LatencyProbe() if latency_debug.wanted(query) else None
        if self.latency is not None:
            self.panel = self._with_latency_line(self.panel)
            if self._doc is not None:
                self._doc.js_on_event("document_ready", self.latency.install)
        self.query_notices = self.apply_query(query)
        self.setup()
        browser_layout(*self.figures().values())  # ranges and sizes BokehJS computes stay in the browser
        for method, names in self.REDRAWS.items():
            self._watch(self._held(getattr(self, method)), list(names))
        self.mirror_to_url()
        if self.query_notices:
            self.notices.set("link", "Link settings adjusted: " + "; ".join(self.query_notices))
        if self._doc is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    # -------------------------------------------------------------------------------------------- lifecycle
    def setup(self) -> None:
        """The page's own construction: figures, background runs, first draw."""
        raise NotImplementedError

    def apply_query(self, query: Mapping[str, str]) -> list[str]:
        """Set the model from URL arguments; returns the notices (override for parameters of other kinds)."""
        return apply_query(self.model, self.URL_PARAMS, query)

    def mirror_to_url(self) -> None:
        """Keep the browser's address bar in step with the model (no-op outside a server)."""
        mirror_to_url(self.model, self.URL_PARAMS)

    def background_run(
        self,
        on_item: Callable[[object], None],
        on_error: Callable[[Exception], None] | None = None,
        priority: int = TRAINING,
    ) -> BackgroundRun:
        """A background run of this page (``app.components.training``), cancelled when the session ends and
        waited for by ``settle``. ``on_error`` defaults to a "failure" notice."""
        run = BackgroundRun(self._doc, on_item, on_error or self._on_background_error, priority=priority)
        self._runs.append(run)
        return run

    def call_later(self, key: str, fn: Callable[[], None], delay_ms: int) -> None:
        """Run ``fn`` on the session's event loop after ``delay_ms``, unless a later ``call_later`` with the same
        ``key`` replaces it first (a drag runs it once, after its last move); ``fn`` may schedule its own key again.

        A replaced call is skipped when its time comes, never removed: Bokeh cancels a removed timeout on the
        loop's next iteration, so one that was already due still fired, and Bokeh's own removal before the call
        then logged "Removing a callback twice" (the Deep page's frame ticks, 0 ms apart, did this under load)."""
        token = object()
        self._later[key] = token

        def run():
            if self._later.get(key) is not token:
                return  # replaced by a later call
            del self._later[key]
            with document_hold(self._doc):
                fn()

        self._doc.add_timeout_callback(on_loop(run), delay_ms)

    def close(self) -> None:
        """The session ended: stop its background runs and let its objects go (``compat.release_js_callbacks``)."""
        for run in self._runs:
            run.close()
        if self._layout is not None:
            release_js_callbacks(self._layout)

    def settle(self, timeout_s: float | None = None) -> None:
        """Outside a server (CLI export, notebooks, tests): run the deferred work (``self.pending``) and wait for
        every background run, so that every figure is final. ``TimeoutError`` after ``timeout_s`` seconds."""
        settle_work(self.pending, self._runs, self.SETTLE_TIMEOUT_S if timeout_s is None else timeout_s, self.title)

    def _on_background_error(self, exc: Exception) -> None:
        if isinstance(exc, ConfigError):
            self.notices.set("setting", f"Invalid setting: {exc}")
        else:
            self.notices.set("failure", f"Could not update the plots: {exc}")

    def _held(self, fn: Callable) -> Callable:
        """``fn``, its model changes sent to the browser as one message."""

        @functools.wraps(fn)
        def call(*args, **kwargs):
            with document_hold(self._doc):
                if self.latency is not None:
                    return self.latency.timed(fn, *args, **kwargs)
                return fn(*args, **kwargs)

        return call

    def _watch(self, fn: Callable, names: list[str], obj=None) -> None:
        """Call ``fn(*events)`` when ``names`` of ``obj`` (default: the page's model) change, on the session's
        event loop (see ``on_session_loop``). Every such move first tells the scheduler, which then holds the
        warm-up back (``SCHEDULER.note_move``)."""
        (obj if obj is not None else self.model).param.watch(on_session_loop(self._doc, _noting_moves(fn)), names)

    def _on_click(self, button, fn: Callable) -> None:
        button.on_click(on_session_loop(self._doc, _noting_moves(fn)))

    # -------------------------------------------------------------------------------------------- display
    def _with_latency_line(self, panel: Callable[[], pn.viewable.Viewable]) -> Callable[[], pn.viewable.Viewable]:
        """``panel`` (the page's layout builder), the ``?debug=latency`` line put first in its controls column."""

        @functools.wraps(panel)
        def with_line():
            layout = panel()
            controls_of(layout).insert(0, pn.pane.Bokeh(self.latency.div))
            return layout

        return with_line

    @property
    def slug(self) -> str:
        """The page's ``?page=`` value (from ``app.pages.PAGES``)."""
        from ..pages import PAGES

        return next(p.slug for p in PAGES if p.class_name == type(self).__name__)

    def panel(self) -> pn.viewable.Viewable:
        raise NotImplementedError

    def figures(self) -> dict:
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        if self._layout is None:
            self._layout = self.panel()
        return self._layout

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.__panel__()._repr_mimebundle_(include, exclude)

    def servable(self, title: str | None = None) -> pn.viewable.Viewable:
        return self.__panel__().servable(title=title)
