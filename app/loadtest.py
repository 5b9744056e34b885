"""Classroom load test: many headless students against a running vgp-explorer server.

A teacher can check a classroom server before the lesson (``python -m app.loadtest URL --students 30``); the
test suite and ``bench/bench_classroom_load.py`` use the same code. Each student is a Bokeh client session
(``bokeh.client.pull_session``: the same websocket protocol as a browser, without rendering) that moves a slider
by one step every ``period`` seconds and times how long the server takes to push new plot data back. Sessions that
are only opened and closed (``open_and_close``) are ``Visitor``s: the same protocol, with the page's document read
as bytes only.

Notes (Bokeh client behaviour found on a 2-core machine): ``import panel`` first (Panel's models must deserialise);
send ``DocumentReady`` or Panel never runs the page's callbacks; ``force_roundtrip`` drops server pushes, so we wait
on the client's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence

import numpy as np
import panel  # noqa: F401  (registers Panel's Bokeh models for deserialisation)
import panel.models.katex  # noqa: F401  (the explanation panels use KaTeX, which Panel loads lazily)
from bokeh.client import pull_session
from bokeh.client.states import DISCONNECTED
from bokeh.client.util import websocket_url_for_server_url
from bokeh.document import Document
from bokeh.document.events import MessageSentEvent
from bokeh.events import DocumentReady
from bokeh.models import ColumnDataSource
from bokeh.protocol import Protocol
from bokeh.protocol.receiver import Receiver
from bokeh.util.strings import format_url_query_arguments
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

#: how long a student waits for the server's answer to one move before counting it lost (a timeout). Generous:
#: a saturated two-core server answers late but answers (p95 ~11 s measured at 30 students); the latencies show
#: how late, the timeouts count moves that were never answered.
ANSWER_TIMEOUT_S = 30.0
#: seconds a closing session may take for the websocket's closing handshake
CLOSE_TIMEOUT_S = 10.0
#: the largest websocket message a client accepts (Bokeh's client default: a page's document is ~1-2 MB)
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
#: Bokeh's Python client handles every message it receives one call deeper than the one before
#: (``ClientConnection._handle_messages`` awaits ``_next``, which runs the state that calls ``_handle_messages``
#: again): under Python's default limit of 1,000 frames a connection dies of RecursionError after about 300
#: messages — fewer than a student who moves once a second for a minute while training streams receives. The
#: student threads get this frame limit and a stack deep enough for it (each level also resumes through C).
CLIENT_RECURSION_LIMIT = 30_000
CLIENT_THREAD_STACK_BYTES = 256 * 1024 * 1024


@dataclasses.dataclass
class LoadResult:
    """Latencies (seconds) of every answered move, with the moves that got no answer and the students' errors."""

    latencies: list[float]
    timeouts: int
    errors: list[str]
    wall_s: float

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else math.nan

    def summary(self) -> str:
        ms = lambda s: f"{1e3 * s:.0f} ms"  # noqa: E731
        text = (
            f"moves answered={len(self.latencies)} timeouts={self.timeouts} errors={len(self.errors)} "
            f"wall={self.wall_s:.1f} s p50={ms(self.percentile(50))} p95={ms(self.percentile(95))} "
            f"max={ms(max(self.latencies, default=math.nan))}"
        )
        return text + (f"\nfirst error: {self.errors[0]}" if self.errors else "")


def sliders(doc, titles: Sequence[str] | None = None) -> list:
    """The numeric sliders of the page (optionally only those whose title starts with one of ``titles``)."""
    found = []
    for root in doc.roots:
        for model in root.references():
            props = model.properties()
            if {"value", "start", "end", "step", "title"} <= props and isinstance(
                getattr(model, "value", None), (int, float)
            ):
                if titles is None or any(str(model.title or "").startswith(t) for t in titles):
                    found.append(model)
    return sorted(found, key=lambda m: str(m.title))


