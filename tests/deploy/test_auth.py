"""The class password of `deploy/serve.sh` (`vgp serve`, app/server.py, reads it itself), on loopback: without the
password a request gets the login page and no app; with it, the app. The password may come from VGP_PASSWORD or from
a file (plain text, or JSON accounts), never from the command line; a bad file stops the start; /liveness stays open
for health checks; the admin endpoint exists only with VGP_ADMIN=1; through nginx the app's security headers and
login cookies pass unchanged."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.app_server import log_errors

from .conftest import (
    SERVE_SH,
    app_errors,
    free_port,
    http_get,
    serve_env,
    start_app,
    start_nginx,
    wait_for_plots,
    wait_live,
)

PASSWORD = "-Class Pw 1"  # a leading `-` (once read as a flag), a space, capitals: no quoting or case folding
FILE_PASSWORD = "from the file"
APP_MARKERS = ("Bokeh", "bk-root", "vgp-explorer")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Three password-protected servers, started together: VGP_PASSWORD (admin off), a plain-text password file
    (VGP_ADMIN=1), and a JSON accounts file."""
    base = tmp_path_factory.mktemp("auth")
    (base / "password.txt").write_text(FILE_PASSWORD + "\n")
    (base / "accounts.json").write_text(json.dumps({"teacher": "T pw"}))
    common = dict(VGP_WARMUP="0")  # these tests never time the plots
    apps = {}
    try:
        for name, extra in (
            ("env", dict(VGP_PASSWORD=PASSWORD)),
            ("file", dict(VGP_PASSWORD_FILE=str(base / "password.txt"), VGP_ADMIN="1")),
            ("json", dict(VGP_PASSWORD_FILE=str(base / "accounts.json"))),
        ):
            port = free_port()
            apps[name] = start_app(
                base / f"{name}.log", port, BOKEH_ALLOW_WS_ORIGIN=f"localhost:{port}", **common, **extra
            )
        for app in apps.values():
            wait_live(app)
        yield apps
    finally:
        for app in apps.values():
            app.stop()


def login(app, username: str, password: str) -> tuple[int, dict[str, str], str]:
    """POST the login form; returns (status, headers, the cookie header to send next)."""
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(f"http://127.0.0.1:{app.port}/login", data=body, method="POST")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as r:
            status, headers = r.status, r.headers
    except urllib.error.HTTPError as e:
        status, headers = e.code, e.headers
    cookies = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
    return status, dict(headers), cookies


def assert_no_app(url: str) -> None:
    """GET ``url`` (no login cookie): refused, or sent to the login page; no app in the answer."""
    status, headers, body = http_get(url)
    assert status in (302, 401, 403), status
    if status == 302:
        target = urllib.parse.urljoin(url, headers["Location"])
        assert urllib.parse.urlparse(target).path == "/login", headers["Location"]
    assert not any(marker in body for marker in APP_MARKERS), body[:500]


def ws_status(port: int, cookie: str = "", token: str = "") -> int:
    """HTTP status of a websocket upgrade of /app/ws from the allowed origin; ``token``: the session token of a
    page (Bokeh's subprotocol header; without it an accepted upgrade makes Bokeh log a ProtocolError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            (
                f"GET /app/ws HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://localhost:{port}\r\n"
                + (f"Cookie: {cookie}\r\n" if cookie else "")
                + (f"Sec-WebSocket-Protocol: bokeh, {token}\r\n" if token else "")
                + "\r\n"
            ).encode()
        )
        return int(s.recv(4096).decode("latin-1").split()[1])


def test_without_the_password_no_app(servers):
    app = servers["env"]
    for path in ("/app", "/app?page=recurrent", "/"):
        assert_no_app(f"http://127.0.0.1:{app.port}{path}")
    # nor with a wrong password, nor the websocket that would carry the app
    status, headers, cookies = login(app, "student", "-class pw 1")
    assert status == 302 and "error=" in headers["Location"] and "user=" not in cookies
    status, _, body = http_get(f"http://127.0.0.1:{app.port}/app", {"Cookie": cookies})
    assert status == 302 and not any(marker in body for marker in APP_MARKERS)
    assert ws_status(app.port) in (401, 403)
    # the login page itself: a form, no app, nothing loaded from off the machine
    status, _, page = http_get(f"http://127.0.0.1:{app.port}/login?next=%2Fapp")
    assert status == 200 and 'type="password"' in page and "vgp-explorer" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the login page links off the machine"
    # health checks need no password
    assert http_get(f"http://127.0.0.1:{app.port}/liveness")[0] == 200


def test_with_the_password_the_app(servers):
    app = servers["env"]
    status, headers, cookies = login(app, "any name", PASSWORD)
    assert status == 302 and "error=" not in headers["Location"] and "user=" in cookies
    status, _, body = http_get(f"http://127.0.0.1:{app.port}/app?page=cliff", {"Cookie": cookies})
    assert status == 200 and "Bokeh" in body and "vgp-explorer" in body
    token = re.search(r'"token":\s*"([^"]+)"', body).group(1)  # signed by the server, for its own websocket
    assert ws_status(app.port, cookies, token) == 101
    time.sleep(1)  # the server handles the websocket's open (and its abrupt close) after the handshake
    assert app_errors(app) == []


def test_password_from_a_file(servers):
    app = servers["file"]
    assert_no_app(f"http://127.0.0.1:{app.port}/app")
    status, headers, cookies = login(app, "student", PASSWORD)  # not this server's password
    assert "error=" in headers["Location"] and "user=" not in cookies
    status, headers, cookies = login(app, "student", FILE_PASSWORD)  # the file's first line, without its newline
    assert status == 302 and "error=" not in headers["Location"] and "user=" in cookies
    status, _, body = http_get(f"http://127.0.0.1:{app.port}/app", {"Cookie": cookies})
    assert status == 200 and "Bokeh" in body
    assert app_errors(app) == []


def test_json_accounts_file(servers):
    app = servers["json"]
    assert "error=" in login(app, "student", "T pw")[1]["Location"]  # the name matters with accounts
    status, headers, cookies = login(app, "teacher", "T pw")
    assert status == 302 and "error=" not in headers["Location"]
    assert http_get(f"http://127.0.0.1:{app.port}/app", {"Cookie": cookies})[0] == 200


def test_admin_endpoint_only_with_vgp_admin(servers):
    assert http_get(f"http://127.0.0.1:{servers['env'].port}/admin")[0] == 404
    assert http_get(f"http://127.0.0.1:{servers['json'].port}/admin")[0] == 404
    app = servers["file"]  # VGP_ADMIN=1: there, and behind the password too
    assert_no_app(f"http://127.0.0.1:{app.port}/admin")
    cookies = login(app, "teacher", FILE_PASSWORD)[2]
    assert http_get(f"http://127.0.0.1:{app.port}/admin", {"Cookie": cookies})[0] == 200


def test_no_secret_on_the_command_line(servers):
    """`ps` shows every process's command line to every user: no password or secret is there."""
    for app in servers.values():
        cmdline = app.cmdline()
        assert "app.server" in cmdline and "--liveness" in cmdline, cmdline
        for secret in (PASSWORD, FILE_PASSWORD, "T pw", "Class", "--basic-auth", "--cookie-secret"):
            assert secret not in cmdline, cmdline


