"""Views that follow a step slider in the browser: a page sends, as its training run delivers them, what its
step-dependent views draw at every step (*frames*), and the slider picks among them in a CustomJS callback — no
message to the server, redrawn within a frame.

A frame is ``{target: value}``; a target is an attribute of a Bokeh model (a data source's ``data``, a title's
``text``) or of a Panel pane (``object``, ``visible``), named when the ``StepFrames`` is made. Frames are keyed:

* ``BASE`` (``"init"``): what the views show where no frame of the step exists (step 0, a step not trained yet);
* ``step_key(k)``: step k's frame; its ``ALSO`` entry names frames drawn with it (the Deep page's histograms,
  measured every 10 steps, are stored once per measurement and named by the ten steps that show them).

A data source's value in any other frame holds only the columns that differ from the base's (the per-layer norms
at initialisation are not repeated for every step): the browser and ``resolve`` lay it over the base. Frames are
sent once: ``reset`` replaces them all (a new base), ``extend`` streams new ones (a training chunk's steps) with
``ColumnDataSource.stream``, so a chunk sends its own steps only. The page's own draw (tests, ``vgp export``,
notebooks, the server's redraws) and the browser pick the same frames: the drawing code exists once, in Python;
the JS looks up and assigns.

Frames are a pure function of the results they show. Where those are results that sessions share (the process's
``RESULTS``, and training runs followed by every session with the same settings), the sessions share the frames
too (``SharedFrames``): a class opening the default page makes, compares with the base and encodes a trained
run's frames once, not once per student.

A pane that may not be on the page when the slider is drawn (a figure's summary in a section opened later:
Panel leaves an unrendered pane out of a callback's arguments) is a target *found by its CSS class*
(``found_by_class``): the browser looks it up in the document when it draws, and skips it while it is absent.

The server does not see the browser's moves. After each redraw of the server (``redrawn``) the browser re-applies
its own step; the step is written into the address bar (``keep_in_url``); before a download (``flush_selector``)
the browser sends its step (``carrier``), so that the server exports what the browser shows.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Model, TextInput

from .browser_url import KEEP_IN_URL_JS
from .browser_views import SIGNIFICANT_DIGITS, _BrowserOnly, browser_only, for_js

BASE = "init"
ALSO = "__also"


def step_key(step: int) -> str:
    """The key of step ``step``'s frame."""
    return f"s{int(step)}"


def _same(a, b) -> bool:
    """Whether two column values are equal (NaN equal to NaN; arrays of strings too)."""
    if a is b:
        return True
    try:
        a, b = np.asarray(a), np.asarray(b)
    except ValueError:  # ragged lists: not a column this module compares
        return False
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def relative(frame: Mapping[str, Any], base: Mapping[str, Any], attrs: Mapping[str, str]) -> dict:
    """``frame`` with every data column that equals the base's left out (``resolve`` lays it over the base)."""
    out = {}
    for target, value in frame.items():
        if target != ALSO and attrs[target] == "data" and target in base:
            value = {k: v for k, v in value.items() if k not in base[target] or not _same(v, base[target][k])}
        out[target] = value
    return out


#: Draws step ``step`` from the frames in ``store`` (APPLY's JS twin of ``StepFrames.resolve``).
APPLY_JS = r"""
const col = (name) => store.data instanceof Map ? store.data.get(name) : store.data[name]
const keys = col("key") ?? [], frames = col("frame") ?? []
const frame = (key) => { const i = keys.indexOf(key); return i < 0 ? null : frames[i] }
const entries = (m) => m instanceof Map ? [...m.entries()] : Object.entries(m)
const plain = (m) => m instanceof Map ? Object.fromEntries(m) : m
const base = frame("init")
if (base == null) return
const chosen = [base]
const own = frame("s" + Math.round(step))
if (own != null) {
  chosen.push(own)
  const also = entries(own).find(([t]) => t == "__also")
  for (const k of also?.[1] ?? []) { const f = frame(k); if (f != null) chosen.push(f) }
}
const values = new Map()
for (const f of chosen) {
  for (const [t, v] of entries(f)) {
    if (t == "__also") continue
    values.set(t, attrs[t] == "data" ? {...(values.get(t) ?? {}), ...plain(v)} : v)
  }
}
const find = (t) => {
  if (models[t] != null) return models[t]
  const cls = classes[t]
  if (cls == null) return null
  for (const m of cb_obj.document.all_models) if (m.css_classes?.includes?.(cls)) return m
  return null
}
for (const [t, v] of values) { const m = find(t); if (m != null) m[attrs[t]] = v }
"""

