"""A background run's chunk, and a timed callback's changes, reach the browser as one message ("every move
instant": a training run streamed 100–190 PATCH-DOC messages, one per changed property, each re-rendering the page,
because its chunks were applied in Bokeh's locked callbacks, which Bokeh 3.10 runs on an executor thread). Served
in-process with Panel, read by Chromium: Panel marks a session loaded only when BokehJS says so, and only then does
its hold write a chunk's changes together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import panel as pn
import pytest
from bokeh.models import ColumnDataSource, Div, Range1d
from bokeh.plotting import figure

from app.components.training import BackgroundRun
from tests.app_server import served_in_process

pytestmark = pytest.mark.browser

#: chunks the fake training yields, and the pause before each (longer than a tick: each is delivered on its own)
CHUNKS, PAUSE_S = 6, 0.25


def three_models() -> tuple[pn.Column, Callable[[str, int], None]]:
    """A page of three models (a streamed source, a range and a text) and a change of all three."""
    source = ColumnDataSource({"x": [], "y": []})
    x_range = Range1d(0, 1)
    fig = figure(x_range=x_range, width=300, height=200)
    fig.line("x", "y", source=source)
    text = Div(text="waiting")

    def change(label: str, k: int) -> None:
        source.stream({"x": [k], "y": [k * k]})
        x_range.end = 1000 + k
        text.text = f"{label} {k}"

    return pn.Column(pn.pane.Bokeh(fig), pn.pane.Bokeh(text)), change


def chunk_app():
    """A page whose background run changes its three models per chunk."""
    layout, change = three_models()
    doc = pn.state.curdoc

    def chunks():
        time.sleep(2.0)  # let the browser load the page first
        for k in range(CHUNKS):
            time.sleep(PAUSE_S)
            yield k

    run = BackgroundRun(doc, lambda k: change("chunk", k), lambda exc: None)
    run.start(chunks)
    return layout


def patch_events(frames: list) -> list[list[dict]]:
    """The event lists of the PATCH-DOC messages among the received websocket frames."""
    out = []
    for frame in frames:
        try:
            content = json.loads(frame)
        except (TypeError, ValueError):
            continue
        if isinstance(content, dict) and "events" in content:
            out.append(content["events"])
    return out


def touched(events: list[dict]) -> set[str]:
    """What the fake training changed in one message: 'stream', 'end', 'text'."""
    kinds = set()
    for event in events:
        if event.get("kind") == "ColumnsStreamed":
            kinds.add("stream")
        elif event.get("kind") == "ModelChanged" and event.get("attr") in ("end", "text"):
            kinds.add(event["attr"])
    return kinds


def messages_of(page, app, last: str) -> list[set[str]]:
    """What each PATCH-DOC message changed of the three models, until the page shows ``last``."""
    with served_in_process(app) as url:
        frames: list = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
        page.goto(url, timeout=120_000)
        page.get_by_text(last).wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        per_message = [kinds for kinds in map(touched, patch_events(frames)) if kinds]
        print(f"\nmessages until {last!r}: {per_message}")
        return per_message


@pytest.mark.timeout(300)
def test_each_chunk_of_a_background_run_is_one_message(page):
    assert messages_of(page, chunk_app, f"chunk {CHUNKS - 1}") == [{"stream", "end", "text"}] * CHUNKS


def timer_app():
    """A page whose timed callbacks (as ``Page.call_later`` schedules them, through ``on_loop``) each
    change the same three models: a plain Bokeh callback runs on an executor thread, where each change was a
    message of its own."""
    from app.components.training import document_hold, on_loop

    layout, change = three_models()
    doc = pn.state.curdoc

    def tick(k: int) -> None:
        with document_hold(doc):
            change("tick", k)

    for k in range(CHUNKS):  # after the browser has loaded the page, each on its own
        doc.add_timeout_callback(on_loop(lambda k=k: tick(k)), int((2.0 + k * PAUSE_S) * 1e3))
    return layout


@pytest.mark.timeout(300)
def test_each_timed_callback_is_one_message(page):
    assert messages_of(page, timer_app, f"tick {CHUNKS - 1}") == [{"stream", "end", "text"}] * CHUNKS
