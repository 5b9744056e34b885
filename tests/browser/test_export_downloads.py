"""The download buttons under every figure, in the served app: PNG, SVG and standalone HTML files that match
what the page shows, while the server keeps answering."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_clean, open_page, press_slider, wait_for_change, wait_until_quiet
from tests.test_export import png_size, source_with

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIGURE = "gradient-profile"  # the deep page's per-layer profile: one point per layer
DEPTH = 5


def download(page, card, label: str):
    """Click the card's ``label`` button; (suggested file name, bytes, seconds from click to file)."""
    started = time.perf_counter()
    with page.expect_download(timeout=180_000) as info:
        card.get_by_role("button", name=label, exact=True).click()
    dl = info.value
    data = open(dl.path(), "rb").read()
    return dl.suggested_filename, data, time.perf_counter() - started


def test_every_figure_downloads_png_svg_and_html(page, app_server, browser, tmp_path):
    console, requests = [], []
    open_page(page, f"{app_server.url}?page=deep&depth={DEPTH}&steps=50", console, requests)
    wait_until_quiet(page, quiet=2.0)
    card = page.locator(f".vgp-figure-{FIGURE}")
    # Every figure of the page has the three buttons.
    for name in ("training-heatmap", "gain-sweep", "gradient-profile", "activation-stats", "loss"):
        for label in ("PNG", "SVG", "HTML"):
            button = page.locator(f".vgp-figure-{name}").get_by_role("button", name=label, exact=True)
            expect(button).to_have_count(1, timeout=60_000)

    name, png, seconds_png = download(page, card, "PNG")
    assert name == f"deep-{FIGURE}.png"
    assert png_size(png) == (1040, 660)  # the 520×330 figure at scale 2

    name, svg, seconds_svg = download(page, card, "SVG")
    assert name == f"deep-{FIGURE}.svg"
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and (root.get("width"), root.get("height")) == ("520", "330")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10  # axes, grid and the curves

    name, html_bytes, seconds_html = download(page, card, "HTML")
    assert name == f"deep-{FIGURE}.html"
    html = html_bytes.decode("utf-8")
    assert source_with(html, "backprop")["backprop"].shape == (DEPTH,)  # the page's depth travels with the file

    # The HTML file opens on its own (offline: BokehJS is inside) and draws the figure.
    path = tmp_path / name
    path.write_bytes(html_bytes)
    standalone = browser.new_page()
    s_console, s_requests = [], []
    standalone.on("console", lambda m: s_console.append((m.type, m.text)))
    standalone.on("request", lambda r: s_requests.append(r.url))
    standalone.goto(path.as_uri())
    standalone.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle", timeout=60_000
    )
    assert standalone.locator("canvas").count() >= 1
    assert [t for kind, t in s_console if kind == "error"] == []
    assert [u for u in s_requests if not u.startswith(("file://", "data:", "blob:"))] == []
    standalone.close()

    # A download reflects the page as it is now: one layer more after a slider step.
    sig = wait_until_quiet(page, quiet=1.0)
    press_slider(page, "depth (hidden layers)")
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=2.0)
    _, html_bytes, _ = download(page, card, "HTML")
    assert source_with(html_bytes.decode("utf-8"), "backprop")["backprop"].shape == (DEPTH + 1,)

    print(
        f"\nin-app download, click to file: PNG {seconds_png:.2f} s, SVG {seconds_svg:.2f} s, HTML {seconds_html:.2f} s"
    )
    assert_clean(console, requests, app_server)


def test_the_server_answers_while_a_png_renders(page, app_server):
    """An export renders off the event loop: a slider move made right after clicking PNG is answered before the
    PNG arrives. (Rendered on the event loop, the move would wait for the picture and be answered after it.)"""
    console, requests = [], []
    open_page(page, f"{app_server.url}?page=cliff", console, requests)
    sig = wait_until_quiet(page, quiet=1.0)
    card = page.locator(".vgp-figure-surface")
    events = {}
    page.on("download", lambda d: events.setdefault("png", time.perf_counter()))
    with page.expect_download(timeout=180_000) as info:
        clicked = time.perf_counter()
        card.get_by_role("button", name="PNG", exact=True).click()
        press_slider(page, "step shown", "ArrowLeft")
        wait_for_change(page, sig, timeout=120)
        events["move"] = time.perf_counter()
    assert png_size(open(info.value.path(), "rb").read()) == (1040, 660)
    print(
        f"\nslider move answered {events['move'] - clicked:.2f} s after the PNG click; the PNG arrived after "
        f"{events['png'] - clicked:.2f} s"
    )
    assert events["move"] < events["png"]
    assert_clean(console, requests, app_server)
