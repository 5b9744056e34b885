"""Issue "Every move instant": the server answers a student seconds after it starts, and stops at once.

* SIGTERM while the warm-up compiles (an empty compilation cache) ends the process within 2 s: the scheduler's
  workers are daemon threads, so shutting down never waits for a compilation.
* With the compilation cache filled by an earlier start, a student who joins right after the server starts gets
  the default page and an answered slider move within a generous bound (``bench/bench_cold_start.py`` prints the
  real figure; the target is 5 s).
"""

from __future__ import annotations

import signal
import time

import pytest

from app.loadtest import Student, sliders
from tests.app_server import start_app_server
from tests.threads import in_fresh_thread

pytestmark = pytest.mark.slow

#: the test bound for "interactive after start" with a filled cache (the target, 5 s, is measured by the bench;
#: a test on a loaded two-core CI machine needs headroom)
INTERACTIVE_BOUND_S = 30.0
STOP_BOUND_S = 2.0
SMALL_WARMUP = {"VGP_WARMUP_REMEDIES": "0"}  # start_app_server warms only width 128


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
        depth = sliders(student.doc, ["depth"])[0]
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
