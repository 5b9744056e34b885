"""`vgp serve` (app/server.py): `panel serve app` hardened. Unit tests of its parts (settings from the environment,
the login throttle, the header transform) and two real servers on loopback: one with a class password from a file
(behind a pretend proxy: --use-xheaders, so each test is its own client address), one without a password and with
configured frame-ancestors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from bokeh.util.token import generate_session_id, get_session_id
from tornado.httputil import HTTPHeaders

from app import server
from tests.app_server import ROOT, start_app_server

PASSWORD = "-dash Pw 1"  # a leading `-` (once read as a flag by `panel serve --basic-auth`), a space, capitals
FRAME_ANCESTORS = "'self' https://lms.example.org"


# ---------------------------------------------------------------------------------------------------------------
# Settings from the environment
# ---------------------------------------------------------------------------------------------------------------
def hardening(tmp_path: Path, password_file: str | None = None, **env: str) -> server.Hardening:
    if password_file is not None:
        (tmp_path / "pw").write_text(password_file)
        env["VGP_PASSWORD_FILE"] = str(tmp_path / "pw")
    return server.Hardening.from_env(env)


def test_password_from_a_file_or_the_environment(tmp_path):
    assert hardening(tmp_path, PASSWORD + "\r\nsecond line\n").password == PASSWORD
    assert hardening(tmp_path, '{"teacher": "T pw", "ana": " -x "}').password == {"teacher": "T pw", "ana": "-x"}
    assert hardening(tmp_path, VGP_PASSWORD=PASSWORD).password == PASSWORD
    # the file wins over the variable; no password at all: no login
    assert hardening(tmp_path, "file pw\n", VGP_PASSWORD="env pw").password == "file pw"
    plain = hardening(tmp_path)
    assert plain.password is None and plain.cookie_secret is None and len(plain.secret_key) >= 32


@pytest.mark.parametrize(
    "text, message",
    [
        ("\n", "holds no password"),
        ('{"teacher": "T pw",}', "is not valid JSON"),
        ('{"teacher": 3}', "JSON object of names to passwords"),
        ('["teacher", "T pw"]', "JSON object of names to passwords"),
        ('{"": "pw"}', "JSON object of names to passwords"),
        ("{}", "JSON object of names to passwords"),
    ],
)
def test_unusable_password_file(tmp_path, text, message):
    with pytest.raises(server.StartError, match=message):
        hardening(tmp_path, text)


def test_secrets_from_files_and_their_checks(tmp_path):
    (tmp_path / "key").write_text("k" * 40 + "\n")
    (tmp_path / "cookie").write_text("cookie secret\n")
    h = hardening(
        tmp_path,
        VGP_PASSWORD="pw",
        VGP_SECRET_KEY_FILE=str(tmp_path / "key"),
        VGP_COOKIE_SECRET_FILE=str(tmp_path / "cookie"),
    )
    assert (h.secret_key, h.cookie_secret) == ("k" * 40, "cookie secret")
    assert hardening(tmp_path, VGP_PASSWORD="pw").cookie_secret  # generated
    with pytest.raises(server.StartError, match="VGP_SECRET_KEY_FILE=.*missing.* is not readable"):
        hardening(tmp_path, VGP_SECRET_KEY_FILE=str(tmp_path / "missing"))
    with pytest.raises(server.StartError, match="at least 32 characters"):
        hardening(tmp_path, VGP_SECRET_KEY="short")
    assert (
        hardening(tmp_path, VGP_FRAME_ANCESTORS=" 'self'\n https://*.a.example:8443/lms/ ").frame_ancestors
        == "'self' https://*.a.example:8443/lms/"
    )
    assert hardening(tmp_path, VGP_FRAME_ANCESTORS="'none'").frame_ancestors == "'none'"
    for bad in ("'self'; script-src *", "https://a.example, https://b.example", "'self' <lms>"):
        with pytest.raises(server.StartError, match="VGP_FRAME_ANCESTORS"):
            hardening(tmp_path, VGP_FRAME_ANCESTORS=bad)


def test_secret_bearing_flags_are_refused(capsys):
    for argv in (["--basic-auth", "pw"], ["--cookie-secret", "s"], ["--session-ids", "unsigned"]):
        assert server.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("vgp serve: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("text, message", [('{"teacher": "T pw",}', "not valid JSON"), (None, "not readable")])
def test_a_bad_password_file_stops_the_start(tmp_path, text, message):
    """The real process: one line on stderr, exit status 2, no traceback, nothing served."""
    path = tmp_path / "accounts.json"
    if text is not None:
        path.write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "app.server", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "VGP_PASSWORD_FILE": str(path)},
    )
    assert run.returncode == 2, run
    assert run.stderr.startswith("vgp serve: error: VGP_PASSWORD_FILE=") and message in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


# ---------------------------------------------------------------------------------------------------------------
# The login throttle and the header transform
# ---------------------------------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_delays_grow_per_client_and_reset(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(server.time, "monotonic", clock)
    throttle = server.LoginThrottle(base=0.25, cap=8.0, max_wait=60.0)
    assert throttle.reserve("a") == 0.0
    waits = []
    for _ in range(8):  # sequential wrong attempts, each sent as soon as the previous answer came
        wait = throttle.reserve("a")
        clock.now += wait
        waits.append(wait)
        throttle.failed("a")
    assert waits == [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]  # 0.25 s · 2^(n-1), capped at 8 s
    assert throttle.reserve("b") == 0.0  # another client is not slowed
    # attempts sent at once queue one delay apart; a client queued more than max_wait ahead is told to wait
    queued = [throttle.reserve("a") for _ in range(9)]
    assert queued == [8.0 * (i + 1) for i in range(7)] + [None, None]
    throttle.succeeded("a")
    assert throttle.reserve("a") == 0.0


def test_throttle_memory_is_bounded(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(server.time, "monotonic", clock)
    throttle = server.LoginThrottle(forget_after=600.0, max_clients=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._clients) == 100  # the newest
    assert throttle.reserve("10.0.3.231") > 0 and throttle.reserve("10.0.0.1") == 0.0
    clock.now += 601
    throttle.reserve("x")
    assert len(throttle._clients) == 0  # forgotten after their last failure


def test_transform_stamps_the_nonce_on_script_tags():
    transform = server.SecurityHeaders.configured("'self'")(None)
    page = b'<html><script type="text/javascript">a()</script><SCRIPT>b()</SCRIPT><scripts></html>'
    headers = HTTPHeaders({"Content-Type": "text/html; charset=UTF-8", "Content-Length": str(len(page)), "Etag": '"x"'})
    _, headers, body = transform.transform_first_chunk(200, headers, page, True)
    nonce = re.search(r"'nonce-([^']+)'", headers["Content-Security-Policy"]).group(1)
    assert body.count(f'nonce="{nonce}"'.encode()) == 2 and b"<scripts>" in body
    assert headers["Content-Length"] == str(len(body)) and "Etag" not in headers
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "SAMEORIGIN"
    # not HTML: the body is untouched (a script's own text may contain "<script")
    other = server.SecurityHeaders.configured(FRAME_ANCESTORS)(None)
    js = b'const s = "<script>";'
    _, headers, body = other.transform_first_chunk(
        200, HTTPHeaders({"Content-Type": "application/javascript"}), js, True
    )
    assert body == js and headers["X-Content-Type-Options"] == "nosniff" and "X-Frame-Options" not in headers
    assert headers["Content-Security-Policy"].endswith(f"frame-ancestors {FRAME_ANCESTORS}")


# ---------------------------------------------------------------------------------------------------------------
# Real servers
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """`python -m app.server` twice: "login" (the class password from a file, --use-xheaders) and "open" (no
    password, VGP_FRAME_ANCESTORS set)."""
    base = tmp_path_factory.mktemp("vgp-serve")
    (base / "password.txt").write_text(PASSWORD + "\n")
    started = {}
    try:
        started["login"] = start_app_server(
            base,
            ("--use-xheaders",),
            env=dict(VGP_WARMUP="0", VGP_PASSWORD_FILE=str(base / "password.txt"), VGP_COOKIE_SECRET="c" * 64),
        )
        started["open"] = start_app_server(
            base, env=dict(VGP_WARMUP="0", VGP_FRAME_ANCESTORS=FRAME_ANCESTORS, VGP_SECRET_KEY="k" * 43)
        )
        yield started
    finally:
        for s in started.values():
            s.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) without following redirects."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=120) as r:
            return r.status, r.headers, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def login(srv, username: str, password: str, client: str, **headers: str):
    """POST the login form as the client at address ``client``; (status, headers, seconds)."""
    started = time.perf_counter()
    status, answer, _ = request(
        f"http://127.0.0.1:{srv.port}/login",
        {"username": username, "password": password},
        {"X-Real-IP": client, **headers},
    )
    return status, answer, time.perf_counter() - started


def cookies_of(answer) -> str:
    return "; ".join(c.split(";", 1)[0] for c in answer.get_all("Set-Cookie") or [])


def csp(headers) -> dict[str, str]:
    policy = headers["Content-Security-Policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in policy.split("; ")}


def test_headers_and_nonce_of_the_app_page(servers):
    srv = servers["open"]
    status, headers, page = request(srv.url)
    assert status == 200 and "Bokeh" in page
    policy = csp(headers)
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{20,})' 'unsafe-eval'", policy["script-src"]).group(1)
    tags = re.findall(r"<script\b[^>]*>", page, re.I)
    assert len(tags) >= 3 and all(f'nonce="{nonce}"' in t for t in tags), tags
    assert "'unsafe-inline'" not in policy["script-src"] and "*" not in headers["Content-Security-Policy"]
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'"
    assert policy["frame-ancestors"] == FRAME_ANCESTORS and "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    # one nonce per response; every response has the headers, a script file too
    assert csp(request(srv.url)[1])["script-src"] != policy["script-src"]
    script = re.search(r'src="(static/js/bokeh\.min\.js[^"]*)"', page).group(1)
    status, headers, _ = request(f"http://127.0.0.1:{srv.port}/{script}")
    assert status == 200 and headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in headers


def test_default_frame_ancestors_and_login_page(servers):
    status, headers, page = request(f"http://127.0.0.1:{servers['login'].port}/login?next=%2Fapp")
    assert status == 200 and 'type="password"' in page
    assert csp(headers)["frame-ancestors"] == "'self'" and headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_only_session_ids_signed_by_the_server(servers):
    srv = servers["open"]
    _, _, page = request(srv.url)
    token = re.search(r'"token":\s*"([^"]+)"', page).group(1)
    signed = get_session_id(token)
    assert request(f"{srv.url}?bokeh-session-id={signed}")[0] == 200  # the server's own id
    made_up = generate_session_id(signed=False)
    other_key = generate_session_id(secret_key=b"x" * 43, signed=True)
    for session_id in (made_up, "joinme", other_key, signed + "x"):
        status, _, body = request(f"{srv.url}?bokeh-session-id={urllib.parse.quote(session_id)}")
        assert status == 403 and "Bokeh" not in body, (session_id, status)


def test_password_with_a_leading_dash_and_strict_cookies(servers):
    srv = servers["login"]
    status, answer, _ = login(srv, "ana", PASSWORD, "10.0.0.1")
    assert status == 302 and "error=" not in answer["Location"]
    set_cookies = {c.split("=", 1)[0]: c for c in answer.get_all("Set-Cookie")}
    for name in ("user", "id_token"):
        attrs = [a.strip().lower() for a in set_cookies[name].split(";")]
        assert "samesite=lax" in attrs and "httponly" in attrs and "secure" not in attrs, set_cookies[name]
    status, _, page = request(srv.url, headers={"Cookie": cookies_of(answer), "X-Real-IP": "10.0.0.1"})
    assert status == 200 and "Bokeh" in page
    # over HTTPS (the proxy says so): Secure too
    _, answer, _ = login(srv, "ana", PASSWORD, "10.0.0.2", **{"X-Forwarded-Proto": "https"})
    assert all("; Secure" in c for c in answer.get_all("Set-Cookie") if c.startswith(("user=", "id_token=")))


def test_empty_name_gets_a_message_and_error_text_is_fixed(servers):
    srv = servers["login"]
    status, answer, _ = login(srv, "", PASSWORD, "10.0.1.1")
    assert status == 302 and answer["Location"] == "?error=name" and "user=" not in cookies_of(answer)
    _, _, page = request(f"http://127.0.0.1:{srv.port}/login{answer['Location']}")
    assert "Enter a name" in page
    # the page shows only its own messages, never text from the URL
    _, _, page = request(f"http://127.0.0.1:{srv.port}/login?error=" + urllib.parse.quote("<b>Call 555-0100</b>"))
    assert "555-0100" not in page and "Invalid name or password." in page


def test_wrong_passwords_are_throttled_per_client(servers):
    """The n-th attempt after n-1 failures waits 0.25 s · 2^(n-2) counted from the last failure; the client sends
    each attempt as soon as it has the previous answer, so it sees that delay less the moment in between
    (``slack``). The upper bounds leave a loaded machine a second against the delay they rule out."""
    srv, slack = servers["login"], 0.15
    seconds = []
    for _ in range(4):
        status, answer, took = login(srv, "eve", "guess", "10.0.2.1")
        assert status == 302 and answer["Location"] == "?error=invalid"
        seconds.append(took)
    last_failure = time.perf_counter()
    assert all(s >= expected - slack for s, expected in zip(seconds, (0.0, 0.25, 0.5, 1.0))), seconds
    assert login(srv, "bob", "guess", "10.0.2.2")[2] < 1.5  # another client is not slowed (2 s if it were)
    status, answer, _ = login(srv, "eve", PASSWORD, "10.0.2.1")  # the right password waits its turn too ...
    assert time.perf_counter() - last_failure >= 2.0 - slack and "error=" not in answer["Location"]
    assert login(srv, "eve", "guess", "10.0.2.1")[2] < 3.0  # ... and resets the client (4 s if it did not)


def test_no_secret_on_the_command_line(servers):
    for srv in servers.values():
        cmdline = Path(f"/proc/{srv.proc.pid}/cmdline").read_bytes().decode()
        assert "app.server" in cmdline
        for secret in (PASSWORD, "c" * 64, "k" * 43, "dash"):
            assert secret not in cmdline, cmdline
    assert all(s.errors() == [] for s in servers.values())
