"""Presentation mode, its Panel side: ``DisplayController`` (the header widgets, hiding the controls column, Panel's
widget theme switched in place for the session, larger text in presentation mode).

References:
  Panel documentation, "Theming" (``pn.config.theme``, design stylesheets).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import panel as pn
from bokeh.models import (
    Model,
)

from ..page import document_hold, on_session_loop, session_document
from ..page_layout import CONTROLS_CLASS
from ..url_state import mirror_to_url
from .bokeh_style import apply_display
from .colors import DARK_NOTE
from .settings import DISPLAY_PARAMS, PRESENT_TEXT_SIZE, DisplaySettings

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Panel: theme, controls, header widgets
# ---------------------------------------------------------------------------------------------------------------
def find_controls(layout) -> pn.viewable.Viewable | None:
    """The controls column of a page layout (the object tagged with ``CONTROLS_CLASS``), wherever it sits."""
    if layout is None:
        return None
    for obj in layout.select(pn.viewable.Viewable):
        if CONTROLS_CLASS in (getattr(obj, "css_classes", None) or []):
            return obj
    return None


def panel_theme_name(theme: str) -> str:
    return "dark" if theme == "dark" else "default"


def set_panel_theme(root: pn.viewable.Viewable, theme: str) -> None:
    """Switch Panel's widget theme of this session in place: the session's ``pn.config.theme`` (for components
    made later), each component's design, the theme stylesheets of every rendered model, and the Bokeh document
    theme. Relies on Panel 1.9's ``Viewable._update_design`` / ``_models`` / ``Design.apply`` (tested in a browser:
    tests/browser/test_presentation.py)."""
    name = panel_theme_name(theme)
    if pn.state.curdoc is not None:  # per session; outside a session this would change the global default
        pn.config.theme = name
    for obj in root.select(pn.viewable.Viewable):
        obj._update_design()
    design = root._design
    if design is None:
        return
    for ref, (model, _parent) in list(root._models.items()):
        if model.ref["id"] != ref:
            continue
        design.apply(root, model)
        doc = model.document
        if doc is not None:
            doc.theme = design.theme.bokeh_theme  # None: Bokeh's default theme


def root_styles(settings: DisplaySettings) -> dict:
    """Inline styles of the site's root column: the theme's page background, and larger text when presenting
    (Bokeh and Panel widgets size their text from ``--bokeh-font-size``)."""
    styles = {
        "background-color": "var(--panel-background-color)",
        "color": "var(--panel-on-background-color)",
        "min-height": "100vh",
    }
    if settings.present:
        styles["--bokeh-font-size"] = PRESENT_TEXT_SIZE
    return styles


class DisplayController:
    """Applies ``settings`` to one session's page and keeps applying them when they change (header widgets, URL).

    ``figures``: the page's ``figures()``; ``layout``: the page's ``panel()`` (its controls column is hidden with
    ``controls=0``); ``attach(root)`` hands over the site's root column (theme and text size)."""

    def __init__(self, settings: DisplaySettings, figures: Mapping[str, Model], layout=None):
        self.settings = settings
        self.figures = dict(figures)
        self.controls = find_controls(layout)
        self.root: pn.viewable.Viewable | None = None
        self.last_apply_s = 0.0
        self.note = pn.pane.Markdown(
            DARK_NOTE,
            visible=settings.theme == "dark",
            margin=(0, 10),
            styles={"font-size": "0.85em"},
            css_classes=["vgp-dark-note"],
        )
        apply_display(self.figures, settings)
        if self.controls is not None:
            self.controls.visible = settings.controls
        self._doc = session_document()
        settings.param.watch(on_session_loop(self._doc, self._on_change), DISPLAY_PARAMS)
        mirror_to_url(settings, DISPLAY_PARAMS)

    def attach(self, root: pn.viewable.Viewable) -> None:
        self.root = root
        root.styles = root_styles(self.settings)

    def widgets(self) -> pn.viewable.Viewable:
        """The "Display" area of the site header."""
        s = self.settings
        w = pn.widgets
        return pn.Row(
            pn.pane.HTML("<b>Display</b>", margin=(12, 5, 5, 10)),
            w.RadioButtonGroup.from_param(s.param.theme, width=110, margin=(8, 5)),
            w.Checkbox.from_param(s.param.present, label="presentation", margin=(14, 5)),
            w.Checkbox.from_param(s.param.controls, label="controls", margin=(14, 5)),
            w.Select.from_param(s.param.palette, label="palette", width=110, margin=(8, 5)),
            w.Select.from_param(s.param.colormap, label="colour map", width=90, margin=(8, 5)),
            css_classes=["vgp-display"],
        )

    def _on_change(self, *events) -> None:
        start = time.perf_counter()
        names = {e.name for e in events}
        with document_hold(self._doc):
            if names & {"theme", "present", "palette", "colormap"}:
                apply_display(self.figures, self.settings)
            if "controls" in names and self.controls is not None:
                self.controls.visible = self.settings.controls
            if self.root is not None and names & {"theme", "present"}:
                self.root.styles = root_styles(self.settings)
            if "theme" in names:
                self.note.visible = self.settings.theme == "dark"
                if self.root is not None:
                    set_panel_theme(self.root, self.settings.theme)
        self.last_apply_s = time.perf_counter() - start
        log.debug("display %s applied in %.1f ms", sorted(names), 1000 * self.last_apply_s)
