"""The "preparing…" state of a session that opens a page before its programs are compiled.

With an empty compilation cache (a fresh server without the Docker image's cache, or a page the warm-up has not
reached), building a page would compile its programs on the server's event loop: seconds in which the student
sees a blank tab and every other session's moves wait. Instead the session gets a small page at once, a spinner
and one line of plain text, and the warm-up runs that page's first-views programs on a worker thread, ahead of
everything else (``app.warmup.when_page_ready``); when they are ready the session builds its page on its own
event loop (now without compiling) and shows it in place of the spinner. Joining never waits for the warm-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import panel as pn
from bokeh.models import Div
from panel.io.state import set_curdoc

from ..pages import PAGES
from .lesson import lesson_step, load_lesson
from .notices import literal
from .scheduler import SCHEDULER
from .training import document_hold, hand_over

log = logging.getLogger(__name__)
CSS_CLASS = "vgp-preparing"


def requested_page(query: Mapping[str, str]) -> str:
    """The slug of the page a session with this URL query shows (as ``app.site.make_site`` chooses it: a lesson
    step's page, else ``?page=``, else the first page; an unknown slug shows the first page).

    Args:
      query: the session's URL query, name → raw string.

    Returns:
      A slug of ``app.pages.PAGES``.
    """
    step, _notice = lesson_step(query, load_lesson())
    slug = step.page if step is not None else query.get("page", PAGES[0].slug)
    return slug if any(p.slug == slug for p in PAGES) else PAGES[0].slug


def preparing_text(title: str) -> str:
    """The line shown while a page's programs compile (plain text: ``title`` is a page's own title)."""
    return (
        f"Preparing the {title} page: the server is still compiling its programs (it started moments ago). "
        "The page appears here by itself as soon as they are ready; other pages keep working meanwhile."
    )


class Preparing:
    """A session's placeholder while its page's programs compile, replaced by the page once they are ready.

    Args:
      title: the page's title, for the placeholder's text.
      build: builds the session's real view (the site); called once, via ``schedule``, after ``ready``.
      schedule: runs a function on the session's event loop (``on_document`` for a served session).
    """

    def __init__(self, title: str, build: Callable[[], pn.viewable.Viewable], schedule: Callable[[Callable], None]):
        self._build = build
        self._schedule = schedule
        self.text = preparing_text(title)
        self.view = pn.Column(
            pn.Row(
                pn.indicators.LoadingSpinner(value=True, size=28, margin=(12, 10)),
                pn.pane.Markdown(literal(self.text), margin=(10, 5)),
                css_classes=[CSS_CLASS],
            ),
            sizing_mode="stretch_width",
            # Panel gives a column its widest child's minimum width: the page swapped in later (text panes of
            # ~1,060 px) would make a phone's page scroll sideways. The site's own columns carry the same rule.
            stylesheets=[":host { min-width: 0 !important; }"],
        )

    @property
    def preparing(self) -> bool:
        """Whether the placeholder is still shown."""
        return any(CSS_CLASS in (obj.css_classes or []) for obj in self.view.objects)

    def ready(self) -> None:
        """The page's programs are ready (called from a warm-up worker): build and show it on the session's loop."""
        self._schedule(self._show)

    def _show(self) -> None:
        SCHEDULER.note_move()  # a page being built: the warm-up's next step waits, as after a move
        doc = pn.state.curdoc
        before = {id(cb) for cb in _ready_callbacks(doc)}
        site = self._build()
        late = [cb for cb in _ready_callbacks(doc) if id(cb) not in before]
        self.view.objects = [site] + ([_run_in_browser(doc, late)] if late else [])


def _ready_callbacks(doc) -> list:
    """``doc``'s "document_ready" JS callbacks (none without a document)."""
    return list(doc.callbacks.js_event_callbacks.get("document_ready", [])) if doc is not None else []


def _run_in_browser(doc, callbacks: list) -> pn.viewable.Viewable:
    """A hidden pane that runs ``callbacks`` in the browser once it is there. The page was built after the browser's
    document became ready, so the page's own "document_ready" callbacks (the controls' accessible names, the
    figures' title wrapping, ``?debug=latency``) would never run: a property change sent after the pane runs them."""
    trigger = Div(text="", visible=False)
    trigger.js_on_change("text", *callbacks)
    doc.add_next_tick_callback(lambda: setattr(trigger, "text", "ready"))  # after the pane has reached the browser
    return pn.pane.Bokeh(trigger, visible=False, margin=0)


def site_view(build: Callable[[], pn.viewable.Viewable]) -> pn.viewable.Viewable:
    """What a session shows: ``build()`` (the site) at once when its page is ready or outside a server, else a
    ``Preparing`` placeholder that the site replaces when the warm-up has run the page's first-views programs.

    Args:
      build: builds the session's site (``app.site.build_site``).

    Returns:
      The session's view.
    """
    from ..pages import page_spec
    from ..site import VIEWPORT
    from ..warmup import page_ready, when_page_ready
    from .page import session_document
    from .presentation import display_from_query, panel_theme_name
    from .url_state import session_query

    doc = session_document()
    if doc is None:
        return build()
    SCHEDULER.note_move()  # a session opening: the warm-up's next step waits, as after a move
    query = session_query()
    slug = requested_page(query)
    if page_ready(slug):
        return build()
    # what the site sets before its first component, set here for the placeholder (the page comes later)
    doc.template_variables.setdefault("meta", {})["viewport"] = VIEWPORT
    pn.config.theme = panel_theme_name(display_from_query(query)[0].theme)
    preparing = Preparing(page_spec(slug).title, build, on_document(doc))
    when_page_ready(slug, preparing.ready)
    return preparing.view


def on_document(doc) -> Callable[[Callable], None]:
    """``schedule`` for ``Preparing``: runs a function on ``doc``'s event loop with ``doc`` as Panel's current
    document (so the page reads this session's URL query and registers its callbacks on it), on the loop's thread
    and under one hold (``training.on_loop``: the built page goes to the browser as one message). A session closed
    in the meantime is skipped."""

    def schedule(fn: Callable[[], None]) -> None:
        def run() -> None:
            with set_curdoc(doc), document_hold(doc):
                fn()

        if not hand_over(doc, run):  # the session ended while it waited: nothing to show
            log.debug("vgp-explorer: a session closed before its page was ready")

    return schedule
