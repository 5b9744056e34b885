"""Figure titles that fit their figure on any screen (issue 15; WCAG 2.1 success criterion 1.4.10, "Reflow"): on a
phone a figure is as wide as the window (390 CSS px), narrower than many of the site's titles, which BokehJS draws
on one line and clips at the figure's edge.

In the browser, ``WRAP_JS`` breaks a title that is wider than its figure into lines at its spaces (BokehJS draws a
title's ``\\n`` as a line break), measured with the title's own font: again whenever the figure is resized, the
title's text changes (a server redraw, a browser-side view) or its font size does (presentation mode). The
figure's title models do not sync back (``syncable = False``): the wrapped text stays in the browser, so the server
keeps the full title (the figure's text alternative and the exported files use it) and a wrap sends no message.
"""

from __future__ import annotations

from collections.abc import Iterable

from bokeh.models import CustomJS, Model

#: CSS px kept free right of a wrapped title (the figure's border; rounding of the measured text).
RIGHT_MARGIN_PX = 6
#: how long after a title's text changed the figure is laid out again (ms): BokehJS rebuilds the text asynchronously.
RELAYOUT_MS = 50
#: how often the browser looks for figures drawn since the last look (ms); cheap: a walk over a few models.
LOOK_MS = 1000

WRAP_JS = """
if (window.vgpTitleWrap) return;
window.vgpTitleWrap = true;
const canvas = document.createElement('canvas').getContext('2d');
const observed = new WeakSet();
const font_of = (view, title) => {
  try { return view.visuals.text.font_value(); } catch (e) {}
  return `${title.text_font_style} ${title.text_font_size} ${title.text_font}`;
};
// lines of `text` (split at spaces) each at most `width` px wide in `font`; a longer word keeps a line of its own
const wrap = (text, font, width) => {
  canvas.font = font;
  const lines = [];
  for (const paragraph of text.split('\\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      const candidate = line ? line + ' ' + word : word;
      if (line && canvas.measureText(candidate).width > width) { lines.push(line); line = word; }
      else line = candidate;
    }
    lines.push(line);
  }
  return lines.join('\\n');
};
const fit = (plot) => {
  const title = plot.title;
  if (title == null || typeof title.text !== 'string') return;
  const view = Bokeh.index.find_one(plot);
  const title_view = view != null ? view.renderer_views.get(title) : null;
  if (title_view == null || !(view.bbox.width > 0)) return;
  // the full title: the one the server (or a browser-side view) last set, not our wrapping of it
  const full = title.text === title.__vgp_wrapped ? title.__vgp_full : title.text;
  const left = Math.max(0, title_view.bbox.left);
  const wrapped = wrap(full.replace(/\\n/g, ' '), font_of(title_view, title), view.bbox.width - left - MARGIN);
  title.__vgp_full = full;
  title.__vgp_wrapped = wrapped;
  if (title.text !== wrapped) {
    title.text = wrapped;
    // the title's box grows by a line: lay the figure out again once BokehJS has rebuilt the text (asynchronous)
    setTimeout(() => view.request_layout(true), RELAYOUT_MS);
  }
};
const look = () => {
  for (const doc of Bokeh.documents) for (const plot of doc.all_models) {
    if (plot.title == null || plot.renderers == null || plot.title.text === undefined) continue;
    const view = Bokeh.index.find_one(plot);
    if (view == null || observed.has(view.el)) continue;
    observed.add(view.el);
    new ResizeObserver(() => fit(plot)).observe(view.el);
    if (!plot.title.__vgp_connected) {
      plot.title.__vgp_connected = true;
      const title = plot.title;
      for (const p of [title.properties.text, title.properties.text_font_size])
        title.connect(p.change, () => fit(plot));
    }
    fit(plot);
  }
};
look();
setInterval(look, LOOK_MS);
"""


def wrap_callback() -> CustomJS:
    """The document-ready callback that wraps the figures' titles (see the module docstring)."""
    code = WRAP_JS.replace("MARGIN", str(RIGHT_MARGIN_PX)).replace("LOOK_MS", str(LOOK_MS))
    return CustomJS(code=code.replace("RELAYOUT_MS", str(RELAYOUT_MS)))


def install(doc, figures: Iterable[Model]) -> None:
    """Keep the titles of ``figures`` in the browser (see the module docstring) and, in a served session's
    document ``doc`` (``None``: nothing more to do), run ``wrap_callback`` once it is ready."""
    for fig in figures:
        title = getattr(fig, "title", None)
        if isinstance(title, Model):
            title.syncable = False
    if doc is not None:
        doc.js_on_event("document_ready", wrap_callback())
