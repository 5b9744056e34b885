"""Every figure's text alternative (WCAG 2.1 success criterion 1.1.1, "Non-text Content"): a one-sentence summary a
screen reader announces when the figure's data change (an ``aria-live="polite"`` paragraph under the figure), and a
"data table" toggle that shows the figure's numbers as an HTML table.

``summary(fig)`` and ``data_table(fig)`` read only the figure's data sources (every glyph renderer's
``ColumnDataSource``), so they describe what is drawn, whatever page drew it. A page may say more about one of its
figures with a ``describe_figure(name) -> str | None`` method (e.g. the Deep page's "Gradient at layer 1 is 10⁻¹⁷ of
layer 20's: vanishing"); ``FigureText`` uses it first. Every text shown is HTML-escaped.
"""

from __future__ import annotations

import asyncio
import functools
import html
import math
from collections.abc import Callable, Mapping

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, GlyphRenderer, Model

from .browser_views import browser_only
from .numeric import UNDERFLOW_SENTINEL
from .training import document_hold, on_loop

#: at most this many rows per series in the data table (a 1000-step loss curve is thinned, evenly).
MAX_TABLE_ROWS = 60
#: css class of the summary paragraph and of the data-table toggle's card.
TEXT_CLASS = "vgp-figure-text"
#: a summary names at most this many series (one sentence).
SUMMARY_SERIES = 6
#: the attribute of a figure that holds its text (``FigureText.of``). On the figure itself, not in a weak-keyed
#: table: a text refers to its figure, and a table's value that refers to its key keeps both alive for ever
#: (every closed session's figures would stay in the server).
_TEXT_ATTR = "_vgp_figure_text"
#: tag of a renderer that only decorates another one's data (markers on a line): not a series of its own
DECORATION = "decoration"


def _label(renderer: GlyphRenderer, index: int) -> str:
    """A series without a legend entry: its y (or image) field's name."""
    glyph = renderer.glyph
    field = getattr(glyph, "y", None) or getattr(glyph, "top", None) or getattr(glyph, "image", None)
    return field if isinstance(field, str) else f"series {index + 1}"


def _legend_labels(fig: Model) -> dict[int, str]:
    """id(renderer) → legend label, for every legend of ``fig``."""
    out = {}
    for legend in getattr(fig, "legend", []) or []:
        for item in legend.items:
            label = item.label
            text = label.get("value") if isinstance(label, dict) else getattr(label, "value", label)
            for r in item.renderers:
                out.setdefault(id(r), str(text))
    return out


