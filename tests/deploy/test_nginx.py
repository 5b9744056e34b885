"""The deploy nginx configuration for real, on loopback: three `deploy/serve.sh` processes behind Debian's nginx
(the config rendered from deploy/nginx/vgp-explorer.conf.template). In Chromium through nginx every page loads and
answers a control; every page request and its websocket reach the same process, shown from both sides:
nginx's access log ($upstream_addr per request, grouped by the routing cookie) and each process's own log
(Panel logs "Session <id> created" for a page request and "Session <id> launching" whenever the app script runs;
Bokeh logs "WebSocket connection opened"). A websocket that missed its process would make that process launch a
session that no page request created there. Different browsers spread over the processes."""

from __future__ import annotations

import collections
import importlib
import re
import socket
import time

import pytest

from tests.browser.conftest import wait_for_change

from .conftest import NGINX_TEMPLATE, app_errors, open_app_page, start_nginx, wait_for_plots

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACCESS_RE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) [^"]*" (?P<status>\d{3}) route=(?P<route>\S+) '
    r"upstream=(?P<upstream>.*?) upgrade=(?P<upgrade>\S*) rt="
)
MAX_EXTRA_CLIENTS = 10  # extra browsers opened only if the first ones all hashed to one process (p = 3^-5)


def page_slugs() -> list[str]:
    """Every page of the site whose module imports (pages still being written are left out)."""
    from app.pages import PAGES

    slugs = []
    for spec in PAGES:
        try:
            importlib.import_module(f"app.pages.{spec.module}")
        except ImportError:
            continue
        slugs.append(spec.slug)
    return slugs


def move_a_control(page, before: str) -> str:
    """Press an arrow key on the page's sliders, one after the other, until the plots' data changes (a server
    round trip over the websocket for every page's first slider); returns the new signature."""
    handles = page.locator(".noUi-handle")
    assert handles.count() > 0, "no slider on the page"
    for i in range(min(handles.count(), 4)):
        for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):
            handle = handles.nth(i)
            handle.focus()
            handle.press(key)
            try:
                return wait_for_change(page, before, timeout=60)
            except AssertionError:
                continue
    raise AssertionError("no slider move changed the plots' data")


