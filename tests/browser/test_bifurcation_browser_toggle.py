"""The Bifurcation page's "map shows" toggle ("every move instant"): both sensitivity maps are in the browser, so a
toggle is drawn there alone — the map's image and colour range change, the page sends the server no websocket
frame, the address bar follows —, and when the server sends a new map (another w) the browser keeps its choice."""

from __future__ import annotations

import pytest

from .conftest import SIGNATURE_JS, assert_clean, open_page, press_slider, wait_for_change, wait_until_quiet
from .test_cliff_browser_replay import settled

pytestmark = pytest.mark.browser

# JS: which of the two sent maps the heatmap shows ("x0", "b"), by comparing the shown image with both.
SHOWN_JS = """() => {
  const all = [...Bokeh.documents[0].all_models]
  const views = all.find((m) => m.name == "sensitivity-map-views")
  const col = (m, k) => m.data instanceof Map ? m.data.get(k) : m.data[k]
  const image = all.find((m) => m.type == "ColumnDataSource" && m !== views && col(m, "image") != null &&
    col(m, "dw") != null)
  if (views == null || image == null || !col(views, "image")?.length) return null
  const shown = col(image, "image")[0]
  const same = (a, b) => a.length == b.length && Array.from(a).every((v, i) => Object.is(v, b[i]))
  const i = Array.from(col(views, "image")).findIndex((img) => same(img, shown))
  return i < 0 ? null : col(views, "quantity")[i]
}"""


def test_map_toggle_sends_no_frame_and_survives_a_new_map(page, app_server):
    frames: list = []
    console, requests = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, app_server.url + "?page=bifurcation", console, requests)
    page.locator(".vgp-sensitivity-map").first.wait_for(timeout=60_000)
    wait_until_quiet(page, quiet=2.0)
    settled(page, frames)
    page.wait_for_function(f"() => ({SHOWN_JS})() != null", timeout=60_000)  # both maps have arrived
    assert page.evaluate(SHOWN_JS) == "x0"

    sig, n = page.evaluate(SIGNATURE_JS), len(frames)
    page.get_by_role("button", name="∂x(T)/∂b", exact=True).click()
    sig = wait_for_change(page, sig, timeout=10)
    page.wait_for_timeout(700)  # anything the move would send has gone by now
    assert frames[n:] == []
    assert page.evaluate(SHOWN_JS) == "b" and "map_shows=b" in page.evaluate("location.search")

    # a server-side move that makes a new map: the browser keeps showing ∂x(T)/∂b
    n = len(frames)
    press_slider(page, "w (self-connection)", "ArrowRight")
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=2.0)
    assert len(frames) > n
    assert page.evaluate(SHOWN_JS) == "b"
    search = page.evaluate("location.search")  # the server rewrote the query (w); the browser's choice stays in it
    assert "w=5.1" in search and "map_shows=b" in search
    assert_clean(console, requests, app_server)
