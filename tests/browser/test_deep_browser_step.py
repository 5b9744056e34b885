"""The Deep page's "step shown" in the browser (issue 11): the slider only picks a training step whose views the page
already holds (sent as training delivered them), so a move redraws the per-layer views within a frame and sends the
server no websocket frame; the address bar follows; a server redraw (another run) keeps the browser's step; a
download exports the step the browser shows. The gain slider's marker moves in the browser, and that write is not
sent back with the gain's move."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import SIGNATURE_JS, assert_clean, open_page, press_slider, slider_handle, wait_until_quiet

pytestmark = pytest.mark.browser

STEP = "step shown in per-layer views"
STEPS = 20
URL = f"?page=deep&depth=10&steps={STEPS}&activation=tanh&init=lecun_normal"  # the default width: warmed up

# JS: every Bokeh title's text (the step views' titles say which step they show)
TITLES_JS = """() => [...Bokeh.documents[0].all_models].filter((m) => m.type == "Title").map((m) => m.text)"""
# JS: the data signature one animation frame after the call (the move's redraw must be done by then)
NEXT_FRAME_SIGNATURE_JS = (
    "() => new Promise((resolve) => requestAnimationFrame(() => resolve((" + SIGNATURE_JS + ")())))"
)
# JS: the gain marker's location (the white span of the gain sweep)
GAIN_MARKER_JS = """() => [...Bokeh.documents[0].all_models].filter((m) => m.type == "Span" &&
  m.line_color == "white").map((m) => m.location)"""


# JS: the summary paragraph (HTML) of a step figure, by the CSS class the browser finds it with (deep.STEP_FIGURES)
SUMMARY_JS = """(name) => [...Bokeh.documents[0].all_models].find((m) =>
  m.css_classes?.includes?.("summary-" + name))?.text ?? null"""


def titles(page) -> list[str]:
    return page.evaluate(TITLES_JS)


def shown(page) -> tuple[str | None, str | None]:
    """(the activation statistics' step, the histograms' measurement) as their titles say them."""
    stats = next((t for t in titles(page) if t.startswith("Activations per layer")), None)
    hist = next((t for t in titles(page) if t.startswith("Histograms of h_l")), None)
    return stats, hist


def wait_trained(page, timeout: float = 600.0) -> None:
    page.get_by_text(re.compile(rf"Trained {STEPS}/{STEPS} steps")).first.wait_for(timeout=timeout * 1000)


def quiet(page, frames: list, quiet_ms: int = 1500) -> None:
    """Wait until the page has sent nothing for ``quiet_ms``."""
    n = -1
    while n != len(frames):
        n = len(frames)
        page.wait_for_timeout(quiet_ms)


def move(page, frames: list, key: str) -> str:
    """One keyboard move of the step slider: redrawn within one animation frame, nothing sent."""
    before, n = page.evaluate(SIGNATURE_JS), len(frames)
    press_slider(page, STEP, key)
    after = page.evaluate(NEXT_FRAME_SIGNATURE_JS)
    assert after != before, f"{key}: the views did not change within a frame"
    page.wait_for_timeout(700)  # anything the move would send has gone by now
    assert frames[n:] == [], f"{key}: the move sent {len(frames) - n} websocket frame(s)"
    return after


def open_trained(page, app_server) -> tuple[list, list, list]:
    """Open the page at ``URL``, wait until its run is trained and the page is quiet; returns the lists of the
    websocket frames the page sends, its console messages and its requests (appended to from now on)."""
    frames: list = []
    console, requests = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, app_server.url + URL, console, requests)
    wait_trained(page)
    wait_until_quiet(page, quiet=1.5)
    quiet(page, frames)
    return frames, console, requests


def test_step_moves_send_no_frame_and_follow_server_redraws(page, app_server):
    frames, console, requests = open_trained(page, app_server)
    assert shown(page) == (
        "Activations per layer at initialization",
        "Histograms of h_l, all layers, at initialization",
    )

    # one step, then the next ones and the last: each drawn in the browser alone
    move(page, frames, "ArrowRight")
    assert shown(page) == (
        "Activations per layer at step 1",
        "Histograms of h_l, all layers, at step 0 (training batch)",
    )
    for _ in range(11):
        move(page, frames, "ArrowRight")
    assert shown(page) == (
        "Activations per layer at step 12",
        "Histograms of h_l, all layers, at step 10 (training batch)",
    )
    assert "shown_step=12" in page.evaluate("location.search")
    move(page, frames, "End")
    last = STEPS - 1
    assert shown(page)[0] == f"Activations per layer at step {last}"
    assert shown(page)[1] == f"Histograms of h_l, all layers, at step {last - last % 10} (training batch)"
    assert f"shown_step={last}" in page.evaluate("location.search")
    move(page, frames, "Home")  # back to initialisation
    assert shown(page)[0] == "Activations per layer at initialization"
    for _ in range(12):
        move(page, frames, "ArrowRight")

    # server-side moves (the learning rate, there and back): the server draws another run, then the finished one
    # again (shared by the server's results cache), and the browser keeps its step, in the views and in the
    # address bar
    n = len(frames)
    press_slider(page, "learning rate", "ArrowLeft")
    page.wait_for_timeout(500)
    press_slider(page, "learning rate", "ArrowRight")
    wait_trained(page)
    wait_until_quiet(page, quiet=1.5)
    assert len(frames) > n  # the moves went to the server
    assert shown(page) == (
        "Activations per layer at step 12",
        "Histograms of h_l, all layers, at step 10 (training batch)",
    )
    search = page.evaluate("location.search")
    assert "learning_rate=0.01" in search and "shown_step=12" in search, search

    # a download exports what the browser shows: the browser sends its step first
    card = page.locator(".vgp-figure-activation-stats")
    with page.expect_download(timeout=120_000) as info:
        card.get_by_role("button", name="HTML", exact=True).click()
    html_text = open(info.value.path(), encoding="utf-8").read()
    assert "Activations per layer at step 12" in html_text
    assert_clean(console, requests, app_server)


def test_the_summaries_follow_the_step_in_the_browser_also_in_a_section_opened_later(page, app_server):
    frames, console, requests = open_trained(page, app_server)
    for _ in range(12):
        move(page, frames, "ArrowRight")
    assert "Activations per layer at step 12: " in page.evaluate(SUMMARY_JS, "activation-stats")
    page.get_by_text("Activations per layer at step 12: ").first.wait_for(timeout=5_000)  # on the page, as read
    # the diagnostics' section opened after the moves: its summaries are found once drawn (the server draws its
    # own step there, the browser then re-applies its step), and follow the next moves
    page.get_by_text("Diagnostics practitioners use").first.click()
    page.get_by_text("Histograms of h_l, all layers, at step 10 (training batch): ").first.wait_for(timeout=60_000)
    move(page, frames, "End")
    last = (STEPS - 1) - (STEPS - 1) % 10
    for name, title in (
        ("activation-histograms", f"Histograms of h_l, all layers, at step {last} (training batch): "),
        ("grad-data", f"Weight gradients at step {last} (training batch): "),
        ("activation-stats", f"Activations per layer at step {STEPS - 1}: "),
    ):
        assert title in (page.evaluate(SUMMARY_JS, name) or ""), name
    assert_clean(console, requests, app_server)


def test_the_gain_marker_moves_in_the_browser_and_is_not_sent_back(page, app_server):
    frames: list = []
    console, requests = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, app_server.url + URL + "&auto_train=false", console, requests)
    wait_until_quiet(page, quiet=1.5)
    quiet(page, frames)
    before, n = page.evaluate(GAIN_MARKER_JS), len(frames)
    handle = slider_handle(page, "gain (weight scale)")
    handle.focus()
    started = time.perf_counter()
    handle.press("ArrowRight")
    moved = page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r((" + GAIN_MARKER_JS + ")())))")
    assert moved != before and moved[0] == pytest.approx(before[0] + 0.05), (before, moved)
    print(f"\ngain marker moved {1e3 * (time.perf_counter() - started):.0f} ms after the key press (one frame)")
    wait_until_quiet(page, quiet=1.5)
    sent = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames[n:]]
    assert sent, "the gain (a server control) went to the server"
    assert not any('"location"' in f for f in sent), "the marker's browser-side location was sent back"
    assert_clean(console, requests, app_server)
