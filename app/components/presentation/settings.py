"""Presentation mode, its settings: ``DisplaySettings`` (theme, presentation, palette, colour map, controls), read
from the URL query like every page control, and the presentation-mode scale factors.

References:
  W3C, "Web Content Accessibility Guidelines (WCAG) 2.1", success criteria 1.4.4 (resize text) and 1.4.11
  (non-text contrast).
"""

from __future__ import annotations

from collections.abc import Mapping

import param

from ..url_state import apply_query
from .colors import COLORMAPS, PALETTE_DOCS, PALETTES

PRESENT_FONT_SCALE = 1.4
#: figure titles grow less: they do not wrap, and the pages' figures keep their width.
PRESENT_TITLE_SCALE = 1.25
PRESENT_LINE_SCALE = 1.75
PRESENT_MARKER_SCALE = 1.4
#: Bokeh's base font size for widgets and text (the ``--bokeh-font-size`` CSS variable) in presentation mode.
PRESENT_TEXT_SIZE = "18px"

DISPLAY_PARAMS = ["theme", "present", "palette", "colormap", "controls"]


# ---------------------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------------------
class DisplaySettings(param.Parameterized):
    """How every page is drawn; URL query names are the parameter names."""

    theme = param.Selector(default="light", objects=["light", "dark"], doc="light or dark page and figures")
    present = param.Boolean(
        default=False,
        doc=f"presentation mode: fonts × {PRESENT_FONT_SCALE}, line widths × "
        f"{PRESENT_LINE_SCALE}, larger text and widgets",
    )
    palette = param.Selector(
        default="default",
        objects=list(PALETTES),
        doc="line and marker colours: " + "; ".join(f"{k}: {v}" for k, v in PALETTE_DOCS.items()),
    )
    colormap = param.Selector(
        default="viridis",
        objects=list(COLORMAPS),
        doc="colour map of the heatmaps (both colour-blind-safe and perceptually uniform)",
    )
    controls = param.Boolean(default=True, doc="show the controls column (?controls=0 hides it)")


def display_from_query(query: Mapping[str, str]) -> tuple[DisplaySettings, list[str]]:
    """Settings from URL arguments, with notices for bad values (which keep the default)."""
    query = dict(query)
    if query.get("theme", "").strip().lower() == "default":  # Panel's own name for the light theme
        query["theme"] = "light"
    settings = DisplaySettings()
    return settings, apply_query(settings, DISPLAY_PARAMS, query)
