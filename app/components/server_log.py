"""A server log that no client can flood: each error a client causes becomes one line without a traceback, and at
most ``LIMIT`` such lines of one kind are written per ``WINDOW_S`` seconds, then one summary line.

Bokeh and Panel log a traceback (~40 lines) for every bad message a client sends, and a warning for every message
that could not reach a tab that had just closed; a class closing its tabs, or one crafted websocket client, would
bury a real error under thousands of lines. ``install()`` (called by ``app/app_hooks.py`` at server start) adds
``ClientErrorFilter`` to the loggers below. It recognises, by logger, message and exception:

- ``rejected a client message`` — a PATCH-DOC with a value Bokeh will not accept (``bokeh.server.protocol_handler``
  "error handling message": "failed to validate Slider.value: expected a value of type Real, got abc"), or a value
  a Panel widget or parameter rejects (``panel.reactive`` "Callback failed for object named ...": a value beyond a
  parameter's bounds, an index beyond a discrete slider's values) — ValueError, TypeError or LookupError raised
  with no frame of this app in the traceback; the same exception re-logged as text by ``bokeh.util.asyncio``
  ("Error thrown from callback:" + traceback) is dropped as a duplicate. Also Bokeh's one-line reports of an
  attribute a client may not set (``bokeh.core.has_props`` "JSON had attr ...") and of a message that broke the
  protocol (``bokeh.server.views.ws`` "Bokeh Server protocol error").
- ``could not send to a closed connection`` — "Failed sending message as connection was closed"
  (``bokeh.server.views.ws``, ``panel.io.document``) and Tornado's ``WebSocketClosedError`` /
  ``StreamClosedError`` ("Task exception was never retrieved" from ``asyncio``, or as text from
  ``bokeh.util.asyncio``): a tab closed while the server was still sending to it.
- ``dropped a message from a closed connection`` — the ``AssertionError`` Bokeh raises for a message (a slider move)
  still being handled when its websocket closed (``bokeh/server/connection.py``: ``assert self._session is not
  None``).

Every other record — any other exception, anything raised in this app's code — passes unchanged, traceback and all.
The lines read ``vgp-explorer: <kind>: <exception type>: <first line of its message> (session <id>)`` and
``vgp-explorer: <kind>: ... and 312 more like it in the last 10 s``; ``tests/app_server.py`` counts them.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import re
import sys
import threading
import time

log = logging.getLogger(__name__)

REJECTED = "rejected a client message"
CLOSED_MID_SEND = "could not send to a closed connection"
LATE_MESSAGE = "dropped a message from a closed connection"
KINDS = (REJECTED, CLOSED_MID_SEND, LATE_MESSAGE)

#: the loggers whose records are checked (records of other loggers never reach the filter)
LOGGERS = (
    "bokeh.server.protocol_handler",
    "bokeh.server.views.ws",
    "bokeh.util.asyncio",
    "bokeh.core.has_props",
    "panel.reactive",
    "panel.io.document",
    "asyncio",
    "tornado.application",
)
#: at most this many lines of one kind per window; the rest are counted in one summary line at the window's end
LIMIT = 5
WINDOW_S = 10.0

#: exceptions that reject a client's value when raised outside this app's code (subclasses count too)
VALUE_ERRORS = frozenset({"ValueError", "TypeError", "LookupError", "IndexError", "KeyError"})
CLOSED_ERRORS = frozenset({"WebSocketClosedError", "StreamClosedError"})
#: Bokeh files whose assertions mean "this connection has closed" (``ServerConnection.session``, ``WSHandler._handle``)
CONNECTION_FILES = ("bokeh/server/connection.py", "bokeh/server/views/ws.py")
#: where this app's code lives: an exception raised through it is a server fault, whatever its type
APP_DIRS = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), d) + os.sep
    for d in ("app", "vgp_core")
)
_ASYNCIO_HEADER = "Error thrown from callback:"
_FRAME = re.compile(r'^  File "([^"]+)", line \d+, in (\S+)')
_DROP = "drop"


@dataclasses.dataclass
class _Error:
    """An exception as the filter sees it, from a record's ``exc_info`` or from a traceback logged as text."""

    types: frozenset[str]  # its class's name and its bases' names (only the class's own name for text)
    header: str  # "IndexError: list index out of range" (first line of the message)
    files: list[str]  # the traceback's file names, outermost first (its causes' first)

    @classmethod
    def from_exc(cls, exc: BaseException) -> _Error:
        files, cause, depth = [], exc, 0
        while cause is not None and depth < 10:  # the exceptions it was raised from or during come first
            tb, frames = cause.__traceback__, []
            while tb is not None:
                frames.append(tb.tb_frame.f_code.co_filename)
                tb = tb.tb_next
            files[:0] = frames
            cause, depth = cause.__cause__ or cause.__context__, depth + 1
        message = str(exc).strip().splitlines()
        return cls(frozenset(c.__name__ for c in type(exc).__mro__), _header(type(exc).__name__, message), files)

    @classmethod
    def from_text(cls, text: str) -> _Error | None:
        """The last exception of a formatted traceback; None if ``text`` is not one."""
        lines = text.rstrip().splitlines()
        if not lines or not lines[0].startswith("Traceback"):
            return None
        frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
        if not frames:
            return None
        rest = [line for line in lines[frames[-1] + 1 :] if line and not line.startswith(" ")]
        if not rest:
            return None
        name, _, message = rest[0].partition(":")
        name = name.rsplit(".", 1)[-1]
        return cls(
            frozenset({name}),
            _header(name, [message.strip()] if message.strip() else []),
            [_FRAME.match(lines[i]).group(1) for i in frames],
        )

    @property
    def in_app(self) -> bool:
        return any(f.startswith(APP_DIRS) for f in self.files)

    @property
    def connection_gone(self) -> bool:
        return "AssertionError" in self.types and bool(self.files) and self.files[-1].endswith(CONNECTION_FILES)


