"""Deployment-test fixtures: the app started by `deploy/serve.sh` (which execs `vgp serve`, app/server.py) on
loopback ports, Debian's nginx in front of it with a configuration rendered from
`deploy/nginx/vgp-explorer.conf.template`, and the browser fixtures of tests/browser (Debian's Chromium). Without
nginx these tests skip locally but FAIL when CI=true."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.app_server import log_errors
from tests.browser.conftest import (
    SIGNATURE_JS,
    browser_type_launch_args,  # noqa: F401  (the Chromium fixture, re-exported)
    wait_until_quiet,
)

ROOT = Path(__file__).resolve().parents[2]
SERVE_SH = ROOT / "deploy" / "serve.sh"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "vgp-explorer.conf.template"
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(tool: str, hint: str) -> str:
    """The path of ``tool``; skip without it, but fail in CI (which installs it)."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is not installed ({hint}): the deployment tests must run in CI")
        pytest.skip(f"{tool} is not installed ({hint})")
    return path


# ---------------------------------------------------------------------------------------------------------------
# The app, as deploy/serve.sh starts it
# ---------------------------------------------------------------------------------------------------------------
class AppProcess:
    """One `deploy/serve.sh` process (which execs `python -m app.server`: `vgp serve`) with its log."""

    def __init__(self, port: int, log_path: Path, proc: subprocess.Popen):
        self.port, self.log_path, self.proc = port, log_path, proc
        self.url = f"http://localhost:{port}/app"
        self.addr = f"127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cmdline(self) -> str:
        """The process's command line as every user of the machine sees it (`ps`): serve.sh execs the server, so
        this is the server's own."""
        return Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def serve_env(port: int, **extra: str) -> dict[str, str]:
    """The environment for deploy/serve.sh on a loopback port; ``extra`` adds or overrides variables."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VGP_", "PANEL_", "BOKEH_"))
    }  # no stray password or origin from the caller
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),  # `python`: this Python
        PYTHONUNBUFFERED="1",
        VGP_ADDRESS="127.0.0.1",
        VGP_PORT=str(port),
        VGP_WARMUP_WIDTHS="128",  # warm only the default width: two cores in CI
        PANEL_LOG_LEVEL="info",  # Panel logs "Session <id> created / launching / rendered"
    )
    env.update(extra)
    return env


def start_app(log_path: Path, port: int, **extra: str) -> AppProcess:
    """Start deploy/serve.sh (not awaited: see ``wait_live``)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["sh", str(SERVE_SH)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=serve_env(port, **extra)
        )
    return AppProcess(port, log_path, proc)


def wait_live(app: AppProcess, timeout: float = 180.0) -> None:
    """Wait until GET /liveness answers 200 (it needs no password)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.proc.poll() is not None:
            raise RuntimeError(f"serve.sh exited with {app.proc.returncode}:\n{app.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{app.port}/liveness", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    app.stop()
    raise RuntimeError(f"serve.sh did not answer on port {app.port}:\n{app.log()}")


def app_errors(app: AppProcess) -> list[str]:
    """Error lines and tracebacks in the process's log (``tests.app_server.log_errors``)."""
    return log_errors(app.log())


# ---------------------------------------------------------------------------------------------------------------
# nginx with the deploy template
# ---------------------------------------------------------------------------------------------------------------
def render_template(text: str, variables: dict[str, str]) -> str:
    """What `envsubst '$A $B ...'` (and the official nginx image's template step) does: replace ``$NAME`` and
    ``${NAME}`` of the listed variables only. Fails if a ``${VGP_...}`` placeholder is left without a value."""
    for name in sorted(variables, key=len, reverse=True):
        text = re.sub(
            r"\$\{" + name + r"\}|\$" + name + r"(?![A-Za-z0-9_])", lambda _m, value=variables[name]: value, text
        )
    left = sorted(set(re.findall(r"\$\{(VGP_[A-Z0-9_]+)\}", text)))
    assert not left, f"the nginx template needs values for {left}"
    return text


class Nginx:
    def __init__(self, prefix: Path, port: int, proc: subprocess.Popen):
        self.prefix, self.port, self.proc = prefix, port, proc
        self.base = f"http://localhost:{port}"
        self.access_log = prefix / "access.log"
        self.error_log = prefix / "error.log"

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(errors="replace").splitlines() if self.access_log.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: lets open websockets close and be logged
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def nginx_main_conf(prefix: Path, site_conf: Path) -> str:
    """A minimal main configuration around the deploy template (as nginx.conf's `http { include ...; }`)."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 512; }}
http {{
{temp}
    include {site_conf};
}}
"""