def visit(browser, url: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """One new client (own cookie jar) opens ``url``, waits for the websocket and the plots, moves a control.
    Returns (its routing cookie, console messages, requested URLs)."""
    context = browser.new_context()
    console, requests = [], []
    try:
        page = context.new_page()
        open_app_page(page, url, console, requests)
        sig = wait_for_plots(page)
        move_a_control(page, sig)
        cookies = {c["name"]: c["value"] for c in context.cookies()}
    finally:
        context.close()
    assert "vgp_route" in cookies, cookies
    return cookies["vgp_route"], console, requests


def parse_access(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        m = ACCESS_RE.search(line)
        assert m, f"unparsed access-log line: {line}"
        out.append(m.groupdict())
    return out


def wait_for_ws_lines(nginx, expected: int, timeout: float = 60.0) -> list[dict]:
    """nginx logs a websocket when it closes: wait until all ``expected`` have closed."""
    deadline = time.time() + timeout
    while True:
        entries = parse_access(nginx.access_lines())
        ws = [e for e in entries if e["uri"].startswith("/app/ws")]
        if len(ws) >= expected or time.time() > deadline:
            return entries
        time.sleep(0.5)


@pytest.mark.timeout(2400)
def test_pages_through_nginx_and_websockets_stay_on_their_process(browser, nginx_cluster):
    nginx, apps = nginx_cluster
    slugs = page_slugs()
    assert {"deep", "recurrent", "bifurcation", "cliff"} <= set(slugs)

    visits = []  # (route, url)
    for slug in slugs:
        url = f"{nginx.base}/app?page={slug}"
        route, console, requests = visit(browser, url)
        visits.append((route, url))
        offsite = [
            u for u in requests if not u.startswith((nginx.base, f"ws://localhost:{nginx.port}/", "data:", "blob:"))
        ]
        assert offsite == [], (slug, offsite)  # every request went through nginx
        assert [t for kind, t in console if kind == "error"] == [], (slug, console)

    def upstream_of(route: str) -> set[str]:
        return {e["upstream"] for e in parse_access(nginx.access_lines()) if e["route"] == route}

    # different browsers spread over the processes (a random cookie each, consistent hashing)
    extra = 0
    while len({u for r, _ in visits for u in upstream_of(r)}) < 2 and extra < MAX_EXTRA_CLIENTS:
        url = f"{nginx.base}/app?page=deep"
        visits.append((visit(browser, url)[0], url))
        extra += 1

    entries = wait_for_ws_lines(nginx, expected=len(visits))
    by_route = collections.defaultdict(list)
    for e in entries:
        by_route[e["route"]].append(e)
    addrs = {app.addr for app in apps}
    used = set()
    for route, url in visits:
        lines = by_route[route]
        uri = url.removeprefix(nginx.base)
        gets = [e for e in lines if e["uri"] == uri]
        ws = [e for e in lines if e["uri"].startswith("/app/ws")]
        assert len(gets) == 1 and gets[0]["status"] == "200", lines
        assert len(ws) == 1 and ws[0]["status"] == "101" and ws[0]["upgrade"] == "websocket", lines
        upstreams = {e["upstream"] for e in lines}
        # the page, its scripts and styles, and its websocket: one process
        assert len(upstreams) == 1 and upstreams <= addrs, (route, upstreams)
        used |= upstreams
    assert len(used) >= 2, f"every browser hashed to one process: {used}"
    assert len({r for r, _ in visits}) == len(visits)  # every client got its own route

    # each process's own log: the websockets nginx sent it were opened there, and it never ran the app for a
    # session that no page request of its own had created (what a websocket that missed its process causes)
    opened_total = 0
    for app in apps:
        log = app.log()
        launched = set(re.findall(r"Session (\d+) launching", log))
        created = re.findall(r"Session (\d+) created", log)
        opened = log.count("WebSocket connection opened")
        page_gets = [e for e in entries if e["upstream"] == app.addr and e["uri"].startswith("/app?")]
        ws_here = [e for e in entries if e["upstream"] == app.addr and e["uri"].startswith("/app/ws")]
        assert len(created) == len(page_gets), (app.addr, len(created), len(page_gets))
        assert launched == set(created), (app.addr, launched, created)
        assert opened == len(ws_here), (app.addr, opened, len(ws_here))
        opened_total += opened
        assert app_errors(app) == [], app.addr
    assert opened_total == len(visits)


@pytest.mark.timeout(1200)
def test_same_browser_stays_on_its_process(browser, nginx_cluster):
    """A returning browser (its cookie) reaches the same process for a second page and its websocket."""
    nginx, _apps = nginx_cluster
    context = browser.new_context()
    try:
        for slug in ("bifurcation", "cliff"):
            console, requests = [], []
            page = context.new_page()
            open_app_page(page, f"{nginx.base}/app?page={slug}", console, requests)
            wait_for_plots(page)
            page.close()
        route = {c["name"]: c["value"] for c in context.cookies()}["vgp_route"]
    finally:
        context.close()
    deadline = time.time() + 60
    while True:
        lines = [e for e in parse_access(nginx.access_lines()) if e["route"] == route]
        if sum(e["uri"].startswith("/app/ws") for e in lines) >= 2 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert sum(e["uri"].startswith("/app?page=") for e in lines) == 2
    assert sum(e["uri"].startswith("/app/ws") and e["status"] == "101" for e in lines) == 2
    assert len({e["upstream"] for e in lines}) == 1, lines


def raw_ws_handshake(port: int, origin: str) -> int:
    """The HTTP status nginx returns for a websocket upgrade of /app/ws with this Origin."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            (
                f"GET /app/ws HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            ).encode()
        )
        head = s.recv(4096).decode("latin-1")
    return int(head.split()[1])


def test_foreign_websocket_origin_is_refused(nginx_cluster):
    """--allow-websocket-origin names nginx's address only: a page elsewhere cannot open the app's websocket."""
    nginx, _apps = nginx_cluster
    assert raw_ws_handshake(nginx.port, "http://evil.example") == 403


def sessions_built_by_a_websocket(app) -> set[str]:
    """Sessions this process ran the app for without a page request of its own (a websocket that missed the
    process where its page was created)."""
    log = app.log()
    return set(re.findall(r"Session (\d+) launching", log)) - set(re.findall(r"Session (\d+) created", log))


@pytest.mark.timeout(1200)
def test_the_check_sees_a_websocket_on_the_wrong_process(browser, nginx_cluster, tmp_path):
    """Negative control of the log check above: the same template with the `hash` line removed (nginx's default
    round robin) sends page requests and their websockets to different processes, and the processes' logs show it."""
    nginx, apps = nginx_cluster
    template = NGINX_TEMPLATE.read_text()
    assert "    hash $vgp_route consistent;\n" in template
    before = {app.addr: sessions_built_by_a_websocket(app) for app in apps}
    plain = start_nginx(
        tmp_path / "nginx",
        nginx.spare_port,
        [app.addr for app in apps],
        template=template.replace("    hash $vgp_route consistent;\n", ""),
    )
    try:
        for _ in range(3):
            visit(browser, f"{plain.base}/app?page=cliff")
            if any(sessions_built_by_a_websocket(app) - before[app.addr] for app in apps):
                break
    finally:
        plain.stop()
    assert any(sessions_built_by_a_websocket(app) - before[app.addr] for app in apps)
