"""Classroom load on one server (issue 6): 30 simultaneous sessions, each moving a slider every second for a
minute, then 300 sessions opened and closed in turn, with the server's memory checked afterwards.

Latency figures are printed (and recorded by bench/bench_classroom_load.py), never asserted: the test asserts
what must hold on any machine — every move answered, no errors, no memory leak per session.
"""

from __future__ import annotations

import time

import pytest

from app.loadtest import open_and_close, run_classroom
from tests.app_server import start_app_server
from tests.load.server_idle import wait_until_idle

#: sliders of the Deep network page whose moves redraw the views at once (the training-only sliders answer when
#: the shared training worker gets to that session, which measures the queue, not the page; "step shown" is drawn
#: in the browser and sends the server nothing: tests/browser/test_deep_browser_step.py).
DEEP_SLIDERS = ("depth", "gain", "bias std")
#: sessions are destroyed one second after their websocket closes, so memory is measured after cleanup.
SESSION_FLAGS = ("--check-unused-sessions", "1000", "--unused-session-lifetime", "1000")
#: allowed growth of the server's memory over 300 opened-and-closed sessions (the issue's bound). Measured on a
#: 2-core machine: ~20 MB (83 -> 103 MB RSS) for a trivial app: the allocator keeps some freed memory; a leak of
#: ~0.3 MB per session fails.
MEMORY_BOUND_MB = 100
#: sessions opened and closed afterwards (the issue's figure) and how many at a time. Each is an
#: ``app.loadtest.Visitor`` (the websocket handshake, the document pulled and never deserialised, DocumentReady, the
#: close), so the server's work is what is measured. Measured on this 2-core machine (20-60 default Deep sessions):
#: one at a time ~0.8 s a session, two at a time ~1.3 s (the server builds sessions on its one event-loop thread:
#: more at a time only queue). A server with more cores may gain (``concurrency``).
CYCLES = 300
CONCURRENCY = 1
#: the students use the deep page only: the Remedies lab's start-up compilation and default run would compete
#: with them for the two cores and distort the latencies
LOAD_ENV = {"VGP_WARMUP_REMEDIES": "0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_app_server(tmp_path_factory.mktemp("load"), SESSION_FLAGS, env=LOAD_ENV, hardened=False)
    try:
        srv.wait_for_warm_up()
        yield srv
    finally:
        srv.stop()


#: the class (~90 s with the ramp), the wait for its trainings, then 300 sessions (each built and sent by the server:
#: ~0.8 s on two cores): ~6 minutes on a quiet machine; the limit leaves room for a CI machine shared with other
#: jobs.
@pytest.mark.timeout(1800)
def test_thirty_students_then_three_hundred_sessions(server):
    url = f"{server.url}?page=deep"
    rss_start = server.rss_mb()
    load = run_classroom(url, students=30, seconds=60, period=1.0, slider_titles=DEEP_SLIDERS)
    print(f"\n30 students x 1 move/s x 60 s: {load.summary()}")
    assert load.errors == []
    assert load.timeouts == 0
    assert len(load.latencies) >= 30  # every student's moves were answered (none timed out, none failed)

    time.sleep(5)  # the 30 sessions are destroyed (lifetime 1 s, checked every 1 s)
    waited = wait_until_idle(server.proc.pid)  # their trainings and deferred views are done or cancelled
    rss_before = server.rss_mb()
    cycles = open_and_close(url, CYCLES, concurrency=CONCURRENCY)
    time.sleep(5)  # the last sessions are destroyed and their memory released (app/components/memory.py)
    wait_until_idle(server.proc.pid)
    rss_after = server.rss_mb()
    print(
        f"server idle {waited:.0f} s after the class\n"
        f"{CYCLES} sessions opened and closed, {CONCURRENCY} at a time: {cycles.summary()}\n"
        f"server RSS: {rss_start:.0f} MB at start, {rss_before:.0f} MB before the 300 sessions, "
        f"{rss_after:.0f} MB after"
    )
    assert cycles.errors == []
    assert len(cycles.latencies) == CYCLES
    assert rss_after - rss_before < MEMORY_BOUND_MB
    assert server.errors() == []
