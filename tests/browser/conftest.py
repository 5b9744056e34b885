"""Browser-test fixtures: the app served by a real `panel serve` process, driven by Playwright in Debian's
Chromium (never a downloaded browser). Without Chromium these tests skip locally but FAIL when CI=true."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.app_server import ROOT, Server, start_app_server  # noqa: F401  (ROOT, Server: used by tests)

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

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
          for (let i = 0; i < a.length; i++) {
            const x = Number(a[i]);
            if (Number.isFinite(x)) { s += x * (1 + (i % 7)); n++; }
          }
        }
      }
      sig.push(m.id + ':' + n + ':' + s.toPrecision(10));
    }
  }
  return sig.sort().join('|');
}"""


def find_chromium() -> str | None:
    """Debian's Chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_path() -> str:
    """Debian's Chromium; without it the calling test skips here but FAILS when CI=true."""
    path = find_chromium()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Debian's chromium is not installed (apt-get install chromium): browser tests must run in CI")
        pytest.skip("Debian's chromium is not installed")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {"executable_path": chromium_path(), "args": CHROMIUM_FLAGS, "headless": True}


#: the page of the fast suite's one browser test (``smoke``)
SMOKE_PAGE = "deep"


@pytest.fixture(scope="session")
def app_server(request, tmp_path_factory):
    """`panel serve app` on a free port, as a user starts it; yields once /liveness answers. Where the only browser
    test of the run is the fast suite's smoke test, the server warms up that test's page only: the rest of the
    warm-up (every other page's programs, minutes of CPU) would only compete with it."""
    browser_tests = [item for item in request.session.items if "browser" in item.path.parts]
    only_smoke = all(item.get_closest_marker("smoke") for item in browser_tests)
    env = {"VGP_WARMUP_PAGES": SMOKE_PAGE} if only_smoke else None
    server = start_app_server(tmp_path_factory.mktemp("server"), env=env)
    yield server
    server.stop()


def server_errors(server: Server) -> list[str]:
    return server.errors()


# ---------------------------------------------------------------------------------------------------------------
# Page helpers shared by the page tests
# ---------------------------------------------------------------------------------------------------------------
def controls(page):
    """The page's controls column (the site's header has selects of its own: theme, palette, colour map)."""
    from app.components.page_layout import CONTROLS_CLASS

    return page.locator(f".{CONTROLS_CLASS}").first


def open_page(page, url, console, requests):
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("request", lambda r: requests.append(r.url))
    page.set_viewport_size({"width": 1500, "height": 1350})
    page.goto(url, timeout=120_000)
    deadline = time.time() + 120
    while time.time() < deadline and not any("is now open" in t for _, t in console):
        page.wait_for_timeout(200)
    assert any("is now open" in t for _, t in console), console
    # a page opened while the server warms up shows "preparing…" until its programs are ready (app/warmup.py)
    page.wait_for_selector(".vgp-preparing", state="detached", timeout=600_000)


def wait_for_change(page, before: str, timeout: float = 120.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = page.evaluate(SIGNATURE_JS)
        if now != before:
            return now
        page.wait_for_timeout(100)
    raise AssertionError("the plots' data did not change")


def wait_until_quiet(page, quiet: float = 3.0, timeout: float = 120.0) -> str:
    """Wait until no data source changes for ``quiet`` seconds (training streams chunks)."""
    sig, last_change, deadline = page.evaluate(SIGNATURE_JS), time.time(), time.time() + timeout
    while time.time() < deadline:
        page.wait_for_timeout(250)
        now = page.evaluate(SIGNATURE_JS)
        if now != sig:
            sig, last_change = now, time.time()
        elif time.time() - last_change > quiet:
            return sig
    return sig


def slider_handle(page, label: str):
    """The noUiSlider handle of the Panel slider whose title starts with ``label``."""
    slider = page.locator(".bk-input-group", has=page.locator(".bk-slider-title", has_text=label)).first
    return slider.locator(".noUi-handle").first


def discrete_slider_handle(page, label: str):
    """The handle of a Panel DiscreteSlider (a column holding a label and a title-less slider) labelled ``label``:
    the innermost column that contains the label."""
    column = page.locator(".bk-panel-models-layout-Column", has=page.get_by_text(label)).last
    return column.locator(".noUi-handle").first


def press_slider(page, label: str, key: str = "ArrowRight") -> None:
    """Move the slider titled ``label`` (a plain or a discrete slider) by one step with the keyboard."""
    titled = page.locator(".bk-slider-title", has_text=label)
    handle = slider_handle(page, label) if titled.count() else discrete_slider_handle(page, label)
    handle.focus()
    handle.press(key)


def assert_clean(console, requests, server: Server) -> None:
    """No browser console errors, no request off localhost, no server-side errors."""
    errors = [t for kind, t in console if kind == "error"]
    assert errors == [], errors
    offsite = [
        u for u in requests if not u.startswith(("http://localhost", "http://127.0.0.1", "ws://", "data:", "blob:"))
    ]
    assert offsite == [], offsite
    assert server_errors(server) == []


def click_figure(page, css_class: str, fx: float, fy: float) -> None:
    """A mouse click at the fraction (fx, fy) of the Bokeh figure with CSS class ``css_class`` (on its canvas)."""
    box = page.locator(f".{css_class}").first.bounding_box()
    assert box is not None, css_class
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def save_screenshot(page, readme_path) -> None:
    """A full-page screenshot: into ``readme_path`` (one of the README's pictures under assets/) when
    ``VGP_UPDATE_SCREENSHOTS=1``, else into the temporary folder, so a test run leaves the repository unchanged."""
    readme_path = Path(readme_path)
    if os.environ.get("VGP_UPDATE_SCREENSHOTS") == "1":
        target = readme_path
    else:
        target = Path(tempfile.gettempdir()) / "vgp-screenshots" / readme_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
