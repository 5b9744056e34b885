"""The Glorot & Bengio page's browser-side controls ("every move instant"): layer, checkpoint, histogram snapshot,
gradient kind and compare only choose among data the page already holds, so a move is drawn in the browser alone —
the plots' data change, within one animation frame, and the page sends the server no websocket frame —, the
address bar follows, and a fresh page opened from that address shows the same plot data. A server-side control
(another combination) sends one message; a preset within the shown combination sends none; a move made while the
server answers is kept; a download exports what the browser shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_export import source_with

from .conftest import SIGNATURE_JS, assert_clean, controls, open_page, press_slider, wait_for_change, wait_until_quiet

pytestmark = pytest.mark.browser

LAYER, CHECKPOINT = "layer (1 = input side)", "checkpoint (0 = initialization)"

# (what moves, how, what the address bar then holds): every browser-side control, from the page's defaults
# (layer 5, the last checkpoint (20 in the CPU run), histograms after training of ∂C/∂s, compared).
MOVES = [
    ("layer", lambda page: press_slider(page, LAYER, "ArrowLeft"), "layer=4"),
    ("checkpoint", lambda page: press_slider(page, CHECKPOINT, "ArrowLeft"), "checkpoint=19"),
    (
        "snapshot",
        lambda page: page.get_by_role("button", name="at initialization", exact=True).click(),
        "snapshot=initial",
    ),
    (
        "grad_kind",
        lambda page: page.get_by_role("button", name="∂C/∂W (Fig. 8)", exact=True).click(),
        "grad_kind=weight",
    ),
    ("compare", lambda page: controls(page).locator("input[type=checkbox]").first.uncheck(), "compare=false"),
]

# JS: set a slider's value as its handle does, and whether the plots' data changed by the next animation frame.
ONE_FRAME_JS = """async (label) => {
  const signature = __SIGNATURE_JS__
  const slider = [...Bokeh.documents[0].all_models].find((m) => m.type == "Slider" && String(m.title) == label)
  const before = signature()
  const started = performance.now()
  slider.value = slider.value == slider.start ? slider.value + 1 : slider.value - 1
  await new Promise((resolve) => requestAnimationFrame(() => resolve()))
  return {changed: signature() != before, ms: performance.now() - started, value: slider.value}
}""".replace("__SIGNATURE_JS__", SIGNATURE_JS)

# JS: the data of the (one) source with a given column, as lists.
SOURCE_JS = """(column) => {
  const found = [...Bokeh.documents[0].all_models].filter((m) => m.type == "ColumnDataSource" &&
    (m.data instanceof Map ? m.data.has(column) : column in m.data))
  if (found.length != 1) return null
  const d = found[0].data
  const entries = d instanceof Map ? [...d.entries()] : Object.entries(d)
  return Object.fromEntries(entries.map(([k, v]) => [k, Array.from(v, Number)]))
}"""


def data_of(signature: str) -> list[str]:
    """A page's plot-data signature without the model ids (which differ between sessions)."""
    return sorted(entry.split(":", 1)[1] for entry in signature.split("|") if entry)


def open_glorot(page, url: str, frames: list | None = None):
    console, requests = [], []
    if frames is not None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    open_page(page, url, console, requests)
    page.get_by_text("Test error (%), our runs and Table 1").wait_for(timeout=120_000)  # the page has rendered
    wait_until_quiet(page, quiet=1.5)
    return console, requests


def settled(page, frames: list, quiet_ms: int = 1500) -> None:
    """Wait until the page has sent nothing for ``quiet_ms`` (its start-up messages: layout, location)."""
    n = -1
    while n != len(frames):
        n = len(frames)
        page.wait_for_timeout(quiet_ms)


def same_as_fresh_page(browser, app_server, page) -> None:
    """A fresh page (a new browser context) opened from ``page``'s address shows the same plot data."""
    search = page.evaluate("location.search")
    context = browser.new_context()
    try:
        fresh = context.new_page()
        console, requests = open_glorot(fresh, app_server.url + search)
        assert data_of(fresh.evaluate(SIGNATURE_JS)) == data_of(page.evaluate(SIGNATURE_JS)), search
        assert_clean(console, requests, app_server)
    finally:
        context.close()


def messages(frames: list) -> list[dict]:
    """The JSON contents of the PATCH-DOC messages among ``frames``."""
    out = []
    for f in frames:
        try:
            content = json.loads(f)
        except (TypeError, ValueError):
            continue
        if isinstance(content, dict) and "events" in content:
            out.append(content)
    return out


