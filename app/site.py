"""The site: a header (page links and the "Display" settings) and the selected page (``?page=<slug>``).

Display settings (theme, presentation mode, palette, colour map, controls: ``app.components.presentation``) come
from the URL like every page control, can be changed in the header, re-style the page in place and are mirrored
back to the URL and carried by the page links.
"""

from __future__ import annotations

import dataclasses

import panel as pn

from .components.memory import release_when_session_ends
from .components.notices import Notices
from .components.presentation import (
    DISPLAY_PARAMS,
    DisplayController,
    DisplaySettings,
    display_from_query,
    panel_theme_name,
)
from .components.url_state import session_query
from .pages import PAGES
from .warmup import prioritize as prioritize_warmup

HEADER_CSS = """
:host { width: 100%; }
.vgp-title { font-size: 1.4em; font-weight: 600; margin-right: 1.5em; }
"""


@dataclasses.dataclass
class Site:
    """One session's site: ``view`` (what is served), the ``page`` object and its ``display`` controller."""

    view: pn.Column
    page: object
    display: DisplayController


def display_query(settings: DisplaySettings) -> str:
    """``&name=value`` for every display setting that differs from its default (appended to the page links)."""
    parts = []
    for name in DISPLAY_PARAMS:
        value = getattr(settings, name)
        if value != settings.param[name].default:
            parts.append(f"&{name}={str(value).lower() if isinstance(value, bool) else value}")
    return "".join(parts)


def page_links(current: str, settings: DisplaySettings) -> str:
    extra = display_query(settings)
    return " · ".join(f"**{p.title}**" if p.slug == current else f"[{p.title}](?page={p.slug}{extra})" for p in PAGES)


def make_site(page: str | None = None) -> Site:
    """Build one session's site (pages are built lazily: only the shown one)."""
    release_when_session_ends()  # a class's closed tabs give their memory back
    query = session_query()
    slugs = [p.slug for p in PAGES]
    requested = page or query.get("page", slugs[0])
    notices = []
    if requested not in slugs:
        notices.append(f"Unknown page {requested!r}: showing {PAGES[0].title}. Pages: {', '.join(slugs)}.")
        requested = slugs[0]
    settings, display_notices = display_from_query(query)
    if display_notices:
        notices.append("Display settings adjusted: " + "; ".join(display_notices))
    if pn.state.curdoc is not None:
        # this session's Panel theme, before any component is made (Panel itself reads only a valid ?theme=dark)
        pn.config.theme = panel_theme_name(settings.theme)
    spec = next(p for p in PAGES if p.slug == requested)
    if pn.state.curdoc is not None:
        prioritize_warmup(spec.slug)  # this page's programs compile next, if the server is still warming up
    page_view = spec.build(query)
    layout = page_view.panel()
    display = DisplayController(settings, page_view.figures(), layout)
    links = pn.pane.Markdown(page_links(spec.slug, settings), margin=(5, 10))
    settings.param.watch(lambda *_: setattr(links, "object", page_links(spec.slug, settings)), DISPLAY_PARAMS)
    header = pn.FlexBox(
        pn.pane.HTML('<span class="vgp-title">vgp-explorer</span>', margin=(5, 10)),
        links,
        pn.pane.Markdown(
            "The vanishing and exploding gradient problem, interactively.", margin=(5, 10), styles={"opacity": "0.7"}
        ),
        display.widgets(),
        align_items="center",
        sizing_mode="stretch_width",
        styles={"border-bottom": "1px solid var(--panel-border-color, #ddd)"},
    )
    items = [header, display.note]
    if notices:
        site_notices = Notices(css_classes=["vgp-site-notice"])
        for key, text in enumerate(notices):
            site_notices.set(str(key), text)
        items.append(site_notices.pane)
    items.append(layout)
    view = pn.Column(*items, sizing_mode="stretch_width")
    display.attach(view)
    return Site(view=view, page=page_view, display=display)


def build_site(page: str | None = None) -> pn.viewable.Viewable:
    """The layout of one session: header with page links and display settings, then the page."""
    return make_site(page).view
