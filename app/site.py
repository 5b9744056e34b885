"""The site: a header (page links and the "Display" settings) and the selected page (``?page=<slug>``).

Display settings (theme, presentation mode, palette, colour map, controls: ``app.components.presentation``) come
from the URL like every page control, can be changed in the header, re-style the page in place and are mirrored
back to the URL and carried by the page links.
"""

from __future__ import annotations

import dataclasses
import html

import panel as pn

from .components.accessibility import install as install_accessibility
from .components.figure_text import watch_texts
from .components.lesson import lesson_panel, lesson_step, load_lesson, page_query
from .components.memory import release_when_session_ends
from .components.notices import Notices
from .components.page import session_document
from .components.page_layout import describe_figures, figure_texts
from .components.presentation import (
    DISPLAY_PARAMS,
    DisplayController,
    DisplaySettings,
    display_from_query,
    panel_theme_name,
)
from .components.title_wrap import install as install_title_wrap
from .components.url_state import session_query
from .pages import PAGES
from .warmup import prioritize as prioritize_warmup

#: the page's width is the device's (phones, tablets), never zoomed out to fit a transient overflow while figures
#: first lay out; users may still zoom in (WCAG 1.4.4: no maximum-scale).
VIEWPORT = "width=device-width, initial-scale=1, minimum-scale=1"
#: the site's name is the page's one level-1 heading (WCAG 1.3.1, 2.4.6); the page's name follows it for screen
#: readers only (the page links show it in bold).
TITLE_CSS = """
.vgp-title { font-size: 1.4em; font-weight: 600; margin: 0 1.5em 0 0; }
.vgp-sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
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


def wrapping(row: pn.Row) -> pn.Row:
    """``row``, its items wrapping onto more lines when the window is narrower than they are (phones)."""
    row.stylesheets = list(row.stylesheets or []) + [":host { flex-wrap: wrap; max-width: 100%; }"]
    return row


def site_title(page_title: str) -> str:
    """The header's level-1 heading: the site's name, then (for screen readers) the page's."""
    return f'<h1 class="vgp-title">vgp-explorer<span class="vgp-sr-only">: {html.escape(page_title)}</span></h1>'


def page_links(current: str, settings: DisplaySettings) -> str:
    extra = display_query(settings)
    pages = [f"**{p.title}**" if p.slug == current else f"[{p.title}](?page={p.slug}{extra})" for p in PAGES]
    return " · ".join(pages + [f"[Lesson](?lesson=1{extra})"])


def make_site(page: str | None = None) -> Site:
    """Build one session's site (pages are built lazily: only the shown one)."""
    release_when_session_ends()  # a class's closed tabs give their memory back
    query = session_query()
    slugs = [p.slug for p in PAGES]
    notices = []
    steps = load_lesson()
    step, lesson_notice = lesson_step(query, steps)  # ?lesson=N: the step's page, in the step's state
    if lesson_notice:
        notices.append(f"Lesson: {lesson_notice}")
    requested = step.page if step is not None else page or query.get("page", slugs[0])
    if requested not in slugs:
        notices.append(f"Unknown page {requested!r}: showing {PAGES[0].title}. Pages: {', '.join(slugs)}.")
        requested = slugs[0]
    settings, display_notices = display_from_query(query)
    if display_notices:
        notices.append("Display settings adjusted: " + "; ".join(display_notices))
    if pn.state.curdoc is not None:
        # phones and tablets lay the page out at their own width (without this they draw a 980 px page, shrunk)
        pn.state.curdoc.template_variables.setdefault("meta", {})["viewport"] = VIEWPORT
        # this session's Panel theme, before any component is made (Panel itself reads only a valid ?theme=dark)
        pn.config.theme = panel_theme_name(settings.theme)
    spec = next(p for p in PAGES if p.slug == requested)
    if pn.state.curdoc is not None:
        prioritize_warmup(spec.slug)  # this page's programs compile next, if the server is still warming up
    page_view = spec.build(page_query(step, query) if step is not None else query)
    layout = page_view.__panel__()  # the page keeps its layout (released with the session: Page.close)
    describe_figures(layout, page_view)  # the page's own one-sentence summaries of its figures, where it has them
    watch_texts(figure_texts(layout).values())  # summaries follow the figures' data
    display = DisplayController(settings, page_view.figures(), layout)
    links = pn.pane.Markdown(page_links(spec.slug, settings), margin=(5, 10), css_classes=["vgp-nav"])
    settings.param.watch(lambda *_: setattr(links, "object", page_links(spec.slug, settings)), DISPLAY_PARAMS)
    header = pn.FlexBox(
        pn.pane.HTML(site_title(spec.title), margin=(5, 10), stylesheets=[TITLE_CSS]),
        links,
        pn.pane.Markdown(
            "The vanishing and exploding gradient problem, interactively.", margin=(5, 10), styles={"opacity": "0.7"}
        ),
        wrapping(display.widgets()),
        align_items="center",
        sizing_mode="stretch_width",
        styles={"border-bottom": "1px solid var(--panel-border-color, #ddd)"},
        css_classes=["vgp-header"],  # landmarks: app.components.accessibility.LANDMARKS
    )
    items = [display.note]
    if step is not None:
        items.append(lesson_panel(step, len(steps), display_query(settings)))
    if notices:
        site_notices = Notices(css_classes=["vgp-site-notice"])
        for key, text in enumerate(notices):
            site_notices.set(str(key), text)
        items.append(site_notices.pane)
    items.append(layout)
    # not wider than the window (Panel would give it its widest child's width as min-width): see page_layout
    narrow = [":host { min-width: 0 !important; }"]
    main = pn.Column(*items, sizing_mode="stretch_width", stylesheets=narrow, margin=0, css_classes=["vgp-site-main"])
    view = pn.Column(header, main, sizing_mode="stretch_width", stylesheets=narrow)
    display.attach(view)
    install_accessibility(session_document())  # names for every control, a visible focus ring
    install_title_wrap(session_document(), page_view.figures().values())  # titles fit a phone's figures
    return Site(view=view, page=page_view, display=display)


def build_site(page: str | None = None) -> pn.viewable.Viewable:
    """The layout of one session: header with page links and display settings, then the page."""
    return make_site(page).view
