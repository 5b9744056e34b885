"""Issue 12: a student's session of the default page stays cheap to open — the server's CPU time to build, render
and serialise it, and the Bokeh models it sends. Served in this process (``pn.serve``), read by Bokeh's Python client
(``app.loadtest.Student``, the browser's protocol), so that the page is built as in a class: deferred views, no
synchronous measurement. The bounds are twice the figures measured with ``bench/bench_session.py`` (README, "Classroom
load"): generous enough for a shared CI machine, tight enough that a figure or a per-figure widget too many, or a
section built before it is opened, fails.
"""

from __future__ import annotations

import time

import panel as pn
import pytest

from app.loadtest import Student
from app.site import build_site
from tests.app_server import served_in_process
from tests.threads import in_fresh_thread

#: measured on the 2-core development machine (this test; bench/bench_session.py --profile deep): the default Deep
#: page's document has 428 Bokeh models; building, rendering and serialising a session takes 0.6-0.8 s of the server
#: thread's CPU (the machine shared with other jobs, load average ~20)
MEASURED_MODELS = 428
MEASURED_CPU_S = 0.75
#: twice the measurements (see the module's docstring)
MODEL_BOUND = 2 * MEASURED_MODELS
CPU_BOUND_S = 2 * MEASURED_CPU_S
#: sessions opened: the first compiles the page's programs and fills the shared caches, the others are measured (the
#: first's deferred views may still compile meanwhile, on other threads: the measure is the server thread's CPU)
SESSIONS = 3
#: the default page without its training run (a run's programs would take this process's cores for a minute; the
#: run changes no model of the page, only the data of its training views)
QUERY = "?auto_train=false"


@pytest.mark.timeout(600)
def test_a_default_page_session_is_cheap_to_build():
    cpu: list[float] = []

    def app():
        doc = pn.state.curdoc
        start = time.thread_time()  # the server's event loop builds a session on its own thread
        view = build_site()
        view.server_doc(doc, title="vgp-explorer")
        doc.to_json()  # what the server sends the browser (it serialises once more to send it)
        cpu.append(time.thread_time() - start)

    with served_in_process(app) as url:

        def open_sessions() -> list[int]:
            models = []
            for _ in range(SESSIONS):
                student = Student(f"{url}{QUERY}")
                models.append(len(student.doc.models))
                student.close()
            return models

        models = in_fresh_thread(open_sessions)  # Bokeh's client runs a loop: pytest-playwright may run one here
    print(f"default page: {models[-1]} Bokeh models; server CPU per session (s): {[round(c, 3) for c in cpu]}")
    assert len(cpu) == SESSIONS and len(set(models)) == 1
    assert models[-1] <= MODEL_BOUND
    assert min(cpu[1:]) <= CPU_BOUND_S  # the best of the measured sessions: another job may take a core meanwhile
