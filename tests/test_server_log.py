"""app/components/server_log.py: each error a client causes is one log line without a traceback, rate-limited per
kind, while any other error keeps its traceback; and, on a served app, a wrong-type slider value sent through
Bokeh's websocket protocol is one line in the server log, and the session goes on answering."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import Slider
from bokeh.server.connection import ServerConnection
from bokeh.util.asyncio import _log_task_exception
from tornado.websocket import WebSocketClosedError

from app.components import server_log
from app.components.server_log import CLOSED_MID_SEND, LATE_MESSAGE, LOGGERS, REJECTED, ClientErrorFilter
from tests.threads import in_fresh_thread

WINDOW_S = 0.5


class Lines(logging.Handler):
    """Formatted records (with their tracebacks, as a log file shows them)."""

    def __init__(self, level=logging.DEBUG):
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def logs():
    """A ``ClientErrorFilter`` (3 lines per kind per 0.5 s) on the real loggers; yields (one-line reports, records
    that passed the filter). Removed afterwards."""
    out, reported, passed = logging.getLogger("test.server_log"), Lines(), Lines(logging.WARNING)
    out.propagate = False
    out.addHandler(reported)
    flt = ClientErrorFilter(out=out, limit=3, window_s=WINDOW_S)
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addFilter(flt)
        logger.addHandler(passed)
    yield reported.lines, passed.lines
    for logger, level in saved:
        logger.removeFilter(flt)
        logger.removeHandler(passed)
        logger.setLevel(level)
    out.removeHandler(reported)


def bokeh_rejects(value):
    """Log what Bokeh's protocol handler logs for a PATCH-DOC whose value does not validate."""
    try:
        Slider(start=0, end=10, value=1).value = value
    except ValueError as exc:
        logging.getLogger("bokeh.server.protocol_handler").error(
            "error handling message\n message: %r \n error: %r", "PATCH-DOC", exc, exc_info=True
        )


def test_a_rejected_client_value_is_one_line_without_traceback(logs):
    reported, passed = logs
    bokeh_rejects("abc")
    assert passed == []
    assert len(reported) == 1 and "\n" not in reported[0]
    assert reported[0].startswith(
        f"test.server_log WARNING vgp-explorer: {REJECTED}: ValueError: failed to validate Slider("
    ), reported[0]
    assert "got abc of type str" in reported[0] and "Traceback" not in reported[0]


def test_a_panel_widget_rejecting_a_value_is_one_line_not_two(logs):
    """Panel logs the exception ("Callback failed ...") and Bokeh logs it again as text ("Error thrown from
    callback:" + traceback): one line for both."""
    reported, passed = logs
    slider = pn.widgets.DiscreteSlider(options=[1, 2, 3])._slider  # the inner IntSlider: an index into options
    doc = Document()
    doc.add_root(slider.get_root(doc))
    slider._events = {"value": 99}  # as a client's PATCH-DOC leaves it

    async def process():
        task = asyncio.get_running_loop().create_task(slider._change_coroutine(doc))  # as the server runs it
        with pytest.raises(IndexError):
            await task
        _log_task_exception(task)

    in_fresh_thread(asyncio.run, process())  # a loop of its own (tests/threads.py)
    assert passed == []
    assert reported == [f"test.server_log WARNING vgp-explorer: {REJECTED}: IndexError: list index out of range"]


def test_closed_connections_are_one_line_each(logs):
    reported, passed = logs
    logging.getLogger("bokeh.server.views.ws").warning("Failed sending message as connection was closed")
    logging.getLogger("panel.io.document").warning("Failed sending message as connection was closed")
    try:
        raise WebSocketClosedError()
    except WebSocketClosedError as exc:
        logging.getLogger("asyncio").error("Task exception was never retrieved\nfuture: <Task>", exc_info=exc)
    connection = object.__new__(ServerConnection)  # a message handled after its websocket closed
    connection._session = None
    try:
        connection.session  # noqa: B018 - the property asserts
    except AssertionError:
        logging.getLogger("bokeh.server.protocol_handler").error("error handling message", exc_info=True)
    assert passed == []
    assert [line.split("vgp-explorer: ", 1)[1] for line in reported] == [
        CLOSED_MID_SEND,
        CLOSED_MID_SEND,
        f"{CLOSED_MID_SEND}: WebSocketClosedError",
        f"{LATE_MESSAGE}: AssertionError",
    ]