def _column(data: dict, field) -> np.ndarray | None:
    if not isinstance(field, str) or field not in data:
        return None
    try:
        return np.asarray(data[field], dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None


def _one_series(renderer: GlyphRenderer, data: Mapping, name: str) -> tuple | None:
    """(name, x or None, y) of one glyph drawn from ``data``, (name, None, values) of an image; None: nothing drawn."""
    glyph = renderer.glyph
    if "image" in data and hasattr(glyph, "image"):
        images = data["image"]
        return (name, None, np.asarray(images[0], dtype=np.float64)) if len(images) else None
    x = _column(data, getattr(glyph, "x", None)) if hasattr(glyph, "x") else None
    if x is None and hasattr(glyph, "top"):  # vertical bars
        x, y = _column(data, getattr(glyph, "x", None)), _column(data, glyph.top)
    else:
        y = _column(data, getattr(glyph, "y", None))
    return (name, x, y) if y is not None and y.size else None


def _data_renderers(fig: Model) -> list[tuple[int, GlyphRenderer]]:
    return [
        (i, r)
        for i, r in enumerate(getattr(fig, "renderers", []) or [])
        if isinstance(r, GlyphRenderer) and isinstance(r.data_source, ColumnDataSource) and DECORATION not in r.tags
    ]


def series(fig: Model, data_of: Mapping | None = None) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(label, x or None, y) of every line/scatter/bar glyph with data, and (label, None, values) of every image.
    ``data_of``: source -> the data to read instead of the source's own (a page's tables of browser-side views)."""
    labels = _legend_labels(fig)
    out = []
    for i, r in _data_renderers(fig):
        data = (data_of or {}).get(r.data_source, r.data_source.data)
        one = _one_series(r, data, labels.get(id(r)) or _label(r, i))
        if one is not None:
            out.append(one)
    return out


def _fmt(v: float) -> str:
    if v == UNDERFLOW_SENTINEL:
        return "underflow"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}"


def series_words(name: str, y: np.ndarray) -> str:
    """A series in the summary: its range (finite values) and how many values are not finite or underflowed."""
    underflow = int(np.count_nonzero(y == UNDERFLOW_SENTINEL))  # a heatmap's underflow cells (drawn black)
    finite = y[np.isfinite(y) & (y != UNDERFLOW_SENTINEL)]
    bad = y.size - finite.size - underflow
    if finite.size:
        part = f"{name} from {_fmt(float(finite.min()))} to {_fmt(float(finite.max()))}"
    else:
        part = f"{name} has no finite value"
    if bad:
        part += f" ({bad} not finite)"
    if underflow:
        part += f" ({underflow} underflowed to 0)"
    return part


def renderer_words(fig: Model, index: int, data: Mapping) -> str | None:
    """``series_words`` of ``fig.renderers[index]`` drawn from ``data``; None where it draws nothing (a page
    that draws in the browser assembles its summaries from these: ``sentence``)."""
    renderer = fig.renderers[index]
    one = _one_series(renderer, data, _legend_labels(fig).get(id(renderer)) or _label(renderer, index))
    return None if one is None else series_words(one[0], one[2])


def sentence(title: str, words) -> str:
    """The summary: ``title``, then the first ``SUMMARY_SERIES`` series' words (``None``s skipped)."""
    parts = [w for w in words if w is not None][:SUMMARY_SERIES]
    if not parts:
        return f"{title}: no data yet."
    return f"{title}: " + "; ".join(parts) + "."


def summary(fig: Model, data_of: Mapping | None = None, title: str | None = None) -> str:
    """One sentence: the figure's title, then per series its range (finite values) and how many are not finite.
    ``data_of`` as for ``series``; ``title``: instead of the figure's own."""
    title = title or getattr(getattr(fig, "title", None), "text", "") or "Figure"
    return sentence(title, [series_words(name, y) for name, _x, y in series(fig, data_of)[:SUMMARY_SERIES]])


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_TABLE_ROWS)).round().astype(int)) if n else np.zeros(0, int)


def data_table(fig: Model) -> str:
    """The figure's numbers as HTML tables (one per series; images by row), every text escaped."""
    blocks = []
    for name, x, y in series(fig):
        caption = f"<caption>{html.escape(name)}</caption>"
        if y.ndim == 2:  # an image: rows × columns of values
            rows = _thin(y.shape[0])
            cols = _thin(y.shape[1])
            head = "<tr><th scope='col'>row</th>" + "".join(f"<th scope='col'>{c}</th>" for c in cols) + "</tr>"
            body = "".join(
                f"<tr><th scope='row'>{r}</th>" + "".join(f"<td>{_fmt(float(y[r, c]))}</td>" for c in cols) + "</tr>"
                for r in rows
            )
        else:
            idx = _thin(y.size)
            head = "<tr><th scope='col'>x</th><th scope='col'>value</th></tr>"
            xs = x if x is not None and x.size == y.size else np.arange(y.size, dtype=np.float64)
            body = "".join(f"<tr><td>{_fmt(float(xs[i]))}</td><td>{_fmt(float(y[i]))}</td></tr>" for i in idx)
        blocks.append(f"<table class='vgp-data-table'>{caption}<thead>{head}</thead><tbody>{body}</tbody></table>")
    return "".join(blocks) or "<p>No data yet.</p>"


def paragraph(sentence: str) -> str:
    """The summary paragraph's HTML: ``sentence`` escaped, announced by screen readers when it changes."""
    text = html.escape(sentence, quote=False)
    return f'<p role="status" aria-live="polite" style="margin:0;font-size:0.9em">{text}</p>'


class FigureText:
    """The text alternative of one figure, updated whenever one of the figure's data sources changes: ``text``
    (the summary paragraph) and ``toggle`` (shows the data table). The table is made on the toggle's first press
    (most students never open it; a session builds one HTML pane fewer per figure) and put at the end of
    ``table_slot`` (the figure's card, see ``page_layout.figure_card``; default: ``pane``, a column of the text,
    the toggle and then the table). ``describe``: a page's sentence for this figure (or None)."""

    @classmethod
    def of(cls, fig: Model) -> FigureText:
        """The text of ``fig``, made on first use: a page and its layout (``page_layout.figure_card``) share it."""
        text = fig.__dict__.get(_TEXT_ATTR)  # not getattr: a Bokeh model's missing attribute costs milliseconds
        if text is None:
            text = cls(fig)
            setattr(fig, _TEXT_ATTR, text)
        return text

    def __init__(self, fig: Model, describe: Callable[[], str | None] | None = None):
        self.fig = fig
        self.describe = describe
        # browser_only: a page's browser-side controls may write it (app.components.browser_views), sending nothing
        self.text = browser_only(pn.pane.HTML)("", margin=(0, 8), css_classes=[TEXT_CLASS], sizing_mode="stretch_width")
        self.toggle = pn.widgets.Toggle(label="data table", value=False, margin=(0, 5), width=110)
        self.table: pn.pane.HTML | None = None  # made on the toggle's first press
        self.table_slot: pn.layout.ListLike | None = None
        self._pane: pn.Column | None = None
        self.toggle.param.watch(self._on_toggle, "value")
        self._sources = {
            id(r.data_source): r.data_source
            for r in getattr(fig, "renderers", []) or []
            if isinstance(r, GlyphRenderer) and isinstance(r.data_source, ColumnDataSource)
        }
        if not _served():  # a served session's changes are held, so Bokeh never calls these: it polls (watch_texts)
            for source in self._sources.values():
                source.on_change("data", self._on_data)
        self._seen = self.fingerprint()
        self.refresh()
        watch_texts([self])  # a text made after the session was built (a section opened later) is watched too

    @property
    def pane(self) -> pn.Column:
        """The summary, the toggle and (once opened) the table in one column, for a figure shown without a card."""
        if self._pane is None:
            self._pane = pn.Column(self.text, self.toggle, margin=0, sizing_mode="stretch_width")
        return self._pane

    def fingerprint(self) -> tuple:
        """Changes when a source's data are replaced (``source.data = ...``) or streamed to (its length)."""
        return tuple((id(s.data), len(next(iter(s.data.values()), ()))) for s in self._sources.values())

    def changed(self) -> bool:
        """Whether the figure's data changed since the text was last refreshed (and notes that it has been seen)."""
        now = self.fingerprint()
        if now == self._seen:
            return False
        self._seen = now
        return True

    def refresh_if_changed(self) -> None:
        if self.changed():
            self.refresh()

    def sentence(self) -> str:
        own = None
        if self.describe is not None:
            try:
                own = self.describe()
            except Exception:  # a page's sentence must never break its figure
                own = None
        if own:
            return own
        try:
            return summary(self.fig)
        except Exception:  # a summary must never break the redraw that changed the data (it runs inside it)
            return "This figure's data could not be summarised; the data table lists them."

    def refresh(self) -> None:
        self.text.object = paragraph(self.sentence())
        if self.toggle.value and self.table is not None:
            self.table.object = data_table(self.fig)

    def _on_data(self, _attr, _old, _new) -> None:
        self._seen = self.fingerprint()
        self.refresh()

    def _on_toggle(self, event) -> None:
        if event.new and self.table is None:
            self.table = pn.pane.HTML(data_table(self.fig), margin=(0, 8), sizing_mode="stretch_width")
            (self.table_slot if self.table_slot is not None else self.pane).append(self.table)
            return
        if self.table is not None:
            self.table.visible = bool(event.new)
            if event.new:
                self.table.object = data_table(self.fig)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

#: a first-to-last gradient ratio beyond 10^±1 is called vanishing / exploding (one order of magnitude: the
#: per-layer views' log scale shows it plainly; mean-field theory's χ₁ ≠ 1 grows it geometrically with depth).
LEVEL_DECADES = 1.0


def power_of_ten(log10_value: float) -> str:
    """``10⁻¹⁷`` for -17.2: the nearest power of ten, in superscript digits."""
    return "10" + str(int(round(log10_value))).translate(_SUPERSCRIPT)


def gradient_ratio_sentence(norms, what: str = "Gradient", unit: str = "layer") -> str:
    """ "Gradient at layer 1 is 10⁻¹⁷ of layer 20's: vanishing" from per-layer norms (index 0 = layer 1); says so
    plainly when a norm overflowed (inf/NaN) or underflowed to 0."""
    norms = np.asarray(norms, dtype=np.float64).ravel()
    if norms.size == 0:
        return f"{what}: no data yet."
    first, last, n = float(norms[0]), float(norms[-1]), norms.size
    if not (math.isfinite(first) and math.isfinite(last)):
        return f"{what} at {unit} 1 or {unit} {n} overflowed float32 (inf/NaN): exploding."
    if first == 0.0 or last == 0.0:
        return f"{what} at {unit} 1 or {unit} {n} underflowed to 0: vanishing."
    decades = math.log10(first / last)
    verdict = "vanishing" if decades < -LEVEL_DECADES else "exploding" if decades > LEVEL_DECADES else "about level"
    return f"{what} at {unit} 1 is {power_of_ten(decades)} of {unit} {n}'s: {verdict}."


#: how often the server looks for changed figure data (ms): a screen reader hears the new summary this soon.
POLL_MS = 500


def _served_document():
    """The served session's document being built or called back, or None (no server)."""
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def _served() -> bool:
    return _served_document() is not None


class TextWatcher:
    """Every served session's figure texts, looked at by one periodic callback of the server process (not one per
    session: an open tab that nobody moves costs nothing but a few ``id()`` comparisons every ``POLL_MS``). Bokeh's
    own ``on_change`` callbacks do not run for changes made under Panel's document hold (every page redraw is
    held), so the watcher compares each source's data fingerprint, and refreshes the changed texts of a session in
    one callback on that session's document (under one hold: one message). A session's texts are forgotten when
    it is destroyed."""

    def __init__(self, period_ms: int = POLL_MS):
        self.period_ms = period_ms
        self._texts: dict[object, list[FigureText]] = {}  # document -> its texts
        self._callback = None  # tornado.ioloop.PeriodicCallback, started with the first session

    def sessions(self) -> int:
        return len(self._texts)

    def add(self, doc, texts) -> None:
        """Watch ``texts`` of the served document ``doc`` (on the server's event loop, as a session is built)."""
        if doc not in self._texts:
            self._texts[doc] = []
            doc.on_session_destroyed(lambda _ctx, doc=doc: self._texts.pop(doc, None))
        known = self._texts[doc]
        known.extend(t for t in texts if all(t is not k for k in known))
        if self._callback is None:
            if _on_event_loop():
                self._start()
            else:  # a --num-threads worker: the periodic callback belongs on the server's event loop
                doc.add_next_tick_callback(self._start)

    def _start(self) -> None:
        if self._callback is None:
            from tornado.ioloop import PeriodicCallback

            self._callback = PeriodicCallback(self.poll, self.period_ms)
            self._callback.start()

    def poll(self) -> None:
        """Hand each session whose figures changed the refresh of those figures' texts."""
        for doc, texts in list(self._texts.items()):
            changed = [t for t in texts if t.changed()]
            if not changed:
                continue
            try:
                doc.add_next_tick_callback(on_loop(functools.partial(_refresh_texts, doc, changed)))
            except Exception:  # a session being torn down: it is forgotten, never a reason to stop polling
                self._texts.pop(doc, None)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _refresh_texts(doc, texts: list[FigureText]) -> None:
    with document_hold(doc):  # every changed summary of the page in one message
        for text in texts:
            text.refresh()


#: the server process's one watcher
WATCHER = TextWatcher()


def watch_texts(texts) -> None:
    """In a served session, refresh ``texts`` (``FigureText``s) when their figures' data change (``WATCHER``);
    no-op elsewhere (there Bokeh's ``on_change`` refreshes them)."""
    doc = _served_document()
    texts = list(texts)
    if texts and doc is not None:
        WATCHER.add(doc, texts)
