"""Views chosen in the browser: a control that only picks among data the page already holds redraws there, within
a frame, and sends no message to the server.

The page computes in Python every value such a control can select: for each *target* (a data source's ``data``, a
title's ``text``, a span's ``location``, a pane's ``object``) a table of its values over the settings of the
controls it depends on (``Tables.of``). The page's own draw (without a browser: tests, ``vgp export``) and the
CustomJS callback in the browser both pick from the same tables (``Tables.value`` / ``APPLY_JS``): the drawing
code exists once, in Python; the JS only indexes.

The controls are Panel widgets whose Bokeh models do not sync back (``browser_only``: ``syncable=False``): a move
changes the widget in the browser and runs the callback, and nothing is sent. The targets are made unsynced too,
so that the callback's writes stay in the browser. The server thus does not see these moves; it learns the
browser's state when it has to act:

* a *server* control (one that selects data the page does not hold: another file, another combination) sends the
  state of every control in one message (``carrier``), from which the server redraws and sends the new tables;
* a press on a download button (``flush_selector``) sends it first as well, so that the server exports what the
  browser shows.

After each server redraw the browser re-applies its own state (``version``): a move made while the server was
answering is not undone. Each move also writes the control's value into the address bar (``history.replaceState``),
formatted by ``url_state.format_query_value``, so a copied link reproduces the state.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import CustomJS, Model
from bokeh.models.css import StyleSheet

from .url_state import format_query_value

#: arrays up to this length go to the browser as JSON lists: Bokeh sends every NumPy array as a binary buffer of
#: its own (two websocket frames), and the tables hold hundreds of short ones.
SHORT_ARRAY = 64


# ------------------------------------------------------------------------------------------------------------------
# Widgets and panes that keep the browser's changes in the browser


class _BrowserOnly:
    """Mixin: the component's Bokeh models do not send the browser's changes (property changes or events such as
    a button's click) to the server. The server still sends its changes to the browser."""

    def _get_model(self, doc, root=None, parent=None, comm=None):
        model = super()._get_model(doc, root, parent, comm)
        for part in model.references():  # the model and its parts (a widget's description tooltip)
            if not isinstance(part, StyleSheet):  # stylesheets: shared, and nothing to sync
                part.syncable = False
        model.subscribed_events = set()
        return model


@functools.cache
def browser_only(cls: type) -> type:
    """``cls`` (a Panel widget or pane class) whose models keep the changes made in the browser there."""
    return type(f"BrowserOnly{cls.__name__}", (_BrowserOnly, cls), {"__module__": __name__})


def browser_layout(*figures: Model) -> None:
    """Figures whose data change in the browser: BokehJS then recomputes their automatic ranges and their inner
    sizes, which would each be sent to the server; they stay in the browser (zoom and pan too: nothing on the
    server reads them, and an exported copy ranges itself on its data)."""
    for fig in figures:
        for model in (fig, getattr(fig, "x_range", None), getattr(fig, "y_range", None)):
            if isinstance(model, Model):
                model.syncable = False


def _kind(widget) -> str:
    """How the browser reads a widget's value from its Bokeh model."""
    if isinstance(widget, pn.widgets.Checkbox):
        return "active"  # a boolean
    if isinstance(widget, (pn.widgets.RadioButtonGroup, pn.widgets.RadioBoxGroup)):
        return "active_index"  # the index of the chosen option
    return "value"  # sliders; selects of string values


def _js_property(widget) -> str:
    return "value" if _kind(widget) == "value" else "active"


# ------------------------------------------------------------------------------------------------------------------
# Tables


@dataclasses.dataclass(frozen=True)
class Part:
    """Values of one target (or of one piece of a text target) over the settings of ``deps``: the value for a
    setting is ``values[index[i]]``, ``i`` the setting's position in the product of the ``deps``' domains (the
    last dependency varying fastest). Equal values are stored once."""

    deps: tuple[str, ...]
    index: tuple[int, ...]
    values: tuple


def _position(part: Part, state: Mapping[str, Any], domains: Mapping[str, list]) -> int:
    """Where ``state``'s value of ``part`` is in ``part.values`` (APPLY_JS's ``pick`` does the same)."""
    i = 0
    for d in part.deps:
        i = i * len(domains[d]) + domains[d].index(state[d])
    return part.index[i]


def _digest(value) -> Any:
    """A hashable fingerprint of a value (arrays by their bytes), to store equal values once."""
    if isinstance(value, np.ndarray):
        return ("a", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, Mapping):
        return ("d", tuple((k, _digest(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_digest(v) for v in value))
    if isinstance(value, float) and value != value:
        return ("nan",)
    return ("v", type(value).__name__, value)


class Tables:
    """The tables of some targets: target -> its parts (a text target may be the concatenation of several parts
    with different dependencies: a long text is then not repeated for every setting), all indexed over the same
    ``domains``."""

    def __init__(self, parts: dict[str, list[Part]], domains: Mapping[str, Sequence]):
        self.parts = parts
        self.domains = {k: list(v) for k, v in domains.items()}
        self._js: dict = {}  # encoded for the browser, per encoders (see BrowserViews)

    @classmethod
    def of(
        cls,
        views: Iterable[tuple[Callable[[dict], dict], Sequence[str]]],
        fixed: Mapping[str, Any],
        domains: Mapping[str, Sequence],
    ) -> Tables:
        """Evaluate each view ``fn(state) -> {target: value}`` (a key ``(target, k)``: piece ``k`` of a text
        target) on every setting of its browser-side dependencies ``deps``, the other controls at ``fixed``."""
        pieces: dict[str, dict[int, Part]] = {}
        for fn, deps in views:
            deps = tuple(deps)
            rows = [dict(fixed, **dict(zip(deps, combo))) for combo in itertools.product(*(domains[d] for d in deps))]
            outputs = [fn(state) for state in rows]
            for key in outputs[0]:
                target, k = key if isinstance(key, tuple) else (key, 0)
                seen: dict = {}
                index, values = [], []
                for out in outputs:
                    fp = _digest(out[key])
                    if fp not in seen:
                        seen[fp] = len(values)
                        values.append(_frozen(out[key]))
                    index.append(seen[fp])
                # a dependency a target does not use (its values equal along it) is dropped from its table
                used = tuple(d for d in deps if _varies(index, deps, d, domains))
                if used != deps:
                    index = _reindex(index, deps, used, domains)
                pieces.setdefault(target, {})[k] = Part(used, tuple(index), tuple(values))
        return cls({t: [p[k] for k in sorted(p)] for t, p in pieces.items()}, domains)

    def value(self, target: str, state: Mapping[str, Any]):
        """The value of ``target`` for ``state`` (the page's own draw picks it exactly as the browser does)."""
        values = [p.values[_position(p, state, self.domains)] for p in self.parts[target]]
        return values[0] if len(values) == 1 else "".join(values)

    def deps(self, target: str) -> set[str]:
        return {d for p in self.parts[target] for d in p.deps}


def _frozen(value):
    """Arrays of a shared table are made read-only: a page may not change them in place."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, Mapping):
        for v in value.values():
            _frozen(v)
    elif isinstance(value, list):
        for v in value:
            _frozen(v)
    return value


def _varies(index: list[int], deps: tuple, d: str, domains) -> bool:
    shape = [len(domains[x]) for x in deps]
    a = np.asarray(index).reshape(shape)
    return bool(np.any(a != np.take(a, [0], axis=deps.index(d))))


def _reindex(index: list[int], deps: tuple, used: tuple, domains) -> list[int]:
    shape = [len(domains[x]) for x in deps]
    a = np.asarray(index).reshape(shape)
    a = a[tuple(slice(None) if d in used else 0 for d in deps)]
    return [int(v) for v in np.ravel(a)] if used else [int(a)]


#: significant digits of the floats the Deep page's step frames send as JSON (``for_js``): a double's shortest repr
#: takes ~18 characters, and the frames of a trained run held 1.2 MB of such text. Six digits (relative error
#: <= 5e-6) are far below a plot's pixel (1/1000 of an axis) and two digits beyond the four its tooltips show.
SIGNIFICANT_DIGITS = 6


def rounded(values: np.ndarray, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (inf/NaN and 0 unchanged): the nearest double to a
    number of ``digits`` digits, whose shortest repr (what JSON writes) is those digits."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x) & (x != 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exponent = np.where(finite, digits - 1 - np.floor(np.log10(np.abs(np.where(finite, x, 1.0)))), 0)
        # a positive exponent multiplies, a negative one divides: both by an exact power of ten
        scale = 10.0 ** np.abs(exponent)
        out = np.where(exponent >= 0, np.round(x * scale) / scale, np.round(x / scale) * scale)
    return np.where(finite & np.isfinite(out), out, x)


def for_js(value, digits: int | None = None):
    """``value`` as sent to the browser: arrays up to ``SHORT_ARRAY`` long as JSON lists (with ``digits``
    significant digits when given), longer float arrays as float32 buffers when ``digits`` is given (half the
    bytes; 7 digits), dicts and lists element by element."""
    if isinstance(value, np.ndarray):
        floats = digits is not None and value.dtype.kind == "f"
        if value.size <= SHORT_ARRAY:
            return (rounded(value, digits) if floats else value).tolist()
        return value.astype(np.float32) if floats and value.dtype.itemsize > 4 else value
    if isinstance(value, Mapping):
        return {k: for_js(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [for_js(v, digits) for v in value]
    return value


# ------------------------------------------------------------------------------------------------------------------
# The browser side


@dataclasses.dataclass
class Control:
    """A control of the page. ``server``: it selects data the page does not hold, so a move asks the server
    (sending the state of every control); otherwise a move is drawn in the browser alone."""

    name: str
    widget: pn.widgets.Widget
    server: bool = False


APPLY_JS = r"""
const {controls, panes, carrier, origin, preset} = cb_data
const held = tables.args
const spec = (held instanceof Map ? held.get("spec") : held?.spec) ?? {}
const C = spec.controls
if (C == null) return
const read = (name) => {
  const c = C[name], m = controls[name]
  return c.kind == "active_index" ? c.domain[m.active] : (c.kind == "active" ? m.active : m.value)
}
const state = () => Object.fromEntries(Object.keys(C).map((name) => [name, read(name)]))
if (preset != null) {  // set the widgets; each one's own callback then does the rest
  for (const [name, v] of Object.entries(preset)) {
    const c = C[name], m = controls[name]
    if (c.kind == "active_index") m.active = c.domain.indexOf(v)
    else if (c.kind == "active") m.active = v
    else m.value = v
  }
  return
}
// the state of every control, sent to the server in one message (seq: every send is a change)
carrier.__vgp_send = () => {
  carrier.__vgp_carried = state()
  carrier.__vgp_seq = (carrier.__vgp_seq ?? 0) + 1
  carrier.value = JSON.stringify({state: carrier.__vgp_carried, seq: carrier.__vgp_seq})
}
if (spec.flush != null && !carrier.__vgp_flush) {  // the server must have the browser's state before exporting
  carrier.__vgp_flush = true
  const flush = (e) => {
    if (e.type == "keydown" && e.key != "Enter" && e.key != " ") return
    if (e.composedPath().some((el) => el instanceof Element && el.matches(spec.flush))) carrier.__vgp_send()
  }
  document.addEventListener("pointerdown", flush, true)
  document.addEventListener("keydown", flush, true)
}
const s = state()
const control = C[origin]
if (control != null && control.server) {
  carrier.__vgp_send()
} else {
  const pick = (part) => {
    let i = 0
    for (const d of part.deps) {
      const j = C[d].domain.indexOf(s[d])
      if (j < 0) return undefined
      i = i * C[d].domain.length + j
    }
    return part.values[part.index[i]]
  }
  for (const t of spec.tables) {
    if (control != null && !t.parts.some((p) => p.deps.includes(origin))) continue
    const values = t.parts.map(pick)
    if (values.some((v) => v === undefined)) continue
    const v = values.length == 1 ? values[0] : values.join("")
    const model = targets[t.target] ?? panes[t.target]
    model[t.attr] = t.attr == "data" ? {...v} : v
  }
}
// the address bar, as the server's URL mirror writes it: the moved control; after a redraw of the server (which
// has just written the address of the state it was sent), the controls moved since
const moved = control != null ? [origin] : Object.keys(C).filter((name) => !C[name].server &&
  carrier.__vgp_carried != null && s[name] !== carrier.__vgp_carried[name])
if (moved.length > 0) {
  const query = new URLSearchParams(location.search)
  for (const name of moved) query.set(name, C[name].query[C[name].domain.indexOf(s[name])])
  history.replaceState(history.state, "", location.pathname + "?" + query.toString() + location.hash)
}
"""


class BrowserViews:
    """The browser side of a page's browser-side controls (see the module's docstring).

    Args:
      controls: every control of the page that the browser handles, the server ones included (they send the
        state of all of them).
      targets: target name -> ``(object, attribute)``: a Bokeh model (made unsynced here) or a Panel pane, whose
        attribute the tables set.
      flush_selector: a CSS selector of the buttons (downloads) before whose press the server needs the
        browser's state.
    """

    def __init__(
        self, controls: Sequence[Control], targets: Mapping[str, tuple[Any, str]], flush_selector: str | None = None
    ):
        self.controls = {c.name: c for c in controls}
        self.targets = dict(targets)
        self.flush_selector = flush_selector
        models = {k: obj for k, (obj, _) in self.targets.items() if isinstance(obj, Model)}
        for model in models.values():
            model.syncable = False
        self._panes = {k: obj for k, (obj, _) in self.targets.items() if not isinstance(obj, Model)}
        for name, pane in self._panes.items():
            if not isinstance(pane, _BrowserOnly):
                raise TypeError(f"target {name!r}: a pane the browser writes must be browser_only(...)")
        self._encoders = {k: pane.clone() for k, pane in self._panes.items()}  # Panel's own encoding of a pane
        #: the tables and the controls' domains (``set_tables``), held by a model of their own that refers to no
        #: other model: Bokeh recomputes the set of a document's models whenever a property whose value refers to
        #: models is set (``Model.trigger``), ~65 ms per combination move on the Glorot page when the tables
        #: were an argument of ``apply`` beside its targets. A CustomJS that is never run: a plain data holder.
        self.holder = CustomJS(args=dict(spec={}), code="")
        self.apply = CustomJS(args=dict(tables=self.holder, targets=models), code=APPLY_JS)
        #: browser -> server: the state of every control, as JSON (see ``on_state``)
        self.carrier = pn.widgets.TextInput(visible=False)
        #: server -> browser: bumped by every redraw of the server, after which the browser re-applies its state
        self.version = browser_only(pn.widgets.IntInput)(value=0, visible=False)
        self._args = dict(apply=self.apply, carrier=self.carrier, **{c.name: c.widget for c in controls}, **self._panes)
        for c in controls:
            c.widget.jscallback(args=self._args, **{_js_property(c.widget): self._trigger(c.name)})
        self.version.jscallback(args=self._args, value=self._trigger("server"))
        self.tables: list[Tables] = []

    def _trigger(self, origin: str, preset: Mapping | None = None) -> str:
        controls = ", ".join(f"{name}: {name}" for name in self.controls)
        panes = ", ".join(f"{name}: {name}" for name in self._panes)
        extra = f", preset: {json.dumps(dict(preset))}" if preset is not None else ""
        return (
            f"apply.execute(source, {{controls: {{{controls}}}, panes: {{{panes}}}, carrier: carrier, "
            f"origin: {json.dumps(origin)}{extra}}})"
        )

    # ---------------------------------------------------------------------------------------------- server side
    def set_tables(self, tables: Sequence[Tables]) -> None:
        """Send ``tables`` (all indexed over the same domains) to the browser."""
        self.tables = list(tables)
        domains = self.tables[0].domains
        assert all(t.domains == domains for t in self.tables), "tables over different domains"
        spec = {
            "controls": {
                name: {
                    "kind": _kind(c.widget),
                    "server": c.server,
                    "domain": list(domains.get(name, [])),
                    "query": [format_query_value(v) for v in domains.get(name, [])],
                }
                for name, c in self.controls.items()
            },
            "tables": [entry for t in self.tables for entry in self._encoded(t)],
            "flush": self.flush_selector,
        }
        self.holder.args = dict(spec=spec)

    def _encoded(self, tables: Tables) -> list[dict]:
        key = tuple(sorted((k, attr, type(obj).__name__) for k, (obj, attr) in self.targets.items()))
        if key not in tables._js:
            out = []
            for target, parts in tables.parts.items():
                obj, attr = self.targets[target]
                encode = for_js
                if target in self._panes:
                    encoder = self._encoders[target]
                    js_attr = type(encoder)._property_mapping.get(attr) or attr  # e.g. object -> text
                    if attr == "object":  # the text Panel sends for the pane (for an HTML pane: escaped)
                        encode = lambda v, e=encoder: e._transform_object(v)["object"]  # noqa: E731
                else:
                    js_attr = attr
                out.append(
                    {
                        "target": target,
                        "attr": js_attr,
                        "parts": [
                            {"deps": list(p.deps), "index": list(p.index), "values": [encode(v) for v in p.values]}
                            for p in parts
                        ],
                    }
                )
            tables._js[key] = out
        return tables._js[key]

    def draw(self, state: Mapping[str, Any], changed: Iterable[str] | None = None) -> None:
        """The page's own draw: set every target (``changed``: only those depending on these controls) to its
        table's value for ``state`` — the values the browser picks."""
        changed = None if changed is None else set(changed)
        for t in self.tables:
            for target in t.parts:
                if changed is None or t.deps(target) & changed:
                    obj, attr = self.targets[target]
                    setattr(obj, attr, t.value(target, state))

    def redrawn(self) -> None:
        """Tell the browser that the server redrew: it re-applies its own state (a move made meanwhile stays)."""
        self.version.value += 1

    def on_state(self, fn: Callable[[dict], None]) -> Callable[[Any], None]:
        """A watcher for ``carrier.param.watch``: calls ``fn(state)`` with the browser's state of every control."""

        def watcher(event):
            try:
                state = json.loads(event.new)["state"]
            except (TypeError, ValueError, KeyError):
                return
            if isinstance(state, dict):
                fn({k: v for k, v in state.items() if k in self.controls})

        return watcher

    # ---------------------------------------------------------------------------------------------- layout
    def hidden(self) -> list:
        """The two hidden widgets; lay them out with the controls."""
        return [self.carrier, self.version]

    def preset_bar(self, presets: Mapping[str, Mapping[str, Any]]) -> pn.FlexBox:
        """One button per preset that sets the controls in the browser (like ``presets.preset_bar`` on the
        server): the browser-side ones redraw at once, a server-side one asks the server once."""
        buttons = []
        for label, values in presets.items():
            button = browser_only(pn.widgets.Button)(label=label, color="light", margin=(2, 4))
            button.js_on_click(args=self._args, code=self._trigger("preset", values))
            buttons.append(button)
        return pn.FlexBox(*buttons, margin=(0, 0, 8, 0))
