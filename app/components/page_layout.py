"""The layout every page shares: controls on the left, then notices and a grid of figures.

One place decides how a figure is framed (``figure_card``: the figure plus its export buttons) and how the
controls column is marked, so site-wide features (export, presentation mode's ``?controls=0``) work on every
page without each page knowing about them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import panel as pn
from bokeh.models import Model

#: css class of every page's controls column (presentation mode hides it).
CONTROLS_CLASS = "vgp-controls"
#: css class of every figure's card (the figure and its download buttons); each card also has
#: ``vgp-figure-<name>``, ``name`` being the figure's key in ``page.figures()``.
FIGURE_CLASS = "vgp-figure"


def figure_card(name: str, fig: Model, page: str) -> pn.viewable.Viewable:
    """One figure as shown on a page (``name``: its key in ``page.figures()``): the figure, then buttons that
    download it as PNG (2× resolution), SVG and a standalone interactive HTML file, named
    ``<page>-<name>.<ext>`` — the same files as ``vgp export <page> <name>``. ``page``: the page's slug."""
    from ..pages import PAGES
    from .export import FORMATS, ExportDownload

    slug = page
    title = next((p.title for p in PAGES if p.slug == slug), "")
    buttons = [
        ExportDownload(fig, fmt, f"{slug}-{name}", title=f"vgp-explorer, {title}" if title else "vgp-explorer")
        for fmt in FORMATS
    ]
    return pn.Column(
        pn.pane.Bokeh(fig, name=name),
        pn.Row(*buttons, margin=(0, 5)),
        name=name,
        margin=0,
        css_classes=[FIGURE_CLASS, f"{FIGURE_CLASS}-{name}"],
    )


def page_layout(
    page: str,
    controls: pn.viewable.Viewable,
    header: Sequence,
    figures: Mapping[str, Model],
    extra: Sequence = (),
    ncols: int = 2,
) -> pn.Row:
    """``page``: the page's slug (names the downloaded files); ``controls``: the page's widget column; ``header``:
    presets, notices and text above the figures; ``figures``: the page's ``figures()``; ``extra``: more grid cells
    after the figures (the explanation)."""
    controls.css_classes = list(controls.css_classes or []) + [CONTROLS_CLASS]
    cells = [figure_card(name, fig, page) for name, fig in figures.items()] + list(extra)
    return pn.Row(controls, pn.Column(*header, pn.GridBox(*cells, ncols=ncols)))


def controls_of(layout: pn.Row) -> pn.viewable.Viewable:
    """The controls column of a ``page_layout``."""
    return layout[0]
