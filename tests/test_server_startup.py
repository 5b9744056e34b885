"""Issue "Every move instant": the server answers a student seconds after it starts, and stops at once.

* SIGTERM while the warm-up compiles (an empty compilation cache) ends the process within 2 s: the scheduler's
  workers are daemon threads, so shutting down never waits for a compilation.
* With the compilation cache filled by an earlier start, a student who joins right after the server starts gets
  the default page and an answered slider move within a generous bound (``bench/bench_cold_start.py`` prints the
  real figure, in Chromium, until a move is answered within 150 ms; the target is 5 s).
* With an empty cache, a student who joins while the warm-up compiles gets a page at once: "preparing…", then
  the default page by itself once its programs are compiled, and its moves answered.
"""

from __future__ import annotations

import signal
import time

import pytest

from app.components.preparing import CSS_CLASS as PREPARING_CLASS
from app.loadtest import Student, sliders
from tests.app_server import start_app_server
from tests.threads import in_fresh_thread

pytestmark = pytest.mark.slow

#: the test bound for "interactive after start" with a filled cache (the target, 5 s, is measured by the bench;
#: a test on a loaded two-core CI machine, sharing it with other tests, needs headroom)
INTERACTIVE_BOUND_S = 30.0
#: a joining student's page arrives at once, whatever the warm-up is doing (Bokeh's client pulls the document)
JOIN_BOUND_S = 30.0
#: an empty cache: the default page's first-views programs compile (about a minute on two busy cores)
COMPILE_BOUND_S = 600.0
STOP_BOUND_S = 2.0
SMALL_WARMUP = {"VGP_WARMUP_PAGES": "deep"}  # the page these tests open (start_app_server warms only width 128)


def stop_seconds(server) -> float:
    t0 = time.perf_counter()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=30)
    return time.perf_counter() - t0


def test_sigterm_during_warm_up_stops_the_server_within_2_s(tmp_path):
    server = start_app_server(tmp_path, env={"VGP_JAX_CACHE_DIR": str(tmp_path / "empty-cache")})
    try:
        time.sleep(3)  # the warm-up is compiling now (an empty cache takes minutes)
        assert "JAX programs warmed up" not in server.log()
        seconds = stop_seconds(server)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    print(f"SIGTERM during warm-up: stopped in {seconds:.2f} s")
    assert seconds <= STOP_BOUND_S


def test_with_a_filled_cache_the_default_page_answers_moves_seconds_after_start(tmp_path):
    in_fresh_thread(_filled_cache_start, tmp_path)  # Bokeh's client runs an event loop of its own (tests/threads.py)


def _filled_cache_start(tmp_path):
    env = {"VGP_JAX_CACHE_DIR": str(tmp_path / "cache"), **SMALL_WARMUP}
    first = start_app_server(tmp_path, env=env)
    try:
        first.wait_for_warm_up(timeout=900)  # fills the cache
    finally:
        first.stop()

    t0 = time.perf_counter()
    # `panel serve app`: Bokeh's Python client signs no session id, so it cannot join `vgp serve`'s signed sessions
    server = start_app_server(tmp_path, env=env, hardened=False)
    try:
        student = Student(server.url)
        joined = time.perf_counter() - t0
        depth = _wait_for_depth_slider(student, t0 + INTERACTIVE_BOUND_S)  # "preparing…" first, if it is early
        answer = student.move(depth)
        interactive = time.perf_counter() - t0
        student.close()
        print(
            f"filled cache: joined {joined:.1f} s, first move answered in {answer}, interactive "
            f"{interactive:.1f} s after the server process started"
        )
        assert answer is not None and interactive <= INTERACTIVE_BOUND_S
        assert server.errors() == []
    finally:
        server.stop()


def test_with_an_empty_cache_a_joining_student_sees_preparing_then_the_page(tmp_path):
    in_fresh_thread(_empty_cache_join, tmp_path)


def _preparing_shown(doc) -> bool:
    return any(PREPARING_CLASS in (getattr(m, "css_classes", None) or []) for r in doc.roots for m in r.references())


def _wait_for_depth_slider(student: Student, deadline: float):
    """The default page's depth slider, once the page has replaced "preparing…" (by ``deadline``)."""
    while True:
        try:
            found = sliders(student.doc, ["depth"])
        except RuntimeError:  # the client's loop changed the document while this thread read it: read again
            found = []
        if found:
            return found[0]
        assert time.perf_counter() < deadline, "the page never replaced 'preparing…'"
        time.sleep(0.1)


def _empty_cache_join(tmp_path):
    env = {"VGP_JAX_CACHE_DIR": str(tmp_path / "empty-cache"), **SMALL_WARMUP}
    server = start_app_server(tmp_path, env=env, hardened=False)
    try:
        t0 = time.perf_counter()
        student = Student(server.url)
        joined = time.perf_counter() - t0
        assert joined <= JOIN_BOUND_S
        assert _preparing_shown(student.doc), "no 'preparing…' state while the page's programs compile"
        assert sliders(student.doc, ["depth"]) == []
        depth = _wait_for_depth_slider(student, time.perf_counter() + COMPILE_BOUND_S)
        shown = time.perf_counter() - t0
        assert not _preparing_shown(student.doc)
        answer = student.move(depth)
        student.close()
        print(f"empty cache: joined in {joined:.1f} s (preparing), page shown {shown:.1f} s, move answered {answer}")
        assert answer is not None
        assert server.errors() == []
    finally:
        server.stop()
