"""The layout every page shares: controls on the left, then notices and a grid of figures.

One place decides how a figure is framed (``figure_card``: the figure plus its export buttons) and how the
controls column is marked, so site-wide features (export, presentation mode's ``?controls=0``) work on every
page without each page knowing about them.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import panel as pn
from bokeh.models import Model

from .url_state import session_query

#: css class of every page's controls column (presentation mode hides it).
CONTROLS_CLASS = "vgp-controls"
#: css class of every figure's card (the figure and its download buttons); each card also has
#: ``vgp-figure-<name>``, ``name`` being the figure's key in ``page.figures()``.
FIGURE_CLASS = "vgp-figure"


def figure_card(name: str, fig: Model, page: str | None = None) -> pn.viewable.Viewable:
    """One figure as shown on a page (``name``: its key in ``page.figures()``): the figure, then buttons that
    download it as PNG (2× resolution), SVG and a standalone interactive HTML file, named
    ``<page>-<name>.<ext>`` — the same files as ``vgp export <page> <name>``. ``page``: the page's slug
    (default: the page module that called ``page_layout``, else the session's ``?page=``)."""
    from .export import FORMATS, ExportDownload

    slug = page or _page_slug()
    title = next((p.title for p in _pages() if p.slug == slug), "")
    buttons = [ExportDownload(fig, fmt, f"{slug}-{name}", title=f"vgp-explorer, {title}" if title else "vgp-explorer")
               for fmt in FORMATS]
    return pn.Column(pn.pane.Bokeh(fig, name=name), pn.Row(*buttons, margin=(0, 5)), name=name, margin=0,
                     css_classes=[FIGURE_CLASS, f"{FIGURE_CLASS}-{name}"])


def _pages():
    from ..pages import PAGES

    return PAGES


def _page_slug(depth: int = 2) -> str:
    """The slug of the page being laid out: the ``app.pages.<module>`` whose code called ``page_layout``
    (``depth`` frames up), else the session's ``?page=`` (as the site reads it), else the first page."""
    pages = _pages()
    frame = sys._getframe(depth) if hasattr(sys, "_getframe") else None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        for spec in pages:
            if module.endswith(f"pages.{spec.module}"):
                return spec.slug
        frame = frame.f_back
    requested = session_query().get("page")
    return requested if any(p.slug == requested for p in pages) else pages[0].slug


def page_layout(controls: pn.viewable.Viewable, header: Sequence, figures: Mapping[str, Model],
                extra: Sequence = (), ncols: int = 2, page: str | None = None) -> pn.Row:
    """``controls``: the page's widget column; ``header``: presets, notices and text above the figures;
    ``figures``: the page's ``figures()``; ``extra``: more grid cells after the figures (the explanation);
    ``page``: the page's slug (names the downloaded files; default: see ``figure_card``)."""
    controls.css_classes = list(controls.css_classes or []) + [CONTROLS_CLASS]
    slug = page or _page_slug()
    cells = [figure_card(name, fig, slug) for name, fig in figures.items()] + list(extra)
    return pn.Row(controls, pn.Column(*header, pn.GridBox(*cells, ncols=ncols)))


def controls_of(layout: pn.Row) -> pn.viewable.Viewable:
    """The controls column of a ``page_layout``."""
    return layout[0]
