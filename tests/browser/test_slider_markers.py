"""Markers that follow a slider in the browser (issue 11): the Recurrent page's spectral-radius line and the Edge of
chaos page's σ_w² line move within one animation frame of a key press (``jslink``), and that browser-side write is
not sent back to the server with the slider's own move (the server sets the marker itself when it redraws). The
Deep page's gain marker is tested with its step slider (test_deep_browser_step.py)."""

from __future__ import annotations

import pytest

from .conftest import assert_clean, open_page, slider_handle, wait_until_quiet

pytestmark = pytest.mark.browser

# slug, slider title, the marker's line colour, the slider's step
MARKERS = [
    ("recurrent", "spectral radius γ", "white", 0.01),
    ("edge-of-chaos", "σ_w² (weight variance × N)", "black", 0.01),
]
# JS: the locations of the page's Spans of one line colour
MARKER_JS = """(color) => [...Bokeh.documents[0].all_models].filter((m) => m.type == "Span" &&
  m.line_color == color).map((m) => m.location)"""
NEXT_FRAME_MARKER_JS = (
    "(color) => new Promise((resolve) => requestAnimationFrame(() => resolve((" + MARKER_JS + ")(color))))"
)


@pytest.mark.parametrize(("slug", "title", "color", "step"), MARKERS, ids=[m[0] for m in MARKERS])
def test_marker_follows_its_slider_in_the_browser_and_is_not_sent_back(page, app_server, slug, title, color, step):
    frames: list = []
    console, requests = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, f"{app_server.url}?page={slug}", console, requests)
    wait_until_quiet(page, quiet=1.5)
    before, n = page.evaluate(MARKER_JS, color), len(frames)
    assert len(before) == 1, before
    handle = slider_handle(page, title)
    handle.focus()
    handle.press("ArrowRight")
    moved = page.evaluate(NEXT_FRAME_MARKER_JS, color)
    assert moved[0] == pytest.approx(before[0] + step), (before, moved)  # within one frame, before any answer
    wait_until_quiet(page, quiet=1.5)
    sent = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames[n:]]
    assert sent, "the slider (a server control) went to the server"
    assert not any('"location"' in f for f in sent), "the marker's browser-side location was sent back"
    assert page.evaluate(MARKER_JS, color)[0] == pytest.approx(before[0] + step)  # the server's redraw agrees
    assert_clean(console, requests, app_server)
