"""The layout every page shares: controls, then notices and the figures — on any screen.

One place decides how a figure is framed (``figure_card``: the figure plus its export buttons) and how the
controls column is marked, so site-wide features (export, presentation mode's ``?controls=0``, the phone layout)
work on every page without each page knowing about them.

Responsive rules (CSS below, no script): the controls sit in a collapsible "Controls" card beside the figures, and
above them once the window is too narrow for both (a phone, a portrait tablet); figure cards wrap, at most
``ncols`` side by side, each at least ``MIN_CARD_PX`` wide unless the window is narrower; every figure stretches to
its card's width at the height its page gave it (``sizing_mode="stretch_width"``; the exported files keep the
figure's own width, see ``app.components.export``); wide text and tables scroll inside their own box, never the
page (WCAG 2.1 success criterion 1.4.10, "Reflow": no two-dimensional scrolling at 320 CSS px).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import panel as pn
from bokeh.models import Model

from .figure_text import FigureText

#: css class of every page's controls card (presentation mode hides it).
CONTROLS_CLASS = "vgp-controls"
#: css class of every figure's card (the figure and its download buttons); each card also has
#: ``vgp-figure-<name>``, ``name`` being the figure's key in ``page.figures()``.
FIGURE_CLASS = "vgp-figure"
#: css class of the column right of (or below) the controls: notices, figures, explanation.
MAIN_CLASS = "vgp-main"
#: a figure card is at least this wide when the window allows (a 2-column grid below it would squash the plots).
MIN_CARD_PX = 400
#: the controls card is at least this wide beside the figures; below ``MIN_CARD_PX`` + this, it goes above them.
CONTROLS_PX = 320

#: css class of a folded section's card (``FoldedSection``).
FOLDED_CLASS = "vgp-folded"
#: the attributes of a figure card that hold its text alternative and of a folded section's card that hold the
#: section: on the objects themselves, not in weak-keyed tables, whose values would keep their keys alive.
_TEXT_ATTR = "_vgp_text"
_SECTION_ATTR = "_vgp_section"

# A wrapping row: controls card, then the main column, which takes the rest and may shrink below its content
# (min-width 0), so a wide child scrolls inside its box instead of widening the page. Panel gives a row the sum of
# its fixed-width children's widths as its min-width: overridden, the row wraps instead.
PAGE_CSS = f"""
:host {{ flex-wrap: wrap; width: 100%; max-width: 100%; min-width: 0 !important; }}
.{MAIN_CLASS} {{ flex: 1 1 {MIN_CARD_PX}px; min-width: 0; max-width: 100%; }}
.{CONTROLS_CLASS} {{ flex: 0 1 auto; max-width: 100%; min-width: 0; overflow-x: auto; }}
"""
# Inside the main column: every child at most as wide as the column; fixed-width text panes keep their width as
# a maximum and wrap below it.
MAIN_CSS = """
:host { overflow-x: auto; }
:host > * , .bk-panel-models-markup-HTML, .bk-panel-models-markup-Markdown, .bk-panel-models-layout-Row,
.bk-panel-models-layout-Column { max-width: 100%; }
"""
# The grid of figure cards (a wrapping flex box): at most ncols side by side, each at least MIN_CARD_PX or the
# whole width.
GRID_CSS = """
:host { flex-wrap: wrap; width: 100%; max-width: 100%; min-width: 0 !important; }
.vgp-cell { flex: 1 1 calc(100% / {ncols} - 12px); min-width: min(100%, {min_px}px); max-width: 100%;
  overflow-x: auto; }