#: The slider's callback (a move in the browser, or the server setting the slider): remember the step, write it
#: into the address bar, send it to the server before a download, and draw it.
STEP_JS = (
    KEEP_IN_URL_JS
    + r"""
const step = cb_obj.value
store.__vgp_step = step
keep_in_url(param, step)
if (flush != null && !store.__vgp_flush) {
  store.__vgp_flush = true
  const send = (e) => {
    if (e.type == "keydown" && e.key != "Enter" && e.key != " ") return
    if (store.__vgp_step == null || !e.composedPath().some((el) => el instanceof Element && el.matches(flush))) return
    store.__vgp_seq = (store.__vgp_seq ?? 0) + 1
    const carrier = cb_obj.document.get_model_by_id(carrier_id)
    if (carrier != null) carrier.value = JSON.stringify({step: store.__vgp_step, seq: store.__vgp_seq})
  }
  document.addEventListener("pointerdown", send, true)
  document.addEventListener("keydown", send, true)
}
"""
    + APPLY_JS
)

#: After a redraw of the server (``version`` bumped): the browser's step again, if the browser moved it.
REDRAWN_JS = (
    r"""
const step = store.__vgp_step
if (step == null) return
"""
    + APPLY_JS
)


class FrameSet:
    """The frames of one set of shared results, made once for every session showing them.

    Attributes:
      sources: the results the frames show (held, so that their ids stay theirs while the set lives).
      made: frame key -> what the page made for it (the page decides the form: a frame, or a frame with what it
        was made with).
      sent: frame key -> (the frame relative to the base, its encoding), as ``StepFrames`` sends it.
    """

    def __init__(self, sources: tuple):
        self.sources = sources
        self.made: dict[str, Any] = {}
        self.sent: dict[str, tuple[dict, dict]] = {}


class SharedFrames:
    """The ``FrameSet`` of every set of shared results a page shows, least recently used first out (a set of a
    2,000-step run at depth 50 holds a few MB of Python lists). Thread-safe: sessions may run on worker threads.

    Args:
      capacity: how many sets are kept.
    """

    def __init__(self, capacity: int = 8):
        self.capacity = capacity
        self._sets: collections.OrderedDict[tuple, FrameSet] = collections.OrderedDict()
        self._lock = threading.Lock()

    def of(self, *sources, key: Hashable = None) -> FrameSet:
        """The frame set of ``sources`` (compared by identity: the objects of a shared cache) and ``key`` (compared
        by equality: e.g. a training run's settings, whose partial runs are all the same run), made empty if new."""
        ids = (tuple(map(id, sources)), key)
        with self._lock:
            found = self._sets.get(ids)
            if found is None or any(a is not b for a, b in zip(found.sources, sources)):
                found = self._sets[ids] = FrameSet(sources)
            self._sets.move_to_end(ids)
            while len(self._sets) > self.capacity:
                self._sets.popitem(last=False)
            return found


