"""Where the time of one move goes, per page, in Chromium: input -> websocket -> server -> plot data -> rendered.

Starts the app (`panel serve app`, warm-up of the default width only, no remedies warm-up) unless ``--url`` names a
running one, opens each page in headless Chromium (Debian's, never a downloaded one) and moves every slider, select
and checkbox of the page's controls column N times (sliders: one keyboard step, alternating right/left; selects: the
next option; checkboxes: a click), then puts the control back as it was (unmeasured), so that every control starts
from the page's defaults. Before each move the page must be quiet: the server has answered (OK) every message the
browser sent, and no websocket frame has come or gone for ``--rest`` seconds (so a training run that a previous move
started has finished streaming). Each move is timed in the page with ``performance.now()`` (the input event's
timestamp; every websocket frame, stamped by a wrapper around the page's ``WebSocket``; the plot data, watched with
``requestAnimationFrame``); Playwright's websocket events give the frames' contents, from which the Bokeh messages
are put together (a JSON header with ``msgtype``, a metadata frame, a content frame with ``events``, then an id frame
and a binary frame per buffer; Playwright leaves out empty binary frames, which the script accounts for).

The stages of one move (they add up to the total):

  client  the input event that changed the widget (a key's keydown; a click's or a select's input event) -> the
          first websocket frame the browser sends (BokehJS turns the widget change into a PATCH-DOC)
  server  that frame sent -> the PATCH-DOC that brought the new plot data: the last message received before the
          data change was seen that carries a ``ColumnDataChanged`` (``ColumnsStreamed``, ``ColumnsPatched``) event
          or a ``ModelChanged`` of the ``data`` of a source a figure references. It covers the network both ways,
          Panel's handling of the message, the page's computation and the serialisation; where the page waits for
          the controls to rest (a training setting starts a run only after 1 s without a move) that wait; and any
          time the page's main thread was too busy to look at the frame (frames are stamped when the page's
          JavaScript sees them)
  render  that message received -> the plot data changed (a signature of every ColumnDataSource, computed on each
          animation frame: the first frame that sees new data) -> one more animation frame ("rendered": the browser
          has laid out and painted the frame with the new data)
  total   input event -> rendered

and, per move, until the page is quiet again: the PATCH-DOC messages received and their bytes (all frames: header,
metadata, content, buffers), the frames the browser sent (each message is >= 3 frames; sliders send ``value`` and
``value_throttled``; BokehJS sends back the page's URL, and ranges or sizes it computed where a page lets them
sync), and "settled": input -> the last PATCH-DOC of the move (a training run streams for seconds after the views).

Reading the result: the table gives, per control, the p50/p95 of the total and the p50 of each stage ("moves" reads
2/3 where one of three moves changed no plot data within 5 s; the stages are over the moves that did). A control whose
moves never change plot data within 5 s is listed as such (the move may still change text, or start a run that takes
longer). "share" is the median over moves of each stage's fraction of the total (medians, so they need not add up to
100 %). The last lines are the README table's rows: page | median over all moves | the worst control's p95. With
alternating moves, moves from the third on revisit values the server has computed before (the app caches results);
``--json`` writes every move for a closer look.

``--messages`` lists every move's messages received (time, size, events): how the Deep page's move answer was
found to carry a whole finished training run.

Usage: python bench/bench_latency.py [--pages deep,cliff] [--moves 5] [--rest 1.5] [--url http://host:port/app]
       [--json moves.json] [--messages]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the benchmarks run as scripts from a checkout: make `app` and `tests` importable without installing
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.app_server import start_app_server  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, SIGNATURE_JS, find_chromium  # noqa: E402

PAGES = ("deep", "recurrent", "bifurcation", "cliff", "glorot", "remedies", "edge-of-chaos")
CHANGE_TIMEOUT_S = 5.0  # a move that changes no plot data within this time counts as "no change"
SETTLE_MAX_S = 60.0  # the longest wait for a page to become quiet (all answered, no frame for --rest seconds)
DATA_EVENTS = {"ColumnDataChanged", "ColumnsStreamed", "ColumnsPatched"}

# Runs before any script of the page: timestamps of input events and of every websocket frame (per direction, in
# order, so that the n-th frame Playwright reports gets the n-th timestamp), and the plot-data signature.
INIT_JS = """(() => {
  const bench = window.__bench = {inputs: [], frames: [], sent: 0, received: 0, watch: null};
  bench.signature = (__SIGNATURE__);
  for (const type of ['keydown', 'pointerdown', 'input', 'change'])
    window.addEventListener(type, e => bench.inputs.push(e.timeStamp), true);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => bench.frames.push(['r', bench.received++, performance.now()]));
    }
    send(data) { bench.frames.push(['s', bench.sent++, performance.now()]); return super.send(data); }
  };
})();""".replace("__SIGNATURE__", SIGNATURE_JS)

# The widgets of the controls column, in order: tags each widget's element (data-bench-control) for Playwright and
# returns [kind, label, model id]. A discrete slider's title is the Div above it ("width: <b>128</b>").
CONTROLS_JS = """() => {
  const kinds = {Slider: 'slider', Select: 'select', CustomSelect: 'select', Checkbox: 'checkbox'};
  const found = [], seen = new Set();
  const text = html => { const d = document.createElement('div'); d.innerHTML = html; return d.textContent; };
  const walk = (view, inside, parent) => {
    if (!view || seen.has(view)) return;
    seen.add(view);
    inside = inside || (view.el && view.el.classList && view.el.classList.contains('vgp-controls'));
    const kind = kinds[view.model.type.split('.').pop()];
    if (inside && kind) {
      let label = view.model.title ?? view.model.label ?? '';
      if (!label && parent) {
        const div = parent.model.children.find(c => c.type === 'Div' || c.type.endsWith('HTML'));
        label = div ? text(div.text).split(':')[0] : '';
      }
      view.el.setAttribute('data-bench-control', found.length);
      found.push([kind, label.trim() || view.model.type, view.model.id]);
    }
    for (const child of (view.children ? view.children() : [])) walk(child, inside, view);
  };
  const roots = Bokeh.index instanceof Map ? [...Bokeh.index.values()] : Object.values(Bokeh.index);
  roots.forEach(root => walk(root, false, null));
  return found;
}"""

# Ids of every model a figure references (ranges, renderers, sources, mappers, annotations): a ModelChanged of the
# ``data`` of one of them brings plot data.
VIEW_IDS_JS = """() => {
  const ids = new Set();
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.type === 'Figure' || m.type.endsWith('Plot'))
        for (const r of m.references()) ids.add(r.id);
  return [...ids];
}"""

MODEL_TYPES_JS = """ids => ids.map(id => {
  for (const doc of Bokeh.documents) { const m = doc.get_model_by_id(id); if (m) return m.type.split('.').pop(); }
  return '?';
})"""

# Before a move: forget earlier inputs, take the data's signature, and watch it on every animation frame: the first
# frame that sees new data stamps "changed", the next one "rendered".
ARM_JS = """() => {
  const b = window.__bench;
  b.inputs.length = 0;
  const before = b.signature();
  const w = b.watch = {armed: performance.now(), changed: null, rendered: null, stop: false};
  const tick = () => {
    if (w.stop) return;
    if (w.changed === null) { if (b.signature() !== before) w.changed = performance.now(); }
    else { w.rendered = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
RENDERED_JS = "() => window.__bench.watch.rendered !== null"
STOP_JS = """() => { const b = window.__bench; b.watch.stop = true;
  return {armed: b.watch.armed, changed: b.watch.changed, rendered: b.watch.rendered, inputs: b.inputs.slice()}; }"""
FRAMES_JS = """() => { const b = window.__bench;
  return {frames: b.frames.splice(0), sent: b.sent, received: b.received}; }"""


# ------------------------------------------------------------------------------------------------ websocket messages
@dataclasses.dataclass
class Message:
    """One Bokeh message: its frames' sequence numbers (per direction), type, size and events."""

    direction: str  # 's': sent by the browser, 'r': received
    msgtype: str
    first: int
    last: int
    nbytes: int
    msgid: str | None = None
    reqid: str | None = None  # the message this one answers (an OK answers each PATCH-DOC the browser sends)
    events: list = dataclasses.field(default_factory=list)
    t_first: float | None = None  # performance.now() of its first and last frame, in the page
    t_last: float | None = None


class Assembler:
    """Puts the frames of one direction together into messages: header, metadata, content, 2 frames per buffer (an
    id, then the bytes). Playwright does not report an empty binary frame (a buffer of an empty array): a text frame
    where the bytes belong stands for one, so that ``seq`` counts the frames as the page does."""

    def __init__(self, direction: str):
        self.direction, self.seq, self.message, self.index, self.length = direction, 0, None, 0, 0

    def expects_bytes(self) -> bool:
        return self.message is not None and self.index + 1 >= 4 and (self.index + 1) % 2 == 0

    def feed(self, payload: str | bytes) -> list[Message]:
        done = self._take(b"") if self.expects_bytes() and isinstance(payload, str) else []
        return done + self._take(payload)

    def flush(self, frames_in_page: int) -> list[Message]:
        """The empty binary frames the page has seen at the end of the last message, which Playwright left out."""
        done = []
        while self.seq < frames_in_page and self.expects_bytes():
            done += self._take(b"")
        return done

    def _take(self, payload: str | bytes) -> list[Message]:
        seq, self.seq = self.seq, self.seq + 1
        size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
        if self.message is None:
            header = json.loads(payload) if isinstance(payload, str) else {}
            self.message = Message(
                self.direction, header.get("msgtype", "?"), seq, seq, size, header.get("msgid"), header.get("reqid")
            )
            self.index, self.length = 0, 3 + 2 * header.get("num_buffers", 0)
        else:
            self.message.nbytes += size
            self.message.last = seq
            self.index += 1
            if self.index == 2 and isinstance(payload, str):
                self.message.events = json.loads(payload).get("events", [])
        if self.index == self.length - 1:
            message, self.message = self.message, None
            return [message]
        return []


class Recorder:
    """Every Bokeh message of a page's websocket, as Playwright reports its frames."""

    def __init__(self, page):
        self.messages: list[Message] = []
        self.assemblers = {"s": Assembler("s"), "r": Assembler("r")}
        self.last_frame = time.monotonic()
        self.sockets = 0
        self.warned = False
        self.unanswered: set[str] = set()  # msgids of the browser's messages the server has not answered yet
        self.times: dict[tuple[str, int], float] = {}
        page.on("websocket", self._on_socket)

    def _on_socket(self, ws) -> None:
        self.sockets += 1
        if self.sockets > 1:
            print(f"warning: websocket #{self.sockets} ({ws.url}): frame timestamps may be misattributed")
        ws.on("framesent", lambda payload: self._on_frame("s", payload))
        ws.on("framereceived", lambda payload: self._on_frame("r", payload))

    def _on_frame(self, direction: str, payload) -> None:
        self.last_frame = time.monotonic()
        for message in self.assemblers[direction].feed(payload):
            self.messages.append(message)
            if message.direction == "s" and message.msgid:
                self.unanswered.add(message.msgid)
            self.unanswered.discard(message.reqid)

    def frames_sent(self) -> int:
        return self.assemblers["s"].seq

    def stamp(self, page) -> None:
        """Give every message the page's timestamps of its first and last frame."""
        stamped = page.evaluate(FRAMES_JS)
        for direction, seq, t in stamped["frames"]:
            self.times[direction, seq] = t
        self.messages += self.assemblers["s"].flush(stamped["sent"]) + self.assemblers["r"].flush(stamped["received"])
        seen = (self.assemblers["s"].seq, self.assemblers["r"].seq)
        if seen != (stamped["sent"], stamped["received"]) and not self.warned:
            self.warned = True
            print(
                f"warning: Playwright saw {seen} frames (sent, received), the page "
                f"{stamped['sent'], stamped['received']}: frame timestamps may be misattributed"
            )
        for m in self.messages:
            if m.t_last is None:
                m.t_first = self.times.get((m.direction, m.first))
                m.t_last = self.times.get((m.direction, m.last))


def wait_quiet(page, recorder: Recorder, rest: float, limit: float = SETTLE_MAX_S) -> None:
    """Until the server has answered every message of the browser and no websocket frame has come or gone for
    ``rest`` seconds (at most ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while (recorder.unanswered or time.monotonic() - recorder.last_frame < rest) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    if recorder.unanswered:
        print(f"warning: {len(recorder.unanswered)} messages of the browser still unanswered after {limit:.0f} s")


# ------------------------------------------------------------------------------------------------ controls and moves
@dataclasses.dataclass
class Control:
    index: int
    kind: str  # slider, select, checkbox
    label: str
    model_id: str


@dataclasses.dataclass
class Move:
    control: str
    number: int
    total: float | None = None  # ms; None: the plot data did not change within CHANGE_TIMEOUT_S
    client: float | None = None
    server: float | None = None
    render: float | None = None
    messages: int = 0  # PATCH-DOC messages received until the page was quiet again
    nbytes: int = 0
    frames_sent: int = 0
    settled: float | None = None  # ms: input -> last PATCH-DOC received


def find_controls(page) -> list[Control]:
    found = page.evaluate(CONTROLS_JS)
    controls = [Control(i, kind, label, model_id) for i, (kind, label, model_id) in enumerate(found)]
    counts = collections.Counter(c.label for c in controls)
    for c in controls:
        if counts[c.label] > 1:
            c.label = f"{c.label} #{c.index}"
    return controls


def make_input(page, control: Control, number: int) -> None:
    """One move of the control: a keyboard step (alternating), the next option, or a click."""
    element = page.locator(f"[data-bench-control='{control.index}']")
    if control.kind == "slider":
        handle = element.locator(".noUi-handle").first
        now, low, high = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
        right = number % 2 == 0
        if (right and now >= high) or (not right and now <= low):
            right = not right
        handle.focus()
        handle.press("ArrowRight" if right else "ArrowLeft")
    elif control.kind == "select":
        select = element.locator("select").first
        index, count = select.evaluate("e => [e.selectedIndex, e.options.length]")
        select.select_option(index=(index + 1) % count)
    else:
        element.locator("input[type=checkbox]").first.click()


def control_state(page, control: Control):
    """The widget's state in the page: a slider's position, a select's option, a checkbox's tick."""
    element = page.locator(f"[data-bench-control='{control.index}']")
    if control.kind == "slider":
        return float(element.locator(".noUi-handle").first.get_attribute("aria-valuenow"))
    if control.kind == "select":
        return element.locator("select").first.evaluate("e => e.selectedIndex")
    return element.locator("input[type=checkbox]").first.is_checked()


def restore(page, control: Control, state) -> None:
    """Put the control back as it was before its moves (unmeasured), so that each control starts from the page's
    defaults (a width left at 256 would make every later move compile)."""
    element = page.locator(f"[data-bench-control='{control.index}']")
    for _ in range(20):
        now = control_state(page, control)
        if now == state:
            return
        if control.kind == "slider":
            handle = element.locator(".noUi-handle").first
            handle.focus()
            handle.press("ArrowLeft" if now > state else "ArrowRight")
        elif control.kind == "select":
            element.locator("select").first.select_option(index=state)
        else:
            element.locator("input[type=checkbox]").first.click()


def measure_move(page, recorder: Recorder, control: Control, number: int, view_ids: set[str], rest: float) -> Move:
    wait_quiet(page, recorder, rest)
    first_message, first_frame = len(recorder.messages), recorder.frames_sent()
    page.evaluate(ARM_JS)
    started = time.monotonic()
    make_input(page, control, number)
    remaining_ms = max(1.0, CHANGE_TIMEOUT_S - (time.monotonic() - started)) * 1e3
    try:
        page.wait_for_function(RENDERED_JS, polling="raf", timeout=remaining_ms)
    except PlaywrightError:
        pass  # no change within the time: reported as such
    watch = page.evaluate(STOP_JS)
    wait_quiet(page, recorder, rest)
    recorder.stamp(page)
    return timed_move(
        control, number, watch, recorder.messages[first_message:], recorder.frames_sent() - first_frame, view_ids
    )


def changes_plot_data(message: Message, view_ids: set[str]) -> bool:
    """Whether the message carries new data for a figure: a ColumnDataChanged (streamed, patched) event, or a
    ModelChanged of the ``data`` of a source some figure references."""

    def carries_data(event: dict) -> bool:
        if event.get("kind") in DATA_EVENTS:
            return True
        return (
            event.get("kind") == "ModelChanged"
            and event.get("attr") == "data"
            and event.get("model", {}).get("id") in view_ids
        )

    return any(carries_data(e) for e in message.events)


def input_time(watch: dict, first_sent: float | None) -> float:
    """The input event that changed the widget: the last one before the browser sent anything (a click's input
    event, not its pointerdown; a key's keydown), else the first one, else the moment the move was armed."""
    before = [t for t in watch["inputs"] if first_sent is None or t <= first_sent]
    return max(before, default=min(watch["inputs"], default=watch["armed"]))


def timed_move(
    control: Control, number: int, watch: dict, messages: list[Message], frames_sent: int, view_ids: set[str]
) -> Move:
    """A move's stages from the page's timestamps (ms, relative to the input event)."""
    received = [m for m in messages if m.direction == "r" and m.msgtype == "PATCH-DOC" and m.t_last is not None]
    sent = [m.t_first for m in messages if m.direction == "s" and m.t_first is not None]
    first_sent = min(sent, default=None)
    t_input = input_time(watch, first_sent)
    move = Move(
        control.label, number, messages=len(received), nbytes=sum(m.nbytes for m in received), frames_sent=frames_sent
    )
    if received:
        move.settled = max(m.t_last for m in received) - t_input
    if watch["rendered"] is None:
        return move
    move.total = watch["rendered"] - t_input
    if first_sent is None:
        return move  # the page changed its data itself
    move.client = first_sent - t_input
    # the message that brought the new data: the last one with data received before the change was seen
    data = [m for m in received if first_sent <= m.t_last <= watch["changed"] and changes_plot_data(m, view_ids)]
    if data:
        move.server = data[-1].t_last - first_sent
        move.render = watch["rendered"] - data[-1].t_last
    return move


# ------------------------------------------------------------------------------------------------ one page
def open_page(browser, url: str, rest: float):
    page = browser.new_page(viewport={"width": 1500, "height": 1350})
    page.add_init_script(INIT_JS)
    console: list[tuple[str, str]] = []
    page.on("console", lambda m: console.append((m.type, m.text)))
    recorder = Recorder(page)
    page.goto(url, timeout=120_000)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("is now open" in t for _, t in console):
        page.wait_for_timeout(200)
    if not any("is now open" in t for _, t in console):
        raise RuntimeError(f"{url}: the page's websocket did not open")
    wait_quiet(page, recorder, max(rest, 3.0), limit=120)  # the page's first computations, a training run
    recorder.stamp(page)
    return page, recorder, console


def bench_page(
    browser, base_url: str, slug: str, moves: int, rest: float, list_messages: bool = False
) -> tuple[list[Control], list[Move], dict]:
    page, recorder, console = open_page(browser, page_url(base_url, slug), rest)
    controls = find_controls(page)
    view_ids = set(page.evaluate(VIEW_IDS_JS))
    print(f"{slug}: {len(controls)} controls: " + ", ".join(f"{c.label} ({c.kind})" for c in controls), flush=True)
    results, measured = [], []  # the moves, and the messages they caused (not those of putting a control back)
    for control in controls:
        state = control_state(page, control)
        for number in range(moves):
            first = len(recorder.messages)
            results.append(measure_move(page, recorder, control, number, view_ids, rest))
            measured += recorder.messages[first:]
            if list_messages:
                print_messages(results[-1], recorder.messages[first:], view_ids)
        restore(page, control, state)
        wait_quiet(page, recorder, rest)
    traffic = event_counts(page, measured)
    errors = [t for kind, t in console if kind == "error"]
    if errors:
        print(f"{slug}: {len(errors)} browser console errors, first: {errors[0][:200]}")
    page.close()
    return controls, results, traffic


def print_messages(move: Move, messages: list[Message], view_ids: set[str]) -> None:
    """One move's messages received, in order: when (ms after the browser's first frame of the move), type, size,
    whether it carries plot data, and its events by kind and attribute (``--messages``)."""
    sent = [m.t_first for m in messages if m.direction == "s" and m.t_first is not None]
    t0 = min(sent, default=None)
    print(f"  {move.control} #{move.number}: total {fmt(move.total or float('nan'))} ms")
    for m in messages:
        if m.direction != "r" or m.t_last is None or t0 is None:
            continue
        kinds = collections.Counter(f"{e.get('kind')}.{e.get('attr') or ''}".rstrip(".") for e in m.events)
        data = "data" if changes_plot_data(m, view_ids) else "    "
        events = ", ".join(f"{k} {n}" for k, n in kinds.most_common())
        print(f"    {m.t_last - t0:8.1f} ms {m.msgtype:10s} {m.nbytes / 1e3:8.1f} kB {data} {events}")


def event_counts(page, messages: list[Message]) -> dict:
    """What went over the websocket during the moves: per direction, events by kind, model type and attribute."""
    ids = sorted({e["model"]["id"] for m in messages for e in m.events if isinstance(e.get("model"), dict)})
    types = dict(zip(ids, page.evaluate(MODEL_TYPES_JS, ids), strict=True))
    counts = {"s": collections.Counter(), "r": collections.Counter()}
    for m in messages:
        if m.msgtype != "PATCH-DOC":
            counts[m.direction][m.msgtype] += 1
        for e in m.events:
            model = types.get(e.get("model", {}).get("id"), "?") if isinstance(e.get("model"), dict) else "-"
            counts[m.direction][f"{e.get('kind')} {model}.{e.get('attr', '')}".rstrip(".")] += 1
    return counts


def page_url(base_url: str, slug: str) -> str:
    return f"{base_url}{'&' if '?' in base_url else '?'}page={slug}"


# ------------------------------------------------------------------------------------------------ report
def pct(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def fmt(value: float, width: int = 7) -> str:
    return f"{'-':>{width}}" if value != value else f"{value:{width}.0f}"


def print_table(slug: str, controls: list[Control], moves: list[Move]) -> None:
    print(
        f"\n{slug}: one move, input -> rendered (ms; stages are p50), until quiet: PATCH-DOCs received, "
        f"their bytes, frames sent by the browser, input -> last PATCH-DOC (ms)"
    )
    print(
        f"{'control':<32} {'moves':>5} {'total p50/p95':>15} {'client':>7} {'server':>7} {'render':>7} "
        f"{'msgs/move':>9} {'bytes/move':>10} {'sent frames':>11} {'settled':>8}"
    )
    for c in controls:
        ms = [m for m in moves if m.control == c.label]
        done = [m for m in ms if m.total is not None]
        traffic = (
            f"{np.mean([m.messages for m in ms]):9.1f} {np.mean([m.nbytes for m in ms]):10.0f} "
            f"{np.mean([m.frames_sent for m in ms]):11.1f} "
            f"{fmt(pct([m.settled for m in ms if m.settled is not None], 50), 8)}"
        )
        if not done:
            print(
                f"{c.label[:32]:<32} {len(ms):>5} {'no plot data change within ' + f'{CHANGE_TIMEOUT_S:.0f} s':>39} "
                f"{traffic}"
            )
            continue
        stages = " ".join(
            fmt(pct([getattr(m, s) for m in done if getattr(m, s) is not None], 50))
            for s in ("client", "server", "render")
        )
        totals = [m.total for m in done]
        moved = f"{len(done)}/{len(ms)}" if len(done) < len(ms) else f"{len(ms)}"
        print(f"{c.label[:32]:<32} {moved:>5} {fmt(pct(totals, 50))} / {fmt(pct(totals, 95), 5)} {stages} {traffic}")


def print_shares(slug: str, moves: list[Move]) -> None:
    complete = [m for m in moves if m.total and m.server is not None]
    if not complete:
        return
    shares = {
        stage: 100 * float(np.median([getattr(m, stage) / m.total for m in complete]))
        for stage in ("client", "server", "render")
    }
    print(
        f"{slug}: median share of the total over {len(complete)} moves: "
        + ", ".join(f"{s} {v:.0f} %" for s, v in shares.items())
    )


def print_traffic(slug: str, counts: dict, n_moves: int) -> None:
    for direction, what in (("s", "browser -> server"), ("r", "server -> browser")):
        top = ", ".join(f"{k} {v / n_moves:.1f}" for k, v in counts[direction].most_common(8))
        print(f"{slug}: {what}, per move: {top}")


def summary_row(slug: str, controls: list[Control], moves: list[Move]) -> str:
    totals = [m.total for m in moves if m.total is not None]
    worst = max(
        (
            (pct([m.total for m in moves if m.control == c.label and m.total is not None], 95), c.label)
            for c in controls
            if any(m.control == c.label and m.total is not None for m in moves)
        ),
        default=(float("nan"), "-"),
    )
    silent = [c.label for c in controls if not any(m.control == c.label and m.total is not None for m in moves)]
    note = f"; no change within {CHANGE_TIMEOUT_S:.0f} s: {', '.join(silent)}" if silent else ""
    return f"| {slug} | {pct(totals, 50):.0f} ms | {worst[0]:.0f} ms ({worst[1]}){note} |"


# ------------------------------------------------------------------------------------------------ main
def start_server():
    log_dir = Path(tempfile.mkdtemp(prefix="vgp-bench-latency-"))
    t0 = time.monotonic()
    # plain `panel serve app`; where tests/app_server.py can also start the hardened server, ask for the plain one
    plain = {"hardened": False} if "hardened" in inspect.signature(start_app_server).parameters else {}
    server = start_app_server(log_dir, env={"VGP_WARMUP_REMEDIES": "0"}, **plain)
    server.wait_for_warm_up()
    print(f"server on port {server.port} warmed up in {time.monotonic() - t0:.0f} s (log: {server.log_path})")
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated page slugs")
    ap.add_argument("--moves", type=int, default=5, help="moves per control")
    ap.add_argument("--rest", type=float, default=1.5, help="seconds without websocket frames before each move")
    ap.add_argument("--url", help="a running app (http://host:port/app) instead of starting one")
    ap.add_argument("--json", help="write every move to this file")
    ap.add_argument("--messages", action="store_true", help="list each move's messages (time, size, events)")
    args = ap.parse_args()
    slugs = [s.strip() for s in args.pages.split(",") if s.strip()]
    if unknown := set(slugs) - set(PAGES):
        ap.error(f"unknown pages {sorted(unknown)}; pages: {', '.join(PAGES)}")
    if find_chromium() is None:
        sys.exit("Debian's chromium is not installed (apt-get install chromium)")
    server = None if args.url else start_server()
    base_url = args.url or server.url
    rows, everything = [], {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_FLAGS, headless=True)
            for slug in slugs:
                t0 = time.monotonic()
                controls, moves, traffic = bench_page(browser, base_url, slug, args.moves, args.rest, args.messages)
                print_table(slug, controls, moves)
                print_shares(slug, moves)
                print_traffic(slug, traffic, max(1, len(moves)))
                print(f"{slug}: {time.monotonic() - t0:.0f} s\n", flush=True)
                rows.append(summary_row(slug, controls, moves))
                everything[slug] = [dataclasses.asdict(m) for m in moves]
            browser.close()
    finally:
        if server is not None:
            errors = server.errors()
            server.stop()
            print(f"server log: {len(errors)} errors" + (f", first:\n{errors[0]}" if errors else ""))
    print("\n| page | median | worst control p95 |\n|---|---|---|")
    print("\n".join(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