def _start_deep_stack_thread(target, *args) -> threading.Thread:
    """A started daemon thread for one client loop, with the stack and frame limit ``CLIENT_RECURSION_LIMIT``
    needs (the stack size applies to threads started while it is set)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), CLIENT_RECURSION_LIMIT))
    previous = threading.stack_size(CLIENT_THREAD_STACK_BYTES)
    try:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    return thread


class Student:
    """One headless browser-like session. Its client loop runs in a thread of its own for the session's whole life
    (stopping and restarting Bokeh's client loop mid-message starts a second reader on the websocket, which then
    splits messages between the two); a document change handler signals every new plot data push."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        arguments = dict(urllib.parse.parse_qsl(parts.query))  # ?page=deep reaches the app as session arguments
        self.session = pull_session(url=urllib.parse.urlunsplit(parts._replace(query="")), arguments=arguments)
        self.doc = self.session.document
        self._conn = self.session._connection  # private: the only way to run the client loop (see module notes)
        self._data_pushed = threading.Condition()
        self._pushes = 0
        self._closing = False
        self.doc.on_change(self._on_change)
        self.doc.callbacks.send_event(DocumentReady())
        self._thread = _start_deep_stack_thread(self._conn._loop_until, self._closed)

    def _on_change(self, event) -> None:
        if isinstance(getattr(event, "model", None), ColumnDataSource):
            with self._data_pushed:
                self._pushes += 1
                self._data_pushed.notify_all()

    def pushes(self) -> int:
        """How many plot-data changes the server has pushed so far."""
        with self._data_pushed:
            return self._pushes

    def wait_for_push(self, after: int, timeout: float) -> bool:
        """Wait until more than ``after`` plot-data changes have arrived; False on timeout."""
        with self._data_pushed:
            return self._data_pushed.wait_for(lambda: self._pushes > after, timeout)

    def settle(self, quiet: float = 1.0, timeout: float = 120.0) -> None:
        """Wait until no plot data has arrived for ``quiet`` seconds (deferred views, training streams)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.wait_for_push(self.pushes(), quiet):
                return

    def move(self, slider) -> float | None:
        """Move ``slider`` one step (back when at the end); the seconds until new data arrived, None on timeout."""
        before = self.pushes()
        step = slider.step or (slider.end - slider.start) / 100
        value = slider.value + step if slider.value + step <= slider.end else slider.value - step
        t0 = time.perf_counter()
        self._conn._loop.add_callback(setattr, slider, "value", value)  # models change on the client loop's thread
        answered = self.wait_for_push(before, ANSWER_TIMEOUT_S)
        return time.perf_counter() - t0 if answered else None

    def _closed(self) -> bool:
        return self._closing and isinstance(self._conn._state, DISCONNECTED)

    def close(self) -> None:
        """Close the websocket as a closing browser tab does, and keep the client loop running until the closing
        handshake is done: stopping it at once left some connections open, so the server (rightly) kept those
        sessions alive and the load test's memory figure counted them."""
        self._closing = True
        loop = self._conn._loop
        loop.add_callback(self.session.close)
        self._thread.join(timeout=CLOSE_TIMEOUT_S)  # the loop stops itself once the connection is DISCONNECTED
        if self._thread.is_alive():  # the server never answered the close: stop waiting
            loop.add_callback(loop.stop)
            self._thread.join(timeout=CLOSE_TIMEOUT_S)


def run_classroom(
    url: str,
    students: int,
    seconds: float,
    period: float = 1.0,
    slider_titles: Sequence[str] | None = None,
    ramp_s: float = 1.0,
) -> LoadResult:
    """``students`` sessions, each moving one slider (they take the page's sliders in turn) every ``period`` s
    for ``seconds``. Students join ``ramp_s`` apart, like a class opening a link (a session costs the server about
    a second to build on two cores, and Bokeh's client gives up on a connection after 20 s, where a browser would
    wait); the moves start once every student has joined or failed to. A student that cannot join is counted as an
    error and the others go on."""
    latencies, errors, lock = [], [], threading.Lock()
    timeouts = [0]
    arrived = threading.Semaphore(0)  # released once per student: joined, or failed to
    go = threading.Event()

    def student(i: int) -> None:
        s = None
        try:
            s = Student(url)
            s.settle()
            candidates = sliders(s.doc, slider_titles)
            if not candidates:
                raise RuntimeError(f"no slider matching {slider_titles} on {url}")
        except Exception as exc:  # noqa: BLE001  (every failure is a counted error, reported in the summary)
            with lock:
                errors.append(f"student {i} joining: {type(exc).__name__}: {exc}")
            arrived.release()
            if s is not None:
                s.close()
            return
        arrived.release()
        go.wait()
        try:
            slider = candidates[i % len(candidates)]
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                dt = s.move(slider)
                with lock:
                    if dt is None:
                        timeouts[0] += 1
                    else:
                        latencies.append(dt)
                time.sleep(max(0.0, period - (time.perf_counter() - t0)))
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"student {i}: {type(exc).__name__}: {exc}")
        finally:
            s.settle(timeout=ANSWER_TIMEOUT_S)  # stops dragging, sees the last answer, then closes the tab
            s.close()

    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(students)]
    for t in threads:
        t.start()
        time.sleep(ramp_s)
    for _ in threads:
        arrived.acquire(timeout=600)
    go.set()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 10 * ANSWER_TIMEOUT_S + 60)
    return LoadResult(latencies, timeouts[0], errors, time.perf_counter() - t0)


