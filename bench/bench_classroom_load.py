"""Classroom load on one `panel serve app` process: N students moving a slider every second, then sessions
opened and closed in turn; prints latency percentiles, errors, the server's memory and its CPU per opened
session.

Usage: python bench/bench_classroom_load.py [--students 30] [--seconds 60] [--cycles 300] [--page deep]
(the same client as `python -m app.loadtest URL`, which checks an already running classroom server).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.loadtest import open_and_close, run_classroom  # noqa: E402
from tests.app_server import start_app_server  # noqa: E402
from tests.load.server_idle import cpu_seconds, wait_until_idle  # noqa: E402
from tests.load.test_classroom_load import DEEP_SLIDERS, LOAD_ENV, SESSION_FLAGS  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--cycles", type=int, default=300)
    p.add_argument("--page", default="deep")
    args = p.parse_args()
    sliders = DEEP_SLIDERS if args.page == "deep" else None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        server = start_app_server(tmp, SESSION_FLAGS, env=LOAD_ENV, hardened=False)  # Bokeh's client: plain serve
        try:
            server.wait_for_warm_up()
            print(f"server up and warmed in {time.perf_counter() - t0:.0f} s; RSS {server.rss_mb():.0f} MB")
            url = f"{server.url}?page={args.page}"
            load = run_classroom(url, args.students, args.seconds, 1.0, sliders)
            print(f"{args.students} students x 1 move/s x {args.seconds:g} s on ?page={args.page}: {load.summary()}")
            time.sleep(5)
            wait_until_idle(server.proc.pid)  # the class's trainings and deferred views are done
            before, cpu_before = server.rss_mb(), cpu_seconds(server.proc.pid)
            cycles = open_and_close(url, args.cycles)
            time.sleep(5)
            wait_until_idle(server.proc.pid)
            after, cpu = server.rss_mb(), cpu_seconds(server.proc.pid) - cpu_before
            print(f"{args.cycles} sessions opened and closed: {cycles.summary()}")
            print(f"server CPU per opened and closed session: {1e3 * cpu / max(1, args.cycles):.0f} ms")
            print(f"server RSS before {before:.0f} MB, after {after:.0f} MB (growth {after - before:+.0f} MB)")
            errors = server.errors()
            print(f"server log errors: {len(errors)}" + (f", first:\n{errors[0]}" if errors else ""))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