def test_browser_side_moves_send_no_frame_and_a_link_reproduces_them(page, browser, app_server):
    frames = []
    console, requests = open_glorot(page, app_server.url + "?page=glorot", frames)
    settled(page, frames)
    counts = {}
    for name, move, query in MOVES:
        sig, n = page.evaluate(SIGNATURE_JS), len(frames)
        move(page)
        wait_for_change(page, sig, timeout=10)
        page.wait_for_timeout(700)  # anything the move would send has gone by now
        counts[name] = len(frames) - n
        assert frames[n:] == [], (name, frames[n:])
        assert query in page.evaluate("location.search"), name
    print(f"\nwebsocket frames sent per browser-side move: {counts}")
    assert page.get_by_text("checkpoint 19 of 20").count() == 1  # the readout follows (layer 4 at checkpoint 19)
    assert page.get_by_text("layer 4: mean activation").count() == 1
    search = page.evaluate("location.search")
    assert all(q in search for _, _, q in MOVES)
    same_as_fresh_page(browser, app_server, page)
    assert_clean(console, requests, app_server)


def test_a_slider_move_is_drawn_within_one_frame(page, app_server):
    frames = []
    console, requests = open_glorot(page, app_server.url + "?page=glorot", frames)
    settled(page, frames)
    n, times = len(frames), []
    for label in (LAYER, CHECKPOINT, LAYER, CHECKPOINT):
        result = page.evaluate(ONE_FRAME_JS, label)
        assert result["changed"], (label, result)
        times.append(result["ms"])
    page.wait_for_timeout(700)
    assert frames[n:] == []
    print(f"\nslider move to the next animation frame (data changed by then): {[f'{t:.1f} ms' for t in times]}")
    assert_clean(console, requests, app_server)


def test_server_side_move_sends_one_message_and_keeps_a_move_made_meanwhile(page, browser, app_server):
    frames = []
    console, requests = open_glorot(page, app_server.url + "?page=glorot&layer=3", frames)
    settled(page, frames)
    sig, n = page.evaluate(SIGNATURE_JS), len(frames)
    controls(page).locator("select").nth(1).select_option(label="tanh")  # activation: another combination
    press_slider(page, LAYER, "ArrowLeft")  # at once, before the server has answered: layer 2
    wait_for_change(page, sig)
    page.get_by_text("Tanh, CPU run").first.wait_for(timeout=60_000)  # the server's answer is drawn
    wait_until_quiet(page, quiet=1.5)
    events = [e for m in messages(frames[n:]) for e in m["events"]]
    carrier = [e for e in events if isinstance(e.get("new"), str) and e["new"].startswith('{"state"')]
    assert len(carrier) == 1 and json.loads(carrier[0]["new"])["state"]["activation"] == "tanh", events
    assert [e for e in events if e.get("attr") in ("value", "active") and e not in carrier] == []  # no widget syncs
    print(
        f"\nactivation move: {len(frames) - n} websocket frames, {len(messages(frames[n:]))} messages "
        f"(the browser's state; Panel's location echo)"
    )
    search = page.evaluate("location.search")
    assert "activation=tanh" in search and "layer=2" in search, search
    assert page.get_by_text("layer 2: mean activation").count() == 1
    same_as_fresh_page(browser, app_server, page)

    # a preset within the shown combination (tanh, standard) is drawn in the browser alone
    sig, n = page.evaluate(SIGNATURE_JS), len(frames)
    page.get_by_role("button", name="Fig. 3–4: tanh").click()  # layer 1, after training, ∂C/∂s
    wait_for_change(page, sig, timeout=10)
    page.wait_for_timeout(700)
    assert frames[n:] == []
    assert "layer=1" in page.evaluate("location.search")
    same_as_fresh_page(browser, app_server, page)
    assert_clean(console, requests, app_server)


def test_a_download_exports_what_the_browser_shows(page, app_server):
    frames = []
    console, requests = open_glorot(page, app_server.url + "?page=glorot", frames)
    settled(page, frames)
    before = page.evaluate(SOURCE_JS, "lo")  # the chosen layer's band and mean on the trajectories: layer 5
    for label in (LAYER, LAYER, LAYER, CHECKPOINT):  # layer 2, checkpoint 19: in the browser only
        sig = page.evaluate(SIGNATURE_JS)
        press_slider(page, label, "ArrowLeft")
        wait_for_change(page, sig, timeout=10)
    shown = page.evaluate(SOURCE_JS, "lo")
    assert not np.allclose(shown["mean"], before["mean"], equal_nan=True)
    card = page.locator(".vgp-figure-activation-trajectories")
    with page.expect_download(timeout=180_000) as info:
        card.get_by_role("button", name="HTML", exact=True).click()
    exported = source_with(open(info.value.path(), encoding="utf-8").read(), "lo")
    for column in ("lo", "hi", "mean"):
        assert np.allclose(exported[column], shown[column], equal_nan=True), column
    assert_clean(console, requests, app_server)