def _header(name: str, message_lines: list[str]) -> str:
    first = message_lines[0] if message_lines else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return f"{name}: {first}" if first else name


@dataclasses.dataclass
class _Window:
    start: float
    shown: int = 0
    suppressed: int = 0
    closed: bool = False


class ClientErrorFilter(logging.Filter):
    """Turns each known client-caused record into one rate-limited line on ``out``; passes every other record.
    See the module's docstring for what is recognised."""

    def __init__(self, out: logging.Logger = log, limit: int = LIMIT, window_s: float = WINDOW_S):
        super().__init__()
        self.out, self.limit, self.window_s = out, limit, window_s
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._headers: dict[int, logging.LogRecord] = {}  # bokeh.util.asyncio's header, per thread
        self._recent: collections.deque[tuple[float, str]] = collections.deque(maxlen=1024)  # rejections reported

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            found = self._classify(record)
        except Exception:  # noqa: BLE001 - a record this filter cannot read is written as it is
            return True
        if found is None:
            return True
        if found == _DROP:
            return False
        self._report(*found)
        return False

    # ------------------------------------------------------------------------------------------- recognising
    def _classify(self, record: logging.LogRecord):
        """None (pass the record), ``_DROP``, or ``(kind, detail, error)`` for one line."""
        text = record.getMessage()
        if record.name == "bokeh.util.asyncio":
            return self._asyncio(record, text)
        if text.startswith("Failed sending message as connection was closed"):
            return CLOSED_MID_SEND, "", None
        if text.startswith(("JSON had attr", "Bokeh Server protocol error")):
            return REJECTED, text.splitlines()[0][:300], None
        if not record.exc_info or record.exc_info[1] is None:
            return None
        error = _Error.from_exc(record.exc_info[1])
        kind = self._kind(error, record.name in ("bokeh.server.protocol_handler", "panel.reactive"))
        if kind is None:
            return None
        if kind == REJECTED:
            with self._lock:
                self._recent.append((time.monotonic(), error.header))
        return kind, error.header, record.exc_info[1]

    @staticmethod
    def _kind(error: _Error, handles_client_values: bool) -> str | None:
        if error.types & CLOSED_ERRORS:
            return CLOSED_MID_SEND
        if error.connection_gone:
            return LATE_MESSAGE
        if handles_client_values and error.types & VALUE_ERRORS and not error.in_app:
            return REJECTED
        return None

    def _asyncio(self, record: logging.LogRecord, text: str):
        """Bokeh logs a failed callback task as two records: a header, then the traceback as text."""
        thread = threading.get_ident()
        if text == _ASYNCIO_HEADER:
            self._headers[thread] = record
            return _DROP
        header = self._headers.pop(thread, None)
        error = _Error.from_text(text)
        kind = None
        if error is not None:
            kind = self._kind(error, "_change_coroutine" in text)  # Panel applying a client's change
        if kind == REJECTED and self._seen(error.header):
            return _DROP  # Panel has logged this exception already ("Callback failed ..."), reported as one line
        if kind is not None:
            return kind, error.header, None
        if header is not None:  # not ours: the header and the traceback, as one record
            record.msg, record.args = f"{_ASYNCIO_HEADER}\n{text}", ()
        return None

    def _seen(self, header: str) -> bool:
        with self._lock:
            now = time.monotonic()
            for item in self._recent:
                if item[1] == header and now - item[0] < 60:
                    self._recent.remove(item)
                    return True
        return False

    # ------------------------------------------------------------------------------------------- writing
    def _report(self, kind: str, detail: str, exc: BaseException | None) -> None:
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(kind)
            if window is None or window.closed or now - window.start >= self.window_s:
                window = self._windows[kind] = _Window(now)
            if window.shown >= self.limit:
                window.suppressed += 1
                if window.suppressed == 1:
                    timer = threading.Timer(
                        max(0.0, window.start + self.window_s - now), self._summarise, (kind, window)
                    )
                    timer.daemon = True
                    timer.start()
                return
            window.shown += 1
        session = _session_id(exc)
        self.out.warning(
            "vgp-explorer: %s%s%s", kind, f": {detail}" if detail else "", f" (session {session})" if session else ""
        )

    def _summarise(self, kind: str, window: _Window) -> None:
        with self._lock:
            window.closed = True
            count = window.suppressed
        self.out.warning("vgp-explorer: %s: ... and %d more like it in the last %g s", kind, count, self.window_s)