def test_unusable_password_file_stops_the_server(tmp_path):
    """One clear line and exit status 2, no traceback (Panel itself would serve, then fail every login)."""
    files = {
        "empty.txt": "\n",
        "malformed.json": '{"teacher": "T pw",}',
        "list.json": '["teacher", "T pw"]',
        "number.json": '{"teacher": 1}',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for path in [tmp_path / name for name in files] + [tmp_path / "missing.txt"]:
        run = subprocess.run(
            ["sh", str(SERVE_SH)],
            env=serve_env(free_port(), VGP_PASSWORD_FILE=str(path)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 2, run
        assert run.stderr.startswith(f"vgp serve: error: VGP_PASSWORD_FILE={path}"), run.stderr
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr + run.stdout, run


def test_headers_and_login_cookies_through_nginx(servers, tmp_path):
    """nginx (the deploy template) in front of the app: the app's security headers arrive once, its login cookies
    arrive beside nginx's routing cookie, the browser's cookies reach the app, and what nginx answers itself is
    `nosniff` too."""
    app = servers["env"]
    log_start = len(app.log())
    nginx = start_nginx(tmp_path / "nginx", free_port(), [app.addr])
    try:
        status, headers, _ = http_get(f"{nginx.base}/login?next=%2Fapp")
        assert status == 200 and "frame-ancestors 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "SAMEORIGIN"
        body = urllib.parse.urlencode({"username": "student", "password": PASSWORD}).encode()
        request = urllib.request.Request(f"{nginx.base}/login", data=body, method="POST")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        try:
            urllib.request.build_opener(NoRedirect).open(request, timeout=60)
            raise AssertionError("the login did not redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 302
            set_cookies = e.headers.get_all("Set-Cookie")
        names = {c.split("=", 1)[0]: c for c in set_cookies}
        assert {"user", "id_token", "vgp_route"} <= set(names), set_cookies
        assert "SameSite=Lax" in names["user"] and "HttpOnly" in names["user"]
        cookies = "; ".join(c.split(";", 1)[0] for c in set_cookies)
        status, headers, page = http_get(f"{nginx.base}/app?page=cliff", {"Cookie": cookies})
        assert status == 200 and "Bokeh" in page
        assert len(re.findall("script-src", headers["Content-Security-Policy"])) == 1  # one policy, the app's
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert http_get(f"{nginx.base}/nginx-health")[1]["X-Content-Type-Options"] == "nosniff"
    finally:
        nginx.stop()
    assert log_errors(app.log()[log_start:]) == []


@pytest.mark.browser
def test_login_in_the_browser(page, servers):
    """A student in Chromium: the app URL shows the login form (no plots, nothing off the machine); the class
    password opens the app, whose websocket connects and whose plots get data."""
    app = servers["env"]
    console, requests = [], []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"http://localhost:{app.port}/app?page=bifurcation", timeout=120_000)
    assert urllib.parse.urlparse(page.url).path == "/login"
    assert page.evaluate("() => !window.Bokeh")
    page.fill("input[name=username]", "student")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/login\?.*error="), timeout=60_000)
    assert page.evaluate("() => !window.Bokeh")
    page.fill("input[name=username]", "student")  # the error page starts with an empty form
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # the app page is built on the first request for it: slow on a loaded CI machine. The login's error page keeps
    # the page the student asked for (Panel's own resets it to "/"), so they land on it.
    page.wait_for_url(lambda url: urllib.parse.urlparse(url).path == "/app", timeout=300_000, wait_until="commit")
    assert "page=bifurcation" in page.url, page.url
    deadline = time.time() + 300
    while time.time() < deadline and not any("is now open" in t for _, t in console):
        page.wait_for_timeout(200)
    assert any("is now open" in t for _, t in console), console  # the websocket connected
    wait_for_plots(page)  # plots with data
    assert [t for kind, t in console if kind == "error"] == [], console
    offsite = [
        u
        for u in requests
        if not u.startswith(f"http://localhost:{app.port}/") and not u.startswith(("ws://localhost", "data:", "blob:"))
    ]
    assert offsite == [], offsite