def test_rate_limit_then_one_summary_line(logs):
    reported, _ = logs
    for i in range(10):
        bokeh_rejects(f"abc{i}")
    assert len(reported) == 3  # the limit; the other 7 are counted
    deadline = time.monotonic() + 10
    while len(reported) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reported[3] == (
        f"test.server_log WARNING vgp-explorer: {REJECTED}: ... and 7 more like it in the last {WINDOW_S:g} s"
    )
    bokeh_rejects("again")  # a new window: reported again
    assert len(reported) == 5 and "got again of type str" in reported[4]
    time.sleep(WINDOW_S * 2)
    assert len(reported) == 5  # nothing held back, no summary


def test_other_errors_keep_their_traceback(logs):
    """An exception raised in the app's own code (whatever its type, or raised from one that was), or of another
    type, passes unchanged; so does Bokeh's text traceback of a callback that failed for another reason, with its
    header."""
    reported, passed = logs
    namespace = {}
    exec(
        compile(
            "def redraw():\n    raise ValueError('the app broke')\n",
            os.path.join(server_log.APP_DIRS[0], "pages", "fake.py"),
            "exec",
        ),
        namespace,
    )
    try:
        namespace["redraw"]()
    except ValueError:
        logging.getLogger("panel.reactive").exception("Callback failed for object named 'depth'")
    try:
        try:
            namespace["redraw"]()
        except ValueError as exc:
            raise TypeError("wrapped by a library") from exc
    except TypeError:
        logging.getLogger("bokeh.server.protocol_handler").error("error handling message", exc_info=True)
    try:
        raise RuntimeError("the server broke")
    except RuntimeError:
        logging.getLogger("bokeh.server.protocol_handler").error("error handling message", exc_info=True)

    async def fail():
        raise ZeroDivisionError("division by zero")

    async def run():
        task = asyncio.get_running_loop().create_task(fail())
        with pytest.raises(ZeroDivisionError):
            await task
        _log_task_exception(task)

    in_fresh_thread(asyncio.run, run())
    assert reported == []
    assert len(passed) == 4
    assert "Traceback" in passed[0] and "fake.py" in passed[0] and "ValueError: the app broke" in passed[0]
    assert "fake.py" in passed[1] and "TypeError: wrapped by a library" in passed[1]  # its cause is the app's
    assert "Traceback" in passed[2] and "RuntimeError: the server broke" in passed[2]
    assert passed[3].startswith("bokeh.util.asyncio ERROR Error thrown from callback:\nTraceback")
    assert "ZeroDivisionError: division by zero" in passed[3]


def test_install_adds_one_filter_to_each_logger():
    try:
        first, second = server_log.install(), server_log.install()
        assert first is second
        for name in LOGGERS:
            assert logging.getLogger(name).filters.count(first) == 1
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeFilter(server_log._FILTER)


# --------------------------------------------------------------------------------------------------- served
@pytest.mark.slow
@pytest.mark.slow  # starts a server
def test_a_wrong_type_value_from_a_client_is_one_log_line_and_the_session_answers(tmp_path):
    in_fresh_thread(_wrong_type_value_is_one_log_line, tmp_path)  # Bokeh's client runs a loop of its own


def _wrong_type_value_is_one_log_line(tmp_path):
    from bokeh.document.events import ModelChangedEvent

    from app.loadtest import Student, sliders
    from tests.app_server import read_log, start_app_server

    server = start_app_server(tmp_path, env={"VGP_WARMUP": "0"}, hardened=False)  # Bokeh's client: plain serve
    try:
        student = Student(f"{server.url}?page=deep")
        student.settle(timeout=60)
        depth = sliders(student.doc, ["depth"])[0]

        def send_wrong_type():  # Bokeh's client validates values: send the PATCH-DOC a crafted client would
            student.doc.callbacks.trigger_on_change(ModelChangedEvent(student.doc, depth, "value", "abc"))

        student._conn._loop.add_callback(send_wrong_type)
        deadline = time.monotonic() + 60
        while REJECTED not in server.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert student.move(depth) is not None  # the session still answers
        log = server.log()
        student.close()
    finally:
        server.stop()
    lines = [line for line in log.splitlines() if REJECTED in line]
    assert len(lines) == 1, log
    assert "ValueError: failed to validate Slider(" in lines[0] and "got abc of type str" in lines[0]
    assert "(session " in lines[0]
    assert "Traceback" not in log
    report = read_log(log)
    assert report.errors == [] and report.client_caused == {REJECTED: 1}