def start_nginx(prefix: Path, port: int, upstreams: list[str], template: str | None = None) -> Nginx:
    """Debian's nginx as a foreground subprocess with a temporary prefix, in front of ``upstreams``, configured by
    the deploy template (or by ``template``, a variant of its text)."""
    nginx = require("nginx", "apt-get install nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    site = render_template(
        template or NGINX_TEMPLATE.read_text(),
        {
            "VGP_UPSTREAM_SERVERS": " ".join(f"server {u};" for u in upstreams),
            "VGP_NGINX_PORT": f"127.0.0.1:{port}",
            "VGP_NGINX_ACCESS_LOG": str(prefix / "access.log"),
        },
    )
    (prefix / "vgp-explorer.conf").write_text(site)
    (prefix / "nginx.conf").write_text(nginx_main_conf(prefix, prefix / "vgp-explorer.conf"))
    base = [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]
    check = subprocess.run(base + ["-t"], capture_output=True, text=True)
    assert check.returncode == 0, f"nginx -t rejected the rendered template:\n{check.stderr}\n{site}"
    proc = subprocess.Popen(base + ["-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = Nginx(prefix, port, proc)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("nginx exited:\n" + server.error_log.read_text(errors="replace"))
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx-health", timeout=2)
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("nginx did not answer:\n" + server.error_log.read_text(errors="replace"))


def open_app_page(page, url: str, console: list, requests: list, timeout: float = 300.0) -> None:
    """Open ``url`` and wait for Bokeh's websocket ("... is now open" in the console). Like tests/browser's
    ``open_page`` with longer limits: these pages are the first of their kind in a cold process."""
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": 1500, "height": 1350})
    page.goto(url, timeout=timeout * 1000)
    deadline = time.time() + timeout
    while time.time() < deadline and not any("is now open" in t for _, t in console):
        page.wait_for_timeout(200)
    assert any("is now open" in t for _, t in console), console


def wait_for_plots(page, timeout: float = 300.0) -> str:
    """Wait until the page's plots hold data (some data source has numbers) and then stop changing; returns the
    data signature (tests/browser's SIGNATURE_JS)."""
    deadline = time.time() + timeout
    while not re.search(r":[1-9]\d*:", page.evaluate(SIGNATURE_JS)):
        assert time.time() < deadline, "the page's plots never got data"
        page.wait_for_timeout(250)
    return wait_until_quiet(page, quiet=1.5, timeout=max(10.0, deadline - time.time()))


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def nginx_cluster(tmp_path_factory):
    """Three `deploy/serve.sh` processes on loopback ports behind Debian's nginx (the deploy template). The
    processes also accept websockets from a second address, ``nginx.spare_port``, for a variant of the config. They
    share one session-id key (VGP_SECRET_KEY), as deploy/README.md asks of replicas: a page whose websocket reaches
    another process (a failover; the round-robin control of test_nginx.py) is accepted there."""
    require("nginx", "apt-get install nginx")
    base = tmp_path_factory.mktemp("cluster")
    nginx_port, spare_port = free_port(), free_port()
    secret_key = secrets.token_urlsafe(32)
    apps = []
    try:
        for i in range(3):
            port = free_port()
            apps.append(
                start_app(
                    base / f"app{i}.log",
                    port,
                    # the address students type is nginx's; the processes trust its X-headers
                    BOKEH_ALLOW_WS_ORIGIN=f"localhost:{nginx_port},127.0.0.1:{nginx_port},localhost:{spare_port}",
                    VGP_USE_XHEADERS="1",
                    VGP_SECRET_KEY=secret_key,
                    # no start-up compilation in three processes at once on a 2-core machine: each
                    # compiles (or loads from JAX's disk cache) what its pages need when they need it
                    VGP_WARMUP="0",
                    # a loaded 2-core machine can take over a minute from a page's HTML to its
                    # websocket; a session unused for the default 60 s would be dropped and rebuilt
                    VGP_UNUSED_SESSION_LIFETIME_MS="900000",
                )
            )
        for app in apps:
            wait_live(app)
        nginx = start_nginx(base / "nginx", nginx_port, [app.addr for app in apps])
        nginx.spare_port = spare_port
    except BaseException:
        for app in apps:
            app.stop()
        raise
    try:
        yield nginx, apps
    finally:
        nginx.stop()
        for app in apps:
            app.stop()
