"""The site: a navigation bar and the selected page (``?page=<slug>``)."""
from __future__ import annotations

import panel as pn

from .components.url_state import session_query
from .pages import PAGES

HEADER_CSS = """
:host { width: 100%; }
.vgp-title { font-size: 1.4em; font-weight: 600; margin-right: 1.5em; }
"""


def build_site(page: str | None = None) -> pn.viewable.Viewable:
    """The layout of one session: header with page links, then the page (built lazily: only the shown one)."""
    query = session_query()
    slugs = [p.slug for p in PAGES]
    requested = page or query.get("page", slugs[0])
    notice = None
    if requested not in slugs:
        notice = f"Unknown page {requested!r}: showing {PAGES[0].title}. Pages: {', '.join(slugs)}."
        requested = slugs[0]
    spec = next(p for p in PAGES if p.slug == requested)
    links = " · ".join(f"**{p.title}**" if p.slug == spec.slug else f"[{p.title}](?page={p.slug})" for p in PAGES)
    header = pn.Row(
        pn.pane.HTML('<span class="vgp-title">vgp-explorer</span>', margin=(5, 10)),
        pn.pane.Markdown(links, margin=(5, 10)),
        pn.pane.Markdown("The vanishing and exploding gradient problem, interactively.", margin=(5, 10),
                         styles={"color": "#666"}),
        sizing_mode="stretch_width", styles={"border-bottom": "1px solid #ddd"},
    )
    page_view = spec.build()
    items = [header]
    if notice:
        items.append(pn.pane.Alert(notice, alert_type="warning"))
    items.append(page_view.panel())
    return pn.Column(*items, sizing_mode="stretch_width")
