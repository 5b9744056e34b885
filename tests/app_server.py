"""Start `panel serve app` as a user does (a real subprocess), for the browser, load and deployment tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMED_UP = "JAX programs warmed up"  # logged by app/warmup.py when every program is compiled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Tornado's report that a browser closed its websocket while the server was still sending to it (a test closing
#: its page mid-update, or a student's laptop going to sleep): the client's doing, not a server fault.
CLIENT_GONE = ("WebSocketClosedError", "StreamClosedError")
#: Bokeh's report that a message (a slider move) was still being handled when its sender's websocket closed: the
#: connection's session is detached under it (``ServerConnection.session`` asserts). A browser tab closed mid-drag
#: on a busy server does this (Tornado's client aborts a close unanswered for 5 s); Bokeh logs it, nothing breaks.
MESSAGE_FROM_CLOSED_CONNECTION = "in session\n    assert self._session is not None"


def log_errors(text: str) -> list[str]:
    """Error lines and tracebacks in a server log, except those of a client that has gone (``CLIENT_GONE``,
    ``MESSAGE_FROM_CLOSED_CONNECTION``)."""
    errors, block = [], None
    for line in text.splitlines() + ["0000-00-00 end"]:
        if block is not None and (line[:4].isdigit() or line.startswith("Received signal")):
            text_of_block = "\n".join(block)
            gone = any(g in block[-1] for g in CLIENT_GONE) or MESSAGE_FROM_CLOSED_CONNECTION in text_of_block
            if not gone:
                errors.append(text_of_block)
            block = None
        if "Traceback" in line and block is None:
            block = [line]
        elif block is not None:
            block.append(line)
        elif " ERROR" in line or "Error in" in line:
            errors.append(line)
    return errors


class Server:
    def __init__(self, port: int, log_path: Path, proc: subprocess.Popen):
        self.port, self.log_path, self.proc = port, log_path, proc
        self.url = f"http://localhost:{port}/app"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def errors(self) -> list[str]:
        return log_errors(self.log())

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


def start_app_server(log_dir: Path, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Server:
    """`panel serve app` on a free loopback port; returns once /liveness answers. Warm-up covers only the default
    width (VGP_WARMUP_WIDTHS=128: the tests never move the width slider, and CI has two cores)."""
    port = free_port()
    log_path = Path(log_dir) / f"panel-{port}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", VGP_WARMUP_WIDTHS="128", **(env or {}))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", "app", "--port", str(port), "--address",
                                 "127.0.0.1", "--allow-websocket-origin", f"localhost:{port}", "--liveness",
                                 *extra_args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(port, log_path, proc)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2)
            return server
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("panel serve exited:\n" + server.log())
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("panel serve did not start:\n" + server.log())
