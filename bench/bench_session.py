"""What one student's session costs the server: CPU to build and send it, Bokeh models, memory while it is open.

Two parts:

* **Served** (default): a real ``panel serve app`` subprocess (``tests/app_server.py``, warm-up off: the pages'
  programs compile in a first, unmeasured session per page). Per page, one session is opened and kept until the
  server is idle (its programs compiled, its default results and training run in the shared cache, as on a class
  server after the first student), then ``--sessions`` sessions are opened one after another with Bokeh's Python
  client (``app/loadtest.py``: the browser's websocket protocol) and kept open. Printed per page: the server
  process's CPU seconds per opened session (building the page, serialising the document, the deferred views it
  starts; from ``/proc/PID/stat``), the Bokeh models in the document the client received, the server's resident
  memory growth per open session, and the server's CPU per second per open session while the sessions sit idle.
* **Profile** (``--profile PAGE``): the same page built in this process inside a served session (``pn.serve``),
  the thread CPU time of each build (``time.thread_time`` around ``app.site.build_site``: the event loop's thread
  builds a session), then the build under ``cProfile``, its top functions by cumulative time.

The sessions open with ``--query`` (default ``&auto_train=false``: a Deep page session costs the same to build
without its training run, which a class shares once it has finished, and which would keep the server busy).

usage: python bench/bench_session.py [--pages deep recurrent ...] [--sessions 20] [--query ARGS] [--profile PAGE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.loadtest import Student  # noqa: E402
from app.pages import PAGES  # noqa: E402
from tests.app_server import Server, served_in_process, start_app_server  # noqa: E402
from tests.load.server_idle import cpu_seconds, wait_until_idle  # noqa: E402

#: the server frees a closed session's document within about a second (as in the load test)
SESSION_FLAGS = ("--check-unused-sessions", "1000", "--unused-session-lifetime", "1000")
#: seconds over which the CPU of idle open sessions is measured
IDLE_MEASURE_S = 10.0
#: a page's first session is kept open until no plot data has reached it for this long (its training streamed)
FIRST_QUIET_S = 5.0


def measure_page(server: Server, slug: str, sessions: int, query: str = "") -> dict:
    """The figures of one page (see the module's docstring); every session is closed again on return. ``query``:
    more URL arguments (``&name=value...``)."""
    url = f"{server.url}?page={slug}{query}"
    pid = server.proc.pid
    first = Student(url)  # compiles the page's programs and fills the shared cache (its training run included)
    first.settle(quiet=FIRST_QUIET_S, timeout=900.0)
    first.close()
    wait_until_idle(pid, timeout_s=900.0)
    cpu0, rss0 = cpu_seconds(pid), server.rss_mb()
    students, opened = [], []
    try:
        for _ in range(sessions):
            t = time.perf_counter()
            students.append(Student(url))
            opened.append(time.perf_counter() - t)
        wait_until_idle(pid, timeout_s=900.0)  # deferred views done; only the sessions' own timers remain
        cpu1, rss1 = cpu_seconds(pid), server.rss_mb()
        time.sleep(IDLE_MEASURE_S)  # the open sessions sit idle: only their periodic callbacks run
        idle_cpu = (cpu_seconds(pid) - cpu1) / IDLE_MEASURE_S
        models = len(students[0].doc.models)
    finally:
        for s in students:
            s.close()
    return dict(
        page=slug,
        models=models,
        cpu_ms=1e3 * (cpu1 - cpu0) / sessions,
        rss_mb=(rss1 - rss0) / sessions,
        idle_ms_per_s=1e3 * idle_cpu / sessions,
        open_p50_ms=1e3 * statistics.median(opened),
    )


def served(pages: list[str], sessions: int, query: str = "") -> None:
    env = {"VGP_WARMUP": "0", "VGP_WARMUP_REMEDIES": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_app_server(Path(tmp), SESSION_FLAGS, env=env, hardened=False)
        try:
            print(
                f"{sessions} sessions per page opened one after another and kept open; server RSS at start "
                f"{server.rss_mb():.0f} MB"
            )
            print(
                f"{'page':<15s}{'models':>8s}{'CPU/session':>14s}{'RSS/session':>14s}{'idle CPU':>16s}{'open p50':>11s}"
            )
            for slug in pages:
                r = measure_page(server, slug, sessions, query)
                print(
                    f"{r['page']:<15s}{r['models']:>8d}{r['cpu_ms']:>11.0f} ms{r['rss_mb']:>11.1f} MB"
                    f"{r['idle_ms_per_s']:>9.2f} ms/s{r['open_p50_ms']:>8.0f} ms",
                    flush=True,
                )
                wait_until_idle(server.proc.pid, timeout_s=900.0)
            errors = server.errors()
            print(f"server log errors: {len(errors)}" + (f"\n{errors[0]}" if errors else ""))
        finally:
            server.stop()


def profile(slug: str, builds: int, top: int) -> None:
    """Serve ``slug``'s site ``builds`` times in this process; print each session's thread CPU time in its three
    parts on the server's event loop: building the site (``app.site.build_site``), rendering it into the session's
    document (Panel makes the Bokeh models: ``server_doc``) and serialising the document for the client
    (``Document.to_json``); then the cProfile of the last session's three parts."""
    import panel as pn
    from bokeh.document import Document

    from app.site import build_site

    parts: list[dict[str, float]] = []  # per session: part -> thread CPU seconds
    session_of: dict[int, int] = {}  # id(document) -> its session's index in parts
    profiler = cProfile.Profile()

    def timed(doc, part: str, fn, *args, **kwargs):
        i = session_of[id(doc)]
        last = i == builds - 1
        t = time.thread_time()
        if last:
            profiler.enable()
        try:
            return fn(*args, **kwargs)
        finally:
            if last:
                profiler.disable()
            parts[i][part] = parts[i].get(part, 0.0) + time.thread_time() - t

    to_json = Document.to_json

    def timed_to_json(doc, *args, **kwargs):
        if id(doc) not in session_of:
            return to_json(doc, *args, **kwargs)
        return timed(doc, "serialise", to_json, doc, *args, **kwargs)

    def app():
        doc = pn.state.curdoc
        session_of[id(doc)] = len(parts)
        parts.append({})
        view = timed(doc, "build", build_site, slug)
        timed(doc, "render", view.server_doc, doc, title="vgp-explorer")
        return None  # Panel serves the document as modified

    Document.to_json = timed_to_json
    pn.extension("katex", notifications=True, reconnect=True)  # as app/main.py
    with served_in_process(app, session_lifetime_ms=1000) as url:
        models = 0
        for _ in range(builds):
            s = Student(url)
            models = len(s.doc.models)
            s.close()
    print(
        f"?page={slug}: {models} Bokeh models; thread CPU per session (ms; the first compiles and fills "
        "caches, the last ran under cProfile):"
    )
    for i, p in enumerate(parts, 1):
        total = sum(p.values())
        print(f"  session {i}: " + ", ".join(f"{k} {1e3 * v:.0f}" for k, v in p.items()) + f"; total {1e3 * total:.0f}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", nargs="+", default=[PAGES[0].slug], choices=[s.slug for s in PAGES])
    p.add_argument("--sessions", type=int, default=20, help="sessions opened and kept open per page (default 20)")
    p.add_argument("--profile", metavar="PAGE", choices=[s.slug for s in PAGES], help="profile this page's build")
    p.add_argument(
        "--query",
        default="&auto_train=false",
        help="URL arguments added to every session's (default '&auto_train=false': the Deep page's training runs, "
        "which a class shares once one has finished, would keep the server busy while sessions are measured; pass "
        "'' to keep them)",
    )
    p.add_argument("--builds", type=int, default=5, help="with --profile: sessions built (default 5)")
    p.add_argument("--top", type=int, default=40, help="with --profile: functions printed (default 40)")
    args = p.parse_args()
    if args.profile:
        profile(args.profile, max(2, args.builds), args.top)
    else:
        served(args.pages, args.sessions, args.query)
    sys.stdout.flush()
    os._exit(0)  # Bokeh client threads and the in-process server need no orderly shutdown


if __name__ == "__main__":
    main()