class Visitor:
    """A visit as cheap for the client as a websocket allows: the Bokeh protocol's own handshake (ACK, the page's
    whole document pulled, ``DocumentReady`` sent, the socket closed), with the reply's bytes read but never turned
    into a document. The server does everything it does for a browser tab; the client spends ~10 ms instead of the
    ~0.35 s of CPU that ``Student`` (Bokeh's client) needs to deserialise a page, which on a two-core machine the
    server would otherwise share with it (Bokeh's protocol: ``bokeh.protocol``, ``bokeh.server.views.ws``)."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self._arguments = dict(urllib.parse.parse_qsl(parts.query))
        self._ws_url = websocket_url_for_server_url(urllib.parse.urlunsplit(parts._replace(query="")))
        self._protocol = Protocol()

    def visit(self) -> float:
        """Open one session and close it; the seconds until the server's document had arrived."""
        return asyncio.run(self._visit())

    async def _visit(self) -> float:
        token = generate_jwt_token(generate_session_id())  # as ``pull_session`` does: the server makes the session
        request = HTTPRequest(format_url_query_arguments(self._ws_url, self._arguments))
        t0 = time.perf_counter()
        socket = await websocket_connect(request, subprotocols=["bokeh", token], max_message_size=MAX_MESSAGE_BYTES)
        try:
            receiver = Receiver(self._protocol)
            await self._receive(socket, receiver, "ACK")
            await self._send(socket, self._protocol.create("PULL-DOC-REQ"))
            await self._receive(socket, receiver, "PULL-DOC-REPLY")
            latency = time.perf_counter() - t0
            ready = MessageSentEvent(Document(), "bokeh_event", DocumentReady())  # what a browser sends next
            await self._send(socket, self._protocol.create("PATCH-DOC", [ready]))
        finally:
            socket.close()
            deadline = time.perf_counter() + CLOSE_TIMEOUT_S
            while time.perf_counter() < deadline:  # the closing handshake: read until the server has closed
                if await asyncio.wait_for(socket.read_message(), CLOSE_TIMEOUT_S) is None:
                    break
        return latency

    @staticmethod
    async def _send(socket, message) -> None:
        for part in (message.header_json, message.metadata_json, message.content_json):
            await socket.write_message(part)

    @staticmethod
    async def _receive(socket, receiver: Receiver, msgtype: str) -> None:
        """Read messages until one of type ``msgtype`` is complete (the server may push others first)."""
        while True:
            fragment = await asyncio.wait_for(socket.read_message(), ANSWER_TIMEOUT_S)
            if fragment is None:
                raise ConnectionError(f"the server closed the websocket before {msgtype}")
            message = await receiver.consume(fragment)
            if message is not None and message.msgtype == msgtype:
                return


def open_and_close(url: str, sessions: int, concurrency: int = 1) -> LoadResult:
    """Open ``sessions`` sessions and close each, ``concurrency`` at a time (1: one after another, as a class
    arriving one by one; more: what the server's memory does with a stream of visits, in less wall time), each a
    ``Visitor``; latency = time until the page's document (with its plot data) has arrived."""
    latencies, errors, lock = [], [], threading.Lock()
    next_index = iter(range(sessions))
    visitor = Visitor(url)

    def visit_in_turn() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            try:
                latency = visitor.visit()
                with lock:
                    latencies.append(latency)
            except Exception as exc:  # noqa: BLE001  (every failure is a counted error, reported in the summary)
                with lock:
                    errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    workers = [threading.Thread(target=visit_in_turn, daemon=True) for _ in range(max(1, concurrency))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return LoadResult(latencies, 0, errors, time.perf_counter() - t0)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="the app's URL, e.g. http://localhost:5006/app?page=deep")
    p.add_argument("--students", type=int, default=30, help="simultaneous sessions (default 30)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long each student moves sliders (default 60)")
    p.add_argument("--period", type=float, default=1.0, help="seconds between one student's moves (default 1)")
    p.add_argument("--ramp", type=float, default=1.0, help="seconds between two students joining (default 1)")
    p.add_argument(
        "--slider",
        action="append",
        default=None,
        help="only sliders whose title starts with this (repeatable; default: every slider)",
    )
    p.add_argument(
        "--open-close", type=int, default=0, metavar="N", help="afterwards, open and close N sessions one after another"
    )
    p.add_argument(
        "--concurrency", type=int, default=1, metavar="K", help="with --open-close: K sessions at a time (default 1)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if (
        args.students < 1
        or args.seconds <= 0
        or args.period <= 0
        or args.ramp < 0
        or args.open_close < 0
        or args.concurrency < 1
    ):
        print(
            "error: --students and --concurrency must be >= 1, --seconds and --period > 0, "
            "--ramp and --open-close >= 0",
            file=sys.stderr,
        )
        return 2
    result = run_classroom(args.url, args.students, args.seconds, args.period, args.slider, args.ramp)
    print(f"{args.students} students x 1 move / {args.period:g} s for {args.seconds:g} s: {result.summary()}")
    ok = not result.errors and not result.timeouts and bool(result.latencies)
    if args.open_close:
        oc = open_and_close(args.url, args.open_close, args.concurrency)
        print(
            f"{args.open_close} sessions opened and closed: {oc.summary()} "
            f"(mean {statistics.fmean(oc.latencies) * 1e3:.0f} ms per session)"
            if oc.latencies
            else oc.summary()
        )
        ok = ok and not oc.errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
