"""Presentation mode: a light and a dark theme, larger fonts and line widths, colour-blind-safe palettes and
colour maps, and hideable controls — for every page, through the page protocol (``page.figures()``,
``page_layout``), re-styled in place.

Settings (``DisplaySettings``) come from the URL query (``?theme=dark&present=1&palette=okabe-ito&
colormap=cividis&controls=0``, parsed like every page control: bad values give a notice and a safe fallback) and
from the "Display" area of the site header, which mirrors them back to the URL.

``apply_display(figures, settings)`` re-styles Bokeh figures in place: every property it touches is remembered
at first sight (the value the page set, or Bokeh's class default), and each call computes the new value from that
base, so toggling back restores the page's own styling exactly. It never rebuilds a figure or touches data.

- presentation: font sizes × ``PRESENT_FONT_SCALE`` (titles × ``PRESENT_TITLE_SCALE``), ``line_width`` of glyphs
  and annotations × ``PRESENT_LINE_SCALE``, marker sizes × ``PRESENT_MARKER_SCALE``;
- palette: the Category10 colours the pages draw with (and their lighter variants) become Okabe-Ito
  (``bokeh.palettes.Colorblind8``) or Paul Tol's "bright" set; colours given as a data column are mapped by a
  client-side ``CustomJSTransform`` (the data is untouched). Colours outside the table (grey, white, black, the
  overflow magenta / underflow black markers, sequential colour-map samples) keep their meaning;
- colour map: images and colours whose palette is Viridis256 can use Cividis256 instead; the overflow (magenta,
  ``nan_color``) and underflow (black, ``low_color``) colours are kept;
- dark theme: Panel's dark Bokeh colours set explicitly on plots, axes, grids, legends, titles and colour bars
  (``document.theme`` only reaches properties a page left unset). Dark greys and black on line plots (including
  black underflow crosses) are drawn with the inverted lightness, so they stay visible. Figures that show an image
  (the heatmaps) get a mid-grey plot background and a light frame instead, so that underflow cells stay black
  and distinct from the dark page around them.

``DisplayController`` is the Panel side: the header widgets, hiding the controls column, Panel's widget theme
(switched in place for the session, see ``set_panel_theme``) and larger text in presentation mode.

Modules: ``colors`` (palettes, colour maps, dark-theme colours), ``settings`` (``DisplaySettings`` and the scale
factors), ``bokeh_style`` (``apply_display``) and ``controller`` (``DisplayController``); this package re-exports
their public names.
"""

from __future__ import annotations

from .bokeh_style import apply_display, figure_models, is_image_figure
from .colors import (
    COLORMAPS,
    DARK_BACKGROUND,
    DARK_BORDER,
    DARK_IMAGE_BACKGROUND,
    DARK_NOTE,
    DARK_TEXT,
    PALETTE_DOCS,
    PALETTES,
    color_table,
    lightness,
    map_color,
    normalize_color,
)
from .controller import DisplayController, find_controls, panel_theme_name, root_styles, set_panel_theme
from .settings import (
    DISPLAY_PARAMS,
    PRESENT_FONT_SCALE,
    PRESENT_LINE_SCALE,
    PRESENT_MARKER_SCALE,
    PRESENT_TEXT_SIZE,
    PRESENT_TITLE_SCALE,
    DisplaySettings,
    display_from_query,
)

__all__ = [
    "COLORMAPS",
    "DARK_BACKGROUND",
    "DARK_BORDER",
    "DARK_IMAGE_BACKGROUND",
    "DARK_NOTE",
    "DARK_TEXT",
    "DISPLAY_PARAMS",
    "PALETTES",
    "PALETTE_DOCS",
    "PRESENT_FONT_SCALE",
    "PRESENT_LINE_SCALE",
    "PRESENT_MARKER_SCALE",
    "PRESENT_TEXT_SIZE",
    "PRESENT_TITLE_SCALE",
    "DisplayController",
    "DisplaySettings",
    "apply_display",
    "color_table",
    "display_from_query",
    "figure_models",
    "find_controls",
    "is_image_figure",
    "lightness",
    "map_color",
    "normalize_color",
    "panel_theme_name",
    "root_styles",
    "set_panel_theme",
]
