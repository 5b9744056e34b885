"""Browser-test fixtures: the app served by a real `panel serve` process, driven by Playwright in Debian's
Chromium (never a downloaded browser). Without Chromium these tests skip locally but FAIL when CI=true."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# JS: a signature of every ColumnDataSource's numeric data, to see that a plot's data changed.
SIGNATURE_JS = """() => {
  const sig = [];
  for (const doc of (window.Bokeh && Bokeh.documents) || []) {
    for (const m of doc.all_models) {
      if (m.type !== 'ColumnDataSource') continue;
      let s = 0, n = 0;
      const entries = m.data instanceof Map ? [...m.data.entries()] : Object.entries(m.data);
      for (const [, v] of entries) {
        const arrs = Array.isArray(v) && v.length && typeof v[0] === 'object' ? v : [v];
        for (const a of arrs) {
          if (!a || !a.length) continue;
          for (let i = 0; i < a.length; i++) { const x = Number(a[i]); if (Number.isFinite(x)) { s += x * (1 + (i % 7)); n++; } }
        }
      }
      sig.push(m.id + ':' + n + ':' + s.toPrecision(10));
    }
  }
  return sig.sort().join('|');
}"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Debian's chromium is not installed (apt-get install chromium): browser tests must run in CI")
        pytest.skip("Debian's chromium is not installed")
    return {"executable_path": path, "args": CHROMIUM_FLAGS, "headless": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int, log_path: Path, proc: subprocess.Popen):
        self.port, self.log_path, self.proc = port, log_path, proc
        self.url = f"http://localhost:{port}/app"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`panel serve app` on a free port, as a user starts it; yields once /liveness answers."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "panel.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", "app", "--port", str(port), "--address",
                                 "127.0.0.1", "--allow-websocket-origin", f"localhost:{port}", "--liveness"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(port, log_path, proc)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("panel serve exited:\n" + server.log())
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("panel serve did not start:\n" + server.log())
    yield server
    proc.terminate()
    proc.wait(timeout=20)


def server_errors(server: Server) -> list[str]:
    return [line for line in server.log().splitlines() if "Traceback" in line or " ERROR" in line
            or "Error in" in line]