.vgp-folded { flex-basis: 100%; }
"""


def figure_card(name: str, fig: Model, page: str) -> pn.viewable.Viewable:
    """One figure as shown on a page (``name``: its key in ``page.figures()``): the figure, stretched to the card's
    width at its own height; its one-sentence summary (``app.components.figure_text``); then one row with the
    "data table" toggle (the table is made on its first press, under the row) and buttons that download the figure
    as PNG (2× resolution), SVG and a standalone interactive HTML file, named ``<page>-<name>.<ext>`` — the same
    files (at the figure's own size) as ``vgp export <page> <name>``. ``page``: the page's slug. The toggle shares
    the buttons' row, so a card is three rows in one column: every Panel object costs a session ~3 ms of server
    CPU to build, render and send (``bench/bench_session.py``)."""
    from ..pages import PAGES
    from .export import FORMATS, ExportDownload

    slug = page
    title = next((p.title for p in PAGES if p.slug == slug), "")
    buttons = [
        ExportDownload(fig, fmt, f"{slug}-{name}", title=f"vgp-explorer, {title}" if title else "vgp-explorer")
        for fmt in FORMATS
    ]
    stretch(fig)
    text = FigureText.of(fig)  # the page may have taken it already (browser-side summaries)
    card = pn.Column(
        pn.pane.Bokeh(fig, name=name, sizing_mode="stretch_width"),
        text.text,
        pn.Row(text.toggle, *buttons, margin=(0, 5), styles={"flex-wrap": "wrap"}),
        name=name,
        margin=0,
        sizing_mode="stretch_width",
        css_classes=[FIGURE_CLASS, f"{FIGURE_CLASS}-{name}", "vgp-cell"],
    )
    text.table_slot = card
    setattr(card, _TEXT_ATTR, text)
    return card


class FoldedSection:
    """Figures a student has not opened yet: a collapsed card (``card``) whose figure cards are built, rendered and
    sent when it is first opened — a session that never opens it pays only for the card's header (the figures
    themselves are the page's, made in its ``setup``: its redraws keep them current, sending nothing while they are
    not in the document).

    Args:
      title: the card's header.
      page: the page's slug (``figure_card``).
      figures: name → figure, in the order shown.
      ncols: at most this many figures side by side.
    """

    def __init__(self, title: str, page: str, figures: Mapping[str, Model], ncols: int = 2):
        self.page, self.ncols = page, ncols
        self.pending = dict(figures)
        #: called after the figure cards are first built (e.g. a page whose browser-side state they must show)
        self.on_built: list[Callable[[], None]] = []
        #: the page's ``describe_figure`` (set by ``describe_figures``), applied to the cards once they are built
        self.describe: Callable[[str], str | None] | None = None
        self.card = pn.Card(
            title=title,
            collapsible=True,
            collapsed=True,
            css_classes=[FOLDED_CLASS, "vgp-cell"],
            sizing_mode="stretch_width",
            margin=(5, 0),
        )
        setattr(self.card, _SECTION_ATTR, self)
        from .page import on_session_loop, session_document  # page.py imports this module

        # with ``panel serve --num-threads`` the browser's click arrives on a worker thread: the cards are built and
        # added to the document on the server's event loop (``on_session_loop``)
        self.card.param.watch(on_session_loop(session_document(), self._on_collapsed), "collapsed")

    def _on_collapsed(self, event) -> None:
        if not event.new:
            self.open()

    def open(self) -> None:
        """Build the figure cards (once) and show them; also opens the card."""
        if self.pending:
            cells = [figure_card(name, fig, self.page) for name, fig in self.pending.items()]
            self.pending = {}
            if self.describe is not None:
                for cell in cells:
                    text = getattr(cell, _TEXT_ATTR)
                    text.describe = functools.partial(self.describe, cell.name)
                    text.refresh()
            self.card.objects = [grid(cells, self.ncols)]
            for fn in self.on_built:
                fn()
        self.card.collapsed = False


def grid(cells: Sequence[pn.viewable.Viewable], ncols: int) -> pn.Row:
    """Cells side by side, at most ``ncols`` in a row, wrapping (``GRID_CSS``)."""
    return pn.Row(
        *cells,
        stylesheets=[GRID_CSS.replace("{ncols}", str(max(1, ncols))).replace("{min_px}", str(MIN_CARD_PX))],
    )


def folded_sections(layout: pn.viewable.Viewable) -> list[FoldedSection]:
    """The folded sections of ``layout``."""
    return [obj.__dict__[_SECTION_ATTR] for obj in layout.select(pn.Card) if _SECTION_ATTR in obj.__dict__]


def figure_texts(layout: pn.viewable.Viewable) -> dict[str, FigureText]:
    """The text alternative of every figure card in ``layout``, by the figure's name."""
    return {obj.name: obj.__dict__[_TEXT_ATTR] for obj in layout.select(pn.Column) if _TEXT_ATTR in obj.__dict__}


def describe_figures(layout: pn.viewable.Viewable, page: object) -> None:
    """Let ``page``'s own sentences (its ``describe_figure(name)``, where it has one) summarise its figures."""
    describe = getattr(page, "describe_figure", None)
    if describe is None:
        return
    for name, text in figure_texts(layout).items():
        text.describe = functools.partial(describe, name)
        text.refresh()
    for section in folded_sections(layout):  # their cards are built later: they take the sentences then
        section.describe = describe


def stretch(fig: Model) -> None:
    """Let ``fig`` follow its card's width (its height stays the page's). A figure keeps its own ``width`` as the
    size its exported files are drawn at."""
    if hasattr(fig, "sizing_mode") and getattr(fig, "sizing_mode", None) in (None, "fixed"):
        fig.sizing_mode = "stretch_width"


def page_layout(
    page: str,
    controls: pn.viewable.Viewable,
    header: Sequence,
    figures: Mapping[str, Model],
    extra: Sequence = (),
    ncols: int = 2,
    folded: Mapping[str, Sequence[str]] | None = None,
) -> pn.Row:
    """``page``: the page's slug (names the downloaded files); ``controls``: the page's widget column; ``header``:
    presets, notices and text above the figures; ``figures``: the page's ``figures()``; ``extra``: more cells
    after the figures (the explanation); ``ncols``: at most this many figures side by side; ``folded``: section
    title → names of figures shown in a ``FoldedSection`` after the others (built when a student opens it)."""
    card = pn.Card(
        controls,
        title="Controls",
        collapsible=True,
        collapsed=False,
        css_classes=[CONTROLS_CLASS],
        margin=(5, 5),
    )
    folded = dict(folded or {})
    in_sections = {name for names in folded.values() for name in names}
    cells = [figure_card(name, fig, page) for name, fig in figures.items() if name not in in_sections]
    for title, names in folded.items():
        cells.append(FoldedSection(title, page, {name: figures[name] for name in names}, ncols).card)
    for cell in extra:
        cell.css_classes = list(cell.css_classes or []) + ["vgp-cell"]
        cells.append(cell)
    main = pn.Column(*header, grid(cells, ncols), css_classes=[MAIN_CLASS], stylesheets=[MAIN_CSS], margin=0)
    return pn.Row(card, main, stylesheets=[PAGE_CSS], sizing_mode="stretch_width")


def controls_of(layout: pn.viewable.Viewable) -> pn.viewable.Viewable:
    """The controls card of a ``page_layout``."""
    return layout[0]
