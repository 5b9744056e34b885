"""The Loss-cliff page's replay ("every move instant"): the step slider and ▶ only choose a step of the paths the page
already holds, so the browser draws them alone — the plots' data change, the page sends the server no websocket
frame, the address bar follows —, and after a move the server answers (a new start) the browser keeps its step,
in the plots and in the address bar."""

from __future__ import annotations

import re

import pytest

from .conftest import SIGNATURE_JS, assert_clean, open_page, press_slider, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser

STEP = "step shown"
# JS: the lengths of the 1-D paths' sources (columns b, loss, grad; the points at the step also have a colour)
PATH_LENGTHS_JS = """() => {
  const keys = (m) => m.data instanceof Map ? [...m.data.keys()] : Object.keys(m.data)
  const col = (m, k) => m.data instanceof Map ? m.data.get(k) : m.data[k]
  const path = (m) => ["b", "loss", "grad"].every((k) => keys(m).includes(k)) && !keys(m).includes("color")
  return [...Bokeh.documents[0].all_models].filter((m) => m.type == "ColumnDataSource" && path(m))
    .map((m) => col(m, "b").length)
}"""


def replay_step(page) -> int:
    """The step the replay text shows ("Replay: step k of n")."""
    pattern = re.compile(r"Replay: step (\d+) of (\d+)")
    text = page.get_by_text(pattern).first.inner_text(timeout=10_000)  # a locator: it sees into shadow roots
    return int(pattern.search(text).group(1))


def settled(page, frames: list, quiet_ms: int = 1500) -> None:
    """Wait until the page has sent nothing for ``quiet_ms`` (its start-up messages)."""
    n = -1
    while n != len(frames):
        n = len(frames)
        page.wait_for_timeout(quiet_ms)


def test_replay_moves_send_no_frame_and_survive_a_server_redraw(page, app_server):
    frames: list = []
    console, requests = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, app_server.url + "?page=cliff", console, requests)
    page.get_by_text("jumped over the wall").first.wait_for(timeout=60_000)
    wait_until_quiet(page, quiet=1.5)
    settled(page, frames)
    assert replay_step(page) == 50  # the default: the whole descent

    # the slider: one step back, drawn in the browser alone
    sig, n = page.evaluate(SIGNATURE_JS), len(frames)
    press_slider(page, STEP, "ArrowLeft")
    sig = wait_for_change(page, sig, timeout=10)
    page.wait_for_timeout(700)  # anything the move would send has gone by now
    assert frames[n:] == []
    assert replay_step(page) == 49 and "shown_step=49" in page.evaluate("location.search")
    path = page.evaluate(PATH_LENGTHS_JS)
    assert path == [50, 50]  # both 1-D paths cut at step 49 (steps 0..49)

    # ▶ from the first step: the browser advances the step; nothing is sent
    n = len(frames)
    page.locator(".first").first.click()
    sig = wait_for_change(page, sig, timeout=10)
    assert replay_step(page) == 0
    page.locator(".play").first.click()
    page.wait_for_timeout(1500)  # a few steps at 300 ms each
    page.locator(".pause").first.click()
    played = replay_step(page)
    assert 2 <= played < 50 and page.evaluate(SIGNATURE_JS) != sig
    page.wait_for_timeout(700)
    assert frames[n:] == []
    assert f"shown_step={played}" in page.evaluate("location.search")

    # a server-side move (a new 1-D start): the server redraws, and the browser keeps its replayed step
    sig, n = page.evaluate(SIGNATURE_JS), len(frames)
    press_slider(page, "b (1-D start)", "ArrowLeft")
    wait_for_change(page, sig)
    wait_until_quiet(page, quiet=1.0)
    assert len(frames) > n  # the move went to the server (the count above would see it)
    assert replay_step(page) == played
    search = page.evaluate("location.search")  # the server rewrote the query (b); the browser's step stays in it
    assert "b=-2.515" in search and f"shown_step={played}" in search
    assert_clean(console, requests, app_server)