class StepFrames:
    """The frames of a page's step-dependent views and their browser side (see the module's docstring).

    Args:
      param: the step's name in the URL (the slider's parameter).
      slider: the step slider; a ``browser_only`` Panel widget (its moves stay in the browser).
      targets: target name -> ``(object, attribute)``: a Bokeh model (made unsynced here: the browser's writes
        stay there) or a ``browser_only`` Panel pane.
      flush_selector: CSS selector of the buttons (downloads) before whose press the server needs the step.
      found_by_class: target name -> a CSS class of its pane (a ``browser_only`` Panel pane in ``targets`` that may
        be rendered after the slider): the browser finds it in the document instead of receiving it.
    """

    def __init__(
        self,
        param: str,
        slider: pn.widgets.Widget,
        targets: Mapping[str, tuple[Any, str]],
        flush_selector: str | None = None,
        found_by_class: Mapping[str, str] | None = None,
    ):
        self.targets = dict(targets)
        classes = dict(found_by_class or {})
        for name, css_class in classes.items():
            pane = self.targets[name][0]
            if css_class not in pane.css_classes:
                pane.css_classes = [*pane.css_classes, css_class]
        self.attrs = {t: attr for t, (_, attr) in self.targets.items()}
        self._encoders = {}
        js_attrs = {}
        for name, (obj, attr) in self.targets.items():
            if isinstance(obj, Model):
                obj.syncable = False
                js_attrs[name] = attr
            else:
                if not isinstance(obj, _BrowserOnly):
                    raise TypeError(f"target {name!r}: a pane the browser writes must be browser_only(...)")
                self._encoders[name] = obj.clone()  # Panel's own encoding of the pane's object
                js_attrs[name] = type(obj)._property_mapping.get(attr) or attr  # e.g. object -> text
        #: every frame sent, key -> frame (relative to the base, as sent)
        self.frames: dict[str, dict] = {}
        self.store = ColumnDataSource(data=dict(key=[], frame=[]))
        #: server -> browser: bumped after each redraw of the server, after which the browser re-applies its step
        self.version = browser_only(pn.widgets.IntInput)(value=0, visible=False)
        #: browser -> server: the browser's step, sent before a download. A plain Bokeh model that the callbacks
        #: find by its id, not one of their ``args``: Panel keeps a callback's args in a registry weakly keyed by
        #: the slider, and a server-side watcher on an arg (which refers to the page, and so to the slider) would
        #: keep every closed session's document alive.
        self.carrier = TextInput(value="", visible=False)
        passed = [t for t in self.targets if t not in classes]
        models = {f"target_{i}": self.targets[t][0] for i, t in enumerate(passed)}
        names = ", ".join(f"{json.dumps(t)}: target_{i}" for i, t in enumerate(passed))
        prefix = (
            f"const models = {{{names}}}\nconst attrs = {json.dumps(js_attrs)}\n"
            f"const classes = {json.dumps(classes)}\n"
            f"const param = {json.dumps(param)}, flush = {json.dumps(flush_selector)}\n"
            f"const carrier_id = {json.dumps(self.carrier.id)}\n"
        )
        args = dict(store=self.store, **models)
        slider.jscallback(args=args, value=prefix + STEP_JS)
        self.version.jscallback(args=args, value=prefix + REDRAWN_JS)
        self._drawn: tuple | None = None  # the keys of the frames the server drew last (None: after a reset)

    # ---------------------------------------------------------------------------------------------- frames
    def reset(self, frames: Mapping[str, dict], shared: FrameSet | None = None) -> None:
        """Replace every frame by ``frames`` (which hold ``BASE``) and send them.

        Args:
          frames: frame key -> frame.
          shared: the frame set these frames belong to, where sessions share them: each frame is compared with the
            base and encoded once per set, not once per session.
        """
        self.frames = {BASE: dict(frames[BASE])}
        self._drawn = None
        encoded = {BASE: self._sent(BASE, frames[BASE], shared)[1]}
        for key, frame in frames.items():
            if key != BASE:
                self.frames[key], encoded[key] = self._sent(key, frame, shared)
        self.store.data = dict(key=list(self.frames), frame=[encoded[k] for k in self.frames])

    def extend(self, frames: Mapping[str, dict], shared: FrameSet | None = None) -> None:
        """Add the ``frames`` not held yet and send them (streamed: the frames held are not sent again); ``shared``
        as in ``reset``."""
        new = {k: self._sent(k, f, shared) for k, f in frames.items() if k not in self.frames}
        if new:
            self.frames.update({k: relative_frame for k, (relative_frame, _) in new.items()})
            self.store.stream(dict(key=list(new), frame=[enc for _, enc in new.values()]))

    def _sent(self, key: str, frame: Mapping[str, Any], shared: FrameSet | None) -> tuple[dict, dict]:
        """``frame`` relative to the base (the base itself as it is) and its encoding, from ``shared`` if made."""
        if shared is not None and key in shared.sent:
            return shared.sent[key]
        rel = dict(frame) if key == BASE else relative(frame, self.frames[BASE], self.attrs)
        out = (rel, self._encoded(rel))
        if shared is not None:
            shared.sent[key] = out
        return out

    def has(self, key: str) -> bool:
        return key in self.frames

    def _chosen(self, step: int) -> list[str]:
        """The keys of the frames drawn at ``step`` (APPLY_JS chooses the same)."""
        own = step_key(step)
        if own not in self.frames:
            return [BASE]
        return [BASE, own] + [k for k in self.frames[own].get(ALSO, ()) if k in self.frames]

    def resolve(self, step: int) -> dict:
        """target -> the value drawn at ``step``: the base, with the step's frames laid over it."""
        values: dict = {}
        for key in self._chosen(step):
            for target, value in self.frames[key].items():
                if target != ALSO:
                    values[target] = {**values.get(target, {}), **value} if self.attrs[target] == "data" else value
        return values

    def draw(self, step: int) -> None:
        """The server's draw of ``step`` (nothing is sent when it draws the frames it drew last); then the browser
        re-applies its own step."""
        if BASE not in self.frames:
            return
        chosen = tuple(self._chosen(step))
        if chosen != self._drawn:
            for target, value in self.resolve(step).items():
                obj, attr = self.targets[target]
                setattr(obj, attr, dict(value) if attr == "data" else value)
            self._drawn = chosen
        self.redrawn()

    def redrawn(self) -> None:
        """Tell the browser to draw its own step again (after a redraw of the server, or once panes it finds by
        class are added to the page)."""
        self.version.value += 1

    def _encoded(self, frame: Mapping[str, Any]) -> dict:
        out = {}
        for target, value in frame.items():
            if target in self._encoders and self.attrs[target] == "object":
                value = self._encoders[target]._transform_object(value)["object"]
            out[target] = for_js(value, SIGNIFICANT_DIGITS)
        return out

    # ---------------------------------------------------------------------------------------------- server side
    def on_step(self, fn: Callable[[int], None]) -> None:
        """Call ``fn(step)`` with the browser's step whenever the browser sends it (before a download).

        Args:
          fn: called on the session's event loop with the step, an int (malformed values are ignored).
        """

        def watcher(_attr, _old, new):
            try:
                step = json.loads(new)["step"]
            except (TypeError, ValueError, KeyError):
                return
            if isinstance(step, (int, float)) and not isinstance(step, bool) and np.isfinite(step):
                fn(int(round(step)))

        self.carrier.on_change("value", watcher)

    def hidden(self) -> Iterable:
        """The two hidden widgets; lay them out with the controls."""
        return [pn.pane.Bokeh(self.carrier, visible=False, margin=0), self.version]
