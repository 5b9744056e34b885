"""Start the app server as a user does (a real subprocess), for the browser, load and deployment tests: `vgp serve`
(app/server.py: `panel serve app` with signed session ids and the security headers, so every browser test runs under
the Content-Security-Policy), or plain `panel serve app` for Bokeh's Python client (``hardened=False``)."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.components.server_log import KINDS as CLIENT_KINDS

ROOT = Path(__file__).resolve().parents[1]
WARMED_UP = "JAX programs warmed up"  # logged by app/warmup.py when every program is compiled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    """Return once a server accepts connections on the loopback ``port``."""
    deadline = time.time() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def served_in_process(app, session_lifetime_ms: int = 500):
    """Serve the Panel app function ``app`` at ``/app`` on a free loopback port of this process (Panel's server on
    its own thread), with notifications on as in app/main.py; yields the app's URL once the server accepts
    connections, and stops the server on leaving. For the tests and benchmarks that look at the server's own
    objects or thread CPU time (session cost, session memory); a closed session is destroyed after
    ``session_lifetime_ms``."""
    import panel as pn

    port = free_port()
    with pn.config.set(notifications=True):
        server = pn.serve(
            {"app": app},
            port=port,
            address="127.0.0.1",
            threaded=True,
            show=False,
            check_unused_sessions_milliseconds=session_lifetime_ms,
            unused_session_lifetime_milliseconds=session_lifetime_ms,
        )
        try:
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}/app"
        finally:
            server.stop()


#: app/components/server_log.py's one-line report of a client-caused error (``vgp-explorer: <kind>: <what>``) and its
#: summary of the lines it held back (``vgp-explorer: <kind>: ... and 312 more like it in the last 10 s``)
CLIENT_LINE = re.compile(r"vgp-explorer: (" + "|".join(map(re.escape, CLIENT_KINDS)) + r")(?:: (.*))?")
HELD_BACK = re.compile(r"^\.\.\. and (\d+) more like it in the last ")


@dataclasses.dataclass
class LogReport:
    """A server log read for the tests: the errors (each fails the check: an error line, or any traceback — the
    server writes the errors a client causes as one line each) and, per kind, how many client-caused errors the
    server reported in one line or counted in a summary (not faults; printed for the record)."""

    errors: list[str]
    client_caused: collections.Counter

    def summary(self) -> str:
        counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.client_caused.items())) or "none"
        return f"server log: {len(self.errors)} errors; client-caused, one line each: {counts}"


def read_log(text: str) -> LogReport:
    """Errors and client-caused reports in a server log (see ``LogReport``)."""
    errors, block, client = [], None, collections.Counter()
    for line in text.splitlines() + ["0000-00-00 end"]:
        if block is not None and (line[:4].isdigit() or line.startswith("Received signal")):
            errors.append("\n".join(block))
            block = None
        if (match := CLIENT_LINE.search(line)) and block is None:
            held_back = HELD_BACK.match(match.group(2) or "")
            client[match.group(1)] += int(held_back.group(1)) if held_back else 1
        elif "Traceback" in line and block is None:
            block = [line]
        elif block is not None:
            block.append(line)
        elif " ERROR" in line or "Error in" in line:
            errors.append(line)
    return LogReport(errors, client)


def log_errors(text: str) -> list[str]:
    """Error lines and tracebacks in a server log (``read_log(text).errors``)."""
    return read_log(text).errors


class Server:
    def __init__(self, port: int, log_path: Path, proc: subprocess.Popen):
        self.port, self.log_path, self.proc = port, log_path, proc
        self.url = f"http://localhost:{port}/app"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def errors(self) -> list[str]:
        """The log's errors (``read_log``); prints how many client-caused errors it reported, when any."""
        report = read_log(self.log())
        if report.client_caused:
            print(report.summary())
        return report.errors

    def rss_mb(self) -> float:
        """Resident memory of the server process (MB), from /proc."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def wait_for_warm_up(self, timeout: float = 600) -> None:
        deadline = time.time() + timeout
        while WARMED_UP not in self.log():
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not finish warming up:\n" + self.log()[-3000:])
            time.sleep(1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_app_server(
    log_dir: Path, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None, *, hardened: bool = True
) -> Server:
    """The app on a free loopback port; returns once /liveness answers. ``hardened``: `python -m app.server` (what
    `vgp serve` runs); else `panel serve app` — needed by Bokeh's Python client (app/loadtest.py), which signs no
    session id and so cannot join a server whose session ids are signed. Warm-up covers only the default width
    (VGP_WARMUP_WIDTHS=128: the tests never move the width slider, and CI has two cores)."""
    port = free_port()
    log_path = Path(log_dir) / f"panel-{port}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", VGP_WARMUP_WIDTHS="128", **(env or {}))
    command = ["-m", "app.server"] if hardened else ["-m", "panel", "serve", "app"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                *command,
                "--port",
                str(port),
                "--address",
                "127.0.0.1",
                "--allow-websocket-origin",
                f"localhost:{port}",
                "--liveness",
                *extra_args,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(port, log_path, proc)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2)
            return server
        except OSError as error:
            if proc.poll() is not None:
                raise RuntimeError("the app server exited:\n" + server.log()) from error
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app server did not start:\n" + server.log())