def _session_id(exc: BaseException | None) -> str | None:
    """The Bokeh session a record belongs to: Panel's current document, else a session, connection, document or
    websocket handler found in the exception's frames or the logging call's stack; None if there is none."""
    from bokeh.application.application import SessionContext
    from bokeh.document import Document
    from bokeh.server.connection import ServerConnection
    from bokeh.server.session import ServerSession
    from bokeh.server.views.ws import WSHandler
    from panel.io.state import state

    def of(obj) -> str | None:
        if isinstance(obj, WSHandler):
            obj = obj.connection
        if isinstance(obj, ServerConnection):
            obj = obj._session
        if isinstance(obj, Document):
            obj = obj.session_context
        return str(obj.id) if isinstance(obj, (ServerSession, SessionContext)) else None

    found = of(state.curdoc)
    if found:
        return found
    frames, tb = [], exc.__traceback__ if exc is not None else None
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    frames.reverse()  # innermost first
    frame, depth = sys._getframe(1), 0
    while frame is not None and depth < 40:
        frames.append(frame)
        frame, depth = frame.f_back, depth + 1
    for frame in frames:
        local = frame.f_locals
        for name in ("connection", "session", "doc", "document", "self"):
            if name in local and (found := of(local[name])):
                return found
    return None


_FILTER: ClientErrorFilter | None = None


def install(limit: int = LIMIT, window_s: float = WINDOW_S) -> ClientErrorFilter:
    """Add the process's one ``ClientErrorFilter`` to every logger in ``LOGGERS`` (again: no change)."""
    global _FILTER
    if _FILTER is None:
        _FILTER = ClientErrorFilter(limit=limit, window_s=window_s)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER
