"""Every figure's text alternative (WCAG 2.1 success criterion 1.1.1, "Non-text Content"): a one-sentence summary a
screen reader announces when the figure's data change (an ``aria-live="polite"`` paragraph under the figure), and a
"data table" toggle that shows the figure's numbers as an HTML table.

``summary(fig)`` and ``data_table(fig)`` read only the figure's data sources (every glyph renderer's
``ColumnDataSource``), so they describe what is drawn, whatever page drew it. A page may say more about one of its
figures with a ``describe_figure(name) -> str | None`` method (e.g. the Deep page's "Gradient at layer 1 is 10⁻¹⁷ of
layer 20's: vanishing"); ``FigureText`` uses it first. Every text shown is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, GlyphRenderer, Model

from .numeric import UNDERFLOW_SENTINEL
from .training import document_hold

#: at most this many rows per series in the data table (a 1000-step loss curve is thinned, evenly).
MAX_TABLE_ROWS = 60
#: css class of the summary paragraph and of the data-table toggle's card.
TEXT_CLASS = "vgp-figure-text"


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


def series(fig: Model) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(label, x or None, y) of every line/scatter/bar glyph with data, and (label, None, values) of every image."""
    labels = _legend_labels(fig)
    out = []
    for i, r in enumerate(getattr(fig, "renderers", []) or []):
        if not isinstance(r, GlyphRenderer) or not isinstance(r.data_source, ColumnDataSource):
            continue
        data, glyph = r.data_source.data, r.glyph
        name = labels.get(id(r)) or _label(r, i)
        if "image" in data and hasattr(glyph, "image"):
            images = data["image"]
            if len(images):
                out.append((name, None, np.asarray(images[0], dtype=np.float64)))
            continue
        x = _column(data, getattr(glyph, "x", None)) if hasattr(glyph, "x") else None
        if x is None and hasattr(glyph, "top"):  # vertical bars
            x, y = _column(data, getattr(glyph, "x", None)), _column(data, glyph.top)
        else:
            y = _column(data, getattr(glyph, "y", None))
        if y is not None and y.size:
            out.append((name, x, y))
    return out


def _fmt(v: float) -> str:
    if v == UNDERFLOW_SENTINEL:
        return "underflow"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}"


def summary(fig: Model) -> str:
    """One sentence: the figure's title, then per series its range (finite values) and how many are not finite."""
    title = getattr(getattr(fig, "title", None), "text", "") or "Figure"
    parts = []
    for name, _x, y in series(fig)[:6]:
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
        parts.append(part)
    if not parts:
        return f"{title}: no data yet."
    return f"{title}: " + "; ".join(parts) + "."


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


class FigureText:
    """The text alternative of one figure: ``pane`` (the summary paragraph, the toggle and the table), updated
    whenever one of the figure's data sources changes. ``describe``: a page's sentence for this figure (or None)."""

    def __init__(self, fig: Model, describe: Callable[[], str | None] | None = None):
        self.fig = fig
        self.describe = describe
        self.text = pn.pane.HTML("", margin=(0, 8), css_classes=[TEXT_CLASS], sizing_mode="stretch_width")
        self.toggle = pn.widgets.Toggle(label="data table", value=False, margin=(0, 5), width=110)
        self.table = pn.pane.HTML("", visible=False, margin=(0, 8), sizing_mode="stretch_width")
        self.toggle.param.watch(self._on_toggle, "value")
        self.pane = pn.Column(self.text, self.toggle, self.table, margin=0, sizing_mode="stretch_width")
        self._sources = {
            id(r.data_source): r.data_source
            for r in getattr(fig, "renderers", []) or []
            if isinstance(r, GlyphRenderer) and isinstance(r.data_source, ColumnDataSource)
        }
        for source in self._sources.values():
            source.on_change("data", self._on_data)  # outside a server; a served session polls (watch_texts)
        self._seen = self.fingerprint()
        self.refresh()

    def fingerprint(self) -> tuple:
        """Changes when a source's data are replaced (``source.data = ...``) or streamed to (its length)."""
        return tuple((id(s.data), len(next(iter(s.data.values()), ()))) for s in self._sources.values())

    def refresh_if_changed(self) -> None:
        now = self.fingerprint()
        if now != self._seen:
            self._seen = now
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
        text = html.escape(self.sentence(), quote=False)
        self.text.object = f'<p role="status" aria-live="polite" style="margin:0;font-size:0.9em">{text}</p>'
        if self.toggle.value:
            self.table.object = data_table(self.fig)

    def _on_data(self, _attr, _old, _new) -> None:
        self._seen = self.fingerprint()
        self.refresh()

    def _on_toggle(self, event) -> None:
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


#: how often a served session looks for changed figure data (ms): a screen reader hears the new summary this soon.
POLL_MS = 500


def watch_texts(texts) -> None:
    """In a served session, refresh ``texts`` (``FigureText``s) when their figures' data change. Bokeh's own
    ``on_change`` callbacks do not run for changes made under Panel's document hold (every page redraw is held),
    so the session compares each source's data fingerprint every ``POLL_MS`` (a few ``id()``s: microseconds)."""
    texts = list(texts)
    doc = pn.state.curdoc
    if texts and doc is not None and doc.session_context is not None:

        def poll():
            with document_hold(doc):  # every changed summary of the page in one message
                for text in texts:
                    text.refresh_if_changed()

        pn.state.add_periodic_callback(poll, period=POLL_MS)
